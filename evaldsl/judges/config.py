"""A `judge` block resolved and validated: `JudgeConfig` (scale or labelled choices, mode, votes, swap)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["JudgeConfig", "JudgeError", "JudgeMode", "PAIR_OUTCOMES"]

JudgeMode = Literal["single", "pairwise"]
PAIR_OUTCOMES: tuple[str, ...] = ("A", "B", "tie")


class JudgeError(ValueError):
    """A judge block is inconsistent (bad scale, duplicate labels...) or a function got the wrong mode."""


@dataclass(frozen=True)
class JudgeConfig:
    """One `judge` block, resolved. `choices` (label -> score) replaces `scale` when given."""

    name: str
    model: str
    rubric: str
    mode: JudgeMode = "single"
    reference: str | None = None
    scale: tuple[int, int] | None = (1, 5)
    choices: Mapping[str, float] | None = None
    reasoning: bool = True
    votes: int = 1
    swap: bool = True
    human: str | None = None
    verdict: str = "auto"  # "auto" (likelihood on local models), "parsed" or "likelihood"

    def __post_init__(self) -> None:
        where = f"judge {self.name!r}"
        for attr in ("name", "model", "rubric"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise JudgeError(f"{where}: `{attr}` must be a non-empty string")
        if self.verdict not in ("auto", "parsed", "likelihood"):
            raise JudgeError(f'{where}: verdict must be "auto", "parsed" or "likelihood", not {self.verdict!r}')
        if self.verdict == "likelihood" and self.mode == "pairwise":
            raise JudgeError(f'{where}: verdict = "likelihood" applies to single-mode judges (scale or choices)')
        if self.mode not in ("single", "pairwise"):
            raise JudgeError(f'{where}: mode must be "single" or "pairwise", not {self.mode!r}')
        if isinstance(self.votes, bool) or not isinstance(self.votes, int) or self.votes < 1:
            raise JudgeError(f"{where}: `votes` must be a whole number >= 1, not {self.votes!r}")
        if self.choices is not None:
            object.__setattr__(self, "choices", _check_choices(where, self.choices))
            object.__setattr__(self, "scale", None)
        elif self.scale is not None:
            object.__setattr__(self, "scale", _check_scale(where, self.scale))
        elif self.mode == "single":
            raise JudgeError(f"{where}: a single-mode judge needs `scale = [lo, hi]` or `choices = {{...}}`")

    def __hash__(self) -> int:
        return hash(json.dumps(self.fingerprint(), sort_keys=True))

    @property
    def labels(self) -> tuple[str, ...]:
        """The allowed labels in declaration order (empty for a scale judge)."""
        return tuple(self.choices) if self.choices else ()

    @property
    def range(self) -> tuple[float, float]:
        """The lowest and highest score a verdict can give (pairwise: loss 0, win 1)."""
        if self.mode == "pairwise":
            return (0.0, 1.0)
        if self.choices:
            return (min(self.choices.values()), max(self.choices.values()))
        assert self.scale is not None
        return (float(self.scale[0]), float(self.scale[1]))

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-ready description of everything that shapes the prompts and verdicts (for hashing)."""
        return {
            "name": self.name,
            "model": self.model,
            "rubric": self.rubric,
            "mode": self.mode,
            "reference": self.reference,
            "scale": list(self.scale) if self.scale else None,
            "choices": dict(self.choices) if self.choices else None,
            "reasoning": self.reasoning,
            "votes": self.votes,
            "swap": self.swap,
            "human": self.human,
            "verdict": self.verdict,
        }


def _check_scale(where: str, scale: Any) -> tuple[int, int]:
    try:
        lo, hi = scale
    except (TypeError, ValueError):
        raise JudgeError(f"{where}: `scale` must be two integers [lo, hi], not {scale!r}") from None
    for bound in (lo, hi):
        if isinstance(bound, bool) or not isinstance(bound, int):
            raise JudgeError(f"{where}: `scale` bounds must be integers, not {bound!r}")
    if lo >= hi:
        raise JudgeError(f"{where}: `scale` must go from low to high (lo < hi), got [{lo}, {hi}]")
    return (lo, hi)


def _check_choices(where: str, choices: Mapping[str, float]) -> Mapping[str, float]:
    if not isinstance(choices, Mapping) or not choices:
        raise JudgeError(f"{where}: `choices` must map at least one label to a score")
    out: dict[str, float] = {}
    seen: dict[str, str] = {}
    for label, score in choices.items():
        if not isinstance(label, str) or not label.strip():
            raise JudgeError(f"{where}: choice labels must be non-empty strings, not {label!r}")
        clean = label.strip()
        if clean.casefold() in seen:
            raise JudgeError(
                f"{where}: choice labels {seen[clean.casefold()]!r} and {clean!r} differ only in case "
                "(labels are matched case-insensitively)"
            )
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise JudgeError(f"{where}: choice {clean!r} needs a finite number as its score, not {score!r}")
        seen[clean.casefold()] = clean
        out[clean] = float(score)
    return MappingProxyType(out)

