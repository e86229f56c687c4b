"""Each block's attributes — name, type, default, documentation — read from the `Attr` annotations of the typed
definitions (their one declaration). The lowering, the checks, the reference docs and the language server read
them from here."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .attrs import TYPES, Attr
from .model_config import GenerationParams, ModelConfig
from .spec import DESCRIPTION, EVAL_GENERATION_OVERRIDES, DatasetDef, EvalDef, Fewshot, JudgeDef, PromptDef


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of a block: `field` is the field of the typed definition it fills."""

    name: str
    type: str
    doc: str
    default: Any
    choices: tuple[str, ...] = ()
    field: str = ""
    required: bool = False

    @property
    def type_label(self) -> str:
        """What a value must be, in words: 'a whole number >= 1', 'one of "hf", "litellm", "mock"'..."""
        if self.type == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        return TYPES[self.type]

    @property
    def default_text(self) -> str:
        """The default as it would be written in a spec ('' when there is none)."""
        value = self.default
        if self.required or value is None or value in ((), {}, ""):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, tuple):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class BlockSchema:
    """The attributes a block accepts, in declaration order."""

    kind: str
    doc: str
    attrs: tuple[AttrSpec, ...]

    def __iter__(self) -> Iterator[AttrSpec]:
        return iter(self.attrs)

    def __contains__(self, name: object) -> bool:
        return any(a.name == name for a in self.attrs)

    def __getitem__(self, name: str) -> AttrSpec:
        for attr in self.attrs:
            if attr.name == name:
                return attr
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attrs]


def declared(model: type[BaseModel], only: tuple[str, ...] | None = None) -> tuple[AttrSpec, ...]:
    """The attributes a typed definition declares with `Attr` annotations (optionally only some of them)."""
    out = []
    for field_name, info in model.model_fields.items():
        attr = next((m for m in info.metadata if isinstance(m, Attr)), None)
        if attr is None or (only is not None and field_name not in only):
            continue
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        out.append(AttrSpec(name=attr.name or field_name, type=attr.type, doc=attr.doc,
                            default=None if default is PydanticUndefined else default,
                            choices=attr.choices, field=field_name, required=required))  # fmt: skip
    return tuple(out)


def _description() -> AttrSpec:
    return AttrSpec("description", DESCRIPTION.type, DESCRIPTION.doc, "", field="description")


def _blocks() -> dict[str, BlockSchema]:
    generation = declared(GenerationParams)
    model = tuple(a for a in declared(ModelConfig)) + generation
    return {
        "dataset": BlockSchema("dataset", DatasetDef.__doc__ or "", declared(DatasetDef)),
        "model": BlockSchema("model", ModelConfig.__doc__ or "", model + (_description(),)),
        "prompt": BlockSchema("prompt", PromptDef.__doc__ or "", declared(PromptDef)),
        "fewshot": BlockSchema("fewshot", Fewshot.__doc__ or "", declared(Fewshot)),
        "judge": BlockSchema("judge", JudgeDef.__doc__ or "", declared(JudgeDef)),
        "eval": BlockSchema("eval", EvalDef.__doc__ or "",
                            declared(EvalDef) + declared(GenerationParams, EVAL_GENERATION_OVERRIDES)),  # fmt: skip
    }


BLOCKS: Mapping[str, BlockSchema] = MappingProxyType(_blocks())
"""The attributes of every block kind (`metric` and `template` have call syntax, not attributes)."""


def markdown_table(kind: str) -> str:
    """The reference table of one block's attributes (docs/language.md embeds these, generated)."""
    lines = ["| attribute | type | default | meaning |", "| --- | --- | --- | --- |"]
    for a in BLOCKS[kind]:
        default = "required" if a.required else (f"`{a.default_text}`" if a.default_text else "")
        lines.append(f"| `{a.name}` | {a.type_label} | {default} | {a.doc} |")
    return "\n".join(lines)
