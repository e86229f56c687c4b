"""The Pygments lexer: registered as an entry point Pygments finds by name and file name, no Error token on any
.eval of the repository that the parser's lexer accepts, and the token kinds a theme colours."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
from lark.exceptions import UnexpectedInput
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from evaldsl.compile.syntax import _tokens
from evaldsl.highlight import BLOCK_KEYWORDS, EvalDslLexer
from tests.test_fmt import DOC_BLOCKS, EVAL_FILES, ROOT


def _lex(text: str) -> list[tuple[object, str]]:
    return list(EvalDslLexer(stripnl=False, ensurenl=False).get_tokens(text))


def _lexable(path: Path) -> str | None:
    """The file's text when the parser's lexer accepts all of it (else the highlighter may show errors)."""
    try:
        text = path.read_bytes().decode("utf-8")
        list(_tokens(text))
    except (UnicodeDecodeError, UnexpectedInput):
        return None
    return text


@pytest.mark.parametrize("path", EVAL_FILES, ids=[str(p.relative_to(ROOT)) for p in EVAL_FILES])
def test_every_repository_file_lexes_without_error_tokens(path: Path) -> None:
    text = _lexable(path)
    if text is None:
        pytest.skip("a golden file the parser's lexer rejects (E101/E102)")
    tokens = _lex(text)
    assert [v for t, v in tokens if t in Error] == []
    assert "".join(v for _, v in tokens) == text


def test_docs_blocks_lex_without_error_tokens() -> None:
    for name, block in DOC_BLOCKS:
        assert [v for t, v in _lex(block) if t in Error] == [], name


def test_token_kinds() -> None:
    text = textwrap.dedent('''\
        import "std/general"  # note
        eval qa {
          dataset = trivia
          target  = "{{ answer }} and {% if x %}\\"y\\"{% endif %}"
          where   = `row.n > 1`
          limit   = -1.5e3
          assert mean(f1) >= 0.5
        }
        prompt p = """
          Q: {{ question }}
        """
        ''')
    kinds = {(v, t) for t, v in _lex(text) if v.strip()}
    for expected in [("import", Keyword.Namespace), ("# note", Comment.Single), ("eval", Keyword.Declaration),
                     ("qa", Name.Class), ("dataset", Name.Attribute), ("{{ answer }}", None), ("{{", String.Interpol),
                     ("`", String.Backtick), ("-1.5e3", Number), (">=", Operator), ("mean", Name.Function),
                     ("prompt", Keyword.Declaration), ("p", Name.Class), ('\\"', String.Escape)]:
        if expected[1] is not None:
            assert expected in kinds, expected
    assert ("trivia", Name) in kinds and ("0.5", Number) in kinds


def test_block_keywords_cover_the_schema() -> None:
    from evaldsl.compile.schema import BLOCKS

    assert set(BLOCKS) <= set(BLOCK_KEYWORDS)


def test_the_entry_point_is_declared_and_pygments_finds_it(tmp_path: Path) -> None:
    """The declaration in pyproject.toml, installed as package metadata in a scratch site folder, is found by
    Pygments' own plugin lookup (by name, alias and file name) in a fresh interpreter."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["entry-points"]["pygments.lexers"]
    assert declared == {"evaldsl": "evaldsl.highlight:EvalDslLexer"}
    assert any(d.split(">")[0].split("=")[0].strip() == "pygments" for d in project["dependencies"])
    dist = tmp_path / "evaldsl_probe-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evaldsl-probe\nVersion: 0.0\n", encoding="utf-8")
    lines = "".join(f"{k} = {v}\n" for k, v in declared.items())
    (dist / "entry_points.txt").write_text(f"[pygments.lexers]\n{lines}", encoding="utf-8")
    probe = (
        "from pygments.lexers import get_lexer_by_name, get_lexer_for_filename\n"
        "a = get_lexer_by_name('evaldsl'); b = get_lexer_for_filename('spec.eval')\n"
        "print(type(a).__module__, type(a).__name__, type(b).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["evaldsl.highlight", "EvalDslLexer", "EvalDslLexer"]
