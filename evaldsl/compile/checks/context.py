"""What the checks share: the spec, names whose definitions failed to compile, and lazily read dataset
field names."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...datasets.rows import DatasetError, data_format, dataset_fields
from ..spec import EvalDef, Spec


@dataclass
class CheckContext:
    spec: Spec
    # Names written in the spec whose definitions did not compile (already reported): references to them are
    # not reported again as unknown.
    broken: frozenset[str] = frozenset()
    _fields: dict[str, list[str] | None] = field(default_factory=dict)

    def fields(self, dataset: str, *, derived: bool = True) -> list[str] | None:
        """The dataset's field names, or None when unknown (missing dataset or unreadable file)."""
        key = dataset if derived else dataset + "\0raw"
        if key not in self._fields:
            ds = self.spec.datasets.get(dataset)
            names: list[str] | None = None
            if ds is not None and (
                ds.rows is not None or (ds.path and ds.path.is_file() and data_format(ds.path, ds.format))
            ):
                try:
                    names = dataset_fields(ds, derived=derived)
                except DatasetError:
                    names = None
            self._fields[key] = names
        return self._fields[key]

    def metric_names(self, ev: EvalDef) -> set[str]:
        return {m.name for m in ev.metrics}
