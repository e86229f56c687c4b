"""Values from CI: `env("NAME")` / `env("NAME", "default")` in attributes and `--set NAME.attribute=VALUE`,
type-checked like the file, part of the graph hash, refused where a name or a per-sample value is needed
(E377), for credential-looking variables (E378), and when unset without a default (E379)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.compile.environment import OverrideError, looks_secret
from evaldsl.run.runner import RunConfig

SPEC = """
dataset d {
  rows  = [{ q = "a", a = "a" }, { q = "b", a = "b" }, { q = "c", a = "x" }]
  limit = env("EVT_LIMIT", "2")
}
model m { provider = "mock", max_tokens = env("EVT_TOKENS", "64") }
model other { provider = "mock", response = "x" }
eval e { dataset = d, prompt = "{{ q }}", models = [m], target = "{{ a }}", metrics = [exact_match] }
"""


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("EVT_LIMIT", "EVT_TOKENS", "EVT_UNSET"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".git").mkdir()
    path = tmp_path / "spec.eval"
    path.write_text(SPEC)
    return path


def codes(path: Path, *sets: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in api.check(path, sets=sets).diagnostics]


def test_env_values_are_typed_and_hashed(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = api.check(spec)
    assert checked.ok and checked.spec is not None
    assert checked.spec.datasets["d"].limit == 2 and checked.spec.models["m"].config.generation.max_tokens == 64
    default_hash = api.compile(spec).graph_hash
    monkeypatch.setenv("EVT_LIMIT", "3")
    assert api.check(spec).spec.datasets["d"].limit == 3  # type: ignore[union-attr]
    assert api.compile(spec).graph_hash != default_hash  # the value is part of what the graph computes
    monkeypatch.setenv("EVT_LIMIT", "lots")
    (bad,) = codes(spec)
    assert bad[0] == "E303" and "`limit` must be" in bad[1]


def test_env_diagnostics(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SPEC.replace('env("EVT_TOKENS", "64")', 'env("EVT_UNSET")')
    spec.write_text(text)
    (unset,) = codes(spec)
    assert unset[0] == "E379" and "EVT_UNSET" in unset[1]
    monkeypatch.setenv("MY_SERVICE_API_KEY", "sk-live-secret-value")
    spec.write_text(SPEC.replace('response = "x"', 'response = env("MY_SERVICE_API_KEY")'))
    (secret,) = codes(spec)
    assert secret[0] == "E378" and "sk-live" not in secret[1]
    spec.write_text(SPEC.replace("dataset = d", 'dataset = env("EVT_LIMIT")'))
    (where,) = codes(spec)
    assert where[0] == "E377" and "`dataset`" in where[1]
    spec.write_text(SPEC.replace('env("EVT_LIMIT", "2")', "env(EVT_LIMIT)"))
    (shape,) = codes(spec)
    assert shape[0] == "E377"
    assert looks_secret("OPENAI_API_KEY") and looks_secret("GITHUB_TOKEN") and looks_secret("db-password")
    assert not looks_secret("EVT_TOKENS") and not looks_secret("MONKEY_COUNT")


def test_set_replaces_or_adds_attributes_checked_like_the_file(spec: Path, tmp_path: Path) -> None:
    checked = api.check(spec, sets=["d.limit=1", "m.temperature=0.5", "e.models=m,other", "m.stop=END"])
    assert checked.ok, checked.diagnostics
    assert checked.spec is not None
    assert checked.spec.datasets["d"].limit == 1
    assert checked.spec.models["m"].config.generation.temperature == 0.5  # added: the block did not set it
    assert checked.spec.models["m"].config.generation.stop == ("END",)
    assert [r.name for r in checked.spec.evals["e"].models] == ["m", "other"]
    (bad,) = codes(spec, "d.limit=many")
    assert bad[0] == "E303" and bad[1].endswith("(from --set d.limit=many)")
    (ref,) = codes(spec, "e.dataset=nope")
    assert ref[0] == "E301"
    with pytest.raises(OverrideError, match="no attribute `limt`; did you mean `limit`"):
        api.check(spec, sets=["d.limt=3"])
    with pytest.raises(OverrideError, match="no definition named `dd`"):
        api.check(spec, sets=["dd.limit=3"])
    with pytest.raises(OverrideError, match="NAME.attribute=VALUE"):
        api.check(spec, sets=["limit=3"])
    result = api.run(api.compile(spec, sets=["d.limit=3"]), RunConfig(store_dir=tmp_path / "store"))
    assert result.results[0].n == 3


def test_cli_set(spec: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["check", str(spec), "--set", "d.limit=1", "--set", "m.max_tokens=8"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["check", str(spec), "--set", "d.limt=1"])
    assert bad.exit_code == 2 and "did you mean `limit`" in bad.output and "Traceback" not in bad.output
    graph = runner.invoke(app, ["graph", str(spec), "--set", "m.max_tokens=8"])
    assert graph.exit_code == 0 and "max_tokens=8" in graph.output
    run = runner.invoke(app, ["run", str(spec), "--set", "d.limit=3", "--format", "json"])
    assert run.exit_code == 1 or run.exit_code == 0, run.output
    assert '"n": 3' in run.output
