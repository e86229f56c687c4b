"""Dataset files → a stream of (line, record) pairs, one record at a time; a malformed record is a `BadRow`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


# The type names profiles and diagnostics use for row values (JSON's types, `null` for None).
TYPE_NAMES: dict[type, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "list",
    dict: "dict",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """"str", "int", "float", "bool", "list", "dict", "null", or "other" (e.g. a parquet timestamp)."""
    return TYPE_NAMES.get(type(value), "other")


class DatasetError(Exception):
    """A dataset cannot be read or a row cannot be prepared; the message says which file/row and why."""


@dataclass(frozen=True)
class BadRow:
    """A record that is not a usable row: `line` is where it starts in the file (1-based; the item's
    position for a .json list), `message` what is wrong with it."""

    line: int
    message: str


Record = tuple[int, "dict[str, Any] | BadRow"]


def data_format(path: Path, explicit: str | None = None) -> str | None:
    return explicit or SUPPORTED.get(path.suffix.lower())


def records(path: Path, fmt: str) -> Iterator[Record]:
    """Every record of a data file with the line it starts on, streamed (a .json file is parsed whole).

    A malformed record (bad JSON, not an object, a CSV record with the wrong number of columns) is yielded as a
    `BadRow` and reading goes on; a file that cannot be read at all raises DatasetError.
    """
    try:
        if fmt == "jsonl":
            yield from _jsonl(path)
        elif fmt == "json":
            yield from _json(path)
        elif fmt in ("csv", "tsv"):
            yield from _delimited(path, "," if fmt == "csv" else "\t")
        elif fmt == "parquet":
            yield from _parquet(path)
        else:
            raise DatasetError(f"{path}: unsupported dataset format {fmt!r}")
    except OSError as exc:
        raise DatasetError(f"{path}: {exc.strerror or exc}") from None


def rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """The rows of a data file; the first malformed record raises DatasetError naming `file:line`."""
    for line, record in records(path, fmt):
        if isinstance(record, BadRow):
            raise DatasetError(f"{path}:{line}: {record.message}")
        yield record


_decode = json.JSONDecoder().raw_decode  # one object from a str: json.loads minus its per-call wrappers


def _jsonl(path: Path) -> Iterator[Record]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                yield lineno, BadRow(lineno, "not UTF-8 text")
                continue
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not line:
                continue
            try:
                row, end = _decode(line)
            except json.JSONDecodeError as exc:
                yield lineno, BadRow(lineno, f"not valid JSON ({exc.msg})")
                continue
            if end != len(line):
                yield lineno, BadRow(lineno, "not valid JSON (Extra data: one object per line)")
            elif type(row) is dict:
                yield lineno, row
            else:
                yield lineno, BadRow(lineno, f"each line must be a JSON object, got {_json_kind(row)}")


def _json(path: Path) -> Iterator[Record]:
    try:
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DatasetError(f'{path}: a .json dataset must be a list of objects (or {{"data": [...]}})')
    for index, item in enumerate(data, 1):
        if isinstance(item, dict):
            yield index, item
        else:
            yield index, BadRow(index, f"item {index} of the list must be a JSON object, got {_json_kind(item)}")


def _delimited(path: Path, delimiter: str) -> Iterator[Record]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        consumed = 0  # physical lines read so far: a record starts on the line after them
        try:
            header = next(reader, None)
            if header is None:
                return
            consumed = reader.line_num
            width = len(header)
            seen: set[str] = set()
            for name in header:
                if name in seen:
                    yield 1, BadRow(1, f"column `{name}` appears twice in the header")
                seen.add(name)
            for values in reader:
                start, consumed = consumed + 1, reader.line_num
                if not values:
                    continue  # a blank line
                if len(values) == width:
                    yield start, dict(zip(header, values, strict=True))
                else:
                    many = "too many" if len(values) > width else "too few"
                    got = f"{len(values)} column{'s' if len(values) != 1 else ''}"
                    yield start, BadRow(start, f"{got} where the header has {width} ({many})")
        except UnicodeDecodeError:
            raise DatasetError(f"{path}:{consumed + 1}: not UTF-8 text") from None
        except csv.Error as exc:
            raise DatasetError(f"{path}:{reader.line_num}: {exc}") from None


def _parquet(path: Path) -> Iterator[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise DatasetError("reading .parquet needs pyarrow: pip install pyarrow") from exc
    try:
        parquet = pq.ParquetFile(path)
    except OSError:
        raise
    except Exception as exc:  # pyarrow's own errors for a file that is not parquet
        raise DatasetError(f"{path}: cannot read parquet ({exc})") from None
    index = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            index += 1
            yield index, row


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number"
