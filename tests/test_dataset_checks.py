"""`evaldsl check` reads every row: fields only some rows have, guards, malformed rows, CSV columns, template
arguments naming fields, python metrics resolved statically; and the guards render in a real mock run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.compile.checks import context
from evaldsl.datasets.rows import DatasetError, load_rows

# 15 rows, like the README's trivia file: `aliases` only on rows 1, 4, 7, 10, 13 (10 of 15 rows lack it).
ROWS: list[dict[str, Any]] = [
    {"question": f"Question {i}?", "answer": f"answer {i}", **({"aliases": [f"alias {i}"]} if i % 3 == 0 else {})}
    for i in range(15)
]


def write_jsonl(folder: Path, rows: list[dict[str, Any]], name: str = "data.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def spec_text(target: str = "`[answer] + (aliases or [])`", *, prompt: str = '"Q: {{ question }}"',
              data: str = "data.jsonl", extra: str = "", response: str = "{{ answer }}") -> str:
    return f"""
dataset trivia {{ path = "{data}" }}
model dry {{
  provider = "mock"
  response = "{response}"
}}
{extra}
eval qa {{
  dataset = trivia
  prompt  = {prompt}
  models  = [dry]
  target  = {target}
  metrics = [exact_match]
}}
"""


def check(folder: Path, text: str) -> api.CheckResult:
    spec = folder / "spec.eval"
    spec.write_text(text, encoding="utf-8")
    return api.check(spec)


def codes(result: api.CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# ---- fields only some rows have ------------------------------------------------------------------------------


def test_field_missing_from_the_first_row_is_e321_with_a_default_hint(tmp_path: Path) -> None:
    rows = [ROWS[1], ROWS[0], *ROWS[2:]]  # row 1 lacks `aliases`
    write_jsonl(tmp_path, rows)
    result = check(tmp_path, spec_text())
    (d,) = result.errors
    assert d.code == "E321"
    assert "`aliases` is missing from 10 of 15 rows" in d.message
    assert d.hint is not None and "`aliases | default([])`" in d.hint


def test_field_missing_from_later_rows_is_e321(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)  # row 1 has `aliases`: inferring from the first row would miss the other ten
    result = check(tmp_path, spec_text("`row.aliases`"))
    assert codes(result) == ["E321"]
    assert result.errors[0].hint is not None and "`row.aliases | default([])`" in result.errors[0].hint


@pytest.mark.parametrize(
    "target",
    [
        "`[answer] + (aliases | default([]))`",
        "`[answer] + row.get(\"aliases\", [])`",
        "`[answer] + (row.get(\"aliases\") or [])`",
        "`[answer] + (row.aliases if \"aliases\" in row else [])`",
        "`[answer] + (aliases if aliases is defined else [])`",
        "`\"aliases\" in row and aliases or [answer]`",
        "\"{% if aliases is defined %}{{ aliases[0] }}{% else %}{{ answer }}{% endif %}\"",
    ],
)
def test_guarded_reads_are_accepted(tmp_path: Path, target: str) -> None:
    write_jsonl(tmp_path, [ROWS[1], ROWS[0], *ROWS[2:]])  # row 1 lacks `aliases`
    result = check(tmp_path, spec_text(target))
    assert result.ok and not result.diagnostics, [d.message for d in result.diagnostics]


def test_a_where_that_requires_the_field_makes_it_safe_for_the_eval(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    text = spec_text("`aliases`").replace(
        'dataset trivia { path = "data.jsonl" }', 'dataset trivia { path = "data.jsonl", where = `"aliases" in row` }'
    )
    result = check(tmp_path, text)
    assert result.ok and not result.diagnostics, [d.message for d in result.diagnostics]


def test_a_field_in_no_row_stays_e309(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    result = check(tmp_path, spec_text("`[answer] + (alias or [])`"))
    (d,) = result.errors
    assert d.code == "E309" and d.hint == "did you mean `aliases`?"


def test_a_guard_on_a_field_in_no_row_is_a_warning(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    result = check(tmp_path, spec_text('`[answer] + row.get("aliasse", [])`'))
    assert result.ok
    (d,) = result.diagnostics
    assert d.code == "W304" and d.hint == "did you mean `aliases`?"


def test_a_mock_reply_reading_a_partial_field_is_a_warning(tmp_path: Path) -> None:
    """A mock model's reply stands in for a model: rows where it fails are model errors, by design."""
    write_jsonl(tmp_path, ROWS)
    result = check(tmp_path, spec_text('"{{ answer }}"', response="{{ aliases }}"))
    assert result.ok and codes(result) == ["W306"]


def test_derived_field_reading_a_partial_field_is_reported_once_at_its_definition(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    text = spec_text('"{{ first }}"').replace(
        'dataset trivia { path = "data.jsonl" }',
        'dataset trivia {\n  path = "data.jsonl"\n  field first = `row.aliases[0]`\n}',
    )
    result = check(tmp_path, text)
    (d,) = result.errors
    assert d.code == "E321" and d.span is not None and d.span.line == 4  # the field, not the prompt using it
    assert "before field `first`" in d.message
    assert result.spec is not None
    ctx = context.CheckContext(result.spec)
    derived = ctx.profile("trivia")
    assert derived is not None and derived.presence("first") == "some"


def test_derived_field_with_a_guard_is_present_in_every_row(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    text = spec_text('`[answer] + names`').replace(
        'dataset trivia { path = "data.jsonl" }',
        'dataset trivia {\n  path = "data.jsonl"\n  field names = `aliases | default([])`\n}',
    )
    result = check(tmp_path, text)
    assert result.ok and not result.diagnostics
    assert result.spec is not None
    found = context.CheckContext(result.spec).profile("trivia")
    assert found is not None
    names = found.field("names")
    assert names is not None and names.presence == "all" and dict(names.types) == {"list": 15}


def test_inline_rows_take_part(tmp_path: Path) -> None:
    text = """
dataset qa { rows = [ { q = "a", tag = "x" }, { q = "b" } ] }
model dry { provider = "mock" }
eval e { dataset = qa, prompt = "{{ q }} {{ tag }}", models = [dry], target = "{{ q }}", metrics = [exact_match] }
"""
    result = check(tmp_path, text)
    (d,) = result.errors
    assert d.code == "E321" and "missing from 1 of 2 rows" in d.message


# ---- types -------------------------------------------------------------------------------------------------


def test_choices_reading_a_string_field_is_e322(tmp_path: Path) -> None:
    write_jsonl(tmp_path, [{"q": "x", "options": "a;b", "labels": [1, 0]}] * 3)
    text = """
dataset mc { path = "data.jsonl" }
model dry { provider = "mock" }
eval e {
  mode = "choice"
  dataset = mc
  prompt = "{{ q }}"
  models = [dry]
  choices = `row.options`
  labels = `row.labels`
  metrics = [accuracy]
}
"""
    result = check(tmp_path, text)
    (d,) = result.errors
    assert d.code == "E322" and "but `row.options` is str in 3 of 3 rows of dataset `mc`" in d.message
    assert d.hint is not None and "split_list" in d.hint
    fixed = check(tmp_path, text.replace("`row.options`", '`row.options | split_list(";")`'))
    assert fixed.ok and not fixed.diagnostics


def test_split_on_a_field_that_is_a_list_in_some_rows_is_e322(tmp_path: Path) -> None:
    write_jsonl(tmp_path, [{"q": "x", "answers": "a; b"}, {"q": "y", "answers": ["c", "d"]}])
    result = check(tmp_path, spec_text('`row.answers.split("; ")`', prompt='"{{ q }}"', response="{{ q }}"))
    (d,) = result.errors
    assert d.code == "E322" and "`answers` is list in 1 row" in d.message
    guarded = check(tmp_path, spec_text(
        '`row.answers.split("; ") if row.answers is string else row.answers`', prompt='"{{ q }}"', response="{{ q }}"))
    assert guarded.ok and not guarded.diagnostics


def test_target_reading_a_number_is_e322(tmp_path: Path) -> None:
    write_jsonl(tmp_path, [{"q": "1+1", "n": 2}])
    result = check(tmp_path, spec_text("`row.n`", prompt='"{{ q }}"', response="{{ q }}"))
    assert codes(result) == ["E322"]
    assert check(tmp_path, spec_text('"{{ n }}"', prompt='"{{ q }}"', response="{{ q }}")).ok


# ---- malformed rows ------------------------------------------------------------------------------------------


def test_bad_json_on_line_2_fails_check_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text('{"question": "a", "answer": "b"}\n{"question": "c", "answer": \n')
    result = check(tmp_path, spec_text('"{{ answer }}"'))
    (d,) = result.errors
    assert d.code == "E320" and "data.jsonl:2: not valid JSON" in d.message
    assert d.span is not None and d.span.line == 2  # the spec's `path`


def test_many_malformed_rows_are_counted_not_all_listed(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text("".join("oops\n" if i % 2 else '{"question": "a", "answer": "b"}\n'
                                                 for i in range(40)))
    result = check(tmp_path, spec_text('"{{ answer }}"'))
    assert codes(result) == ["E320"] * 6
    assert "15 more malformed rows" in result.errors[-1].message and "(20 in all)" in result.errors[-1].message


CSV_SPEC = spec_text('"{{ answer }}"', data="data.csv")


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("question,answer\nq1,a1\nq2\nq3,a3\n", 3, "1 column where the header has 2 (too few)"),
        ('question,answer\nq1,a1\n"q2\nstill q2",a2,oops\n', 3, "3 columns where the header has 2 (too many)"),
    ],
)
def test_csv_rows_with_the_wrong_number_of_columns(tmp_path: Path, body: str, line: int, words: str) -> None:
    (tmp_path / "data.csv").write_text(body, encoding="utf-8")
    result = check(tmp_path, CSV_SPEC)
    (d,) = result.errors
    assert d.code == "E320" and f"data.csv:{line}: {words}" in d.message
    # At run time the same file is a clear error at that line (never a "None" reference, never a TypeError).
    assert result.spec is not None
    with pytest.raises(DatasetError, match=rf"data\.csv:{line}: {words.replace('(', '[(]').replace(')', '[)]')}"):
        load_rows(result.spec.datasets["trivia"])


# ---- template arguments that name fields ---------------------------------------------------------------------


def test_std_general_answer_field_typo_points_at_the_argument(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    text = """import "std/general"
dataset trivia { path = "data.jsonl" }
model dry { provider = "mock" }
eval g = general(models = [dry], data = trivia, answer_field = "answr")
"""
    result = check(tmp_path, text)
    (d,) = result.errors
    assert d.code == "E309"
    assert "`answr` (template argument `answer_field`" in d.message
    assert d.hint == "did you mean `answer`?"
    assert d.span is not None and (d.span.line, d.span.column) == (4, 64)
    assert check(tmp_path, text.replace('"answr"', '"answer"')).ok


def test_a_defaulted_template_argument_points_at_the_instance(tmp_path: Path) -> None:
    write_jsonl(tmp_path, [{"Question": "q", "answer": "a"}])
    text = """import "std/general"
dataset trivia { path = "data.jsonl" }
model dry { provider = "mock" }
eval g = general(models = [dry], data = trivia)
"""
    result = check(tmp_path, text)
    (d,) = result.errors
    assert d.code == "E309" and "template argument `question_field`" in d.message
    assert d.span is not None and d.span.line == 4 and d.hint == "did you mean `Question`?"


# ---- python metrics --------------------------------------------------------------------------------------------


def test_a_missing_python_metric_module_fails_check(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    (tmp_path / "my_metrics.py").write_text("def f(prediction, references, row):\n    return 1.0\n")
    extra = 'metric mine = python("my_metricz:f")'
    result = check(tmp_path, spec_text('"{{ answer }}"', extra=extra).replace("[exact_match]", "[mine]"))
    (d,) = result.errors
    assert d.code == "E323" and "module `my_metricz` not found" in d.message
    assert d.hint == "did you mean `my_metrics`?"
    assert d.span is not None and d.span.line == 7 and d.span.column == 15  # the python(...) call


# ---- the guards at run time ----------------------------------------------------------------------------------


def test_guards_render_in_a_mock_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ROWS)
    prompt = '"Q: {{ question }}{% if \\"aliases\\" in row %} (also: {{ aliases | join(\\", \\") }}){% endif %}"'
    text = spec_text(
        '`[answer] + (aliases | default([])) + row.get("aliases", [])`',
        prompt=prompt,
        response='{{ row.get(\\"aliases\\", [answer])[0] }}',
    )
    spec = tmp_path / "spec.eval"
    spec.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(spec), "--format", "json", "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (res,) = data["results"]
    assert res["n"] == 15 and res["errors"] == 0
    assert res["metrics"]["exact_match"]["value"] == 1.0  # the alias (5 rows) or the answer (10 rows) matches
