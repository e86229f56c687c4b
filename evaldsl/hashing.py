"""Content hashes and JSON encoding: a value → canonical JSON → sha256 hex (graph node hashes, cache keys, row
identities); the same encoder writes the store's JSON.

Plain JSON values (dicts with string keys, lists, tuples, strings, 64-bit integers, booleans, None and floats)
are encoded by orjson, an order of magnitude faster on long text than the json module, whose string escaping
dominated a large run's hashing. The json module stays the definition: orjson is used only where its bytes are
the same (tests/test_hashing.py proves it over generated values) — never for non-finite floats (the json module
writes `NaN`/`Infinity`, orjson `null`), nor, for canonical forms, for non-zero floats under 1e-4 (orjson writes
`0.00001` where the json module writes `1e-05`); anything else (dataclasses, models, paths...) goes to the json
module and `json_default`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel


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


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)
_PLAIN_DEPTH = 64  # deeper values take the json module's path (orjson stops at 254 levels; this walk recurses)
_SMALLEST_SAME = 1e-4  # the smallest non-zero float magnitude both encoders write alike


@lru_cache(maxsize=256)
def _record_kind(kind: Any) -> str | None:
    """"dataclass", "model" (a frozen pydantic model) or None: what `json_default` makes of this type."""
    if dataclasses.is_dataclass(kind):
        return "dataclass"
    if issubclass(kind, BaseModel) and kind.model_config.get("frozen"):
        return "model"
    return None


@lru_cache(maxsize=256)
def _field_names(kind: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


@lru_cache(maxsize=1024)
def _model_json(model: Any) -> Any:
    """A frozen pydantic model's JSON form (`json_default`'s), kept: a run hashes the same settings per request."""
    return model.model_dump(mode="json")


@lru_cache(maxsize=1024)
def _model_plain(model: Any, canonical: bool) -> bool:
    return _plain(_model_json(model), canonical, 1)


def _plain(obj: Any, canonical: bool, depth: int = 0) -> bool:
    """Whether orjson (with `_orjson_default`) writes `obj` exactly as the json module would."""
    kind: Any = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:
        return True
    if kind is float:
        return obj == 0.0 or (abs(obj) < math.inf and (not canonical or abs(obj) >= _SMALLEST_SAME))
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is dict:
        for key in obj:
            if type(key) is not str:
                return False
        values = obj.values()
    elif kind is list or kind is tuple:
        values = obj
    else:
        record = _record_kind(kind)
        if record == "dataclass":
            values = [getattr(obj, name) for name in _field_names(kind)]
        elif record == "model":
            try:
                return _model_plain(obj, canonical)
            except TypeError:  # a field that cannot be hashed
                return False
        else:
            return False
    for value in values:  # scalars inline: most values are strings, and a call per value costs more than the test
        leaf = type(value)
        if not (leaf is str or leaf is int or leaf is bool or value is None or _plain(value, canonical, depth + 1)):
            return False
    return True


def _orjson_default(obj: Any) -> Any:
    """What orjson cannot write itself, as `json_default` would give it (a dataclass's fields, shallowly)."""
    kind: Any = type(obj)
    if _record_kind(kind) == "dataclass":
        return {name: getattr(obj, name) for name in _field_names(kind)}
    return _model_json(obj)


_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson(obj: Any, canonical: bool) -> bytes | None:
    if not _plain(obj, canonical):
        return None
    try:
        return orjson.dumps(obj, default=_orjson_default,
                            option=_SORTED if canonical else orjson.OPT_PASSTHROUGH_DATACLASS)  # fmt: skip
    except (orjson.JSONEncodeError, TypeError):  # integers past 64 bits, lone surrogates
        return None


def compact_json(obj: Any) -> bytes:
    """UTF-8 JSON without whitespace, keys in their order: what the store writes. Floats may be spelled
    differently from the json module (`0.00001` for `1e-05`) and read back to the same values."""
    fast = _orjson(obj, False)
    return _COMPACT.encode(obj).encode("utf-8") if fast is None else fast


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: equal values give equal text (exactly the json module's)."""
    fast = _orjson(obj, True)
    return _CANONICAL.encode(obj) if fast is None else fast.decode("utf-8")


def content_hash(obj: Any) -> str:
    """sha256 hex of the canonical JSON form (tuples hash like lists, dataclasses and models like their fields)."""
    fast = _orjson(obj, True)
    data = _CANONICAL.encode(obj).encode("utf-8") if fast is None else fast
    return hashlib.sha256(data).hexdigest()


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
