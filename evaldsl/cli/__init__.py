"""The `evaldsl` command line: a thin Typer app over `evaldsl.api` and the result readers."""

from .app import app, main

__all__ = ["app", "main"]
