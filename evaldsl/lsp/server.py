"""`evaldsl lsp`: the language server (pygls, over stdio). Documents in; diagnostics (debounced, exactly those of
`evaldsl check`), completion, hover, navigation, rename, symbols, quick fixes and formatting out."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..diagnostics import Span
from . import actions, completion, hover, navigation
from .convert import Positions, to_lsp, uri
from .documents import Documents
from .index import Index

DEFAULT_DEBOUNCE_S = 0.05
IDLE_COLLECT_S = 5.0  # a full garbage collection once edits have paused this long
_REQUEST_FAILED = -32803  # LSP: the request was valid but could not be carried out
_TRIGGERS = ['"', "{", "[", "(", ",", ".", "`", "|", " ", "/", "="]
T = TypeVar("T")


class EvalLanguageServer(LanguageServer):
    """The server's state: documents, the symbol index, pending diagnostics and what each open file imports."""

    def __init__(self) -> None:
        super().__init__("evaldsl", __version__)
        self.docs = Documents()
        self.index = Index(self.docs)
        self.debounce = DEFAULT_DEBOUNCE_S
        self.roots: list[Path] = []
        self._pending: dict[Path, asyncio.TimerHandle] = {}
        self._loaded: dict[Path, set[Path]] = {}  # open file → every file its last check read
        self._checked: dict[Path, float] = {}  # open file → when its last check ended (monotonic seconds)
        self._collect: asyncio.TimerHandle | None = None
        self.uris: dict[Path, str] = {}  # open file → the URI the editor calls it by

    # ---- helpers ----
    def path(self, doc_uri: str) -> Path:
        return Path(to_fs_path(doc_uri) or doc_uri).resolve()

    def positions(self, file: str | Path) -> Positions | None:
        text = self.docs.text(Path(file))
        return None if text is None else Positions(text, self.workspace.position_codec)

    def files(self) -> list[Path]:
        return self.docs.eval_files(self.roots)

    def guarded(self, what: str, fn: Callable[[], T], default: T) -> T:
        """Run one request's work; an internal error is logged to the client instead of killing the server."""
        try:
            return fn()
        except navigation.RenameRefused:
            raise
        except Exception:  # a bug: report it, keep serving
            self.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Error, message=f"evaldsl: {what} failed:\n{traceback.format_exc()}"
                )
            )
            return default

    def closed(self, path: Path) -> None:
        self.docs.close(path)
        self.uris.pop(path, None)
        self._loaded.pop(path, None)
        self._checked.pop(path, None)

    # ---- diagnostics ----
    def schedule(self, path: Path) -> None:
        """Check `path` and the open files that read it: at once after a pause in the edits, else once they have
        paused for `debounce` seconds (so a burst of edits is checked once, and typing gets no added delay)."""
        targets = {path} | {p for p, loaded in self._loaded.items() if path in loaded and self.docs.is_open(p)}
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        for target in targets:
            pending = self._pending.pop(target, None)
            if pending is not None:
                pending.cancel()
            quiet = pending is None and now - self._checked.get(target, float("-inf")) >= self.debounce
            self._pending[target] = loop.call_later(0 if quiet else self.debounce, self.publish, target)

    def publish(self, path: Path) -> None:
        self._pending.pop(path, None)
        if not self.docs.is_open(path):
            return
        self.guarded("checking", lambda: self._publish(path), None)
        self._checked[path] = time.monotonic()
        self._collect_when_idle()

    def _collect_when_idle(self) -> None:
        """Keep the caches out of the garbage collector's way while edits come in (a full collection scans
        every cached syntax tree: several milliseconds an edit), and collect fully once the edits pause."""
        gc.freeze()
        if self._collect is not None:
            self._collect.cancel()
        self._collect = asyncio.get_running_loop().call_later(IDLE_COLLECT_S, self._full_collection)

    def _full_collection(self) -> None:
        self._collect = None
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _publish(self, path: Path) -> None:
        doc = self.workspace.get_text_document(self.uris.get(path) or uri(path))
        result = self.docs.check(path)
        self._loaded[path] = {Path(p) for p in result.sources}
        cache: dict[str, Positions | None] = {}

        def positions(file: str) -> Positions | None:
            if file not in cache:
                text = result.sources.get(file)
                cache[file] = (
                    Positions(text, self.workspace.position_codec) if text is not None else self.positions(file)
                )
            return cache[file]

        via = self._import_leading_to(path)
        diagnostics = [to_lsp(d, path, positions, via) for d in result.diagnostics]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=doc.uri, version=doc.version, diagnostics=diagnostics)
        )

    def _import_leading_to(self, path: Path) -> Callable[[str], Span | None]:
        """The import statement of `path` through which another file is loaded (found when first asked)."""

        def via(file: str) -> Span | None:
            imports = [o for o in self.index.of(path) if o.role == "import" and o.target is not None]
            for occ in imports:
                assert occ.target is not None
                if Path(file) in self.index.closure(occ.target):
                    return occ.span
            return None

        return via


def build() -> EvalLanguageServer:
    """The server with every feature registered."""
    ls = EvalLanguageServer()

    @ls.feature(types.INITIALIZE)
    def initialize(ls: EvalLanguageServer, params: types.InitializeParams) -> None:
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        if isinstance(options.get("debounce_ms"), (int, float)):
            ls.debounce = max(0.0, float(options["debounce_ms"]) / 1000)
        folders = [f.uri for f in params.workspace_folders or ()] or ([params.root_uri] if params.root_uri else [])
        ls.roots = [ls.path(u) for u in folders]

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: EvalLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        path = ls.path(params.text_document.uri)
        ls.uris[path] = params.text_document.uri
        ls.docs.set(path, params.text_document.text)
        ls.schedule(path)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: EvalLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        path = ls.path(params.text_document.uri)
        ls.docs.set(path, ls.workspace.get_text_document(params.text_document.uri).source)
        ls.schedule(path)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: EvalLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        path = ls.path(params.text_document.uri)
        ls.closed(path)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )
        for other in ls.docs.open_paths():
            ls.schedule(other)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: EvalLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.docs.changed_on_disk()
        for other in ls.docs.open_paths():
            ls.schedule(other)

    @ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: EvalLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        ls.docs.changed_on_disk()
        for other in ls.docs.open_paths():
            ls.schedule(other)

    _register_requests(ls)
    return ls


def _at(ls: EvalLanguageServer, doc_uri: str, position: types.Position) -> tuple[Path, str, Positions, int]:
    path = ls.path(doc_uri)
    text = ls.docs.text(path) or ""
    positions = Positions(text, ls.workspace.position_codec)
    return path, text, positions, positions.offset(position)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _register_requests(ls: EvalLanguageServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=_TRIGGERS))
    def on_completion(ls: EvalLanguageServer, params: types.CompletionParams) -> types.CompletionList:
        path, text, positions, offset = _at(ls, params.text_document.uri, params.position)
        nothing: list[types.CompletionItem] = []
        items = ls.guarded("completion", lambda: completion.complete(ls.docs, path, text, offset, positions), nothing)
        return types.CompletionList(is_incomplete=False, items=items)

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: EvalLanguageServer, params: types.HoverParams) -> types.Hover | None:
        path, text, _, offset = _at(ls, params.text_document.uri, params.position)
        line, column = _line_column(text, offset)
        found = ls.guarded("hover", lambda: hover.hover(ls.docs, ls.index, path, text, offset, line, column), None)
        if found is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found))

    @ls.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: EvalLanguageServer, params: types.DefinitionParams) -> list[types.Location]:
        path, text, _, offset = _at(ls, params.text_document.uri, params.position)
        line, column = _line_column(text, offset)
        return ls.guarded("definition", lambda: navigation.definition(ls.index, path, line, column, ls.positions), [])

    @ls.feature(types.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: EvalLanguageServer, params: types.ReferenceParams) -> list[types.Location]:
        path, text, _, offset = _at(ls, params.text_document.uri, params.position)
        line, column = _line_column(text, offset)
        declaration = params.context.include_declaration
        return ls.guarded(
            "references",
            lambda: navigation.references(ls.index, path, line, column, ls.files(), ls.positions, declaration),
            [],
        )

    @ls.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(ls: EvalLanguageServer, params: types.PrepareRenameParams) -> types.Range:
        path, text, _, offset = _at(ls, params.text_document.uri, params.position)
        line, column = _line_column(text, offset)
        return _refusing(lambda: navigation.prepare_rename(ls.index, path, line, column, ls.positions))

    @ls.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    def on_rename(ls: EvalLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit:
        path, text, _, offset = _at(ls, params.text_document.uri, params.position)
        line, column = _line_column(text, offset)
        return _refusing(
            lambda: navigation.rename(ls.index, path, line, column, params.new_name, ls.files(), ls.positions)
        )

    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: EvalLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        path = ls.path(params.text_document.uri)
        module, positions = ls.docs.module(path), ls.positions(path)
        if module is None or positions is None:
            return []
        return ls.guarded("outline", lambda: navigation.document_symbols(module, positions), [])

    @ls.feature(types.WORKSPACE_SYMBOL)
    def on_workspace_symbols(
        ls: EvalLanguageServer, params: types.WorkspaceSymbolParams
    ) -> list[types.WorkspaceSymbol]:
        return ls.guarded(
            "workspace symbols",
            lambda: navigation.workspace_symbols(ls.index, ls.files(), params.query, ls.positions),
            [],
        )

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    def on_code_action(ls: EvalLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        path, text, positions, _ = _at(ls, params.text_document.uri, params.range.start)
        return ls.guarded(
            "code actions",
            lambda: actions.quick_fixes(params.text_document.uri, text, list(params.context.diagnostics), positions),
            [],
        )

    @ls.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_format(ls: EvalLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        path, text, positions, _ = _at(ls, params.text_document.uri, types.Position(line=0, character=0))
        return ls.guarded("formatting", lambda: actions.format_document(path, text, positions), [])


def _refusing(fn: Callable[[], Any]) -> Any:
    """A request that answers a refusal (a rename of the standard library...) with an error the editor shows."""
    try:
        return fn()
    except navigation.RenameRefused as refused:
        raise JsonRpcException(str(refused), code=_REQUEST_FAILED) from None


def serve() -> None:
    """Serve over stdin/stdout until the client exits."""
    logging.basicConfig(level=logging.WARNING)
    build().start_io()
