"""Completion over stdio, on complete and half-typed files: keywords, attributes with types, names, metrics by
mode, template parameters, stdlib modules, dataset fields with types."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from evaldsl.metrics import BUILTIN_METRICS
from tests.lsp.client import Editor, pos, span

HALF_TYPED = """\
import "./shared.eval"
import "std/general"

dataset trivia { path = "data/qa.jsonl" }
dataset inline {
  rows = [{ question = "2 + 2?", answer = "4", level = 1 }]
}
metric em_raw = exact_match(normalize = false)

eval mc {
  mode    = "choice"
  dataset = inline
  models  = [small]
  metrics = [
}

eval qa {
  dataset = trivia
  models  = [small]
  prompt  = "Q: {{ row. }}"
  target  = `aliases + [answer]`
  li
}

eval suite = general(models = [small], )
"""


def _open(editor: Editor, workspace: Path, name: str, text: str) -> str:
    uri = editor.open(workspace / name, text)
    editor.diagnostics(uri, 1)
    return uri


def _labels(items: list[types.CompletionItem]) -> list[str]:
    return [i.label for i in items]


def test_statement_keywords_at_the_top_level(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "keywords.eval", "da\n")
    items = editor.completion(uri, pos(0, 2))
    assert _labels(items) == ["import", "dataset", "model", "prompt", "metric", "judge", "template", "eval"]
    dataset = items[1]
    assert dataset.insert_text_format == types.InsertTextFormat.Snippet
    assert dataset.text_edit == types.TextEdit(
        range=span(0, 0, 2), new_text='dataset ${1:name} {\n\tpath = "${2:data.jsonl}"\n}'
    )


def test_attributes_of_the_block_with_their_types(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = {i.label: i for i in editor.completion(uri, pos(21, 4))}  # `  li` in eval qa
    assert list(items) == [
        "mode",
        "incorrect",
        "choices",
        "labels",
        "text",
        "delimiter",
        "contexts",
        "metrics",
        "limit",
        "max_error_rate",
        "turns",
        "simulated_user",
        "user_prompt",
        "user_turns",
        "epochs",
        "prompts",
        "description",
        "max_tokens",
        "stop",
        "chat_template",
        "assert",
    ]  # dataset, models, prompt and target are written already; the order is the declaration's
    assert items["limit"].detail == "a whole number >= 0"
    assert items["limit"].text_edit == types.TextEdit(range=span(21, 2, 4), new_text="limit = ")
    assert items["mode"].detail == 'one of "generate", "choice", "perplexity"'
    assert items["metrics"].documentation.value == "Built-in metrics, `metric` definitions and judges."
    assert items["max_error_rate"].detail == "a number from 0 to 1"


def test_metrics_valid_for_the_eval_mode(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(13, 13))  # `metrics = [` in a choice-mode eval that does not parse yet
    choice = [n for n, s in BUILTIN_METRICS.items() if "choice" in s.modes]
    assert _labels(items) == choice  # em_raw is an exact_match: generate mode only
    uri = _open(editor, workspace, "metrics.eval", HALF_TYPED.replace('"choice"', '"generate"'))
    labels = _labels(editor.completion(uri, pos(13, 13)))
    assert "em_raw" in labels and "exact_match" in labels and "mc2" not in labels


def test_defined_names_where_a_reference_goes(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(11, 12))  # dataset = |inline
    assert [(i.label, i.detail) for i in items] == [("trivia", "dataset"), ("inline", "dataset")]
    assert items[0].text_edit == types.TextEdit(range=span(11, 12, 12), new_text="trivia")
    models = editor.completion(uri, pos(12, 14))  # models  = [s|mall]: imported from shared.eval
    assert [(i.label, i.documentation.value) for i in models] == [("small", "defined in `shared.eval`")]


def test_stdlib_modules_in_an_import(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(1, 12))  # import "std/|general"
    assert _labels(items)[:3] == ["std/arc", "std/boolq", "std/general"]
    assert {"std/judge", "std/truthfulqa", "std/mmlu"} <= set(_labels(items))
    assert items[0].text_edit == types.TextEdit(range=span(1, 8, 12), new_text="std/arc")
    assert "./main.eval" in _labels(items) and "./half.eval" not in _labels(items)


def test_template_parameters_in_an_instantiation(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(24, 39))  # general(models = [small], |)
    assert [(i.label, i.detail) for i in items] == [
        ("data", "required"),
        ("question_field", 'default "question"'),
        ("answer_field", 'default "answer"'),
        ("instruction", 'default "Answer the question with a short phrase."'),
        ("max_tokens", "default 32"),
        ("limit", "default 0"),
    ]
    assert items[0].text_edit == types.TextEdit(range=span(24, 39, 39), new_text="data = ")
    values = editor.completion(uri, pos(24, 31))  # models = [|small]: a model, as the template uses it
    assert _labels(values) == ["small"]


def test_dataset_fields_inside_templates_and_expressions(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(19, 23))  # "Q: {{ row.| }}"
    assert [(i.label, i.detail) for i in items] == [
        ("question", "string"),
        ("answer", "string"),
        ("aliases", "list of strings"),
    ]
    assert "Capital of France?" in items[0].documentation.value
    expression = editor.completion(uri, pos(20, 14))  # `a|liases + [answer]`: inside the backticks
    assert _labels(expression) == ["row", "question", "answer", "aliases"]


def test_fields_of_a_prompt_used_by_evals_on_different_datasets(editor: Editor, workspace: Path) -> None:
    text = (workspace / "shared.eval").read_text(encoding="utf-8")
    main = (workspace / "main.eval").read_text(encoding="utf-8")
    # `ask` is used by eval qa (trivia: question, answer, aliases) and eval sums (inline: question, answer, level)
    merged = main.replace('import "./shared.eval"\n', text)
    uri = _open(editor, workspace, "merged.eval", merged)
    line = merged.split("\n").index('  user   = "{{ question }}"')
    items = editor.completion(uri, pos(line, 16))
    assert [(i.label, i.detail, i.sort_text) for i in items] == [
        ("row", "the sample", "2row"),
        ("question", "string", "0question"),
        ("answer", "string", "0answer"),
        ("aliases", "list of strings", "1aliases"),
        ("level", "integer", "1level"),
    ]
    assert items[3].documentation.value.startswith("field of `trivia` only")


def test_choices_of_a_string_attribute(editor: Editor, workspace: Path) -> None:
    uri = _open(editor, workspace, "half.eval", HALF_TYPED)
    items = editor.completion(uri, pos(10, 13))  # mode = "c|hoice"
    assert _labels(items) == ["generate", "choice", "perplexity"]
    assert items[1].text_edit == types.TextEdit(range=span(10, 13, 13), new_text="choice")


def test_names_inside_a_template_body(editor: Editor, workspace: Path) -> None:
    text = (
        "template suite(models, data, limit = 0) {\n"
        '  prompt ask = "{{ question }}"\n'
        "  eval run {\n"
        "    dataset = \n"
        "    prompt  = ask\n"
        "  }\n"
        "}\n"
    )
    uri = _open(editor, workspace, "template_body.eval", text)
    assert [(i.label, i.detail) for i in editor.completion(uri, pos(3, 14))] == [
        ("models", "template parameter"),
        ("data", "template parameter"),
        ("limit", "template parameter"),
    ]  # no dataset is defined: the parameters (`data`)
    prompts = editor.completion(uri, pos(4, 14))
    assert [(i.label, i.detail) for i in prompts][-1] == ("ask", "prompt (here)")
