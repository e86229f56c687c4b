"""Where the store is — one rule for every command: `--store` (a folder or a `postgresql://` URL), else
$EVALDSL_STORE_URL, else $EVALDSL_HOME, else the nearest `.evaldsl/` at or above the current folder (as git finds
`.git`), else (for `run`) a new `.evaldsl/` at the root of the git repository holding the spec, or beside the spec
outside git."""

from __future__ import annotations

import os
import re
from pathlib import Path

from evaldsl.project import project_root

STORE_DIRNAME = ".evaldsl"
HOME_VARIABLE = "EVALDSL_HOME"
URL_VARIABLE = "EVALDSL_STORE_URL"
Location = Path | str  # a store folder, or a store URL (kept as text: a path would fold its `//`)


def as_location(text: str | os.PathLike[str]) -> Location:
    """A `--store` value: a URL (`scheme://...`) stays text, anything else is a folder."""
    raw = os.fspath(text)
    return raw if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", raw) else Path(raw)


def is_url(location: Location) -> bool:
    return isinstance(location, str)


def _nearest(start: Path, name: str) -> Path | None:
    """`start/name`, else the same in the closest parent folder that has one."""
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def existing_store(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Location | None:
    """The store the rule points at when it must already exist (the result commands): --store,
    $EVALDSL_STORE_URL, $EVALDSL_HOME, or the nearest `.evaldsl/` at or above `cwd`; None when there is none."""
    if explicit is not None:
        return as_location(explicit)
    for variable in (URL_VARIABLE, HOME_VARIABLE):
        if value := os.environ.get(variable):
            return as_location(value)
    return _nearest((cwd or Path.cwd()).resolve(), STORE_DIRNAME)


def store_for_run(spec: Path, explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Location:
    """The store `evaldsl run SPEC` uses: the one the rule finds, else a new `.evaldsl/` at the root of the git
    repository holding the spec (the spec's folder outside git)."""
    found = existing_store(explicit, cwd)
    if found is not None:
        return found
    return project_root(spec) / STORE_DIRNAME
