"""Dataset files, Hugging Face datasets and inline rows → sample rows (filtered, derived fields, shuffled, limited)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..compile.spec import DatasetDef, SampleValue
from ..compile.templating import TemplateError, evaluate, render
from .hub import describe, hub_rows
from .profile import dataset_profile, profile_file
from .reader import SUPPORTED, DatasetError, data_format
from .reader import rows as file_rows

__all__ = [
    "SUPPORTED",
    "DatasetError",
    "data_format",
    "dataset_fields",
    "fewshot_rows",
    "file_fields",
    "load_rows",
    "sample_value",
]


def file_fields(path: Path, fmt: str) -> list[str]:
    """Field names of a data file: every field some row has (reads the whole file; see `profile`)."""
    return profile_file(path, fmt).names()


def dataset_fields(ds: DatasetDef, *, derived: bool = True) -> list[str]:
    """Every field some sample of this dataset has (derived fields included unless `derived=False`)."""
    return dataset_profile(ds if derived else ds.model_copy(update={"fields": ()})).names()


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
    caps = [n for n in (ds.limit, limit) if n]
    cap = min(caps) if caps else None
    if ds.rows is not None:
        source: Iterator[dict[str, Any]] = iter(dict(r) for r in ds.rows)
        origin = f"dataset {ds.name}"
    elif ds.hf is not None:
        source = hub_rows(ds, cap if ds.shuffle is None else None)
        origin = describe(ds)
    else:
        assert ds.path is not None
        fmt = data_format(ds.path, ds.format)
        if fmt is None:
            raise DatasetError(f"{ds.path}: unsupported file type {ds.path.suffix!r}")
        source = file_rows(ds.path, fmt)
        origin = str(ds.path)
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


def fewshot_rows(ds_rows: Sequence[dict[str, Any]], k: int, seed: int, *, first: bool = False) -> list[dict[str, Any]]:
    """k rows drawn with a fixed seed, or the first k with `first` (the same shots for every sample, so prompts
    cache well)."""
    if first or k >= len(ds_rows):
        return list(ds_rows[:k])
    if k >= len(ds_rows):
        return list(ds_rows)
    return random.Random(seed).sample(list(ds_rows), k)
