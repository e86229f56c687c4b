"""Static checks over a typed Spec: an ordered tuple of plain functions, each `check(ctx) -> diagnostics`."""

from __future__ import annotations

from collections.abc import Callable

from ...datasets.profile import ProfileCache
from ...diagnostics import Diagnostic
from ..spec import Spec
from . import (
    asserts,
    capabilities,
    datasets,
    evals,
    judges,
    metrics,
    providers,
    python_metrics,
    references,
    structured,
    templates,
)
from .context import CheckContext

Check = Callable[[CheckContext], list[Diagnostic]]

CHECKS: tuple[Check, ...] = (
    references.check,
    datasets.check,
    evals.check,
    metrics.check,
    python_metrics.check,
    structured.check,
    providers.check,
    capabilities.check,
    judges.check,
    templates.check,
    asserts.check,
)


def run_checks(
    spec: Spec, broken: frozenset[str] = frozenset(), profiles: ProfileCache | None = None
) -> list[Diagnostic]:
    """Every diagnostic from every check, in order; `broken`: names whose definitions did not compile;
    `profiles`: data file profiles to reuse (default: a fresh cache, each file read once)."""
    ctx = CheckContext(spec, broken, profiles if profiles is not None else ProfileCache())
    found: list[Diagnostic] = []
    for check in CHECKS:
        found.extend(check(ctx))
    return found
