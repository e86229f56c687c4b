"""The language server over stdio: its capabilities, diagnostics identical to `evaldsl check` as you type, unsaved
imported files, and a clean shutdown."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from evaldsl import api
from evaldsl.diagnostics import Diagnostic
from tests.lsp.client import Editor, pos, span, uri_of

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "diagnostics"


def _utf16(text: str, line: int, column: int) -> int:
    """The UTF-16 column of a 1-based line and character column."""
    lines = text.split("\n")
    prefix = lines[line - 1][: column - 1] if line - 1 < len(lines) else ""
    return len(prefix.encode("utf-16-le")) // 2


def _expected(d: Diagnostic, sources: dict[str, str], here: Path) -> tuple[object, ...]:
    """What the editor must show for one `evaldsl check` diagnostic located in the file itself."""
    assert d.span is not None and d.span.file == str(here)
    text = sources[d.span.file]
    s = d.span
    rng = types.Range(
        start=pos(s.line - 1, _utf16(text, s.line, s.column)),
        end=pos(s.end_line - 1, _utf16(text, s.end_line, s.end_column)),
    )
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    severity = types.DiagnosticSeverity.Error if d.is_error else types.DiagnosticSeverity.Warning
    related = [(uri_of(Path(w.file)), w.line - 1, note) for note, w in d.related]
    return (d.code, rng, message, severity, related)


def _shown(d: types.Diagnostic) -> tuple[object, ...]:
    related = [(r.location.uri, r.location.range.start.line, r.message) for r in d.related_information or ()]
    return (d.code, d.range, d.message, d.severity, related)


def _golden() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*.eval") if p.is_file())


def test_capabilities(editor: Editor) -> None:
    caps = editor.capabilities
    assert caps.completion_provider is not None and "{" in (caps.completion_provider.trigger_characters or ())
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.rename_provider == types.RenameOptions(prepare_provider=True)
    assert caps.document_symbol_provider and caps.workspace_symbol_provider and caps.document_formatting_provider
    assert caps.code_action_provider is not None
    assert caps.text_document_sync is not None


@pytest.mark.parametrize("path", _golden(), ids=lambda p: p.stem)
def test_diagnostics_are_those_of_evaldsl_check(editor: Editor, path: Path) -> None:
    """Every golden spec (one per diagnostic code): same codes, spans, messages, hints, related locations."""
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        pytest.skip("an editor cannot open a file that is not UTF-8 text")
    uri = editor.open(path, text)
    shown = editor.diagnostics(uri, 1)
    result = api.check(path, text)
    here = path.resolve()
    mine = [d for d in result.diagnostics if d.span is not None and d.span.file == str(here)]
    assert [_shown(d) for d in shown if not d.message.startswith(tuple(_imported(result, here)))] == [
        _expected(d, result.sources, here) for d in mine
    ]
    elsewhere = [d for d in result.diagnostics if d not in mine]
    assert len(shown) == len(result.diagnostics)
    for d in elsewhere:
        match = [s for s in shown if s.message.endswith(d.message + (f"\nhint: {d.hint}" if d.hint else ""))]
        assert match, d
        if d.span is not None:  # on the import that leads there, pointing at the real place
            assert match[0].related_information[0].location.uri == uri_of(Path(d.span.file))
            assert match[0].related_information[0].location.range.start.line == d.span.line - 1


def _imported(result: api.CheckResult, here: Path) -> list[str]:
    return [f"{Path(f).name}:" for f in result.sources if f != str(here)]


def test_error_in_an_imported_file_is_shown_on_the_import(editor: Editor) -> None:
    path = GOLDEN / "error_in_imported_file.eval"
    uri = editor.open(path)
    [shown] = editor.diagnostics(uri, 1)
    assert shown.range == span(0, 0, 33)
    assert (
        shown.message
        == "broken_models.eval:5:3: unknown attribute `max_tokns` in model\nhint: did you mean `max_tokens`?"
    )
    assert shown.code == "E302" and shown.data is None  # the fix belongs to the other file
    [related] = shown.related_information or []
    assert related.location.uri == uri_of(GOLDEN / "lib" / "broken_models.eval")
    assert related.location.range == span(4, 2, 11)


def test_diagnostics_follow_each_edit(editor: Editor, workspace: Path) -> None:
    path = workspace / "typing.eval"
    text = (workspace / "main.eval").read_text(encoding="utf-8")
    uri = editor.open(path, text)
    assert editor.diagnostics(uri, 1) == []
    version = editor.change(uri, [(span(11, 18, 18), "x")])  # dataset = triviax
    [d] = editor.diagnostics(uri, version)
    assert (d.code, d.range, d.severity) == ("E301", span(11, 12, 19), types.DiagnosticSeverity.Error)
    assert d.message == "unknown dataset `triviax`\nhint: did you mean `trivia`?"
    assert d.source == "evaldsl" and d.data == {"fix": "trivia"}
    version = editor.change(uri, [(span(11, 18, 19), "")])
    assert editor.diagnostics(uri, version) == []
    # Half-typed: a statement without its value, then completed.
    version = editor.change(uri, [(span(16, 28, 28), "\n  limit =")])
    [d] = editor.diagnostics(uri, version)
    assert (d.code, d.range.start) == ("E100", pos(17, 9))
    version = editor.change(uri, [(span(17, 9, 9), " 3")])
    assert editor.diagnostics(uri, version) == []


def test_diagnostics_go_to_the_uri_the_editor_opened(editor: Editor, workspace: Path) -> None:
    linked = workspace / "linked"
    if not linked.exists():
        linked.symlink_to(workspace, target_is_directory=True)
    uri = editor.open(linked / "through_link.eval", "datset d { }\n")
    [d] = editor.diagnostics(uri, 1)  # published for the URI as opened, not the resolved path
    assert (d.code, d.range) == ("E203", span(0, 0, 6))


def test_warnings_are_warnings(editor: Editor) -> None:
    uri = editor.open(GOLDEN / "w301_self_judging.eval")
    shown = editor.diagnostics(uri, 1)
    assert shown and {d.severity for d in shown} == {types.DiagnosticSeverity.Warning}
    assert {d.code for d in shown} == {"W301"}


def test_unsaved_text_of_an_open_import_is_used(editor: Editor, workspace: Path) -> None:
    main = editor.open(workspace / "main.eval")
    assert editor.diagnostics(main, 1) == []
    after = len(editor.published)
    shared = editor.open(workspace / "shared.eval")
    assert editor.wait_published(shared, 1, after=after).diagnostics == []
    assert editor.wait_published(main, 1, after=after).diagnostics == []  # opening an import checks its importers
    after = len(editor.published)
    version = editor.change(shared, [(span(1, 6, 11), "tiny")])  # model small → model tiny, not saved
    assert editor.diagnostics(shared, version) == []
    rechecked = editor.wait_published(main, 1, after=after)  # main.eval is checked again, with the new text
    assert [(d.code, d.range, d.message.split("\n")[0]) for d in rechecked.diagnostics] == [
        ("E301", span(13, 13, 18), "unknown model `small`"),
        ("E301", span(22, 13, 18), "unknown model `small`"),
        ("E301", span(27, 31, 36), "unknown model `small`"),
    ]
    after = len(editor.published)
    editor.change(shared, [(span(1, 6, 10), "small")])
    assert editor.wait_published(main, 1, after=after).diagnostics == []


def test_shutdown_and_exit_end_the_process(workspace: Path) -> None:
    editor = Editor(workspace)
    process = editor.client._server
    assert process is not None
    editor.close()
    assert process.returncode == 0


def test_the_server_runs_from_the_command_line() -> None:
    async def start() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evaldsl",
            "lsp",
            "--help",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out

    assert b"language server" in asyncio.run(start())
