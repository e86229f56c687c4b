"""Values from outside the file: `env("NAME")` / `env("NAME", "default")` in an attribute, and
`--set NAME.attribute=VALUE` on the command line. Both become literals of the language before typing, so they
are type-checked exactly like a value written in the file, and the graph hash includes them.

A variable whose name looks like a credential is refused outside `headers` (where only its name is kept): its
value would otherwise be stored with the run and printed by `graph`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic, Span, did_you_mean
from . import ast
from .resolve import Program
from .schema import BLOCKS

SECRET_WORDS = frozenset(
    {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "CREDENTIALS", "AUTH", "COOKIE",
     "PAT", "PRIVATE"}
)  # fmt: skip
"""Words (between underscores) of environment variable names that hold credentials: OPENAI_API_KEY,
GITHUB_TOKEN, DB_PASSWORD. Their values are never stored or printed."""


def looks_secret(name: str) -> bool:
    return any(word in SECRET_WORDS for word in re.split(r"[_\-.]+", name.upper()))

NOT_FROM_ENV = frozenset({"value", "reference", "references", "prompt", "rows", "scale", "choices", "env_map"})
"""Attribute types an `env()` cannot give: names of definitions, per-sample values, structured tables."""

_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class OverrideError(Exception):
    """A `--set` that names no definition or attribute, or is not NAME.attribute=VALUE (one line)."""


def literal(text: str, span: Span) -> ast.Value:
    """A value from outside the file as the literal it would be if written: a number, true/false, else text."""
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        number = float(stripped)
        is_int = re.fullmatch(r"-?\d+", stripped) is not None
        return ast.Num(value=int(stripped) if is_int else number, span=span)
    if stripped in ("true", "false"):
        return ast.Bool(value=stripped == "true", span=span)
    return ast.Str(value=text, span=span)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def set_value(text: str, attr_type: str, span: Span) -> ast.Value:
    """A --set value for an attribute of `attr_type`: names for references (`--set qa.models=a,b`), else the
    literal it would be if written."""
    names = [part.strip() for part in text.split(",")]
    if attr_type in ("reference", "prompt") and _NAME.fullmatch(text.strip()):
        return ast.Ref(parts=tuple(text.strip().split(".")), span=span)
    if attr_type == "references" and all(_NAME.fullmatch(n) for n in names):
        return ast.ListV(items=tuple(ast.Ref(parts=tuple(n.split(".")), span=span) for n in names), span=span)
    return literal(text, span)


def is_env_call(value: ast.Value) -> bool:
    return isinstance(value, ast.Call) and value.func == "env"


def env_value(
    kind: str, attr: str, value: ast.Call, environ: Mapping[str, str]
) -> tuple[ast.Value | None, Diagnostic | None]:
    """The literal an `env(...)` call in attribute `attr` of a `kind` block stands for, or a diagnostic:
    E377 (env() where a definition's name, a per-sample value or a table is needed; or malformed), E378 (a
    credential-looking variable), E379 (unset without a default)."""
    args = value.args
    names = [a for a in args if isinstance(a, ast.Str)]
    if not args or len(args) > 2 or len(names) != len(args) or value.kwargs:
        return None, Diagnostic(code="E377", message='write env("NAME") or env("NAME", "default")', span=value.span)
    declared = BLOCKS[kind][attr] if kind in BLOCKS and attr in BLOCKS[kind] else None
    if declared is not None and declared.type in NOT_FROM_ENV:
        return None, Diagnostic(
            code="E377",
            message=f"`{attr}` cannot come from the environment ({declared.type_label})",
            span=value.span,
            hint="env() gives constants: strings, numbers, true/false; use --set or write the value",
        )
    name = names[0].value
    if looks_secret(name):
        return None, Diagnostic(
            code="E378",
            message=f"{name} looks like a credential: its value would be stored with the run and shown by `graph`",
            span=value.span,
            hint='credentials go in an http model\'s `headers = { Authorization = env("...") }` or in the '
            "provider's own variables (OPENAI_API_KEY)",
        )
    found = environ.get(name)
    if found is None:
        if len(names) == 2:
            return literal(names[1].value, value.span), None
        return None, Diagnostic(
            code="E379",
            message=f"environment variable {name} is not set and `{attr}` has no default",
            span=value.span,
            hint=f'export {name}=... or give a default: env("{name}", "...")',
        )
    return literal(found, value.span), None


@dataclass(frozen=True)
class Override:
    """One `--set NAME.attribute=VALUE`."""

    text: str
    name: str
    attribute: str
    value: str


def parse_override(text: str) -> Override:
    target, eq, value = text.partition("=")
    name, dot, attribute = target.strip().rpartition(".")
    if not eq or not dot or not name or not attribute:
        raise OverrideError(f"--set {text}: write NAME.attribute=VALUE, e.g. --set trivia.limit=50")
    return Override(text, name, attribute, value)


def apply_overrides(program: Program, overrides: Sequence[Override]) -> dict[Span, str]:
    """Put each `--set` value in place of the attribute (added when the block does not set it); returns the span
    each value was given, so a diagnostic about it can say it came from --set. OverrideError when a name or an
    attribute does not exist."""
    given: dict[Span, str] = {}
    for o in overrides:
        found = [(kind, table[o.name]) for kind, table in program.definitions.items()
                 if kind in BLOCKS and o.name in table]  # fmt: skip
        if not found:
            every = [n for kind, table in program.definitions.items() if kind in BLOCKS for n in table]
            hint = did_you_mean(o.name, every)
            raise OverrideError(f"--set {o.text}: no definition named `{o.name}`" + (f"; {hint}" if hint else ""))
        if len(found) > 1:
            kinds = " and ".join(kind for kind, _ in found)
            raise OverrideError(f"--set {o.text}: `{o.name}` names a {kinds}; rename one to set it")
        kind, definition = found[0]
        if o.attribute not in BLOCKS[kind]:
            hint = did_you_mean(o.attribute, BLOCKS[kind].names)
            raise OverrideError(
                f"--set {o.text}: {kind} has no attribute `{o.attribute}`" + (f"; {hint}" if hint else "")
            )
        node = definition.node
        if not isinstance(node, ast.Block):
            raise OverrideError(f"--set {o.text}: {kind} `{o.name}` is written in short form; write it as a block")
        body = list(node.body)
        at = next((i for i, e in enumerate(body) if isinstance(e, ast.Attribute) and e.name == o.attribute), None)
        if at is not None:
            old = body[at]
            assert isinstance(old, ast.Attribute)
            value = set_value(o.value, BLOCKS[kind][o.attribute].type, old.value.span)
            body[at] = old.model_copy(update={"value": value})
        else:
            span = node.name_span or node.span
            value = set_value(o.value, BLOCKS[kind][o.attribute].type, span)
            body.append(ast.Attribute(name=o.attribute, name_span=span, value=value, span=span))
        program.definitions[kind][o.name] = replace(definition, node=node.model_copy(update={"body": tuple(body)}))
        given[value.span] = o.text
    return given
