"""Jinja's immutable sandbox with bounds: no constant folding at compile time, `range` loops share a budget per
render, `*` and `**` cannot build huge values, and a render's output is capped. (Wall time is bounded by the
caller with `evaldsl.limits.time_limit`.)"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_ITERATIONS = 1_000_000
"""Items all `range(...)` calls of one render may produce together (nested loops multiply)."""
MAX_OUTPUT = 1_000_000
"""Characters one template may produce for one sample."""
MAX_REPEAT = 1_000_000
"""Length of a string or list built by `*` (e.g. `'x' * n`)."""
MAX_POWER_BITS = 1_000_000
"""Largest integer `**` may build, in bits (about 300,000 decimal digits)."""

_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("range_budget")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _bounded_range(*args: int) -> range:
    """`range` whose items count against the render's budget."""
    items = range(*args)
    budget = _budget.get(None)
    if budget is not None:
        budget[0] -= len(items)
        if budget[0] < 0:
            raise SecurityError(f"loops over more than {MAX_ITERATIONS:,} range items in one render")
    elif len(items) > MAX_ITERATIONS:
        raise SecurityError(f"range of more than {MAX_ITERATIONS:,} items")
    return items


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox templates and expressions run in."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(optimized=False, undefined=StrictUndefined, **kwargs)
        self.globals["range"] = _bounded_range

    def call_binop(self, context: Context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_REPEAT:
                    raise SecurityError(f"`*` would build a value of {size * times:,} items (at most {MAX_REPEAT:,})")
            return operator.mul(left, right)
        if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
            if left.bit_length() * abs(right) > MAX_POWER_BITS:
                raise SecurityError(f"`**` would build an integer of more than {MAX_POWER_BITS:,} bits")
        return operator.pow(left, right)


def render_bounded(template: Template, variables: dict[str, Any]) -> str:
    """Render with a fresh range budget and the output cap."""
    token = _budget.set([MAX_ITERATIONS])
    try:
        return "".join(_capped(template.generate(**variables)))
    finally:
        _budget.reset(token)


def call_bounded(function: Any, variables: dict[str, Any]) -> Any:
    """Evaluate a compiled expression with a fresh range budget."""
    token = _budget.set([MAX_ITERATIONS])
    try:
        return function(**variables)
    finally:
        _budget.reset(token)


def _capped(chunks: Iterable[str]) -> Iterator[str]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise SecurityError(f"the template produced more than {MAX_OUTPUT:,} characters")
        yield chunk
