"""Lark parse tree → typed AST (`evaldsl.ast`), one method per grammar rule; decodes strings and numbers."""

from __future__ import annotations

import math
import re
import textwrap
from typing import Any

from lark import Token, Transformer, Tree, v_args

from ..diagnostics import Diagnostic, Span
from . import ast

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
MAX_NUMBER_CHARS = 40  # a spec's numbers are counts, seeds and thresholds; Python refuses ints over 4,300 digits
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?\Z")


def dedent_block(raw: str) -> str:
    """A `\"\"\"` string's value: first and last blank line dropped, common leading whitespace removed."""
    lines = raw.split("\n")
    if lines and not lines[0].strip():
        lines = lines[1:]
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    return textwrap.dedent("\n".join(lines))


class ToAst(Transformer):
    """Builds AST nodes; collects value errors (bad numbers, bad escapes) as diagnostics instead of raising."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.file = file
        self.errors: list[Diagnostic] = []

    # ---- helpers ----
    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span.point(self.file, 1, 1)
        return Span(
            file=self.file,
            line=meta.line,
            column=meta.column,
            end_line=meta.end_line,
            end_column=meta.end_column,
        )

    def _tok_span(self, tok: Token) -> Span:
        return Span(
            file=self.file,
            line=tok.line or 1,
            column=tok.column or 1,
            end_line=tok.end_line or tok.line or 1,
            end_column=tok.end_column or (tok.column or 1) + len(tok),
        )

    def _unescape(self, body: str, tok: Token) -> str:
        if "\\" not in body:
            return body
        # Unknown escapes are kept verbatim (so regex patterns like "\\b" and "\d" both work).
        return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)

    # ---- values ----
    @v_args(meta=True)
    def string(self, meta: Any, children: list[Token]) -> ast.Str:
        tok = children[0]
        if tok.type == "LONG_STRING":
            value = dedent_block(self._unescape(tok[3:-3], tok))
            return ast.Str(span=self._tok_span(tok), value=value, triple=True)
        return ast.Str(span=self._tok_span(tok), value=self._unescape(tok[1:-1], tok))

    @v_args(meta=True)
    def number(self, meta: Any, children: list[Token]) -> ast.Num:
        tok = children[0]
        text = str(tok)
        span = self._tok_span(tok)
        too_long = len(text) > MAX_NUMBER_CHARS
        if too_long or (_FLOAT.match(text) and not math.isfinite(float(text))):
            shown = f"`{text[:20]}…` ({len(text):,} characters)" if too_long else f"`{text}` (not a finite number)"
            self.errors.append(
                Diagnostic(
                    code="E005",
                    message=f"number too large: {shown}",
                    span=span,
                    hint=f"a number is finite and written in at most {MAX_NUMBER_CHARS} characters",
                )
            )
            return ast.Num(span=span, value=0)
        if _INT.match(text):
            return ast.Num(span=span, value=int(text))
        if _FLOAT.match(text):
            return ast.Num(span=span, value=float(text))
        self.errors.append(
            Diagnostic(
                code="E104",
                message=f"bad number `{text}`",
                span=span,
                hint="numbers look like 42, -1, 0.5 or 1e-3",
            )
        )
        return ast.Num(span=span, value=0)

    @v_args(meta=True)
    def true(self, meta: Any, children: list[Any]) -> ast.Bool:
        return ast.Bool(span=self._span(meta), value=True)

    @v_args(meta=True)
    def false(self, meta: Any, children: list[Any]) -> ast.Bool:
        return ast.Bool(span=self._span(meta), value=False)

    @v_args(meta=True)
    def expr(self, meta: Any, children: list[Token]) -> ast.Expr:
        tok = children[0]
        return ast.Expr(span=self._tok_span(tok), source=str(tok)[1:-1].strip())

    @v_args(meta=True)
    def list_value(self, meta: Any, children: list[Any]) -> ast.ListV:
        return ast.ListV(span=self._span(meta), items=tuple(c for c in children if c is not None))

    @v_args(meta=True)
    def map_value(self, meta: Any, children: list[ast.MapEntry]) -> ast.MapV:
        return ast.MapV(span=self._span(meta), entries=tuple(children))

    @v_args(meta=True)
    def map_entry(self, meta: Any, children: list[Any]) -> ast.MapEntry:
        key_tok, value = children
        key = str(key_tok)
        if key_tok.type == "STRING":
            key = self._unescape(key[1:-1], key_tok)
        return ast.MapEntry(span=self._span(meta), key=key, value=value)

    @v_args(meta=True)
    def ref(self, meta: Any, children: list[Token]) -> ast.Ref:
        return ast.Ref(span=self._span(meta), parts=tuple(str(t) for t in children))

    @v_args(meta=True)
    def kwarg(self, meta: Any, children: list[Any]) -> ast.Kwarg:
        name, value = children
        return ast.Kwarg(span=self._span(meta), name=str(name), value=value)

    @v_args(meta=True)
    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        func = children[0]
        args = tuple(c for c in children[1:] if c is not None and not isinstance(c, ast.Kwarg))
        kwargs = tuple(c for c in children[1:] if isinstance(c, ast.Kwarg))
        return ast.Call(span=self._span(meta), func=str(func), func_span=self._tok_span(func), args=args, kwargs=kwargs)

    # ---- entries ----
    @v_args(meta=True)
    def import_stmt(self, meta: Any, children: list[ast.Str]) -> ast.Import:
        return ast.Import(span=self._span(meta), path=children[0].value)

    @v_args(meta=True)
    def attribute(self, meta: Any, children: list[Any]) -> ast.Attribute:
        name, value = children
        return ast.Attribute(span=self._span(meta), name=str(name), name_span=self._tok_span(name), value=value)

    @v_args(meta=True)
    def anon_block(self, meta: Any, children: list[Any]) -> ast.Block:
        kw = children[0]
        return ast.Block(
            span=self._span(meta), keyword=str(kw), keyword_span=self._tok_span(kw), body=tuple(children[1:])
        )

    @v_args(meta=True)
    def named_block(self, meta: Any, children: list[Any]) -> ast.Block:
        kw, name = children[0], children[1]
        return ast.Block(
            span=self._span(meta),
            keyword=str(kw),
            keyword_span=self._tok_span(kw),
            name=str(name),
            name_span=self._tok_span(name),
            body=tuple(children[2:]),
        )

    @v_args(meta=True)
    def named_assign(self, meta: Any, children: list[Any]) -> ast.Assign:
        kw, name, value = children
        return ast.Assign(
            span=self._span(meta),
            keyword=str(kw),
            keyword_span=self._tok_span(kw),
            name=str(name),
            name_span=self._tok_span(name),
            value=value,
        )

    @v_args(meta=True)
    def param(self, meta: Any, children: list[Any]) -> ast.Param:
        default = children[1] if len(children) > 1 else None
        return ast.Param(span=self._span(meta), name=str(children[0]), default=default)

    @v_args(meta=True)
    def template_def(self, meta: Any, children: list[Any]) -> ast.TemplateDef:
        kw, name = children[0], children[1]
        params = tuple(c for c in children[2:] if isinstance(c, ast.Param))
        body = tuple(c for c in children[2:] if c is not None and not isinstance(c, ast.Param))
        return ast.TemplateDef(
            span=self._span(meta),
            keyword=str(kw),
            keyword_span=self._tok_span(kw),
            name=str(name),
            name_span=self._tok_span(name),
            params=params,
            body=body,
        )

    @v_args(meta=True)
    def assert_stmt(self, meta: Any, children: list[Any]) -> ast.Assert:
        left, op, right = children
        return ast.Assert(span=self._span(meta), left=left, op=str(op), right=right)

    @v_args(meta=True)
    def start(self, meta: Any, children: list[Any]) -> list[Any]:
        return children


def to_module(tree: Tree, file: str) -> tuple[ast.Module, list[Diagnostic]]:
    """Transform a parse tree into a Module, with any value errors found on the way."""
    builder = ToAst(file)
    # One top-level entry at a time, each parse subtree dropped once transformed: the parse tree (tokens,
    # positions) is several times the size of the AST, so a large file never holds both whole.
    entries: list[Any] = []
    children = tree.children
    for i, child in enumerate(children):
        children[i] = None  # type: ignore[call-overload]
        entries.append(builder.transform(child) if isinstance(child, Tree) else child)
        del child
    module = ast.Module(span=Span.point(file, 1, 1), path=file, entries=tuple(entries))
    return module, builder.errors
