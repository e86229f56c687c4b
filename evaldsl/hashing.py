"""Content hashes: canonical JSON of a value → sha256 hex (graph node hashes and cache keys)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot hash {type(obj).__name__}")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def content_hash(obj: Any) -> str:
    """sha256 of the canonical JSON form (sorted keys, no whitespace)."""
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
