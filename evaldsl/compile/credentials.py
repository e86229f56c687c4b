"""Credentials never go in a spec (E330): an attribute whose name looks like a credential (`api_key`,
`authorization`, `*_token`, `*secret*`, `password`...), and in `extra` any key like that or any value shaped like
one (`Bearer ...`, `sk-...`), at any depth, is an error naming the environment variable to set instead."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..credentials import key_variables, looks_like_secret_name, looks_like_secret_value
from ..diagnostics import Diagnostic, Span
from . import ast

CODE = "E330"
_WALKED = frozenset({"extra"})  # maps of free keyword arguments: their keys and values are checked too


def _string(body: Sequence[ast.Entry], name: str) -> str | None:
    for entry in body:
        if isinstance(entry, ast.Attribute) and entry.name == name and isinstance(entry.value, ast.Str):
            return entry.value.value
    return None


def _hint(kind: str, body: Sequence[ast.Entry]) -> str:
    provider = _string(body, "provider")
    if kind != "model" or provider == "mock":
        return "credentials are read from the environment by the provider, never from a spec"
    names = "HF_TOKEN" if provider == "hf" else " or ".join(key_variables(_string(body, "id")))
    return f"set {names} in the environment (the provider reads it there); a spec never holds a credential"


def _nested(value: ast.Value, path: str) -> Iterator[tuple[str, Span, str]]:
    """(where, span, what) for each credential-like key or value inside a map or list value."""
    if isinstance(value, ast.MapV):
        for entry in value.entries:
            where = f"{path}.{entry.key}"
            if looks_like_secret_name(entry.key):
                yield where, entry.span, f"`{where}` looks like a credential"
            else:
                yield from _nested(entry.value, where)
    elif isinstance(value, ast.ListV):
        for n, item in enumerate(value.items):
            yield from _nested(item, f"{path}[{n}]")
    elif isinstance(value, ast.Str) and looks_like_secret_value(value.value):
        yield path, value.span, f"`{path}` holds a value shaped like a credential"


def credential_problems(kind: str, entry: ast.Attribute, body: Sequence[ast.Entry]) -> list[Diagnostic]:
    """E330 for an attribute of a `kind` block that is, or (in `extra`) holds, a credential; [] otherwise."""
    if looks_like_secret_name(entry.name):
        found = [(entry.name, entry.name_span, f"`{entry.name}` looks like a credential")]
    elif entry.name in _WALKED:
        found = list(_nested(entry.value, entry.name))
    else:
        return []
    hint = _hint(kind, body)
    return [
        Diagnostic(code=CODE, message=f"{what}: credentials are never accepted in a spec", span=span, hint=hint)
        for _, span, what in found
    ]
