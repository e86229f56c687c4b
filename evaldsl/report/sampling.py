"""Which samples the HTML report's sample browser shows: all of them when they are few, else a capped, stratified
and deterministic selection made in one streaming pass with bounded memory. Strata are eval × outcome (error,
low score, high score, unscored), so every eval, the errors and each score band stay in view however large the
run; within a stratum the samples with the smallest hash of their identity are kept (the same every time)."""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
DEFAULT_SAMPLES = 2000  # distinct samples in the browser unless `evaldsl report --samples N` says otherwise


def outcome(row: Mapping[str, Any]) -> str:
    """The stratum of a sample row within its eval: its error, or the band of its first finite score."""
    if row.get("error"):
        return "error"
    for value in (row.get("scores") or {}).values():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return "low" if value < 0.5 else "high"
    return "unscored"


def _rank(key: Hashable) -> int:
    return int.from_bytes(hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest(), "big")


class Selection(Generic[K]):
    """Offer each distinct sample once (at its first row); `offer` says whether it is kept so far and which
    earlier samples it pushed out; `chosen()` is the final selection, at most `cap` samples (None: no cap)."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.sizes: Counter[tuple[str, str]] = Counter()
        self._heaps: dict[tuple[str, str], list[tuple[int, K]]] = {}  # max-heaps (negated ranks)

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def offer(self, key: K, stratum: tuple[str, str]) -> tuple[bool, list[K]]:
        self.sizes[stratum] += 1
        if self.cap is None:
            return True, []
        heap = self._heaps.setdefault(stratum, [])
        rank = _rank(key)
        if len(heap) < self.cap:
            heapq.heappush(heap, (-rank, key))
            return True, []
        if rank < -heap[0][0]:
            _, evicted = heapq.heapreplace(heap, (-rank, key))
            return True, [evicted]
        return False, []

    def quotas(self) -> dict[tuple[str, str], int]:
        """How many samples each stratum keeps: a floor for every stratum (rare ones stay in view), the rest of
        the cap in proportion to the strata's sizes."""
        if self.cap is None or self.total <= self.cap:
            return dict(self.sizes)
        floor = max(1, self.cap // (2 * len(self.sizes)))
        base = {s: min(n, floor) for s, n in self.sizes.items()}
        left = self.cap - sum(base.values())
        rest = {s: self.sizes[s] - base[s] for s in self.sizes}
        weight = sum(rest.values())
        if left > 0 and weight:
            for s in base:
                base[s] += min(rest[s], left * rest[s] // weight)
        return base

    def chosen(self) -> set[K]:
        if self.cap is None:
            raise ValueError("an uncapped selection keeps every sample")
        keep: set[K] = set()
        for stratum, quota in self.quotas().items():
            ranked = sorted(self._heaps.get(stratum, []), reverse=True)  # smallest rank first
            keep.update(key for _, key in ranked[:quota])
        return keep


Brief = tuple[str, str, int, str, "str | None", Mapping[str, Any]]  # eval, model, index, row id, error, scores


def choose_rows(briefs: Sequence[Iterable[Brief]], cap: int) -> tuple[list[list[tuple[str, str, int]]], int, int,
                                                                      list[str]]:
    """From the briefs of each run's samples (`Store.iter_sample_briefs`, nothing of their text): the (eval,
    model, index) rows of the selected samples per run, the number of rows and of distinct samples, and every
    metric name that scored a row. A sample is an eval × dataset row (and its occurrence), paired across models
    and runs as the report pairs them."""
    selection: Selection[tuple[str, str, int]] = Selection(cap)
    kept: dict[tuple[str, str, int], list[tuple[int, str, str, int]]] = {}
    seen: set[tuple[str, str, int]] = set()
    metrics: dict[str, None] = {}
    n_rows = 0
    for ri, run_briefs in enumerate(briefs):
        occurrences: dict[tuple[str, str, str], int] = {}
        for ev, model, idx, row_id, error, scores in run_briefs:
            n_rows += 1
            metrics.update(dict.fromkeys(k for k, v in scores.items() if isinstance(v, (int, float))
                                         and not isinstance(v, bool) and math.isfinite(v)))  # fmt: skip
            n = occurrences.get((ev, model, row_id), 0)
            occurrences[(ev, model, row_id)] = n + 1
            key = (ev, row_id, n)
            if key not in seen:
                seen.add(key)
                ok, evicted = selection.offer(key, (ev, outcome({"error": error, "scores": scores})))
                for gone in evicted:
                    kept.pop(gone, None)
                if ok:
                    kept[key] = []
            if key in kept:
                kept[key].append((ri, ev, model, idx))
    rows: list[list[tuple[str, str, int]]] = [[] for _ in briefs]
    for key in selection.chosen():
        for ri, ev, model, idx in kept[key]:
            rows[ri].append((ev, model, idx))
    return rows, n_rows, selection.total, list(metrics)
