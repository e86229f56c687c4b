"""Opt-in user metrics: "module:function" + the spec's folder -> a sample metric calling that function."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import numbers
import re
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from evaldsl.metrics.base import MetricError, MetricInput
from evaldsl.project import is_within, project_root

_TARGET = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):([A-Za-z_][A-Za-z0-9_]*)")

UserFunction = Callable[[str, list[str], dict[str, Any]], Any]


def module_file(base_dir: Path, module: str) -> Path | None:
    parts = module.split(".")
    for candidate in (base_dir.joinpath(*parts).with_suffix(".py"), base_dir.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def source_location(module: str) -> Path | str | None:
    """The source file of `module` as `import` would find it (the finders on sys.meta_path, each package's
    own path for its submodules), without importing anything; a description when it exists but is not Python
    source (built in, frozen, compiled); None when absent."""
    loaded = sys.modules.get(module)
    if loaded is not None:  # imported already (by evaldsl or its dependencies): the run gets this one
        source = getattr(loaded, "__file__", None) or ""
        return Path(source) if source.endswith(".py") else "a compiled or built-in module"
    path: list[str] | None = None
    spec = None
    parts = module.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        spec = _find_spec(name, path)
        if spec is None:
            return None
        if i < len(parts) - 1:
            if spec.submodule_search_locations is None:
                return None  # not a package: it has no submodules
            path = list(spec.submodule_search_locations)
    assert spec is not None
    origin = spec.origin or ""
    if origin.endswith(".py"):
        return Path(origin)
    if origin in ("built-in", "frozen"):
        return f"a {origin} module"
    if spec.submodule_search_locations is not None and not spec.has_location:
        return "a namespace package (no source file of its own)"
    return "a compiled module"


def _find_spec(name: str, path: list[str] | None) -> ModuleSpec | None:
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(name, path)
        except Exception:  # a third-party finder that cannot answer: ask the next one
            continue
        if spec is not None:
            return spec
    return None


def _load_file(path: Path, module: str, base_dir: Path) -> ModuleType:
    """Execute a module file from the spec's folder under a private name (the folder is on sys.path only
    while it runs, so it may import its siblings)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    private_name = f"_evaldsl_user_{module.replace('.', '_')}_{digest}"
    is_package = path.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        private_name, path, submodule_search_locations=[str(path.parent)] if is_package else None
    )
    if spec is None or spec.loader is None:
        raise MetricError(f"cannot load python metric module {module!r} from {path}")
    loaded = importlib.util.module_from_spec(spec)
    folder = str(base_dir)
    sys.path.insert(0, folder)
    sys.modules[private_name] = loaded
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.modules.pop(private_name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return loaded


def _installed(path: Path) -> bool:
    """Whether `path` belongs to a Python installation rather than to a project: the interpreter's own
    prefixes (a virtual environment inside the project included) or any site-packages / dist-packages folder."""
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    return is_within(path, [Path(p) for p in prefixes if p])


def is_allowed(module: str, allowed: frozenset[str]) -> bool:
    """Whether `--allow-python` named `module` or a package above it."""
    parts = module.split(".")
    return any(".".join(parts[: n + 1]) in allowed for n in range(len(parts)))


def refusal(module: str, where: Path | str | None, root: Path | None) -> str | None:
    """Why `module`, found at `where` (see `source_location`), may not be loaded for a project at `root`: its
    file is not inside the project, or it belongs to a Python installation (the standard library, site-packages,
    a virtual environment even inside the project), or it is built in or compiled. None when it may (or when it
    is nowhere: loading it says so). A module `--allow-python` named is not asked about."""
    if where is None:
        return None
    if isinstance(where, Path) and root is not None and is_within(where, [root]) and not _installed(where):
        return None
    if isinstance(where, str):
        return where
    if _installed(where):
        return "an installed module: standard library or site-packages"
    return "its file lies outside the project"


def load_function(target: str, base_dir: Path | None, allowed: frozenset[str] = frozenset()) -> UserFunction:
    """Resolve "module:function" (the module looked up first in base_dir, then on PYTHONPATH) to the function.
    A module found elsewhere than beside the spec is imported only when its file lies inside the project of
    `base_dir` or `allowed` names it. Any failure or refusal is a MetricError. (The module's source is hashed into
    the metric's graph node by the planner.)"""
    match = _TARGET.fullmatch(target.strip()) if isinstance(target, str) else None
    if match is None:
        raise MetricError(f'python metric target must look like "module:function", got {target!r}')
    module_name, function_name = match.groups()
    path = module_file(base_dir, module_name) if base_dir is not None else None
    where = f"{base_dir} or PYTHONPATH" if base_dir is not None else "PYTHONPATH"
    if path is None and not is_allowed(module_name, allowed):
        root = project_root(base_dir) if base_dir is not None else None
        refused = refusal(module_name, source_location(module_name), root)
        if refused is not None:
            raise MetricError(
                f"python metric: module {module_name!r} is not a file of this project ({refused}); python metrics "
                f"load only modules from files inside the project unless `--allow-python {module_name}` allows it"
            )
    try:
        if path is not None:
            module = _load_file(path, module_name, base_dir)  # type: ignore[arg-type]
        else:
            module = importlib.import_module(module_name)
    except MetricError:
        raise
    except ModuleNotFoundError as exc:
        raise MetricError(f"python metric: module {module_name!r} not found (looked in {where}): {exc}") from exc
    except Exception as exc:  # the user's module failed while importing
        raise MetricError(f"python metric: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, function_name, None)
    if function is None:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise MetricError(
            f"python metric: module {module_name!r} has no function {function_name!r}"
            + (f" (it defines: {', '.join(public)})" if public else "")
        )
    if not callable(function):
        raise MetricError(f"python metric: {target!r} is not a function")
    return function


@dataclass(frozen=True)
class PythonMetric:
    """`python("module:function")`: calls function(prediction, references, row) -> float | None per sample.

    A number is the score, None means the sample cannot be scored. If the function raises, or returns
    anything else (including NaN), `score` raises MetricError for that sample.
    """

    name: str = "python"
    path: str = ""
    base_dir: Path | None = None
    allowed: frozenset[str] = frozenset()  # modules outside the project the user allowed (--allow-python)
    kind: Literal["sample"] = field(default="sample", init=False)
    _function: UserFunction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            function = load_function(self.path, self.base_dir, self.allowed)
        except MetricError as exc:
            raise MetricError(f"metric {self.name!r}: {exc}") from exc.__cause__
        object.__setattr__(self, "_function", function)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None:
            return None
        try:
            value = self._function(s.prediction, list(s.references), dict(s.row))
        except Exception as exc:
            raise MetricError(f"metric {self.name!r}: {self.path} raised {type(exc).__name__}: {exc}") from exc
        if value is None:
            return None
        if isinstance(value, numbers.Real):
            result = float(value)
            if math.isnan(result):
                raise MetricError(
                    f"metric {self.name!r}: {self.path} returned NaN (return None for a sample it cannot score)"
                )
            return result
        raise MetricError(f"metric {self.name!r}: {self.path} must return a number or None, got {type(value).__name__}")
