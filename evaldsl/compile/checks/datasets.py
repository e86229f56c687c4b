"""Check: dataset files exist, have a supported type and can be read (E310, E311, E316)."""

from __future__ import annotations

from ...datasets.rows import SUPPORTED, DatasetError, data_format, file_fields
from ...diagnostics import Diagnostic
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ds in ctx.spec.datasets.values():
        if ds.path is None:
            if ds.rows is not None and not ds.rows:
                out.append(Diagnostic(code="E316", message=f"dataset `{ds.name}` has no rows", span=ds.span))
            continue
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
        try:
            if not file_fields(ds.path, fmt):
                out.append(Diagnostic(code="E316", message=f"dataset file {ds.path.name} is empty", span=span))
        except DatasetError as exc:
            out.append(Diagnostic(code="E316", message=f"cannot read dataset: {exc}", span=span))
    return out
