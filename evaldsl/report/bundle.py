"""Portable baselines: one stored run ⇄ one self-describing JSON file (format name and version, results version,
run metadata, typed results and asserts, every eval × model's node hashes, and per-sample scores keyed by row
identity), so that a run can be compared with — or imported into — a store that never saw it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..hashing import json_default
from ..results import RESULTS_VERSION, AssertOutcome, EvalModelResult, SampleRecord, json_safe
from ..store import RunRecord, Store

BUNDLE_FORMAT = "evaldsl-run-bundle"
BUNDLE_VERSION = 1


class BundleError(Exception):
    """A bundle cannot be read or written, or is not a bundle of a version this evaldsl reads."""


def _scores(samples: Iterable[SampleRecord]) -> dict[str, dict[str, dict[str, Any]]]:
    """eval → model → row identity → {"scores", and "error"/"stage" when the sample failed}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in samples:
        entry: dict[str, Any] = {"scores": dict(s.scores)}
        if s.error is not None:
            entry |= {"error": s.error, "stage": s.error_stage}
        out.setdefault(s.eval, {}).setdefault(s.model, {})[s.row_id] = entry
    return out


def bundle_of(record: RunRecord, samples: Iterable[SampleRecord]) -> dict[str, Any]:
    """The bundle of a stored run and its sample records."""
    return json_safe({
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "results_version": RESULTS_VERSION,
        "run": {"id": record.id, "status": record.status, "started_at": record.started_at,
                "finished_at": record.finished_at, "meta": record.meta, "summary": record.summary},
        "results": [r.to_json() for r in record.results],
        "asserts": [a.to_json() for a in record.asserts],
        "node_hashes": {f"{r.eval}·{r.model}": dict(r.hashes) for r in record.results},
        "samples": _scores(samples),
    })  # fmt: skip


def write_bundle(store: Store, run_id: str, path: Path) -> int:
    """Write run `run_id` of `store` to `path`; returns the number of samples written."""
    data = bundle_of(store.get_run(run_id), store.iter_samples(run_id))
    try:
        path.write_text(json.dumps(data, ensure_ascii=False, default=json_default, indent=1) + "\n", "utf-8")
    except OSError as exc:
        raise BundleError(f"cannot write {path}: {exc.strerror or exc}") from None
    return sum(len(rows) for models in data["samples"].values() for rows in models.values())


def read_bundle(path: Path) -> tuple[RunRecord, list[SampleRecord]]:
    """The run and its sample records (scores and errors; no prompts or outputs) from a bundle file."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not a JSON file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path} is not an evaldsl run bundle (`evaldsl export RUN --bundle FILE` writes one)")
    if int(data.get("bundle_version") or 0) > BUNDLE_VERSION:
        raise BundleError(f"{path} is a bundle of version {data['bundle_version']}; this evaldsl reads up to "
                          f"{BUNDLE_VERSION}: upgrade evaldsl")  # fmt: skip
    try:
        run = data["run"]
        record = RunRecord(
            id=str(run["id"]), status=str(run["status"]), started_at=str(run.get("started_at") or ""),
            finished_at=run.get("finished_at"), meta=dict(run.get("meta") or {}),
            results=tuple(EvalModelResult.from_json(r) for r in data.get("results") or ()),
            asserts=tuple(AssertOutcome.from_json(a) for a in data.get("asserts") or ()),
            summary=dict(run.get("summary") or {}), results_version=int(data.get("results_version") or 1),
        )  # fmt: skip
        samples = list(_samples(data.get("samples") or {}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"{path} is a damaged bundle ({type(exc).__name__}: {exc})") from None
    return record, samples


def _samples(scores: dict[str, dict[str, dict[str, Any]]]) -> Iterator[SampleRecord]:
    for ev, models in scores.items():
        for model, rows in models.items():
            for index, (row_id, entry) in enumerate(rows.items()):
                yield SampleRecord(eval=ev, model=model, index=index, row_id=row_id,
                                   scores=dict(entry.get("scores") or {}), error=entry.get("error"),
                                   error_stage=entry.get("stage"))  # fmt: skip


def import_bundle(store: Store, path: Path) -> str:
    """Add the bundle's run to `store` as a new run (its meta names the original id); returns the new id."""
    record, samples = read_bundle(path)
    meta = {**record.meta, "imported_from": record.id, "original_started_at": record.started_at}
    run_id = store.begin_run(meta)
    store.add_samples(run_id, samples)
    result = replace(record.to_result(), run_id=run_id)
    store.finish_run(result, {**record.summary, "imported_from": record.id})
    return run_id
