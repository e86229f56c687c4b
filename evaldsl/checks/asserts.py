"""Check: every assert names a metric its eval computes (E312)."""

from __future__ import annotations

from ..diagnostics import Diagnostic, did_you_mean
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ev in ctx.spec.evals.values():
        computed = ctx.metric_names(ev)
        for a in ev.asserts:
            if a.metric.name not in computed:
                out.append(Diagnostic(
                    code="E312",
                    message=f"assert on `{a.metric.name}`, which eval `{ev.name}` does not compute",
                    span=a.metric.span,
                    hint=did_you_mean(a.metric.name, computed) or f"add it to `metrics` (now: {', '.join(sorted(computed)) or 'none'})",
                ))
    return out
