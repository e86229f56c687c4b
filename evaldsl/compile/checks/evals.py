"""Check: each eval has what its mode needs (E304), models (E319), and no attributes its mode ignores (W302)."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ..spec import EvalDef
from .context import CheckContext

_NEEDS_NO_TARGET = {"regex", "python", "json_valid", "json_schema", "tool_calls_valid"}
_EXTRACTORS = {"json_field", "extract", "pass_at", "pass_all", "attempt_variance"}  # need a target when their
# inner `metric` does
_MODE_ATTRS = {
    "generate": {"target", "incorrect"},
    "choice": {"choices", "labels", "delimiter", "contexts"},
    "perplexity": {"text"},
}


def _needs_target(ctx: CheckContext, ev: EvalDef) -> bool:
    for ref in ev.metrics:
        if ref.name in ctx.spec.judges:
            continue
        if _compares(ctx, ref.name, 0):
            return True
    return False


def _compares(ctx: CheckContext, name: str, depth: int) -> bool:
    """Whether the metric `name` compares the output with references."""
    mdef = ctx.spec.metrics.get(name)
    family = mdef.family if mdef is not None else name
    if mdef is not None and family == "tool_call" and "function" in mdef.params:
        return False  # the expected call is written in the metric
    if mdef is not None and family in _EXTRACTORS and depth < 8:
        inner = mdef.params.get("metric", "exact_match")
        return not isinstance(inner, str) or _compares(ctx, inner, depth + 1)
    return family not in _NEEDS_NO_TARGET


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ev in ctx.spec.evals.values():

        def missing(attr: str, why: str, ev: EvalDef = ev) -> None:
            out.append(
                Diagnostic(
                    code="E304",
                    message=f"eval `{ev.name}` needs `{attr}` {why}",
                    span=ev.span,
                    hint=f"add `{attr} = ...` to the eval",
                )
            )

        if not ev.models:
            out.append(
                Diagnostic(
                    code="E319",
                    message=f"eval `{ev.name}` has no models",
                    span=ev.span,
                    hint="list at least one: `models = [NAME]`",
                )
            )
        if not ev.metrics:
            out.append(
                Diagnostic(
                    code="E304",
                    message=f"eval `{ev.name}` computes no metrics",
                    span=ev.span,
                    hint="add `metrics = [...]`",
                )
            )
        has_prompt = ev.prompt is not None or ev.inline_prompt is not None
        if ev.mode == "generate":
            if not has_prompt:
                missing("prompt", "to know what to ask the model")
            if ev.target is None and ev.turns == "final" and _needs_target(ctx, ev):
                missing("target", "because its metrics compare the output with a reference")
        elif ev.mode == "choice":
            if not has_prompt and ev.contexts is None:
                missing("prompt", "(the context each choice is scored after)")
            if ev.choices is None:
                missing("choices", "in choice mode")
            if ev.labels is None:
                missing("labels", "in choice mode (1 = true choice, 0 = false)")
        elif ev.mode == "perplexity" and ev.text is None:
            missing("text", "in perplexity mode (the text to score)")
        for mode, attrs in _MODE_ATTRS.items():
            if mode == ev.mode:
                continue
            for attr in attrs - _MODE_ATTRS[ev.mode]:
                value = getattr(ev, attr)
                if value is not None and not (attr == "delimiter" and value == " "):
                    span = getattr(value, "span", ev.span)
                    out.append(
                        Diagnostic(
                            code="W302",
                            severity="warning",
                            message=f"`{attr}` is ignored in {ev.mode} mode",
                            span=span,
                            hint=f"it is used in {mode} mode",
                        )
                    )
    return out
