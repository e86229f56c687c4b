"""`evaldsl fmt` on every .eval of the repository and every spec in the docs: same graph, same tokens and
comments, idempotent; and the command: --check, --diff, stdin, folders, files that do not parse."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.compile.fmt import comments, format_source
from evaldsl.compile.syntax import _tokens
from evaldsl.diagnostics import CompileError

ROOT = Path(__file__).resolve().parent.parent
_SKIP = {".git", ".venv", "node_modules", "__pycache__"}
EVAL_FILES = sorted(
    p for p in ROOT.rglob("*.eval") if p.is_file() and not _SKIP & set(p.relative_to(ROOT).parts)
)
_FENCE = re.compile(r"^( *)```evaldsl\n(.*?)^\1```", re.S | re.M)
DOC_BLOCKS = [
    (f"{doc.relative_to(ROOT)}#{i}", textwrap.dedent(block))
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for i, (_, block) in enumerate(_FENCE.findall(doc.read_text(encoding="utf-8")))
]


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except (UnicodeDecodeError, OSError):
        return None


@functools.cache
def _formatted() -> dict[Path, str]:
    """Every repository .eval that parses, formatted (used as the overlay, so imports see formatted files)."""
    out = {}
    for path in EVAL_FILES:
        text = _read(path)
        if text is None:
            continue
        try:
            out[path.resolve()] = format_source(text, str(path))
        except CompileError:
            pass
    return out


def _lossless(before: str, after: str) -> None:
    """The same tokens (the optional commas aside) with the same text, and the same comments."""
    def toks(text: str) -> list[tuple[str, str]]:
        return [(t.type, str(t)) for t in _tokens(text) if t.type != "COMMA"]

    assert toks(after) == toks(before)
    assert [c.text for c in comments(after)] == [c.text for c in comments(before)]


def test_there_are_files_and_doc_blocks() -> None:
    assert len(EVAL_FILES) > 50 and any(p.parts[-2] == "stdlib" for p in EVAL_FILES)
    assert any(p.name == "language.eval" for p in EVAL_FILES)  # every example of the language sketch
    assert len(DOC_BLOCKS) >= 5


@pytest.mark.parametrize("path", EVAL_FILES, ids=[str(p.relative_to(ROOT)) for p in EVAL_FILES])
def test_every_repository_file_formats_losslessly_to_the_same_graph(path: Path) -> None:
    text = _read(path)
    if text is None:
        pytest.skip("not UTF-8: a golden file for E002")
    try:
        formatted = format_source(text, str(path))
    except CompileError as exc:
        # only a syntax error (E1xx) or a parse-time limit (nesting, numbers, size: E004-E006) stops the formatter
        assert all(d.code[:2] == "E1" or d.code in ("E004", "E005", "E006") for d in exc.diagnostics)
        assert exc.diagnostics
        return
    _lossless(text, formatted)
    assert format_source(formatted, str(path)) == formatted  # idempotent
    before = api.check(path)
    after = api.check(path, formatted, overlay=_formatted())
    assert [(d.code, d.message) for d in after.diagnostics] == [(d.code, d.message) for d in before.diagnostics]
    if before.ok and before.spec is not None and before.spec.evals:
        assert after.spec is not None
        assert api.plan(after.spec).graph_hash == api.plan(before.spec).graph_hash


@pytest.mark.parametrize("name,block", DOC_BLOCKS, ids=[n for n, _ in DOC_BLOCKS])
def test_every_spec_in_the_docs_formats_losslessly(name: str, block: str) -> None:
    formatted = format_source(block, name)
    _lossless(block, formatted)
    assert format_source(formatted, name) == formatted
    if name.startswith("docs/editors.md"):  # the style guide's example is formatted
        assert formatted == block


def test_the_style() -> None:
    messy = (
        '# header\n\n\n\nimport "std/general"\n'
        'dataset d {path="a.jsonl",limit=2}\n'
        "model m {provider = \"mock\"}   # trailing\n"
        "eval e {dataset=d\n\n\n  # why\n  models=[m]\n  metrics=[f1,\n bleu]\n"
        "  assert mean(f1)>=0.5}\n"
        "metric x = regex(pattern = \"a\",\n  ignore_case = true)\n"
    )
    assert format_source(messy) == (
        "# header\n"
        "\n"
        'import "std/general"\n'
        "\n"
        "dataset d {\n"
        '  path  = "a.jsonl"\n'
        "  limit = 2\n"
        "}\n"
        "\n"
        'model m { provider = "mock" }  # trailing\n'
        "\n"
        "eval e {\n"
        "  dataset = d\n"
        "\n"
        "  # why\n"
        "  models  = [m]\n"
        "  metrics = [\n"
        "    f1,\n"
        "    bleu,\n"
        "  ]\n"
        "  assert mean(f1) >= 0.5\n"
        "}\n"
        "\n"
        "metric x = regex(\n"
        '  pattern = "a",\n'
        "  ignore_case = true,\n"
        ")\n"
    )


def test_comments_stay_where_they_were() -> None:
    text = (
        "# own line at the top\n"
        "eval e {  # after the brace\n"
        "  # before models\n"
        "  models = [  # after the bracket\n"
        "    a,  # after a\n"
        "    # before b\n"
        "    b,\n"
        "    # at the end of the list\n"
        "  ]\n"
        "  limit = # between = and the value\n"
        "    3\n"
        "  # at the end of the block\n"
        "}\n"
        "# at the end of the file\n"
    )
    formatted = format_source(text)
    _lossless(text, formatted)
    assert format_source(formatted) == formatted
    lines = formatted.splitlines()
    assert lines[1].startswith("eval e {") and lines[1].endswith("# after the brace")
    assert re.search(r"\n    a, +# after a\n", formatted) and "  # before models\n  models" in formatted
    assert re.search(r"\n  limit += +# between = and the value\n    3\n", formatted)
    assert lines[-2] == "" and lines[-1] == "# at the end of the file"


def test_strings_expressions_and_jinja_are_kept_byte_for_byte() -> None:
    text = (
        'prompt p = """\n   Q: {{ question }}   \n\t{% if x %}#not a comment{% endif %}\n"""\n'
        'dataset d { where = `row["a"]  ==  "b # c"` }\n'
        'model m { response = "{{answer}}  #x \\" y" }\n'
    )
    formatted = format_source(text)
    _lossless(text, formatted)
    for piece in ('"""\n   Q: {{ question }}   \n\t{% if x %}#not a comment{% endif %}\n"""',
                  '`row["a"]  ==  "b # c"`', '"{{answer}}  #x \\" y"'):
        assert piece in formatted
    assert comments(formatted) == []


def test_a_file_that_does_not_parse_raises_the_syntax_diagnostic() -> None:
    with pytest.raises(CompileError) as info:
        format_source("eval e {\n  limit = \n}\n", "x.eval")
    assert [d.code for d in info.value.diagnostics] == ["E100"]


# ---- the command ---------------------------------------------------------------------------------------------

MESSY = 'model m {provider="mock"}\ndataset d {path="a.jsonl" , limit=2}\n'
TIDY = format_source(MESSY)


def _fmt(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "evaldsl", "fmt", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )


def test_fmt_rewrites_files_and_walks_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    a, b, hidden = tmp_path / "a.eval", tmp_path / "sub" / "b.eval", tmp_path / ".hidden" / "c.eval"
    for p in (a, b, hidden):
        p.write_text(MESSY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    done = _fmt(cwd=tmp_path)  # no path: the current folder
    assert done.returncode == 0, done.stderr
    assert a.read_text(encoding="utf-8") == TIDY and b.read_text(encoding="utf-8") == TIDY
    assert hidden.read_text(encoding="utf-8") == MESSY and (tmp_path / "notes.txt").read_text() == MESSY
    assert "formatted" in done.stderr and "Traceback" not in done.stderr
    again = _fmt("--check", str(tmp_path / "a.eval"), str(tmp_path / "sub"))
    assert again.returncode == 0 and again.stdout == ""


def test_check_prints_a_diff_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "s.eval"
    spec.write_text(MESSY, encoding="utf-8")
    done = _fmt("--check", str(spec))
    assert done.returncode == 1
    assert spec.read_text(encoding="utf-8") == MESSY
    assert done.stdout.startswith(f"--- {spec}\n+++ {spec} (formatted)\n@@ ")
    assert '\n-model m {provider="mock"}\n' in done.stdout and '\n+model m { provider = "mock" }\n' in done.stdout
    assert "1 file would be reformatted" in done.stderr


def test_diff_prints_without_writing_and_exits_0(tmp_path: Path) -> None:
    spec = tmp_path / "s.eval"
    spec.write_text(MESSY, encoding="utf-8")
    done = _fmt("--diff", str(spec))
    assert done.returncode == 0 and spec.read_text(encoding="utf-8") == MESSY
    assert "+  path  = \"a.jsonl\"\n" in done.stdout


def test_dash_reads_stdin_and_writes_stdout() -> None:
    done = _fmt("-", stdin=MESSY)
    assert done.returncode == 0 and done.stdout == TIDY
    checked = _fmt("--check", "-", stdin=MESSY)
    assert checked.returncode == 1 and checked.stdout.startswith("--- <stdin>\n")
    assert _fmt("--check", "-", stdin=TIDY).returncode == 0


def test_a_file_that_does_not_parse_is_left_untouched_with_its_diagnostic(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.eval", tmp_path / "good.eval"
    bad.write_text("eval e {\n  limit = \n}\n", encoding="utf-8")
    good.write_text(MESSY, encoding="utf-8")
    done = _fmt(str(tmp_path))
    assert done.returncode == 2
    assert bad.read_text(encoding="utf-8") == "eval e {\n  limit = \n}\n"
    assert good.read_text(encoding="utf-8") == TIDY  # the others are still formatted
    assert "bad.eval:2:" in done.stderr and "error[E100]" in done.stderr and "Traceback" not in done.stderr
    piped = _fmt("-", stdin="eval e {")
    assert piped.returncode == 2 and piped.stdout == "" and "error[E103]" in piped.stderr


def test_missing_and_non_utf8_files_are_one_line_errors(tmp_path: Path) -> None:
    done = _fmt(str(tmp_path / "nope.eval"))
    assert done.returncode == 2 and "no such file or folder" in done.stderr and "Traceback" not in done.stderr
    binary = tmp_path / "b.eval"
    binary.write_bytes(b"model m \xff\n")
    done = _fmt(str(binary))
    assert done.returncode == 2 and "E002" in done.stderr and binary.read_bytes() == b"model m \xff\n"
