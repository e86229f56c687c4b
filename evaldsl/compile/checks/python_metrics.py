"""Check: each `python("module:function")` metric resolves, without running user code (E323, W305): its module
is found as the run will find it (the declaring file's folder first), and its source defines a function that
accepts (prediction, references, row). A module that is not a file of the project (the standard library,
site-packages, a built-in) is refused by name unless the user allowed it with `--allow-python MODULE` (E332):
its source is not even read."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...metrics import BUILTIN_METRICS, bind_params
from ...metrics.user import _TARGET, refusal
from ...metrics.user_source import inspect_target, module_location
from ...project import project_root
from ..spec import MetricDef
from .context import CheckContext


def _confined(ctx: CheckContext, m: MetricDef, target: str) -> Diagnostic | None:
    """E332 when the module of `target` would load from outside the project and was not allowed."""
    match = _TARGET.fullmatch(target.strip())
    if match is None:
        return None  # E323, reported below
    module = match.group(1)
    if ctx.access.allows_module(module):
        return None
    found = refusal(module, module_location(module, m.base_dir), project_root(ctx.spec.path))
    if found is None:
        return None
    return Diagnostic(
        code="E332",
        message=f"python metric `{m.name}`: module `{module}` is not a file of this project ({found})",
        span=m.call_span or m.family_span,
        hint="python metrics load only modules from files inside the project (the git work tree of the spec, "
        f"else its folder); if you trust it, allow it with `evaldsl run --allow-python {module}`",
    )


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for m in ctx.spec.metrics.values():
        if m.family != "python":
            continue
        params, problem = bind_params(BUILTIN_METRICS["python"], m.args, m.params)
        target = params.get("path")
        if problem is not None or not isinstance(target, str):
            continue  # E318, reported by the metrics check
        refused = _confined(ctx, m, target)
        if refused is not None:
            out.append(refused)
            continue
        finding = inspect_target(target, m.base_dir)  # found as the run will: beside the declaring file
        if finding.verdict == "ok":
            continue
        error = finding.verdict == "error"
        out.append(
            Diagnostic(
                code="E323" if error else "W305",
                severity="error" if error else "warning",
                message=f"python metric `{m.name}`: {finding.message}",
                span=m.call_span or m.family_span,
                hint=finding.hint,
            )
        )
    return out
