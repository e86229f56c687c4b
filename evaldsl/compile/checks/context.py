"""What the checks share: the spec, names whose definitions failed to compile, and each dataset's profile
(every row read once per check)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...datasets.profile import DatasetProfile, ProfileCache, dataset_profile
from ...datasets.reader import DatasetError, data_format
from ..spec import EvalDef, Spec


@dataclass
class CheckContext:
    spec: Spec
    # Names written in the spec whose definitions did not compile (already reported): references to them are
    # not reported again as unknown.
    broken: frozenset[str] = frozenset()
    # Data file profiles by (file, size, modification time): several datasets or evals on one file read it once.
    profiles: ProfileCache = field(default_factory=ProfileCache)
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
                or (ds.path and ds.path.is_file() and data_format(ds.path, ds.format))
            ):
                try:
                    found = dataset_profile(ds if derived else ds.model_copy(update={"fields": ()}), self.profiles)
                except DatasetError as exc:
                    found = exc
            self._profiles[key] = found
        return self._profiles[key]

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
