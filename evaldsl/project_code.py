"""Code of the project that a spec runs (`provider = "python"`): "module:function" found only inside the
project, imported, and fingerprinted by its source and the sources of the project modules it imports.

`find_module` and `load_function` are the one rule for where such code may come from (the spec's folder, then
the project root; never an installed package or a folder outside the project)."""

from __future__ import annotations

import ast
import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .project import is_within

TARGET = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):([A-Za-z_][A-Za-z0-9_]*)")
"""A target "package.module:function"."""


class CodeError(Exception):
    """Project code that cannot be found, imported or used: one line saying why."""


@dataclass(frozen=True)
class Located:
    """A module's file and the folder it is imported from (the folder holding its top package)."""

    module: str
    function: str
    path: Path
    folder: Path


def split_target(target: str) -> tuple[str, str]:
    match = TARGET.fullmatch(target.strip())
    if match is None:
        raise CodeError(f'the id must look like "module:function" (e.g. "my_app.qa:answer"), got "{target}"')
    return match.group(1), match.group(2)


def _module_in(folder: Path, module: str) -> Path | None:
    parts = module.split(".")
    for candidate in (folder.joinpath(*parts).with_suffix(".py"), folder.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def search_folders(base_dir: Path, roots: Sequence[Path]) -> list[Path]:
    """Where project modules are looked up, in order: the spec's folder, then each root."""
    folders: list[Path] = []
    for folder in (base_dir, *roots):
        resolved = folder.resolve()
        if resolved not in folders:
            folders.append(resolved)
    return folders


def find_module(target: str, base_dir: Path, roots: Sequence[Path]) -> Located:
    """The file of the target's module, looked up in the spec's folder then the project roots; it must lie
    inside a root (a symlink out of the project is refused)."""
    module, function = split_target(target)
    for folder in search_folders(base_dir, roots):
        path = _module_in(folder, module)
        if path is not None:
            if not is_within(path, roots):
                raise CodeError(f"module `{module}` resolves to {path}, outside the project")
            return Located(module, function, path.resolve(), folder)
    where = ", ".join(str(f) for f in search_folders(base_dir, roots))
    raise CodeError(f"module `{module}` not found in the project (looked in {where})")


def defined_functions(path: Path) -> dict[str, bool]:
    """Top-level functions of a module file (name → is async), by parsing it; CodeError on a syntax error."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise CodeError(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}") from None
    except (OSError, ValueError) as exc:
        raise CodeError(f"cannot read {path}: {exc}") from None
    found: dict[str, bool] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = isinstance(node, ast.AsyncFunctionDef)
        elif isinstance(node, ast.Assign):
            found.update({t.id: False for t in node.targets if isinstance(t, ast.Name)})
    return found


def _imported_names(tree: ast.Module, package: str) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                head = ".".join([*base, node.module] if node.module else base)
            else:
                head = node.module or ""
            if head:
                yield head
                yield from (f"{head}.{alias.name}" for alias in node.names)


def fingerprint(located: Located, roots: Sequence[Path]) -> str:
    """A hash of the module's source and of every project module it imports (transitively): editing any of
    them changes it. Modules outside the project (the standard library, installed packages) are not followed."""
    seen: dict[Path, str] = {}
    todo: list[tuple[Path, str]] = [(located.path, located.module)]
    while todo:
        path, module = todo.pop()
        if path in seen:
            continue
        data = path.read_bytes()
        seen[path] = hashlib.sha256(data).hexdigest()
        try:
            tree = ast.parse(data)
        except SyntaxError:
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in _imported_names(tree, package):
            found = _module_in(located.folder, name)
            if found is not None and is_within(found, roots):
                todo.append((found.resolve(), name))
    def portable(path: Path) -> str:  # where the project lives is no part of the fingerprint
        return str(path.relative_to(located.folder)) if path.is_relative_to(located.folder) else path.name

    digest = hashlib.sha256()
    for path in sorted(seen, key=portable):
        digest.update(f"{portable(path)}\0{seen[path]}\n".encode())
    return digest.hexdigest()


def load_function(located: Located) -> Callable[..., Any]:
    """Import the located module (its folder on sys.path only while importing, so it may import the project's
    other modules) and return its function. A module of the same name imported from elsewhere is replaced."""
    for depth in range(1, located.module.count(".") + 2):
        name = ".".join(located.module.split(".")[:depth])
        loaded = sys.modules.get(name)
        file = getattr(loaded, "__file__", None)
        if loaded is not None and (file is None or not Path(file).resolve().is_relative_to(located.folder)):
            del sys.modules[name]  # a module of this name from another project or an installed package
    folder = str(located.folder)
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module(located.module)
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing: one line
        raise CodeError(f"importing `{located.module}` failed: {type(exc).__name__}: {exc}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    function = getattr(module, located.function, None)
    if not callable(function):
        raise CodeError(f"`{located.module}` defines no function `{located.function}`")
    return function
