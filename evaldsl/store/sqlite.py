"""The default store backend: a store directory in; out: the store (`core.Store`) in one SQLite file in WAL mode.
Stores written by older versions are migrated when opened."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .core import SCHEMA_VERSION, Db, Store
from .records import Redacting, RunInfo, RunRecord, StoreError

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "RunInfo", "RunRecord", "SQLiteStore", "Store", "StoreError"]

DB_FILENAME = "evaldsl.db"
_FETCH = 256  # rows per fetchmany while streaming
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# Tables with large rows (cache values, samples, shared texts) are rowid tables: a WITHOUT ROWID row over ~1 KB
# spills into an overflow page of its own, which wasted most of a page per sample.
_CACHE = ("CREATE TABLE cache (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value BLOB NOT NULL, "
          "created_at TEXT NOT NULL)")  # fmt: skip
_SAMPLES = ("CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, eval TEXT NOT NULL, "
            "model TEXT NOT NULL, idx INTEGER NOT NULL, sample_key TEXT, error TEXT, truncated INTEGER NOT NULL "
            "DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0, row_id TEXT, scores TEXT, data BLOB NOT NULL, "
            "PRIMARY KEY (run_id, eval, model, idx))")
_TEXTS = "CREATE TABLE texts (hash TEXT PRIMARY KEY, body BLOB NOT NULL)"
_CLAIMS = ("CREATE TABLE claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, "
           "claimed_at REAL NOT NULL) WITHOUT ROWID")  # fmt: skip
_SCHEMA = f"""
{_CACHE};
CREATE TABLE runs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, spec_path TEXT, graph_hash TEXT, host TEXT, pid INTEGER,
    meta TEXT NOT NULL, summary TEXT, results_version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE results (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, eval TEXT NOT NULL,
    model TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (run_id, eval, model));
CREATE TABLE asserts (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    passed INTEGER, data TEXT NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID;
{_SAMPLES};
{_TEXTS};
{_CLAIMS}
"""
# Schema version N-1 → N: statements run in one transaction when an older store is opened. Stored values written
# as text by older versions stay readable as they are.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE runs RENAME COLUMN spec_hash TO graph_hash",
        "ALTER TABLE runs ADD COLUMN results_version INTEGER NOT NULL DEFAULT 1"),
    2: ("DROP INDEX IF EXISTS samples_by_key",
        "ALTER TABLE samples RENAME TO samples_v2", _SAMPLES,
        "INSERT INTO samples (run_id, eval, model, idx, sample_key, error, truncated, cached, data) SELECT run_id, "
        "eval, model, idx, sample_key, error, truncated, cached, data FROM samples_v2",
        "DROP TABLE samples_v2",
        "ALTER TABLE cache RENAME TO cache_v2", _CACHE, "INSERT INTO cache SELECT * FROM cache_v2",
        "DROP TABLE cache_v2",
        _TEXTS, _CLAIMS),
    3: (),  # new values are zstd-compressed; the zlib-compressed ones stay readable as they are
}  # fmt: skip
_ELSEWHERE = "or pass another store directory"


class _Conn:
    """An sqlite3 connection as a `Db` (the SQL already uses `?`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


class SQLiteStore(Store):
    """The store in `directory` (created when missing): one SQLite file in WAL mode."""

    kind = "sqlite"

    @classmethod
    def handles(cls, location: str | os.PathLike[str]) -> bool:
        return not _URL.match(os.fspath(location))

    def __init__(
        self, directory: str | os.PathLike[str], *, timeout_s: float = 30.0, redactor: Redacting | None = None
    ) -> None:
        super().__init__(directory, timeout_s=timeout_s, redactor=redactor)
        self.directory = Path(directory)
        self.path = self.directory / DB_FILENAME
        self.location = str(self.directory)
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
            self._close()
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

    # ------------------------------------------------------------ backend hooks

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        self._check_process()
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
    def _read(self, action: str) -> Iterator[Db]:
        with self._lock, self._guard(action):
            yield _Conn(self._db())

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Db]:
        """BEGIN IMMEDIATE waits for other writers, up to the timeout."""
        with self._lock, self._guard(action):
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Conn(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _stream(self, sql: str, args: Sequence[Any], action: str) -> Iterator[Sequence[Any]]:
        with self._guard(action):
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            with self._guard(action):
                cur = conn.execute(sql, args)
                while rows := cur.fetchmany(_FETCH):
                    yield from rows
        finally:
            conn.close()

    def _octets(self, column: str) -> str:
        return f"length(CAST({column} AS BLOB))"

    def _disk_bytes(self, db: Db) -> int:
        files = (self.path, self.path.with_name(DB_FILENAME + "-wal"))
        return sum(p.stat().st_size for p in files if p.exists())
