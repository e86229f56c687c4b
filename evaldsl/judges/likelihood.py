"""Judges that always answer: each allowed verdict (each point of the scale, each label of `choices`) is scored
as the judge's reply by log-likelihood. The verdict's score is the probability-weighted score over the allowed
verdicts (G-Eval), its label the likeliest verdict; the distribution is kept. Nothing is parsed, so no verdict
is unscored."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .config import JudgeConfig
from .verdicts import Verdict


def options(cfg: JudgeConfig) -> list[tuple[str, float]]:
    """(reply text, score) for every allowed verdict, in order: the scale's integers or the labels."""
    if cfg.choices:
        return [(label, float(score)) for label, score in cfg.choices.items()]
    assert cfg.scale is not None
    lo, hi = cfg.scale
    return [(str(k), float(k)) for k in range(lo, hi + 1)]


def uses_likelihood(cfg: JudgeConfig, provider: str) -> bool:
    """`likelihood`, or `auto` on a local `hf` judge model (single mode only)."""
    if cfg.mode != "single":
        return False
    return cfg.verdict == "likelihood" or (cfg.verdict == "auto" and provider == "hf")


@dataclass(frozen=True)
class LikelihoodVerdict:
    """The verdict read from the log-likelihoods of the allowed replies."""

    verdict: Verdict
    distribution: dict[str, float]  # reply → probability (normalised over the allowed replies)


def verdict_from(cfg: JudgeConfig, logliks: Sequence[float]) -> LikelihoodVerdict:
    """Probabilities over the allowed replies (a softmax of their log-likelihoods), the expected score and the
    likeliest reply (the first on ties)."""
    allowed = options(cfg)
    if len(logliks) != len(allowed) or not logliks or any(math.isnan(x) for x in logliks):
        return LikelihoodVerdict(Verdict(score=None, error="the judge's verdicts could not all be scored"), {})
    top = max(logliks)
    weights = [math.exp(x - top) for x in logliks]
    total = sum(weights)
    probs = [w / total for w in weights]
    best = max(range(len(allowed)), key=lambda i: (logliks[i], -i))
    score = sum(p * value for p, (_, value) in zip(probs, allowed, strict=True))
    label = allowed[best][0] if cfg.choices else None
    distribution = {reply: p for (reply, _), p in zip(allowed, probs, strict=True)}
    return LikelihoodVerdict(Verdict(score=score, label=label), distribution)


def argmax_reply(result: LikelihoodVerdict) -> str | None:
    """The likeliest reply (what the judge would most likely have answered)."""
    if not result.distribution:
        return None
    return max(result.distribution.items(), key=lambda kv: kv[1])[0]
