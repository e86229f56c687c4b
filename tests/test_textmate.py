"""The TextMate grammar (editors/vscode/syntaxes/evaldsl.tmLanguage.json) on every .eval of the repository that the
parser's lexer accepts: no scope left open at the end of the file, and comments, strings, backtick expressions and
numbers get their scopes.

Two engines: VS Code's own (vscode-textmate with vscode-oniguruma, through editors/vscode/test/tokenize.js; needs
node and `npm ci` in editors/vscode, else skipped), and a small TextMate engine here whose regular expressions run
on the `regex` module (Oniguruma-compatible for the constructs the grammar uses), which always runs.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
from lark.exceptions import UnexpectedInput

from evaldsl.compile.fmt import comments
from evaldsl.compile.syntax import _tokens
from tests.test_fmt import EVAL_FILES, ROOT

VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "evaldsl.tmLanguage.json").read_text(encoding="utf-8"))
Token = tuple[int, int, int, list[str]]  # line, start, end (columns), scopes


def _lexable(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8")
        list(_tokens(text))
    except (UnicodeDecodeError, UnexpectedInput):
        return None
    return text


FILES = [p for p in EVAL_FILES if _lexable(p) is not None]


# ---- a small TextMate engine ---------------------------------------------------------------------------------


class Engine:
    """TextMate tokenizing rules: at each position the earliest match among the current rule's `end` and its
    patterns wins (the `end` on a tie); `begin` pushes a rule, `end` pops it; lines are matched with their `\\n`."""

    def __init__(self, grammar: dict[str, Any]):
        self.grammar = grammar
        self.compiled: dict[str, regex.Pattern[str]] = {}

    def rx(self, source: str) -> regex.Pattern[str]:
        if source not in self.compiled:
            self.compiled[source] = regex.compile(source)
        return self.compiled[source]

    def patterns(self, rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for p in rule.get("patterns", []):
            if "include" in p:
                target = self.grammar if p["include"] == "$self" else self.grammar["repository"][p["include"][1:]]
                if "match" in target or "begin" in target:
                    yield target
                else:
                    yield from self.patterns(target)
            else:
                yield p

    def tokenize(self, text: str) -> tuple[int, list[Token]]:
        """(scopes still open at the end, tokens)."""
        stack: list[dict[str, Any]] = [self.grammar]
        tokens: list[Token] = []
        for ln, line in enumerate(regex.split(r"\r?\n", text)):
            s, pos = line + "\n", 0
            while pos <= len(line):
                rule = stack[-1]
                scopes = [r[k] for r in stack for k in ("name", "contentName") if k in r]
                best: tuple[int, str, dict[str, Any], regex.Match[str]] | None = None
                if "end" in rule and (m := self.rx(rule["end"]).search(s, pos)):
                    best = (m.start(), "end", rule, m)
                for p in self.patterns(rule):
                    m = self.rx(p.get("match") or p["begin"]).search(s, pos)
                    if m and (best is None or m.start() < best[0]):
                        best = (m.start(), "begin" if "begin" in p else "match", p, m)
                if best is None:
                    tokens.append((ln, pos, len(line), scopes))
                    break
                start, kind, p, m = best
                if start > pos:
                    tokens.append((ln, pos, min(start, len(line)), scopes))
                if kind == "end":
                    tokens.append((ln, start, m.end(), [r["name"] for r in stack if "name" in r]))
                    stack.pop()
                elif kind == "begin":
                    stack.append(p)
                    tokens.append((ln, start, m.end(), [r["name"] for r in stack if "name" in r]))
                else:
                    tokens.append((ln, start, m.end(), scopes + ([p["name"]] if "name" in p else [])))
                pos = m.end() if m.end() > pos or kind != "match" else pos + 1
        return len(stack) - 1, tokens


# ---- the checks ----------------------------------------------------------------------------------------------


def _scopes_at(tokens: list[Token], line: int, column: int) -> list[str]:
    for ln, start, end, scopes in tokens:
        if ln == line and start <= column < max(end, start + 1):
            return scopes
    return []


def _expected_scopes(text: str) -> Iterator[tuple[int, int, str, str]]:
    """(line, column, scope part, what) for the start of every comment, string, expression and number."""
    lines = text.split("\n")
    for c in comments(text):
        line = text.count("\n", 0, c.start)
        yield line, c.start - (text.rfind("\n", 0, c.start) + 1), "comment", c.text
    kinds = {"STRING": "string", "LONG_STRING": "string", "EXPR": "meta.embedded.expression", "NUMBER": "numeric"}
    for tok in _tokens(text):
        if tok.type in kinds and tok.line is not None and tok.column is not None:
            if not lines[tok.line - 1].isascii():  # the JS engine counts UTF-16 units
                continue
            yield tok.line - 1, tok.column - 1, kinds[tok.type], str(tok)


def _check(name: str, text: str, open_scopes: int, tokens: list[Token]) -> None:
    assert open_scopes == 0, f"{name}: {open_scopes} scope(s) still open at the end of the file"
    for line, column, part, what in _expected_scopes(text):
        scopes = _scopes_at(tokens, line, column)
        assert any(part in s for s in scopes), f"{name}:{line + 1}:{column + 1}: {what[:40]!r} has scopes {scopes}"


def test_every_regex_of_the_grammar_compiles() -> None:
    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("match", "begin", "end") and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    sources = list(walk(GRAMMAR))
    assert len(sources) > 20
    for source in sources:
        regex.compile(source)


def test_includes_resolve_and_rules_pair_begin_with_end() -> None:
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for rule in walk(GRAMMAR):
        if "include" in rule:
            assert rule["include"] == "$self" or rule["include"][1:] in GRAMMAR["repository"], rule
        assert ("begin" in rule) == ("end" in rule), rule


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_file_tokenizes_with_every_scope_closed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    open_scopes, tokens = Engine(GRAMMAR).tokenize(text)
    _check(str(path.relative_to(ROOT)), text, open_scopes, tokens)


def test_an_unterminated_long_string_leaves_a_scope_open() -> None:
    """The check can fail: text the parser rejects leaves the long string's scope open."""
    assert Engine(GRAMMAR).tokenize('prompt p = """\n  never closed\n')[0] == 1


@functools.cache
def _node_tokens() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the VS Code engine check needs it (the Python engine check ran)")
    if not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
        pytest.skip("run `npm ci` in editors/vscode for the VS Code engine check (the Python engine check ran)")
    done = subprocess.run(
        [node, str(VSCODE / "test" / "tokenize.js"), *map(str, FILES)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_vscode_textmate_tokenizes_every_file_with_every_scope_closed(path: Path) -> None:
    result = _node_tokens()[str(path)]
    tokens = [(ln, start, end, scopes) for ln, start, end, scopes in result["tokens"]]
    _check(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"), result["open"], tokens)
