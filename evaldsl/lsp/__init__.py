"""The language server: `evaldsl lsp` (see server.py)."""
