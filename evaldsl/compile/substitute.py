"""A template instance's body rewritten: parameter names → the instance's argument values, names defined in the
template → `instance.name`; and the plain Python value of a literal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import ast

NOT_CONSTANT = object()


def constant(value: ast.Value) -> Any:
    """The plain Python value of a literal (str, number, bool, list/map of those), else a sentinel."""
    if isinstance(value, (ast.Str, ast.Num, ast.Bool)):
        return value.value
    if isinstance(value, ast.ListV):
        items = [constant(v) for v in value.items]
        return NOT_CONSTANT if any(i is NOT_CONSTANT for i in items) else items
    if isinstance(value, ast.MapV):
        entries = {e.key: constant(e.value) for e in value.entries}
        return NOT_CONSTANT if any(v is NOT_CONSTANT for v in entries.values()) else entries
    return NOT_CONSTANT


class Substitution:
    """Rewrites a template body: parameter names → argument values, local names → `instance.name`."""

    def __init__(self, bound: Mapping[str, ast.Value], local: set[str], prefix: str):
        self.bound, self.local, self.prefix = bound, local, prefix

    def value(self, v: ast.Value) -> ast.Value:
        if isinstance(v, ast.Ref):
            head = v.parts[0]
            if head in self.bound and len(v.parts) == 1:
                return self.bound[head]
            if head in self.local:
                return v.model_copy(update={"parts": (self.prefix, *v.parts)})
            return v
        if isinstance(v, ast.ListV):
            items: list[ast.Value] = []
            for item in v.items:
                new = self.value(item)
                # A list parameter spliced into a list literal (`models = [models]`) stays flat.
                if isinstance(item, ast.Ref) and isinstance(new, ast.ListV):
                    items.extend(new.items)
                else:
                    items.append(new)
            return v.model_copy(update={"items": tuple(items)})
        if isinstance(v, ast.MapV):
            return v.model_copy(
                update={"entries": tuple(e.model_copy(update={"value": self.value(e.value)}) for e in v.entries)}
            )
        if isinstance(v, ast.Call):
            return v.model_copy(
                update={
                    "args": tuple(self.value(a) for a in v.args),
                    "kwargs": tuple(k.model_copy(update={"value": self.value(k.value)}) for k in v.kwargs),
                }
            )
        return v

    def entry(self, e: ast.Entry) -> ast.Entry:
        if isinstance(e, (ast.Attribute, ast.Assign)):
            return e.model_copy(update={"value": self.value(e.value)})
        if isinstance(e, ast.Block):
            return e.model_copy(update={"body": tuple(self.entry(x) for x in e.body)})
        if isinstance(e, ast.Assert):
            return e.model_copy(update={"left": self.value(e.left), "right": self.value(e.right)})
        return e
