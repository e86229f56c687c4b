"""Quick fixes for every "did you mean" diagnostic, and format document, over stdio."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaldsl import api
from tests.lsp.client import Editor, apply

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "diagnostics"

_EVAL = 'dataset trivia {{ path = "data/qa.jsonl" }}\nmodel grader {{ provider = "mock" }}\n{}\n'
# One spec for each producer of a "did you mean" that the golden specs do not already cover.
EXTRA = {
    "unknown_dataset": _EVAL.format("eval e {\n  dataset = trivai\n  models = [grader]\n  metrics = [f1]\n}"),
    "unknown_stdlib_module": 'import "std/genral"\n' + _EVAL.format(""),
    "unknown_template": 'import "std/general"\n' + _EVAL.format("eval x = generl(models = [grader], data = trivia)"),
    "assert_not_computed": _EVAL.format(
        "eval e {\n  dataset = trivia\n  models = [grader]\n  metrics = [f1]\n  assert mean(f11) >= 0.5\n}"
    ),
    "unknown_aggregate": _EVAL.format(
        "eval e {\n  dataset = trivia\n  models = [grader]\n  metrics = [f1]\n  assert meen(f1) >= 0.5\n}"
    ),
    "judge_model": _EVAL.format('judge j {\n  model = gradr\n  rubric = "Is it right?"\n}'),
    "provider_choice": 'model m { provider = "mok" }\n',
    "unknown_metric_in_list": _EVAL.format(
        "eval e {\n  dataset = trivia\n  models = [grader]\n  metrics = [exact_mach]\n}"
    ),
}


def _cases() -> list[tuple[str, Path | None, str]]:
    """Golden specs with a did-you-mean in the file itself (their imported helpers included), and EXTRA."""
    cases: list[tuple[str, Path | None, str]] = []
    for path in sorted([*GOLDEN.glob("*.eval"), *GOLDEN.glob("lib/*.eval")]):
        if not path.is_file():
            continue
        result = api.check(path)
        here = str(path.resolve())
        if any("did you mean" in (d.hint or d.message) and d.span and d.span.file == here for d in result.diagnostics):
            cases.append((path.stem, path, path.read_text(encoding="utf-8")))
    cases += [(name, None, text) for name, text in EXTRA.items()]
    return cases


@pytest.mark.parametrize(("name", "path", "text"), _cases(), ids=[c[0] for c in _cases()])
def test_every_did_you_mean_has_a_quick_fix_that_fixes_it(
    editor: Editor, workspace: Path, name: str, path: Path | None, text: str
) -> None:
    path = path or workspace / f"fix_{name}.eval"
    uri = editor.open(path, text)
    shown = [d for d in editor.diagnostics(uri, 1) if d.data]
    assert shown, "expected a did-you-mean diagnostic in this file"
    for d in shown:
        fix = d.data["fix"]
        actions = editor.code_actions(uri, d.range, [d])
        assert [(a.title, a.is_preferred, a.kind) for a in actions] == [(f"Replace with `{fix}`", True, "quickfix")]
        assert actions[0].edit is not None and list(actions[0].edit.changes or {}) == [uri]
        fixed = apply(text, actions[0].edit.changes[uri])
        after = api.check(path, fixed).diagnostics
        gone = d.message.split("\n")[0]
        assert gone not in [a.message for a in after], f"{gone!r} still reported after the fix:\n{fixed}"
        assert fix in fixed


def test_no_action_for_other_diagnostics(editor: Editor, workspace: Path) -> None:
    uri = editor.open(workspace / "nofix.eval", "dataset a { rows = [] }\n")
    [d] = editor.diagnostics(uri, 1)
    assert d.code == "E316" and editor.code_actions(uri, d.range, [d]) == []


def test_format_document_gives_the_formatters_text(editor: Editor, workspace: Path) -> None:
    path = workspace / "messy.eval"
    text = (
        '# models\nmodel m {provider="mock"}   # the mock\n'
        'dataset trivia {path="data/qa.jsonl",limit=2}\n'
        'prompt p = """\n    Q: {{ question }}  \n"""\n'
        "eval e {dataset=trivia\nprompt=p\nmodels=[m]\n  metrics=[f1,\n exact_match]}  # é ✓\n"
    )
    uri = editor.open(path, text)
    edits = editor.formatting(uri)
    expected = (
        "# models\n"
        'model m { provider = "mock" }  # the mock\n'
        "\n"
        "dataset trivia {\n"
        '  path  = "data/qa.jsonl"\n'
        "  limit = 2\n"
        "}\n"
        "\n"
        'prompt p = """\n    Q: {{ question }}  \n"""\n'
        "\n"
        "eval e {\n"
        "  dataset = trivia\n"
        "  prompt  = p\n"
        "  models  = [m]\n"
        "  metrics = [\n"
        "    f1,\n"
        "    exact_match,\n"
        "  ]\n"
        "}  # é ✓\n"
    )
    assert len(edits) == 1 and apply(text, edits) == expected
    again = editor.open(workspace / "tidy.eval", expected)
    assert editor.formatting(again) == []  # already formatted: nothing to change
    broken = editor.open(workspace / "broken_fmt.eval", "eval e {\n")
    assert editor.formatting(broken) == []  # does not parse: left as it is
