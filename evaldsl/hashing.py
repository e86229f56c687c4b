"""Content hashes and JSON encoding: a value → canonical JSON → sha256 hex (graph node hashes, cache keys, row
identities); the same encoder writes the store's JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any


def json_default(obj: Any) -> Any:
    """How values that JSON does not know are written: dataclasses and pydantic models as their fields, paths
    as strings, sets sorted, numpy scalars as numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    raise TypeError(f"cannot encode a {type(obj).__name__} as JSON: {obj!r:.80}")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default)
"""One configured encoder (never changed): `json.dumps` would build one per call, several times per sample."""


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: equal values give equal text."""
    return _CANONICAL.encode(obj)


def content_hash(obj: Any) -> str:
    """sha256 hex of the canonical JSON form (tuples hash like lists, dataclasses and models like their fields)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def without_spans(obj: Any) -> Any:
    """A JSON-able copy with every source position removed, so moving text does not change a hash."""
    if isinstance(obj, dict):
        return {k: without_spans(v) for k, v in obj.items() if k != "span" and not k.endswith("_span")}
    if isinstance(obj, (list, tuple)):
        return [without_spans(v) for v in obj]
    return obj
