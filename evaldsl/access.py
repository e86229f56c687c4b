"""What a spec may reach outside its project, granted by the user, never by the spec or its project: folders
(`--allow-path DIR`, or the `EVALDSL_ALLOW_PATH` environment variable, folders separated like PATH) and Python
modules that are not files of the project (`--allow-python MODULE`). Without a grant, dataset files, local model
folders and python metric modules must lie inside the project root (datasets may also be those of the standard
library shipped with evaldsl); see docs/security.md. No file inside the project can grant anything: on an
untrusted spec its author writes those files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .metrics.user import is_allowed
from .project import is_within, project_root
from .resources import stdlib_dir

ALLOW_PATH_VARIABLE = "EVALDSL_ALLOW_PATH"


@dataclass(frozen=True)
class Access:
    """The grants of one command: extra folders (absolute) and Python modules (dotted names)."""

    allow_paths: tuple[Path, ...] = ()
    allow_python: frozenset[str] = frozenset()

    def roots(self, spec: Path) -> tuple[Path, ...]:
        """Where files may be read: the project root of `spec`, the standard library shipped with evaldsl (its
        templates' data), then each allowed folder."""
        return (project_root(spec), stdlib_dir(), *self.allow_paths)

    def allows_path(self, path: Path, spec: Path) -> bool:
        return is_within(path, self.roots(spec))

    def allows_module(self, module: str) -> bool:
        """Whether `module` (or a package above it) was named by `--allow-python`."""
        return is_allowed(module, self.allow_python)


def access_for(
    allow_paths: Iterable[Path] = (), allow_python: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> Access:
    """The grants of a command: the folders and modules given on its command line, plus the folders listed in
    `EVALDSL_ALLOW_PATH` of `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    listed = [Path(p) for p in env.get(ALLOW_PATH_VARIABLE, "").split(os.pathsep) if p.strip()]
    folders = [Path(p).expanduser().resolve() for p in [*allow_paths, *listed]]
    return Access(tuple(dict.fromkeys(folders)), frozenset(m.strip() for m in allow_python if m.strip()))
