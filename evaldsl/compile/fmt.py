"""The formatter behind `evaldsl fmt`: source text → the canonical layout, printed from the parse tree.

Lossless: every token's text is kept as written (strings, long strings, backtick expressions, numbers, names);
only the whitespace and the optional commas between them change, so a formatted spec compiles to the same graph.
Comments are found by a scan that skips strings and backtick expressions, and are put back by position: a comment
that follows code on its line stays at the end of that code's line, one on its own line stays on its own line.

The style (docs/editors.md): two spaces per level; `name = value` with one space each side, the `=` of
consecutive attributes aligned; one entry per line in a block (a block with at most one attribute that was
written on one line may stay on one line); a list, map, call or parameter list stays on one line when it was
written on one line, and otherwise has one item per line with a trailing comma; end-of-line comments of
consecutive lines aligned, two spaces after the longest code; at most one blank line in a row, none at the start
of a block; one blank line around a top-level entry that spans several lines; one newline at the end of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lark import Token, Tree

from ..diagnostics import CompileError
from .syntax import ParseFailure, parse_tree

INDENT = "  "
_SCAN = re.compile(r'"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|`[^`]*`|#[^\n]*')
_BLOCKS = ("anon_block", "named_block", "template_def")
_SIMPLE = ("attribute", "named_assign", "import_stmt", "assert_stmt")

Node = Tree | Token


@dataclass(frozen=True)
class Comment:
    """A `#` comment: where it starts and ends, its text (trailing whitespace dropped), and whether it was
    written on a line of its own (else it follows code) and after a blank line."""

    start: int
    end: int
    text: str
    own_line: bool
    blank_before: bool


def comments(text: str) -> list[Comment]:
    """Every comment of a source that parses, in order (strings and backtick expressions skipped)."""
    found = []
    for m in _SCAN.finditer(text):
        if not m.group().startswith("#"):
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        own = not text[line_start : m.start()].strip()
        found.append(Comment(m.start(), m.end(), m.group().rstrip(), own, own and _blank_before(text, line_start)))
    return found


def _blank_before(text: str, line_start: int) -> bool:
    """Whether the line before the one starting at `line_start` is blank."""
    if line_start == 0:
        return False
    prev_start = text.rfind("\n", 0, line_start - 1) + 1
    return not text[prev_start : line_start - 1].strip()


@dataclass
class _Line:
    indent: int
    code: str = ""
    comment: str | None = None
    blank_before: bool = False


@dataclass
class _Printer:
    text: str
    pending: list[Comment]
    lines: list[_Line] = field(default_factory=list)

    # ---- output -------------------------------------------------------------------------------------------

    def open_line(self, indent: int, blank: bool = False) -> None:
        """A new output line; a blank line before it only where one may be: not first, not after an opener."""
        blank = blank and bool(self.lines) and not self.lines[-1].code.endswith(("{", "[", "("))
        self.lines.append(_Line(indent, blank_before=blank))

    def write(self, s: str) -> None:
        if not self.lines:
            self.open_line(0)
        cur = self.lines[-1]
        if cur.comment is not None:  # the line ends in a comment: what follows continues on the next line
            self.open_line(cur.indent if not cur.code else cur.indent + 1)
        self.lines[-1].code += s

    def token(self, tok: Node | str, pos: int | None = None) -> None:
        """Print a token as written (after the comments before it)."""
        if isinstance(tok, Tree):  # pragma: no cover - the grammar puts tokens here
            raise AssertionError(f"expected a token, got {tok.data}")
        if pos is None and isinstance(tok, Token):
            pos = tok.start_pos
        if pos is not None:
            self.flush(pos)
        self.write(str(tok))

    def flush(self, pos: int, indent: int | None = None) -> None:
        """Print the comments that start before `pos`. At a boundary between entries or items (`indent` given),
        a comment written on its own line gets a line of its own at that indent; elsewhere it ends the current
        line, and the code after it continues on the next."""
        while self.pending and self.pending[0].start < pos:
            c = self.pending.pop(0)
            cur = self.lines[-1] if self.lines else None
            if cur is None or (indent is not None and (c.own_line or cur.comment is not None or not cur.code)):
                self.open_line(0 if indent is None else indent, blank=c.blank_before)
                self.lines[-1].comment = c.text
            elif cur.comment is None:
                cur.comment = c.text
            else:
                self.open_line(cur.indent + 1 if cur.code else cur.indent)
                self.lines[-1].comment = c.text

    # ---- sequences ----------------------------------------------------------------------------------------

    def sequence(
        self,
        items: Sequence[Tree],
        indent: int,
        close: int,
        print_item: Callable[[Tree, int], None],
        sep: str = "",
        top: bool = False,
    ) -> None:
        """Items one per line at `indent`, comments kept in place, up to the closing bracket at `close`."""
        prev_multiline: bool | None = None  # None: nothing printed yet in this sequence
        prev_end = -1
        printed: list[tuple[int, int, str | None]] = []
        for item in items:
            start = item.meta.start_pos
            before = len(self.lines)
            if top and prev_multiline:
                self._blank_before_comment(start)
            self.flush(start, indent)
            after_comment = len(self.lines) > before and self.lines[-1].code == ""
            line_start = self.text.rfind("\n", 0, start) + 1
            blank = line_start > prev_end and _blank_before(self.text, line_start)
            if top and not after_comment and prev_multiline is not None:
                blank = blank or prev_multiline or self._expands(item)
            self.open_line(indent, blank=blank)
            first = len(self.lines) - 1
            print_item(item, indent)
            self.write(sep)
            printed.append((first, len(self.lines) - 1, _key(item)))
            prev_multiline = len(self.lines) - 1 > first or "\n" in self.lines[first].code
            prev_end = item.meta.end_pos
        if top and prev_multiline:
            self._blank_before_comment(close)
        self.flush(close, indent)
        self._align(printed)

    def _blank_before_comment(self, before: int) -> None:
        """A blank line before the next own-line comment (after a top-level entry of several lines)."""
        for i, c in enumerate(self.pending):
            if c.start >= before:
                return
            if c.own_line:
                self.pending[i] = Comment(c.start, c.end, c.text, c.own_line, True)
                return

    def _align(self, printed: list[tuple[int, int, str | None]]) -> None:
        """Pad the keys of consecutive `name = value` items (first line, last line, key) so their `=` align: a
        blank line, a comment line or an item of another kind between two of them starts a new group."""
        group: list[tuple[int, str]] = []

        def close_group() -> None:
            width = max((len(key) for _, key in group), default=0)
            for first, key in group:
                line = self.lines[first]
                line.code = key + " " * (width - len(key)) + line.code[len(key) :]
            group.clear()

        prev_last = -2
        for first, last, key in printed:
            if key is None or first != prev_last + 1 or self.lines[first].blank_before:
                close_group()
            if key is not None:
                group.append((first, key))
            prev_last = last
        close_group()

    def _expands(self, node: Tree) -> bool:
        """Whether `node` will be printed on several lines (a slight overestimate is harmless: blank lines that
        the first pass adds are kept by the next)."""
        if node.meta.line != node.meta.end_line:
            return True
        if node.data in _BLOCKS:
            return not self._inline_block(node, _entries(node))
        return False

    def _inline_block(self, node: Tree, entries: list[Tree]) -> bool:
        """`name {}` for an empty block without comments; `name { a = 1 }` for a block of one simple entry
        written on one line."""
        if not entries:
            return not any(node.meta.start_pos <= c.start < node.meta.end_pos for c in self.pending)
        if node.meta.line != node.meta.end_line or len(entries) > 1:
            return False
        return entries[0].data in _SIMPLE

    # ---- entries ------------------------------------------------------------------------------------------

    def entry(self, node: Tree, indent: int) -> None:
        kind = node.data
        kids = node.children
        if kind == "import_stmt":
            self.token("import", node.meta.start_pos)
            self.write(" ")
            self.value(kids[0], indent)
        elif kind == "attribute":
            self.token(kids[0])
            self.write(" = ")
            self.value(kids[1], indent)
        elif kind == "named_assign":
            self.token(kids[0])
            self.write(" ")
            self.token(kids[1])
            self.write(" = ")
            self.value(kids[2], indent)
        elif kind == "assert_stmt":
            self.token("assert", node.meta.start_pos)
            self.write(" ")
            self.value(kids[0], indent)
            self.write(" ")
            self.token(kids[1])
            self.write(" ")
            self.value(kids[2], indent)
        elif kind in _BLOCKS:
            self.block(node, indent)
        else:  # pragma: no cover - the grammar has no other entry
            raise AssertionError(f"unknown entry {kind}")

    def block(self, node: Tree, indent: int) -> None:
        names = [k for k in node.children if isinstance(k, Token)]
        entries = _entries(node)
        for i, name in enumerate(names):
            if i:
                self.write(" ")
            self.token(name)
        if node.data == "template_def":
            params = [k for k in node.children if isinstance(k, Tree) and k.data == "param"]
            opened = _find(self.text, names[-1].end_pos or 0, "(")
            close = _find(self.text, params[-1].meta.end_pos if params else opened + 1, ")")
            self.bracketed("(", ")", params, opened, close, indent, self.param)
        body_end = node.meta.end_pos - 1
        if self._inline_block(node, entries):
            self.write(" {")
            if entries:
                self.write(" ")
                self.entry(entries[0], indent)
                self.write(" ")
            self.write("}")
            return
        self.write(" {")
        self.sequence(entries, indent + 1, body_end, self.entry)
        self.open_line(indent)
        self.token("}", body_end)

    def param(self, node: Tree, indent: int) -> None:
        self.token(node.children[0])
        if len(node.children) > 1:
            self.write(" = ")
            self.value(node.children[1], indent)

    # ---- values -------------------------------------------------------------------------------------------

    def value(self, node: Node, indent: int) -> None:
        if isinstance(node, Token):  # pragma: no cover - values are always trees
            self.token(node)
            return
        kind = node.data
        if kind in ("string", "number", "expr"):
            self.token(node.children[0])
        elif kind in ("true", "false"):
            self.token(kind, node.meta.start_pos)
        elif kind == "ref":
            for i, name in enumerate(node.children):
                if i:
                    self.write(".")
                self.token(name)
        elif kind == "list_value":
            self.bracketed("[", "]", node.children, node.meta.start_pos, node.meta.end_pos - 1, indent, self.item)
        elif kind == "map_value":
            self.bracketed("{", "}", node.children, node.meta.start_pos, node.meta.end_pos - 1, indent, self.item)
        elif kind == "call":
            name = node.children[0]
            assert isinstance(name, Token)
            self.token(name)
            opened = _find(self.text, name.end_pos or 0, "(")
            self.bracketed("(", ")", node.children[1:], opened, node.meta.end_pos - 1, indent, self.item)
        else:  # pragma: no cover - the grammar has no other value
            raise AssertionError(f"unknown value {kind}")

    def item(self, node: Tree, indent: int) -> None:
        """A list item, a map entry (`key = value`) or a call argument (`name = value` or a value)."""
        if isinstance(node, Tree) and node.data in ("map_entry", "kwarg"):
            self.token(node.children[0])
            self.write(" = ")
            self.value(node.children[1], indent)
        else:
            self.value(node, indent)

    def bracketed(
        self,
        open_: str,
        close_: str,
        items: Sequence[Node],
        open_pos: int,
        close_pos: int,
        indent: int,
        print_item: Callable[[Tree, int], None],
    ) -> None:
        """`[a, b]` when it was written on one line, else one item per line with a trailing comma."""
        trees = [i for i in items if isinstance(i, Tree)]
        one_line = "\n" not in self.text[open_pos:close_pos]
        self.token(open_, open_pos)
        has_comment = bool(self.pending) and self.pending[0].start < close_pos
        if one_line or (not trees and not has_comment):
            pad = " " if open_ == "{" and trees else ""
            self.write(pad)
            for i, item in enumerate(trees):
                if i:
                    self.write(", ")
                print_item(item, indent)
            self.write(pad + close_)
            return
        self.sequence(trees, indent + 1, close_pos, print_item, sep=",")
        self.open_line(indent)
        self.token(close_, close_pos)

    # ---- rendering ----------------------------------------------------------------------------------------

    def render(self) -> str:
        out: list[str] = []
        widths = _comment_columns(self.lines)
        for line, width in zip(self.lines, widths, strict=True):
            if line.blank_before:
                out.append("")
            code = (INDENT * line.indent + line.code).rstrip() if line.code else ""
            if line.comment is not None:
                if code:
                    code = code.ljust(width) + "  " + line.comment
                else:
                    code = INDENT * line.indent + line.comment
            out.append(code)
        return "\n".join(out) + "\n" if out else ""


def _comment_columns(lines: list[_Line]) -> list[int]:
    """The width code is padded to before its end-of-line comment: the widest code of the run of consecutive
    lines (no blank line between) that all have code and a comment."""
    widths = [0] * len(lines)
    run: list[int] = []

    def close_run() -> None:
        width = max((_width(lines[j]) for j in run), default=0)
        for j in run:
            widths[j] = width
        run.clear()

    for i, line in enumerate(lines):
        if line.code and line.comment is not None and "\n" not in line.code:
            if line.blank_before:
                close_run()
            run.append(i)
        else:
            close_run()
    close_run()
    return widths


def _width(line: _Line) -> int:
    return len((INDENT * line.indent + line.code).rstrip())


def _key(node: Tree) -> str | None:
    if node.data in ("attribute", "map_entry"):
        return str(node.children[0])
    return None


def _entries(node: Tree) -> list[Tree]:
    return [k for k in node.children if isinstance(k, Tree) and k.data != "param"]


def _find(text: str, pos: int, char: str) -> int:
    """The position of the next `char` at or after `pos`, skipping whitespace, commas and comments."""
    while pos < len(text):
        c = text[pos]
        if c == char:
            return pos
        if c == "#":
            nl = text.find("\n", pos)
            pos = len(text) if nl < 0 else nl
            continue
        pos += 1
    return pos


def format_source(text: str, path: str = "<stdin>") -> str:
    """The canonical layout of `text`; raises CompileError with the syntax diagnostic when it does not parse."""
    try:
        tree = parse_tree(text, path)
    except ParseFailure as exc:
        raise CompileError([exc.diagnostic]) from None
    printer = _Printer(text, comments(text))
    entries = [k for k in tree.children if isinstance(k, Tree)]
    printer.sequence(entries, 0, len(text), printer.entry, top=True)
    return printer.render()
