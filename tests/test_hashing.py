"""Content hashes and stored JSON: the fast encoder gives exactly the json module's canonical bytes (so cache keys
and row identities do not change), and the store's compact JSON reads back to the same values."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evaldsl.compile.model_config import GenerationParams
from evaldsl.hashing import _CANONICAL, _orjson, canonical_json, compact_json, content_hash


def reference(obj: Any) -> str:
    """The definition: the json module with sorted keys, no whitespace and UTF-8 kept."""
    return _CANONICAL.encode(obj)


@dataclasses.dataclass(frozen=True)
class Inner:
    zeta: Any
    alpha: tuple[Any, ...] = ()


@dataclasses.dataclass
class Outer:
    name: str
    inner: Inner
    items: list[Any]


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 5e-324, 1e16, 1e15, 1.5e16, 1e22, 0.1, 100.0, -2.5e-7]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | floats
    | st.text()
    | st.text(alphabet=st.characters(codec="utf-8"))
    | st.sampled_from(["", '"', "\\", "\x00\x1f\x7f", "\u2028\u2029", "é😀", "a\nb\tc\r\b\f"])
    | st.builds(GenerationParams, max_tokens=st.integers(1, 10**6), temperature=st.floats(0, 2),
                top_p=st.none() | st.floats(1e-9, 1), stop=st.lists(st.text(max_size=4), max_size=2).map(tuple))
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6), children, max_size=5)
        | st.builds(Inner, children, st.lists(children, max_size=3).map(tuple))
        | st.builds(Outer, st.text(max_size=5), st.builds(Inner, children), st.lists(children, max_size=3))
    )


values = st.recursive(scalars, containers, max_leaves=25)


def encodable(obj: Any) -> bool:
    try:
        reference(obj).encode("utf-8")
    except (ValueError, TypeError):  # lone surrogates cannot be hashed by either path
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(values)
def test_canonical_json_is_exactly_the_json_modules(obj: Any) -> None:
    if not encodable(obj):
        return
    assert canonical_json(obj) == reference(obj)
    assert content_hash(obj) == hashlib.sha256(reference(obj).encode("utf-8")).hexdigest()


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=1000, deadline=None)
@given(values)
def test_the_stores_compact_json_reads_back_to_the_same_values(obj: Any) -> None:
    if not encodable(obj):
        return
    assert same(json.loads(compact_json(obj)), json.loads(reference(obj)))


def test_the_fast_path_is_taken_for_what_a_run_hashes() -> None:
    params = GenerationParams(max_tokens=64, temperature=0.7, stop=("\n",))
    request = {"messages": ({"role": "user", "content": "Q: " + "word " * 400},), "params": params,
               "variables": {"question": "q", "n": 3, "score": 0.25}, "response_format": None}  # fmt: skip
    assert _orjson(request, True) is not None
    assert canonical_json(request) == reference(request)


def test_values_the_fast_path_would_spell_differently_take_the_json_modules_path() -> None:
    for obj in ({"x": 1e-5}, [math.nan], {"inf": -math.inf}, 2**70, {1: "int key"}, Path("a/b"), {"s": {1, 2}}):
        assert _orjson(obj, True) is None
        assert canonical_json(obj) == reference(obj)
    assert _orjson({"x": 1e-5}, False) is not None  # stored, not hashed: `0.00001` reads back the same
    assert json.loads(compact_json({"x": 1e-5})) == {"x": 1e-5}
    assert b"NaN" in compact_json({"x": math.nan})  # non-finite floats are never written as null
