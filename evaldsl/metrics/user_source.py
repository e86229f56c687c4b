"""`python("module:function")` + the spec's folder → what the check can learn without running any user code:
where the module's file is (looked up as the run looks it up) and whether it defines a fitting function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..diagnostics import did_you_mean
from .user import _TARGET, module_file
from .user import source_location as _on_sys_path

_ARGS = "(prediction, references, row)"
CALL = "function" + _ARGS

Verdict = Literal["ok", "error", "unverifiable"]


@dataclass(frozen=True)
class Finding:
    """The outcome for one target: `ok`, an `error` (the run would fail), or `unverifiable` (the module is
    not Python source, so only importing it would tell). `path` is the module file when one was found."""

    verdict: Verdict
    message: str = ""
    hint: str | None = None
    path: Path | None = None


def inspect_target(target: str, base_dir: Path) -> Finding:
    """Find the module of "module:function" (in base_dir first, then on sys.path: as the run imports it) and
    check, by parsing its source, that it defines the function and that the function accepts the three
    arguments a python metric is called with. Nothing of the module is imported or run."""
    match = _TARGET.fullmatch(target.strip())
    if match is None:
        message = f'the target must look like "module:function", got "{target}"'
        return Finding("error", message, 'e.g. python("my_metrics:brevity") for `def brevity(...)` in my_metrics.py')
    module, function = match.groups()
    path = module_file(base_dir, module)
    if path is None:
        found = _on_sys_path(module)
        if found is None:
            message = f"module `{module}` not found beside the spec or on PYTHONPATH"
            return Finding("error", message, _module_hint(module, base_dir))
        if isinstance(found, str):
            message = f"`{module}` is {found}, so `{target}` cannot be checked without importing it"
            return Finding("unverifiable", message, _IMPORTED_LATER)
        path = found
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return Finding("error", f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}", None, path)
    except (OSError, ValueError) as exc:
        return Finding("error", f"cannot read {path}: {exc}", None, path)
    return _function_finding(tree, module, function, path)


_IMPORTED_LATER = "it is imported when the run starts; a module file beside the spec is checked here"


def module_location(module: str, base_dir: Path) -> Path | str | None:
    """Where `module` would be loaded from, found as the run finds it and without reading or importing it: its
    file beside the spec, else its source file on sys.path, else a description (built in, compiled...); None
    when it is nowhere."""
    return module_file(base_dir, module) or _on_sys_path(module)


def _function_finding(tree: ast.Module, module: str, function: str, path: Path) -> Finding:
    definitions = dict(_top_level(tree.body))
    node = definitions.get(function)
    where = f"`{module}:{function}`"
    if node is None:
        star = any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree))
        if star or "__getattr__" in definitions:
            message = (
                f"`{module}` may define `{function}` dynamically (a `*` import or a module `__getattr__`), "
                "so it cannot be checked without importing it"
            )
            return Finding("unverifiable", message, _IMPORTED_LATER, path)
        functions = sorted(n for n, d in definitions.items() if isinstance(d, (ast.FunctionDef, ast.Lambda)))
        hint = did_you_mean(function, functions) or (
            f"it defines: {', '.join(functions)}" if functions else f"define `def {function}{_ARGS}` there"
        )
        return Finding("error", f"module `{module}` ({path.name}) has no function `{function}`", hint, path)
    if isinstance(node, ast.ClassDef):
        return Finding("error", f"{where} is a class; a python metric is a function called as {CALL}", None, path)
    if isinstance(node, ast.AsyncFunctionDef):
        message = f"{where} is `async`; a python metric is a plain function called as {CALL}"
        return Finding("error", message, f"write `def {function}{_ARGS}`", path)
    if isinstance(node, ast.FunctionDef) and node.decorator_list:
        return Finding("ok", path=path)  # a decorator may change the signature: existence is what we know
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        problem = _signature_problem(node.args)
        if problem is not None:
            message = f"{where} {problem}; a python metric is called as {CALL}"
            return Finding("error", message, f"accept three arguments: `def {function}{_ARGS}`", path)
    return Finding("ok", path=path)


def _top_level(body: list[ast.stmt]) -> Iterator[tuple[str, ast.AST]]:
    """Names a module binds at its top level (inside `if`/`try`/`with` too), each with what binds it last.
    An assignment of a lambda counts as that lambda; other assignments and imports as themselves."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value if isinstance(node.value, ast.Lambda) else node
            for target in targets:
                if isinstance(target, ast.Name):
                    yield target.id, value
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    yield (alias.asname or alias.name).split(".")[0], node
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for part in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(node, part, []))
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def _signature_problem(args: ast.arguments) -> str | None:
    """Why `f(prediction, references, row)` would fail on a function with these parameters, or None."""
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    if args.vararg is None and positional < 3:
        return f"takes {positional} positional argument{'s' if positional != 1 else ''}"
    if required > 3:
        return f"needs {required} positional arguments"
    keyword_only = [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    if keyword_only:
        return f"needs keyword-only argument{'s' if len(keyword_only) > 1 else ''} {', '.join(keyword_only)}"
    return None


def _module_hint(module: str, base_dir: Path) -> str:
    here = sorted(p.stem for p in base_dir.glob("*.py")) if base_dir.is_dir() else []
    close = did_you_mean(module, here)
    if close:
        return close
    return f"put {module.replace('.', '/')}.py beside the spec" + (
        f" (python files there: {', '.join(here)})" if here else ""
    )
