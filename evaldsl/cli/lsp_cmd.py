"""`evaldsl lsp`: the language server over stdin/stdout, for editors."""

from __future__ import annotations

import typer


def lsp() -> None:
    """Run the language server over stdin/stdout (for editors: diagnostics, completion, hover, navigation)."""
    from ..lsp.server import serve

    serve()


def register(app: typer.Typer) -> None:
    app.command()(lsp)
