"""Hover, go to definition, references, rename, outline and workspace symbols over stdio, across imports and
into the standard library."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from evaldsl.resources import stdlib_dir
from tests.lsp.client import Editor, pos, span, uri_of


@pytest.fixture
def main(editor: Editor, workspace: Path) -> str:
    uri = editor.open(workspace / "main.eval", (workspace / "main.eval").read_text(encoding="utf-8"))
    editor.diagnostics(uri, 1)
    return uri


def _where(locations: list[types.Location]) -> list[tuple[str, types.Range]]:
    return [(Path(loc.uri).name, loc.range) for loc in locations]


# ---- hover ----
def test_hover_an_attribute(editor: Editor, main: str) -> None:
    expected = "**dataset** (eval): the name of a definition\n\nThe dataset whose rows become samples."
    assert editor.hover(main, pos(11, 3)) == expected


def test_hover_a_metric_range_and_direction(editor: Editor, main: str, workspace: Path) -> None:
    text = editor.hover(main, pos(15, 14))  # metrics = [exact_match, ...]
    assert text is not None and text.startswith("**exact_match** — built-in metric (generate mode)")
    assert "Range: 0 to 1; higher is better." in text
    configured = editor.hover(main, pos(15, 27))  # em_raw = exact_match(normalize = false)
    assert configured is not None and configured.startswith("**metric em_raw** = exact_match(normalize = false)")
    uri = editor.open(workspace / "ppl.eval", 'eval e {\n  mode = "perplexity"\n  metrics = [perplexity]\n}\n')
    lower = editor.hover(uri, pos(2, 15))
    assert lower is not None and "Range: 1 or more; lower is better." in lower


def test_hover_a_dataset_shows_fields_and_an_example_row(editor: Editor, main: str) -> None:
    assert editor.hover(main, pos(11, 14)) == "\n".join(
        [
            "**dataset trivia** — `qa.jsonl`",
            "",
            "| field | type |",
            "| --- | --- |",
            "| question | string |",
            "| answer | string |",
            "| aliases | list of strings |",
            "",
            "Example row:",
            "```json",
            '{"question": "Capital of France?", "answer": "Paris", "aliases": ["Paris"]}',
            "```",
        ]
    )


def test_hover_a_template_a_model_and_a_field(editor: Editor, main: str) -> None:
    template = editor.hover(main, pos(27, 16))
    assert template is not None and template.startswith("```\ntemplate general(models, data, question_field = ")
    assert template.endswith(
        "\n\nQuestion answering: exact_match, f1, precision, recall (SQuAD), bleu (sacrebleu), rougeL."
    )
    model = editor.hover(main, pos(13, 14))
    assert model == '**model small** — provider `mock`\n\nSettings: response = "{{ answer }}", max_tokens = 16'
    field = editor.hover(main, pos(14, 16))  # target = "{{ answer }}"
    assert field == "**answer**: string\n\nfield of `trivia`\n\nexample: `'Paris'`"


# ---- navigation ----
def test_go_to_definition_across_imports_and_into_the_stdlib(editor: Editor, main: str) -> None:
    assert _where(editor.definition(main, pos(11, 14))) == [("main.eval", span(3, 8, 14))]  # trivia
    assert _where(editor.definition(main, pos(13, 14))) == [("shared.eval", span(1, 6, 11))]  # small
    assert _where(editor.definition(main, pos(12, 13))) == [("shared.eval", span(7, 7, 10))]  # ask
    general = editor.definition(main, pos(27, 16))
    assert general[0].uri == uri_of(stdlib_dir() / "general.eval") and general[0].range == span(6, 9, 16)
    models = editor.definition(main, pos(27, 23))  # the keyword argument `models` → the template's parameter
    assert models[0].uri == general[0].uri and models[0].range == span(7, 2, 8)
    assert _where(editor.definition(main, pos(0, 10))) == [("shared.eval", span(0, 0, 0))]  # the import
    assert _where(editor.definition(main, pos(16, 15))) == [("main.eval", span(8, 7, 13))]  # assert mean(em_raw)


def test_find_references_across_files(editor: Editor, main: str) -> None:
    found = editor.references(main, pos(13, 14))
    assert _where(found) == [
        ("shared.eval", span(1, 6, 11)),
        ("main.eval", span(13, 13, 18)),
        ("main.eval", span(22, 13, 18)),
        ("main.eval", span(27, 31, 36)),
    ]
    assert _where(editor.references(main, pos(13, 14), declaration=False)) == _where(found)[1:]


def test_rename_across_files(editor: Editor, main: str) -> None:
    assert editor.prepare_rename(main, pos(13, 14)) == span(13, 13, 18)
    edit = editor.rename(main, pos(13, 14), "tiny")
    assert {Path(u).name: [(e.range, e.new_text) for e in edits] for u, edits in (edit.changes or {}).items()} == {
        "shared.eval": [(span(1, 6, 11), "tiny")],
        "main.eval": [(span(13, 13, 18), "tiny"), (span(22, 13, 18), "tiny"), (span(27, 31, 36), "tiny")],
    }


def test_renaming_the_stdlib_is_refused(editor: Editor, main: str) -> None:
    with pytest.raises(JsonRpcException, match=r"`general` is defined in the standard library \(std/general\)"):
        editor.prepare_rename(main, pos(27, 16))
    with pytest.raises(JsonRpcException, match="cannot be renamed"):
        editor.rename(main, pos(27, 16), "mine")
    with pytest.raises(JsonRpcException, match="not a valid name"):
        editor.rename(main, pos(13, 14), "2fast")


def test_document_symbols(editor: Editor, main: str) -> None:
    symbols = editor.symbols(main)
    assert [(s.name, s.kind, s.detail) for s in symbols] == [
        ("trivia", types.SymbolKind.Struct, "dataset"),
        ("inline", types.SymbolKind.Struct, "dataset"),
        ("em_raw", types.SymbolKind.Function, "metric = exact_match(...)"),
        ("qa", types.SymbolKind.Method, "eval"),
        ("sums", types.SymbolKind.Method, "eval"),
        ("suite", types.SymbolKind.Method, "eval = general(...)"),
    ]
    qa = symbols[3]
    assert qa.range == types.Range(start=pos(10, 0), end=pos(17, 1)) and qa.selection_range == span(10, 5, 7)
    assert [c.name for c in qa.children or []] == ["dataset", "prompt", "models", "target", "metrics"]


def test_workspace_symbols(editor: Editor, main: str) -> None:
    found = editor.workspace_symbols("sma")
    assert [(s.name, s.kind, Path(s.location.uri).name) for s in found] == [
        ("small", types.SymbolKind.Class, "shared.eval"),
    ]
    assert found[0].location.range == span(1, 6, 11)
    everything = {s.name for s in editor.workspace_symbols("")}
    assert {"trivia", "qa", "suite", "general", "truthfulqa"} <= everything


def test_template_instances_and_their_members(editor: Editor, workspace: Path) -> None:
    text = (
        'import "std/truthfulqa"\nmodel small { provider = "mock" }\n'
        "eval tqa = truthfulqa(models = [small], limit = 5)\n"
        "eval again {\n  dataset = tqa.questions\n}\n"
    )
    uri = editor.open(workspace / "instances.eval", text)
    editor.diagnostics(uri, 1)
    [member] = editor.definition(uri, pos(4, 16))  # tqa.questions → the template's own dataset
    assert member.uri == uri_of(stdlib_dir() / "truthfulqa.eval") and member.range == span(16, 10, 19)
    assert editor.hover(uri, pos(2, 6)) == "**eval tqa** — a template instance: `tqa.gen`, `tqa.mc1`, `tqa.mc2`"
    with pytest.raises(JsonRpcException, match="standard library"):
        editor.prepare_rename(uri, pos(4, 16))


def test_hover_inside_the_stdlib(editor: Editor) -> None:
    general = stdlib_dir() / "general.eval"
    uri = editor.open(general)
    text = general.read_text(encoding="utf-8").split("\n")
    line = next(i for i, t in enumerate(text) if t.strip() == "prompt     = ask")
    column = text[line].index("ask") + 1
    assert editor.hover(uri, pos(line, column)) == (
        "**prompt ask** — defined in template `general`: each instance has its own, `INSTANCE.ask`"
    )
    assert _where(editor.definition(uri, pos(line, column))) == [("general.eval", span(17, 9, 12))]


def test_hover_a_model_with_settings_its_provider_leaves_unset(editor: Editor, workspace: Path) -> None:
    """An http model's `url` and `output` are not dumped when unset: hovering one that sets them shows them."""
    text = (
        'model svc { provider = "http", url = "http://127.0.0.1:9/x", output = "response.text" }\n'
        'dataset d { rows = [{ q = "a" }] }\n'
        'eval e { dataset = d, prompt = "{{ q }}", models = [svc], target = "a", metrics = [contains] }\n'
    )
    uri = editor.open(workspace / "svc.eval", text)
    editor.diagnostics(uri, 1)
    hovered = editor.hover(uri, pos(2, 53))  # models = [svc]
    assert hovered == (
        '**model svc** — provider `http`\n\nSettings: url = "http://127.0.0.1:9/x", output = "response.text"'
    )
