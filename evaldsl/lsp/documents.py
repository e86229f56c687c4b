"""The server's view of the files: editors' unsaved texts over the disk, one parse cache, and what each file
and its imports define (its knowledge), recomputed when any text changes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import api
from ..access import access_for
from ..compile import ast
from ..compile.lower import lower
from ..compile.resolve import Program, read_source, resolve
from ..compile.spec import Spec
from ..datasets.profile import ProfileCache
from ..diagnostics import Diagnostic
from ..resources import stdlib_dir
from .fields import DatasetFields, FieldCache
from .parsing import ParseCache

_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages"}


@dataclass(frozen=True)
class Knowledge:
    """What a file and its imports define, read from their current texts; statements that do not parse are
    left out, so a half-typed block hides only itself."""

    path: Path
    program: Program
    spec: Spec
    modules: Mapping[Path, ast.Module]  # every file loaded, by resolved path


class Documents:
    """Texts of open documents, files read from disk, and analyses derived from them."""

    def __init__(self) -> None:
        self.parser = ParseCache()
        self.profiles = ProfileCache()  # data files are read once per version, by checks and completions alike
        self.fields = FieldCache(self.profiles)
        self._open: dict[Path, str] = {}
        self._generation = 0  # bumped on every change: knowledge computed before is stale
        self._knowledge: dict[Path, tuple[int, Knowledge]] = {}
        self._disk: dict[Path, tuple[tuple[int, int], str]] = {}

    # ---- texts ----
    def set(self, path: Path, text: str) -> None:
        self._open[path] = text
        self._generation += 1

    def close(self, path: Path) -> None:
        self._open.pop(path, None)
        self._generation += 1

    def changed_on_disk(self) -> None:
        self._generation += 1

    def is_open(self, path: Path) -> bool:
        return path in self._open

    def open_paths(self) -> list[Path]:
        return list(self._open)

    def text(self, path: Path) -> str | None:
        """The editor's text of an open file, else the file's content (None when unreadable)."""
        if path in self._open:
            return self._open[path]
        try:
            info = path.stat()
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        known = self._disk.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        text, problem = read_source(path)
        if text is None or problem is not None:
            return None
        self._disk[path] = (stamp, text)
        return text

    # ---- analyses ----
    def check(self, path: Path) -> api.CheckResult:
        """Exactly `evaldsl check` on the file (with the grants of the environment: EVALDSL_ALLOW_PATH,
        EVALDSL_ALLOW_HOST), with every open file's unsaved text."""
        return api.check(path, self._open.get(path), overlay=dict(self._open), parser=self.parser,
                         profiles=self.profiles, access=access_for())  # fmt: skip

    def knowledge(self, path: Path) -> Knowledge:
        """The definitions of a file and its imports (memoised until any text changes)."""
        known = self._knowledge.get(path)
        if known is not None and known[0] == self._generation:
            return known[1]
        modules: dict[Path, ast.Module] = {}

        def parse(file: Path, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
            modules[file] = self.parser.tolerant(file, text)
            return modules[file], []

        text = self.text(path)
        program, _ = resolve(path, text if text is not None else "", overlay=dict(self._open), parse=parse)
        spec, _ = lower(program)
        knowledge = Knowledge(path, program, spec, modules)
        self._knowledge[path] = (self._generation, knowledge)
        return knowledge

    def module(self, path: Path) -> ast.Module | None:
        """A file's syntax tree (statements that do not parse left out), or None when it cannot be read."""
        text = self.text(path)
        return None if text is None else self.parser.tolerant(path, text)

    def dataset_fields(self, spec: Spec, name: str) -> DatasetFields | None:
        ds = spec.datasets.get(name)
        return None if ds is None else self.fields.get(ds)

    def eval_files(self, roots: list[Path]) -> list[Path]:
        """Every `.eval` file under the workspace folders (hidden and tool folders skipped), the open ones,
        and the standard library's."""
        found = dict.fromkeys(self._open)
        for root in roots:
            for file in _walk(root):
                found.setdefault(file.resolve())
        for file in sorted(stdlib_dir().glob("*.eval")):
            found.setdefault(file.resolve())
        return [p for p in found if p.suffix == ".eval"]


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".eval"):
                yield Path(folder) / name
