"""The checked, typed meaning of a spec: datasets, models, prompts, metrics, judges and evals with spans. A
field annotated with `Attr` is the one declaration of the block attribute it holds (see `compile.schema`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..diagnostics import Span
from ..judges.config import JudgeConfig
from .attrs import Attr
from .model_config import Mode, ModelConfig


class Typed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class NameRef(Typed):
    """A reference to a named definition, kept with where it was written."""

    name: str
    span: Span


class SampleValue(Typed):
    """A value computed per sample: a Jinja template string, a backtick expression, or a constant.

    `params` are the template arguments (constants) visible to the template or expression; `param_spans` where
    each was written (for diagnostics only: not part of the value's meaning, so never dumped or hashed).
    """

    kind: Literal["template", "expr", "const"]
    source: str = ""
    value: Any = None
    span: Span
    params: dict[str, Any] = Field(default_factory=dict)
    param_spans: dict[str, Span] = Field(default_factory=dict, exclude=True)


DESCRIPTION = Attr("string", "What this is, for readers of the spec (and hover in an editor).")
DATA_FORMATS: tuple[str, ...] = ("jsonl", "json", "csv", "tsv", "parquet")


class DatasetDef(Typed):
    """`dataset NAME { ... }`: where the rows come from and which of them to use."""

    name: str
    span: Span
    path: Annotated[Path | None, Attr("string", "A `.jsonl`/`.ndjson`, `.json` (a list of objects, or "
                                      '`{"data": [...]}`), `.csv`, `.tsv` or `.parquet` file, relative to the file '
                                      "that declares the dataset; inside the project unless `--allow-path` "
                                      "grants its folder.")] = None  # fmt: skip
    path_span: Span | None = None
    format: Annotated[str | None, Attr("choice", "The file's format when its extension does not say.",
                                       DATA_FORMATS)] = None  # fmt: skip
    rows: Annotated[tuple[dict[str, Any], ...] | None, Attr("rows", "Inline rows instead of a file.")] = None
    hf: Annotated[str | None, Attr("string", "A Hugging Face dataset instead of a file: a Hub id (`cais/mmlu`) or "
                                   "a local folder (data files laid out as a dataset repository, or a dataset saved "
                                   "with `save_to_disk`), read with the `datasets` library. Honours "
                                   "`HF_HUB_OFFLINE` and the local cache.")] = None  # fmt: skip
    config: Annotated[str | None, Attr("string", "The Hugging Face dataset's configuration (subset), e.g. "
                                       '`"all"`.')] = None  # fmt: skip
    split: Annotated[str, Attr("string", "The Hugging Face dataset's split.")] = "test"
    revision: Annotated[str | None, Attr("string", "The Hub commit, tag or branch to read; pin a commit so the "
                                         "data cannot change under the results (it is part of every hash).")] = None
    hf_local: Annotated[Path | None, Field(exclude=True)] = None  # `hf` as a local folder (its files are hashed)
    limit: Annotated[int | None, Attr("count", "Keep at most this many rows (after `where`); 0 = all.")] = None
    shuffle: Annotated[int | None, Attr("integer", "Shuffle with this seed before the limit; absent = file "
                                                   "order.")] = None  # fmt: skip
    where: Annotated[SampleValue | None, Attr("value", "Keep the rows for which this is true.")] = None
    fields: tuple[tuple[str, SampleValue], ...] = ()
    description: Annotated[str, DESCRIPTION, Field(exclude=True)] = ""  # documentation: never hashed


def local_hf_folder(base_dir: Path, value: str) -> Path | None:
    """`hf = "..."` names a local folder when it is written as a path (`./`, `../`, `/`) or a folder of that
    name exists next to the declaring file; else it is a Hub id."""
    if value.startswith(("./", "../", "/", "~")):
        return (base_dir / Path(value).expanduser()).resolve()
    try:
        here = (base_dir / value).resolve()
    except (ValueError, OSError, RuntimeError):
        return None
    return here if here.is_dir() else None


class ModelDef(Typed):
    """`model NAME { ... }`: its attributes are declared by `ModelConfig` and `GenerationParams`."""

    name: str
    span: Span
    config: ModelConfig
    description: Annotated[str, DESCRIPTION, Field(exclude=True)] = ""  # documentation: never hashed
    value_spans: Annotated[dict[str, Span], Field(exclude=True)] = {}  # attribute → where its value is written


class Fewshot(Typed):
    """`fewshot { from = DATASET, k = 3, seed = 0 }` inside a prompt."""

    dataset: Annotated[NameRef, Attr("reference", "The dataset the shots are drawn from.", name="from")]
    k: Annotated[int, Attr("count", "How many shots, drawn once with `seed` and shown before every sample.")] = 3
    seed: Annotated[int, Attr("integer", "The seed of the draw.")] = 0
    first: Annotated[bool, Attr("bool", "Take the first `k` rows in order instead of a seeded draw.")] = False
    delimiter: Annotated[str | None, Attr("string", "Show the shots as plain text in the user message, each its "
                                          "prompt + this + its target (lm-evaluation-harness's "
                                          "`target_delimiter`, e.g. \" \"); absent = chat turns.")] = None
    separator: Annotated[str, Attr("string", "Between plain-text shots and before the sample "
                                             "(`fewshot_delimiter`).")] = "\n\n"  # fmt: skip
    span: Span


class PromptDef(Typed):
    """`prompt NAME { ... }` (or `prompt NAME = "..."`, a single user message)."""

    name: str
    span: Span
    system: Annotated[SampleValue | None, Attr("value", "An optional system message.")] = None
    user: Annotated[SampleValue | None, Attr("value", "The user message (required unless `messages` is "
                                                      "given; with it, the last message).")] = None
    messages: Annotated[SampleValue | None, Attr("value", "A conversation: an expression giving a list of "
                                                          "{ role, content } maps, e.g. `row.messages` (after the "
                                                          "system message and the shots).")] = None
    fewshot: Fewshot | None = None
    description: Annotated[str, DESCRIPTION, Field(exclude=True)] = ""  # documentation: never hashed


class MetricDef(Typed):
    """`metric NAME = family(param = value, ...)`."""

    name: str
    span: Span
    family: str
    family_span: Span
    call_span: Span | None = None  # the whole `family(...)` call
    args: tuple[Any, ...] = ()  # positional arguments, bound to the family's parameters in order
    params: dict[str, Any] = Field(default_factory=dict)
    base_dir: Path  # the folder of the declaring file: python metric modules are looked up there
    ref_spans: dict[str, Span] = Field(default_factory=dict)  # parameters written as a name (`metric = em`)


class JudgeDef(Typed):
    """`judge NAME { ... }`: an LLM-as-a-judge rubric (one response, or two responses compared)."""

    name: str
    span: Span
    model: Annotated[NameRef, Attr("reference", "The judge model (any provider).")]
    rubric: Annotated[SampleValue, Attr("value", "What to grade. Sees the sample's fields and the rendered "
                                                 "`question`, never the judged output (that stays inside its "
                                                 "delimited block).")]  # fmt: skip
    mode: Annotated[Literal["single", "pairwise"], Attr("choice", "`pairwise` compares the eval's first two "
                                                        "models per sample.", ("single", "pairwise"))] = "single"
    reference: Annotated[SampleValue | None, Attr("value", "A reference answer shown to the judge "
                                                           "(reference-guided grading).")] = None  # fmt: skip
    scale: Annotated[tuple[int, int] | None, Attr("scale", "The integer score range (default [1, 5]).")] = None
    choices: Annotated[dict[str, float] | None, Attr("choices", "Labels and their scores instead of a scale: "
                                                                "`{ A = 1.0, B = 0.5, C = 0.0 }`.")] = None
    reasoning: Annotated[bool, Attr("bool", "The judge explains first and gives its verdict last.")] = True
    votes: Annotated[int, Attr("positive", "Judge samples per item: median score or majority label.")] = 1
    swap: Annotated[bool, Attr("bool", "Pairwise: judge both orders; a disagreement counts as a tie.")] = True
    human: Annotated[SampleValue | None, Attr("value", "A human label per sample: the run reports judge–human "
                                                       "agreement (Cohen's kappa, Krippendorff's alpha).")] = None
    verdict: Annotated[Literal["auto", "parsed", "likelihood"], Attr(
        "choice", "`likelihood`: score each allowed verdict as the judge's reply by log-likelihood (probability-"
        "weighted score, argmax verdict; never unscored); `parsed`: generate and parse a JSON verdict; `auto`: "
        "likelihood on local `hf` judge models, parsed otherwise.",
        ("auto", "parsed", "likelihood"))] = "auto"  # fmt: skip
    description: Annotated[str, DESCRIPTION, Field(exclude=True)] = ""  # documentation: never hashed

    def config(self) -> JudgeConfig:
        """The validated judge configuration; JudgeError says what is inconsistent (lowering reports it as a
        diagnostic on the judge, so a checked spec's judges always have one)."""
        return JudgeConfig(
            name=self.name,
            model=self.model.name,
            rubric=self.rubric.source if self.rubric.kind != "const" else str(self.rubric.value),
            mode=self.mode,
            reference=None if self.reference is None else (self.reference.source or str(self.reference.value)),
            scale=self.scale if self.choices is None else None,
            choices=self.choices,
            reasoning=self.reasoning,
            votes=self.votes,
            swap=self.swap,
            human=None if self.human is None else (self.human.source or str(self.human.value)),
            verdict=self.verdict,
        )


class AssertDef(Typed):
    span: Span
    aggregate: str  # mean
    metric: NameRef
    op: str
    threshold: float
    text: str


EVAL_GENERATION_OVERRIDES: tuple[str, ...] = ("max_tokens", "stop", "chat_template")
"""Generation settings an eval may set for all its models (declared by `GenerationParams`)."""


class EvalDef(Typed):
    """`eval NAME { ... }`: the unit that runs — a dataset, a prompt, models, metrics and asserts."""

    name: str
    span: Span
    mode: Annotated[Mode, Attr("choice", "`generate` text, score `choice`s by log-likelihood, or score a text's "
                                         "`perplexity`.", ("generate", "choice", "perplexity"))] = "generate"
    mode_span: Span | None = None
    dataset: Annotated[NameRef, Attr("reference", "The dataset whose rows become samples.")]
    prompt: Annotated[NameRef | None, Attr("prompt", "A prompt's name, or an inline prompt string (generate, "
                                                     "choice).")] = None  # fmt: skip
    inline_prompt: SampleValue | None = None  # `prompt = "..."` written in the eval itself
    models: Annotated[tuple[NameRef, ...], Attr("references", "The models to evaluate.")] = ()
    target: Annotated[SampleValue | None, Attr("value", "generate: the reference answer(s), a string or a "
                                                        "list.")] = None  # fmt: skip
    incorrect: Annotated[SampleValue | None, Attr("value", "generate: known wrong answers (TruthfulQA "
                                                           "`*_diff`, `*_acc`).")] = None  # fmt: skip
    choices: Annotated[SampleValue | None, Attr("value", "choice: the list of choices.")] = None
    labels: Annotated[SampleValue | None, Attr("value", "choice: 1/0 per choice, or the index of the one true "
                                                        "choice.")] = None  # fmt: skip
    text: Annotated[SampleValue | None, Attr("value", "perplexity: the text to score.")] = None
    delimiter: Annotated[str, Attr("string", "choice: put between the prompt and each choice.")] = " "
    contexts: Annotated[SampleValue | None, Attr("value", "choice: one context per choice instead of the prompt "
                                                          "(partial scoring, as Winogrande): each is followed by "
                                                          "`delimiter` + the one continuation in "
                                                          "`choices`.")] = None  # fmt: skip
    metrics: Annotated[tuple[NameRef, ...], Attr("references", "Built-in metrics, `metric` definitions and "
                                                               "judges.")] = ()  # fmt: skip
    asserts: tuple[AssertDef, ...] = ()
    limit: Annotated[int | None, Attr("count", "At most this many samples; 0 = all.")] = None
    max_error_rate: Annotated[float, Attr("rate", "The share of samples that may fail (render, model call, "
                                                  "metric or judge) before the eval fails; 0 = none.")] = 0.0
    turns: Annotated[Literal["final", "each"], Attr("choice", "Conversations: score the reply that ends the "
                                                              "conversation (`final`), or one reply per "
                                                              "assistant turn of the row's conversation, "
                                                              "given the turns before it (`each`).",
                                                              ("final", "each"))] = "final"  # fmt: skip
    simulated_user: Annotated[NameRef | None, Attr("reference", "Conversations: a model that plays the user, "
                                                                "answering each reply `user_turns` times; the "
                                                                "last reply is scored.")] = None  # fmt: skip
    user_prompt: Annotated[SampleValue | None, Attr("value", "The simulated user's instructions (its system "
                                                             "message; sees the row's fields).")] = None
    user_turns: Annotated[int, Attr("positive", "How many times the simulated user answers.")] = 1
    epochs: Annotated[int, Attr("positive", "Run each sample this many times (each attempt a distinct draw, "
                                            "cached on its own); a metric averages each sample's attempts first, "
                                            "and confidence intervals resample samples, not attempts.")] = 1
    prompts: Annotated[tuple[NameRef, ...], Attr("references", "Variants: one eval per prompt, named "
                                                               "`NAME[prompt=p]` (instead of `prompt`).")] = ()
    overrides: dict[str, Any] = Field(default_factory=dict)  # generation settings set for this eval
    variant_of: str | None = None  # the eval written in the file, when this is one of its variants
    variant: dict[str, Any] = Field(default_factory=dict)  # what this variant sets: prompt, temperature...
    description: Annotated[str, DESCRIPTION, Field(exclude=True)] = ""  # documentation: never hashed


class TemplateInfo(Typed):
    name: str
    span: Span
    params: tuple[tuple[str, str | None], ...]  # (name, default as written or None when required)
    description: str = ""


class Spec(Typed):
    """Everything a spec defines, after imports, templates and type checks."""

    path: Path
    datasets: dict[str, DatasetDef] = Field(default_factory=dict)
    models: dict[str, ModelDef] = Field(default_factory=dict)
    prompts: dict[str, PromptDef] = Field(default_factory=dict)
    metrics: dict[str, MetricDef] = Field(default_factory=dict)
    judges: dict[str, JudgeDef] = Field(default_factory=dict)
    evals: dict[str, EvalDef] = Field(default_factory=dict)
    templates: dict[str, TemplateInfo] = Field(default_factory=dict)
