"""`run` stays inside the project (docs/security.md): dataset files, local model folders and python metric modules
outside the project root are refused by name (E331, E332) unless `--allow-path` / `--allow-python` grant them;
nothing outside reaches a model, the store or the terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.access import Access, access_for
from evaldsl.cli.app import app
from evaldsl.metrics import MetricError, build_metric

SECRET_LINE = "root:TOPSECRET-HASH-9f8e7d:19000:0:99999:7:::"


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(project, outside): a project folder (its own git work tree) and a folder beside it with a secret file."""
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / ".git").mkdir(parents=True)
    outside.mkdir()
    (outside / "shadow.tsv").write_text(f"line\n{SECRET_LINE}\n")
    (project / "qa.jsonl").write_text('{"line": "hello"}\n')
    return project, outside


def spec_reading(project: Path, path: str, *, metrics: str = "[exact_match]", extra: str = "") -> Path:
    spec = project / "spec.eval"
    spec.write_text(f"""
dataset d {{ path = "{path}", format = "tsv" }}
model dry {{ provider = "mock" }}
{extra}
eval e {{ dataset = d, prompt = "{{{{ line }}}}", models = [dry], target = "{{{{ line }}}}", metrics = {metrics} }}
""")
    return spec


def _no_store(project: Path) -> bool:
    return not (project / ".evaldsl").exists()


@pytest.mark.parametrize("path", ["ABS", "../outside/shadow.tsv", "link/shadow.tsv"])
def test_a_dataset_outside_the_project_never_reaches_the_model_or_the_store(layout, path: str) -> None:
    project, outside = layout
    (project / "link").symlink_to(outside)  # a link inside the project pointing out is outside too
    spec = spec_reading(project, str(outside / "shadow.tsv") if path == "ABS" else path)
    code, out, err = run_cli("run", str(spec), "--format", "json")
    assert code == 2
    assert "error[E331]" in err and "outside the project" in err and "--allow-path" in err
    assert "TOPSECRET" not in out + err
    assert _no_store(project)
    # `check` refuses it the same way and never looks at the file (no content, no listing of its folder).
    code, out, err = run_cli("check", str(spec))
    assert code == 2 and "E331" in err and "TOPSECRET" not in out + err and "E310" not in err


def test_etc_shadow_is_refused_by_name(layout) -> None:
    project, _ = layout
    spec = spec_reading(project, "/etc/shadow")
    code, out, err = run_cli("run", str(spec))
    assert code == 2 and "dataset `d` reads `/etc/shadow`, outside the project" in err
    assert _no_store(project)


def test_allow_path_grants_a_folder(layout) -> None:
    project, outside = layout
    spec = spec_reading(project, str(outside / "shadow.tsv"))
    code, out, err = run_cli("run", str(spec), "--allow-path", str(outside), "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["results"][0]["n"] == 1
    # a grant of another folder is no grant for this one
    other = project.parent / "elsewhere"
    other.mkdir()
    code, _, err = run_cli("run", str(spec), "--allow-path", str(other))
    assert code == 2 and "E331" in err


def test_check_and_graph_take_the_same_grant(layout) -> None:
    project, outside = layout
    spec = spec_reading(project, str(outside / "shadow.tsv"))
    for command in ("check", "graph"):
        code, out, err = run_cli(command, str(spec))
        assert code == 2 and "E331" in err, command
        code, out, err = run_cli(command, str(spec), "--allow-path", str(outside))
        assert code == 0, (command, err)


def test_the_environment_can_grant_folders(layout, monkeypatch: pytest.MonkeyPatch) -> None:
    project, outside = layout
    spec = spec_reading(project, str(outside / "shadow.tsv"))
    monkeypatch.setenv("EVALDSL_ALLOW_PATH", os.pathsep.join(["/nonexistent-folder", str(outside)]))
    code, _, err = run_cli("run", str(spec))
    assert code == 0, err


def test_no_file_of_the_project_can_grant_access(layout) -> None:
    """An untrusted spec's author writes every file of the project: a config there grants nothing."""
    project, outside = layout
    (project / "evaldsl.toml").write_text(f'allow_paths = ["{outside}", "/"]\n')
    spec = spec_reading(project, str(outside / "shadow.tsv"))
    code, _, err = run_cli("run", str(spec))
    assert code == 2 and "E331" in err


def test_a_local_model_folder_outside_the_project_is_refused(layout) -> None:
    project, outside = layout
    (outside / "model").mkdir()
    (outside / "model" / "config.json").write_text("{}")
    spec = project / "spec.eval"
    spec.write_text(f"""
dataset d {{ path = "qa.jsonl" }}
model local {{ provider = "hf", id = "{outside / "model"}" }}
model rel {{ provider = "hf", id = "../outside/model" }}
eval e {{ dataset = d, prompt = "{{{{ line }}}}", models = [local, rel], target = "x", metrics = [exact_match] }}
""")
    result = api.check(spec)
    found = [d for d in result.diagnostics if d.code == "E331"]
    assert [d.message.split("`")[1] for d in found] == ["local", "rel"]
    granted = api.check(spec, access=Access(allow_paths=(outside.resolve(),)))
    assert not [d for d in granted.diagnostics if d.code == "E331"]


def test_files_inside_the_project_need_no_grant(layout) -> None:
    project, _ = layout
    (project / "data").mkdir()
    (project / "data" / "rows.tsv").write_text("line\nhello\n")
    sub = project / "evals"
    sub.mkdir()
    spec = spec_reading(sub, "../data/rows.tsv")  # up from the spec's folder, still inside the git work tree
    code, _, err = run_cli("run", str(spec))
    assert code == 0, err


# ---------------------------------------------------------------- python metrics


def test_python_os_execvpe_is_refused_and_never_runs(layout) -> None:
    project, _ = layout
    spec = spec_reading(project, "qa.jsonl", metrics="[pwn]", extra='metric pwn = python("os:execvpe")')
    spec.write_text(spec.read_text().replace(', format = "tsv"', ""))
    code, out, err = run_cli("run", str(spec), "--format", "json")
    assert code == 2  # the process was not replaced (execvpe would have ended it with the program's status)
    assert "error[E332]" in err and "module `os` is not a file of this project" in err
    assert "--allow-python os" in err
    assert _no_store(project)


def test_python_shutil_rmtree_deletes_nothing(layout) -> None:
    project, _ = layout
    victim = project / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("still here")
    (project / "rows.jsonl").write_text(json.dumps({"line": str(victim)}) + "\n")
    spec = project / "spec.eval"
    spec.write_text("""
dataset d { path = "rows.jsonl" }
model dry { provider = "mock" }
metric wipe = python("shutil:rmtree")
eval e { dataset = d, prompt = "{{ line }}", models = [dry], target = "x", metrics = [wipe] }
""")
    code, _, err = run_cli("run", str(spec))
    assert code == 2 and "E332" in err
    assert (victim / "keep.txt").read_text() == "still here"


def test_allow_python_names_a_trusted_module(layout, monkeypatch: pytest.MonkeyPatch) -> None:
    project, outside = layout
    (outside / "trusted_scores.py").write_text("def one(prediction, references, row):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(outside))
    spec = spec_reading(project, "qa.jsonl", metrics="[mine]", extra='metric mine = python("trusted_scores:one")')
    spec.write_text(spec.read_text().replace(', format = "tsv"', ""))
    code, _, err = run_cli("run", str(spec))
    assert code == 2 and "E332" in err and "trusted_scores" not in sys.modules
    code, out, err = run_cli("run", str(spec), "--allow-python", "trusted_scores", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["results"][0]["metrics"]["mine"]["value"] == 1.0
    monkeypatch.delitem(sys.modules, "trusted_scores", raising=False)


def test_a_module_of_the_project_on_the_python_path_needs_no_grant(layout, monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = layout
    (project / "src" / "projscores").mkdir(parents=True)
    (project / "src" / "projscores" / "__init__.py").write_text("")
    (project / "src" / "projscores" / "m.py").write_text("def half(prediction, references, row):\n    return 0.5\n")
    monkeypatch.syspath_prepend(str(project / "src"))
    spec = spec_reading(project, "qa.jsonl", metrics="[mine]", extra='metric mine = python("projscores.m:half")')
    spec.write_text(spec.read_text().replace(', format = "tsv"', ""))
    code, _, err = run_cli("run", str(spec))
    assert code == 0, err
    for name in ("projscores", "projscores.m"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_installed_packages_are_refused_even_inside_the_project(layout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A virtual environment inside the checkout holds installed code, not the project's own files."""
    project, _ = layout
    site = project / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "installed_helper.py").write_text("def run(prediction, references, row):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    spec = spec_reading(project, "qa.jsonl", metrics="[h]", extra='metric h = python("installed_helper:run")')
    spec.write_text(spec.read_text().replace(', format = "tsv"', ""))
    code, _, err = run_cli("run", str(spec))
    assert code == 2 and "E332" in err and "an installed module" in err
    with pytest.raises(MetricError, match="an installed module"):
        build_metric("python", {"path": "installed_helper:run"}, base_dir=project)
    code, _, err = run_cli("run", str(spec), "--allow-python", "installed_helper")
    assert code == 0, err
    monkeypatch.delitem(sys.modules, "installed_helper", raising=False)


def test_the_run_refuses_too_when_the_check_is_bypassed(tmp_path: Path) -> None:
    """Defence in depth: building the metric outside the compiler applies the same rule."""
    (tmp_path / ".git").mkdir()
    with pytest.raises(MetricError, match="module 'os' is not a file of this project"):
        build_metric("python", {"path": "os:getcwd"}, base_dir=tmp_path)
    with pytest.raises(MetricError, match="'math' is not a file of this project"):
        build_metric("python", {"path": "math:sqrt"}, base_dir=tmp_path)
    allowed = build_metric("python", {"path": "os.path:exists"}, base_dir=tmp_path, allow_python=frozenset({"os"}))
    assert allowed.name == "python"


def test_access_from_the_command_line() -> None:
    access = access_for([Path("rel")], [" json ", "", "os.path"], environ={})
    assert access.allow_paths == (Path("rel").resolve(),)
    assert access.allows_module("json") and access.allows_module("json.decoder") and access.allows_module("os.path")
    assert not access.allows_module("os") and not access.allows_module("jsonx")
