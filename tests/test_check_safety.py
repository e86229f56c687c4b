"""`check` is safe on any input: it reads only `.eval` sources and data inside the project root (refusing anything
else by name, never showing its content), bounds what it prints, and turns hostile sizes and depths into
diagnostics (E004-E006, E105, E106, E331). Each test reproduces an observation of the issue it fixes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.access import access_for
from evaldsl.cli.app import app
from evaldsl.compile.confine import MAX_SOURCE_BYTES
from evaldsl.compile.syntax import MAX_NESTING
from evaldsl.diagnostics import MAX_PER_CODE, Diagnostic, Span, did_you_mean, render, render_all

ROOT = Path(__file__).resolve().parent.parent
SECRET = "TOPSECRET-4f9a"
HEAD = 'dataset d { rows = [{ q = "2+2?", a = "4" }] }\nmodel m { provider = "mock", response = "{{ a }}" }\n'
EVAL = 'eval e { dataset = d, models = [m], prompt = "{{ q }}", target = "{{ a }}", metrics = [exact_match] }\n'


def check(spec: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", str(spec)], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (no git: the spec's folder is the root) with a secret beside it and one outside it."""
    inside, outside = tmp_path / "project", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "secrets.txt").write_text(f"KEY={SECRET}\n")
    (inside / "secret").write_text(f"KEY={SECRET}\n")
    (outside / "shared.eval").write_text(f"# {SECRET}\ndataset shared {{ rows = [{{ q = 1 }}] }}\n")
    (outside / "data.tsv").write_text(f"q\n{SECRET}\n")
    return inside


# ---- what check reads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "code"), [
    ("/proc/self/environ", "E106"),
    ("../../../../../../../../etc/shadow", "E106"),
    ("../outside/shared.eval", "E106"),
    ("../outside/shared", "E106"),
    ("secrets.txt", "E105"),
    ("/etc/passwd.txt", "E105"),
])
def test_imports_outside_the_project_or_not_eval_are_refused_by_name(project: Path, target: str, code: str) -> None:
    spec = project / "spec.eval"
    spec.write_text(f'import "{target}"\n' + HEAD + EVAL)
    exit_code, output = check(spec)
    assert exit_code == 2
    assert f"error[{code}]" in output and f'"{target}"' in output
    assert SECRET not in output and "PATH=" not in output and "root:" not in output


def test_a_suffixless_import_never_reads_the_file_of_that_name(project: Path) -> None:
    """`import "secret"` looks for secret.eval only; the file `secret` is never opened."""
    spec = project / "spec.eval"
    spec.write_text('import "secret"\n' + HEAD + EVAL)
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E201]" in output and SECRET not in output


def test_a_link_named_eval_to_another_file_is_refused(project: Path) -> None:
    (project / "inner.eval").symlink_to(project / "secrets.txt")
    (project / "away.eval").symlink_to(project.parent / "outside" / "shared.eval")
    spec = project / "spec.eval"
    spec.write_text('import "inner.eval"\nimport "away"\n' + HEAD + EVAL)
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E105]" in output and "error[E106]" in output
    assert SECRET not in output


def test_imports_inside_the_project_and_the_stdlib_still_load(project: Path) -> None:
    (project / "lib").mkdir()
    (project / "lib" / "shared.eval").write_text(HEAD)
    spec = project / "spec.eval"
    spec.write_text('import "lib/shared"\nimport "std/general"\n' + EVAL)
    assert check(spec)[0] == 0


def test_the_root_is_the_git_work_tree(tmp_path: Path) -> None:
    """Inside a git repository, a sibling folder of the spec is part of the project."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "defs.eval").write_text(HEAD)
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "spec.eval"
    spec.write_text('import "../shared/defs.eval"\n' + EVAL)
    assert check(spec)[0] == 0


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd", "../outside/data.tsv"])
def test_datasets_outside_the_project_are_not_read(project: Path, path: str) -> None:
    spec = project / "spec.eval"
    spec.write_text(f'dataset x {{ path = "{path}", format = "tsv" }}\n' + HEAD + EVAL)
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E331]" in output
    assert SECRET not in output and "root:" not in output and "files there" not in output


def test_a_dataset_link_out_of_the_project_is_not_read(project: Path) -> None:
    (project / "data.tsv").symlink_to(project.parent / "outside" / "data.tsv")
    spec = project / "spec.eval"
    spec.write_text('dataset x { path = "data.tsv" }\n' + HEAD + EVAL)
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E331]" in output and SECRET not in output


def test_allowed_roots_let_a_caller_allow_another_folder(project: Path) -> None:
    """`--allow-path DIR` (an `Access` grant) lets imports and data files of that folder be read."""
    spec = project / "spec.eval"
    spec.write_text('import "../outside/shared.eval"\ndataset x { path = "../outside/data.tsv" }\n' + HEAD + EVAL)
    refused = {d.code for d in api.check(spec).diagnostics}
    assert {"E106", "E331"} <= refused
    allowed = api.check(spec, access=access_for([project.parent / "outside"], environ={}))
    assert allowed.ok, [d.message for d in allowed.diagnostics]
    assert "shared" in allowed.spec.datasets  # type: ignore[union-attr]


def test_a_root_spec_that_is_not_eval_is_not_read(project: Path) -> None:
    exit_code, output = check(project / "secrets.txt")
    assert exit_code == 2 and "error[E105]" in output and SECRET not in output


def test_rendering_never_reads_a_file_that_is_not_eval(project: Path) -> None:
    """A diagnostic pointing into a file the compiler did not load shows no excerpt unless it is `.eval`."""
    d = Diagnostic(code="E999", message="m", span=Span.point(str(project / "secrets.txt"), 1, 1))
    assert SECRET not in render(d, {})


# ---- bounded sources ------------------------------------------------------------------------------------------


def test_a_source_over_the_size_limit_is_e006(project: Path) -> None:
    spec = project / "big.eval"
    spec.write_text("#" * (MAX_SOURCE_BYTES + 10))
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E006]" in output and len(output) < 1000


def test_a_link_to_an_endless_device_is_not_read(project: Path) -> None:
    spec = project / "zero.eval"
    spec.symlink_to("/dev/zero")
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E001]" in output and "not a regular file" in output


def test_imports_nest_at_most_64_deep(project: Path) -> None:
    for i in range(80):
        (project / f"f{i}.eval").write_text(f'import "f{i + 1}.eval"\n')
    (project / "f80.eval").write_text(HEAD)
    exit_code, output = check(project / "f0.eval")
    assert exit_code == 2 and "error[E004]" in output and "Traceback" not in output


# ---- nesting and numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ("{ k = ", " }"), ("f(", ")")])
def test_nesting_past_the_limit_is_e004(project: Path, opener: str, closer: str) -> None:
    spec = project / "spec.eval"
    for depth, expected in ((MAX_NESTING - 1, None), (500, "E004")):
        spec.write_text(HEAD + EVAL.replace("metrics", f"description = {opener * depth}1{closer * depth}, metrics"))
        codes = {d.code for d in api.check(spec).diagnostics}
        assert ("E004" in codes) == (expected == "E004"), (depth, codes)


@pytest.mark.parametrize("body", [
    "{{ " + "(" * 100 + "q" + ")" * 100 + " }}",
    "{{ q" + " + q" * 5000 + " }}",
    "{{ " + "not " * 5000 + "q }}",
    "{% if q %}" * 200 + "x" + "{% endif %}" * 200,
])
def test_deep_templates_are_e004(project: Path, body: str) -> None:
    spec = project / "spec.eval"
    spec.write_text(HEAD + EVAL.replace('prompt = "{{ q }}"', f'prompt = "{body}"'))
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E004]" in output and "Traceback" not in output


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "1" * 41, "1e999", "-1e999"])
def test_huge_numbers_are_e005(project: Path, number: str) -> None:
    spec = project / "spec.eval"
    spec.write_text(HEAD + EVAL.replace("metrics", f"limit = {number}, metrics"))
    exit_code, output = check(spec)
    assert exit_code == 2 and "error[E005]" in output and len(output) < 2000


# ---- bounded output ---------------------------------------------------------------------------------------------


def test_a_1mb_line_shows_a_window_around_the_caret(project: Path) -> None:
    spec = project / "spec.eval"
    spec.write_text(HEAD + EVAL.rstrip("\n") + " " + "junk " * 200_000 + "\n")
    exit_code, output = check(spec)
    assert exit_code == 2 and len(output) < 2000
    line, caret = [x for x in output.splitlines() if x.lstrip().startswith(("3 |", "|"))][:2]
    at = caret.index("^")
    assert line[at : at + 4] == "junk"


def test_5000_errors_print_20_of_each_code_and_a_count(project: Path) -> None:
    evals = "".join(EVAL.replace("eval e ", f"eval e{i} ").replace("exact_match", f"nope{i}") for i in range(5000))
    spec = project / "spec.eval"
    spec.write_text(HEAD + evals)
    began = time.perf_counter()
    result = api.check(spec)
    assert len(result.errors) == 5000
    rendered = render_all(result.diagnostics, result.sources)
    assert time.perf_counter() - began < 120
    assert rendered.count("error[E305]") == MAX_PER_CODE
    assert f"… and {5000 - MAX_PER_CODE:,} more [E305] not shown" in rendered
    assert rendered.endswith("5,000 errors") and len(rendered) < 20_000


def test_render_all_is_linear_in_the_number_of_diagnostics() -> None:
    """Each diagnostic used to split the whole source into lines again."""
    text = "x = 1\n" * 200_000
    diagnostics = [
        Diagnostic(code=f"E{300 + i % 50}", message="m", span=Span.point("f.eval", 1 + i * 30, 1)) for i in range(5000)
    ]
    began = time.perf_counter()
    render_all(diagnostics, {"f.eval": text})
    assert time.perf_counter() - began < 10


def test_long_messages_are_clipped() -> None:
    d = Diagnostic(code="E100", message="unexpected name `" + "a" * 1_000_000 + "`", hint="h" * 10_000)
    assert len(render(d)) < 1000


# ---- a 5 MB string ----------------------------------------------------------------------------------------------

_PEAK = """
import sys
from evaldsl import api
result = api.check(sys.argv[1])
assert result.ok, [d.message for d in result.diagnostics]
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
def test_a_5mb_string_checks_in_bounded_memory(project: Path) -> None:
    """Lexing a string kept a backtracking entry per character: one 5 MB string took 1.3 GB."""
    spec = project / "spec.eval"
    spec.write_text(HEAD + EVAL.replace('prompt = "{{ q }}"', 'prompt = "' + "x" * 5_000_000 + '{{ q }}"'))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(spec)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_mib = int(proc.stdout.split()[-1]) / 1024
    assert peak_mib < 300, peak_mib


# ---- suggestions stay cheap among thousands of names -------------------------------------------------------------


def test_did_you_mean_is_bounded_among_thousands_of_names() -> None:
    """Each unknown name compared itself with every definition: 500 unknown prompts among 2,000 took a minute."""
    names = [f"prompt_{i}" for i in range(5000)]
    began = time.process_time()
    hints = [did_you_mean(f"promt_{i}", names) for i in range(0, 5000, 5)]
    assert time.process_time() - began < 15
    assert hints[1] == "did you mean `prompt_5`?"
    assert did_you_mean("promt", ["prompt", "dataset"]) == "did you mean `prompt`?"


def test_unknown_reference_hints_list_a_few_names(project: Path) -> None:
    prompts = "".join(f'prompt p{i} = "{{{{ q }}}}"\n' for i in range(3000))
    spec = project / "spec.eval"
    spec.write_text(HEAD + prompts + EVAL.replace('prompt = "{{ q }}"', "prompt = zzz"))
    (d,) = api.check(spec).errors
    assert d.code == "E301" and d.hint is not None and d.hint.endswith("and 2,988 more") and len(d.hint) < 200


def test_the_editor_does_not_read_data_outside_the_project(project: Path) -> None:
    """The language server's field hover and completion read data files under the same rule as `check`."""
    from evaldsl.lsp.fields import read_fields

    (project / "in.tsv").write_text("q\nhello\n")
    spec = project / "spec.eval"
    spec.write_text('dataset x { path = "../outside/data.tsv" }\ndataset y { path = "in.tsv" }\n' + HEAD + EVAL)
    result = api.check(spec)
    assert result.spec is not None
    assert read_fields(result.spec.datasets["x"]) is None
    inside = read_fields(result.spec.datasets["y"])
    assert inside is not None and list(inside.types) == ["q"]
