"""Where the cursor is, read from the text alone: a tolerant scan that works on files that do not parse (a
half-typed block, an unclosed string), for completion."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .schema import STATEMENTS

_TOKEN = re.compile(
    r'(?P<long>"""[\s\S]*?(?:"""|\Z))'
    r'|(?P<str>"(?:\\.|[^"\\\n])*(?:"|(?=\n)|\Z))'
    r"|(?P<expr>`[^`]*(?:`|\Z))"
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[+-]?\.?[0-9](?:[eE][+-]|[A-Za-z0-9_.])*)"
    r"|(?P<compare>>=|<=|==|!=|>|<)"
    r"|(?P<newline>\n)"
    r"|(?P<space>[ \t\r\f]+)"
    r"|(?P<punct>[{}\[\]()=,.])"
    r"|(?P<other>.)"
)
_VALUE = frozenset({"long", "str", "expr", "name", "number", "value"})
_OPEN = {"{": "}", "[": "]", "(": ")"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_JINJA_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class _Tok:
    kind: str
    text: str
    start: int
    end: int
    params: tuple[str, ...] = ()  # the `)` closing a template's parameter list: the parameters' names


@dataclass
class _Frame:
    kind: str  # top | block | list | map | call | paren
    keyword: str | None = None  # block: its keyword; call: the function's name
    name: str | None = None  # block: its name
    attr: str | None = None  # list/map/call/paren: the attribute or argument whose value it is
    assign: tuple[str, str] | None = None  # the top-level `keyword name =` the value belongs to
    tokens: list[_Tok] = field(default_factory=list)  # the current entry's tokens
    written: list[str] = field(default_factory=list)  # block: attributes; call: keyword arguments
    values: dict[str, str] = field(default_factory=dict)  # block: attribute → its value when a name or string
    params: tuple[str, ...] = ()  # a template's block: its parameters
    defined: list[tuple[str, str]] = field(default_factory=list)  # a template's block: (keyword, name) inside


@dataclass(frozen=True)
class Context:
    """What is being typed at the cursor.

    `where`: statement (a top-level keyword), entry (an attribute or nested entry of a block), value (an
    attribute's, argument's or definition's value), argument (a call's keyword argument), string (inside a
    plain string value), template (inside `{{ }}` / `{% %}` of a string), expression (inside backticks), import
    (inside an import's path), assert (the aggregate of an assert), or none.
    """

    where: str
    prefix: str = ""  # the word typed so far, up to the cursor
    start: int = 0  # its offset
    blocks: tuple[tuple[str, str | None], ...] = ()  # enclosing blocks, outermost first: (keyword, name)
    attr: str | None = None
    call: str | None = None
    assign: tuple[str, str] | None = None
    written: tuple[str, ...] = ()  # attributes of the block, or keyword arguments of the call, already there
    source: str = ""  # template/expression/string/import: its text up to the cursor
    values: tuple[tuple[str, str], ...] = ()  # the innermost block's attributes written as a name or a string
    params: tuple[str, ...] = ()  # the parameters of the template whose body holds the cursor
    defined: tuple[tuple[str, str], ...] = ()  # and the definitions in that body: (keyword, name)

    def value(self, attr: str) -> str | None:
        """An attribute of the innermost block as written (a name, or a string's content)."""
        raw = dict(self.values).get(attr)
        return raw.strip('"') if raw is not None else None


def context_at(text: str, offset: int) -> Context:
    """The completion context at `offset` in `text`."""
    scanner = _Scanner(text)
    return scanner.run(offset)


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.stack: list[_Frame] = [_Frame("top")]
        self.line_start = True

    @property
    def frame(self) -> _Frame:
        return self.stack[-1]

    def run(self, offset: int) -> Context:
        word = _WORD.search(self.text, self.text.rfind("\n", 0, offset) + 1, offset)
        prefix, start = (word.group(), word.start()) if word else ("", offset)
        found: Context | None = None
        watched: _Frame | None = None  # the innermost call or block: the context lists its written names
        block: _Frame | None = None  # the innermost block: the context lists its attribute values
        outer: _Frame | None = None  # the top-level block: scanning goes on to its end
        for m in _TOKEN.finditer(self.text):
            tok = _Tok(m.lastgroup or "other", m.group(), m.start(), m.end())
            if found is None:
                if tok.kind in ("str", "long", "expr", "comment") and _contains(tok, offset):
                    found = self.inside(tok, offset)
                elif tok.start >= start:
                    found = self.between(start, prefix)
                elif tok.start < offset < tok.end:
                    found = Context("none")
                watched, block = self._innermost(("block", "call")), self._innermost(("block",))
                outer = self.stack[1] if len(self.stack) > 1 else None
            if found is not None and (outer is None or outer not in self.stack):
                break
            self.feed(tok)
        if found is None:
            found = self.between(start, prefix)
            watched, block = self._innermost(("block", "call")), self._innermost(("block",))
            outer = self.stack[1] if len(self.stack) > 1 else None
        written = tuple(watched.written) if watched is not None else ()
        values = tuple(block.values.items()) if block is not None else ()
        template = outer if outer is not None and outer.keyword == "template" else None
        params, defined = (template.params, tuple(template.defined)) if template is not None else ((), ())
        return Context(**{**found.__dict__, "written": written, "values": values, "params": params, "defined": defined})

    def _innermost(self, kinds: tuple[str, ...]) -> _Frame | None:
        for frame in reversed(self.stack):
            if frame.kind in kinds:
                return frame
        return None

    # ---- contexts ----
    def blocks(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((f.keyword or "", f.name) for f in self.stack if f.kind == "block")

    def inside(self, tok: _Tok, offset: int) -> Context:
        """The context when the cursor is inside a string, an expression or a comment."""
        if tok.kind == "comment":
            return Context("none")
        quote = 3 if tok.kind == "long" else 1
        at = offset - tok.start
        if at < quote:
            return Context("none")
        body = tok.text[quote:at]
        base = self.between(tok.start)
        if tok.kind == "expr":
            return self._jinja(base, "expression", body, offset)
        if base.where == "import":
            return Context("import", body, tok.start + quote, source=body)
        opened = max(body.rfind("{{"), body.rfind("{%"))
        if opened > max(body.rfind("}}"), body.rfind("%}")):
            return self._jinja(base, "template", body[opened + 2 :], offset)
        return Context("string", body, tok.start + quote, base.blocks, base.attr, base.call, base.assign, source=body)

    def _jinja(self, base: Context, where: str, source: str, offset: int) -> Context:
        word = _JINJA_WORD.search(source)
        prefix = word.group() if word else ""
        return Context(
            where, prefix, offset - len(prefix), base.blocks, base.attr, base.call, base.assign, source=source
        )

    def between(self, offset: int, prefix: str = "") -> Context:
        """The context at `offset` between tokens (typing `prefix` from there)."""
        frame = self.frame
        tokens = [t for t in frame.tokens if t.start < offset]
        blocks = self.blocks()
        if frame.kind in ("top", "block") and self._complete(tokens):
            tokens = []  # `path = "x" lim`: a new entry on the same line
        texts = [t.text for t in tokens]
        if frame.kind in ("top", "block"):
            if tokens and tokens[0].kind == "name" and tokens[0].text == "assert" and frame.kind == "block":
                return Context("assert", prefix, offset, blocks)
            if not tokens:
                return Context("statement" if frame.kind == "top" else "entry", prefix, offset, blocks)
            if texts == ["import"]:
                return Context("import", prefix, offset, blocks)
            if len(texts) >= 2 and texts[-1] == "=":
                if frame.kind == "top" and len(texts) == 3:
                    return Context("value", prefix, offset, blocks, assign=(texts[0], texts[1]))
                attr = "field" if len(texts) == 3 and texts[0] == "field" else texts[0]
                return Context("value", prefix, offset, blocks, attr=attr, assign=frame.assign)
            return Context("none", prefix, offset, blocks)
        if frame.kind == "call" and (not tokens or texts[-1] == ","):
            return Context("argument", prefix, offset, blocks, frame.attr, frame.keyword, frame.assign)
        if frame.kind == "call" and len(texts) >= 2 and texts[-1] == "=" and tokens[-2].kind == "name":
            return Context("value", prefix, offset, blocks, texts[-2], frame.keyword, frame.assign)
        if frame.kind == "map":
            return Context("none", prefix, offset, blocks)
        return Context("value", prefix, offset, blocks, frame.attr, self._call(), frame.assign)

    def _call(self) -> str | None:
        for frame in reversed(self.stack):
            if frame.kind == "call":
                return frame.keyword
            if frame.kind == "block":
                return None
        return None

    # ---- feeding tokens ----
    def feed(self, tok: _Tok) -> None:
        kind = tok.kind
        if kind in ("space", "comment"):
            return
        if kind == "newline":
            self.line_start = True
            self._end_line()
            return
        at_line_start, self.line_start = self.line_start, False
        if at_line_start and tok.start > 0 and self.text[tok.start - 1] == "\n" and len(self.stack) > 1:
            # Recovery: a statement keyword or `}` in column 1 is at the top level, whatever came before.
            if (kind == "name" and tok.text in STATEMENTS) or tok.text == "}":
                del self.stack[1:]
                self.frame.tokens = []
                if tok.text == "}":
                    return
        frame = self.frame
        if kind == "punct" and tok.text in _OPEN:
            self._open(tok)
            return
        if kind == "punct" and tok.text in "}])":
            self._close(tok)
            return
        if kind == "punct" and tok.text == ",":
            if frame.kind in ("top", "block", "map"):
                frame.tokens = []
            else:
                frame.tokens.append(tok)
            return
        if kind == "name" and frame.kind in ("top", "block", "map") and self._complete(frame.tokens):
            frame.tokens = []
        if kind == "punct" and tok.text == "=" and frame.kind in ("top", "block") and "=" in _texts(frame.tokens):
            self._restart_entry(frame)  # `dataset =` (value not typed yet), then `prompt = ...` on the next line
        if kind == "punct" and tok.text == "=" and frame.tokens and frame.tokens[-1].kind == "name":
            self._note_written(frame)
            if frame.keyword == "template" and frame.kind == "block" and len(frame.tokens) == 2:
                frame.defined.append((frame.tokens[0].text, frame.tokens[1].text))
        if frame.kind == "block" and kind in ("name", "str") and len(frame.tokens) == 2 and frame.tokens[1].text == "=":
            frame.values.setdefault(frame.tokens[0].text, tok.text)
        frame.tokens.append(tok)

    @staticmethod
    def _restart_entry(frame: _Frame) -> None:
        """The names at the end of an entry that has an `=` already start the next entry (a new `=` follows)."""
        names: list[_Tok] = []
        for t in reversed(frame.tokens):
            if t.kind != "name" or len(names) == 2:
                break
            names.insert(0, t)
        if not names or names == frame.tokens:
            return
        first = frame.tokens[0].text
        if frame.values.get(first) == names[0].text:
            del frame.values[first]  # that name was not the earlier attribute's value after all
        frame.tokens = names if frame.kind == "top" or names[0].text == "field" else names[-1:]

    def _note_written(self, frame: _Frame) -> None:
        texts = [t.text for t in frame.tokens]
        if frame.kind == "block" and len(texts) == 1:
            frame.written.append(texts[0])
        elif frame.kind == "call" and (len(texts) == 1 or texts[-2] == ","):
            frame.written.append(texts[-1])

    @staticmethod
    def _complete(tokens: list[_Tok]) -> bool:
        """Whether the entry so far is whole, so that a following name starts the next entry."""
        if not tokens or tokens[0].text == "assert":
            return False
        texts = [t.text for t in tokens]
        if "=" not in texts:
            return False
        last = tokens[-1]
        return last.kind in _VALUE and texts.index("=") < len(texts) - 1 and texts[-1] != "."

    def _end_line(self) -> None:
        frame = self.frame
        if frame.kind in ("top", "block") and frame.tokens and frame.tokens[-1].text not in ("=", "import"):
            frame.tokens = []

    def _open(self, tok: _Tok) -> None:
        frame = self.frame
        texts = [t.text for t in frame.tokens]
        kinds = [t.kind for t in frame.tokens]
        attr, assign = self._value_owner(frame)
        names = [t.text for t in frame.tokens if t.kind == "name"]
        if tok.text == "{" and frame.kind in ("top", "block") and "=" not in texts and 1 <= len(names) <= 2:
            name = names[1] if len(names) == 2 else None  # `kind name {`, `template name(...) {` or `fewshot {`
            params = next((t.params for t in reversed(frame.tokens) if t.params), ())
            if frame.kind == "block" and frame.keyword == "template" and name is not None:
                frame.defined.append((texts[0], name))
            self.stack.append(_Frame("block", keyword=texts[0], name=name, params=params))
            frame.tokens = []
            return
        if tok.text == "(" and frame.tokens and kinds[-1] == "name":
            if frame.kind == "top" and len(texts) == 2:  # template NAME(params): no completion inside
                self.stack.append(_Frame("params"))
            else:
                self.stack.append(_Frame("call", keyword=texts[-1], attr=attr, assign=assign))
        else:
            kind = {"{": "map", "[": "list", "(": "paren"}[tok.text]
            self.stack.append(_Frame(kind, attr=attr, assign=assign))
        frame.tokens.append(_Tok("open", tok.text, tok.start, tok.end))

    def _value_owner(self, frame: _Frame) -> tuple[str | None, tuple[str, str] | None]:
        """The attribute (or argument) and top-level assignment a bracket opened in `frame` belongs to."""
        texts = [t.text for t in frame.tokens]
        if frame.kind == "top":
            if len(texts) >= 3 and texts[2] == "=":
                return None, (texts[0], texts[1])
            return None, None
        if frame.kind == "block":
            if texts and texts[0] == "assert":
                return "assert", frame.assign
            if "=" in texts:
                attr = "field" if texts[0] == "field" else texts[0]
                return attr, frame.assign
            return None, frame.assign
        if frame.kind == "call":
            for i in range(len(texts) - 1, 0, -1):
                if texts[i] == "=" and (i == 1 or texts[i - 2] == ","):
                    return texts[i - 1], frame.assign
                if texts[i] == ",":
                    break
            return frame.attr, frame.assign
        return frame.attr, frame.assign

    def _close(self, tok: _Tok) -> None:
        want = {"}": ("block", "map"), "]": ("list",), ")": ("call", "paren", "params")}[tok.text]
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].kind in want:
                closed = self.stack[depth]
                del self.stack[depth:]
                parent = self.frame
                if closed.kind == "block":
                    parent.tokens = []
                else:
                    names = (
                        [
                            t.text
                            for i, t in enumerate(closed.tokens)
                            if t.kind == "name" and (i == 0 or closed.tokens[i - 1].text == ",")
                        ]
                        if closed.kind == "params"
                        else []
                    )
                    parent.tokens.append(_Tok("value", tok.text, tok.start, tok.end, tuple(names)))
                return


def _texts(tokens: list[_Tok]) -> list[str]:
    return [t.text for t in tokens]


def _contains(tok: _Tok, offset: int) -> bool:
    """Whether the cursor is inside a string, expression or comment token (not on its closing quote's far side)."""
    if tok.kind == "comment":
        return tok.start < offset <= tok.end
    quote = tok.text[:3] if tok.kind == "long" else tok.text[:1]
    closed = len(tok.text) >= 2 * len(quote) and tok.text.endswith(quote)
    return tok.start < offset < tok.end or (not closed and offset == tok.end)
