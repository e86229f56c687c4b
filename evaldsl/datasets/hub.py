"""Hugging Face datasets (`hf = "owner/name"` or a local folder) → rows, a profile and a fingerprint.

Read with the `datasets` library. A Hub dataset is read from the local cache when `HF_HUB_OFFLINE` is set
(a one-line error says so when it is not cached); a local folder (data files laid out as a dataset repository,
or a dataset written by `save_to_disk`) is streamed row by row, as is a Hub dataset read online under a limit.
The fingerprint that goes into node hashes is the Hub id, configuration, split and revision, or for a local
folder the hash of its files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..compile.spec import DatasetDef
from ..hashing import content_hash, file_hash
from .reader import DatasetError


def describe(ds: DatasetDef) -> str:
    """`cais/mmlu (all, test @ c30699e)` — how messages name the dataset."""
    inner = ", ".join(x for x in (ds.config, ds.split) if x)
    at = f" @ {ds.revision}" if ds.revision and ds.hf_local is None else ""
    return f"{ds.hf} ({inner}{at})"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fingerprint(ds: DatasetDef) -> str:
    """What the rows depend on: the local folder's files, or the Hub id, configuration, split and revision."""
    if ds.hf_local is not None:
        if not ds.hf_local.is_dir():
            return "unreadable"
        digest = hashlib.sha256()
        for file in sorted(p for p in ds.hf_local.rglob("*") if p.is_file() and ".cache" not in p.parts):
            digest.update(file.relative_to(ds.hf_local).as_posix().encode() + b"\0" + file_hash(file).encode())
        return content_hash({"folder": digest.hexdigest(), "config": ds.config, "split": ds.split})
    return content_hash({"hf": ds.hf, "config": ds.config, "split": ds.split, "revision": ds.revision})


def _library() -> Any:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - a dependency
        raise DatasetError("reading `hf` datasets needs the `datasets` package: pip install datasets") from exc
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    return datasets


def saved(folder: Path) -> bool:
    return (folder / "dataset_info.json").is_file() or (folder / "dataset_dict.json").is_file()


def open_dataset(ds: DatasetDef, *, streaming: bool) -> Any:
    """The split as a `datasets.Dataset` (or an `IterableDataset` when streaming); DatasetError on failure."""
    lib = _library()
    try:
        if ds.hf_local is not None:
            if not ds.hf_local.is_dir():
                raise DatasetError(f"dataset folder not found: {ds.hf_local}")
            if saved(ds.hf_local):
                loaded = lib.load_from_disk(str(ds.hf_local))
                if isinstance(loaded, lib.DatasetDict):
                    if ds.split not in loaded:
                        raise DatasetError(f"{describe(ds)}: no split {ds.split!r} (splits: {', '.join(loaded)})")
                    loaded = loaded[ds.split]
                return loaded.to_iterable_dataset() if streaming else loaded
            return lib.load_dataset(str(ds.hf_local), ds.config, split=ds.split, streaming=streaming)
        return lib.load_dataset(ds.hf, ds.config, split=ds.split, revision=ds.revision, streaming=streaming)
    except DatasetError:
        raise
    except Exception as exc:  # the library's many error types: one line, naming the dataset
        raise DatasetError(_message(ds, exc)) from None


def _message(ds: DatasetDef, exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if ds.hf_local is None and (offline() or "offline" in text.lower()):
        return (f"{describe(ds)} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set "
                f"(download it once online, or unset HF_HUB_OFFLINE): {text[:200]}")  # fmt: skip
    return f"cannot load {describe(ds)}: {text[:300]}"


def hub_rows(ds: DatasetDef, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The split's rows in order. Streamed (read as they are used) from a local folder, and from the Hub when a
    limit applies and `HF_HUB_OFFLINE` is not set; else the split is loaded (from the cache when offline)."""
    streaming = ds.hf_local is not None or (limit is not None and not offline())
    data = open_dataset(ds, streaming=streaming)
    try:
        for row in data:
            yield dict(row)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(_message(ds, exc)) from None


def arrow_batches(ds: DatasetDef) -> tuple[Any, Iterator[Any]]:
    """The split's Arrow schema and record batches, for the whole-dataset profile (column by column)."""
    data = open_dataset(ds, streaming=False)
    table = data.data.table if hasattr(data, "data") else None
    if table is None:  # pragma: no cover - a Dataset always holds a table
        raise DatasetError(f"cannot read {describe(ds)} as a table")
    if getattr(data, "_indices", None) is not None:
        table = data.with_format("arrow")[:]
    return table.schema, iter(table.to_batches(max_chunksize=65536))
