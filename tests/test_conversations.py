"""Conversations: a prompt's `messages` (a row's role/content list) after its system message; `turns = "final"`
scores the reply ending the conversation, `turns = "each"` one reply per assistant turn given the turns before
it; judges are shown the whole conversation; malformed conversations are render errors with a reason."""

from __future__ import annotations

from pathlib import Path

from evaldsl import api
from evaldsl.run.runner import RunConfig
from evaldsl.run.samples import render_samples
from evaldsl.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
dataset d {{ rows = [
  {{ messages = [{{ role = "user", content = "hi" }}, {{ role = "assistant", content = "hello" }},
                {{ role = "user", content = "bye" }}, {{ role = "assistant", content = "bye" }}] }},
  {{ messages = [{{ role = "user", content = "ping" }}, {{ role = "assistant", content = "ping" }}] }},
  {{ messages = "not a list" }},
] }}
model echo {{ provider = "mock" }}   # replies with the last user message
prompt p {{ system = "Be brief.", messages = {messages} }}
eval e {{ dataset = d, prompt = p, models = [echo], metrics = [exact_match], max_error_rate = 1, {extra} }}
"""


def write(tmp_path: Path, messages: str = "`row.messages`", extra: str = 'turns = "each"') -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    spec = tmp_path / "spec.eval"
    spec.write_text(SPEC.format(messages=messages, extra=extra))
    return spec


def test_each_assistant_turn_is_a_sample(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = api.run(api.compile(write(tmp_path)), RunConfig(store_dir=store))
    (res,) = result.results
    assert res.n == 4 and res.errors == 1  # 2 + 1 turns, and the row whose messages are not a list
    assert res.metrics["exact_match"].value == 2 / 3  # "hello" after "hi" is missed; "bye", "ping" echo right
    assert "`messages` must give a list" in res.error_summary[0].reason
    with Store(store) as st:
        records = sorted(st.iter_samples(result.run_id), key=lambda r: r.index)
    assert [r.row_id.rpartition("#")[2] for r in records[:3]] == ["t0", "t1", "t0"]
    assert [m["role"] for m in records[1].prompt] == ["system", "user", "assistant", "user"]
    assert records[1].references == ("bye",)


def test_final_reply_with_a_target(tmp_path: Path) -> None:
    spec = write(tmp_path, messages="`row.messages[:-1] if row.messages is not string else []`",
                 extra='target = "{{ (row.messages | last).content if row.messages is not string else \'\' }}"')
    result = api.run(api.compile(spec), RunConfig(store_dir=tmp_path / "store"))
    (res,) = result.results
    assert res.n == 3 and res.metrics["exact_match"].value == 1.0  # "bye" and "ping" echo their last user turn


def test_judges_see_the_whole_conversation(tmp_path: Path) -> None:
    checked = api.check(write(tmp_path))
    assert checked.spec is not None
    graph = api.plan(checked.spec)
    render = graph.nodes["render:e"]
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                          {"role": "user", "content": "and?"}]}]  # fmt: skip
    (sample,) = render_samples(render.model_copy(update={"turns": "final"}), rows)  # type: ignore[arg-type]
    assert sample.question == "[user]\nhi\n\n[assistant]\nhello\n\n[user]\nand?"


def test_checks(tmp_path: Path) -> None:
    assert api.check(write(tmp_path)).ok  # turns = "each" needs no target: the turns are the references
    spec = tmp_path / "bad.eval"
    spec.write_text('dataset d { rows = [{ q = "a" }] }\nprompt p { system = "x" }\n')
    (missing,) = api.check(spec).diagnostics
    assert missing.code == "E304" and "`user`" in missing.message
    (turns,) = api.check(write(tmp_path, extra='turns = "all"')).diagnostics
    assert turns.code == "E303"


def test_example_spec_runs(tmp_path: Path) -> None:
    result = api.run(api.compile(ROOT / "specs" / "conversations.eval"), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    assert {r.eval: r.n for r in result.results} == {"final_reply": 2, "every_turn": 4, "with_simulated_user": 2}


def test_simulated_user(tmp_path: Path) -> None:
    store = tmp_path / "store"
    graph = api.compile(ROOT / "specs" / "conversations.eval", evals=["with_simulated_user"])
    result = api.run(graph, RunConfig(store_dir=store))
    (res,) = result.results
    assert res.metrics["exact_match"].value == 1.0 and result.model_calls == 10  # 2 rows × (3 replies + 2 user)
    with Store(store) as st:
        record = next(iter(st.iter_samples(result.run_id)))
    assert [m["role"] for m in record.prompt] == ["user", "assistant", "user", "assistant", "user"]
    assert record.prompt[2]["content"] == "And which is the capital of Japan?"
    assert record.output["output"] == "Lima"
    again = api.run(graph, RunConfig(store_dir=store))
    assert again.cache_hits == 10  # every turn of both sides is cached


def test_unknown_simulated_user(tmp_path: Path) -> None:
    spec = write(tmp_path, extra='simulated_user = travler, turns = "each"')
    (unknown,) = api.check(spec).diagnostics
    assert unknown.code == "E301" and "travler" in unknown.message
