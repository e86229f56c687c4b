"""Source text → Lark parse tree; every Lark error becomes a `Diagnostic` that says what was expected."""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .diagnostics import Diagnostic, Span
from .resources import grammar_path

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


class ParseFailure(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process."""
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_tree(text: str, file: str) -> Tree:
    """Parse source text; raise `ParseFailure` with one diagnostic on a syntax error."""
    try:
        return parser().parse(text)
    except UnexpectedInput as exc:
        raise ParseFailure(_diagnose(exc, text, file)) from None


def _expected(names: set[str] | frozenset[str]) -> str:
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
        for tok in parser().lex(text):
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


def _diagnose(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else 1
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        here = Span.point(file, line, column)
        if char == '"':
            if text.startswith('"""', exc.pos_in_stream):
                return Diagnostic(
                    code="E101",
                    message='unterminated multi-line string: no closing `"""`',
                    span=here,
                    hint='close the string with `"""`',
                )
            return Diagnostic(
                code="E101",
                message="unterminated string: no closing `\"` on this line",
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
    hint = None
    if tok.type == "RBRACE" and _unclosed(text[: exc.pos_in_stream], file) is None:
        hint = "there is no open block for this `}` to close: remove it, or look for a missing `{` above"
    elif tok.type == "NAME" and "EQUAL" in exc.expected:
        hint = "an attribute is written `name = value`"
    return Diagnostic(
        code="E100",
        message=f"unexpected {_describe_token(tok.type, shown)}: expected {_expected(exc.expected)}",
        span=span,
        hint=hint,
    )


def _describe_token(kind: str, shown: str) -> str:
    name = _TOKEN_NAMES.get(kind, kind)
    return name if name.startswith("`") else f"{name} `{shown}`"


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
