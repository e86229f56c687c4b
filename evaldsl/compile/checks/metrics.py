"""Check: metrics exist (E305), fit the eval's mode (E306) and have valid parameters (E318)."""

from __future__ import annotations

from ...diagnostics import Diagnostic, did_you_mean
from ...metrics import BUILTIN_METRICS, bind_params
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    spec = ctx.spec
    out: list[Diagnostic] = []
    for m in spec.metrics.values():
        family = BUILTIN_METRICS.get(m.family)
        if family is None:
            out.append(
                Diagnostic(
                    code="E305",
                    message=f"unknown metric `{m.family}`",
                    span=m.family_span,
                    hint=did_you_mean(m.family, BUILTIN_METRICS) or "see `evaldsl metrics`",
                )
            )
            continue
        _, problem = bind_params(family, m.args, m.params)
        if problem:
            out.append(
                Diagnostic(code="E318", message=f"metric `{m.name}`: {problem}", span=m.family_span, hint=family.doc)
            )
    known = set(BUILTIN_METRICS) | set(spec.metrics) | set(spec.judges)
    for ev in spec.evals.values():
        seen: set[str] = set()
        for ref in ev.metrics:
            if ref.name in seen:
                out.append(Diagnostic(code="E205", message=f"metric `{ref.name}` is listed twice", span=ref.span))
                continue
            seen.add(ref.name)
            if ref.name in spec.judges:
                modes: frozenset[str] = frozenset({"generate"})
            elif ref.name in spec.metrics:
                family = BUILTIN_METRICS.get(spec.metrics[ref.name].family)
                if family is None:
                    continue  # reported above
                modes = family.modes
            elif ref.name in BUILTIN_METRICS:
                modes = BUILTIN_METRICS[ref.name].modes
            elif ref.name in ctx.broken:
                continue  # its definition did not compile: reported there
            else:
                out.append(
                    Diagnostic(
                        code="E305",
                        message=f"unknown metric `{ref.name}`",
                        span=ref.span,
                        hint=did_you_mean(ref.name, known)
                        or "built-in metrics, `metric` definitions and judges can be listed here",
                    )
                )
                continue
            if ev.mode not in modes:
                fitting = sorted(n for n, s in BUILTIN_METRICS.items() if ev.mode in s.modes)[:8]
                out.append(
                    Diagnostic(
                        code="E306",
                        message=f"metric `{ref.name}` does not apply to {ev.mode} mode "
                        f"(it needs {'/'.join(sorted(modes))})",
                        span=ref.span,
                        hint=f"{ev.mode}-mode metrics include: {', '.join(fitting)}",
                    )
                )
    return out
