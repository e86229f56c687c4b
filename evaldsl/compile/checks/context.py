"""What the checks share: the spec, names whose definitions failed to compile, and each dataset's profile
(every row read once per check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...access import Access
from ...datasets.profile import DatasetProfile, ProfileCache, dataset_profile
from ...datasets.reader import DatasetError, data_format
from ...project import is_within
from ..confine import allowed_roots, readable_roots
from ..spec import EvalDef, Spec


@dataclass
class CheckContext:
    spec: Spec
    # Names written in the spec whose definitions did not compile (already reported): references to them are
    # not reported again as unknown.
    broken: frozenset[str] = frozenset()
    # Data file profiles by (file, size, modification time): several datasets or evals on one file read it once.
    profiles: ProfileCache = field(default_factory=ProfileCache)
    # What the user allowed beyond the project (--allow-path, --allow-python); files elsewhere are never read.
    access: Access = field(default_factory=Access)
    # The folders data files are read inside (default: the project root of the spec and the folders `access`
    # allows); a file outside them is never opened (E331, reported by the confinement check).
    roots: tuple[Path, ...] | None = None
    _profiles: dict[tuple[str, bool], DatasetProfile | DatasetError | None] = field(default_factory=dict)

    def profile_or_error(self, dataset: str, *, derived: bool = True) -> DatasetProfile | DatasetError | None:
        """The dataset's profile (its derived fields too unless `derived=False`), the error reading it, or None
        when there is nothing to read (no such dataset, a missing file or an unsupported type: reported by the
        datasets check)."""
        key = (dataset, derived)
        if key not in self._profiles:
            ds = self.spec.datasets.get(dataset)
            found: DatasetProfile | DatasetError | None = None
            if ds is not None and (
                ds.rows is not None
                or ds.hf is not None
                or (ds.path and self.readable(ds.path) and ds.path.is_file() and data_format(ds.path, ds.format))
            ):
                try:
                    found = dataset_profile(ds if derived else ds.model_copy(update={"fields": ()}), self.profiles)
                except DatasetError as exc:
                    found = exc
            self._profiles[key] = found
        return self._profiles[key]

    def __post_init__(self) -> None:
        if self.roots is None:
            self.roots = allowed_roots(self.spec.path, self.access.allow_paths)

    def readable(self, path: Path) -> bool:
        """Whether a data file lies inside the roots (symlinks resolved), so the check may read it."""
        try:
            return is_within(path, readable_roots(self.roots or ()))
        except (ValueError, OSError, RuntimeError):
            return False

    def profile(self, dataset: str, *, derived: bool = True) -> DatasetProfile | None:
        """The dataset's profile, or None when unknown (missing dataset, unreadable or unsupported file)."""
        found = self.profile_or_error(dataset, derived=derived)
        return found if isinstance(found, DatasetProfile) else None

    def fields(self, dataset: str, *, derived: bool = True) -> list[str] | None:
        """The dataset's field names (some row has each), or None when unknown."""
        found = self.profile(dataset, derived=derived)
        return None if found is None else found.names()

    def metric_names(self, ev: EvalDef) -> set[str]:
        return {m.name for m in ev.metrics}
