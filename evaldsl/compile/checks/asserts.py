"""Check: every assert names a metric its eval computes (E312)."""

from __future__ import annotations

import difflib

from ...diagnostics import Diagnostic, did_you_mean
from ...metrics import BUILTIN_METRICS
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    known = set(BUILTIN_METRICS) | set(ctx.spec.metrics) | set(ctx.spec.judges) | ctx.broken
    for ev in ctx.spec.evals.values():
        computed = ctx.metric_names(ev)
        misspelt = sorted(computed - known)  # reported as unknown metrics (E305) by the metrics check
        for a in ev.asserts:
            if a.metric.name in computed:
                continue
            if difflib.get_close_matches(a.metric.name, misspelt, n=1, cutoff=0.6):
                continue  # it names what a misspelt metric in the list was meant to be: one error is enough
            out.append(
                Diagnostic(
                    code="E312",
                    message=f"assert on `{a.metric.name}`, which eval `{ev.name}` does not compute",
                    span=a.metric.span,
                    hint=did_you_mean(a.metric.name, computed)
                    or f"add it to `metrics` (now: {', '.join(sorted(computed)) or 'none'})",
                )
            )
    return out
