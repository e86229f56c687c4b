"""What the editor shows about the language: each block's attributes (read from the compiler's lowering), their
documentation, the names they refer to, and each built-in metric's range and direction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..compile import ast
from ..compile.lower import Lowerer
from ..compile.resolve import Definition, Program
from ..compile.values import BadValue
from ..diagnostics import Span

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
    "dataset": {
        "path": "A `.jsonl`/`.ndjson`, `.json`, `.csv`, `.tsv` or `.parquet` file, relative to this file's folder.",
        "format": "Overrides the file type the extension implies.",
        "rows": "Inline rows instead of a file: a list of maps.",
        "limit": "Keep at most this many rows (after `where`); 0 = all.",
        "shuffle": "Shuffle the rows with this seed (before the limit); absent = file order.",
        "where": "An expression: keep the rows for which it is true.",
        "description": "Free text, shown in hovers.",
    },
    "model": {
        "provider": '`"hf"` (a local transformers model), `"litellm"` (an API model) or `"mock"` (no model).',
        "id": "The litellm id (`openai/...`, `anthropic/...`, `ollama/...`) or, for hf, `smollm2-135m-instruct`, "
        "a local folder or a model in the local Hugging Face cache.",
        "max_tokens": "The most tokens generated per reply (default 256).",
        "temperature": "Sampling temperature (default 0).",
        "top_p": "Nucleus sampling mass (unset by default).",
        "stop": "Stop sequences: a string or a list of strings.",
        "seed": "Sampling seed (unset by default).",
        "batch_size": "hf: samples generated together (default 8).",
        "concurrency": "litellm: requests in flight (default 8; reduced on rate limits, then recovered).",
        "api_base": "litellm: the API's base URL.",
        "timeout": "litellm: seconds per request (default 120).",
        "max_retries": "litellm: retries with backoff (default 6).",
        "dtype": "hf: the weights' precision (default auto).",
        "device": 'hf: `"auto"`, `"cpu"`, `"cuda"` or `"mps"` (default auto).',
        "chat_template": "hf: use the tokenizer's chat template in generate mode (default true).",
        "response": "mock: the reply, a template rendered per sample (default: echo the prompt).",
        "extra": "litellm: a map passed through to `litellm.acompletion`.",
        "description": "Free text, shown in hovers.",
    },
    "prompt": {
        "system": "The system message, a template rendered per sample.",
        "user": "The user message, a template rendered per sample.",
        "description": "Free text, shown in hovers.",
    },
    "fewshot": {
        "from": "The dataset the examples are drawn from.",
        "k": "How many examples (default 3).",
        "seed": "The seed that draws them, once for every sample (default 0).",
    },
    "judge": {
        "model": "The judge model (any provider).",
        "rubric": "What to grade; sees the sample's fields and the rendered `question`, never the judged output.",
        "mode": '`"single"` grades one output; `"pairwise"` compares the eval\'s first two models.',
        "reference": "A reference answer shown to the judge (reference-guided grading).",
        "scale": "The integer score range (default [1, 5]).",
        "choices": "Labels and their scores instead of a scale: `{ A = 1.0, B = 0.0 }`.",
        "reasoning": "Explain first, verdict last (default true).",
        "votes": "Judge samples per item: median (scale) or majority (labels).",
        "swap": "pairwise: judge both orders; a disagreement is a tie (default true).",
        "human": "A human label per sample: the run reports judge-human agreement.",
        "description": "Free text, shown in hovers.",
    },
    "eval": {
        "mode": '`"generate"` (default), `"choice"` (log-likelihood multiple choice) or `"perplexity"`.',
        "dataset": "The dataset whose rows become samples.",
        "prompt": "A prompt's name, or a template string written here.",
        "models": "The models evaluated: a name or a list of names.",
        "target": "generate: the reference answer(s), a template or an expression (a string or a list).",
        "incorrect": "generate: known wrong answers (TruthfulQA `*_diff`, `*_acc`).",
        "choices": "choice: an expression giving the list of choices.",
        "labels": "choice: 1/0 per choice, or the index of the one true choice.",
        "delimiter": 'choice: put between the prompt and each choice (default `" "`).',
        "text": "perplexity: the text to score, a template.",
        "metrics": "Built-in metrics, `metric` definitions and judges.",
        "limit": "At most this many samples (0 = all).",
        "max_tokens": "Overrides the models' `max_tokens` for this eval.",
        "stop": "Overrides the models' stop sequences for this eval.",
        "chat_template": "Overrides the models' `chat_template` for this eval.",
        "description": "Free text, shown in hovers.",
    },
}

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
    """The attributes one block kind accepts (name → the type the compiler demands) and its other entries."""

    attributes: Mapping[str, str]
    nested: tuple[str, ...] = ()


_HERE = Span.point("", 1, 1)


class _Recorder(Lowerer):
    """A lowering that keeps the schema each block kind converts its attributes with."""

    def __init__(self) -> None:
        super().__init__(Program(root=Path(".")))
        self.seen: dict[str, BlockSchema] = {}

    def attributes(self, kind: str, body: tuple[ast.Entry, ...], schema: Mapping[str, Any], **kw: Any) -> Any:
        nested = [*(kw.get("allow_blocks") or ())]
        nested += [kw["allow_assign"]] if kw.get("allow_assign") else []
        nested += ["assert"] if kw.get("allow_assert") else []
        types = {name: _expected(convert) for name, convert in schema.items()}
        self.seen.setdefault(kind, BlockSchema(types, tuple(nested)))
        return super().attributes(kind, body, schema, **kw)


def _expected(convert: Callable[[ast.Value], Any]) -> str:
    """The compiler's own words for what a converter accepts ("a positive integer", `one of "hf", ...`)."""
    expected = _refusal(convert, ast.Call(span=_HERE, func="_", func_span=_HERE)) or "a value"
    # Values of the right kind but out of range say more: a choice of strings, a bound on integers.
    if expected == "a string":
        expected = _refusal(convert, ast.Str(span=_HERE, value="\0")) or expected
    elif expected == "an integer":
        expected = _refusal(convert, ast.Num(span=_HERE, value=-1)) or expected
    if "name" not in expected and _refusal(convert, ast.Ref(span=_HERE, parts=("_",))) is None:
        expected = "a name, " + expected
    return expected


def _refusal(convert: Callable[[ast.Value], Any], value: ast.Value) -> str | None:
    try:
        convert(value)
    except BadValue as bad:
        return bad.expected
    return None


@lru_cache(maxsize=1)
def _schemas() -> dict[str, BlockSchema]:
    recorder = _Recorder()
    fewshot = ast.Block(span=_HERE, keyword="fewshot", keyword_span=_HERE)
    for kind in BLOCK_KINDS:
        body: tuple[ast.Entry, ...] = (fewshot,) if kind == "prompt" else ()
        node = ast.Block(span=_HERE, keyword=kind, keyword_span=_HERE, name="_", name_span=_HERE, body=body)
        getattr(recorder, kind)(Definition(kind, "_", node, Path(".")))
    return recorder.seen


def block_schema(kind: str) -> BlockSchema | None:
    """The attributes of a block kind (`dataset`, `model`, `prompt`, `fewshot`, `judge`, `eval`), or None."""
    return _schemas().get(kind)


def choices_of(expected: str) -> list[str]:
    """The strings a `one of "a", "b" or "c"` type accepts (empty for other types)."""
    if not expected.startswith("one of "):
        return []
    return [part.strip().strip('"') for part in expected[7:].replace(" or ", ", ").split(",")]


# ---- metrics ----

_RANGE_WORDS = {
    "0/1": "0 or 1 per sample (the mean is the rate)",
    "0-1": "0 to 1",
    "0-100": "0 to 100",
    "±100": "-100 to 100",
}


def metric_range(name: str) -> str:
    """The values a built-in metric takes."""
    if name.endswith("_acc") or name in ("exact_match", "contains", "regex", "accuracy", "accuracy_norm", "mc1"):
        return _RANGE_WORDS["0/1"]
    if name.endswith("_diff"):
        return _RANGE_WORDS["±100"]
    if name.endswith("_max") or name in ("bleu", "chrf"):
        return _RANGE_WORDS["0-100"]
    if name in ("perplexity", "word_perplexity", "byte_perplexity"):
        return "1 or more"
    if name in ("cross_entropy", "bits_per_byte"):
        return "0 or more"
    if name == "python":
        return "what the function returns"
    return _RANGE_WORDS["0-1"]


def lower_is_better(name: str) -> bool:
    """True for metrics where a smaller value is better (perplexities); every other one is higher-is-better."""
    from ..report.diff import LOWER_IS_BETTER

    return name in LOWER_IS_BETTER
