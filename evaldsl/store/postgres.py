"""The team store backend: a `postgresql://` URL in; out: the store (`core.Store`) on a PostgreSQL server, with
the same tables and behaviour as the SQLite default. Needs the `postgres` extra (psycopg 3)."""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .core import SCHEMA_VERSION, Db, Store
from .records import Redacting, StoreError

if TYPE_CHECKING:
    import psycopg

URL_PREFIXES = ("postgresql://", "postgres://")
_LOCK_SCHEMA = 0x65766C0  # advisory lock ids: creating the schema, and claim transactions
_LOCK_CLAIMS = 0x65766C1
_FETCH = 512
_SCHEMA = """
CREATE TABLE evaldsl_schema (version INTEGER NOT NULL);
CREATE TABLE cache (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value BYTEA NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE runs (seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, spec_path TEXT, graph_hash TEXT, host TEXT, pid INTEGER,
    meta TEXT NOT NULL, summary TEXT, results_version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE results (seq BIGSERIAL, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    eval TEXT NOT NULL, model TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (run_id, eval, model));
CREATE TABLE asserts (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    passed INTEGER, data TEXT NOT NULL, PRIMARY KEY (run_id, idx));
CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, eval TEXT NOT NULL,
    model TEXT NOT NULL, idx INTEGER NOT NULL, sample_key TEXT, error TEXT,
    truncated INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0, row_id TEXT, scores TEXT,
    data BYTEA NOT NULL,
    PRIMARY KEY (run_id, eval, model, idx));
CREATE TABLE texts (hash TEXT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL)
"""
_MISSING = "the PostgreSQL store needs psycopg: pip install 'evaldsl[postgres]'"


def redact_url(url: str) -> str:
    """The URL without its password (for messages and stored results)."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)


class _Conn:
    """A psycopg connection as a `Db`: `?` placeholders become `%s`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), list(args) if args else None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)


class PostgresStore(Store):
    """The store in the PostgreSQL database at `url` (its tables are created when missing)."""

    kind = "postgresql"
    _results_order = "seq"

    @classmethod
    def handles(cls, location: str | os.PathLike[str]) -> bool:
        return os.fspath(location).startswith(URL_PREFIXES)

    def __init__(
        self, url: str | os.PathLike[str], *, timeout_s: float = 30.0, redactor: Redacting | None = None
    ) -> None:
        super().__init__(url, timeout_s=timeout_s, redactor=redactor)
        self.url = os.fspath(url)
        self.location = redact_url(self.url)
        self._conn: psycopg.Connection[Any] | None = None
        try:
            import psycopg
        except ImportError:
            raise StoreError(_MISSING) from None
        self._psycopg = psycopg
        self._conn = self._connect("opening the store")
        try:
            self._init_schema()
        except BaseException:
            self._close()
            raise

    def _connect(self, action: str) -> psycopg.Connection[Any]:
        with self._guard(action):
            return self._psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.timeout_s)),
                options=f"-c lock_timeout={int(self.timeout_s * 1000)}",
            )  # fmt: skip

    def _init_schema(self) -> None:
        with self._transaction("opening the store") as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_SCHEMA,))
            tables = {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
            if "evaldsl_schema" not in tables:
                if {"runs", "cache", "samples"} & tables:
                    raise StoreError(f"the database {self.location} has tables of its own but no evaldsl store; "
                                     "use another database or schema")  # fmt: skip
                for statement in _SCHEMA.split(";"):
                    db.execute(statement)
                db.execute("INSERT INTO evaldsl_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            version = db.execute("SELECT max(version) FROM evaldsl_schema").fetchone()[0]
            if version == 3:  # 3 → 4: new values are zstd-compressed; the zlib-compressed ones stay readable
                db.execute("INSERT INTO evaldsl_schema (version) VALUES (4)")
                version = 4
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} has store schema {version} but this evaldsl reads schema {SCHEMA_VERSION} "
                "(written by another version?); upgrade evaldsl or use another database"
            )

    # ------------------------------------------------------------ backend hooks

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise StoreError(f"the store {self.location} is closed")
        self._check_process()
        return self._conn

    def _translate(self, exc: Exception, action: str) -> StoreError:
        text = " ".join(str(exc).split()) or type(exc).__name__
        low = text.lower()
        if "password" in low or "authentication" in low or "role" in low and "does not exist" in low:
            return StoreError(f"{action}: the server refused {self.location} ({text}); check the user and password")
        if "connection" in low or "could not" in low or "timeout expired" in low:
            return StoreError(f"{action}: cannot reach the PostgreSQL store {self.location} ({text}); check that "
                              "the server runs and the URL is right")  # fmt: skip
        if "lock" in low:
            return StoreError(f"{action}: another runner held {self.location} locked for over {self.timeout_s:g} s")
        return StoreError(f"{action} failed on the store {self.location}: {text}")

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            raise self._translate(exc, action) from None

    @contextmanager
    def _read(self, action: str) -> Iterator[Db]:
        with self._lock, self._guard(action):
            yield _Conn(self._db())

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Db]:
        with self._lock, self._guard(action):
            conn = self._db()
            with conn.transaction():
                yield _Conn(conn)

    def _serialise_claims(self, db: Db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_CLAIMS,))

    def _stream(self, sql: str, args: Sequence[Any], action: str) -> Iterator[Sequence[Any]]:
        conn = self._connect(action)
        try:
            with self._guard(action), conn.transaction():
                name = f"evaldsl_{threading.get_ident()}_{secrets.token_hex(4)}"
                with conn.cursor(name=name) as cur:
                    cur.itersize = _FETCH
                    cur.execute(sql.replace("?", "%s"), list(args) if args else None)
                    yield from cur
        finally:
            conn.close()

    def _octets(self, column: str) -> str:
        return f"octet_length({column})"

    def _disk_bytes(self, db: Db) -> int:
        rows = db.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace"
                          " n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r' AND "
                          "c.relname IN ('cache', 'runs', 'results', 'asserts', 'samples', 'texts', 'claims')")
        return int(rows.fetchone()[0])
