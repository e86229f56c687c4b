"""Where the store is — one rule for every command: `--store`, else $EVALDSL_HOME, else the nearest `.evaldsl/`
at or above the current folder (as git finds `.git`), else (for `run`) a new `.evaldsl/` at the root of the git
repository holding the spec, or beside the spec outside git."""

from __future__ import annotations

import os
from pathlib import Path

from evaldsl.project import project_root

STORE_DIRNAME = ".evaldsl"
HOME_VARIABLE = "EVALDSL_HOME"


def _nearest(start: Path, name: str) -> Path | None:
    """`start/name`, else the same in the closest parent folder that has one."""
    for folder in (start, *start.parents):
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def existing_store(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The store the rule points at when it must already exist (the result commands): --store, $EVALDSL_HOME,
    or the nearest `.evaldsl/` at or above `cwd`; None when there is none."""
    if explicit is not None:
        return explicit
    home = os.environ.get(HOME_VARIABLE)
    if home:
        return Path(home)
    return _nearest((cwd or Path.cwd()).resolve(), STORE_DIRNAME)


def store_for_run(spec: Path, explicit: Path | None = None, cwd: Path | None = None) -> Path:
    """The store `evaldsl run SPEC` uses: the one the rule finds, else a new `.evaldsl/` at the root of the git
    repository holding the spec (the spec's folder outside git)."""
    found = existing_store(explicit, cwd)
    if found is not None:
        return found
    return project_root(spec) / STORE_DIRNAME
