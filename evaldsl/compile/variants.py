"""Variants of an eval: `prompts = [a, b]` and `vary { temperature = [0, 0.7] }` expand one eval into the
product of its choices, each a plain eval with a readable name (`qa[prompt=b, temperature=0.7]`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..diagnostics import Diagnostic, did_you_mean
from . import ast
from .model_config import GenerationParams
from .spec import EvalDef, NameRef
from .values import BadValue

VARY_SETTINGS: tuple[str, ...] = tuple(k for k in GenerationParams.model_fields if k != "chat_template")
"""What a `vary { ... }` block may vary: the generation settings."""


def vary_block(
    block: ast.Block, converters: Mapping[str, Callable[[ast.Value], Any]]
) -> tuple[list[tuple[str, list[Any]]], list[Diagnostic]]:
    """The dimensions of a `vary { setting = [v1, v2] }` block, each value checked like the model attribute;
    E381 for a key that is not a generation setting, E303 for a value of the wrong type or not a list."""
    dims: list[tuple[str, list[Any]]] = []
    problems: list[Diagnostic] = []
    for entry in block.body:
        if not isinstance(entry, ast.Attribute):
            problems.append(Diagnostic(code="E204", message="a vary block holds `setting = [values]` entries",
                                       span=entry.span))  # fmt: skip
            continue
        if entry.name not in VARY_SETTINGS:
            problems.append(
                Diagnostic(
                    code="E381",
                    message=f"`{entry.name}` is not a generation setting, so it cannot vary",
                    span=entry.name_span,
                    hint=did_you_mean(entry.name, VARY_SETTINGS) or f"vary one of: {', '.join(VARY_SETTINGS)}; "
                    "prompts vary with `prompts = [a, b]`",
                )
            )
            continue
        if not isinstance(entry.value, ast.ListV) or not entry.value.items:
            problems.append(Diagnostic(code="E303", message=f"`{entry.name}` in vary must be a non-empty list of "
                                       "values, e.g. [0, 0.7]", span=entry.value.span))  # fmt: skip
            continue
        values = []
        for item in entry.value.items:
            try:
                values.append(converters[entry.name](item))
            except BadValue as bad:
                problems.append(Diagnostic(code="E303", message=f"each `{entry.name}` must be {bad.expected}, got "
                                           f"{bad.got or ast.describe(item)}", span=item.span))  # fmt: skip
        if entry.name in {n for n, _ in dims}:
            problems.append(Diagnostic(code="E205", message=f"`{entry.name}` is varied twice", span=entry.name_span))
            continue
        dims.append((entry.name, values))
    return dims, problems


def label(value: Any) -> str:
    """A value as shown in a variant's name: `0.7`, `64`, `b`, `["END"]`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))


def expand(ev: EvalDef, prompts: Sequence[NameRef], dims: Sequence[tuple[str, list[Any]]]) -> list[EvalDef]:
    """Every combination of the prompts and the varied settings as its own eval, named `base[k=v, ...]`."""
    axes: list[list[tuple[str, Any]]] = []
    if prompts:
        axes.append([("prompt", p) for p in prompts])
    axes.extend([(name, v) for v in values] for name, values in dims)
    if not axes:
        return [ev]
    out = []
    for combo in itertools.product(*axes):
        shown = ", ".join(f"{k}={v.name if isinstance(v, NameRef) else label(v)}" for k, v in combo)
        settings = {k: v for k, v in combo if k != "prompt"}
        update: dict[str, Any] = {
            "name": f"{ev.name}[{shown}]",
            "overrides": {**ev.overrides, **settings},
            "variant_of": ev.name,
            "variant": {k: (v.name if isinstance(v, NameRef) else v) for k, v in combo},
        }
        prompt = next((v for k, v in combo if k == "prompt"), None)
        if prompt is not None:
            update["prompt"] = prompt
        out.append(ev.model_copy(update=update))
    return out
