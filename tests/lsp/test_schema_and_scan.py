"""What the editor knows about the language (attributes from the compiler's own schemas, their documentation,
metric ranges) and where the cursor is in a file that may not parse."""

from __future__ import annotations

import pytest

from evaldsl.compile.schema import BLOCKS
from evaldsl.lsp.scan import context_at
from evaldsl.lsp.schema import ATTRIBUTE_DOCS, BLOCK_KINDS, block_schema, lower_is_better, metric_range
from evaldsl.metrics import BUILTIN_METRICS


def test_attribute_types_come_from_the_one_declaration() -> None:
    model = block_schema("model")
    assert model is not None
    assert model.attributes["provider"] == 'one of "hf", "litellm", "mock", "vllm", "python", "http"'
    assert model.attributes["max_tokens"] == "a whole number >= 1" == BLOCKS["model"]["max_tokens"].type_label
    assert block_schema("eval").attributes["prompt"] == "a prompt name or an inline prompt string"  # type: ignore[union-attr]
    assert block_schema("dataset").nested == ("field",)  # type: ignore[union-attr]
    assert block_schema("prompt").nested == ("fewshot",)  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", [*BLOCK_KINDS, "fewshot"])
def test_every_attribute_is_documented(kind: str) -> None:
    schema = block_schema(kind)
    assert schema is not None
    assert set(schema.attributes) == set(ATTRIBUTE_DOCS[kind])


def test_metric_ranges_and_directions() -> None:
    assert {metric_range(name) for name in BUILTIN_METRICS} == {
        "0 to 1",
        "0 to 100",
        "-100 to 100",
        "-1 to 1",  # embedding_similarity (cosine)
        "1 or more",
        "0 or more",
        "what the function returns",
        "those of the metric scoring the part",
    }
    assert metric_range("bleu_diff") == "-100 to 100" and metric_range("rougeL") == "0 to 1"
    assert [n for n in BUILTIN_METRICS if lower_is_better(n)] == [
        "attempt_variance",
        "target_perplexity",
        "perplexity",
        "cross_entropy",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
    ]


def _at(marked: str) -> dict[str, object]:
    i = marked.index("|")
    ctx = context_at(marked[:i] + marked[i + 1 :], i)
    return {k: v for k, v in ctx.__dict__.items() if v not in (None, "", ()) and k not in ("start", "values")}


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        ("da|", {"where": "statement", "prefix": "da"}),
        ('dataset d {\n  path = "x"\n  |\n}', {"where": "entry", "blocks": (("dataset", "d"),), "written": ("path",)}),
        (
            "eval e {\n  dataset = tr|\n  models = [a]\n}",
            {
                "where": "value",
                "prefix": "tr",
                "blocks": (("eval", "e"),),
                "attr": "dataset",
                "written": ("dataset", "models"),
            },
        ),
        (
            "eval e {\n  metrics = [exact_match, f|\n",
            {
                "where": "value",
                "prefix": "f",
                "blocks": (("eval", "e"),),
                "attr": "metrics",
                "written": ("metrics",),
            },
        ),
        (
            'eval e {\n  target = "{{ row.ques|"\n}',
            {
                "where": "template",
                "prefix": "ques",
                "blocks": (("eval", "e"),),
                "attr": "target",
                "written": ("target",),
                "source": " row.ques",
            },
        ),
        ('import "std/|', {"where": "import", "prefix": "std/", "source": "std/"}),
        (
            "eval x = general(models = [s], d|",
            {
                "where": "argument",
                "prefix": "d",
                "call": "general",
                "assign": ("eval", "x"),
                "written": ("models",),
            },
        ),
        ("metric m = |", {"where": "value", "assign": ("metric", "m")}),
        (
            "eval e {\n  assert mean(|\n}",
            {
                "where": "argument",
                "blocks": (("eval", "e"),),
                "attr": "assert",
                "call": "mean",
            },
        ),
        (
            "template t(models, data) {\n  eval run {\n    dataset = |\n  }\n}",
            {
                "where": "value",
                "blocks": (("template", "t"), ("eval", "run")),
                "attr": "dataset",
                "written": ("dataset",),
                "params": ("models", "data"),
                "defined": (("eval", "run"),),
            },
        ),
        (
            "eval e {\n  models = [tqa.m|]\n}",
            {
                "where": "value",
                "prefix": "tqa.m",
                "blocks": (("eval", "e"),),
                "attr": "models",
                "written": ("models",),
            },
        ),
        (
            'eval e {\n  path = "x" lim|\n}',
            {"where": "entry", "prefix": "lim", "blocks": (("eval", "e"),), "written": ("path",)},
        ),
        ("eval e {\n  # a comm|ent\n}", {"where": "none"}),
        # A value not typed yet: the next line is the next attribute.
        (
            "eval e {\n  dataset =\n  prompt = a|\n}",
            {
                "where": "value",
                "prefix": "a",
                "blocks": (("eval", "e"),),
                "attr": "prompt",
                "written": ("dataset", "prompt"),
            },
        ),
        # An unclosed block before: a statement keyword in column 1 starts afresh.
        ("eval e {\n  dataset = x\n\nmodel m {\n  |\n}", {"where": "entry", "blocks": (("model", "m"),)}),
    ],
)
def test_cursor_context(marked: str, expected: dict[str, object]) -> None:
    assert _at(marked) == expected
