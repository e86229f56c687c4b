"""What the editor shows about the language: each block's attributes, types and documentation (read from their one
declaration, `evaldsl.compile.schema`), the names they refer to, and each built-in metric's range and direction
(from the metric catalogue)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..compile.schema import BLOCKS
from ..metrics import BUILTIN_METRICS, EXTRACTORS

BLOCK_KINDS = ("dataset", "model", "prompt", "judge", "eval")
STATEMENTS = ("import", "dataset", "model", "prompt", "metric", "judge", "template", "eval")

# Attributes whose value names another definition, and the kinds it may name.
REFERENCES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("eval", "dataset"): ("dataset",),
    ("eval", "prompt"): ("prompt",),
    ("eval", "models"): ("model",),
    ("eval", "metrics"): ("metric", "judge"),
    ("judge", "model"): ("model",),
    ("fewshot", "from"): ("dataset",),
}

ATTRIBUTE_DOCS: Mapping[str, Mapping[str, str]] = {
    kind: {a.name: a.doc for a in block} for kind, block in BLOCKS.items()
}
"""Each attribute's documentation, from its one declaration (`evaldsl.compile.schema`)."""

# Entries other than attributes that a block holds, with what to insert (an LSP snippet) and their documentation.
NESTED: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "dataset": {"field": ("field ${1:name} = `$0`", "A derived field, evaluated per row in order.")},
    "prompt": {
        "fewshot": ("fewshot {\n\tfrom = ${1:dataset}\n\tk    = ${2:3}\n}", "Examples drawn once from a dataset.")
    },
    "eval": {"assert": ("assert mean(${1:metric}) >= ${0:0.5}", "A CI gate: `evaldsl run` exits 1 when it fails.")},
}

STATEMENT_SNIPPETS: Mapping[str, tuple[str, str]] = {
    "import": ('import "${1:std/general}"', "Load another file's definitions, or a standard library module."),
    "dataset": ('dataset ${1:name} {\n\tpath = "${2:data.jsonl}"\n}', "Rows to evaluate on: a file or inline rows."),
    "model": ('model ${1:name} {\n\tprovider = "${2:litellm}"\n\tid       = "$3"\n}', "A model to evaluate."),
    "prompt": ('prompt ${1:name} {\n\tuser = "{{ $2 }}"\n}', "Messages rendered per sample."),
    "metric": ("metric ${1:name} = ${2:rouge}($3)", "A configured built-in metric."),
    "judge": ('judge ${1:name} {\n\tmodel  = $2\n\trubric = "$3"\n}', "An LLM-as-a-judge rubric."),
    "template": ("template ${1:name}(${2:models}) {\n\t$0\n}", "A parameterised group of definitions."),
    "eval": (
        "eval ${1:name} {\n\tdataset = $2\n\tprompt  = $3\n\tmodels  = [$4]\n\tmetrics = [$5]\n}",
        "Ties a dataset, a prompt, models and metrics together.",
    ),
}


@dataclass(frozen=True)
class BlockSchema:
    """The attributes one block kind accepts (name → the type it demands, in words) and its other entries."""

    attributes: Mapping[str, str]
    nested: tuple[str, ...] = ()


def block_schema(kind: str) -> BlockSchema | None:
    """The attributes of a block kind (`dataset`, `model`, `prompt`, `fewshot`, `judge`, `eval`), or None."""
    block = BLOCKS.get(kind)
    if block is None:
        return None
    return BlockSchema({a.name: a.type_label for a in block}, tuple(NESTED.get(kind, ())))


def choices_of(expected: str) -> list[str]:
    """The strings a `one of "a", "b" or "c"` type accepts (empty for other types)."""
    if not expected.startswith("one of "):
        return []
    return [part.strip().strip('"') for part in expected[7:].replace(" or ", ", ").split(",")]


# ---- metrics ----


def metric_range(name: str) -> str:
    """The values a built-in metric takes, from the metric catalogue."""
    spec = BUILTIN_METRICS.get(name)
    if name in EXTRACTORS:
        return "those of the metric scoring the part"
    if spec is None or spec.range is None:
        return "what the function returns" if name == "python" else "not bounded in advance"
    low, high = spec.range
    if high is None:
        return f"{low:g} or more"
    return f"{low:g} to {high:g}"


def lower_is_better(name: str) -> bool:
    """True for metrics the catalogue declares lower-is-better (perplexities, cross-entropy)."""
    spec = BUILTIN_METRICS.get(name)
    return spec is not None and not spec.higher_is_better
