"""The language server's per-statement parse cache gives exactly what parsing the whole file gives: the same
syntax tree and the same diagnostics, for valid specs, edited ones (lines moved) and broken ones."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldsl import api
from evaldsl.compile.resolve import load_module
from evaldsl.lsp.parsing import ParseCache, statements
from tests.test_fuzz import SEED_SPECS, mutate, token_soup

ROOT = Path(__file__).resolve().parents[2]


def _specs() -> list[Path]:
    found = [*ROOT.glob("specs/*.eval"), *ROOT.glob("stdlib/*.eval"), *ROOT.glob("tests/golden/*/*.eval")]
    return sorted(p for p in found if p.is_file())


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@pytest.mark.parametrize("path", _specs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_repository_spec_parses_the_same(path: Path) -> None:
    text = _text(path)
    if text is None:
        pytest.skip("not a UTF-8 file")
    cache = ParseCache()
    assert cache(path, text) == load_module(path, text)
    assert cache(path, text) == load_module(path, text)  # from memory


def test_statements_start_at_names_in_column_one_outside_brackets() -> None:
    text = 'dataset d {\n  path = "x"\n}\n# note\nmodel m = "a/b"\nprompt p = """\nmodel\n"""\neval e {\nx = [\n]\n}\n'
    assert [line for _, line in statements(text)] == [1, 5, 6, 9]


def test_an_edit_that_moves_lines_reuses_statements_at_their_new_place() -> None:
    path = SEED_SPECS[0]
    text = path.read_text(encoding="utf-8")
    cache = ParseCache()
    cache(path, text)
    moved = "# a new first line\n" + text
    assert cache(path, moved) == load_module(path, moved)
    broken = moved.replace("{", "{ = ", 3)
    assert cache(path, broken) == load_module(path, broken)


def test_check_through_the_cache_gives_the_same_diagnostics() -> None:
    cache = ParseCache()
    for path in SEED_SPECS:
        text = path.read_text(encoding="utf-8")
        for edited in (text, text.replace("dataset", "datset", 1), text.replace("}", "", 1), text[: len(text) // 2]):
            expected = api.check(path, edited)
            assert api.check(path, edited, parser=cache).diagnostics == expected.diagnostics


_CACHE = ParseCache()  # shared across examples: later ones meet statements cached at other lines


@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=500)
@given(st.randoms(use_true_random=False))
def test_mutated_specs_parse_the_same(rnd: random.Random) -> None:
    seed = rnd.choice(SEED_SPECS)
    original = seed.read_text(encoding="utf-8")
    text = mutate(original, rnd) if rnd.random() < 0.9 else token_soup(rnd)
    assert _CACHE(seed, text) == load_module(seed, text)
    for before, after in ((original, text), (text, original), (text, mutate(text, rnd))):
        assert statements(after, (before, statements(before))) == statements(after)


def test_value_errors_of_a_later_statement_keep_their_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = 'dataset d { rows = [{ q = "a" }] }\n\n\nprompt p {\n  user = "x"\n  k = 2question\n}\n'
    path = tmp_path / "spec.eval"
    cached, whole = ParseCache()(path, text), load_module(path, text)
    assert cached == whole and [d.span.line for d in whole[1] if d.span] == [6]
