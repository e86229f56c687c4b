"""Golden specs (tests/golden/) → `evaldsl check` / `graph` output, compared exactly with the stored text."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Every diagnostic code the compiler emits; each must have at least one golden spec that produces it (but E006, a
# source over 8 MiB, which tests/test_check_safety.py covers).
CODES = (
    "E001 E002 E003 E004 E005 E100 E101 E102 E103 E104 E105 E106 "
    "E201 E202 E203 E204 E205 E206 E207 E208 E209 E210 "
    "E301 E302 E303 E304 E305 E306 E307 E308 E309 E310 E311 E312 E313 E314 E316 E317 E318 E319 "
    "E320 E321 E322 E323 E330 E331 E332 W301 W302 W303 W304 W305 W306"
).split()


def _load_regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_golden", ROOT / "scripts" / "regen_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("regen_golden", module)
    spec.loader.exec_module(module)
    return module


regen = _load_regen()
DIAGNOSTIC_CASES = regen.diagnostic_cases()
GRAPH_CASES = regen.graph_cases()


def _stale_hint(spec: Path) -> str:
    return f"{spec.name}: output changed; if intended, run `python scripts/regen_golden.py`, review the diff"


@pytest.mark.parametrize("spec", DIAGNOSTIC_CASES, ids=[p.stem for p in DIAGNOSTIC_CASES])
def test_check_output_matches_golden(spec: Path) -> None:
    expected_file = regen.expected_path(spec)
    assert expected_file.exists(), f"missing {expected_file.name}: run `python scripts/regen_golden.py`"
    text, code = regen.render_check(spec)
    assert text == expected_file.read_text(encoding="utf-8"), _stale_hint(spec)
    has_errors = re.search(r"\berror\[E\d{3}\]", text) is not None
    assert code == (2 if has_errors else 0)
    assert "Traceback" not in text


@pytest.mark.parametrize("spec", DIAGNOSTIC_CASES, ids=[p.stem for p in DIAGNOSTIC_CASES])
def test_named_code_is_reported(spec: Path) -> None:
    """A golden spec named after a code (e104_bad_number.eval) produces that code."""
    match = re.match(r"([ew]\d{3})_", spec.name)
    if match is None:
        pytest.skip("not named after a code")
    text = regen.expected_path(spec).read_text(encoding="utf-8")
    assert f"[{match.group(1).upper()}]" in text


def test_every_code_has_a_golden_spec() -> None:
    produced = set()
    for spec in DIAGNOSTIC_CASES:
        produced |= set(re.findall(r"\[([EW]\d{3})\]", regen.expected_path(spec).read_text(encoding="utf-8")))
    assert not set(CODES) - produced, f"codes without a golden spec: {sorted(set(CODES) - produced)}"
    assert len(DIAGNOSTIC_CASES) >= 40


def test_no_orphan_golden_outputs() -> None:
    known = {regen.expected_path(s) for s in DIAGNOSTIC_CASES + GRAPH_CASES}
    outputs = set(regen.DIAGNOSTICS.glob("*.errors.txt")) | set(regen.GRAPHS.glob("*.graph.txt"))
    assert outputs <= known, f"outputs without a spec: {sorted(p.name for p in outputs - known)}"


def test_golden_output_is_machine_independent() -> None:
    for spec in DIAGNOSTIC_CASES + GRAPH_CASES:
        text = regen.expected_path(spec).read_text(encoding="utf-8")
        assert str(ROOT) not in text and "/tmp/" not in text, spec.name


@pytest.mark.parametrize("spec", GRAPH_CASES, ids=[p.stem for p in GRAPH_CASES])
def test_graph_output_matches_golden(spec: Path) -> None:
    expected_file = regen.expected_path(spec)
    assert expected_file.exists(), f"missing {expected_file.name}: run `python scripts/regen_golden.py`"
    text, code = regen.render_graph(spec)
    assert code == 0, text
    assert text == expected_file.read_text(encoding="utf-8"), _stale_hint(spec)


def test_graph_cases_exist() -> None:
    assert 3 <= len(GRAPH_CASES)


def test_grammar_has_no_conflicts_or_token_collisions() -> None:
    """The runtime parser skips Lark's (slow) strict analysis; this is where it runs."""
    from lark import Lark

    from evaldsl.compile.syntax import grammar_text

    Lark(grammar_text(), parser="lalr", strict=True)
