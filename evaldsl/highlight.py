"""A Pygments lexer for .eval specs (registered as the `evaldsl` lexer entry point): block keywords, definition
names, attributes, strings with their Jinja `{{ }}` / `{% %}` parts, backtick expressions, numbers, comments.

Built from the same token rules as grammar/evaldsl.lark, so everything the parser accepts lexes without an
Error token; text the parser rejects may still highlight (a highlighter does not judge).
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, default, include
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

BLOCK_KEYWORDS = ("dataset", "model", "prompt", "metric", "judge", "eval", "template", "field", "fewshot")
"""The words that start a block or a definition (the parser treats them as names; the compiler gives them
meaning)."""

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BLOCKS = "|".join(BLOCK_KEYWORDS)

Rules = list[tuple[str, object] | tuple[str, object, str] | object]


class EvalDslLexer(RegexLexer):
    """Highlights evaldsl `.eval` specs."""

    name = "evaldsl"
    aliases: ClassVar[list[str]] = ["evaldsl", "eval-dsl"]
    filenames: ClassVar[list[str]] = ["*.eval"]
    mimetypes: ClassVar[list[str]] = ["text/x-evaldsl"]

    tokens: ClassVar[dict[str, Rules]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"(import|assert)\b", Keyword.Namespace),
            (r"(true|false)\b", Keyword.Constant),
            # `eval qa {`, `metric em = ...`, `template t(`: the keyword, then the defined name.
            (rf"({_BLOCKS})(\s+)({_NAME})(?=\s*(?:[{{=(]|#|$))", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"({_BLOCKS})(?=\s*\{{)", Keyword.Declaration),
            (rf"({_NAME})(\s*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (rf"({_NAME})(?=\s*\()", Name.Function),
            (_NAME, Name),
            (r'"""', String.Double, "long_string"),
            (r'"', String.Double, "string"),
            (r"`", String.Backtick, "expression"),
            (r"[+-]?\.?[0-9](?:[eE][+-]|[A-Za-z0-9_.])*", Number),
            (r">=|<=|==|!=|>|<|=", Operator),
            (r"[{}\[\](),.]", Punctuation),
        ],
        "jinja": [
            (r"\{\{", String.Interpol, "jinja_expression"),
            (r"\{%-?", String.Interpol, "jinja_statement"),
        ],
        "long_string": [
            (r'"""', String.Double, "#pop"),
            include("jinja"),
            (r'[^"{]+|"|\{', String.Double),
        ],
        "string": [
            (r'"', String.Double, "#pop"),
            (r"\\.", String.Escape),
            include("jinja"),
            (r'[^"\\{\n]+|\{', String.Double),
        ],
        # A Jinja part ends at its closing braces, or (unclosed) where the string does.
        "jinja_expression": [
            (r"\}\}", String.Interpol, "#pop"),
            (r"\\.", String.Escape),
            (r'[^}"\n\\]+|\}', String.Interpol),
            default("#pop"),
        ],
        "jinja_statement": [
            (r"-?%\}", String.Interpol, "#pop"),
            (r"\\.", String.Escape),
            (r'[^%"\n\\-]+|[%-]', String.Interpol),
            default("#pop"),
        ],
        "expression": [(r"`", String.Backtick, "#pop"), (r"[^`]+", String.Backtick)],
    }

