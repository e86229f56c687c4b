"""Several judge verdicts of one sample in; one verdict out: votes (median score or majority label), both
presentation orders of a pairwise judgement, and the human label to compare with."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..compile.templating import render
from .config import JudgeConfig, JudgeError
from .verdicts import SWAPPED, PairVerdict, Verdict, Winner, label_value, pair_value, scale_value

__all__ = ["aggregate_pair_votes", "aggregate_votes", "combine_swapped", "human_verdict"]


def _tally(verdicts: Sequence[Verdict | PairVerdict]) -> tuple[int, int]:
    """(judge calls, unscored calls) behind some verdicts; an unscored verdict that does not say how many of
    its calls failed counts all of them."""
    votes = sum(v.votes for v in verdicts)
    return votes, sum(v.unscored_votes if v.scored or v.unscored_votes else v.votes for v in verdicts)


def aggregate_votes(cfg: JudgeConfig, verdicts: Sequence[Verdict]) -> Verdict:
    """Combine several judge samples: median score (scale) or majority label; unscored votes are excluded but
    counted, and when every vote is unscored so is the result."""
    if cfg.mode != "single":
        raise JudgeError(f"judge {cfg.name!r} is pairwise; use aggregate_pair_votes")
    if not verdicts:
        return Verdict(None, error="no votes", votes=0)
    valid = [v for v in verdicts if v.score is not None]
    n, missing = _tally(verdicts)
    if not valid:
        first = verdicts[0]
        error = first.error if len(verdicts) == 1 else f"all {n} votes unscored (first: {first.error})"
        return Verdict(None, None, first.reasoning, error, votes=n, unscored_votes=missing)
    if cfg.choices:
        counts = Counter(v.label for v in valid)
        top = max(counts.values())
        tied = [label for label in cfg.labels if counts.get(label) == top]
        mean = statistics.fmean(v.score for v in valid if v.score is not None)
        label = min(tied, key=lambda lab: abs(cfg.choices[lab] - mean) if cfg.choices else 0.0)
        score: float = cfg.choices[label]
        pick = next(v for v in valid if v.label == label)
    else:
        label = None
        score = float(statistics.median(v.score for v in valid if v.score is not None))
        pick = min(valid, key=lambda v: abs((v.score or 0.0) - score))
    return Verdict(score, label, pick.reasoning, None, votes=n, unscored_votes=missing)


def aggregate_pair_votes(verdicts: Sequence[PairVerdict]) -> PairVerdict:
    """Majority of A against B over the scored votes (ties count for neither; equal counts give a tie)."""
    if not verdicts:
        return PairVerdict(None, error="no votes", votes=0)
    valid = [v for v in verdicts if v.winner is not None]
    n, missing = _tally(verdicts)
    if not valid:
        first = verdicts[0]
        error = first.error if len(verdicts) == 1 else f"all {n} votes unscored (first: {first.error})"
        return PairVerdict(None, first.reasoning, error, votes=n, unscored_votes=missing)
    a = sum(v.winner == "A" for v in valid)
    b = sum(v.winner == "B" for v in valid)
    winner: Winner = "A" if a > b else "B" if b > a else "tie"
    pick = next((v for v in valid if v.winner == winner), valid[0])
    consistent = None if any(v.consistent is None for v in valid) else all(v.consistent for v in valid)
    return PairVerdict(winner, pick.reasoning, None, votes=n, unscored_votes=missing, consistent=consistent)


def combine_swapped(first: PairVerdict, second: PairVerdict) -> PairVerdict:
    """Merge a verdict with the one judged in swapped order (its A is the original B): agreement keeps the
    winner, disagreement is a tie, and either side unscored makes the pair unscored."""
    votes, missing = _tally((first, second))
    reasons = [f"[{tag}] {v.reasoning}" for tag, v in (("A/B", first), ("B/A", second)) if v.reasoning]
    reasoning = "\n\n".join(reasons) or None
    errors = [f"{tag} order: {v.error}" for tag, v in (("A/B", first), ("B/A", second)) if v.winner is None]
    if first.winner is None or second.winner is None:
        return PairVerdict(None, reasoning, "; ".join(errors), votes=votes, unscored_votes=missing)
    unswapped = SWAPPED[second.winner]
    agree = first.winner == unswapped
    winner: Winner = first.winner if agree else "tie"
    return PairVerdict(winner, reasoning, None, votes=votes, unscored_votes=missing, consistent=agree)


def human_verdict(cfg: JudgeConfig, variables: Mapping[str, Any]) -> Verdict | PairVerdict | None:
    """The human label of one sample (cfg.human rendered), validated like a judge's; None if there is none."""
    if cfg.human is None:
        return None
    text = render(cfg.human, variables).strip()
    if not text:
        return None
    if cfg.mode == "pairwise":
        read = pair_value(text, strict=True)
        assert read is not None
        return PairVerdict(read[0], None, read[1] and f"human {read[1]}")
    if cfg.choices:
        label_read = label_value(cfg, text, strict=True)
        assert label_read is not None
        label, error = label_read
        return Verdict(cfg.choices[label] if label else None, label, None, error and f"human {error}")
    score, error = scale_value(cfg, text)
    return Verdict(score, None, None, error and f"human {error}")
