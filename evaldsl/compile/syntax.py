"""Source text → Lark parse tree; every Lark error becomes a `Diagnostic` that says what was expected."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import BasicLexer, LexerThread

from ..diagnostics import Diagnostic, Span
from ..resources import grammar_path

_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "NUMBER": "a number",
    "EXPR": "a backtick expression",
    "COMPARE": "a comparison (>=, <=, ==, !=, >, <)",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "IMPORT": "`import`",
    "ASSERT": "`assert`",
    "$END": "end of file",
}


_VALUE_START = frozenset({"NAME", "STRING", "NUMBER", "EXPR", "LSQB", "LBRACE"})


class ParseFailure(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def grammar_text() -> str:
    """The grammar; its possessive repeats (`*+`, Python 3.11+) read as plain ones where `re` lacks them."""
    text = grammar_path().read_text(encoding="utf-8")
    return text if sys.version_info >= (3, 11) else text.replace(")*+", ")*")


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process.

    Not built with `strict=True`: its regex-collision analysis costs ~0.5 s per process, and the grammar's
    freedom from conflicts and collisions is checked once, by the test suite (tests/test_golden.py).
    """
    return Lark(
        grammar_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


@lru_cache(maxsize=1)
def _lexer() -> BasicLexer:
    return BasicLexer(parser().lexer_conf)


def _tokens(text: str) -> Iterator[Token]:
    """The tokens of `text` (comments and whitespace skipped); raises UnexpectedInput where lexing fails."""
    return LexerThread.from_text(_lexer(), text).lex(None)


def parse_tree(text: str, file: str) -> Tree:
    """Parse source text; raise `ParseFailure` with one diagnostic on a syntax error or on nesting deeper than
    MAX_NESTING (every later stage walks values recursively)."""
    try:
        tree = parser().parse(text)
    except UnexpectedInput as exc:
        raise ParseFailure(_diagnose(exc, text, file)) from None
    too_deep = _too_deep(tree, file)
    if too_deep is not None:
        raise ParseFailure(too_deep)
    return tree


MAX_NESTING = 32  # lists, maps, calls and blocks inside one another
_NESTING = {"list_value": "list", "map_value": "map", "call": "call", "anon_block": "block", "named_block": "block"}


def _too_deep(tree: Tree, file: str) -> Diagnostic | None:
    """E004 at the first list, map, call or block nested more than MAX_NESTING deep (walked without recursion:
    the LALR parser itself nests without limit)."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        kind = _NESTING.get(node.data)
        if kind is not None or node.data == "template_def":
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                return Diagnostic(
                    code="E004",
                    message=f"nested too deeply: this {kind or 'template'} is inside {depth - 1} others",
                    span=Span.point(file, getattr(meta, "line", 1), getattr(meta, "column", 1)),
                    hint=f"lists, maps, calls and blocks nest at most {MAX_NESTING} deep",
                )
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))
    return None


def _expected(names: set[str] | frozenset[str]) -> str:
    if _VALUE_START <= set(names) and len(set(names) - _VALUE_START - {"LONG_STRING"}) == 0:
        return "a value"
    words = sorted({_TOKEN_NAMES.get(n, f"`{n.lower()}`") for n in names if not n.startswith("__")})
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _unclosed(text: str, file: str) -> Span | None:
    """Where the innermost still-open `{`, `[` or `(` is, scanning tokens (strings and comments skipped)."""
    stack: list[Token] = []
    pairs = {"RBRACE": "LBRACE", "RSQB": "LSQB", "RPAR": "LPAR"}
    try:
        for tok in _tokens(text):
            if tok.type in ("LBRACE", "LSQB", "LPAR"):
                stack.append(tok)
            elif tok.type in pairs and stack and stack[-1].type == pairs[tok.type]:
                stack.pop()
    except UnexpectedInput:
        pass
    if not stack:
        return None
    tok = stack[-1]
    return Span.point(file, tok.line or 1, tok.column or 1)


def _previous_token(text: str, pos: int) -> Token | None:
    """The last token that ends at or before `pos` (comments and whitespace skipped)."""
    prev = None
    try:
        for tok in _tokens(text):
            if tok.end_pos is None or tok.end_pos > pos:
                break
            prev = tok
    except UnexpectedInput:
        pass
    return prev


def _diagnose(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else 1
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        char = text[at] if at < len(text) else ""
        here = Span.point(file, line, column)
        if char == '"':
            if text.startswith('"""', at):
                return Diagnostic(
                    code="E101",
                    message='unterminated multi-line string: no closing `"""`',
                    span=here,
                    hint='close the string with `"""`',
                )
            return Diagnostic(
                code="E101",
                message='unterminated string: no closing `"` on this line',
                span=here,
                hint='close the string with `"`, or use `"""..."""` for text spanning several lines',
            )
        if char == "`":
            return Diagnostic(
                code="E101",
                message="unterminated backtick expression: no closing `` ` ``",
                span=here,
                hint="close the expression with a backtick",
            )
        shown = repr(char) if char else "end of input"
        return Diagnostic(
            code="E102",
            message=f"unexpected character {shown}",
            span=here,
            hint=_char_hint(char),
        )
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        expected = getattr(exc, "expected", None) or set()
        opened = _unclosed(text, file)
        if opened is not None:
            end_line = text.count("\n") + 1
            return Diagnostic(
                code="E103",
                message="this bracket is never closed",
                span=opened,
                hint=f"the file ends (line {end_line}) while it is still open: add the missing closing bracket",
            )
        return Diagnostic(
            code="E103",
            message=f"unexpected end of file: expected {_expected(expected)}",
            span=Span.point(file, line, column),
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    width = max(1, len(str(tok)))
    span = Span(file=file, line=line, column=column, end_line=line, end_column=column + width)
    shown = str(tok).splitlines()[0] if str(tok) else tok.type
    expected = _expected(exc.expected)
    history = getattr(exc, "token_history", None) or []
    pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    prev = history[-1] if history else _previous_token(text, pos)
    prev_line = (prev.end_line or prev.line or 0) if prev is not None else 0
    if prev is not None and line > prev_line > 0 and not ({"RBRACE", "$END"} & set(exc.expected)):
        # The statement on an earlier line is incomplete (`limit =` then a new line): point there, not at the
        # unrelated token the parser only met on a later line.
        after = str(prev).splitlines()[-1] if str(prev) else prev.type
        where = "the next line" if line == prev_line + 1 else f"line {line}"
        found = _describe_token(tok.type, shown)
        return Diagnostic(
            code="E100",
            message=f"expected {expected} after `{after}`, found {found} on {where}",
            span=Span.point(file, prev_line, prev.end_column or 1),
            hint="this statement is incomplete" + (": give the attribute a value" if prev.type == "EQUAL" else ""),
        )
    hint = None
    if tok.type == "RBRACE" and _unclosed(text[: exc.pos_in_stream], file) is None:
        hint = "there is no open block for this `}` to close: remove it, or look for a missing `{` above"
    elif tok.type == "NAME" and "EQUAL" in exc.expected:
        hint = "an attribute is written `name = value`"
    elif "COMMA" in exc.expected and tok.type in _VALUE_START:
        hint = "separate the items of a list (or the arguments of a call) with `,`"
    return Diagnostic(
        code="E100",
        message=f"unexpected {_describe_token(tok.type, shown)}: expected {expected}",
        span=span,
        hint=hint,
    )


def _describe_token(kind: str, shown: str) -> str:
    """`}` for punctuation, else the token kind without its article and the text: name `foo`."""
    name = _TOKEN_NAMES.get(kind, kind)
    if name.startswith("`"):
        return name
    return f"{name.removeprefix('a ').removeprefix('an ')} `{shown}`"


def _char_hint(char: str) -> str | None:
    if char == "'":
        return 'strings use double quotes: "..."'
    if char in "{}":
        return None
    if char == ":":
        return "attributes are written `name = value`, not `name: value`"
    if char == "\x00" or (char and not char.isprintable()):
        return "the file contains binary data; is this an .eval file?"
    return None
