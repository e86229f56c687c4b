"""A dataset's fields as the editor shows them, from the compiler's dataset profile (every row read once per file
version): each field's type(s), whether some rows lack it, and the first row as an example."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compile.confine import readable_roots
from ..compile.spec import DatasetDef
from ..datasets.profile import FieldProfile, ProfileCache, dataset_profile
from ..datasets.rows import DatasetError
from ..project import is_within, project_root

_WORDS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "list", "dict": "map",
          "null": "null"}  # fmt: skip


@dataclass(frozen=True)
class DatasetFields:
    """Field name → type in words ("" when unknown), in the dataset's order, and one example row when readable."""

    types: dict[str, str]
    example: dict[str, Any] | None = None


def _type(field: FieldProfile, example: Any) -> str:
    kinds = [_WORDS.get(t, t) for t, _ in sorted(field.types.items(), key=lambda kv: (-kv[1], kv[0]))]
    items = {_WORDS.get(type(v).__name__, type(v).__name__) for v in example} if isinstance(example, list) else set()
    if kinds == ["list"] and len(items) == 1:  # the example row shows what the list holds
        kinds = [f"list of {items.pop()}s"]
    text = " or ".join(kinds)
    if field.presence == "some":
        text += f" (missing from {field.missing} of {field.rows} rows)"
    return text


def read_fields(ds: DatasetDef, profiles: ProfileCache | None = None) -> DatasetFields | None:
    """The fields of a dataset with their types, or None when it cannot be read (missing file...) or lies outside
    the project of the file declaring it (never read: as `check`, E331)."""
    if ds.path is not None:
        try:
            if not is_within(ds.path, readable_roots((project_root(Path(ds.span.file)),))):
                return None
        except (ValueError, OSError, RuntimeError):
            return None
    try:
        profile = dataset_profile(ds, profiles)
    except DatasetError:
        return None
    example = dict(profile.example) if profile.example is not None else None
    return DatasetFields({name: _type(f, (example or {}).get(name)) for name, f in profile.fields.items()}, example)


class FieldCache:
    """`read_fields` over one profile cache (a data file is read again only when it changes)."""

    def __init__(self, profiles: ProfileCache | None = None) -> None:
        self.profiles = profiles or ProfileCache()

    def get(self, ds: DatasetDef) -> DatasetFields | None:
        return read_fields(ds, self.profiles)
