"""Check: every name an eval, prompt or judge refers to exists (E301 unknown reference, E313 judge model)."""

from __future__ import annotations

from ...diagnostics import Diagnostic, did_you_mean
from ..spec import NameRef
from .context import CheckContext


def _unknown(kind: str, ref: NameRef, known: list[str], code: str = "E301", what: str = "") -> Diagnostic:
    return Diagnostic(
        code=code,
        message=f"unknown {kind} `{ref.name}`{what}",
        span=ref.span,
        hint=did_you_mean(ref.name, known)
        or (
            f"defined {kind}s: {_listing(known)}"
            if known
            else f"no {kind} is defined; add `{kind} {ref.name} {{ ... }}`"
        ),
    )


def _listing(names: list[str], shown: int = 12) -> str:
    """The first names in sorted order; past `shown`, a count of the rest (a spec may define thousands)."""
    ordered = sorted(names)
    more = len(ordered) - shown
    return ", ".join(ordered[:shown]) + (f" and {more:,} more" if more > 0 else "")


def check(ctx: CheckContext) -> list[Diagnostic]:
    spec = ctx.spec
    out: list[Diagnostic] = []
    datasets, models, prompts = list(spec.datasets), list(spec.models), list(spec.prompts)
    for ev in spec.evals.values():
        if ev.dataset.name not in spec.datasets and ev.dataset.name not in ctx.broken:
            out.append(_unknown("dataset", ev.dataset, datasets))
        if ev.prompt is not None and ev.prompt.name not in spec.prompts and ev.prompt.name not in ctx.broken:
            out.append(_unknown("prompt", ev.prompt, prompts))
        for m in ev.models:
            if m.name not in spec.models and m.name not in ctx.broken:
                out.append(_unknown("model", m, models))
    for prompt in spec.prompts.values():
        shots = prompt.fewshot
        if shots is not None and shots.dataset.name not in {*spec.datasets, *ctx.broken}:
            out.append(_unknown("dataset", shots.dataset, datasets))
    for judge in spec.judges.values():
        if judge.model.name not in spec.models and judge.model.name not in ctx.broken:
            out.append(_unknown("model", judge.model, models, code="E313", what=f" for judge `{judge.name}`"))
    return out
