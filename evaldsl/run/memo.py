"""Node-level memoization: a metric's or judge's result on one eval × model, stored by the node's content hash
(its settings and everything upstream), the digest of the model outputs it read, the bootstrap's seed and draws,
and evaldsl's version — so re-running an unchanged eval recomputes no metric and asks no judge, and editing one
metric recomputes only that metric. Results live in the store's key-value cache (kind "memo"); the aggregate of
an eval × model is rebuilt from them (a sum over samples). Off when the response cache is off (`--no-cache`) and
with `--no-memo`."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .. import __version__
from ..hashing import content_hash
from ..plan.graph import JudgeNode, MetricNode
from ..results import MetricSummary, json_safe
from ..store import Store
from .judging import JudgeScores
from .scoring import MetricScores, Output

KIND = "memo"


def outputs_digest(outputs: Sequence[Output]) -> str:
    """A digest of every model output (its type and every field, as the frozen dataclass prints them), in
    sample order."""
    digest = hashlib.sha256()
    for out in outputs:
        digest.update(repr(out).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _scores_json(result: MetricScores | JudgeScores) -> dict[str, Any]:
    data: dict[str, Any] = {"name": result.name, "scores": result.scores, "summary": result.summary.to_json(),
            "errors": {str(i): why for i, why in result.errors.items()}}  # fmt: skip
    if isinstance(result, JudgeScores):
        data["records"] = result.records
    return json_safe(data)  # type: ignore[no-any-return]


def _revive(data: dict[str, Any], judge: bool) -> MetricScores | JudgeScores:
    name = data["name"]
    summary = MetricSummary.from_json(data["summary"], name)
    errors = {int(i): why for i, why in data["errors"].items()}
    if judge:
        return JudgeScores(name, list(data["scores"]), summary, list(data["records"]), errors)
    return MetricScores(name, list(data["scores"]), summary, errors)


class Memo:
    """The memo of one run; `hits` and `computed` count the metric and judge nodes served and computed."""

    def __init__(self, store: Store, *, enabled: bool, seed: int, n_boot: int) -> None:
        self.store, self.enabled, self.seed, self.n_boot = store, enabled, seed, n_boot
        self.hits = 0
        self.computed = 0
        self._digests: dict[int, tuple[Sequence[Output], str]] = {}  # by list identity: each list digested once

    def digest(self, outputs: Sequence[Output]) -> str:
        known = self._digests.get(id(outputs))
        if known is None or known[0] is not outputs:
            known = (outputs, outputs_digest(outputs))
            self._digests[id(outputs)] = known
        return known[1]

    def _key(self, node: MetricNode | JudgeNode, digests: Sequence[str]) -> str:
        return content_hash({"memo": node.hash, "outputs": list(digests), "seed": self.seed, "n_boot": self.n_boot,
                             "evaldsl": __version__})  # another version may score differently

    def _get(self, key: str, judge: bool) -> MetricScores | JudgeScores | None:
        if not self.enabled:
            return None
        found = self.store.cache_get_many([key]).get(key)
        if found is None:
            return None
        try:
            return _revive(found, judge)
        except (KeyError, TypeError, ValueError):  # written by another version: compute it again
            return None

    def metric(self, node: MetricNode, outputs: Sequence[Output],
               compute: Callable[[], MetricScores]) -> MetricScores:  # fmt: skip
        key = self._key(node, [self.digest(outputs)])
        found = self._get(key, judge=False)
        if isinstance(found, MetricScores):
            self.hits += 1
            return found
        result = compute()
        self._put(key, result)
        return result

    async def judge(self, node: JudgeNode, outputs: Sequence[Output], other: Sequence[Output] | None,
                    compute: Callable[[], Awaitable[JudgeScores]]) -> JudgeScores:  # fmt: skip
        digests = [self.digest(outputs)] + ([self.digest(other)] if other is not None else [])
        key = self._key(node, digests)
        found = self._get(key, judge=True)
        if isinstance(found, JudgeScores):
            self.hits += 1
            return found
        result = await compute()
        self._put(key, result)
        return result

    def _put(self, key: str, result: MetricScores | JudgeScores) -> None:
        self.computed += 1
        if self.enabled and not result.errors:  # a result with sample errors is computed again next time
            self.store.cache_put(key, KIND, _scores_json(result))
