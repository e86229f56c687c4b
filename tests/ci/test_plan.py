"""`evaldsl plan`: exact call counts on a spec of known size (where, limit, template, judge votes and pairwise
swaps), exact cache figures after a run, observed reply lengths, prices from litellm's map or "unknown"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evaldsl.cli.app import app


def plan(project: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["plan", str(project / "spec.eval"), "--store", str(project / "st"),
                                      "-f", "json", *args])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def run(project: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["run", str(project / "spec.eval"), "--store", str(project / "st"),
                                      "-f", "json", *args])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def by_line(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(ln["eval"], ln["model"], ln["judge"] or ln["kind"]): ln for ln in data["lines"]}


def test_counts_on_a_fresh_store(project: Path) -> None:
    lines = by_line(data := plan(project))
    # where keeps 5 rows, limit 4 → 4 samples; a template instance with limit 3 → 3
    assert {k: (v["samples"], v["calls"], v["cached"]) for k, v in lines.items()} == {
        ("quiz", "a", "generate"): (4, 4, 0),
        ("quiz", "b", "generate"): (4, 4, 0),
        ("quiz", "a", "single"): (4, 12, 0),  # 3 votes
        ("quiz", "b", "single"): (4, 12, 0),
        ("quiz", "a", "pair"): (4, 16, 0),  # 2 votes × 2 orders, once for the pair (a, b)
        ("mine.run", "a", "generate"): (3, 3, 0),
    }
    gen = lines[("quiz", "a", "generate")]
    assert gen["input_tokens"] == 12  # "question number k": 3 words (the mock's unit) × 4
    assert (gen["output_tokens"], gen["output_basis"]) == (4 * 256, "max_tokens")  # max_tokens: an upper bound
    assert lines[("mine.run", "a", "generate")]["input_tokens"] == 4 * 3  # "Q: question number k"
    assert data["totals"]["calls"] == data["totals"]["fresh"] == 51
    assert data["totals"]["samples"] == 4 + 4 + 3  # per eval × model
    assert data["totals"]["cost_usd"] == 0.0  # mock models are free (a known price, not an unknown one)
    assert data["totals"]["wall_s"] is None  # no past run: unknown, not 0


def test_limit_flag_and_selection(project: Path) -> None:
    lines = by_line(plan(project, "--limit", "2", "--eval", "quiz", "--model", "a"))
    assert {k: v["calls"] for k, v in lines.items()} == {("quiz", "a", "generate"): 2, ("quiz", "a", "single"): 6}


def test_after_a_run_every_call_is_cached_and_the_counts_were_exact(project: Path) -> None:
    before = plan(project)
    result = run(project)
    assert result["model_calls"] == before["totals"]["fresh"] == 51
    after = plan(project)
    assert after["totals"]["cached"] == after["totals"]["calls"] == 51
    assert after["totals"]["fresh"] == 0 and after["totals"]["output_tokens"] == 0
    assert after["totals"]["wall_s"] == 0.0


def test_observed_reply_lengths_and_wall_time_from_past_runs(project: Path) -> None:
    run(project, "--limit", "2")
    lines = by_line(plan(project))
    a, b = lines[("quiz", "a", "generate")], lines[("quiz", "b", "generate")]
    assert (a["calls"], a["cached"]) == (4, 2)
    assert (a["output_tokens"], a["output_basis"]) == (2, "observed")  # "ansK": 1 word per reply
    assert (b["output_tokens"], b["output_basis"]) == (2 * 4, "observed")  # "not sure at all"
    assert a["wall_s"] is not None and a["wall_s"] >= 0
    # judge calls on samples whose replies are cached are judged with their real prompts: 2 of 4 samples cached
    assert (lines[("quiz", "a", "single")]["cached"], lines[("quiz", "a", "pair")]["cached"]) == (6, 8)


def test_prices_from_litellm_and_unknown_prices(tmp_path: Path) -> None:
    import litellm

    (tmp_path / "spec.eval").write_text("""
model known { provider = "litellm", id = "openai/gpt-4o-mini", max_tokens = 10, api_base = "http://127.0.0.1:9" }
model odd { provider = "litellm", id = "openai/no-such-model-xyz", api_base = "http://127.0.0.1:9" }
dataset d { rows = [{ q = "What is the capital of France?" }] }
eval e {
  dataset = d
  prompt = "{{ q }}"
  models = [known, odd]
  metrics = [exact_match]
  target = "Paris"
}
""")
    data = plan(tmp_path)
    lines = by_line(data)
    known, odd = lines[("e", "known", "generate")], lines[("e", "odd", "generate")]
    n_in = litellm.token_counter(model="openai/gpt-4o-mini",
                                 messages=[{"role": "user", "content": "What is the capital of France?"}])  # fmt: skip
    assert known["input_tokens"] == n_in
    cost_in, cost_out = litellm.cost_per_token(model="openai/gpt-4o-mini", prompt_tokens=n_in, completion_tokens=10)
    assert known["cost_usd"] == round(cost_in + cost_out, 6) > 0
    assert odd["cost_usd"] is None and odd["price"] == "unknown"
    assert data["totals"]["cost_usd"] is None and data["totals"]["unknown_prices"] == ["odd"]
    md = CliRunner().invoke(app, ["plan", str(tmp_path / "spec.eval"), "--store", str(tmp_path / "st"),
                                  "-f", "markdown"])  # fmt: skip
    assert md.exit_code == 0
    assert "| e | odd | generate | 1 | 1 | 0 |" in md.stdout and "unknown" in md.stdout
    assert "no price for odd" in md.stdout
    assert not (tmp_path / "st").exists()  # planning never creates a store


def test_local_model_tokens_come_from_its_tokenizer(tmp_path: Path) -> None:
    import pytest

    from evaldsl.providers.default_model import converted_dir, packaged_gguf

    try:
        folder = converted_dir(packaged_gguf())
    except Exception as exc:  # noqa: BLE001 - the packaged model is not installed
        pytest.skip(f"no packaged default model: {exc}")
    if not (folder / "tokenizer.json").is_file():
        pytest.skip("the packaged default model has not been converted yet (the first local run converts it)")
    from transformers import AutoTokenizer

    questions = ["What is the capital of France?", "Name the largest planet in the solar system."]
    rows = ", ".join(f'{{ q = "{q}" }}' for q in questions)
    (tmp_path / "spec.eval").write_text(f"""
dataset d {{ rows = [{rows}] }}
model small {{ provider = "hf", id = "smollm2-135m-instruct", max_tokens = 7 }}
eval e {{ dataset = d, prompt = "{{{{ q }}}}", models = [small], target = "x", metrics = [exact_match] }}
""")
    line = plan(tmp_path)["lines"][0]
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    assert line["token_basis"] == "tokenizer"
    assert line["input_tokens"] == sum(len(tokenizer(q, add_special_tokens=False)["input_ids"]) for q in questions)
    assert (line["output_tokens"], line["cost_usd"], line["price"]) == (14, 0.0, "local (no API price)")


def test_gates_that_flip_by_chance_from_past_run_variance(project: Path) -> None:
    spec = (project / "spec.eval").read_text()
    spec = spec.replace('model b { provider = "mock", response = "not sure at all" }',
                        '''model b { provider = "mock", response = "{{ answer if n % 4 == 0 else 'no' }}" }''')
    spec = spec.replace("  limit   = 4\n}", "  limit   = 4\n  assert mean(exact_match) >= 0.4\n}")
    (project / "spec.eval").write_text(spec)
    assert plan(project)["gates"] == []  # no past run; and at n = 4 ±0.49 does not reach past 1 from 0.4
    result = run(project)
    b = next(r for r in result["results"] if r["model"] == "b")["metrics"]["exact_match"]
    assert b["value"] == 0.5
    half = (b["ci_high"] - b["ci_low"]) / 2
    gates = plan(project)["gates"]
    assert gates == [f"warning[W360]: quiz · b: `mean(exact_match) >= 0.4` flips by chance: the last run measured "
                     f"0.5, and at n = 4 its 95% CI is about ±{half:.3g}"]  # fmt: skip
    # at another n the last run's half-width is scaled by √(n_then / n_now)
    assert f"at n = 2 its 95% CI is about ±{half * 2 ** 0.5:.3g}" in plan(project, "--limit", "2")["gates"][0]
