"""Check application providers: a `provider = "python"` model's `id` names a function of the project (E373),
found as the run finds it, by reading the module's source (nothing is imported)."""

from __future__ import annotations

from ...diagnostics import Diagnostic, did_you_mean
from ...project import project_root
from ...project_code import CodeError, defined_functions, find_module
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for model in ctx.spec.models.values():
        config = model.config
        if config.provider != "python":
            continue
        base = config.base_dir or ctx.spec.path.parent
        roots = [project_root(ctx.spec.path)]
        try:
            located = find_module(config.id, base, roots)
            functions = defined_functions(located.path)
        except CodeError as exc:
            out.append(Diagnostic(code="E373", message=f"model `{model.name}`: {exc}", span=model.span,
                                  hint="a python model's module must be a .py file inside the project"))  # fmt: skip
            continue
        if located.function not in functions:
            names = sorted(functions)
            out.append(
                Diagnostic(
                    code="E373",
                    message=f"model `{model.name}`: `{located.module}` defines no function `{located.function}`",
                    span=model.span,
                    hint=did_you_mean(located.function, names)
                    or (f"it defines: {', '.join(names)}" if names else "define it at the module's top level"),
                )
            )
    return out
