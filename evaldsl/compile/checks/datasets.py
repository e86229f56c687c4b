"""Check: dataset files inside the readable roots (outside: E331, never opened) exist, have a supported
type, can be read (E310, E311, E316) and every row is well formed (E320, with the data's `file:line`); Hugging
Face datasets load (E340) and pin a revision (W340)."""

from __future__ import annotations

import os
from pathlib import Path

from ...datasets.hub import describe
from ...datasets.profile import DatasetProfile
from ...datasets.reader import SUPPORTED, data_format
from ...diagnostics import Diagnostic, Span
from ..spec import DatasetDef
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ds in ctx.spec.datasets.values():
        if ds.hf is not None:
            out.extend(_hub(ctx, ds))
            continue
        if ds.path is None:
            if ds.rows is not None and not ds.rows:
                out.append(Diagnostic(code="E316", message=f"dataset `{ds.name}` has no rows", span=ds.span))
            continue
        if not ctx.access.allows_path(ds.path, ctx.spec.path):
            continue  # E331: nothing outside the project is looked at, not even whether it exists
        span = ds.path_span or ds.span
        fmt = data_format(ds.path, ds.format)
        if fmt is None:
            out.append(
                Diagnostic(
                    code="E311",
                    message=f"unsupported dataset file type `{ds.path.suffix or '(none)'}`",
                    span=span,
                    hint=f'supported: {", ".join(sorted(set(SUPPORTED)))}; or set `format = "jsonl"` etc.',
                )
            )
            continue
        if not ds.path.exists():
            near = (
                sorted(p.name for p in ds.path.parent.glob(f"*{ds.path.suffix}"))[:5] if ds.path.parent.is_dir() else []
            )
            out.append(
                Diagnostic(
                    code="E310",
                    message=f"dataset file not found: {ds.path}",
                    span=span,
                    hint=("files there: " + ", ".join(near))
                    if near
                    else "paths are relative to the spec file's folder",
                )
            )
            continue
        if not ds.path.is_file():
            out.append(Diagnostic(code="E310", message=f"{ds.path} is not a file", span=span))
            continue
        found = ctx.profile_or_error(ds.name)
        if isinstance(found, DatasetProfile):
            out.extend(_rows(found, ds.path, span))
        elif found is not None:
            out.append(Diagnostic(code="E316", message=f"cannot read dataset: {found}", span=span))
    return out


def _hub(ctx: CheckContext, ds: DatasetDef) -> list[Diagnostic]:
    """E340 when a Hugging Face dataset cannot be loaded (or has no rows); W340 when a Hub dataset's revision is
    not pinned (its rows, and so the results, can change when the dataset is updated)."""
    span = ds.path_span or ds.span
    out: list[Diagnostic] = []
    if ds.hf_local is None and ds.revision is None:
        out.append(
            Diagnostic(
                code="W340",
                message=f"Hugging Face dataset `{ds.hf}` has no pinned `revision`",
                span=span,
                hint="add `revision = \"<commit sha>\"` so the data cannot change under the results",
            )
        )
    found = ctx.profile_or_error(ds.name)
    if isinstance(found, DatasetProfile):
        if found.rows == 0:
            out.append(Diagnostic(code="E340", message=f"Hugging Face dataset {describe(ds)} has no rows", span=span))
    elif found is not None:
        hint = (
            "the folder is read with `datasets.load_dataset` (data files) or `load_from_disk` (a saved dataset)"
            if ds.hf_local is not None
            else "check the id, `config` and `split`; set HF_HUB_OFFLINE=1 to read only the local cache"
        )
        out.append(Diagnostic(code="E340", message=str(found), span=span, hint=hint))
    return out


def _rows(profile: DatasetProfile, path: Path, span: Span) -> list[Diagnostic]:
    """E320 for the first malformed rows (and a count of the rest); E316 when no row is left."""
    shown = _shown(path)
    out = [
        Diagnostic(
            code="E320",
            message=f"malformed row at {shown}:{bad.line}: {bad.message}",
            span=span,
            hint="fix or remove the row: `evaldsl run` stops at it",
        )
        for bad in profile.bad_rows
    ]
    if profile.bad_count > len(profile.bad_rows):
        more = profile.bad_count - len(profile.bad_rows)
        out.append(
            Diagnostic(
                code="E320",
                message=f"{more} more malformed row{'s' if more != 1 else ''} in {shown} "
                f"({profile.bad_count} in all)",
                span=span,
            )
        )
    if profile.rows == 0 and not profile.bad_count:
        out.append(Diagnostic(code="E316", message=f"dataset file {path.name} has no rows", span=span))
    return out


def _shown(path: Path) -> str:
    """A data file's path as diagnostics show paths: relative to the current folder when under it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)
