"""An eval's `assert` statement (AST) in, its typed `AssertDef` out — or an E303 diagnostic."""

from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import Span, did_you_mean
from . import ast
from .spec import AssertDef, NameRef

ErrorSink = Callable[[str, str, "Span | None", "str | None"], None]


def lower_assert(a: ast.Assert, error: ErrorSink) -> AssertDef | None:
    """`assert mean(metric) OP number` → its typed form; anything else is E303 (reported through `error`)."""
    left, right = a.left, a.right
    if not (
        isinstance(left, ast.Call) and len(left.args) == 1 and isinstance(left.args[0], ast.Ref) and not left.kwargs
    ):
        error(
            "E303",
            "an assert compares an aggregate of a metric with a number",
            left.span,
            "e.g. `assert mean(exact_match) >= 0.6`",
        )
        return None
    if left.func != "mean":
        error(
            "E303",
            f"unknown aggregate `{left.func}`",
            left.func_span,
            did_you_mean(left.func, ["mean"]) or "aggregates: mean",
        )
        return None
    if not isinstance(right, ast.Num):
        error("E303", f"the right side of an assert must be a number, got {ast.describe(right)}", right.span, None)
        return None
    metric = left.args[0]
    assert isinstance(metric, ast.Ref)
    text = f"{left.func}({metric.name}) {a.op} {right.value}"
    return AssertDef(
        span=a.span,
        aggregate=left.func,
        metric=NameRef(name=metric.name, span=metric.span),
        op=a.op,
        threshold=float(right.value),
        text=text,
    )
