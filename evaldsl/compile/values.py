"""AST values → Python values for block attribute schemas; a `BadValue` says what was expected instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..diagnostics import Span, did_you_mean
from . import ast
from .spec import NameRef
from .substitute import NOT_CONSTANT, constant


class BadValue(Exception):
    """A value of the wrong type: `expected` names what was wanted, `got` what was written (when its type is
    not enough), `span` the offending item inside a list."""

    def __init__(self, expected: str, span: Span | None = None, *, got: str | None = None, hint: str | None = None):
        super().__init__(expected)
        self.expected = expected
        self.span = span
        self.got = got
        self.hint = hint


def as_str(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return v.value
    raise BadValue("a string")


def as_int(v: ast.Value) -> int:
    if isinstance(v, ast.Num) and isinstance(v.value, int):
        return v.value
    raise BadValue("an integer")


def as_nonneg_int(v: ast.Value) -> int:
    n = as_int(v)
    if n < 0:
        raise BadValue("a non-negative integer", got=str(n))
    return n


def as_pos_int(v: ast.Value) -> int:
    n = as_int(v)
    if n < 1:
        raise BadValue("a positive integer", got=str(n))
    return n


def as_num(v: ast.Value) -> float:
    if isinstance(v, ast.Num):
        return float(v.value)
    raise BadValue("a number")


def as_rate(v: ast.Value) -> float:
    x = as_num(v)
    if not 0.0 <= x <= 1.0:
        raise BadValue("a number from 0 to 1", got=f"{x:g}", hint="e.g. 0.05 tolerates errors on 5% of the samples")
    return x


def as_bool(v: ast.Value) -> bool:
    if isinstance(v, ast.Bool):
        return v.value
    raise BadValue("`true` or `false`")


def as_ref(v: ast.Value) -> NameRef:
    if isinstance(v, ast.Ref):
        return NameRef(name=v.name, span=v.span)
    raise BadValue("a name")


def as_refs(v: ast.Value) -> tuple[NameRef, ...]:
    if isinstance(v, ast.Ref):
        return (as_ref(v),)
    if isinstance(v, ast.ListV):
        out = []
        for item in v.items:
            if not isinstance(item, ast.Ref):
                raise BadValue("a list of names", item.span, got=ast.describe(item))
            out.append(as_ref(item))
        return tuple(out)
    raise BadValue("a list of names")


def as_str_list(v: ast.Value) -> tuple[str, ...]:
    if isinstance(v, ast.Str):
        return (v.value,)
    if isinstance(v, ast.ListV):
        strings = [i.value for i in v.items if isinstance(i, ast.Str)]
        if len(strings) == len(v.items):
            return tuple(strings)
    raise BadValue("a string or a list of strings")


def one_of(*choices: str) -> Callable[[ast.Value], str]:
    def convert(v: ast.Value) -> str:
        value = as_str(v)
        if value not in choices:
            quoted = [f'"{c}"' for c in choices]
            raise BadValue(
                "one of " + ", ".join(quoted[:-1]) + " or " + quoted[-1],
                got=f'"{value}"',
                hint=did_you_mean(value, choices),
            )
        return value

    return convert


def as_const(v: ast.Value) -> Any:
    value = constant(v)
    if value is NOT_CONSTANT:
        raise BadValue("a literal value (string, number, boolean, list or map)")
    return value


def as_rows(v: ast.Value) -> tuple[dict[str, Any], ...]:
    if not isinstance(v, ast.ListV):
        raise BadValue("a list of maps")
    rows = []
    for item in v.items:
        value = constant(item) if isinstance(item, ast.MapV) else None
        if not isinstance(value, dict):
            raise BadValue("a list of maps of literal values", item.span, got=ast.describe(item))
        rows.append(value)
    return tuple(rows)


def as_scale(v: ast.Value) -> tuple[int, int]:
    if isinstance(v, ast.ListV) and len(v.items) == 2:
        lo, hi = (as_int(i) for i in v.items)
        if lo < hi:
            return (lo, hi)
    raise BadValue("a list of two integers [low, high] with low < high")


def as_choices(v: ast.Value) -> dict[str, float]:
    if isinstance(v, ast.MapV) and v.entries:
        return {e.key: as_num(e.value) for e in v.entries}
    raise BadValue("a map of labels to scores, e.g. { A = 1.0, B = 0.0 }")


def as_string_map(v: ast.Value) -> dict[str, Any]:
    value = constant(v)
    if isinstance(v, ast.MapV) and isinstance(value, dict):
        return value
    raise BadValue("a map of literal values")


def as_env_map(v: ast.Value) -> dict[str, str]:
    """`{ Authorization = env("APP_TOKEN") }` → {"Authorization": "APP_TOKEN"}: values name environment
    variables, read when the run calls the service, so a credential is never written in a spec or stored."""
    if not isinstance(v, ast.MapV):
        raise BadValue('a map of env("VARIABLE") values, e.g. { Authorization = env("APP_TOKEN") }')
    out: dict[str, str] = {}
    for entry in v.entries:
        value = entry.value
        if not (isinstance(value, ast.Call) and value.func == "env" and len(value.args) == 1
                and not value.kwargs and isinstance(value.args[0], ast.Str)):  # fmt: skip
            raise BadValue(
                'env("VARIABLE")',
                value.span,
                got=ast.describe(value),
                hint="header values come only from the environment, so no credential is written in a spec",
            )
        out[entry.key] = value.args[0].value
    return out


def as_tools(v: ast.Value) -> str | list[Any]:
    """A list of tool maps (`[{ name = "f", parameters = { ... } }]`) or a .json file's path (read by lowering)."""
    if isinstance(v, ast.Str):
        return v.value
    value = constant(v)
    if isinstance(v, ast.ListV) and isinstance(value, list) and all(isinstance(t, dict) for t in value):
        return value
    raise BadValue('a list of tool maps ({ name = "...", parameters = { ... } }) or a .json file')


CONVERTERS: dict[str, Callable[[ast.Value], Any]] = {
    "string": as_str,
    "integer": as_int,
    "count": as_nonneg_int,
    "positive": as_pos_int,
    "number": as_num,
    "rate": as_rate,
    "bool": as_bool,
    "strings": as_str_list,
    "map": as_string_map,
    "env_map": as_env_map,
    "expression": as_str,
    "tools": as_tools,
    "rows": as_rows,
    "reference": as_ref,
    "references": as_refs,
    "scale": as_scale,
    "choices": as_choices,
}
"""How a value of each attribute type (`compile.attrs.TYPES`) is read; "value", "prompt" and "choice" depend on
the definition and are built by the lowering."""
