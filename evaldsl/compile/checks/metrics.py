"""Check: metrics exist (E305), fit the eval's mode (E306) and have valid parameters (E318)."""

from __future__ import annotations

import json
from typing import Any

from ...diagnostics import Diagnostic, did_you_mean
from ...metrics import BUILTIN_METRICS, MetricSpec
from ..spec import MetricDef
from .context import CheckContext

_TYPE_WORDS: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def bind_params(spec: MetricSpec, m: MetricDef) -> tuple[dict[str, Any], str | None]:
    """Positional arguments bound to the family's parameters; an error text when they do not fit."""
    params = dict(m.params)
    if len(m.args) > len(spec.positional):
        return params, f"`{m.family}` takes at most {len(spec.positional)} positional argument(s)"
    for name, value in zip(spec.positional, m.args, strict=False):  # fewer arguments than parameters is fine
        if name in params:
            return params, f"`{name}` is given twice"
        params[name] = value
    for key, value in params.items():
        if key not in spec.params:
            close = did_you_mean(key, spec.params)
            accepted = ", ".join(spec.params) or "none"
            return params, f"`{m.family}` has no parameter `{key}`" + (
                f"; {close}" if close else f" (accepted: {accepted})"
            )
        expected = spec.params[key]
        allowed = expected if isinstance(expected, tuple) else (expected,)
        ok = (bool in allowed) if isinstance(value, bool) else isinstance(value, allowed)
        if not ok and float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in allowed)
            return params, f"parameter `{key}` of `{m.family}` must be {names}, got {json.dumps(value, default=str)}"
    missing = sorted(spec.required - set(params))
    if missing:
        return params, f"`{m.family}` needs {', '.join(f'`{x}`' for x in missing)}"
    return params, None


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
        _, problem = bind_params(family, m)
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
