"""Check application providers: a `provider = "python"` model's `id` names a function of the project (E373),
found as the run finds it, by reading the module's source (nothing is imported); a `provider = "http"` model's
URL, body template and output expression are well formed (E375) and its header variables are set (E376)."""

from __future__ import annotations

import os

from ...diagnostics import Diagnostic, did_you_mean
from ...project import project_root
from ...project_code import CodeError, defined_functions, find_module
from ..spec import ModelDef
from ..templating import expression_syntax_error, template_syntax_error, unsafe_attribute
from .context import CheckContext


def _http(model: ModelDef) -> list[Diagnostic]:
    config, out = model.config, []

    def bad(code: str, message: str, hint: str | None = None) -> None:
        out.append(Diagnostic(code=code, message=f"model `{model.name}`: {message}", span=model.span, hint=hint))

    if not (config.url or "").startswith(("http://", "https://")):
        bad("E375", f"`url` must start with http:// or https://, got {config.url!r}")
    if config.body is not None:
        syntax = template_syntax_error(config.body)
        unsafe = unsafe_attribute(config.body, False) if syntax is None else None
        if syntax is not None:
            bad("E375", f"the body template has a syntax error: {syntax.message}", syntax.hint)
        elif unsafe is not None:
            bad("E314", f"the body template reads `{unsafe}`, which the sandbox refuses")
    if config.output is not None:
        problem = expression_syntax_error(config.output)
        unsafe = unsafe_attribute(config.output, True) if problem is None else None
        if problem is not None:
            bad("E375", f"the output expression has a syntax error: {problem.message}",
                problem.hint or 'e.g. output = "response.choices[0].text"')  # fmt: skip
        elif unsafe is not None:
            bad("E314", f"the output expression reads `{unsafe}`, which the sandbox refuses")
    for header, var in config.headers.items():
        if var not in os.environ:
            bad("E376", f"header `{header}` reads the environment variable {var}, which is not set",
                f"export {var}=... before checking or running")  # fmt: skip
    return out


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for model in ctx.spec.models.values():
        config = model.config
        if config.provider == "http":
            out.extend(_http(model))
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
    for ev in ctx.spec.evals.values():
        user = ev.simulated_user
        if user is not None and user.name not in ctx.spec.models and user.name not in ctx.broken:
            out.append(Diagnostic(code="E301", message=f"unknown model `{user.name}` (simulated user)", span=user.span,
                                  hint=did_you_mean(user.name, list(ctx.spec.models)) or "define it with `model`"))
    return out
