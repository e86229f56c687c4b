"""The typed syntax tree of a `.eval` file: frozen pydantic nodes, each with its source span."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..diagnostics import Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span


# ---- values -------------------------------------------------------------------------------------------


class Str(Node):
    kind: Literal["str"] = "str"
    value: str
    triple: bool = False


class Num(Node):
    kind: Literal["num"] = "num"
    value: int | float


class Bool(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class Expr(Node):
    """A backtick Jinja expression evaluated per sample."""

    kind: Literal["expr"] = "expr"
    source: str


class Ref(Node):
    """A (possibly dotted) name: `trivia`, `tqa.mc2`."""

    kind: Literal["ref"] = "ref"
    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return ".".join(self.parts)


class ListV(Node):
    kind: Literal["list"] = "list"
    items: tuple[Value, ...]


class MapEntry(Node):
    key: str
    value: Value


class MapV(Node):
    kind: Literal["map"] = "map"
    entries: tuple[MapEntry, ...]


class Kwarg(Node):
    name: str
    value: Value


class Call(Node):
    """`rouge(type = "rougeL")`, `mean(exact_match)`, `qa_general(models = [small])`."""

    kind: Literal["call"] = "call"
    func: str
    func_span: Span
    args: tuple[Value, ...] = ()
    kwargs: tuple[Kwarg, ...] = ()


Value = Annotated[Str | Num | Bool | Expr | Ref | ListV | MapV | Call, Field(discriminator="kind")]


# ---- entries ------------------------------------------------------------------------------------------


class Import(Node):
    entry: Literal["import"] = "import"
    path: str


class Attribute(Node):
    """`name = value` inside a block."""

    entry: Literal["attribute"] = "attribute"
    name: str
    name_span: Span
    value: Value


class Block(Node):
    """`kind name { ... }` (a definition) or `kind { ... }` (a nested block such as `fewshot`)."""

    entry: Literal["block"] = "block"
    keyword: str
    keyword_span: Span
    name: str | None = None
    name_span: Span | None = None
    body: tuple[Entry, ...] = ()


class Assign(Node):
    """`kind name = value`: shorthand definitions, derived fields, configured metrics, template instances."""

    entry: Literal["assign"] = "assign"
    keyword: str
    keyword_span: Span
    name: str
    name_span: Span
    value: Value


class Param(Node):
    name: str
    default: Value | None = None


class TemplateDef(Node):
    """`template name(param, param = default) { ... }`."""

    entry: Literal["template"] = "template"
    keyword: str
    keyword_span: Span
    name: str
    name_span: Span
    params: tuple[Param, ...] = ()
    body: tuple[Entry, ...] = ()


class Assert(Node):
    """`assert mean(metric) >= 0.6`."""

    entry: Literal["assert"] = "assert"
    left: Value
    op: str
    right: Value


Entry = Annotated[Import | Attribute | Block | Assign | TemplateDef | Assert, Field(discriminator="entry")]


class Module(Node):
    """One parsed file."""

    path: str
    entries: tuple[Entry, ...]


for _model in (ListV, MapEntry, MapV, Kwarg, Call, Attribute, Block, Assign, Param, TemplateDef, Assert, Module):
    _model.model_rebuild()


def describe(value: Value) -> str:
    """A short human name of a value's type, for diagnostics."""
    return {
        "str": "a string",
        "num": "a number",
        "bool": "a boolean",
        "expr": "a backtick expression",
        "ref": "a name",
        "list": "a list",
        "map": "a map",
        "call": "a call",
    }[value.kind]
