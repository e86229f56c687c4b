"""A store directory in; out: a response cache keyed by content hash and a run store (typed run results and
sample records), in one SQLite file. Stores written by older versions are migrated when opened."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..hashing import json_default
from ..results import RESULTS_VERSION, RUN_STATUSES, AssertOutcome, EvalModelResult, RunResult, SampleRecord
from .redact import Redactor

DB_FILENAME = "evaldsl.db"
SCHEMA_VERSION = 2
_IN_CHUNK = 900  # bound variables per IN (...) query, below SQLite's oldest limit of 999
_SAMPLE_CHUNK = 500  # sample rows per transaction
_FETCH = 256  # rows per fetchmany while streaming samples
_SAMPLE_COLUMNS = ("eval", "model", "index", "sample_key", "error", "truncated", "cached")

_SCHEMA = """
CREATE TABLE cache (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, created_at TEXT NOT NULL)
    WITHOUT ROWID;
CREATE TABLE runs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, spec_path TEXT, graph_hash TEXT, host TEXT, pid INTEGER,
    meta TEXT NOT NULL, summary TEXT, results_version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE results (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, eval TEXT NOT NULL,
    model TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (run_id, eval, model));
CREATE TABLE asserts (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    passed INTEGER, data TEXT NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID;
CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, eval TEXT NOT NULL,
    model TEXT NOT NULL, idx INTEGER NOT NULL, sample_key TEXT, error TEXT,
    truncated INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL,
    PRIMARY KEY (run_id, eval, model, idx)) WITHOUT ROWID;
CREATE INDEX samples_by_key ON samples (sample_key)
"""
# Schema version N-1 → N: statements run in one transaction when an older store is opened.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE runs RENAME COLUMN spec_hash TO graph_hash",
        "ALTER TABLE runs ADD COLUMN results_version INTEGER NOT NULL DEFAULT 1"),
}  # fmt: skip
_ELSEWHERE = "or pass another store directory"
_CACHE_PUT = "INSERT OR REPLACE INTO cache (key, kind, value, created_at) VALUES (?, ?, ?, ?)"
_SAMPLE_SELECT = ("eval", "model", "idx", "sample_key", "error", "truncated", "cached")


class StoreError(Exception):
    """The store cannot be opened, read or written, or a run reference does not resolve."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One line of `evaldsl runs`. `status` reads "interrupted" for a run whose process died while running."""

    id: str
    status: str
    started_at: str
    finished_at: str | None
    spec_path: str | None
    graph_hash: str | None
    n_samples: int


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A stored run: its meta, typed per eval × model results and assert outcomes, and its summary.
    `results_version` is the version the results were written with (1: before results were typed)."""

    id: str
    status: str
    started_at: str
    finished_at: str | None
    meta: dict[str, Any]
    results: tuple[EvalModelResult, ...]
    asserts: tuple[AssertOutcome, ...]
    summary: dict[str, Any]
    results_version: int = RESULTS_VERSION

    def to_result(self, store: str | None = None) -> RunResult:
        """The run as the `RunResult` that `evaldsl run` printed (as far as it was stored)."""
        status = self.status if self.status in RUN_STATUSES else "interrupted"
        return RunResult(
            run_id=self.id,
            spec=str(self.meta.get("spec_path") or ""),
            status=status,  # type: ignore[arg-type]
            results=self.results,
            asserts=self.asserts,
            message=self.summary.get("message"),
            store=store,
            cache_hits=int(self.summary.get("cache_hits") or 0),
            model_calls=int(self.summary.get("model_calls") or 0),
            wall_s=self.summary.get("wall_s"),
        )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=json_default)


# ---------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _effective_status(status: str, host: str | None, pid: int | None) -> str:
    """ "running" reads "interrupted" when the run's process (on this host) is gone, e.g. after kill -9."""
    if status == "running" and pid and host == socket.gethostname() and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "interrupted"
        except OSError:  # alive, but owned by someone else
            pass
    return status


class Store:
    """The response cache and run store in `directory` (created when missing): one SQLite file in WAL mode.

    Safe to use from several processes at once (each opens its own `Store`) and from several threads of one
    process (calls are serialised). Every write is committed before the call returns.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, timeout_s: float = 30.0, redactor: Redactor | None = None
    ) -> None:
        self.directory = Path(directory)
        self.redactor = redactor or Redactor()  # applied to all that is written and read
        self.path = self.directory / DB_FILENAME
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._check_paths()
        self._conn: sqlite3.Connection | None = None
        try:
            with self._guard("opening the store"):
                self._conn = sqlite3.connect(
                    self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
                )
                for pragma in (f"busy_timeout = {int(timeout_s * 1000)}", "journal_mode = WAL",
                               "synchronous = NORMAL", "foreign_keys = ON"):  # fmt: skip
                    self._conn.execute(f"PRAGMA {pragma}").fetchall()
                self._init_schema(self._conn)
        except BaseException:
            self.close()
            raise

    def _check_paths(self) -> None:
        d, path = self.directory, self.path
        if d.exists() and not d.is_dir():
            raise StoreError(f"the store directory {d} exists but is not a directory; pass another store directory")
        try:
            if not d.exists():
                d.mkdir(parents=True)
                (d / ".gitignore").write_text("# created by evaldsl: cached responses and runs\n*\n")
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {d} ({exc}); create it {_ELSEWHERE}") from None
        if path.exists() and not path.is_file():
            raise StoreError(f"{path} exists but is not a file; move it away {_ELSEWHERE}")
        if not os.access(d, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
            raise StoreError(
                f"no permission to write the store {path} (its directory must be writable too, for the WAL "
                f"files); fix the permissions {_ELSEWHERE}"
            )

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:  # still: nobody created it while we waited for the lock
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise StoreError(f"{self.path} is an SQLite file but no evaldsl store; move it away")
                    for statement in _SCHEMA.split(";"):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    version = SCHEMA_VERSION
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if 0 < version < SCHEMA_VERSION:
            version = self._migrate(conn, version)
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema {version} but this evaldsl reads schema {SCHEMA_VERSION} "
                f"(written by another version?); upgrade evaldsl {_ELSEWHERE}"
            )

    def _migrate(self, conn: sqlite3.Connection, version: int) -> int:
        """Bring an older store up to SCHEMA_VERSION, one version at a time, in one write transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            while version < SCHEMA_VERSION and version in _MIGRATIONS:
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(version)

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        if os.getpid() != self._pid:
            raise StoreError("a Store cannot cross a fork; open a new Store in the child process")
        return self._conn

    def _translate(self, exc: sqlite3.Error, action: str) -> StoreError:
        text, path = str(exc), self.path
        low = text.lower()
        if "locked" in low or "busy" in low:
            why = f"another process held the store {path} locked for over {self.timeout_s:g} s"
            return StoreError(f"{action}: {why}; wait for it to finish {_ELSEWHERE}")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return StoreError(
                f"{path} is not a readable evaldsl store ({text}); move it away or delete it (this drops "
                f"cached responses and stored runs) and run again, {_ELSEWHERE}"
            )
        if "readonly" in low or "unable to open" in low or "permission" in low or "i/o" in low:
            return StoreError(f"{action}: cannot write {path} ({text}); check its permissions {_ELSEWHERE}")
        if "full" in low:
            return StoreError(f"{action}: the disk holding {path} is full ({text}); free some space")
        return StoreError(f"{action} failed on the store {path}: {text}")

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._translate(exc, action) from None

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        """Holds the lock; a single statement run inside commits on its own (autocommit)."""
        with self._lock, self._guard(action):
            yield self._db()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """Holds the lock and a write transaction (BEGIN IMMEDIATE waits for other writers, up to timeout)."""
        with self._read(action) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _loads(self, text: str) -> Any:
        """Stored JSON, with the secrets known now redacted (a run stored before a key was set holds none)."""
        return self.redactor.values(json.loads(text))

    def _require_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"no run {run_id!r} in {self.directory}; `evaldsl runs` lists the stored runs")

    # ------------------------------------------------------------ response cache

    def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The cached values of those `keys` that are present (missing keys are simply absent)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._read("reading the response cache") as conn:
            for start in range(0, len(unique), _IN_CHUNK):
                chunk = unique[start : start + _IN_CHUNK]
                sql = f"SELECT key, value FROM cache WHERE key IN ({','.join('?' * len(chunk))})"
                found.update((key, json.loads(value)) for key, value in conn.execute(sql, chunk))
        return found

    def cache_put(self, key: str, kind: str, value: Mapping[str, Any]) -> None:
        """Store `value` under `key`; committed before returning (one autocommit statement)."""
        with self._read("writing the response cache") as conn:
            conn.execute(_CACHE_PUT, (key, kind, _dumps(self.redactor.values(value)), _now()))

    def cache_stats(self) -> dict[str, Any]:
        """{"entries": n, "by_kind": {kind: n}, "value_bytes": n, "db_bytes": n (database + WAL file)}."""
        with self._read("reading the response cache") as conn:
            by_kind = dict(conn.execute("SELECT kind, count(*) FROM cache GROUP BY kind ORDER BY kind"))
            size = conn.execute("SELECT coalesce(sum(length(CAST(value AS BLOB))), 0) FROM cache").fetchone()
        files = (self.path, self.path.with_name(DB_FILENAME + "-wal"))
        db_bytes = sum(p.stat().st_size for p in files if p.exists())
        return {
            "entries": sum(by_kind.values()),
            "by_kind": by_kind,
            "value_bytes": size[0],
            "db_bytes": db_bytes,
        }

    def cache_clear(self, kind: str | None = None) -> int:
        """Delete every cached response (or those of one `kind`); returns how many were deleted."""
        with self._transaction("clearing the response cache") as conn:
            if kind is None:
                return conn.execute("DELETE FROM cache").rowcount
            return conn.execute("DELETE FROM cache WHERE kind = ?", (kind,)).rowcount

    # ------------------------------------------------------------ runs

    def begin_run(self, meta: Mapping[str, Any]) -> str:
        """Record a new run with status "running"; returns its id (UTC time + random hex, sortable).

        `meta` (spec_path, graph_hash, git commit, evaldsl version, options...) is stored without
        credential-like keys; `started_at` is filled in when absent.
        """
        clean = self.redactor.data(dict(meta))
        clean.setdefault("started_at", _now())
        spec_path, graph_hash = (None if clean.get(k) is None else str(clean[k]) for k in ("spec_path", "graph_hash"))
        with self._transaction("recording a new run") as conn:
            run_id = _new_run_id()
            while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                run_id = _new_run_id()  # two runs in the same second drew the same 16 random bits
            conn.execute(
                "INSERT INTO runs (id, status, started_at, spec_path, graph_hash, host, pid, meta, results_version) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, str(clean["started_at"]), spec_path, graph_hash, socket.gethostname(), os.getpid(),
                 _dumps(clean), RESULTS_VERSION),
            )  # fmt: skip
        return run_id

    def add_samples(self, run_id: str, records: Iterable[SampleRecord]) -> int:
        """Store sample records (committed every few hundred); returns how many were written. A record with the
        same run, eval, model and index replaces the earlier one."""
        written, batch = 0, []
        for record in records:
            data = self.redactor.values(record.to_json())
            error = None if record.error is None else self.redactor.text(record.error)
            rest = {k: v for k, v in data.items() if k not in _SAMPLE_COLUMNS}
            batch.append((run_id, record.eval, record.model, record.index, record.sample_key or None, error,
                          int(record.truncated), int(record.cached), _dumps(rest)))  # fmt: skip
            if len(batch) >= _SAMPLE_CHUNK:
                written += self._insert_samples(run_id, batch)
                batch = []
        return written + (self._insert_samples(run_id, batch) if batch else 0)

    def _insert_samples(self, run_id: str, batch: list[tuple[Any, ...]]) -> int:
        with self._transaction("storing samples") as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT OR REPLACE INTO samples (run_id, eval, model, idx, sample_key, error, truncated, "
                "cached, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
        return len(batch)

    def finish_run(self, result: RunResult, summary: Mapping[str, Any]) -> None:
        """Close run `result.run_id`: its status, one result per eval × model, the assert outcomes and a
        summary (wall time, cache hits, model calls...). Calling it again replaces them."""
        run_id = result.run_id
        if run_id is None:
            raise StoreError("a run result without a run id cannot be stored")
        clean = self.redactor.values
        result_rows = [(run_id, r.eval, r.model, _dumps(clean(r.to_json(), shapes=True))) for r in result.results]
        assert_rows = [(run_id, n, int(a.passed), _dumps(clean(a.to_json(), shapes=True)))
                       for n, a in enumerate(result.asserts)]  # fmt: skip
        with self._transaction("finishing the run") as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ?, results_version = ? WHERE id = ?",
                (result.status, _now(), _dumps(self.redactor.data(dict(summary))), RESULTS_VERSION, run_id),
            )
            conn.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM asserts WHERE run_id = ?", (run_id,))
            conn.executemany("INSERT INTO results (run_id, eval, model, data) VALUES (?,?,?,?)", result_rows)
            conn.executemany("INSERT INTO asserts (run_id, idx, passed, data) VALUES (?,?,?,?)", assert_rows)

    def list_runs(self, limit: int = 50) -> list[RunInfo]:
        """Stored runs, newest first."""
        with self._read("listing runs") as conn:
            rows = conn.execute(
                "SELECT id, status, host, pid, started_at, finished_at, spec_path, graph_hash, (SELECT "
                "count(*) FROM samples s WHERE s.run_id = runs.id) FROM runs ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RunInfo(r[0], _effective_status(*r[1:4]), *r[4:]) for r in rows]

    def resolve_run(self, ref: str) -> str:
        """A run id from a full id, a unique prefix of one, `latest`, or `latest~N` (N runs before latest)."""
        ref = ref.strip()
        latest = re.fullmatch(r"latest(?:~(\d+))?", ref)
        with self._read("resolving a run") as conn:
            count = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
            if count == 0:
                raise StoreError(f"no runs are stored in {self.directory} yet; `evaldsl run SPEC` stores one")
            if latest:
                back = int(latest.group(1) or 0)
                sql = "SELECT id FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?"
                if (row := conn.execute(sql, (back,)).fetchone()) is None:
                    raise StoreError(f"{ref!r} does not exist: only {count} run(s) are stored in {self.directory}")
                return str(row[0])
            escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql = "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id = ? DESC, seq DESC LIMIT 11"
            matches = [r[0] for r in conn.execute(sql, (escaped + "%", ref))] if ref else []
            recent = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY seq DESC LIMIT 5")]
        if len(matches) == 1 or (matches and matches[0] == ref):
            return str(matches[0])
        if matches:
            shown = ", ".join(matches[:10]) + (", ..." if len(matches) > 10 else "")
            raise StoreError(f"run {ref!r} is ambiguous: it matches {shown}; type more of the id")
        raise StoreError(
            f"no run matches {ref!r} in {self.directory}; give a run id, a unique prefix of one, `latest` or "
            f"`latest~N`; recent runs: {', '.join(recent)} (`evaldsl runs` lists them)"
        )

    def get_run(self, run_id: str) -> RunRecord:
        """The stored run `run_id` (an exact id; `resolve_run` turns prefixes and `latest` into one)."""
        with self._read("reading a run") as conn:
            self._require_run(conn, run_id)
            r = conn.execute(
                "SELECT status, host, pid, started_at, finished_at, meta, summary, results_version FROM runs "
                "WHERE id = ?",
                (run_id,),
            ).fetchone()
            sql = "SELECT data FROM {} WHERE run_id = ? ORDER BY {}"
            results = [self._loads(x[0]) for x in conn.execute(sql.format("results", "rowid"), (run_id,))]
            asserts = [self._loads(x[0]) for x in conn.execute(sql.format("asserts", "idx"), (run_id,))]
        summary = {} if r[6] is None else self._loads(r[6])
        return RunRecord(
            run_id, _effective_status(*r[:3]), r[3], r[4], self._loads(r[5]),
            tuple(EvalModelResult.from_json(x) for x in results), tuple(AssertOutcome.from_json(x) for x in asserts),
            summary, int(r[7]),
        )  # fmt: skip

    def iter_samples(self, run_id: str, eval: str | None = None, model: str | None = None) -> Iterator[SampleRecord]:
        """Stream a run's sample records (by eval, model, index). Reads through its own connection: the store
        stays usable meanwhile."""
        with self._read("reading samples") as conn:
            self._require_run(conn, run_id)
        return self._stream_samples(*_sample_filter(run_id, eval, model))

    def _stream_samples(self, where: str, args: list[Any]) -> Iterator[SampleRecord]:
        with self._guard("reading samples"):
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            with self._guard("reading samples"):
                cur = conn.execute(f"SELECT {', '.join(_SAMPLE_SELECT)}, data FROM samples WHERE {where} "
                                   "ORDER BY eval, model, idx", args)  # fmt: skip
                while rows := cur.fetchmany(_FETCH):
                    for r in rows:
                        sample = dict(zip(_SAMPLE_COLUMNS, r[:-1], strict=True))
                        sample["truncated"], sample["cached"] = bool(r[5]), bool(r[6])
                        sample.update(json.loads(r[-1]))
                        yield SampleRecord.from_json(self.redactor.values(sample))
        finally:
            conn.close()


def _sample_filter(run_id: str, eval: str | None, model: str | None) -> tuple[str, list[Any]]:
    clauses, args = ["run_id = ?"], [run_id]
    for column, value in (("eval", eval), ("model", model)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(clauses), args
