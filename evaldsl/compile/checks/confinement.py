"""Check: `run` stays inside the project (E331). A dataset file or a local hf model folder outside the project
root (the git work tree of the root spec, else its folder) and outside every folder the user allowed
(`--allow-path DIR`) is refused by name: nothing is read from it, so its content never reaches a model, the store
or a diagnostic. Python metric modules are checked by `python_metrics` (E332)."""

from __future__ import annotations

from pathlib import Path

from ...diagnostics import Diagnostic, Span
from .context import CheckContext

CODE = "E331"


HINT = (
    "a spec reads files only inside its project (the git work tree of the spec, else its folder); move the file "
    "there, or let this run read its folder with `evaldsl run --allow-path DIR` (or EVALDSL_ALLOW_PATH)"
)


def _outside(what: str, path: Path, span: Span) -> Diagnostic:
    return Diagnostic(code=CODE, message=f"{what} `{path}`, outside the project", span=span, hint=HINT)


def _model_folder(model_id: str, base_dir: Path | None) -> Path | None:
    """The local folder an hf model id names (as the provider resolves it), or None for a hub id."""
    raw = model_id.strip()
    if not raw:
        return None
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = (base_dir or Path.cwd()) / candidate
    looks_like_path = raw.startswith((".", "/", "~")) or raw.count("/") > 1
    return candidate if looks_like_path or candidate.exists() else None


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    spec_path = ctx.spec.path
    for ds in ctx.spec.datasets.values():
        if ds.path is not None and not ctx.access.allows_path(ds.path, spec_path):
            out.append(_outside(f"dataset `{ds.name}` reads", ds.path, ds.path_span or ds.span))
    for md in ctx.spec.models.values():
        if md.config.provider != "hf":
            continue
        folder = _model_folder(md.config.id, md.config.base_dir)
        if folder is not None and not ctx.access.allows_path(folder, spec_path):
            out.append(_outside(f"model `{md.name}` loads", folder, md.span))
    return out
