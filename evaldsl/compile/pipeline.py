"""The compiler as one function: a spec's path (and unsaved text) in; the typed `Spec` and every diagnostic,
sorted by position, out (parse, resolve imports and templates, lower, check)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..access import Access
from ..datasets.profile import ProfileCache
from ..diagnostics import Diagnostic, Span, sort_key
from .checks import run_checks
from .confine import allowed_roots, root_refusal
from .environment import Override, apply_overrides
from .lower import lower
from .resolve import ModuleParser, load_module, read_source, resolve
from .spec import Spec

_ONLY_COMMENTS = re.compile(r"\A(\s|#[^\n]*)*\Z")


@dataclass
class CheckResult:
    """The outcome of compiling a spec up to (not including) planning."""

    path: Path
    spec: Spec | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def compile_spec(
    path: str | Path,
    text: str | None = None,
    *,
    overlay: Mapping[Path, str] | None = None,
    parser: ModuleParser = load_module,
    profiles: ProfileCache | None = None,
    access: Access | None = None,
    overrides: Sequence[Override] = (),
) -> CheckResult:
    """Parse, resolve, type and statically check a spec; all diagnostics, sorted by position. `access`: the
    folders and modules the user allowed beyond the project (default: none); `overrides` (`--set
    NAME.attribute=VALUE`) replace attributes before typing (OverrideError when one names nothing).

    Imports and data files are read only inside the spec's project root, the folders `access` allows and the
    standard library; anything else is refused by name and never opened."""
    path = Path(path)
    access = access or Access()
    readable = allowed_roots(path, access.allow_paths)
    if text is None:
        refused = root_refusal(path) if path.is_file() else None
        if refused is not None:
            return CheckResult(path, None, [refused])
        text, problem = read_source(path)
        if problem is not None:
            return CheckResult(path, None, [problem])
    assert text is not None
    if _ONLY_COMMENTS.match(text):
        empty = Diagnostic(
            code="E003",
            message=f"{path.name} is empty: nothing to check or run",
            span=Span.point(str(path.resolve()), 1, 1),
            hint="start with a `dataset`, a `model` and an `eval` block (see the README)",
        )
        return CheckResult(path, None, [empty], {str(path.resolve()): text})
    program, diagnostics = resolve(path, text, overlay=overlay, parse=parser, roots=readable)
    given = apply_overrides(program, overrides)
    spec, lowering = lower(program)
    diagnostics = diagnostics + lowering
    # Definitions that did not compile were reported; references to them must not be reported as unknown too.
    # All else the checks find in the parts that did compile is reported, so one pass shows every problem.
    compiled = {*spec.datasets, *spec.models, *spec.prompts, *spec.metrics, *spec.judges, *spec.evals}
    written = {name for table in program.definitions.values() for name in table} | program.dropped
    diagnostics += run_checks(spec, frozenset(written - compiled), profiles, access, readable)
    unique: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.code, d.message, sort_key(d)), d)
    ordered = [_from_set(d, given) for d in sorted(unique.values(), key=sort_key)]
    return CheckResult(path, spec, ordered, program.sources)


def _from_set(d: Diagnostic, given: Mapping[Span, str]) -> Diagnostic:
    """A diagnostic about a value given with --set says so (its span is the attribute it replaced)."""
    if d.span is None or d.span not in given:
        return d
    return d.model_copy(update={"message": f"{d.message} (from --set {given[d.span]})"})
