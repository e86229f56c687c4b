"""Locate the packaged grammar and standard library: inside an installed wheel or in a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _data_dir(name: str) -> Path:
    packaged = resources.files("evaldsl") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"evaldsl's {name}/ folder is missing from this installation; reinstall evaldsl")


def grammar_path() -> Path:
    return _data_dir("grammar") / "evaldsl.lark"


def stdlib_dir() -> Path:
    return _data_dir("stdlib")
