"""`evaldsl check` / `graph` on good, bad, missing, folder and binary inputs → exit codes and output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from evaldsl.cli.app import app

ROOT = Path(__file__).resolve().parent.parent

GOOD = '''dataset qa {
  rows = [
    { question = "2+2?", answer = "4" },
    { question = "Capital of France?", answer = "Paris" },
  ]
}
model echo { provider = "mock" }
model oracle {
  provider = "mock"
  response = "{{ answer }}"
}
eval trivia {
  dataset = qa
  prompt  = "Question: {{ question }}"
  models  = [echo, oracle]
  target  = "{{ answer }}"
  metrics = [exact_match, f1]
  assert mean(exact_match) >= 0.25
}
eval again {
  dataset = qa
  prompt  = "Q: {{ question }}"
  models  = [oracle]
  target  = "{{ answer }}"
  metrics = [contains]
}
'''
BAD = GOOD.replace("metrics = [exact_match, f1]", "metrics = [exact_mach, f1]")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.eval"
    path.write_text(GOOD, encoding="utf-8")
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.eval"
    path.write_text(BAD, encoding="utf-8")
    return path


# ---- check ------------------------------------------------------------------------------------------------


def test_check_ok_exits_0(good: Path) -> None:
    result = invoke("check", str(good))
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{good}: ok (2 evals)"
    assert result.stderr == ""


def test_check_quiet_prints_nothing_when_ok(good: Path) -> None:
    result = invoke("check", "--quiet", str(good))
    assert result.exit_code == 0
    assert result.output == ""


def test_check_error_exits_2_with_location_and_hint(bad: Path) -> None:
    result = invoke("check", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    line = BAD.splitlines().index("  metrics = [exact_mach, f1]") + 1
    assert re.search(rf"bad\.eval:{line}:14: error\[E305\]: unknown metric `exact_mach`", result.stderr)
    assert "did you mean `exact_match`?" in result.stderr
    assert result.stderr.rstrip().endswith("1 error")


def test_check_several_files_reports_each(good: Path, bad: Path) -> None:
    result = invoke("check", str(good), str(bad), str(good))
    assert result.exit_code == 2
    assert result.stdout.count(f"{good}: ok (2 evals)") == 2
    assert "error[E305]" in result.stderr
    assert invoke("check", str(good), str(good)).exit_code == 0


def test_check_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.eval"
    result = invoke("check", str(missing))
    assert result.exit_code == 2
    assert f"error[E001]: file not found: {missing}" in result.stderr


def test_check_folder(tmp_path: Path) -> None:
    result = invoke("check", str(tmp_path))
    assert result.exit_code == 2
    assert "error[E001]" in result.stderr and "is a folder" in result.stderr


def test_check_warnings_only_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "warn.eval"
    ignored = '  text    = "{{ question }}"\n  metrics = [contains]'
    path.write_text(GOOD.replace("  metrics = [contains]", ignored))
    result = invoke("check", str(path))
    assert result.exit_code == 0
    assert "warning[W302]" in result.stderr
    assert "0 errors, 1 warning" in result.stderr


@pytest.mark.parametrize("data", [
    b"\x00\x01\x02\xff\xfe binary \x80\x81",
    bytes(range(256)),
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b'dataset qa { path = "x.jsonl" }\n\x00\x00',
])
def test_check_binary_input_is_a_diagnostic(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blob.eval"
    path.write_bytes(data)
    result = invoke("check", str(path))
    assert result.exit_code == 2
    assert re.search(r"error\[E(002|102)\]", result.stderr)


def test_real_entry_point_never_shows_a_traceback(tmp_path: Path, good: Path) -> None:
    """`python -m evaldsl check` with a missing file, a folder, binary junk and a good spec in one call."""
    blob = tmp_path / "blob.eval"
    blob.write_bytes(bytes(range(256)) * 4)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "evaldsl", "check", str(tmp_path / "missing.eval"), str(tmp_path), str(blob),
         str(good)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.count("error[E001]") == 2
    assert "error[E002]" in proc.stderr
    assert "good.eval: ok (2 evals)" in proc.stdout


# ---- graph ------------------------------------------------------------------------------------------------


def test_graph_json_is_a_consistent_graph(good: Path) -> None:
    result = invoke("graph", "--format", "json", str(good))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ids = [n["id"] for n in data["nodes"]]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for node in data["nodes"]:  # topological order: inputs come first
        assert set(node["inputs"]) <= seen, node
        assert re.fullmatch(r"[0-9a-f]{64}", node["hash"])
        seen.add(node["id"])
    assert [e["name"] for e in data["evals"]] == ["trivia", "again"]
    kinds = {n["kind"] for n in data["nodes"]}
    assert kinds == {"load", "render", "generate", "metric", "aggregate", "assert"}
    assert re.fullmatch(r"[0-9a-f]{64}", data["graph_hash"])


def test_graph_dot_is_valid_dot(good: Path) -> None:
    result = invoke("graph", "--format", "dot", str(good))
    assert result.exit_code == 0, result.output
    text = result.stdout.strip()
    assert text.startswith("digraph ") and text.endswith("}")
    body = text[text.index("{") + 1 : -1]
    declared, edges = set(), []
    quoted = r'"((?:[^"\\]|\\.)*)"'
    for line in body.strip().splitlines():
        line = line.strip()
        if m := re.fullmatch(rf"{quoted} \[label={quoted}\];", line):
            declared.add(m.group(1))
        elif m := re.fullmatch(rf"{quoted} -> {quoted};", line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.fullmatch(r"(rankdir=\w+|node \[.*\]);", line), f"not a DOT statement: {line!r}"
    graph = json.loads(invoke("graph", "--format", "json", str(good)).stdout)
    assert declared == {n["id"] for n in graph["nodes"]}
    assert {(a, b) for a, b in edges} == {(i, n["id"]) for n in graph["nodes"] for i in n["inputs"]}


def test_graph_text_names_every_eval(good: Path) -> None:
    result = invoke("graph", str(good))
    assert result.exit_code == 0
    assert "eval trivia" in result.stdout and "eval again" in result.stdout


def test_graph_selection(good: Path) -> None:
    data = json.loads(invoke("graph", "-f", "json", "--eval", "again", str(good)).stdout)
    assert [e["name"] for e in data["evals"]] == ["again"]
    unknown = invoke("graph", "--eval", "nope", str(good))
    assert unknown.exit_code == 2
    assert "no eval named nope" in unknown.stderr


def test_graph_of_a_broken_spec_exits_2(bad: Path) -> None:
    result = invoke("graph", "--format", "dot", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error[E305]" in result.stderr
