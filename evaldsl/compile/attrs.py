"""How a typed definition declares a block attribute: its language type and documentation, attached to the
field with `Annotated[...]` so that the field is the one declaration (read by `compile.schema`)."""

from __future__ import annotations

from dataclasses import dataclass

TYPES: dict[str, str] = {
    "string": "a string",
    "integer": "an integer",
    "count": "a whole number >= 0",
    "positive": "a whole number >= 1",
    "number": "a number",
    "rate": "a number from 0 to 1",
    "bool": "true or false",
    "strings": "a string or a list of strings",
    "map": "a map { key = value }",
    "env_map": 'a map { Name = env("VARIABLE") }',
    "expression": "a Jinja expression (text)",
    "tools": "a list of tool maps, or a .json file",
    "rows": "a list of maps (inline rows)",
    "value": "a per-sample value (text, template or expression)",
    "reference": "the name of a definition",
    "references": "a name or a list of names",
    "prompt": "a prompt name or an inline prompt string",
    "scale": "two integers [lo, hi]",
    "choices": "a map { LABEL = score }",
    "choice": "one of the listed values",
}


@dataclass(frozen=True)
class Attr:
    """Field metadata: the attribute is written in a block as `name = value` with a value of `type` (a key of
    TYPES); `choices` lists the allowed strings of a "choice" attribute; `name` renames it in the language."""

    type: str
    doc: str
    choices: tuple[str, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown attribute type {self.type!r}")
