"""Metric catalogue: a metric kind + keyword parameters -> a checked, built `Metric`; specs for checks."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from evaldsl.diagnostics import did_you_mean
from evaldsl.metrics.base import CorpusMetric, Metric, MetricError, SampleMetric
from evaldsl.metrics.choice import MC1, MC2, Accuracy, AccuracyNorm, GreedyMatch, TargetPerplexity
from evaldsl.metrics.extract import ExtractMatch
from evaldsl.metrics.factories import embedding, json_schema, maker, python_metric, rouge_family, tool_call
from evaldsl.metrics.overlap import BLEU_TOKENIZERS, Bleu, Chrf, Rouge
from evaldsl.metrics.perplexity import LoglikRatio
from evaldsl.metrics.repeats import AcrossAttempts
from evaldsl.metrics.structured import (
    JsonValid,
    compile_pattern,
    extracted,
    inner_of,
    parse_path,
)
from evaldsl.metrics.text import Contains, ExactMatch, Regex, TokenOverlap
from evaldsl.metrics.tools import ToolCallsValid
from evaldsl.metrics.truthfulqa import SCORERS, STATISTICS, TruthfulQAGen, truthfulqa_references

__all__ = [
    "BUILTIN_METRICS",
    "EXTRACTORS",
    "REPEATS",
    "CorpusMetric",
    "Metric",
    "MetricError",
    "MetricSpec",
    "SampleMetric",
    "bind_params",
    "build_metric",
    "metric_direction",
    "truthfulqa_references",
]

GENERATE = frozenset({"generate"})
CHOICE = frozenset({"choice"})
PERPLEXITY = frozenset({"perplexity"})


@dataclass(frozen=True)
class MetricSpec:
    """What the compiler needs to know about a metric kind.

    `factory(**params)` builds the metric; it also accepts the keywords `name` (the user's name for the
    metric, default: the kind) and `base_dir` (the spec's folder, used by `python`). Prefer `build_metric`,
    which checks the parameters first. `positional` names the parameters that may be given positionally, in
    order (e.g. `python("mod:fn")` means path = "mod:fn"); `required` those without a default.
    `higher_is_better` and `range` (lowest, highest possible value; None where unbounded) tell readers how
    to read a value: diffs take the direction from here, never from the name.
    """

    name: str
    modes: frozenset[str]
    params: Mapping[str, type | tuple[type, ...]]
    doc: str
    factory: Callable[..., Metric]
    positional: tuple[str, ...] = ()
    required: frozenset[str] = field(default_factory=frozenset)
    higher_is_better: bool = True
    range: tuple[float | None, float | None] | None = (0.0, 1.0)  # None: unbounded / not known in advance


def _extracted(
    *,
    name: str | None = None,
    base_dir: Path | None = None,
    metric: Any = "exact_match",
    path: str | None = None,
    regex: str | None = None,
    fences: bool = True,
) -> Metric:
    label = name or ("json_field" if path is not None else "extract")
    family, params = inner_of(metric)
    inner = build_metric(family, params, name=label, base_dir=base_dir)
    if path is not None:
        return extracted(inner, label, path=parse_path(path), fences=fences)
    return extracted(inner, label, pattern=compile_pattern(regex or "", label))


def _across(statistic: str, family: str) -> Callable[..., Metric]:
    def factory(
        *, name: str | None = None, base_dir: Path | None = None, metric: Any = "exact_match", k: int = 1,
        threshold: float = 1.0,
    ) -> Metric:  # fmt: skip
        label = name or family
        inner_family, params = inner_of(metric)
        inner = build_metric(inner_family, params, name=label, base_dir=base_dir)
        if not isinstance(inner, SampleMetric) or inner.kind != "sample":
            raise MetricError(f"metric {label!r}: {family} needs a per-sample metric, not the corpus metric "
                              f"{inner_family!r}")  # fmt: skip
        return AcrossAttempts(name=label, inner=inner, statistic=statistic, k=k,  # type: ignore[arg-type]
                              threshold=float(threshold))  # fmt: skip

    return factory


REPEATS = frozenset({"pass_at", "pass_all", "attempt_variance"})
"""Metric families scored over each sample's attempts (an eval's `epochs`)."""

EXTRACTORS = frozenset({"json_field", "extract"})
"""Metric families that score a part of the prediction with another metric (their `metric` parameter)."""


def _specs() -> dict[str, MetricSpec]:
    specs: list[MetricSpec] = []
    norm = {"normalize": bool}
    squad = (
        "SQuAD v1.1 normalisation (normalize = false: raw strings / whitespace tokens), max over references"
    )
    specs.append(
        MetricSpec(
            "exact_match", GENERATE, norm, f"Exact match, 0/1; {squad}.", maker("exact_match", ExactMatch)
        )
    )
    for measure in ("f1", "precision", "recall"):
        specs.append(
            MetricSpec(
                measure,
                GENERATE,
                norm,
                f"Token {measure} (bag of tokens, 0-1); {squad}.",
                maker(measure, TokenOverlap, measure=measure),
            )
        )
    specs.append(
        MetricSpec(
            "contains",
            GENERATE,
            norm,
            "1 if a normalised reference occurs in the normalised prediction (whole tokens), else 0.",
            maker("contains", Contains),
        )
    )
    specs.append(
        MetricSpec(
            "regex",
            GENERATE,
            {"pattern": str},
            "1 if the Python regex `pattern` is found in the prediction.",
            maker("regex", Regex),
            positional=("pattern",),
            required=frozenset({"pattern"}),
        )
    )
    specs.append(
        MetricSpec(
            "extract_match",
            GENERATE,
            {"pattern": str, "select": int, "ignore": (list, tuple), "ignore_case": bool,
             "ignore_punctuation": bool},
            "lm-evaluation-harness exact match: the answer is the `select`-th match (0 first, -1 last) of the regex "
            "`pattern` in the output (its first non-empty group; `[invalid]` when none), then each regex of "
            "`ignore` is removed from it and from the references, case and punctuation dropped where asked.",
            maker("extract_match", ExtractMatch),
            positional=("pattern",),
        )
    )
    specs.append(
        MetricSpec(
            "embedding_similarity",
            GENERATE,
            {"model": str, "api": str, "api_base": str},
            "Cosine similarity of the output's and the best reference's embeddings, -1 to 1: `model` a local "
            "transformers encoder (a folder next to the spec or a Hugging Face id; mean of its last hidden "
            "states) or `api` an embedding model through litellm (`api_base` for a server of your own).",
            embedding,
            range=(-1.0, 1.0),
        )
    )
    specs.append(
        MetricSpec(
            "python",
            GENERATE,
            {"path": str, "higher_is_better": bool},
            'User function "module:function"(prediction, references, row) -> float | None; the module is '
            "looked up in the spec's folder, then on PYTHONPATH. `higher_is_better = false` for a cost or an "
            "error rate.",
            python_metric,
            positional=("path",),
            required=frozenset({"path"}),
            range=None,
        )
    )
    fences = "a markdown code fence around the whole reply is removed first (fences = false: not)"
    specs.append(
        MetricSpec("json_valid", GENERATE, {"fences": bool}, f"1 if the output is one JSON document, else 0; {fences}.",
                   maker("json_valid", JsonValid))
    )  # fmt: skip
    specs.append(
        MetricSpec(
            "json_schema",
            GENERATE,
            {"schema": (dict, str), "fences": bool},
            "1 if the output is JSON that the JSON Schema accepts, else 0; `schema` is an inline map or a .json "
            f"file in the project (relative to this file); {fences}.",
            json_schema,
            positional=("schema",),
            required=frozenset({"schema"}),
        )
    )
    inner = "; `metric` (default exact_match) scores the part against the references, an empty part when none"
    specs.append(
        MetricSpec(
            "json_field",
            GENERATE,
            {"path": str, "metric": (str, dict), "fences": bool},
            f'The value at `path` ("answer", "items[0].name") of the JSON output{inner}.',
            _extracted,
            positional=("path",),
            required=frozenset({"path"}),
            range=None,
        )
    )
    specs.append(
        MetricSpec(
            "extract",
            GENERATE,
            {"regex": str, "metric": (str, dict)},
            f'The first match of `regex` in the output (its first group when it has one: "#### (\\S+)")'
            f"{inner}.",
            _extracted,
            positional=("regex",),
            required=frozenset({"regex"}),
            range=None,
        )
    )
    specs.append(
        MetricSpec("tool_call", GENERATE, {"function": str, "arguments": dict, "match": str},
                   "1 if the reply called the expected function (`function`, else each reference: a name or "
                   '{"name", "arguments"} JSON) with matching `arguments` (match = "subset" (default) or "exact").',
                   tool_call)
    )  # fmt: skip
    specs.append(
        MetricSpec("tool_calls_valid", GENERATE, {}, "1 if every tool call names one of the model's `tools` and "
                   "its arguments validate against its parameters schema; replies without calls are unscored.",
                   maker("tool_calls_valid", ToolCallsValid))
    )  # fmt: skip
    attempt = "an attempt passes when `metric` (default exact_match) scores at least `threshold` (default 1)"
    specs.append(
        MetricSpec("pass_at", GENERATE, {"k": int, "metric": (str, dict), "threshold": (int, float)},
                   f"pass@k over each sample's attempts (eval `epochs` >= k), the unbiased estimator of Chen et al. "
                   f"2021; {attempt}.", _across("pass_at", "pass_at"), positional=("k",), required=frozenset({"k"}))
    )  # fmt: skip
    specs.append(
        MetricSpec("pass_all", GENERATE, {"k": int, "metric": (str, dict), "threshold": (int, float)},
                   f"The chance that k of a sample's attempts all pass (eval `epochs` >= k); {attempt}.",
                   _across("pass_all", "pass_all"), positional=("k",), required=frozenset({"k"}))
    )  # fmt: skip
    specs.append(
        MetricSpec("attempt_variance", GENERATE, {"metric": (str, dict)},
                   "The variance of `metric` (default exact_match) across each sample's attempts (eval `epochs` "
                   ">= 2), averaged over samples; lower is more consistent.",
                   _across("variance", "attempt_variance"), higher_is_better=False, range=(0.0, None))
    )  # fmt: skip
    specs.append(
        MetricSpec(
            "bleu",
            GENERATE,
            {"tokenize": str, "lowercase": bool},
            f"sacrebleu corpus BLEU, 0-100 (tokenize: {', '.join(sorted(BLEU_TOKENIZERS))}; default 13a).",
            maker("bleu", Bleu),
            range=(0.0, 100.0),
        )
    )
    specs.append(
        MetricSpec(
            "chrf",
            GENERATE,
            {"word_order": int, "lowercase": bool},
            "sacrebleu corpus chrF, 0-100 (word_order = 2 gives chrF++).",
            maker("chrf", Chrf),
            range=(0.0, 100.0),
        )
    )
    for rouge_type in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        specs.append(
            MetricSpec(
                rouge_type,
                GENERATE,
                {"stemmer": bool},
                f"rouge-score {rouge_type} F-measure, 0-1, max over references, mean over samples.",
                maker(rouge_type, Rouge, rouge_type=rouge_type),
            )
        )
    specs.append(
        MetricSpec(
            "rouge",
            GENERATE,
            {"type": str, "stemmer": bool},
            "rouge-score F-measure of the given type (rouge1..rouge9, rougeL, rougeLsum; default rougeL), "
            "0-1.",
            rouge_family,
            positional=("type",),
        )
    )
    for scorer in SCORERS:
        what = "ROUGE-Lsum" if scorer == "rougeL" else scorer.upper().replace("ROUGE", "ROUGE-")
        for statistic in STATISTICS:
            metric_name = f"{scorer}_{statistic}"
            meaning = {
                "max": "best score over true references",
                "diff": "best true minus best false reference score",
                "acc": "1 if the best true beats the best false reference",
            }[statistic]
            specs.append(
                MetricSpec(
                    metric_name,
                    GENERATE,
                    {},
                    f"TruthfulQA generation ({what}, 0-100, as lm-evaluation-harness): {meaning}.",
                    maker(metric_name, TruthfulQAGen, scorer=scorer, statistic=statistic),
                    range={"max": (0.0, 100.0), "diff": (-100.0, 100.0), "acc": (0.0, 1.0)}[statistic],
                )
            )
    specs.append(
        MetricSpec(
            "accuracy",
            CHOICE,
            {},
            "1 if the highest-log-likelihood choice is a true one.",
            maker("accuracy", Accuracy),
        )
    )
    specs.append(
        MetricSpec(
            "accuracy_norm",
            CHOICE,
            {},
            "accuracy on log-likelihood / characters of the choice text (lm-eval acc_norm).",
            maker("accuracy_norm", AccuracyNorm),
        )
    )
    specs.append(
        MetricSpec(
            "mc1",
            CHOICE,
            {},
            "TruthfulQA MC1: 1 if the best answer (first true choice) wins.",
            maker("mc1", MC1),
        )
    )
    specs.append(
        MetricSpec(
            "mc2",
            CHOICE,
            {},
            "TruthfulQA MC2: normalised probability mass of true choices.",
            maker("mc2", MC2),
        )
    )
    specs.append(MetricSpec("greedy_match", CHOICE, {}, "1 if greedy decoding after the context gives the true "
                            "choice token for token (lm-eval `acc` of loglikelihood tasks).",
                            maker("greedy_match", GreedyMatch)))  # fmt: skip
    specs.append(MetricSpec("target_perplexity", CHOICE, {}, "Corpus exp(-mean summed log-likelihood of the true "
                            "choice); lower is better (lm-eval `perplexity` of loglikelihood tasks).",
                            maker("target_perplexity", TargetPerplexity), higher_is_better=False,
                            range=(1.0, None)))  # fmt: skip
    for metric_name, unit, transform, doc in (
        ("perplexity", "tokens", "exp", "exp(-sum loglik / sum tokens)"),
        ("cross_entropy", "tokens", "nats", "-sum loglik / sum tokens (nats per token)"),
        ("word_perplexity", "words", "exp", "exp(-sum loglik / sum words), words as lm-eval counts them"),
        ("byte_perplexity", "bytes", "exp", "exp(-sum loglik / sum UTF-8 bytes)"),
        ("bits_per_byte", "bytes", "bits", "-sum loglik / sum UTF-8 bytes / ln 2"),
    ):
        specs.append(
            MetricSpec(
                metric_name,
                PERPLEXITY,
                {},
                f"Corpus {doc}; lower is better.",
                maker(metric_name, LoglikRatio, unit=unit, transform=transform),
                higher_is_better=False,
                range=(1.0, None) if transform == "exp" else (0.0, None),
            )
        )
    return {spec.name: spec for spec in specs}


BUILTIN_METRICS: Mapping[str, MetricSpec] = MappingProxyType(_specs())


def _type_ok(value: Any, expected: type | tuple[type, ...]) -> bool:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed)


def _type_name(expected: type | tuple[type, ...]) -> str:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(t.__name__ for t in allowed)


def build_metric(
    kind: str,
    params: Mapping[str, Any],
    *,
    name: str | None = None,
    base_dir: Path | None = None,
    allow_python: frozenset[str] = frozenset(),
) -> Metric:
    """Build the metric `kind` (a builtin name or a configurable family such as rouge/regex/python) with the
    given keyword parameters; `name` is the user's name for it (default: kind), `base_dir` the spec's folder,
    `allow_python` the modules outside the project a python metric may load (`--allow-python`).
    Unknown kinds, unknown or mistyped or missing parameters, and bad values raise MetricError."""
    spec = BUILTIN_METRICS.get(kind)
    label = name or kind
    if spec is None:
        close = difflib.get_close_matches(kind, list(BUILTIN_METRICS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise MetricError(f"unknown metric {kind!r}{hint}")
    for key, value in params.items():
        if key not in spec.params:
            accepted = ", ".join(spec.params) or "none"
            raise MetricError(f"metric {label!r}: {kind} has no parameter {key!r} (accepted: {accepted})")
        if not _type_ok(value, spec.params[key]):
            raise MetricError(
                f"metric {label!r}: parameter {key!r} must be {_type_name(spec.params[key])}, "
                f"got {type(value).__name__} {value!r}"
            )
    missing = sorted(spec.required - set(params))
    if missing:
        raise MetricError(f"metric {label!r}: {kind} needs the parameter(s) {', '.join(missing)}")
    grants = {"allow_python": allow_python} if kind == "python" else {}
    return spec.factory(name=name or kind, base_dir=base_dir, **grants, **params)


def metric_direction(kind: str, params: Mapping[str, Any]) -> tuple[bool, tuple[float | None, float | None] | None]:
    """(higher_is_better, range) of a configured metric: from the catalogue, or the metric's own
    `higher_is_better` parameter where it has one (python metrics)."""
    spec = BUILTIN_METRICS[kind]
    if kind in EXTRACTORS:  # the direction and range of the metric scoring the part
        try:
            family, inner = inner_of(params.get("metric", "exact_match"))
        except MetricError:
            family, inner = "exact_match", {}
        return metric_direction(family if family in BUILTIN_METRICS else "exact_match", inner)
    return bool(params.get("higher_is_better", spec.higher_is_better)), spec.range


_TYPE_WORDS: dict[type, str] = {
    str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a map"
}


def bind_params(
    spec: MetricSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """A configured metric's positional `args` bound to the family's parameters, with its keyword
    arguments; an error text when they do not fit."""
    params = dict(kwargs)
    if len(args) > len(spec.positional):
        return params, f"`{spec.name}` takes at most {len(spec.positional)} positional argument(s)"
    for name, value in zip(spec.positional, args, strict=False):  # fewer arguments than parameters is fine
        if name in params:
            return params, f"`{name}` is given twice"
        params[name] = value
    for key, value in params.items():
        if key not in spec.params:
            close = did_you_mean(key, spec.params)
            accepted = ", ".join(spec.params) or "none"
            return params, f"`{spec.name}` has no parameter `{key}`" + (
                f"; {close}" if close else f" (accepted: {accepted})"
            )
        expected = spec.params[key]
        allowed = expected if isinstance(expected, tuple) else (expected,)
        ok = (bool in allowed) if isinstance(value, bool) else isinstance(value, allowed)
        if not ok and float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in allowed)
            return params, f"parameter `{key}` of `{spec.name}` must be {names}, got {json.dumps(value, default=str)}"
    missing = sorted(spec.required - set(params))
    if missing:
        return params, f"`{spec.name}` needs {', '.join(f'`{x}`' for x in missing)}"
    return params, None
