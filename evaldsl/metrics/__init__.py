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
from evaldsl.metrics.choice import MC1, MC2, Accuracy, AccuracyNorm
from evaldsl.metrics.embedding import EmbeddingSimilarity
from evaldsl.metrics.extract import ExtractMatch
from evaldsl.metrics.overlap import BLEU_TOKENIZERS, Bleu, Chrf, Rouge
from evaldsl.metrics.perplexity import LoglikRatio
from evaldsl.metrics.text import Contains, ExactMatch, Regex, TokenOverlap
from evaldsl.metrics.truthfulqa import SCORERS, STATISTICS, TruthfulQAGen, truthfulqa_references
from evaldsl.metrics.user import PythonMetric

__all__ = [
    "BUILTIN_METRICS",
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


def _maker(default_name: str, build: Callable[..., Metric], **fixed: Any) -> Callable[..., Metric]:
    """A factory calling build(name=..., **fixed, **params); `base_dir` is accepted and ignored."""

    def factory(*, name: str | None = None, base_dir: Path | None = None, **params: Any) -> Metric:
        return build(name=name or default_name, **fixed, **params)

    return factory


def _rouge_family(
    *, name: str | None = None, base_dir: Path | None = None, type: str = "rougeL", stemmer: bool = False
) -> Metric:
    return Rouge(name=name or "rouge", rouge_type=type, stemmer=stemmer)


def _python(
    *, name: str | None = None, base_dir: Path | None = None, path: str, higher_is_better: bool = True
) -> Metric:
    return PythonMetric(name=name or "python", path=path, base_dir=base_dir)


def _embedding(*, name: str | None = None, base_dir: Path | None = None, **params: Any) -> Metric:
    return EmbeddingSimilarity(name=name or "embedding_similarity", base_dir=base_dir, **params)


def _specs() -> dict[str, MetricSpec]:
    specs: list[MetricSpec] = []
    norm = {"normalize": bool}
    squad = (
        "SQuAD v1.1 normalisation (normalize = false: raw strings / whitespace tokens), max over references"
    )
    specs.append(
        MetricSpec(
            "exact_match", GENERATE, norm, f"Exact match, 0/1; {squad}.", _maker("exact_match", ExactMatch)
        )
    )
    for measure in ("f1", "precision", "recall"):
        specs.append(
            MetricSpec(
                measure,
                GENERATE,
                norm,
                f"Token {measure} (bag of tokens, 0-1); {squad}.",
                _maker(measure, TokenOverlap, measure=measure),
            )
        )
    specs.append(
        MetricSpec(
            "contains",
            GENERATE,
            norm,
            "1 if a normalised reference occurs in the normalised prediction (whole tokens), else 0.",
            _maker("contains", Contains),
        )
    )
    specs.append(
        MetricSpec(
            "regex",
            GENERATE,
            {"pattern": str},
            "1 if the Python regex `pattern` is found in the prediction.",
            _maker("regex", Regex),
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
            _maker("extract_match", ExtractMatch),
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
            _embedding,
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
            _python,
            positional=("path",),
            required=frozenset({"path"}),
            range=None,
        )
    )
    specs.append(
        MetricSpec(
            "bleu",
            GENERATE,
            {"tokenize": str, "lowercase": bool},
            f"sacrebleu corpus BLEU, 0-100 (tokenize: {', '.join(sorted(BLEU_TOKENIZERS))}; default 13a).",
            _maker("bleu", Bleu),
            range=(0.0, 100.0),
        )
    )
    specs.append(
        MetricSpec(
            "chrf",
            GENERATE,
            {"word_order": int, "lowercase": bool},
            "sacrebleu corpus chrF, 0-100 (word_order = 2 gives chrF++).",
            _maker("chrf", Chrf),
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
                _maker(rouge_type, Rouge, rouge_type=rouge_type),
            )
        )
    specs.append(
        MetricSpec(
            "rouge",
            GENERATE,
            {"type": str, "stemmer": bool},
            "rouge-score F-measure of the given type (rouge1..rouge9, rougeL, rougeLsum; default rougeL), "
            "0-1.",
            _rouge_family,
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
                    _maker(metric_name, TruthfulQAGen, scorer=scorer, statistic=statistic),
                    range={"max": (0.0, 100.0), "diff": (-100.0, 100.0), "acc": (0.0, 1.0)}[statistic],
                )
            )
    specs.append(
        MetricSpec(
            "accuracy",
            CHOICE,
            {},
            "1 if the highest-log-likelihood choice is a true one.",
            _maker("accuracy", Accuracy),
        )
    )
    specs.append(
        MetricSpec(
            "accuracy_norm",
            CHOICE,
            {},
            "accuracy on log-likelihood / characters of the choice text (lm-eval acc_norm).",
            _maker("accuracy_norm", AccuracyNorm),
        )
    )
    specs.append(
        MetricSpec(
            "mc1",
            CHOICE,
            {},
            "TruthfulQA MC1: 1 if the best answer (first true choice) wins.",
            _maker("mc1", MC1),
        )
    )
    specs.append(
        MetricSpec(
            "mc2",
            CHOICE,
            {},
            "TruthfulQA MC2: normalised probability mass of true choices.",
            _maker("mc2", MC2),
        )
    )
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
                _maker(metric_name, LoglikRatio, unit=unit, transform=transform),
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
    kind: str, params: Mapping[str, Any], *, name: str | None = None, base_dir: Path | None = None
) -> Metric:
    """Build the metric `kind` (a builtin name or a configurable family such as rouge/regex/python) with the
    given keyword parameters; `name` is the user's name for it (default: kind), `base_dir` the spec's folder.
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
    return spec.factory(name=name or kind, base_dir=base_dir, **params)


def metric_direction(kind: str, params: Mapping[str, Any]) -> tuple[bool, tuple[float | None, float | None] | None]:
    """(higher_is_better, range) of a configured metric: from the catalogue, or the metric's own
    `higher_is_better` parameter where it has one (python metrics)."""
    spec = BUILTIN_METRICS[kind]
    return bool(params.get("higher_is_better", spec.higher_is_better)), spec.range


_TYPE_WORDS: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


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
