"""`run --max-cost` / `--max-calls`: refused before the first call with the plan's figures (exit 3), and stopped
mid-run (interrupted, with the reason) when the real calls go past the cap."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.store import Store
from tests.fakeserver import FakeOpenAIServer


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["run", str(project / "spec.eval"), "--store", str(project / "st"),
                                      "-f", "json", *args])  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def test_max_calls_refuses_before_any_call(project: Path) -> None:
    code, out, err = invoke(project, "--max-calls", "50")  # the plan makes 51
    assert code == 3 and out == ""
    assert "refusing to run: the plan makes 51 model calls, more than --max-calls 50" in err
    assert "plan: 51 fresh calls of 51 (0 cached)" in err
    assert not (project / "st").exists()  # nothing ran, nothing was stored
    code, out, _ = invoke(project, "--max-calls", "51")
    assert code == 0 and json.loads(out)["model_calls"] == 51
    code, out, _ = invoke(project, "--max-calls", "0")  # everything is cached now: 0 fresh calls
    assert code == 0 and json.loads(out)["model_calls"] == 0


def test_max_calls_stops_a_run_that_makes_more_calls_than_planned(project: Path) -> None:
    # a judge whose verdicts cannot be parsed is asked again: calls the plan does not count
    spec = (project / "spec.eval").read_text().replace('"""{"reasoning": "fine", "score": 4}"""', '"no idea"')
    (project / "spec.eval").write_text(spec)
    code, out, err = invoke(project, "--max-calls", "51")
    assert code == 3
    data = json.loads(out)
    assert data["status"] == "interrupted"
    assert "more than 51 model calls (--max-calls)" in data["message"]
    assert data["model_calls"] == 52  # stopped at the first call past the cap
    with Store(project / "st") as store:
        assert store.get_run(data["run_id"]).status == "interrupted"


def write_api_spec(folder: Path, api_base: str) -> None:
    (folder / "spec.eval").write_text(f"""
dataset d {{ rows = [{{ q = "one two three" }}, {{ q = "four five six" }}, {{ q = "seven eight nine" }},
                     {{ q = "ten eleven twelve" }}] }}
model m {{ provider = "litellm", id = "openai/gpt-4o-mini", api_base = "{api_base}", max_tokens = 5,
           max_retries = 0, concurrency = 1 }}
eval e {{ dataset = d, prompt = "{{{{ q }}}}", models = [m], target = "x", metrics = [exact_match] }}
""")


def test_max_cost_refuses_and_stops_mid_run(tmp_path: Path, api_key: str) -> None:
    # the server answers as a far pricier model than the plan assumed: real spend passes the cap mid-run
    with FakeOpenAIServer(lambda body: "yes", model="gpt-4") as server:
        write_api_spec(tmp_path, server.api_base)
        code, out, err = invoke(tmp_path, "--max-cost", "0.000001")
        assert code == 3 and "more than --max-cost 1e-06" in err and "est. cost" in err
        assert server.count == 0
        code, out, err = invoke(tmp_path, "--max-cost", "0.0001")  # the plan: ~1.8e-5 USD
        data = json.loads(out)
        assert code == 3 and data["status"] == "interrupted"
        assert "more than --max-cost 0.0001" in data["message"]
        assert server.count < 4  # stopped before the last call


def test_max_cost_with_an_unknown_price_is_refused(tmp_path: Path, api_key: str) -> None:
    write_api_spec(tmp_path, "http://127.0.0.1:9")
    spec = (tmp_path / "spec.eval").read_text().replace("gpt-4o-mini", "no-such-model-xyz")
    (tmp_path / "spec.eval").write_text(spec)
    code, _, err = invoke(tmp_path, "--max-cost", "5")
    assert code == 3 and "cannot be estimated (no known price for m)" in err
