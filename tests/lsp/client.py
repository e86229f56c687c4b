"""An editor stand-in: pygls's language client driving `python -m evaldsl lsp` over stdio, with blocking calls."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Published:
    """One textDocument/publishDiagnostics notification and when it arrived (perf_counter seconds)."""

    uri: str
    version: int | None
    diagnostics: list[types.Diagnostic]
    at: float


def uri_of(path: Path) -> str:
    return from_fs_path(str(path.resolve())) or ""


class Editor:
    """Starts the server, initializes it on a workspace folder and speaks to it like an editor does.

    Requests block until answered (`editor.call(client.text_document_hover_async, params)`); diagnostics are
    collected as they arrive and waited for with `diagnostics(uri, version)`.
    """

    def __init__(self, root: Path, *, debounce_ms: float | None = 0, timeout: float = 60):
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.client = LanguageClient("evaldsl-test-editor", "1")
        self.published: list[Published] = []
        self._arrived = threading.Condition()
        self.versions: dict[str, int] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            with self._arrived:
                self.published.append(
                    Published(params.uri, params.version, list(params.diagnostics), time.perf_counter())
                )
                self._arrived.notify_all()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            if params.type == types.MessageType.Error:
                sys.stderr.write(params.message + "\n")

        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.run(self.client.start_io(sys.executable, "-m", "evaldsl", "lsp", env=env, cwd=str(root)))
        folder = types.WorkspaceFolder(uri=uri_of(root), name=root.name)
        self.capabilities = self.call(
            self.client.initialize_async(
                types.InitializeParams(
                    process_id=os.getpid(),
                    root_uri=folder.uri,
                    workspace_folders=[folder],
                    capabilities=types.ClientCapabilities(
                        text_document=types.TextDocumentClientCapabilities(
                            completion=types.CompletionClientCapabilities(
                                completion_item=types.ClientCompletionItemOptions(snippet_support=True)
                            ),
                            rename=types.RenameClientCapabilities(prepare_support=True),
                            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(related_information=True),
                        ),
                    ),
                    initialization_options={} if debounce_ms is None else {"debounce_ms": debounce_ms},
                )
            )
        ).capabilities
        self.client.initialized(types.InitializedParams())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout)

    def call(self, awaitable: Any) -> Any:
        async def wait() -> Any:
            return await awaitable

        return self.run(wait())

    def notify(self, fn: Any, params: Any) -> None:
        """Send a notification from the client's own thread (the client is not thread-safe)."""

        async def send() -> None:
            fn(params)

        self.run(send())

    # ---- documents ----
    def open(self, path: Path, text: str | None = None) -> str:
        uri = uri_of(path)
        self.versions[uri] = 1
        item = types.TextDocumentItem(
            uri=uri, language_id="evaldsl", version=1, text=path.read_text(encoding="utf-8") if text is None else text
        )
        self.notify(self.client.text_document_did_open, types.DidOpenTextDocumentParams(text_document=item))
        return uri

    def change(self, uri: str, edits: list[tuple[types.Range | None, str]]) -> int:
        """Send one didChange with these edits (range None: the whole text); returns the new version."""
        self.versions[uri] += 1
        changes: list[types.TextDocumentContentChangeEvent] = [
            types.TextDocumentContentChangeWholeDocument(text=text)
            if rng is None
            else types.TextDocumentContentChangePartial(range=rng, text=text)
            for rng, text in edits
        ]
        self.notify(
            self.client.text_document_did_change,
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=changes,
            ),
        )
        return self.versions[uri]

    def diagnostics(self, uri: str, version: int | None = None) -> list[types.Diagnostic]:
        """The first diagnostics published for `uri` at `version` (or any version) from now on or already."""
        return self.wait_published(uri, version).diagnostics

    def wait_published(self, uri: str, version: int | None = None, after: int = 0) -> Published:
        deadline = time.monotonic() + self.timeout
        with self._arrived:
            while True:
                for p in self.published[after:]:
                    if p.uri == uri and (version is None or p.version == version):
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no diagnostics for {uri} version {version}")
                self._arrived.wait(left)

    # ---- requests ----
    def _doc(self, uri: str) -> types.TextDocumentIdentifier:
        return types.TextDocumentIdentifier(uri=uri)

    def completion(self, uri: str, at: types.Position) -> list[types.CompletionItem]:
        found = self.call(
            self.client.text_document_completion_async(
                types.CompletionParams(text_document=self._doc(uri), position=at)
            )
        )
        return list(found.items) if isinstance(found, types.CompletionList) else list(found or [])

    def hover(self, uri: str, at: types.Position) -> str | None:
        found = self.call(
            self.client.text_document_hover_async(types.HoverParams(text_document=self._doc(uri), position=at))
        )
        return None if found is None else found.contents.value

    def definition(self, uri: str, at: types.Position) -> list[types.Location]:
        found = self.call(
            self.client.text_document_definition_async(
                types.DefinitionParams(text_document=self._doc(uri), position=at)
            )
        )
        return list(found or [])

    def references(self, uri: str, at: types.Position, declaration: bool = True) -> list[types.Location]:
        found = self.call(
            self.client.text_document_references_async(
                types.ReferenceParams(
                    text_document=self._doc(uri),
                    position=at,
                    context=types.ReferenceContext(include_declaration=declaration),
                )
            )
        )
        return list(found or [])

    def prepare_rename(self, uri: str, at: types.Position) -> Any:
        return self.call(
            self.client.text_document_prepare_rename_async(
                types.PrepareRenameParams(text_document=self._doc(uri), position=at)
            )
        )

    def rename(self, uri: str, at: types.Position, new_name: str) -> types.WorkspaceEdit:
        return self.call(
            self.client.text_document_rename_async(
                types.RenameParams(text_document=self._doc(uri), position=at, new_name=new_name)
            )
        )

    def symbols(self, uri: str) -> list[types.DocumentSymbol]:
        return list(
            self.call(
                self.client.text_document_document_symbol_async(
                    types.DocumentSymbolParams(text_document=self._doc(uri))
                )
            )
            or []
        )

    def workspace_symbols(self, query: str) -> list[types.WorkspaceSymbol]:
        return list(self.call(self.client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))) or [])

    def code_actions(self, uri: str, rng: types.Range, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
        found = self.call(
            self.client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=self._doc(uri), range=rng, context=types.CodeActionContext(diagnostics=diagnostics)
                )
            )
        )
        return [a for a in found or [] if isinstance(a, types.CodeAction)]

    def formatting(self, uri: str) -> list[types.TextEdit]:
        return list(
            self.call(
                self.client.text_document_formatting_async(
                    types.DocumentFormattingParams(
                        text_document=self._doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True)
                    )
                )
            )
            or []
        )

    def close(self) -> None:
        try:
            self.call(self.client.shutdown_async(None))
            self.client.exit(None)
            self.run(self._stopped())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    async def _stopped(self) -> None:
        server = self.client._server
        if server is not None:
            await asyncio.wait_for(server.wait(), 10)
        await self.client.stop()


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """`text` with LSP edits applied (positions counted in UTF-16 code units, as the server does by default)."""
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        before = sum(len(line) + 1 for line in lines[: p.line])
        line = lines[p.line] if p.line < len(lines) else ""
        units = 0
        for i, ch in enumerate(line):
            if units >= p.character:
                return before + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return before + len(line)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text


def pos(line: int, character: int) -> types.Position:
    """A 0-based LSP position."""
    return types.Position(line=line, character=character)


def span(line: int, start: int, end: int) -> types.Range:
    return types.Range(start=pos(line, start), end=pos(line, end))
