"""The project a spec belongs to: the root of the git work tree holding the root spec, or the spec's own folder
outside git. `check` reads only inside it and `run` touches only it plus the folders the user allows
(docs/security.md); the store rule also places a new store at its root."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def git_root(path: Path) -> Path | None:
    """The root of the git work tree holding `path` (a `.git` folder or file), or None outside git."""
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def project_root(spec: Path) -> Path:
    """The project root of a root spec (or of a folder): its git work tree's root, else its own folder."""
    spec = spec.resolve()
    return git_root(spec) or (spec if spec.is_dir() else spec.parent)


def is_within(path: Path, roots: Iterable[Path]) -> bool:
    """Whether `path`, with symlinks and `..` resolved, lies inside one of `roots` (also resolved)."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)
