"""Dataset files and inline rows → sample rows (filtered, derived fields, shuffled, limited) and field names."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..compile.spec import DatasetDef, SampleValue
from ..compile.templating import TemplateError, evaluate, render

SUPPORTED = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


class DatasetError(Exception):
    """A dataset cannot be read or a row cannot be prepared; the message says which file/row and why."""


def data_format(path: Path, explicit: str | None = None) -> str | None:
    return explicit or SUPPORTED.get(path.suffix.lower())


def _raw_rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    try:
        if fmt == "jsonl":
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DatasetError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise DatasetError(f"{path}:{lineno}: each line must be a JSON object")
                    yield row
        elif fmt == "json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise DatasetError(f'{path}: a .json dataset must be a list of objects (or {{"data": [...]}})')
            yield from data
        elif fmt in ("csv", "tsv"):
            with path.open(encoding="utf-8", newline="") as fh:
                yield from csv.DictReader(fh, delimiter="," if fmt == "csv" else "\t")
        elif fmt == "parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
                raise DatasetError("reading .parquet needs pyarrow: pip install pyarrow") from exc
            table = pq.read_table(path)
            for batch in table.to_batches():
                yield from batch.to_pylist()
        else:
            raise DatasetError(f"{path}: unsupported dataset format {fmt!r}")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DatasetError(f"{path}: {exc.strerror or exc}") from None


def file_fields(path: Path, fmt: str) -> list[str]:
    """Field names of a data file: the CSV header, the parquet schema, or the first record's keys."""
    if fmt in ("csv", "tsv"):
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh, delimiter="," if fmt == "csv" else "\t"), [])
        except UnicodeDecodeError:
            raise DatasetError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise DatasetError(f"{path}: {exc.strerror or exc}") from None
        return list(header)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as exc:
            raise DatasetError(f"{path}: cannot read parquet schema ({exc})") from None
    first = next(_raw_rows(path, fmt), None)
    return list(first) if first else []


def dataset_fields(ds: DatasetDef, *, derived: bool = True) -> list[str]:
    """Every field a sample of this dataset has (derived fields included unless `derived=False`)."""
    if ds.rows is not None:
        names: dict[str, None] = {}
        for row in ds.rows:
            names.update(dict.fromkeys(row))
        base = list(names)
    else:
        assert ds.path is not None
        fmt = data_format(ds.path, ds.format)
        base = file_fields(ds.path, fmt or "")
    if not derived:
        return base
    return base + [name for name, _ in ds.fields if name not in base]


def sample_value(value: SampleValue, row: dict[str, Any]) -> Any:
    """A per-sample value for one row: templates render to text, expressions evaluate to native values."""
    if value.kind == "const":
        return value.value
    variables = {**value.params, **row, "row": row}
    if value.kind == "template":
        return render(value.source, variables)
    return evaluate(value.source, variables)


def load_rows(ds: DatasetDef, limit: int | None = None) -> list[dict[str, Any]]:
    """The dataset's rows after `where`, derived `field`s, `shuffle` and the smaller of both limits."""
    if ds.rows is not None:
        source: Iterator[dict[str, Any]] = iter(dict(r) for r in ds.rows)
        origin = f"dataset {ds.name}"
    else:
        assert ds.path is not None
        fmt = data_format(ds.path, ds.format)
        if fmt is None:
            raise DatasetError(f"{ds.path}: unsupported file type {ds.path.suffix!r}")
        source = _raw_rows(ds.path, fmt)
        origin = str(ds.path)
    caps = [n for n in (ds.limit, limit) if n]
    cap = min(caps) if caps else None
    rows: list[dict[str, Any]] = []
    for index, raw in enumerate(source):
        row = dict(raw)
        try:
            for name, value in ds.fields:
                row[name] = sample_value(value, row)
            if ds.where is not None and not sample_value(ds.where, row):
                continue
        except TemplateError as exc:
            raise DatasetError(f"{origin}, row {index + 1}: {exc}") from None
        rows.append(row)
        if cap is not None and ds.shuffle is None and len(rows) >= cap:
            break
    if ds.shuffle is not None:
        random.Random(ds.shuffle).shuffle(rows)
    return rows[:cap] if cap is not None else rows


def fewshot_rows(ds_rows: Sequence[dict[str, Any]], k: int, seed: int) -> list[dict[str, Any]]:
    """k rows drawn with a fixed seed (the same shots for every sample, so prompts cache well)."""
    if k >= len(ds_rows):
        return list(ds_rows)
    return random.Random(seed).sample(list(ds_rows), k)
