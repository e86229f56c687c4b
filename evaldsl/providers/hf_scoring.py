"""Log-likelihood scoring on a loaded transformers model: choice and text requests in, summed log-probs out.

Tokenisation follows lm-evaluation-harness: a choice's context is encoded without special tokens after moving
its trailing whitespace onto the continuation, the continuation's tokens are those of `context +
continuation` past the context's tokens, and an empty context is the BOS (else EOS) token. Perplexity uses
lm-eval's rolling windows (every token scored once, the first predicted from the BOS/EOS prefix, each later
window given as much left context as fits).

The speed lever for choices: the shared context of a sample is run once, its key/value cache is expanded over
the sample's choices, and all continuations are scored in one batched forward pass against that cache.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .hf_loading import LoadedModel
from .records import ChoiceRequest, ChoiceScores

_LOGITS_BUDGET = 2**28  # float32 elements of logits held at once (1 GiB)
_CACHE_BUDGET = 2**30  # bytes of expanded key/value cache per choice batch
_MIN_SHARED_PREFIX = 16  # shorter common prefixes are not worth an extra forward pass
_MIN_GROUP_ROWS = 4  # continuation groups smaller than this are not worth an extra forward pass


@dataclass(frozen=True)
class PreparedChoice:
    """A choice request as tokens: the (possibly left-truncated) shared context and each continuation."""

    context: list[int]
    continuations: list[list[int]]
    truncated: bool


def encode(lm: LoadedModel, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens (lm-eval's `tok_encode` for causal models)."""
    if not texts:
        return []
    return [list(ids) for ids in lm.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def encode_choices(
    lm: LoadedModel, context: str, continuations: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """lm-eval's `_encode_pair`, with the context tokens shared by every continuation."""
    if context == "":
        if lm.prefix_token_id is None:
            raise ValueError("the context is empty and the tokenizer has neither a BOS nor an EOS token")
        return [lm.prefix_token_id], encode(lm, continuations)
    n_spaces = len(context) - len(context.rstrip())
    head, tail = context[: len(context) - n_spaces], context[len(context) - n_spaces :]
    context_ids = encode(lm, [head])[0] if head else []
    wholes = encode(lm, [head + tail + continuation for continuation in continuations])
    continuation_ids = [whole[len(context_ids) :] for whole in wholes]
    if not context_ids:  # a whitespace-only context: score from the prefix token, like an empty one
        if lm.prefix_token_id is None:
            raise ValueError("the context is blank and the tokenizer has neither a BOS nor an EOS token")
        context_ids = [lm.prefix_token_id]
    return context_ids, continuation_ids


def prepare_choice(lm: LoadedModel, request: ChoiceRequest) -> PreparedChoice:
    """Tokenise one request; cut its context from the left (flagged) when context + continuation exceed the
    window. The cut is shared by all choices, sized for the longest continuation. Raises ValueError when a
    request cannot be scored at all."""
    if not request.continuations:
        raise ValueError("the request has no continuations to score")
    context, continuations = encode_choices(lm, request.context, request.continuations)
    for position, tokens in enumerate(continuations):
        if not tokens:
            raise ValueError(f"continuation {position} ({request.continuations[position]!r}) has no tokens")
    longest = max(len(tokens) for tokens in continuations)
    keep = lm.max_length + 1 - longest  # lm-eval: (context + continuation)[-(max_length + 1):][:-1]
    if keep < 1:
        raise ValueError(
            f"a continuation of {longest} tokens does not fit the model's window of {lm.max_length} tokens"
        )
    if len(context) > keep:
        return PreparedChoice(context[-keep:], continuations, True)
    return PreparedChoice(context, continuations, False)


def plan_choice_batches(lm: LoadedModel, items: Sequence[PreparedChoice], batch_size: int) -> list[list[int]]:
    """Group item positions into batches of at most `batch_size` samples that also keep the expanded cache
    and the continuation logits within budget. Longest contexts first (so memory trouble shows early), equal
    contexts side by side (so they are run once)."""
    order = sorted(range(len(items)), key=lambda i: (-len(items[i].context), items[i].context))
    batches: list[list[int]] = []
    current: list[int] = []
    rows = ctx_len = cont_len = 0
    for i in order:
        item = items[i]
        new_rows = rows + len(item.continuations)
        new_ctx = max(ctx_len, len(item.context))
        new_cont = max(cont_len, max(len(c) for c in item.continuations) - 1)
        too_big = (
            new_rows * max(new_cont, 1) * lm.vocab_size > _LOGITS_BUDGET
            or new_rows * (new_ctx + new_cont) * lm.kv_bytes_per_token > _CACHE_BUDGET
        )
        if current and (len(current) >= batch_size or too_big):
            batches.append(current)
            current, new_rows, new_ctx = [], len(item.continuations), len(item.context)
            new_cont = max(len(c) for c in item.continuations) - 1
        current.append(i)
        rows, ctx_len, cont_len = new_rows, new_ctx, new_cont
    if current:
        batches.append(current)
    return batches


def length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Positions of `lengths` in groups of similar length, longest first, so that padding every member of a
    group to its longest wastes little (a new group starts where a row would be padded by more than ~40%)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and (len(groups[-1]) < _MIN_GROUP_ROWS or lengths[i] > 0.6 * lengths[groups[-1][0]]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def shared_prefix_length(contexts: Sequence[Sequence[int]]) -> int:
    """Tokens at the start of every context worth computing once for the whole batch (0 when there is nothing
    to share); at least one token of each context is left over to predict its first continuation token."""
    if len(contexts) < 2:
        return 0
    limit = min(len(context) for context in contexts) - 1
    length = 0
    first = contexts[0]
    while length < limit and all(context[length] == first[length] for context in contexts):
        length += 1
    return length if length >= _MIN_SHARED_PREFIX else 0


def score_choice_batch(lm: LoadedModel, items: Sequence[PreparedChoice]) -> list[ChoiceScores]:
    """Score a batch of samples in (at most) three forward passes that share work through the key/value cache:
    the token prefix common to all contexts (e.g. a few-shot primer) once; each distinct context's remainder
    once (left-padded, so identical contexts such as mc1/mc2 of one question are run once); then every
    continuation of every sample against the cache expanded to one row per continuation. Padding sits between
    the segments; the attention mask and explicit position ids make it invisible."""
    model, device, pad = lm.model, lm.device, lm.pad_token_id
    keep_last = {lm.logits_kwarg: 1} if lm.logits_kwarg else {}
    distinct: dict[tuple[int, ...], int] = {}
    item_context = [distinct.setdefault(tuple(item.context), len(distinct)) for item in items]
    contexts = [list(context) for context in distinct]
    n_ctx = len(contexts)
    prefix = shared_prefix_length(contexts)
    cache = None
    if prefix:
        out = model(
            input_ids=torch.tensor([contexts[0][:prefix]], device=device), use_cache=True, **keep_last
        )
        cache = getattr(out, lm.cache_attr)
        del out
        cache.batch_select_indices(torch.zeros(n_ctx, dtype=torch.long, device=device))
    rest_width = max(len(context) - prefix for context in contexts)
    rest_ids = torch.full((n_ctx, rest_width), pad, dtype=torch.long)
    rest_mask = torch.zeros((n_ctx, rest_width), dtype=torch.long)
    for i, context in enumerate(contexts):
        rest = context[prefix:]
        rest_ids[i, rest_width - len(rest) :] = torch.tensor(rest)
        rest_mask[i, rest_width - len(rest) :] = 1
    rest_ids, rest_mask = rest_ids.to(device), rest_mask.to(device)
    ctx_mask = torch.cat([torch.ones((n_ctx, prefix), dtype=torch.long, device=device), rest_mask], dim=1)
    rest_pos = (prefix + rest_mask.cumsum(-1) - 1).clamp(min=prefix)
    out = model(
        input_ids=rest_ids,
        attention_mask=ctx_mask,
        position_ids=rest_pos,
        use_cache=True,
        **{lm.cache_kwarg: cache},
        **keep_last,
    )
    first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)  # predicts each continuation's 1st token
    cache = getattr(out, lm.cache_attr)
    del out

    row_sample = [item_context[i] for i, item in enumerate(items) for _ in item.continuations]
    row_tokens = [tokens for item in items for tokens in item.continuations]
    n_rows = len(row_tokens)
    width = max(len(tokens) for tokens in row_tokens)
    targets = torch.zeros((n_rows, width), dtype=torch.long)
    target_mask = torch.zeros((n_rows, width), dtype=torch.bool)
    for r, tokens in enumerate(row_tokens):
        targets[r, : len(tokens)] = torch.tensor(tokens)
        target_mask[r, : len(tokens)] = True
    targets, target_mask = targets.to(device), target_mask.to(device)
    index = torch.tensor(row_sample, dtype=torch.long, device=device)

    first_rows = first[index]  # [rows, vocab]
    token_lp = torch.zeros((n_rows, width), dtype=torch.float32, device=device)
    token_greedy = torch.ones((n_rows, width), dtype=torch.bool, device=device)
    token_lp[:, 0] = first_rows.gather(1, targets[:, :1]).squeeze(1)
    token_greedy[:, 0] = first_rows.argmax(dim=-1) == targets[:, 0]
    groups = [g for g in length_groups([len(tokens) for tokens in row_tokens]) if len(row_tokens[g[0]]) > 1]
    for number, group in enumerate(groups):
        # each group of similar lengths gets its own copy of the (small, per-context) cache, expanded to rows
        group_cache = cache if number == len(groups) - 1 else copy.deepcopy(cache)
        rows = torch.tensor(group, dtype=torch.long, device=device)
        group_index = index[rows]
        group_cache.batch_select_indices(group_index)
        group_width = len(row_tokens[group[0]]) - 1  # inputs: each continuation but its last token
        inputs_mask = target_mask[rows, :group_width]
        inputs = torch.where(
            inputs_mask, targets[rows, :group_width], torch.full_like(inputs_mask, pad, dtype=torch.long)
        )
        full_mask = torch.cat([ctx_mask[group_index], inputs_mask.long()], dim=1)
        positions = (
            ctx_mask.sum(dim=1)[group_index][:, None] + torch.arange(group_width, device=device)[None, :]
        )
        out = model(
            input_ids=inputs,
            attention_mask=full_mask,
            position_ids=positions,
            use_cache=True,
            **{lm.cache_kwarg: group_cache},
        )
        cont_lp = torch.log_softmax(out.logits.float(), dim=-1)  # [group rows, group_width, vocab]
        del out, group_cache
        wanted = targets[rows, 1 : group_width + 1]
        token_lp[rows, 1 : group_width + 1] = cont_lp.gather(2, wanted[:, :, None]).squeeze(2)
        token_greedy[rows, 1 : group_width + 1] = cont_lp.argmax(dim=-1) == wanted
        del cont_lp
    token_lp = torch.where(target_mask, token_lp, torch.zeros_like(token_lp))
    token_greedy = token_greedy | ~target_mask
    sums = token_lp.sum(dim=1).tolist()
    greedy = token_greedy.all(dim=1).tolist()

    results: list[ChoiceScores] = []
    row = 0
    for item in items:
        n = len(item.continuations)
        results.append(
            ChoiceScores(
                logliks=tuple(float(x) for x in sums[row : row + n]),
                is_greedy=tuple(bool(x) for x in greedy[row : row + n]),
                n_tokens=tuple(len(tokens) for tokens in item.continuations),
                truncated=item.truncated,
            )
        )
        row += n
    return results


def rolling_windows(
    tokens: Sequence[int], prefix_token: int, max_length: int
) -> list[tuple[list[int], list[int]]]:
    """lm-eval's `get_rolling_token_windows(context_len=1)` + `make_disjoint_window`: (context, scored tokens)
    pairs covering every token exactly once."""
    tokens = list(tokens)
    if not tokens:
        return []
    first = min(max_length, len(tokens))
    windows = [([prefix_token], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, max_length)
        end = predicted + n
        windows.append((tokens[max(end - max_length - 1, 0) : end - n], tokens[end - n : end]))
        predicted += n
    return windows


def score_token_rows(
    lm: LoadedModel, rows: Sequence[tuple[list[int], list[int]]], batch_size: int
) -> list[tuple[float, bool]]:
    """Summed log-prob and all-greedy flag of each row's continuation given its context, by full forward
    passes over `(context + continuation)[-(max_length + 1):][:-1]` (right-padded batches)."""
    inputs = [(ctx + cont)[-(lm.max_length + 1) :][:-1] for ctx, cont in rows]
    order = sorted(range(len(rows)), key=lambda i: -len(inputs[i]))
    results: list[tuple[float, bool]] = [(0.0, True)] * len(rows)
    start = 0
    while start < len(order):
        width = len(inputs[order[start]])
        count = max(1, min(batch_size, _LOGITS_BUDGET // max(1, width * lm.vocab_size)))
        batch = order[start : start + count]
        start += count
        ids = torch.full((len(batch), width), lm.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, i in enumerate(batch):
            ids[b, : len(inputs[i])] = torch.tensor(inputs[i])
            mask[b, : len(inputs[i])] = 1
        logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device)).logits
        for b, i in enumerate(batch):
            cont = rows[i][1]
            length = len(inputs[i])
            logprobs = torch.log_softmax(logits[b, length - len(cont) : length].float(), dim=-1)
            target = torch.tensor(cont, dtype=torch.long, device=logprobs.device)
            total = logprobs.gather(1, target[:, None]).sum().item()
            results[i] = (float(total), bool((logprobs.argmax(dim=-1) == target).all().item()))
        del logits
    return results
