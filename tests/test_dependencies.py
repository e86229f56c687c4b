"""Every third-party module the project imports is declared in pyproject.toml, so a fresh virtual
environment built from the project's own files (what CI does) has everything the code and the tests need.

A module imported by the package must be a runtime dependency, unless every import of it is guarded (inside
`try: ... except ImportError`, e.g. the PostgreSQL store) or it belongs to an optional backend's own extra
(`ray`, `vllm`: imported only when that backend is chosen): then an optional extra declares it. One imported
only by tests, benchmarks or scripts may be declared in any optional extra (`dev` for the tests)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
LOCAL = {"evaldsl", "tests", "conftest", "_common", "bench", "scripts"}


def _requirement_name(spec: str) -> str:
    return _normalise(re.split(r"[\s\[<>=!~;]", spec.strip(), maxsplit=1)[0])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_requirement_name(r) for r in project["dependencies"]}
    extras = {_requirement_name(r) for reqs in project.get("optional-dependencies", {}).values() for r in reqs}
    return runtime, extras


def _guarded(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside `try:` blocks that handle ImportError (optional dependencies) and inside
    `if TYPE_CHECKING:` (never run)."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            guarded.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return guarded


def _imports(folder: str, *, skip_guarded: bool = False) -> dict[str, Path]:
    """Top-level third-party module names imported anywhere under `folder` → one file importing it (with
    `skip_guarded`, imports guarded by an ImportError handler do not count)."""
    found: dict[str, Path] = {}
    # Hidden folders are not the project's code: virtual environments (bench/.venv-lmeval), caches.
    files = [p for p in sorted((ROOT / folder).rglob("*.py")) if not any(part.startswith(".") for part in
             p.relative_to(ROOT).parts)]  # fmt: skip
    local_modules = {p.stem for p in files}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = _guarded(tree) if skip_guarded else set()
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in LOCAL or top in local_modules or top == "__future__":
                    continue
                found.setdefault(top, path)
    return found


def _distributions(module: str) -> set[str]:
    return {_normalise(d) for d in packages_distributions().get(module, [])} or {_normalise(module)}


def _backend_extras() -> set[str]:
    """Packages of the optional extras named after a backend (every extra but `dev`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return {_requirement_name(r) for name, reqs in extras.items() if name != "dev" for r in reqs}


def test_every_package_import_is_a_runtime_dependency() -> None:
    runtime, extras = _declared()
    allowed = runtime | _backend_extras()
    missing = {m: str(p.relative_to(ROOT)) for m, p in _imports("evaldsl", skip_guarded=True).items()
               if not _distributions(m) & allowed}
    assert not missing, f"imported by the package but not in [project].dependencies: {missing}"
    optional = {m: str(p.relative_to(ROOT)) for m, p in _imports("evaldsl").items()
                if not _distributions(m) & (runtime | extras)}
    assert not optional, f"imported (guarded) by the package but declared in no extra: {optional}"


def test_every_test_bench_and_script_import_is_declared() -> None:
    runtime, extras = _declared()
    missing: dict[str, str] = {}
    for folder in ("tests", "bench", "scripts"):
        for module, path in _imports(folder).items():
            if not _distributions(module) & (runtime | extras):
                missing[module] = str(path.relative_to(ROOT))
    assert not missing, f"imported but declared nowhere in pyproject.toml: {missing}"


def test_the_declaration_check_can_fail() -> None:
    """The mapping from import names to distributions is real, not a pass-through."""
    assert _distributions("yaml") == {"pyyaml"}  # an import name that differs from its distribution's
    runtime, _ = _declared()
    assert not _distributions("definitely_not_a_real_module_xyz") & runtime
    assert _distributions("lark") & runtime
    tree = ast.parse("import a\ntry:\n    import b\nexcept ImportError:\n    pass\ntry:\n    import c\nexcept "
                     "ValueError:\n    pass\nif TYPE_CHECKING:\n    import d\n")
    guarded = _guarded(tree)
    names = {n.names[0].name for n in ast.walk(tree) if isinstance(n, ast.Import) and id(n) in guarded}
    assert names == {"b", "d"}
