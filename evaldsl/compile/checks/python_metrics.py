"""Check: each `python("module:function")` metric resolves, without running user code (E323, W305): its module
is found as the run will find it (the declaring file's folder first), and its source defines a function that
accepts (prediction, references, row)."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...metrics import BUILTIN_METRICS, bind_params
from ...metrics.user_source import inspect_target
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for m in ctx.spec.metrics.values():
        if m.family != "python":
            continue
        params, problem = bind_params(BUILTIN_METRICS["python"], m.args, m.params)
        target = params.get("path")
        if problem is not None or not isinstance(target, str):
            continue  # E318, reported by the metrics check
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
