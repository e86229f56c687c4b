"""The reference docs are generated from the one declaration of each block's attributes: they stay current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from evaldsl.compile.schema import BLOCKS

ROOT = Path(__file__).resolve().parent.parent


def _gen_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_language_reference_tables_match_the_schema() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert _gen_docs().generated(text) == text, "run `python scripts/gen_docs.py`"
    for kind in BLOCKS:
        assert f"<!-- attributes: {kind} -->" in text, f"docs/language.md has no table of {kind} attributes"


def test_every_attribute_is_documented_and_typed() -> None:
    for kind, block in BLOCKS.items():
        for attr in block:
            assert attr.doc.strip().endswith((".", ")")), f"{kind}.{attr.name}: document it in a sentence"
            assert attr.type_label, f"{kind}.{attr.name}"
    assert BLOCKS["eval"]["max_tokens"].default == 256  # generation overrides come from GenerationParams
    assert BLOCKS["fewshot"]["from"].required
    assert BLOCKS["model"]["provider"].choices == ("hf", "litellm", "mock", "vllm", "python", "http")
