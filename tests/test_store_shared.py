"""A store shared by several runners (SQLite folder and PostgreSQL server): claims on requests in flight, two
concurrent `evaldsl run` processes that never send the same request twice, and `evaldsl store migrate`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.hashing import compact_json
from evaldsl.store import SCHEMA_VERSION, SQLiteStore, Store
from evaldsl.store.records import ZLIB_MARK, ZSTD_MAGIC, unpack
from tests.fakeserver import FakeOpenAIServer
from tests.test_store import _result, _sample


def test_claims_exclude_other_runners_until_released(store_location: Path | str) -> None:
    with Store(store_location) as a, Store(store_location) as b:
        assert a.claim(["k1", "k2", "k2"]) == {"k1", "k2"}
        assert b.claim(["k1", "k2", "k3"]) == {"k3"}  # k1, k2 are in flight elsewhere
        a.cache_put("k1", "generate", {"text": "one"})  # storing the answer drops the claim
        assert b.claim(["k1"]) == {"k1"} and b.cache_get_many(["k1"]) == {"k1": {"text": "one"}}
        a.release(["k2"])  # a failed request: another runner may try it
        assert b.claim(["k2"]) == {"k2"}
        assert a.claim(["k1", "k2", "k3"]) == set()
    with Store(store_location) as c:  # closing a store drops its claims
        assert c.claim(["k1", "k2", "k3"]) == {"k1", "k2", "k3"}


def test_claims_of_a_dead_or_silent_runner_are_taken_over(store_location: Path | str) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    with Store(store_location) as st:
        with st._transaction("test") as db:
            db.executemany("INSERT INTO claims (key, owner, host, pid, claimed_at) VALUES (?, ?, ?, ?, ?)", [
                ("gone", "x:1:dead", socket.gethostname(), dead_pid, time.time()),
                ("old", "y:1:far", "another-host", 1, time.time() - 3600),
                ("busy", "z:1:far", "another-host", 1, time.time()),
            ])  # fmt: skip
        assert st.claim(["gone", "old", "busy"]) == {"gone", "old"}


def _spec(folder: Path, api_base: str, n: int) -> Path:
    rows = [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(n)]
    (folder / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = folder / "shared.eval"
    spec.write_text(f"""
dataset qa {{ path = "qa.jsonl" }}
model api {{
  provider = "litellm"
  id = "openai/test-model"
  api_base = "{api_base}"
  concurrency = 4
  timeout = 10
}}
eval quiz {{
  dataset = qa
  prompt  = "Q: {{{{ question }}}}"
  models  = [api]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match]
}}
""")
    return spec


def test_two_runners_sharing_a_store_never_ask_twice(store_location: Path | str, tmp_path: Path) -> None:
    n = 40
    with FakeOpenAIServer(lambda body: "x", latency=0.05) as server:
        spec = _spec(tmp_path, server.api_base, n)
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key", "EVALDSL_STORE_URL": str(store_location),
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # fmt: skip
        cmd = [sys.executable, "-m", "evaldsl", "run", str(spec), "--format", "json"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]  # fmt: skip
        outs = [p.communicate(timeout=300) for p in procs]
        asked = [json.dumps(body["messages"]) for body in server.bodies]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode in (0, 1), err  # 1: the gate may fail on the wrong answers; never a crash
    results = [json.loads(out) for out, _ in outs]
    assert [r["results"][0]["n"] for r in results] == [n, n]
    assert results[0]["results"][0]["metrics"] == results[1]["results"][0]["metrics"]
    assert len(asked) == len(set(asked)) == n  # every request sent once, by one runner or the other
    assert sum(r["model_calls"] for r in results) == n and sum(r["cache_hits"] for r in results) == n
    with Store(store_location) as st:
        runs = st.list_runs()
        assert sorted(r.n_samples for r in runs) == [n, n] and st.cache_stats()["by_kind"]["generate"] == n
        assert st.claim([]) == set()


def test_store_migrate_copies_history_and_cache(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "project"
    with Store(source) as st:
        run_id = st.begin_run({"spec_path": "qa.eval", "graph_hash": "ab" * 32})
        system = {"role": "system", "content": "You are a careful grader. " * 20}
        rows = [replace(_sample("qa", "m", i), prompt=(system, {"role": "user", "content": f"q{i}"}))
                for i in range(700)]
        st.add_samples(run_id, rows)
        st.finish_run(_result(run_id), summary={"wall_s": 2.0})
        for i in range(30):
            st.cache_put(f"key{i}", "generate", {"text": f"v{i}" * 100})
        older = st.get_run(run_id)
    runner = CliRunner()
    result = runner.invoke(app, ["store", "migrate", "--from", str(source), "--to", postgres_url])
    assert result.exit_code == 0, result.output
    assert "copied 1 run(s) (0 already there) and 30 cached response(s)" in result.output
    with Store(postgres_url) as pg:
        assert pg.get_run(run_id) == older
        assert list(pg.iter_samples(run_id)) == rows
        assert pg.cache_get_many(["key29"]) == {"key29": {"text": "v29" * 100}}
    again = runner.invoke(app, ["store", "migrate", "--from", str(source), "--to", postgres_url, "--no-cache"])
    assert again.exit_code == 0 and "copied 0 run(s) (1 already there) and 0 cached" in again.output
    shown = runner.invoke(app, ["show", "latest", "--store", postgres_url, "--format", "json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["run_id"] == run_id
    back = runner.invoke(app, ["store", "migrate", "--from", postgres_url, "--to", str(tmp_path / "copy")])
    assert back.exit_code == 0, back.output
    with Store(tmp_path / "copy") as copy:
        assert copy.get_run(run_id) == older and list(copy.iter_samples(run_id)) == rows
    missing = runner.invoke(app, ["store", "migrate", "--from", str(tmp_path / "nope"), "--to", postgres_url])
    assert missing.exit_code == 2 and "no evaldsl store" in missing.output


def test_postgres_errors_are_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from evaldsl.store import StoreError
    from evaldsl.store.postgres import redact_url

    assert redact_url("postgresql://evals:s3cret@db:5432/evals") == "postgresql://evals:***@db:5432/evals"
    assert redact_url("postgresql://evals@db/evals") == "postgresql://evals@db/evals"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://evals:s3cret@127.0.0.1:{port}/evals"
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'evaldsl[postgres]')")
    with pytest.raises(StoreError) as err:
        Store(url, timeout_s=2)
    assert "cannot reach the PostgreSQL store" in str(err.value) and "s3cret" not in str(err.value)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(StoreError, match=r"pip install 'evaldsl\[postgres\]'"):
        Store(url)
    with pytest.raises(StoreError, match="neither a folder nor a postgresql:// URL"):
        Store("mysql://db/evals")
    result = CliRunner().invoke(app, ["runs", "--store", url])
    assert result.exit_code == 2 and "s3cret" not in result.output and "psycopg" in result.output


def _as_schema_3(st: Store) -> None:
    """Turn a store back into what schema 3 wrote: values compressed with zlib, the version 3."""
    with st._transaction("test") as db:
        for run_id, ev, model, idx, data in db.execute("SELECT run_id, eval, model, idx, data FROM samples").fetchall():
            db.execute("UPDATE samples SET data = ? WHERE run_id = ? AND eval = ? AND model = ? AND idx = ?",
                       (zlib.compress(compact_json(unpack(data)), 1), run_id, ev, model, idx))  # fmt: skip
        for key, value in db.execute("SELECT key, value FROM cache").fetchall():
            db.execute("UPDATE cache SET value = ? WHERE key = ?", (zlib.compress(compact_json(unpack(value)), 1), key))
        if isinstance(st, SQLiteStore):
            db.execute("PRAGMA user_version = 3")
        else:
            db.execute("DELETE FROM evaldsl_schema")
            db.execute("INSERT INTO evaldsl_schema (version) VALUES (3)")


def test_a_schema_3_store_is_upgraded_and_its_zlib_values_still_read(store_location: Path | str) -> None:
    long_output = "a long answer that repeats itself " * 20
    with Store(store_location) as st:
        run_id = st.begin_run({"spec_path": "specs/qa.eval"})
        st.add_samples(run_id, [_sample("qa", "m", i, output=long_output) for i in range(3)])
        st.finish_run(_result(run_id), {"wall_s": 1.0})
        st.cache_put("k", "generate", {"text": long_output})
        before = list(st.iter_samples(run_id))
        _as_schema_3(st)
    with Store(store_location) as st:
        assert list(st.iter_samples(run_id)) == before
        assert st.cache_get_many(["k"]) == {"k": {"text": long_output}}
        st.cache_put("k2", "generate", {"text": long_output})
        with st._read("test") as db:
            stored = {key: bytes(value) for key, value in db.execute("SELECT key, value FROM cache").fetchall()}
            if isinstance(st, SQLiteStore):
                version = db.execute("PRAGMA user_version").fetchone()[0]
            else:
                version = db.execute("SELECT max(version) FROM evaldsl_schema").fetchone()[0]
    assert version == SCHEMA_VERSION == 4
    assert stored["k"][:1] == ZLIB_MARK and stored["k2"][:4] == ZSTD_MAGIC  # old values stay, new ones are zstd
    assert len(stored["k2"]) < len(compact_json({"text": long_output})) // 4
