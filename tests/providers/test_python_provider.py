"""`provider = "python"`: a project function answers each sample — sync and async, arguments, return shapes,
exceptions as sample errors, concurrency, the cache keyed by the source of the function and the project modules
it imports, `cache = false`, and the diagnostics (E373, E374). Everything runs real code in a temporary project."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store

ROOT = Path(__file__).resolve().parents[2]

ROWS = """[
    { question = "capital of France", answer = "Paris" },
    { question = "capital of Japan", answer = "Tokyo" },
    { question = "capital of Peru", answer = "Lima" },
    { question = "capital of Chile", answer = "Santiago" },
]"""

APP = '''
import asyncio, threading, time
from {pkg}.facts import CAPITALS

STATE = {{"now": 0, "most": 0}}
LOCK = threading.Lock()

def answer(messages, row, settings):
    with LOCK:
        STATE["now"] += 1
        STATE["most"] = max(STATE["most"], STATE["now"])
    time.sleep(0.05)
    with LOCK:
        STATE["now"] -= 1
    country = messages[-1]["content"].split()[-1]
    return {{"output": CAPITALS.get(country, "?"), "metadata": {{"row": row["question"], "max_tokens":
            settings["max_tokens"]}}, "usage": {{"prompt_tokens": 3, "completion_tokens": 1}}, "cost": 0.001}}

async def answer_async(messages):
    await asyncio.sleep(0)
    return CAPITALS.get(messages[-1]["content"].split()[-1], "?")

def flaky(messages, row):
    if row["answer"] == "Lima":
        raise ValueError("no route to " + row["answer"])
    return row["answer"]

def bad_shape(messages):
    return 42

def peak():
    return STATE["most"]
'''


def make_project(tmp_path: Path, pkg: str, models: str, *, extra: str = "") -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / pkg).mkdir(exist_ok=True)
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "facts.py").write_text('CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima"}\n')
    (tmp_path / pkg / "app.py").write_text(APP.format(pkg=pkg))
    spec = tmp_path / "spec.eval"
    names = ", ".join(line.split()[1] for line in models.strip().splitlines() if line.startswith("model "))
    spec.write_text(
        f"dataset d {{ rows = {ROWS} }}\n{models}\n{extra}\n"
        f'eval e {{ dataset = d, prompt = "{{{{ question }}}}", models = [{names}], target = "{{{{ answer }}}}",'
        " metrics = [exact_match], max_tokens = 17, max_error_rate = 0.5 }\n"
    )
    return spec


def run(spec: Path, store: Path, *, cache: bool = True):  # type: ignore[no-untyped-def]
    return api.run(api.compile(spec), RunConfig(store_dir=store, use_cache=cache))


def test_sync_function_gets_messages_row_settings_and_runs_concurrently(tmp_path: Path) -> None:
    spec = make_project(tmp_path, "app_sync", 'model m { provider = "python", id = "app_sync.app:answer", '
                                              "concurrency = 4 }")  # fmt: skip
    result = run(spec, tmp_path / "store")
    assert result.status == "completed", result.message
    (res,) = result.results
    assert res.metrics["exact_match"].value == pytest.approx(0.75)
    assert res.cost == pytest.approx(0.004) and res.completion_tokens == 4
    module = sys.modules["app_sync.app"]  # the module the provider imported

    assert module.peak() == 4  # four calls in flight at once
    with Store(tmp_path / "store") as store:
        samples = list(store.iter_samples(result.run_id))
    meta = {s.output["metadata"]["row"]: s.output["metadata"] for s in samples}
    assert meta["capital of France"]["max_tokens"] == 17  # the eval's generation settings reach the function


def test_async_function_and_exceptions_are_sample_errors(tmp_path: Path) -> None:
    spec = make_project(
        tmp_path,
        "app_async",
        'model a { provider = "python", id = "app_async.app:answer_async" }\n'
        'model f { provider = "python", id = "app_async.app:flaky" }\n'
        'model b { provider = "python", id = "app_async.app:bad_shape" }',
    )
    result = run(spec, tmp_path / "store")
    by_model = {r.model: r for r in result.results}
    assert by_model["a"].metrics["exact_match"].value == pytest.approx(0.75) and by_model["a"].errors == 0
    flaky = by_model["f"]
    assert flaky.errors == 1 and flaky.status == "partial"
    (group,) = flaky.error_summary
    assert group.stage == "model" and "ValueError: no route to Lima" in group.reason
    assert "app_async/app.py:" in group.reason  # where in the project it raised
    bad = by_model["b"]
    assert bad.errors == 4 and "returned int" in bad.error_summary[0].reason
    assert result.status == "failed"


def test_cache_follows_the_source_of_the_function_and_its_project_imports(tmp_path: Path) -> None:
    spec = make_project(tmp_path, "app_cache", 'model m { provider = "python", id = "app_cache.app:answer" }',
                        extra='model n { provider = "python", id = "app_cache.app:answer_async", cache = false }')
    spec.write_text(spec.read_text().replace("models = [m]", "models = [m, n]"))
    store = tmp_path / "store"
    first = run(spec, store)
    assert (first.model_calls, first.cache_hits) == (8, 0)
    again = run(spec, store)
    assert (again.model_calls, again.cache_hits) == (4, 4)  # n has cache = false: called again
    facts = tmp_path / "app_cache" / "facts.py"
    facts.write_text(facts.read_text() + "# edited\n")  # an imported project module changed
    edited = run(spec, store)
    assert (edited.model_calls, edited.cache_hits) == (8, 0)


def test_diagnostics(tmp_path: Path) -> None:
    def codes(models: str) -> list[tuple[str, str]]:
        spec = make_project(tmp_path, "app_diag", models)
        return [(d.code, d.message) for d in api.check(spec).diagnostics]

    (missing,) = codes('model m { provider = "python", id = "app_diag.nope:answer" }')
    assert missing[0] == "E373" and "not found in the project" in missing[1]
    (typo,) = codes('model m { provider = "python", id = "app_diag.app:answr" }')
    assert typo[0] == "E373" and "defines no function `answr`" in typo[1]
    (shape,) = codes('model m { provider = "python", id = "app_diag.app" }')
    assert shape[0] == "E373" and "module:function" in shape[1]
    (setting,) = codes('model m { provider = "python", id = "app_diag.app:answer", batch_size = 4 }')
    assert setting[0] == "E374" and "batch_size" in setting[1]
    (no_id,) = codes('model m { provider = "python" }')
    assert no_id[0] == "E304"
    outside = tmp_path.parent / f"{tmp_path.name}_outside"
    outside.mkdir()
    (outside / "evil.py").write_text("def answer(messages):\n    return 'x'\n")
    (tmp_path / "evil.py").symlink_to(outside / "evil.py")
    (link,) = codes('model m { provider = "python", id = "evil:answer" }')
    assert link[0] == "E373" and "outside the project" in link[1]


def test_example_spec_runs(tmp_path: Path) -> None:
    result = run(ROOT / "specs" / "app.eval", tmp_path / "store")
    assert result.status == "completed", result.message
    assert {r.model: r.metrics["exact_match"].value for r in result.results} == {"rag": 0.75, "rag_async": 0.75}


def test_function_signature_use() -> None:
    from evaldsl.providers.python_fn import positional_count, to_generation

    assert positional_count(lambda m: m) == 1
    assert positional_count(lambda m, r, s, extra=1: m) == 3
    assert positional_count(lambda *args: args) == 3
    assert to_generation({"output": "x", "bogus": 1}, 0.0).error is not None
    assert to_generation({"output": "x", "metadata": object()}, 0.0).error is not None
    called = to_generation({"output": "x", "tool_calls": [{"name": "f"}]}, 0.0)
    assert called.tool_calls == ({"name": "f", "arguments": {}},)
