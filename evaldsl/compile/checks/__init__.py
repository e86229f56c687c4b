"""Static checks over a typed Spec: an ordered tuple of plain functions, each `check(ctx) -> diagnostics`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ...access import Access
from ...datasets.profile import ProfileCache
from ...diagnostics import Diagnostic
from ..spec import Spec
from . import (
    asserts,
    capabilities,
    confinement,
    datasets,
    evals,
    gates,
    hosts,
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
    confinement.check,
    hosts.check,
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
    gates.check,
)


def run_checks(
    spec: Spec,
    broken: frozenset[str] = frozenset(),
    profiles: ProfileCache | None = None,
    access: Access | None = None,
    roots: Sequence[Path] | None = None,
) -> list[Diagnostic]:
    """Every diagnostic from every check, in order; `broken`: names whose definitions did not compile;
    `profiles`: data file profiles to reuse (default: a fresh cache, each file read once); `access`: what the
    user allowed beyond the project (default: nothing); `roots`: the folders data files are read inside
    (default: the project root of the spec's root file and the folders `access` allows)."""
    access = access or Access()
    readable = tuple(roots) if roots is not None else None
    ctx = CheckContext(spec, broken, profiles if profiles is not None else ProfileCache(), access, readable)
    found: list[Diagnostic] = []
    for check in CHECKS:
        found.extend(check(ctx))
    return found
