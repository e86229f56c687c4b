"""Tests for evaldsl.store: cache and run round trips, concurrency, kill -9, run refs, secrets, errors. Tests
taking `store_location` run against both backends: an SQLite folder and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import signal
import sqlite3
import threading
import time
import types
from pathlib import Path

import pytest

from evaldsl.hashing import content_hash
from evaldsl.results import AssertOutcome, EvalModelResult, MetricSummary, RunResult, SampleRecord
from evaldsl.store import DB_FILENAME, SCHEMA_VERSION, Store, StoreError
from evaldsl.store import core as store_mod
from evaldsl.store.redact import strip_secrets

SECRET = "s3cr3t-VALUE-42"


def _sample(eval_: str, model: str, index: int, *, output: str | None = None, **extra: object) -> SampleRecord:
    return SampleRecord(
        eval=eval_,
        model=model,
        index=index,
        row_id=content_hash({"q": f"question {index}"})[:20],
        sample_key=content_hash({"q": f"question {index}", "p": 1}),
        inputs={"q": f"question {index}", "a": "é"},
        prompt=({"role": "user", "content": f"question {index}"},),
        references=(f"answer {index}",),
        scores={"exact_match": 1.0, "f1": None},
        output={"output": output or f"answer {index}", "latency": 0.01, "prompt_tokens": 5,
                "completion_tokens": 2, "cost": None},
        **extra,  # type: ignore[arg-type]
    )


def _count(st: Store, run_id: str, **where: str) -> int:
    return sum(1 for _ in st.iter_samples(run_id, **where))


def _result(run_id: str | None, status: str = "completed", results: tuple[EvalModelResult, ...] = (),
            asserts: tuple[AssertOutcome, ...] = ()) -> RunResult:
    return RunResult(run_id=run_id, spec="specs/qa.eval", status=status, results=results,  # type: ignore[arg-type]
                     asserts=asserts)  # fmt: skip


# ---------------------------------------------------------------- hashing


def test_content_hash_is_canonical_json_sha256() -> None:
    assert content_hash({"b": [1, 2], "a": "é"}) == hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash((1, "x")) == content_hash([1, "x"])
    assert content_hash({"a": 1}) != content_hash({"a": 1.5})
    with pytest.raises(TypeError):
        content_hash({"a": object()})


# ---------------------------------------------------------------- response cache


def test_cache_round_trip_survives_reopen(store_location: Path | str) -> None:
    with Store(store_location) as st:
        assert st.cache_get_many(["missing"]) == {}
        st.cache_put("k1", "generate", {"text": "Paris ✓", "finish_reason": "stop", "cost": None})
        st.cache_put("k2", "choice", {"logliks": [-1.5, float("-inf")], "is_greedy": [True, False]})
        for i in range(2000):
            st.cache_put(f"bulk{i}", "generate", {"text": str(i)})
    with Store(store_location) as st:
        got = st.cache_get_many(["k1", "k2"])
        assert got["k1"] == {"text": "Paris ✓", "finish_reason": "stop", "cost": None}
        assert got["k2"] == {"logliks": [-1.5, float("-inf")], "is_greedy": [True, False]}
        keys = [f"bulk{i}" for i in range(2000)] + ["nope", "bulk5"]  # > one IN chunk, a miss, a duplicate
        got = st.cache_get_many(keys)
        assert len(got) == 2000 and got["bulk1999"] == {"text": "1999"} and "nope" not in got
        stats = st.cache_stats()
        assert stats["entries"] == 2002 and stats["by_kind"] == {"choice": 1, "generate": 2001}
        assert stats["value_bytes"] > 0 and stats["db_bytes"] > 0
        st.cache_put("k1", "generate", {"text": "replaced"})
        assert st.cache_get_many(["k1"]) == {"k1": {"text": "replaced"}}
        assert st.cache_clear("choice") == 1
        assert st.cache_get_many(["k2"]) == {}
        assert st.cache_clear() == 2001
        assert st.cache_stats()["entries"] == 0


def test_store_file_is_wal_and_versioned(tmp_path: Path) -> None:
    Store(tmp_path / "new").close()
    assert (tmp_path / "new" / ".gitignore").read_text().endswith("*\n")  # never committed by accident
    conn = sqlite3.connect(tmp_path / "new" / DB_FILENAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {r[1] for r in conn.execute("PRAGMA table_info(samples)")}
        assert {"eval", "model", "sample_key", "error", "data"} <= columns
    finally:
        conn.close()


def test_threads_share_one_store(store_location: Path | str) -> None:
    with Store(store_location) as st:

        def work(t: int) -> None:
            for i in range(100):
                st.cache_put(f"t{t}-{i}", "generate", {"i": i})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert st.cache_stats()["entries"] == 400


def test_cache_put_throughput(store_location: Path | str) -> None:
    value = {"text": "The capital of France is Paris." * 4, "finish_reason": "stop", "prompt_tokens": 40,
             "completion_tokens": 30, "cost": 0.0001, "latency_s": 0.4}  # fmt: skip
    with Store(store_location) as st:
        n = 3000
        start = time.perf_counter()
        for i in range(n):
            st.cache_put(f"{i:064x}", "generate", value)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        got = st.cache_get_many([f"{i:064x}" for i in range(n)])
        read_s = time.perf_counter() - start
    print(
        f"\ncache_put: {n / elapsed:,.0f} puts/s (one commit each); cache_get_many: {n / read_s:,.0f} gets/s"
    )
    assert len(got) == n
    assert n / elapsed > 200  # a very loose floor; a commit per put must stay cheap (no fsync per put)


# ---------------------------------------------------------------- runs


def test_run_round_trip(store_location: Path | str) -> None:
    with Store(store_location) as st:
        run_id = st.begin_run({"spec_path": "specs/qa.eval", "graph_hash": "ab" * 32, "git_commit": "deadbeef",
                               "evaldsl_version": "0.1.0", "argv": ["run", "specs/qa.eval"]})  # fmt: skip
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run_id)
        info = st.list_runs()[0]
        assert (info.id, info.status, info.spec_path, info.n_samples) == (
            run_id,
            "running",
            "specs/qa.eval",
            0,
        )
        rows = [_sample("qa", "small", i) for i in range(620)]  # more than one transaction's worth
        rows += [_sample("qa", "big", i, error="timeout", truncated=True, cached=True) for i in range(3)]
        rows += [_sample("mc", "small", i) for i in range(2)]
        assert st.add_samples(run_id, iter(rows)) == 625
        st.add_samples(run_id, [_sample("mc", "small", 1, output="retried")])  # same index replaces
        assert _count(st, run_id) == 625
        assert _count(st, run_id, eval="qa") == 623 and _count(st, run_id, model="big") == 3

        samples = st.iter_samples(run_id, eval="qa", model="small")
        assert isinstance(samples, types.GeneratorType)
        first = next(samples)
        st.cache_put("during-iteration", "generate", {"text": "x"})  # the store stays usable
        assert first == _sample("qa", "small", 0)
        assert [s.index for s in samples] == list(range(1, 620))
        big = list(st.iter_samples(run_id, model="big"))
        assert [(s.error, s.truncated, s.cached) for s in big] == [("timeout", True, True)] * 3
        assert [s.output["output"] for s in st.iter_samples(run_id, eval="mc")] == ["answer 0", "retried"]

        em = MetricSummary(value=1.0, ci_low=0.99, ci_high=1.0, n=620, family="exact_match")
        results = (EvalModelResult("qa", "small", n=620, errors=0, truncated=0, metrics={"exact_match": em},
                                   completion_tokens=4340),
                   EvalModelResult("qa", "big", n=3, errors=3, truncated=0, metrics={}, status="failed"))  # fmt: skip
        asserts = (AssertOutcome("qa", "small", "mean(exact_match) > 0.5", 1.0, "pass"),
                   AssertOutcome("qa", "big", "mean(exact_match) > 0.5", None, "error", "3 of 3 failed"))  # fmt: skip
        st.finish_run(_result(run_id, "failed", results, asserts), summary={"wall_s": 1.5})
        rec = st.get_run(run_id)
        assert (rec.id, rec.status, rec.results, rec.asserts) == (run_id, "failed", results, asserts)
        assert rec.summary == {"wall_s": 1.5} and rec.meta["git_commit"] == "deadbeef"
        assert rec.meta["started_at"] == rec.started_at and rec.finished_at is not None
        st.finish_run(_result(run_id, "completed", results[:1]), summary={})  # replaces
        rec = st.get_run(run_id)
        assert (rec.status, len(rec.results), rec.asserts) == ("completed", 1, ())


def test_list_runs_newest_first_and_bad_input(store_location: Path | str) -> None:
    with Store(store_location) as st:
        ids = [st.begin_run({"n": i}) for i in range(4)]
        assert [r.id for r in st.list_runs()] == ids[::-1]
        assert [r.id for r in st.list_runs(limit=2)] == ids[:1:-1]
        with pytest.raises(StoreError, match="no run 'nope'"):
            st.add_samples("nope", [_sample("qa", "m", 0)])
        with pytest.raises(StoreError, match="no run 'nope'"):
            st.get_run("nope")
        with pytest.raises(StoreError, match="no run 'nope'"):
            st.iter_samples("nope")
        with pytest.raises(StoreError, match="without a run id"):
            st.finish_run(_result(None), summary={})
        with pytest.raises(StoreError, match="no run 'nope'"):
            st.finish_run(_result("nope"), summary={})
        assert _count(st, ids[0]) == 0


def test_resolve_run(store_location: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(store_location) as st:
        with pytest.raises(StoreError, match="no runs are stored"):
            st.resolve_run("latest")
        ids = iter(["20260101-000000-aaaa", "20260101-000000-aabb", "20260102-000000-cccc"])
        monkeypatch.setattr(store_mod, "new_run_id", lambda: next(ids))
        a, b, c = (st.begin_run({}) for _ in range(3))
        assert st.resolve_run(a) == a and st.resolve_run(f" {c} ") == c
        assert st.resolve_run("20260101-000000-aab") == b
        assert st.resolve_run("20260102") == c
        assert (st.resolve_run("latest"), st.resolve_run("latest~1"), st.resolve_run("latest~2")) == (c, b, a)
        with pytest.raises(StoreError, match=r"only 3 run\(s\)"):
            st.resolve_run("latest~3")
        with pytest.raises(StoreError, match="ambiguous") as err:
            st.resolve_run("20260101-000000-aa")
        assert a in str(err.value) and b in str(err.value) and c not in str(err.value)
        for ref in ("nope", "2026%", "20260101_", ""):
            with pytest.raises(StoreError, match="no run matches") as err:
                st.resolve_run(ref)
            assert c in str(err.value)  # recent runs are listed


def test_secrets_are_never_stored(store_location: Path | str) -> None:
    meta = {
        "spec_path": "x.eval",
        "api_key": SECRET,
        "OPENAI_API_KEY": SECRET,
        "options": {"max_tokens": 5, "prompt_tokens": 1, "hf_token": SECRET, "Password": SECRET,
                    "headers": {"Authorization": SECRET, "X-Trace": "ok"}, "client_secret": SECRET},
        "models": [{"name": "m", "api-key": SECRET, "extra": {"aws_secret_access_key": SECRET}}],
        "argv": ["run", "--api-key", SECRET, f"--token={SECRET}", "--limit", "5", f"HF_TOKEN={SECRET}"],
        "note": f"called with Bearer {SECRET}",
    }  # fmt: skip
    with Store(store_location) as st:
        run_id = st.begin_run(meta)
        st.finish_run(_result(run_id), summary={"options": {"token": SECRET}})
        rec = st.get_run(run_id)
    assert rec.meta["options"] == {"max_tokens": 5, "prompt_tokens": 1, "headers": {"X-Trace": "ok"}}
    assert rec.meta["models"] == [{"name": "m", "extra": {}}]
    assert rec.meta["argv"] == ["run", "--api-key", "<redacted>", "--token=<redacted>", "--limit", "5",
                                "HF_TOKEN=<redacted>"]  # fmt: skip
    assert rec.summary == {"options": {}}
    assert "api_key" not in rec.meta and "OPENAI_API_KEY" not in rec.meta
    if isinstance(store_location, Path):
        for path in store_location.iterdir():  # nowhere on disk, WAL included
            assert SECRET.encode() not in path.read_bytes(), path
    kept = {"sort_keys": True, "max_tokens": 3, "keywords": ["a"], "token_count": 1, "text": "sk-short"}
    assert strip_secrets(kept) == kept


# ---------------------------------------------------------------- errors


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / DB_FILENAME).write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError) as err:
        Store(tmp_path)
    assert str(tmp_path / DB_FILENAME) in str(err.value) and "delete it" in str(err.value)


def test_foreign_and_newer_databases_are_refused(tmp_path: Path) -> None:
    foreign, newer = tmp_path / "foreign", tmp_path / "newer"
    for d, sql in ((foreign, "CREATE TABLE t (x)"), (newer, "PRAGMA user_version = 99")):
        d.mkdir()
        conn = sqlite3.connect(d / DB_FILENAME)
        conn.execute(sql)
        conn.commit()
        conn.close()
    with pytest.raises(StoreError, match="no evaldsl store"):
        Store(foreign)
    with pytest.raises(StoreError, match="schema 99"):
        Store(newer)


def test_unusable_directories(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        Store(tmp_path / "file")
    with pytest.raises(StoreError, match="cannot create the store directory"):
        Store(tmp_path / "file" / "sub")
    (tmp_path / "dbdir" / DB_FILENAME).mkdir(parents=True)
    with pytest.raises(StoreError, match="is not a file"):
        Store(tmp_path / "dbdir")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="no permission"):
            Store(ro)
    finally:
        ro.chmod(0o700)


def test_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    Store(tmp_path).close()
    holder = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(tmp_path, timeout_s=0.2) as st:
            assert st.cache_get_many(["x"]) == {}  # readers are not blocked by a writer (WAL)
            with pytest.raises(StoreError, match="locked"):
                st.cache_put("x", "generate", {})
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# ---------------------------------------------------------------- several processes


def _writer(directory: str, name: str, n: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    with Store(directory) as st:
        run_id = st.begin_run({"writer": name})
        for i in range(n):
            st.cache_put(f"{name}-{i}", "generate", {"text": f"{name} {i}"})
            if i % 10 == 9:
                st.add_samples(run_id, [_sample("qa", name, j) for j in range(i - 9, i + 1)])
        st.finish_run(_result(run_id), summary={"writer": name})


def test_two_processes_write_at_once(store_location: Path | str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(store_location), name, 300, start)) for name in ("a", "b")]
    for p in procs:
        p.start()
    with Store(store_location) as reader:  # a reader running beside them
        start.set()
        while any(p.is_alive() for p in procs):
            reader.list_runs()
            reader.cache_get_many([f"a-{i}" for i in range(300)])
            time.sleep(0.01)
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        if isinstance(store_location, Path):
            conn = sqlite3.connect(store_location / DB_FILENAME)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
        keys = [f"{name}-{i}" for name in ("a", "b") for i in range(300)]
        got = reader.cache_get_many(keys)
        assert len(got) == 600 and got["b-299"] == {"text": "b 299"}
        runs = reader.list_runs()
        assert sorted((r.status, r.n_samples) for r in runs) == [("completed", 300)] * 2
        for r in runs:
            models = {s.model for s in reader.iter_samples(r.id)}
            assert len(models) == 1 and [s.index for s in reader.iter_samples(r.id)] == list(range(300))


def _put_forever(directory: str, progress: object) -> None:
    with Store(directory) as st:
        st.begin_run({"spec_path": "killed.eval"})
        i = 0
        while True:
            st.cache_put(f"key-{i}", "generate", {"text": f"value {i}"})
            i += 1
            progress.value = i  # type: ignore[attr-defined]


def test_sigkill_keeps_every_committed_put(store_location: Path | str) -> None:
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Value("q", 0, lock=False)
    proc = ctx.Process(target=_put_forever, args=(str(store_location), progress))
    proc.start()
    deadline = time.monotonic() + 60
    while progress.value < 300 and time.monotonic() < deadline and proc.is_alive():
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    done = progress.value  # every put before this one returned, so was committed
    assert proc.exitcode == -signal.SIGKILL and done >= 300
    with Store(store_location) as st:
        got = st.cache_get_many([f"key-{i}" for i in range(done)])
        assert len(got) == done and got[f"key-{done - 1}"] == {"text": f"value {done - 1}"}
        assert st.cache_stats()["entries"] in (done, done + 1)  # the put in flight may have landed
        [run] = st.list_runs()
        assert run.status == "interrupted" and run.spec_path == "killed.eval"


# ---------------------------------------------------------------- stores written by older versions

V1_DUMP = Path(__file__).parent / "fixtures" / "store_v1.sql"  # written by evaldsl 0.1.0 (results version 1)


def _v1_store(folder: Path) -> Path:
    folder.mkdir()
    conn = sqlite3.connect(folder / DB_FILENAME)
    conn.executescript(V1_DUMP.read_text(encoding="utf-8"))
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    return folder


def test_a_store_of_the_first_version_is_migrated_and_read(tmp_path: Path) -> None:
    folder = _v1_store(tmp_path / "old")
    with Store(folder) as st:
        [info] = st.list_runs()
        rec = st.get_run(info.id)
        samples = list(st.iter_samples(info.id))
    conn = sqlite3.connect(folder / DB_FILENAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    conn.close()
    assert {"graph_hash", "results_version"} <= columns and "spec_hash" not in columns
    assert rec.results_version == 1 and rec.status == "completed" and info.graph_hash == rec.meta["spec_hash"]
    qa = {(r.eval, r.model): r for r in rec.results}
    good = qa[("qa", "good")]
    assert good.status == "ok" and good.metrics["exact_match"].value == 1.0 and good.metrics["f1"].n == 4
    assert good.metrics["correctness"].kind == "judge" and good.metrics["correctness"].unscored_rate == 0.0
    ppl = qa[("ppl", "good")].metrics
    assert not ppl["perplexity"].higher_is_better and ppl["cross_entropy"].n == 4
    assert all(m.higher_is_better for m in good.metrics.values())
    assert [(a.model, a.status, a.passed) for a in rec.asserts] == [("good", "pass", True), ("echo", "fail", False)]
    assert len(samples) == 4 * 3 and all(s.row_id for s in samples)
    assert {s.row_id for s in samples if s.eval == "qa" and s.model == "good"} == {
        s.sample_key for s in samples if s.eval == "qa" and s.model == "good"
    }  # version 1 rows pair by their content key
    assert rec.to_result().to_json()["results_version"] == 2
    with Store(folder) as st:  # briefs of rows written before schema 3 come from their data
        briefs = list(st.iter_sample_briefs(info.id))
    assert [(b[0], b[1], b[2], b[3], b[5]) for b in briefs] == [
        (s.eval, s.model, s.index, s.row_id, dict(s.scores)) for s in samples]


def test_a_migrated_store_takes_new_runs(tmp_path: Path) -> None:
    folder = _v1_store(tmp_path / "old")
    with Store(folder) as st:
        run_id = st.begin_run({"spec_path": "x.eval", "graph_hash": "cd" * 32})
        st.add_samples(run_id, [_sample("qa", "m", 0)])
        st.finish_run(_result(run_id), summary={})
        runs = st.list_runs()
        assert [r.id for r in runs][0] == run_id and len(runs) == 2
        assert st.get_run(run_id).results_version == 2 and runs[0].graph_hash == "cd" * 32


# ---------------------------------------------------------------- size at scale


def test_store_overhead_per_sample_is_small(store_location: Path | str) -> None:
    """Repeated prompt messages are stored once and large values compressed: 2,000 samples with a 1 KB system
    message, a 2 KB input rendered into the prompt and a cached answer cost under 1 KB each beyond their text."""
    import random

    rng = random.Random(0)  # random printable text: compression alone cannot hide repeated or wasted bytes

    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;"

    def noise(k: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(k))

    system = {"role": "system", "content": noise(1024)}
    n, text = 2000, 0
    with Store(store_location) as st:
        run_id = st.begin_run({"spec_path": "big.eval"})
        rows = []
        for i in range(n):
            context = noise(2048)
            user = {"role": "user", "content": f"Context: {context}\nQ: question {i}?"}
            answer = f"The answer is {i}."
            rows.append(SampleRecord(eval="qa", model="m", index=i, row_id=content_hash({"i": i})[:20],
                                     sample_key=content_hash({"i": i, "p": 1}), inputs={"context": context, "q": i},
                                     prompt=(system, user), references=(str(i),), scores={"exact_match": 1.0},
                                     output={"output": answer, "latency": 0.0, "prompt_tokens": 700,
                                             "completion_tokens": 5, "cost": None}))  # fmt: skip
            st.cache_put(content_hash({"k": i}), "generate", {"text": answer, "finish_reason": "stop",
                                                              "prompt_tokens": 700, "completion_tokens": 5})
            text += len(system["content"]) + len(user["content"]) + len(answer)
        st.add_samples(run_id, rows)
        assert list(st.iter_samples(run_id)) == rows  # shared messages and compression round-trip
        if isinstance(store_location, Path):
            conn = sqlite3.connect(store_location / DB_FILENAME)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        size = st.cache_stats()["db_bytes"]
    print(f"\n{(size - text) / n:.0f} bytes per sample beyond the text")
    assert (size - text) / n < 1024, f"{(size - text) / n:.0f} bytes per sample beyond the text"


def test_sample_briefs_and_samples_at(store_location: Path | str) -> None:
    with Store(store_location) as st:
        run_id = st.begin_run({})
        rows = [_sample(ev, m, i, error="boom", error_stage="model") if i == 3 else _sample(ev, m, i)
                for ev in ("a", "b") for m in ("x", "y")
                for i in range(1000)]  # fmt: skip
        st.add_samples(run_id, rows)
        briefs = list(st.iter_sample_briefs(run_id))
        assert briefs == [(s.eval, s.model, s.index, s.row_id, s.error, dict(s.scores)) for s in rows]
        wanted = [("b", "y", 999), ("a", "x", 3), ("a", "x", 0)] + [("a", "y", i) for i in range(950)]
        got = list(st.samples_at(run_id, wanted))
        assert [(s.eval, s.model, s.index) for s in got] == sorted(wanted)
        assert got[1] == rows[3] and got[-1] == rows[-1]
