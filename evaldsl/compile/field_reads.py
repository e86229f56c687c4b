"""A template or expression's Jinja AST → the dataset fields it reads, each marked guarded or not.

A read is *guarded* when it cannot fail on a row that lacks the field: `x | default(...)`, `row.get("x")`,
`x is defined`, `"x" in row`, or any read inside a branch such a test protects (`{% if "x" in row %}`,
`row.x if x is defined else []`, `"x" in row and row.x`). `row[param]` whose template argument is a constant
string reads the field that string names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import meta, nodes

from ..datasets.reader import type_name
from .templating import parse_ast

_DEFAULT_FILTERS = {"default", "d"}
_DEFINED_TESTS = {"defined", "undefined"}
_TYPE_TESTS = {
    "string",
    "number",
    "integer",
    "float",
    "boolean",
    "mapping",
    "sequence",
    "iterable",
    "none",
    "true",
    "false",
}
_ROW_METHODS = {"items", "keys", "values"}
# Methods only strings have: calling one on a list, a number or null fails at run time.
STRING_METHODS = frozenset(
    "split rsplit splitlines strip lstrip rstrip lower upper title capitalize casefold replace startswith "
    "endswith removeprefix removesuffix zfill center ljust rjust partition rpartition".split()
)


@dataclass(frozen=True)
class FieldRead:
    """One read of a field. `written` is how the source spells it (`aliases`, `row.aliases`, `row["x"]`,
    `row[answer_field]`), `param` the template parameter that named it, `method` a string method called on
    it (`split`), `guarded` whether a missing field is handled, `probe` whether the read only asks whether the
    field exists (`"x" in row`, `x is defined`), `type_tested` whether the source tests this field's type."""

    name: str
    written: str
    guarded: bool
    param: str | None = None
    method: str | None = None
    probe: bool = False
    type_tested: bool = False


@lru_cache(maxsize=8192)
def _reads(source: str, expression: bool, params: tuple[tuple[str, str], ...]) -> tuple[FieldRead, ...]:
    tree = parse_ast(source, expression)
    walker = _Walker(frozenset(meta.find_undeclared_variables(tree)), dict(params))
    walker.walk(tree, frozenset())
    tested = walker.type_tested
    seen: dict[FieldRead, None] = {}
    for read in walker.found:
        if read.name in tested:
            read = FieldRead(**{**read.__dict__, "type_tested": True})
        seen.setdefault(read, None)
    return tuple(seen)


def field_reads(source: str, expression: bool, params: Mapping[str, Any] | None = None) -> tuple[FieldRead, ...]:
    """Every field read of a (syntactically valid) template or expression, in source order, without repeats.
    Top-level names count as field reads unless they are in `params` (template arguments) or are `row`."""
    return _reads(source, expression, _key(params))


@lru_cache(maxsize=8192)
def _whole(source: str, params: tuple[tuple[str, str], ...]) -> FieldRead | None:
    tree = parse_ast(source, True)
    output = tree.body[0]
    assert isinstance(output, nodes.Output)
    walker = _Walker(frozenset(meta.find_undeclared_variables(tree)), dict(params))
    found = walker.field_of(output.nodes[0])
    if found is None:
        return None
    name, written, param = found
    return FieldRead(name=name, written=written, guarded=False, param=param)


def whole_field(source: str, params: Mapping[str, Any] | None = None) -> FieldRead | None:
    """The field an expression is, when it is nothing but one field read (`row.choices`, `mc2_labels`)."""
    return _whole(source, _key(params))


def required_fields(source: str, params: Mapping[str, Any] | None = None) -> frozenset[str]:
    """Fields an expression being true guarantees are present: what a dataset's `where` keeps rows for
    (`"aliases" in row`, `aliases is defined and ...`)."""
    tree = parse_ast(source, True)
    output = tree.body[0]
    assert isinstance(output, nodes.Output)
    walker = _Walker(frozenset(meta.find_undeclared_variables(tree)), dict(_key(params)))
    return walker.present_if_true(output.nodes[0])


def _key(params: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Template arguments as a hashable key: a string argument keeps its value, any other becomes "\\0"."""
    return tuple(sorted((k, v if isinstance(v, str) else "\0") for k, v in (params or {}).items()))


class _Walker:
    """Visits the AST with the set of fields known to be present at each point (the guards in force)."""

    def __init__(self, undeclared: frozenset[str], params: dict[str, str]):
        self.undeclared = undeclared
        self.params = params  # parameter → constant string value ("\0" for a non-string parameter)
        self.found: list[FieldRead] = []
        self.type_tested: set[str] = set()

    def field_of(self, node: nodes.Node) -> tuple[str, str, str | None] | None:
        """(field, as written, parameter) when the node is a direct read of one field."""
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name in self.undeclared and node.name not in self.params and node.name != "row":
                return node.name, node.name, None
            return None
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            base = node.node
            if not (isinstance(base, nodes.Name) and base.name == "row" and "row" in self.undeclared):
                return None
            if isinstance(node, nodes.Getattr):
                return node.attr, f"row.{node.attr}", None
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                return arg.value, f'row["{arg.value}"]', None
            if isinstance(arg, nodes.Name) and self.params.get(arg.name, "\0") != "\0":
                return self.params[arg.name], f"row[{arg.name}]", arg.name
        return None

    def _named(self, node: nodes.Node) -> tuple[str, str, str | None] | None:
        """A field named by a constant or a string parameter (`"x"` / `answer_field`), as `row.get` and `in` take."""
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return node.value, f'"{node.value}"', None
        if isinstance(node, nodes.Name) and self.params.get(node.name, "\0") != "\0":
            return self.params[node.name], node.name, node.name
        return None

    def _add(self, found: tuple[str, str, str | None], guarded: bool, **extra: Any) -> None:
        name, written, param = found
        self.found.append(FieldRead(name=name, written=written, guarded=guarded, param=param, **extra))

    # ---- what a test guarantees ----
    def present_if_true(self, test: nodes.Node) -> frozenset[str]:
        if isinstance(test, nodes.Compare) and len(test.ops) == 1:
            op = test.ops[0]
            if op.op == "in" and _is_row(op.expr) and (named := self._named(test.expr)):
                return frozenset({named[0]})
        if isinstance(test, nodes.Test) and test.name == "defined" and (found := self.field_of(test.node)):
            return frozenset({found[0]})
        if isinstance(test, nodes.Call) and (named := self._row_get(test)):
            return frozenset({named[0]})  # `row.get("x")` is truthy only when x is there
        if isinstance(test, nodes.Not):
            return self.present_if_false(test.node)
        if isinstance(test, nodes.And):
            return self.present_if_true(test.left) | self.present_if_true(test.right)
        if isinstance(test, nodes.Or):
            return self.present_if_true(test.left) & self.present_if_true(test.right)
        return frozenset()

    def present_if_false(self, test: nodes.Node) -> frozenset[str]:
        if isinstance(test, nodes.Compare) and len(test.ops) == 1:
            op = test.ops[0]
            if op.op == "notin" and _is_row(op.expr) and (named := self._named(test.expr)):
                return frozenset({named[0]})
        if isinstance(test, nodes.Test) and test.name == "undefined" and (found := self.field_of(test.node)):
            return frozenset({found[0]})
        if isinstance(test, nodes.Not):
            return self.present_if_true(test.node)
        if isinstance(test, nodes.Or):
            return self.present_if_false(test.left) | self.present_if_false(test.right)
        if isinstance(test, nodes.And):
            return self.present_if_false(test.left) & self.present_if_false(test.right)
        return frozenset()

    def _row_get(self, node: nodes.Call) -> tuple[str, str, str | None] | None:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and callee.attr == "get" and _is_row(callee.node) and node.args:
            return self._named(node.args[0])
        return None

    # ---- the walk ----
    def walk(self, node: nodes.Node, present: frozenset[str]) -> None:
        found = self.field_of(node)
        if found is not None:
            self._add(found, found[0] in present)
            return
        for child, guards in self._children(node, present):
            self.walk(child, guards)

    def _children(self, node: nodes.Node, present: frozenset[str]) -> Iterator[tuple[nodes.Node, frozenset[str]]]:
        if isinstance(node, (nodes.If, nodes.CondExpr)):
            yield from self._branches(node, present)
            return
        if isinstance(node, (nodes.And, nodes.Or)):
            yield node.left, present
            more = self.present_if_true(node.left) if isinstance(node, nodes.And) else self.present_if_false(node.left)
            yield node.right, present | more
            return
        if isinstance(node, nodes.Filter) and node.name in _DEFAULT_FILTERS and node.node is not None:
            if (found := self.field_of(node.node)) is not None:
                self._add(found, True)
                yield from ((c, present) for c in (*node.args, *(k.value for k in node.kwargs)))
                return
        if isinstance(node, nodes.Test) and (found := self.field_of(node.node)) is not None:
            if node.name in _DEFINED_TESTS:
                self._add(found, True, probe=True)
                return
            if node.name in _TYPE_TESTS:  # asks about the value's type: never fails, and types are then handled
                self.type_tested.add(found[0])
                self._add(found, True, probe=True)
                return
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op in ("in", "notin"):
            if _is_row(node.ops[0].expr) and (named := self._named(node.expr)) is not None:
                self._add(named, True, probe=True)
                return
        if isinstance(node, nodes.Call):
            if (named := self._row_get(node)) is not None:
                self._add(named, True, probe=True)
                yield from ((c, present) for c in node.args[1:])
                return
            callee = node.node
            if isinstance(callee, nodes.Getattr) and callee.attr in _ROW_METHODS and _is_row(callee.node):
                yield from ((c, present) for c in (*node.args, *(k.value for k in node.kwargs)))
                return  # `row.items()`, `row.keys()`...: the row itself, no one field
            if isinstance(callee, nodes.Getattr) and callee.attr in STRING_METHODS:
                if (found := self.field_of(callee.node)) is not None:
                    self._add(found, found[0] in present, method=callee.attr)
                    yield from ((c, present) for c in (*node.args, *(k.value for k in node.kwargs)))
                    return
        yield from ((child, present) for child in node.iter_child_nodes())

    def _branches(self, node: nodes.If | nodes.CondExpr, present: frozenset[str]) -> Iterator[
        tuple[nodes.Node, frozenset[str]]
    ]:
        yield node.test, present
        if isinstance(node, nodes.CondExpr):
            yield node.expr1, present | self.present_if_true(node.test)
            if node.expr2 is not None:
                yield node.expr2, present | self.present_if_false(node.test)
            return
        yield from ((n, present | self.present_if_true(node.test)) for n in node.body)
        otherwise = present | self.present_if_false(node.test)
        for branch in node.elif_:
            yield branch.test, otherwise
            yield from ((n, otherwise | self.present_if_true(branch.test)) for n in branch.body)
            otherwise = otherwise | self.present_if_false(branch.test)
        yield from ((n, otherwise) for n in node.else_)


def _is_row(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "row"


_FILTER_KINDS = {
    "split_list": "list",
    "regex_replace": "str",
    "list": "list",
    "sort": "list",
    "ensure_suffix": None,  # keeps the kind of its input
    "join": "str",
    "string": "str",
    "lower": "str",
    "upper": "str",
    "trim": "str",
    "title": "str",
    "capitalize": "str",
    "replace": "str",
    "format": "str",
    "truncate": "str",
    "length": "int",
    "count": "int",
    "int": "int",
    "float": "float",
}
_METHOD_KINDS = {"split": "list", "rsplit": "list", "splitlines": "list", "startswith": "bool", "endswith": "bool"}


def value_kinds(
    source: str, params: Mapping[str, Any] | None, field_kinds: Callable[[str], frozenset[str] | None]
) -> frozenset[str] | None:
    """The types ("str", "list", ...) an expression can evaluate to, when that is plain from its shape (a
    literal, a field read, a `default`, a filter or method of known result), else None. `field_kinds` gives
    a field's types (None when unknown)."""
    tree = parse_ast(source, True)
    output = tree.body[0]
    assert isinstance(output, nodes.Output)
    walker = _Walker(frozenset(meta.find_undeclared_variables(tree)), dict(_key(params)))
    return _kinds(output.nodes[0], walker, field_kinds)


def _kinds(
    node: nodes.Node, walker: _Walker, field_kinds: Callable[[str], frozenset[str] | None]
) -> frozenset[str] | None:
    if (found := walker.field_of(node)) is not None:
        return field_kinds(found[0])
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return frozenset({"list"})
    if isinstance(node, nodes.Dict):
        return frozenset({"dict"})
    if isinstance(node, nodes.Const):
        return frozenset({type_name(node.value)})
    if isinstance(node, (nodes.Concat, nodes.TemplateData)):
        return frozenset({"str"})
    if isinstance(node, (nodes.Compare, nodes.Not, nodes.Test)):
        return frozenset({"bool"})
    if isinstance(node, nodes.CondExpr):
        first = _kinds(node.expr1, walker, field_kinds)
        second = _kinds(node.expr2, walker, field_kinds) if node.expr2 is not None else None
        return first | second if first is not None and second is not None else None
    if isinstance(node, nodes.Filter) and node.node is not None:
        if node.name in _DEFAULT_FILTERS:
            inner = _kinds(node.node, walker, field_kinds)
            fallback = _kinds(node.args[0], walker, field_kinds) if node.args else frozenset({"str"})
            return inner - {"null"} | fallback if inner is not None and fallback is not None else None
        if node.name in _FILTER_KINDS:
            kind = _FILTER_KINDS[node.name]
            return frozenset({kind}) if kind is not None else _kinds(node.node, walker, field_kinds)
        return None
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr in STRING_METHODS:
        return frozenset({_METHOD_KINDS.get(node.node.attr, "str")})
    if isinstance(node, nodes.Add):
        left, right = _kinds(node.left, walker, field_kinds), _kinds(node.right, walker, field_kinds)
        if left == frozenset({"list"}) or right == frozenset({"list"}):
            return frozenset({"list"})
        if left == frozenset({"str"}) and right == frozenset({"str"}):
            return frozenset({"str"})
    return None

