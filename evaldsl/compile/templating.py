"""Jinja2 in a bounded sandbox (`compile.sandbox`): compile and render `{{ }}` templates and evaluate backtick
expressions safely; analyse them (variables read, syntax, unsafe attributes) without running them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from ..limits import RENDER_SECONDS, time_limit
from .sandbox import MAX_OUTPUT, BoundedSandbox, call_bounded, render_bounded

__all__ = [
    "TemplateError",
    "is_template",
    "render",
    "evaluate",
    "template_syntax_error",
    "expression_syntax_error",
    "template_variables",
    "expression_variables",
    "unsafe_attribute",
    "parse_ast",
]

_TEMPLATE_MARK = re.compile(r"\{\{|\{%")


class TemplateError(Exception):
    """A template or expression failed to render (undefined variable, unsafe access, bad value)."""


def _ensure_suffix(values: Any, suffix: str) -> Any:
    """`answers | ensure_suffix(".")`: append `suffix` to each string that does not already end with it."""
    if isinstance(values, str):
        return values if values.endswith(suffix) else values + suffix
    return [v if str(v).endswith(suffix) else f"{v}{suffix}" for v in values]


def _split_list(value: Any, sep: str = ";") -> list[str]:
    """`row.answers | split_list("; ")`: split a delimited string into trimmed, non-empty parts."""
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def _regex_replace(value: Any, pattern: str, replacement: str = "") -> str:
    """`text | regex_replace("\\[.*?\\]", "")`: every match of a Python regex replaced (as `re.sub`)."""
    try:
        return re.sub(pattern, replacement, str(value))
    except re.error as exc:
        raise TemplateError(f"regex_replace: bad regex {pattern!r} ({exc})") from None


@lru_cache(maxsize=1)
def _env() -> BoundedSandbox:
    env = BoundedSandbox(keep_trailing_newline=True, autoescape=False)
    env.filters["ensure_suffix"] = _ensure_suffix
    env.filters["split_list"] = _split_list
    env.filters["regex_replace"] = _regex_replace
    return env


def is_template(text: str) -> bool:
    """True when a string holds Jinja syntax and is rendered per sample."""
    return bool(_TEMPLATE_MARK.search(text))


@lru_cache(maxsize=4096)
def _template(source: str):  # type: ignore[no-untyped-def]
    return _env().from_string(source)


@lru_cache(maxsize=4096)
def _expression(source: str):  # type: ignore[no-untyped-def]
    return _env().compile_expression(source, undefined_to_none=False)


_PLAIN_VARIABLE = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "for", "recursive", "with", "without",
                       "self", "loop", "caller", "varargs", "kwargs", "super"})  # Jinja gives these meanings


@lru_cache(maxsize=4096)
def _substitution(source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(text pieces, variable names) when the template is only text and `{{ name }}`s, which render as the
    text with each `str(value)` in place, exactly as Jinja renders them; None for anything else (a `{` left in
    the text, a carriage return Jinja would normalise, a constant or keyword in place of a name)."""
    if "\r" in source:
        return None
    parts = _PLAIN_VARIABLE.split(source)
    texts, names = tuple(parts[0::2]), tuple(parts[1::2])
    if any("{" in text for text in texts) or any(n in _CONSTANTS or n in _KEYWORDS for n in names):
        return None
    return texts, names


def _substitute(texts: tuple[str, ...], names: tuple[str, ...], variables: Mapping[str, Any]) -> str:
    out = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        out += (str(variables[name]), text)
    if sum(map(len, out)) > MAX_OUTPUT:  # the values exist already: joining them is what the cap bounds
        raise SecurityError(f"the template produced more than {MAX_OUTPUT:,} characters")
    return "".join(out)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render a template string with the given variables. Templates that only put variables into text (most
    prompts and targets) skip Jinja's per-render set-up; the result, the output cap and the time limit are the
    same."""
    try:
        plain = _substitution(source)
        if plain is not None and all(name in variables for name in plain[1]):
            return _substitute(*plain, variables)  # linear in the output, which is capped: no time limit needed
        with time_limit(RENDER_SECONDS, "rendering the template"):
            return render_bounded(_template(source), dict(variables))
    except SecurityError as exc:
        raise TemplateError(f"unsafe template: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateError(f"undefined variable: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from exc
    except Exception as exc:  # a user's template raising anything is a user error
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate a backtick expression to a native value."""
    try:
        with time_limit(RENDER_SECONDS, "evaluating the expression"):
            value = call_bounded(_expression(source), dict(variables))
    except SecurityError as exc:
        raise TemplateError(f"unsafe expression: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateError(f"undefined variable: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"expression syntax error: {exc.message}") from exc
    except Exception as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from exc
    if isinstance(value, StrictUndefined):
        raise TemplateError("expression evaluated to an undefined value")
    return value


MAX_TEMPLATE_DEPTH = 64  # nodes of a template's syntax tree inside one another


class SyntaxProblem(NamedTuple):
    """Why a template or expression does not compile: the message, the 1-based line within the template, and
    whether it is nested too deeply (deeper than MAX_TEMPLATE_DEPTH, or deep enough to exhaust the parser)."""

    message: str
    line: int = 1
    too_deep: bool = False
    hint: str | None = None


_TOO_DEEP = f"nested more than {MAX_TEMPLATE_DEPTH} deep"


def _depth_problem(tree: nodes.Node) -> SyntaxProblem | None:
    """A problem when the syntax tree is deeper than MAX_TEMPLATE_DEPTH (measured without recursion: the
    analyses after this walk the tree recursively)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TEMPLATE_DEPTH:
            return SyntaxProblem(_TOO_DEEP, getattr(node, "lineno", 1) or 1, True)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


_LOADING = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def _static_problem(tree: nodes.Template) -> SyntaxProblem | None:
    """What Jinja reports only when it compiles or renders a parsed template: a filter or test the sandbox does
    not define (`x | nswer`, `x is evn`), a tag that loads another template (templates here have no loader),
    and the compiler's own checks (a block defined twice...). Generating code runs none of it."""
    env = _env()
    for node in tree.find_all((nodes.Filter, nodes.Test, *_LOADING)):
        line = getattr(node, "lineno", 1) or 1
        if isinstance(node, _LOADING):
            tag = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import"}.get(type(node), "from")
            return SyntaxProblem(f"`{{% {tag} %}}` cannot load another template: a template here stands alone", line,
                                 hint="share text with a `prompt`, or with a `template` of the language")  # fmt: skip
        kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
        name = node.name  # type: ignore[attr-defined]
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"docs/language.md lists the {kind}s a template can use"
        return SyntaxProblem(f"no {kind} named `{name}`", line, hint=hint)
    try:  # the code generation the analyses run (`meta`): the compiler's checks, and it folds constants
        meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # TemplateAssertionError included
        return SyntaxProblem(exc.message or "syntax error", exc.lineno or 1)
    except RecursionError:
        return SyntaxProblem(_TOO_DEEP, 1, True)
    except UndefinedError as exc:  # the compiler folds constants: `1[0] and x` fails on every sample
        return SyntaxProblem(f"a constant part is undefined ({exc})", hint="check the indexes and attributes of "
                             "literal values: they are the same for every sample")  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - whatever else folding a constant raises, reported, never a traceback
        return SyntaxProblem(f"a constant part fails: {type(exc).__name__}: {exc}")
    return None


def template_syntax_error(source: str) -> SyntaxProblem | None:
    """Why a template does not compile (message and 1-based line within the template), else None."""
    try:
        tree = _env().parse(source)
    except TemplateSyntaxError as exc:
        return SyntaxProblem(exc.message or "syntax error", exc.lineno or 1)
    except RecursionError:  # brackets or unary operators nested past what the parser's recursion allows
        return SyntaxProblem(_TOO_DEEP, 1, True)
    return _depth_problem(tree) or _static_problem(tree)


def expression_syntax_error(source: str) -> SyntaxProblem | None:
    """Why a backtick expression does not compile, else None."""
    try:
        tree = parse_ast(source, True)
        problem = _depth_problem(tree) or _static_problem(tree)
        if problem is None:
            _expression(source)
    except TemplateSyntaxError as exc:
        return SyntaxProblem(exc.message or "syntax error")
    except RecursionError:
        return SyntaxProblem(_TOO_DEEP, 1, True)
    return problem


def parse_ast(source: str, expression: bool) -> nodes.Template:
    """The Jinja AST of a template, or of an expression wrapped as `{{ (expression) }}`."""
    return _env().parse("{{ (" + source + ") }}" if expression else source)


def template_variables(source: str) -> set[str]:
    """Top-level variable names a (syntactically valid) template reads."""
    return set(meta.find_undeclared_variables(parse_ast(source, False)))


def expression_variables(source: str) -> set[str]:
    """Top-level variable names a (syntactically valid) expression reads."""
    return set(meta.find_undeclared_variables(parse_ast(source, True)))


def subscripted_fields(source: str, expression: bool, base: str = "row") -> set[str]:
    """Constant field names read as `row.x` or `row["x"]` in a template or expression."""
    found: set[str] = set()
    for node in parse_ast(source, expression).find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if isinstance(target, nodes.Name) and target.name == base:
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(
                node.arg.value, str
            ):
                found.add(node.arg.value)
    return found


def unsafe_attribute(source: str, expression: bool) -> str | None:
    """The first attribute a template reads that the sandbox forbids (dunder or private), else None."""
    for node in parse_ast(source, expression).find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value if isinstance(node.arg.value, str) else None
        if name and name.startswith("_"):
            return name
    return None
