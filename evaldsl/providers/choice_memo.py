"""Choice scoring with a memo of (context, continuation) pairs: requests in, scores out, each pair scored once.

Shared by the local `hf` provider and the Ray executor (which keeps the memo in the driver), so that both ask
the model for exactly the same pairs in the same groups and give bit-identical scores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from .records import ChoiceRequest, ChoiceScores

Memo = dict[tuple[str, str], tuple[float, bool, int]]
"""(context, continuation) → (loglik, is_greedy, n_tokens) scored so far."""
Scorer = Callable[[Sequence[ChoiceRequest]], AsyncIterator[tuple[int, ChoiceScores]]]


def from_memo(memo: Memo, request: ChoiceRequest) -> ChoiceScores:
    known = [memo[(request.context, c)] for c in request.continuations]
    return ChoiceScores(
        logliks=tuple(k[0] for k in known),
        is_greedy=tuple(k[1] for k in known),
        n_tokens=tuple(k[2] for k in known),
    )


async def memoized_choices(
    memo: Memo, requests: Sequence[ChoiceRequest], score: Scorer
) -> AsyncIterator[tuple[int, ChoiceScores]]:
    """Answer from `memo` what it knows; `score` the missing continuations of the rest as one batch of requests
    (a request whose context had to be truncated is scored whole instead, since truncation depends on the
    longest choice); remember every pair scored."""
    pending: list[tuple[int, ChoiceRequest]] = []
    for index, request in enumerate(requests):
        missing = tuple(dict.fromkeys(c for c in request.continuations if (request.context, c) not in memo))
        if missing:
            pending.append((index, ChoiceRequest(context=request.context, continuations=missing)))
        else:
            yield index, from_memo(memo, request)
    async for position, result in score([request for _, request in pending]):
        index, asked = pending[position]
        if result.error is not None or (result.truncated and asked == requests[index]):
            yield index, result
            continue
        if result.truncated:
            async for _, full in score([requests[index]]):
                yield index, full
            continue
        for continuation, loglik, greedy, count in zip(
            asked.continuations, result.logliks, result.is_greedy, result.n_tokens, strict=True
        ):
            memo[(asked.context, continuation)] = (loglik, greedy, count)
        yield index, from_memo(memo, requests[index])
