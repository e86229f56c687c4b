"""A dataset's fields as the editor shows them: names from the compiler's field reader, types inferred from
the first rows, and the first row as an example."""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..compile.spec import DatasetDef
from ..datasets.rows import DatasetError, data_format, dataset_fields, load_rows

_SAMPLE_ROWS = 20


@dataclass(frozen=True)
class DatasetFields:
    """Field name → type ("" when unknown), in the dataset's order, and one example row when readable."""

    types: dict[str, str]
    example: dict[str, Any] | None = None


def read_fields(ds: DatasetDef) -> DatasetFields | None:
    """The fields of a dataset with their types, or None when it cannot be read (missing file...)."""
    if ds.rows is None and not (ds.path and ds.path.is_file() and data_format(ds.path, ds.format)):
        return None
    try:
        names = dataset_fields(ds)
    except DatasetError:
        return None
    try:
        # The first rows as they come (no filter, no shuffle): enough to see the types, cheap on a big file.
        plain = ds.model_copy(update={"where": None, "shuffle": None, "limit": None})
        rows = load_rows(plain, limit=_SAMPLE_ROWS)
    except DatasetError:
        rows = []
    return DatasetFields(
        {name: _type_of([row[name] for row in rows if name in row]) for name in names}, rows[0] if rows else None
    )


def _type_of(values: list[Any]) -> str:
    kinds = sorted({_kind(v) for v in values})
    if "list" in kinds and any(k.startswith("list of ") for k in kinds):
        kinds.remove("list")  # empty lists say nothing about their items
    if not kinds:
        return ""
    if len(kinds) > 1 and "null" in kinds:
        kinds = [k for k in kinds if k != "null"]
        return " or ".join(kinds) + " or null"
    return " or ".join(kinds)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, (list, tuple)):
        inner = sorted({_kind(v) for v in value})
        return f"list of {inner[0]}s" if len(inner) == 1 else "list"  # empty or mixed: just a list
    return type(value).__name__


@dataclass
class FieldCache:
    """`read_fields` remembered per dataset definition and data file version."""

    _known: dict[Hashable, DatasetFields | None] = field(default_factory=dict)

    def get(self, ds: DatasetDef) -> DatasetFields | None:
        key = _key(ds)
        if key not in self._known:
            if len(self._known) > 256:
                self._known.clear()
            self._known[key] = read_fields(ds)
        return self._known[key]


def _key(ds: DatasetDef) -> Hashable:
    stamp: tuple[int, int] | None = None
    if ds.path is not None:
        try:
            info = ds.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
    derived = tuple((name, value.kind, value.source, repr(value.value)) for name, value in ds.fields)
    rows = json.dumps(ds.rows, sort_keys=True, default=str) if ds.rows is not None else None
    return (str(ds.path), stamp, ds.format, derived, rows)
