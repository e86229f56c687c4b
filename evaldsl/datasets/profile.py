"""A dataset's rows → its profile: per field, how many rows have it and with which types, and one example row.

The profile is what the compiler knows about a dataset's fields; the language server reads the same object for
completion and hover. The API, all read-only:

- `profile_file(path, fmt)` / `profile_rows(rows)` read every row once (streaming: memory stays flat however
  long a JSON-lines or CSV file is) and return a `DatasetProfile`; `ProfileCache.get(path, fmt)` does the same
  once per (file, size, modification time).
- `DatasetProfile.rows` (well-formed rows), `.fields` (name → `FieldProfile`, in order of first appearance),
  `.example` (the first row), `.bad_rows` / `.bad_count` (malformed records, with their lines),
  `.presence(name)` ("all", "some" or "none") and `.field(name)`.
- `dataset_profile(ds, cache)` is a spec's dataset as its samples see it: its file's, Hugging Face split's or
  inline rows' fields,
  then its derived `field`s in order (their presence follows the fields they read without a guard; their types
  are inferred where the expression's shape makes them plain, else unknown).
- `FieldProfile.present` of `.rows` rows have the field, `.types` counts them by type — "str", "int", "float",
  "bool", "list", "dict", "null" ("other" for parquet values JSON has no name for); empty when unknown (a
  derived field whose type cannot be inferred). `.presence`, `.missing`, `.describe()` ("str in all 20 rows").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateSyntaxError

from ..compile.field_reads import field_reads, value_kinds, whole_field
from ..compile.spec import DatasetDef, SampleValue
from . import hub
from .reader import TYPE_NAMES, BadRow, DatasetError, data_format, records, type_name

Presence = Literal["all", "some", "none"]

MAX_BAD_ROWS = 5  # malformed records kept with their lines (all are counted)
_MAX_SHAPES = 4096  # distinct (field, type) row shapes tallied before they are folded into per-field counts


@dataclass(frozen=True)
class FieldProfile:
    """One field of a dataset: `present` of `rows` rows have it, `types` counts those rows by value type."""

    name: str
    rows: int
    present: int
    types: Mapping[str, int] = field(default_factory=dict)
    derived: bool = False

    @property
    def presence(self) -> Presence:
        if self.present <= 0:
            return "none"
        return "all" if self.present >= self.rows else "some"

    @property
    def missing(self) -> int:
        return max(self.rows - self.present, 0)

    def describe(self) -> str:
        """`str in all 20 rows`, `list in 12 rows, null in 3 (missing from 5 of 20 rows)`, `derived, type unknown`."""
        if not self.types:
            kinds = "type unknown"
        else:
            ordered = sorted(self.types.items(), key=lambda kv: (-kv[1], kv[0]))
            if len(ordered) == 1 and self.presence == "all":
                kinds = f"{ordered[0][0]} in all {self.rows} rows"
            else:
                kinds = ", ".join(f"{t} in {n} row{'s' if n != 1 else ''}" for t, n in ordered)
        if self.presence == "some":
            kinds += f" (missing from {self.missing} of {self.rows} rows)"
        return f"derived, {kinds}" if self.derived else kinds


@dataclass(frozen=True)
class DatasetProfile:
    """Every field of a dataset with its presence and types, one example row and the malformed records."""

    rows: int
    fields: Mapping[str, FieldProfile]
    example: Mapping[str, Any] | None = None
    bad_rows: tuple[BadRow, ...] = ()
    bad_count: int = 0

    def field(self, name: str) -> FieldProfile | None:
        return self.fields.get(name)

    def presence(self, name: str) -> Presence:
        found = self.fields.get(name)
        return "none" if found is None else found.presence

    def names(self) -> list[str]:
        return list(self.fields)

    def with_fields(self, extra: Iterable[FieldProfile]) -> DatasetProfile:
        """This profile with more fields (derived ones), a field of the same name replaced."""
        fields = dict(self.fields)
        for f in extra:
            fields[f.name] = f
        return replace(self, fields=fields)


class _Tally:
    """Per-field counts over a stream of rows. Rows usually share a few shapes (which fields, of which types),
    so a row costs one tuple (its keys, then its values' types) and one dict update; shapes are folded into
    per-field counts when there are many."""

    def __init__(self) -> None:
        self.example: dict[str, Any] | None = None
        self.bad: list[BadRow] = []
        self.bad_count = 0
        self.shapes: dict[tuple[Any, ...], int] = {}
        self._rows = 0
        self._present: dict[str, int] = {}
        self._types: dict[str, dict[str, int]] = {}

    def add_bad(self, bad: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_ROWS:
            self.bad.append(bad)

    def fold(self) -> None:
        for shape, count in self.shapes.items():
            self._rows += count
            half = len(shape) // 2
            for name, kind in zip(shape[:half], shape[half:], strict=True):
                self._present[name] = self._present.get(name, 0) + count
                types = self._types.setdefault(name, {})
                label = TYPE_NAMES.get(kind, "other")
                types[label] = types.get(label, 0) + count
        self.shapes.clear()

    def profile(self) -> DatasetProfile:
        self.fold()
        fields = {
            name: FieldProfile(name=name, rows=self._rows, present=present, types=dict(self._types[name]))
            for name, present in self._present.items()
        }
        return DatasetProfile(
            rows=self._rows, fields=fields, example=self.example, bad_rows=tuple(self.bad), bad_count=self.bad_count
        )


def profile_rows(rows: Iterable[Mapping[str, Any]]) -> DatasetProfile:
    """The profile of rows given in memory (a dataset's inline `rows`)."""
    return profile_records((i, dict(row)) for i, row in enumerate(rows, 1))


def profile_records(stream: Iterable[tuple[int, dict[str, Any] | BadRow]]) -> DatasetProfile:
    """The profile of a record stream from `reader.records`: rows tallied, malformed ones kept with their lines."""
    tally = _Tally()
    shapes = tally.shapes
    for _, record in stream:  # the hot loop of `evaldsl check` on a large file: kept to a few operations
        if type(record) is dict:
            shape = (*record, *map(type, record.values()))
            shapes[shape] = shapes.get(shape, 0) + 1
            if len(shapes) > _MAX_SHAPES:
                tally.fold()
            if tally.example is None:
                tally.example = record
        else:
            assert isinstance(record, BadRow)
            tally.add_bad(record)
    return tally.profile()


def profile_file(path: Path, fmt: str) -> DatasetProfile:
    """Read every record of a data file once and profile it; DatasetError when the file cannot be read."""
    if fmt == "parquet":
        return _profile_parquet(path)
    return profile_records(records(path, fmt))


def _profile_parquet(path: Path) -> DatasetProfile:
    """Parquet is typed by its schema: every row has every column (see `profile_arrow`)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise DatasetError("reading .parquet needs pyarrow: pip install pyarrow") from exc
    try:
        parquet = pq.ParquetFile(path)
        return profile_arrow(parquet.schema_arrow, parquet.iter_batches(batch_size=65536))
    except OSError as exc:
        raise DatasetError(f"{path}: {exc.strerror or exc}") from None
    except DatasetError:
        raise
    except Exception as exc:  # pyarrow's own errors for a file that is not parquet
        raise DatasetError(f"{path}: cannot read parquet ({exc})") from None


def profile_arrow(schema: Any, batches: Iterable[Any]) -> DatasetProfile:
    """The profile of Arrow record batches (parquet files, Hugging Face datasets): types come from the column
    types and the null counts, read column by column (no row objects are built)."""
    import pyarrow as pa

    nulls = dict.fromkeys(schema.names, 0)
    total = 0
    example = None
    for batch in batches:
        if example is None and batch.num_rows:
            example = batch.slice(0, 1).to_pylist()[0]
        total += batch.num_rows
        for name, column in zip(schema.names, batch.columns, strict=True):
            nulls[name] += column.null_count

    def kind(t: Any) -> str:
        checks = (
            (pa.types.is_boolean, "bool"),
            (lambda x: pa.types.is_string(x) or pa.types.is_large_string(x), "str"),
            (pa.types.is_integer, "int"),
            (lambda x: pa.types.is_floating(x) or pa.types.is_decimal(x), "float"),
            (lambda x: pa.types.is_list(x) or pa.types.is_large_list(x) or pa.types.is_fixed_size_list(x), "list"),
            (pa.types.is_struct, "dict"),
            (pa.types.is_null, "null"),
        )
        return next((label for test, label in checks if test(t)), "other")

    fields = {}
    for name in schema.names:
        label = kind(schema.field(name).type)
        types = {label: total - nulls[name], "null": nulls[name]} if label != "null" else {"null": total}
        fields[name] = FieldProfile(name=name, rows=total, present=total, types={k: n for k, n in types.items() if n})
    return DatasetProfile(rows=total, fields=fields, example=example)


class ProfileCache:
    """Profiles of data files, each read once per (file, format, size, modification time): several evals on one
    dataset read it once, and a file changed since is read again. Holds no global state: make one per check
    (or per language-server session)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, int | str, int], DatasetProfile | DatasetError] = {}

    def get(self, path: Path, fmt: str) -> DatasetProfile:
        """The file's profile; raises DatasetError (remembered too) when it cannot be read."""
        try:
            stat = path.stat()
        except OSError as exc:
            raise DatasetError(f"{path}: {exc.strerror or exc}") from None
        return self._remembered((str(path), fmt, stat.st_size, stat.st_mtime_ns), lambda: profile_file(path, fmt))

    def get_hub(self, ds: DatasetDef) -> DatasetProfile:
        """A Hugging Face dataset's profile, once per fingerprint (a local folder's files, or the Hub id,
        configuration, split and revision); raises DatasetError (remembered too) when it cannot be loaded."""
        def profile() -> DatasetProfile:
            if ds.hf_local is not None and not hub.saved(ds.hf_local):  # data files: streamed, no cache written
                return profile_records(enumerate(hub.hub_rows(ds), 1))
            return profile_arrow(*hub.arrow_batches(ds))

        return self._remembered(("hf", hub.fingerprint(ds), str(ds.hf_local or ds.hf), 0), profile)

    def _remembered(self, key: tuple[str, str, int | str, int], make: Callable[[], DatasetProfile]) -> DatasetProfile:
        """The profile under `key`, made once; a DatasetError is remembered too, and raised each time."""
        if key not in self._entries:
            try:
                self._entries[key] = make()
            except DatasetError as exc:
                self._entries[key] = exc
        found = self._entries[key]
        if isinstance(found, DatasetError):
            raise found
        return found


def dataset_profile(ds: DatasetDef, cache: ProfileCache | None = None) -> DatasetProfile:
    """The profile of a spec's dataset: its rows (file or inline), then each derived `field` in order. Raises
    DatasetError when the file cannot be read. The `where` filter and `limit` are not applied: every row counts."""
    if ds.rows is not None:
        profile = profile_rows(ds.rows)
    elif ds.hf is not None:
        profile = (cache or ProfileCache()).get_hub(ds)
    else:
        assert ds.path is not None
        fmt = data_format(ds.path, ds.format)
        if fmt is None:
            raise DatasetError(f"{ds.path}: unsupported file type {ds.path.suffix!r}")
        profile = (cache or ProfileCache()).get(ds.path, fmt)
    for name, value in ds.fields:
        profile = profile.with_fields([derived_field(name, value, profile)])
    return profile


def derived_field(name: str, value: SampleValue, profile: DatasetProfile) -> FieldProfile:
    """A derived field's profile from what it reads: present in as many rows as the scarcest field it reads
    without a guard (all rows when that cannot be told), of the types its expression's shape gives."""
    rows = profile.rows
    if value.kind == "const":
        return FieldProfile(name, rows, rows, {type_name(value.value): rows}, derived=True)
    if value.kind == "template":
        return FieldProfile(name, rows, rows, {"str": rows}, derived=True)
    try:
        reads = field_reads(value.source, True, value.params)
        kinds = value_kinds(value.source, value.params, lambda f: _kinds_of(profile.field(f)))
    except TemplateSyntaxError:
        return FieldProfile(name, rows, rows, derived=True)
    present = rows
    for read in reads:
        source = profile.field(read.name)
        if not read.guarded and source is not None and source.presence == "some":
            present = min(present, source.present)
    types: dict[str, int] = {}
    if kinds is not None and len(kinds) == 1:
        types = {next(iter(kinds)): present}
    elif (whole := whole_field(value.source, value.params)) is not None and (source := profile.field(whole.name)):
        types = dict(source.types)  # a copy of one field: its types, row for row
    return FieldProfile(name, rows, present, types, derived=True)


def _kinds_of(found: FieldProfile | None) -> frozenset[str] | None:
    return frozenset(found.types) if found is not None and found.types else None
