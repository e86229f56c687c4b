"""Copying between stores (`evaldsl store migrate`): runs under their own ids, with results, asserts and samples,
and cached responses; whatever the target already has is kept. Works between any two backends."""

from __future__ import annotations

from typing import Any

from .core import RUN_COLUMNS, SAMPLE_CHUNK, Store, marks
from .records import StoreError, dumps, pack, unpack

# These functions are the store's own: they use its connection and transaction hooks.


def run_ids(store: Store) -> list[str]:
    """Every stored run id, oldest first."""
    with store._read("listing runs") as db:
        return [str(r[0]) for r in db.execute("SELECT id FROM runs ORDER BY seq")]


def copy_run(source: Store, target: Store, run_id: str) -> bool:
    """Copy run `run_id` (its row, results, asserts and samples) into `target` under the same id; False when
    `target` already has it."""
    with source._read("reading a run") as db:
        row = db.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        results = [(run_id, e, m, dumps(unpack(d))) for e, m, d in db.execute(
            f"SELECT eval, model, data FROM results WHERE run_id = ? ORDER BY {source._results_order}", (run_id,))]
        asserts = [(run_id, n, p, dumps(unpack(d))) for n, p, d in db.execute(
            "SELECT idx, passed, data FROM asserts WHERE run_id = ? ORDER BY idx", (run_id,))]  # fmt: skip
    if row is None:
        raise StoreError(f"no run {run_id!r} in {source.location}")
    values = [*row[:8], dumps(unpack(row[8])), None if row[9] is None else dumps(unpack(row[9])), row[10]]
    with target._transaction("copying a run") as db:
        if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            return False
        db.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({marks(len(values))})", values)
        target._put_results(db, run_id, results, asserts)
    target.add_samples(run_id, source.iter_samples(run_id))
    return True


def copy_cache(source: Store, target: Store) -> int:
    """Copy every cached response into `target` (keys it has already are kept); returns how many were read."""
    n, batch = 0, []
    for key, kind, value, created in source._stream("SELECT key, kind, value, created_at FROM cache ORDER BY key",
                                                  (), "reading the response cache"):  # fmt: skip
        batch.append((key, kind, pack(unpack(value)), created))
        if len(batch) >= SAMPLE_CHUNK:
            n += _put_cache_rows(target, batch)
            batch = []
    return n + (_put_cache_rows(target, batch) if batch else 0)


def _put_cache_rows(target: Store, rows: list[tuple[Any, ...]]) -> int:
    with target._transaction("copying the response cache") as db:
        db.executemany("INSERT INTO cache (key, kind, value, created_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (key) DO NOTHING", rows)  # fmt: skip
    return len(rows)
