"""The store's one behaviour over any SQL backend: the response cache keyed by content hash (with claims, so that
runners sharing a store never send the same request twice while one is in flight) and the run store (typed run
results and sample records). A backend (SQLite file, PostgreSQL server) supplies connections, schema and errors."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

from ..results import RESULTS_VERSION, AssertOutcome, EvalModelResult, RunResult, SampleRecord
from .records import (
    Redacting,
    RunInfo,
    RunRecord,
    StoreError,
    dumps,
    effective_status,
    new_run_id,
    now,
    pack,
    pid_alive,
    share_prompt,
    unpack,
    unshare_prompt,
)
from .redact import Redactor

SCHEMA_VERSION = 4  # 4: values compressed with zstd (an older evaldsl cannot read them; 3's zlib still reads)
IN_CHUNK = 900  # bound variables per IN (...) query, below SQLite's oldest limit of 999
SAMPLE_CHUNK = 500  # sample rows per transaction
CLAIM_TTL_S = 300.0  # a claim not refreshed for this long is taken over (its runner is presumed gone)
_SAMPLE_COLUMNS = ("eval", "model", "index", "sample_key", "error", "truncated", "cached")
_SAMPLE_SELECT = "eval, model, idx, sample_key, error, truncated, cached, row_id, scores, data"
_BRIEF_SELECT = "eval, model, idx, row_id, error, scores, CASE WHEN row_id IS NULL THEN data END, sample_key"
_CACHE_PUT = ("INSERT INTO cache (key, kind, value, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
              "SET kind = excluded.kind, value = excluded.value, created_at = excluded.created_at")  # fmt: skip
_SAMPLE_PUT = (
    "INSERT INTO samples (run_id, eval, model, idx, sample_key, error, truncated, cached, row_id, scores, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, eval, model, idx) DO UPDATE SET sample_key = "
    "excluded.sample_key, error = excluded.error, truncated = excluded.truncated, cached = excluded.cached, "
    "row_id = excluded.row_id, scores = excluded.scores, data = excluded.data"
)
RUN_COLUMNS = ("id", "status", "started_at", "finished_at", "spec_path", "graph_hash", "host", "pid", "meta",
                "summary", "results_version")  # fmt: skip


class Db(Protocol):
    """One connection inside a lock (and, for writes, a transaction); SQL uses `?` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def marks(n: int) -> str:
    return ",".join("?" * n)


class Store:
    """The response cache and run store at `location`: a folder (an SQLite file in it, the default) or a
    `postgresql://` URL (a server shared by a team). `Store(location)` opens the backend that fits.

    Safe to use from several processes and hosts at once (each opens its own `Store`) and from several threads
    of one process (calls are serialised). Every write is committed before the call returns.
    """

    kind: ClassVar[str] = ""
    location: str  # where the store is, for messages (never a password)

    def __new__(cls, location: str | os.PathLike[str], **kwargs: Any) -> Store:
        if cls is Store:
            for backend in cls.__subclasses__():
                if backend.handles(location):
                    return super().__new__(backend)
            raise StoreError(
                f"the store {location!r} is neither a folder nor a postgresql:// URL; pass a store folder or a "
                "postgresql://user@host/database URL"
            )
        return super().__new__(cls)

    @classmethod
    def handles(cls, location: str | os.PathLike[str]) -> bool:
        return False

    def __init__(
        self, location: str | os.PathLike[str], *, timeout_s: float = 30.0, redactor: Redacting | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.redactor = redactor or Redactor()  # applied to all that is written and read
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._claimed: set[str] = set()
        self._refreshed = time.time()
        self._known_texts: set[str] = set()

    # ------------------------------------------------------------ backend hooks

    def _read(self, action: str) -> AbstractContextManager[Db]:
        """The connection, lock held; each statement commits on its own."""
        raise NotImplementedError

    def _transaction(self, action: str) -> AbstractContextManager[Db]:
        """The connection, lock held, inside one write transaction (other writers wait, up to the timeout)."""
        raise NotImplementedError

    def _stream(self, sql: str, args: Sequence[Any], action: str) -> Iterator[Sequence[Any]]:
        """Rows of a long query read through a connection of their own (the store stays usable meanwhile)."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _octets(self, column: str) -> str:
        """SQL for the stored size of a column, in bytes."""
        raise NotImplementedError

    def _disk_bytes(self, db: Db) -> int:
        raise NotImplementedError

    _results_order: ClassVar[str] = "rowid"

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise StoreError("a Store cannot cross a fork; open a new Store in the child process")

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._claimed and os.getpid() == self._pid:
            try:
                self.release(list(self._claimed))
            except StoreError:
                pass  # the claims expire on their own
        self._close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loads(self, value: Any) -> Any:
        """A stored JSON value, with the secrets known now redacted (a run stored before a key was set)."""
        return self.redactor.values(unpack(value))

    def _require_run(self, db: Db, run_id: str) -> None:
        if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"no run {run_id!r} in {self.location}; `evaldsl runs` lists the stored runs")

    # ------------------------------------------------------------ response cache

    def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The cached values of those `keys` that are present (missing keys are simply absent)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._read("reading the response cache") as db:
            for start in range(0, len(unique), IN_CHUNK):
                chunk = unique[start : start + IN_CHUNK]
                rows = db.execute(f"SELECT key, value FROM cache WHERE key IN ({marks(len(chunk))})", chunk)
                found.update((key, unpack(value)) for key, value in rows)
        return found

    def cache_put(self, key: str, kind: str, value: Mapping[str, Any]) -> None:
        """Store `value` under `key` and drop this store's claim on it; committed before returning."""
        with self._read("writing the response cache") as db:
            db.execute(_CACHE_PUT, (key, kind, pack(self.redactor.values(dict(value))), now()))
            if key in self._claimed:
                db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self._owner))
                self._claimed.discard(key)
            self._refresh_claims(db)

    def cache_put_many(self, items: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Store (key, kind, value) items in one transaction and drop this store's claims on them."""
        stamp = now()
        rows = [(key, kind, pack(self.redactor.values(dict(value))), stamp) for key, kind, value in items]
        mine = sorted({key for key, _, _ in items if key in self._claimed})
        with self._transaction("writing the response cache") as db:
            db.executemany(_CACHE_PUT, rows)
            for start in range(0, len(mine), IN_CHUNK - 1):
                chunk = mine[start : start + IN_CHUNK - 1]
                db.execute(f"DELETE FROM claims WHERE owner = ? AND key IN ({marks(len(chunk))})",
                           [self._owner, *chunk])  # fmt: skip
            self._refresh_claims(db)
        self._claimed.difference_update(mine)

    def cache_stats(self) -> dict[str, Any]:
        """{"entries": n, "by_kind": {kind: n}, "value_bytes": n, "db_bytes": n (the store's size on disk)}."""
        with self._read("reading the response cache") as db:
            by_kind = dict(db.execute("SELECT kind, count(*) FROM cache GROUP BY kind ORDER BY kind").fetchall())
            size = db.execute(f"SELECT coalesce(sum({self._octets('value')}), 0) FROM cache").fetchone()
            disk = self._disk_bytes(db)
        return {"entries": sum(by_kind.values()), "by_kind": by_kind, "value_bytes": int(size[0]), "db_bytes": disk}

    def cache_clear(self, kind: str | None = None) -> int:
        """Delete every cached response (or those of one `kind`); returns how many were deleted."""
        with self._transaction("clearing the response cache") as db:
            if kind is None:
                return int(db.execute("DELETE FROM cache").rowcount)
            return int(db.execute("DELETE FROM cache WHERE kind = ?", (kind,)).rowcount)

    # ------------------------------------------------------------ claims on requests in flight

    def claim(self, keys: Sequence[str], ttl_s: float = CLAIM_TTL_S) -> set[str]:
        """Claim the requests of `keys` for this store's runner; returns those it now holds. A key another
        runner holds is not returned (wait for its value with `cache_get_many`, then claim again: a claim is
        dropped when its value is stored or its runner gives up, and taken over when its runner is gone)."""
        unique = sorted(set(keys))
        stamp, host = time.time(), socket.gethostname()
        mine: set[str] = set()
        with self._transaction("claiming requests") as db:
            self._serialise_claims(db)
            if db.execute("SELECT 1 FROM claims WHERE owner <> ? LIMIT 1", (self._owner,)).fetchone() is None:
                # Nobody else holds a claim (and claim transactions take turns): every key is this runner's.
                db.executemany("INSERT INTO claims (key, owner, host, pid, claimed_at) VALUES (?, ?, ?, ?, ?) "
                               "ON CONFLICT (key) DO NOTHING",
                               [(k, self._owner, host, os.getpid(), stamp) for k in unique])  # fmt: skip
                unique, mine = [], set(unique)
            for start in range(0, len(unique), IN_CHUNK - 2):
                chunk = unique[start : start + IN_CHUNK - 2]
                qs = marks(len(chunk))
                db.execute(f"DELETE FROM claims WHERE claimed_at < ? AND key IN ({qs})", [stamp - ttl_s, *chunk])
                held = db.execute(f"SELECT key, pid FROM claims WHERE host = ? AND owner <> ? AND key IN ({qs})",
                                  [host, self._owner, *chunk]).fetchall()  # fmt: skip
                gone = [k for k, pid in held if pid != os.getpid() and not pid_alive(int(pid))]
                if gone:
                    db.execute(f"DELETE FROM claims WHERE key IN ({marks(len(gone))})", gone)
                db.executemany("INSERT INTO claims (key, owner, host, pid, claimed_at) VALUES (?, ?, ?, ?, ?) "
                               "ON CONFLICT (key) DO NOTHING",
                               [(k, self._owner, host, os.getpid(), stamp) for k in chunk])  # fmt: skip
                rows = db.execute(f"SELECT key FROM claims WHERE owner = ? AND key IN ({qs})", [self._owner, *chunk])
                mine.update(r[0] for r in rows)
            self._refresh_claims(db, force=True)
        self._claimed |= mine
        return mine

    def release(self, keys: Iterable[str]) -> None:
        """Drop this store's claims on `keys` (requests that failed or were not sent)."""
        mine = sorted(set(keys) & self._claimed)
        with self._read("releasing claims") as db:
            for start in range(0, len(mine), IN_CHUNK - 1):
                chunk = mine[start : start + IN_CHUNK - 1]
                db.execute(f"DELETE FROM claims WHERE owner = ? AND key IN ({marks(len(chunk))})",
                           [self._owner, *chunk])  # fmt: skip
        self._claimed -= set(mine)

    def _serialise_claims(self, db: Db) -> None:
        """Make claim transactions take turns where the backend does not already (SQLite's write lock does)."""

    def _refresh_claims(self, db: Db, force: bool = False) -> None:
        stamp = time.time()
        if self._claimed and (force or stamp - self._refreshed > CLAIM_TTL_S / 4):
            db.execute("UPDATE claims SET claimed_at = ? WHERE owner = ?", (stamp, self._owner))
            self._refreshed = stamp

    # ------------------------------------------------------------ runs

    def begin_run(self, meta: Mapping[str, Any]) -> str:
        """Record a new run with status "running"; returns its id (UTC time + random hex, sortable).

        `meta` (spec_path, graph_hash, git commit, evaldsl version, options...) is stored without
        credential-like keys; `started_at` is filled in when absent.
        """
        clean = self.redactor.data(dict(meta))
        clean.setdefault("started_at", now())
        spec_path, graph_hash = (None if clean.get(k) is None else str(clean[k]) for k in ("spec_path", "graph_hash"))
        with self._transaction("recording a new run") as db:
            run_id = new_run_id()
            while db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                run_id = new_run_id()  # two runs in the same second drew the same 16 random bits
            db.execute(
                "INSERT INTO runs (id, status, started_at, spec_path, graph_hash, host, pid, meta, results_version) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, str(clean["started_at"]), spec_path, graph_hash, socket.gethostname(), os.getpid(),
                 dumps(clean), RESULTS_VERSION),
            )  # fmt: skip
        return run_id

    def add_samples(self, run_id: str, records: Iterable[SampleRecord]) -> int:
        """Store sample records (committed every few hundred); returns how many were written. A record with the
        same run, eval, model and index replaces the earlier one."""
        written, batch, texts = 0, [], dict[str, str]()
        for record in records:
            data = self.redactor.values(record.to_json())
            error = None if record.error is None else self.redactor.text(record.error)
            rest = {k: v for k, v in data.items() if k not in _SAMPLE_COLUMNS and k not in ("row_id", "scores")}
            rest["prompt"] = share_prompt(rest["prompt"], texts)
            batch.append((run_id, record.eval, record.model, record.index, record.sample_key or None, error,
                          int(record.truncated), int(record.cached), record.row_id, dumps(data["scores"]),
                          pack(rest)))  # fmt: skip
            if len(batch) >= SAMPLE_CHUNK:
                written += self._insert_samples(run_id, batch, texts)
                batch, texts = [], {}
        return written + (self._insert_samples(run_id, batch, texts) if batch else 0)

    def _insert_samples(self, run_id: str, batch: list[tuple[Any, ...]], texts: dict[str, str]) -> int:
        new_texts = [(ref, pack(text)) for ref, text in texts.items() if ref not in self._known_texts]
        with self._transaction("storing samples") as db:
            self._require_run(db, run_id)
            if new_texts:
                db.executemany("INSERT INTO texts (hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING", new_texts)
            db.executemany(_SAMPLE_PUT, batch)
        self._known_texts.update(texts)
        return len(batch)

    def finish_run(self, result: RunResult, summary: Mapping[str, Any]) -> None:
        """Close run `result.run_id`: its status, one result per eval × model, the assert outcomes and a
        summary (wall time, cache hits, model calls...). Calling it again replaces them."""
        run_id = result.run_id
        if run_id is None:
            raise StoreError("a run result without a run id cannot be stored")
        clean = self.redactor.values
        result_rows = [(run_id, r.eval, r.model, dumps(clean(r.to_json(), shapes=True))) for r in result.results]
        assert_rows = [(run_id, n, int(a.passed), dumps(clean(a.to_json(), shapes=True)))
                       for n, a in enumerate(result.asserts)]  # fmt: skip
        with self._transaction("finishing the run") as db:
            self._require_run(db, run_id)
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ?, results_version = ? WHERE id = ?",
                (result.status, now(), dumps(self.redactor.data(dict(summary))), RESULTS_VERSION, run_id),
            )
            self._put_results(db, run_id, result_rows, assert_rows)

    def _put_results(self, db: Db, run_id: str, result_rows: list[Any], assert_rows: list[Any]) -> None:
        db.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM asserts WHERE run_id = ?", (run_id,))
        db.executemany("INSERT INTO results (run_id, eval, model, data) VALUES (?,?,?,?)", result_rows)
        db.executemany("INSERT INTO asserts (run_id, idx, passed, data) VALUES (?,?,?,?)", assert_rows)

    def list_runs(self, limit: int = 50) -> list[RunInfo]:
        """Stored runs, newest first."""
        with self._read("listing runs") as db:
            rows = db.execute(
                "SELECT id, status, host, pid, started_at, finished_at, spec_path, graph_hash, (SELECT "
                "count(*) FROM samples s WHERE s.run_id = runs.id) FROM runs ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RunInfo(r[0], effective_status(*r[1:4]), r[4], r[5], r[6], r[7], int(r[8])) for r in rows]

    def resolve_run(self, ref: str) -> str:
        """A run id from a full id, a unique prefix of one, `latest`, or `latest~N` (N runs before latest)."""
        ref = ref.strip()
        latest = re.fullmatch(r"latest(?:~(\d+))?", ref)
        with self._read("resolving a run") as db:
            count = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            if count == 0:
                raise StoreError(f"no runs are stored in {self.location} yet; `evaldsl run SPEC` stores one")
            if latest:
                back = int(latest.group(1) or 0)
                sql = "SELECT id FROM runs ORDER BY seq DESC LIMIT 1 OFFSET ?"
                if (row := db.execute(sql, (back,)).fetchone()) is None:
                    raise StoreError(f"{ref!r} does not exist: only {count} run(s) are stored in {self.location}")
                return str(row[0])
            escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql = "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id = ? DESC, seq DESC LIMIT 11"
            matches = [r[0] for r in db.execute(sql, (escaped + "%", ref))] if ref else []
            recent = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY seq DESC LIMIT 5")]
        if len(matches) == 1 or (matches and matches[0] == ref):
            return str(matches[0])
        if matches:
            shown = ", ".join(matches[:10]) + (", ..." if len(matches) > 10 else "")
            raise StoreError(f"run {ref!r} is ambiguous: it matches {shown}; type more of the id")
        raise StoreError(
            f"no run matches {ref!r} in {self.location}; give a run id, a unique prefix of one, `latest` or "
            f"`latest~N`; recent runs: {', '.join(recent)} (`evaldsl runs` lists them)"
        )

    def get_run(self, run_id: str) -> RunRecord:
        """The stored run `run_id` (an exact id; `resolve_run` turns prefixes and `latest` into one)."""
        with self._read("reading a run") as db:
            self._require_run(db, run_id)
            r = db.execute(
                "SELECT status, host, pid, started_at, finished_at, meta, summary, results_version FROM runs "
                "WHERE id = ?",
                (run_id,),
            ).fetchone()
            sql = "SELECT data FROM {} WHERE run_id = ? ORDER BY {}"
            results = [self._loads(x[0]) for x in db.execute(sql.format("results", self._results_order), (run_id,))]
            asserts = [self._loads(x[0]) for x in db.execute(sql.format("asserts", "idx"), (run_id,))]
        summary = {} if r[6] is None else self._loads(r[6])
        return RunRecord(
            run_id, effective_status(*r[:3]), r[3], r[4], self._loads(r[5]),
            tuple(EvalModelResult.from_json(x) for x in results), tuple(AssertOutcome.from_json(x) for x in asserts),
            summary, int(r[7]),
        )  # fmt: skip

    def iter_samples(self, run_id: str, eval: str | None = None, model: str | None = None) -> Iterator[SampleRecord]:
        """Stream a run's sample records (by eval, model, index). Reads through its own connection: the store
        stays usable meanwhile."""
        with self._read("reading samples") as db:
            self._require_run(db, run_id)
        clauses, args = ["run_id = ?"], [run_id]
        for column, value in (("eval", eval), ("model", model)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_SAMPLE_SELECT} FROM samples WHERE {' AND '.join(clauses)} ORDER BY eval, model, idx"
        return self._decode_samples(self._stream(sql, args, "reading samples"))

    def _decode_samples(self, rows: Iterator[Sequence[Any]]) -> Iterator[SampleRecord]:
        texts: dict[str, str] = {}
        for r in rows:
            sample = dict(zip(_SAMPLE_COLUMNS, r[:7], strict=True))
            sample["truncated"], sample["cached"] = bool(r[5]), bool(r[6])
            sample.update(unpack(r[-1]))
            if r[7] is not None:  # rows written before schema 3 keep these in their data
                sample["row_id"], sample["scores"] = r[7], unpack(r[8])
            if any("content_ref" in m for m in sample.get("prompt") or ()):
                sample["prompt"] = unshare_prompt(sample["prompt"], lambda ref: self._text(ref, texts))
            yield SampleRecord.from_json(self.redactor.values(sample))

    def iter_sample_briefs(self, run_id: str) -> Iterator[tuple[str, str, int, str, str | None, dict[str, Any]]]:
        """Stream (eval, model, index, row id, error, scores) of a run's samples, by eval, model and index,
        without reading their stored text: what a view over a large run needs to choose which samples to read."""
        with self._read("reading samples") as db:
            self._require_run(db, run_id)
        sql = f"SELECT {_BRIEF_SELECT} FROM samples WHERE run_id = ? ORDER BY eval, model, idx"
        for ev, model, idx, row_id, error, scores, data, sample_key in self._stream(sql, [run_id], "reading samples"):
            if row_id is None:  # written before schema 3
                rest = unpack(data)
                row_id, scores = rest.get("row_id") or sample_key or f"#{idx}", rest.get("scores")
            else:
                scores = unpack(scores)
            yield ev, model, int(idx), str(row_id), error, scores or {}

    def samples_at(self, run_id: str, rows: Iterable[tuple[str, str, int]]) -> Iterator[SampleRecord]:
        """The sample records of a run at these (eval, model, index) addresses, by eval, model and index."""
        by_group: dict[tuple[str, str], list[int]] = {}
        for ev, model, idx in rows:
            by_group.setdefault((ev, model), []).append(idx)
        for (ev, model), indices in sorted(by_group.items()):
            indices = sorted(set(indices))
            for start in range(0, len(indices), IN_CHUNK - 3):
                chunk = indices[start : start + IN_CHUNK - 3]
                sql = (f"SELECT {_SAMPLE_SELECT} FROM samples WHERE run_id = ? AND eval = ? AND model = ? AND idx IN "
                       f"({marks(len(chunk))}) ORDER BY idx")  # fmt: skip
                with self._read("reading samples") as db:
                    found = db.execute(sql, [run_id, ev, model, *chunk]).fetchall()
                yield from self._decode_samples(iter(found))

    def _text(self, ref: str, texts: dict[str, str]) -> str:
        if ref not in texts:
            with self._read("reading samples") as db:
                row = db.execute("SELECT body FROM texts WHERE hash = ?", (ref,)).fetchone()
            texts[ref] = "" if row is None else str(unpack(row[0]))
        return texts[ref]
