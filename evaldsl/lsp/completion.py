"""Completion: statement keywords, a block's attributes with their types, names where a reference goes (metrics
filtered by the eval's mode), template parameters, stdlib modules, and dataset fields inside `{{ }}` and
backticks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from ..compile import ast
from ..compile.spec import Spec
from ..metrics import BUILTIN_METRICS
from ..resources import stdlib_dir
from .convert import Positions
from .documents import Documents, Knowledge
from .scan import Context, context_at
from .schema import ATTRIBUTE_DOCS, NESTED, REFERENCES, STATEMENT_SNIPPETS, block_schema, choices_of

Kind = types.CompletionItemKind
_KIND_ICONS = {
    "dataset": Kind.Struct,
    "model": Kind.Class,
    "prompt": Kind.Text,
    "metric": Kind.Function,
    "judge": Kind.Event,
    "template": Kind.Module,
    "eval": Kind.Method,
}
_DEFINITIONS_IN_TEMPLATE = ("dataset", "model", "prompt", "metric", "judge", "eval")
_FILTERS = (
    "split_list",
    "regex_replace",
    "ensure_suffix",
    "lower",
    "upper",
    "trim",
    "join",
    "length",
    "first",
    "last",
    "default",
    "replace",
    "int",
    "float",
    "string",
    "list",
)


@dataclass(frozen=True)
class FieldSource:
    """The datasets whose fields a template or expression at the cursor may read, and extra variables."""

    datasets: tuple[str, ...]
    extra: tuple[tuple[str, str], ...] = ()  # (name, what it is): `row`, template parameters, judge variables


def complete(docs: Documents, path: Path, text: str, offset: int, pos: Positions) -> list[types.CompletionItem]:
    """The completion items at `offset` (the client filters them by the word typed so far)."""
    ctx = context_at(text, offset)
    edit_range = pos.span_range(ctx.start, offset)
    knowledge = docs.knowledge(path)
    items = _items(ctx, docs, knowledge, path)
    for item in items:
        item.text_edit = types.TextEdit(range=edit_range, new_text=item.insert_text or item.label)
        item.insert_text = None
    return items


def _items(ctx: Context, docs: Documents, k: Knowledge, path: Path) -> list[types.CompletionItem]:
    where = ctx.where
    if where == "statement":
        return [_snippet(word, body, doc, Kind.Keyword) for word, (body, doc) in STATEMENT_SNIPPETS.items()]
    if where == "entry":
        return _entries(ctx)
    if where == "import":
        return _imports(path, ctx.source)
    if where == "assert":
        return [
            _snippet("mean", "mean(${1:metric}) >= ${0:0.5}", "The mean of a metric over the samples.", Kind.Function)
        ]
    if where in ("template", "expression"):
        return _fields(ctx, docs, k)
    if where == "string":
        expected = _attribute_type(ctx)
        return [_item(c, Kind.EnumMember, detail=expected) for c in choices_of(expected or "")]
    if where == "argument":
        return _arguments(ctx, k)
    if where == "value":
        return _values(ctx, k)
    return []


def _item(
    label: str,
    kind: types.CompletionItemKind,
    *,
    detail: str | None = None,
    doc: str | None = None,
    insert: str | None = None,
    sort: str | None = None,
) -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=kind,
        detail=detail,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None,
        insert_text=insert,
        sort_text=sort,
    )


def _snippet(label: str, body: str, doc: str, kind: types.CompletionItemKind) -> types.CompletionItem:
    item = _item(label, kind, doc=doc, insert=body)
    item.insert_text_format = types.InsertTextFormat.Snippet
    return item


# ---- block entries ----
def _entries(ctx: Context) -> list[types.CompletionItem]:
    kind = ctx.blocks[-1][0] if ctx.blocks else ""
    if kind == "template":
        items = [_snippet(w, *STATEMENT_SNIPPETS[w], Kind.Keyword) for w in _DEFINITIONS_IN_TEMPLATE]
        return [*items, _item("description", Kind.Property, detail="a string", insert='description = "$0"')]
    schema = block_schema(kind)
    if schema is None:
        return []
    items = []
    for attr, expected in schema.attributes.items():
        if attr in ctx.written:
            continue
        items.append(
            _item(attr, Kind.Property, detail=expected, doc=ATTRIBUTE_DOCS.get(kind, {}).get(attr), insert=f"{attr} = ")
        )
    for word, (body, doc) in NESTED.get(kind, {}).items():
        items.append(_snippet(word, body, doc, Kind.Keyword))
    return items


def _attribute_type(ctx: Context) -> str | None:
    if not ctx.blocks or ctx.attr is None:
        return None
    schema = block_schema(ctx.blocks[-1][0])
    return schema.attributes.get(ctx.attr) if schema else None


# ---- values ----
def _values(ctx: Context, k: Knowledge) -> list[types.CompletionItem]:
    if ctx.assign is not None and not ctx.blocks and ctx.call is None and ctx.attr is None:
        keyword = ctx.assign[0]
        if keyword == "metric":
            return [_metric_item(name) for name in BUILTIN_METRICS]
        if keyword == "eval":
            return [_template_item(k, name) for name in k.spec.templates]
        return []
    if ctx.call is not None and ctx.assign is not None and ctx.assign[0] == "eval" and ctx.attr is not None:
        used_as = template_param_kinds(k, ctx.call, ctx.attr)
        return _names(k, used_as or ("dataset", "model", "prompt", "metric", "judge"))
    block = ctx.blocks[-1][0] if ctx.blocks else ""
    local = _template_names(ctx, k, REFERENCES.get((block, ctx.attr or ""), ()))
    if (block, ctx.attr) == ("eval", "metrics"):
        return local + _metrics(k, _eval_mode(ctx, k))
    kinds = REFERENCES.get((block, ctx.attr or ""))
    if kinds:
        return local + _names(k, kinds)
    expected = _attribute_type(ctx) or ""
    if expected == "`true` or `false`":
        return [_item("true", Kind.Keyword), _item("false", Kind.Keyword)]
    return [_item(f'"{c}"', Kind.EnumMember, detail=expected) for c in choices_of(expected)]


def _template_names(ctx: Context, k: Knowledge, kinds: tuple[str, ...]) -> list[types.CompletionItem]:
    """Inside a template's body: its parameters, and its own definitions of the kinds wanted."""
    template = next((name for kind, name in ctx.blocks if kind == "template"), None)
    if template is None or not kinds:
        return []
    items = [_item(p, Kind.Variable, detail="template parameter", sort=f"0{p}") for p in ctx.params]
    for keyword, name in ctx.defined:
        if keyword in kinds:
            items.append(_item(name, _KIND_ICONS.get(keyword, Kind.Reference), detail=f"{keyword} (here)"))
    return items


def _names(k: Knowledge, kinds: Iterable[str]) -> list[types.CompletionItem]:
    items = []
    for kind in kinds:
        for name, definition in k.program.definitions.get(kind, {}).items():
            items.append(
                _item(name, _KIND_ICONS.get(kind, Kind.Reference), detail=kind, doc=_where(definition.node.span))
            )
    return items


def _where(span: object) -> str | None:
    file = getattr(span, "file", None)
    return f"defined in `{Path(file).name}`" if file else None


def _metric_item(name: str, sort: str | None = None) -> types.CompletionItem:
    spec = BUILTIN_METRICS[name]
    params = ", ".join(f"{p}: {getattr(t, '__name__', t)}" for p, t in spec.params.items())
    detail = f"built-in ({'/'.join(sorted(spec.modes))})" + (f" — {params}" if params else "")
    return _item(name, Kind.Function, detail=detail, doc=spec.doc, sort=sort)


def _metrics(k: Knowledge, mode: str) -> list[types.CompletionItem]:
    """Metrics an eval in `mode` can list: built-ins of that mode, `metric` definitions, judges (generate)."""
    items = [_metric_item(n, f"1{n}") for n, s in BUILTIN_METRICS.items() if mode in s.modes]
    for name, definition in k.program.definitions["metric"].items():
        node = definition.node
        family = node.value if isinstance(node, ast.Assign) else None
        family_name = family.func if isinstance(family, ast.Call) else getattr(family, "name", "")
        spec = BUILTIN_METRICS.get(family_name)
        if spec is None or mode in spec.modes:
            items.append(_item(name, Kind.Function, detail=f"metric = {family_name}(...)", sort=f"0{name}"))
    if mode == "generate":
        for name in k.program.definitions["judge"]:
            items.append(_item(name, Kind.Event, detail="judge", sort=f"0{name}"))
    return items


def _eval_mode(ctx: Context, k: Knowledge) -> str:
    """The eval's mode as written now (the block may not compile yet), else as last compiled."""
    written = ctx.value("mode")
    if written is not None:
        return written
    ev = k.spec.evals.get(ctx.blocks[-1][1] or "") if ctx.blocks else None
    return ev.mode if ev is not None else "generate"


def _template_item(k: Knowledge, name: str) -> types.CompletionItem:
    info = k.spec.templates[name]
    required = [p for p, default in info.params if default is None]
    body = f"{name}(" + ", ".join(f"{p} = ${{{i}}}" for i, p in enumerate(required, 1)) + ")"
    signature = ", ".join(p if d is None else f"{p} = {d}" for p, d in info.params)
    item = _snippet(name, body, info.description, Kind.Module)
    item.detail = f"template {name}({signature})"
    return item


def template_param_kinds(k: Knowledge, template: str, param: str) -> tuple[str, ...]:
    """The kinds of definition a template parameter is used as (from the attributes its name is given to)."""
    definition = k.program.definitions["template"].get(template)
    node = definition.node if definition is not None else None
    if not isinstance(node, ast.TemplateDef):
        return ()
    found: list[str] = []

    def visit(kind: str, body: tuple[ast.Entry, ...]) -> None:
        for e in body:
            if isinstance(e, ast.Block):
                visit(e.keyword, e.body)
            elif isinstance(e, ast.Attribute):
                values = e.value.items if isinstance(e.value, ast.ListV) else (e.value,)
                if any(isinstance(v, ast.Ref) and v.name == param for v in values):
                    found.extend(REFERENCES.get((kind, e.name), ()))

    visit("template", node.body)
    return tuple(dict.fromkeys(found))


# ---- call arguments ----
def _arguments(ctx: Context, k: Knowledge) -> list[types.CompletionItem]:
    call = ctx.call or ""
    if ctx.attr == "assert" and call == "mean":
        return _assert_metrics(ctx, k)
    if ctx.assign is not None and ctx.assign[0] == "metric" and call in BUILTIN_METRICS:
        spec = BUILTIN_METRICS[call]
        return [
            _item(p, Kind.Variable, detail=getattr(t, "__name__", str(t)), insert=f"{p} = ")
            for p, t in spec.params.items()
            if p not in ctx.written
        ]
    info = k.spec.templates.get(call)
    if info is None:
        return []
    items = []
    for i, (param, default) in enumerate(info.params):
        if param not in ctx.written:
            detail = "required" if default is None else f"default {default}"
            items.append(_item(param, Kind.Variable, detail=detail, insert=f"{param} = ", sort=f"{i:03d}"))
    return items


def _assert_metrics(ctx: Context, k: Knowledge) -> list[types.CompletionItem]:
    ev = k.spec.evals.get(ctx.blocks[-1][1] or "") if ctx.blocks else None
    if ev is not None:
        return [_item(m.name, Kind.Function, detail="metric of this eval") for m in ev.metrics]
    return _metrics(k, _eval_mode(ctx, k))


# ---- imports ----
def _imports(path: Path, typed: str) -> list[types.CompletionItem]:
    items = []
    for file in sorted(stdlib_dir().glob("*.eval")):
        items.append(_item(f"std/{file.stem}", Kind.Module, detail="standard library", doc=_first_comment(file)))
    folder = path.parent
    for file in sorted(folder.glob("*.eval")):
        if file.resolve() != path:
            items.append(_item(f"./{file.name}", Kind.File, detail="file"))
    return items


def _first_comment(file: Path) -> str | None:
    try:
        first = file.read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return None
    return first.lstrip("# ").strip() or None


# ---- dataset fields ----
def _fields(ctx: Context, docs: Documents, k: Knowledge) -> list[types.CompletionItem]:
    source = field_source(ctx, k)
    if re.search(r"\|\s*[A-Za-z_]*\Z", ctx.source):
        return [_item(f, Kind.Function, detail="filter") for f in _FILTERS]
    after_row = re.search(r"\brow\s*\.\s*[A-Za-z_]*\Z", ctx.source) is not None
    items = [] if after_row else [_item(n, Kind.Variable, detail=what, sort=f"2{n}") for n, what in source.extra]
    for name, (detail, doc, everywhere) in fields_of(docs, k.spec, source.datasets).items():
        items.append(_item(name, Kind.Field, detail=detail, doc=doc, sort=f"{0 if everywhere else 1}{name}"))
    return items


def fields_of(docs: Documents, spec: Spec, datasets: tuple[str, ...]) -> dict[str, tuple[str, str, bool]]:
    """field → (type, where it comes from / an example, whether every dataset has it), over several datasets.

    A prompt used by evals on different datasets offers the union of their fields; fields that only some of the
    datasets have are listed after the others and say which datasets have them.
    """
    found: dict[str, list[tuple[str, str, object]]] = {}
    readable = 0
    for name in datasets:
        info = docs.dataset_fields(spec, name)
        if info is None:
            continue
        readable += 1
        row = info.example or {}
        for field, kind in info.types.items():
            found.setdefault(field, []).append((name, kind, row.get(field)))
    out = {}
    for field, seen in found.items():
        kinds = sorted({kind for _, kind, _ in seen if kind})
        everywhere = len(seen) == readable
        names = ", ".join(f"`{n}`" for n, _, _ in seen)
        example = next((repr(v) for _, _, v in seen if v is not None), None)
        doc = f"field of {names}" + ("" if everywhere else " only") + (f"\n\nexample: `{example}`" if example else "")
        out[field] = (" or ".join(kinds) or "field", doc, everywhere)
    return out


def field_source(ctx: Context, k: Knowledge) -> FieldSource:
    """Which datasets the template or expression at the cursor is rendered with."""
    blocks = ctx.blocks
    if any(kind == "template" for kind, _ in blocks):
        template = next(name for kind, name in blocks if kind == "template")
        info = k.spec.templates.get(template or "")
        params = tuple((p, "template parameter") for p, _ in info.params) if info else ()
        return FieldSource((), (("row", "the sample"), *params))
    row = (("row", "the sample"),)
    spec = k.spec
    kind, name = blocks[-1] if blocks else (ctx.assign or ("", ""))
    name = name or ""
    if kind == "eval":
        ev = spec.evals.get(name)
        dataset = ctx.value("dataset") if blocks else None
        return FieldSource((dataset,) if dataset else (ev.dataset.name,) if ev else (), row)
    if kind == "dataset":
        return FieldSource((name,), row)
    if kind == "prompt":
        users = [ev.dataset.name for ev in spec.evals.values() if ev.prompt is not None and ev.prompt.name == name]
        return FieldSource(tuple(dict.fromkeys(users)), row)
    if kind == "judge":
        users = [ev.dataset.name for ev in spec.evals.values() if any(m.name == name for m in ev.metrics)]
        return FieldSource(tuple(dict.fromkeys(users)), (*row, ("question", "the rendered question")))
    if kind == "model":
        users = [ev.dataset.name for ev in spec.evals.values() if any(m.name == name for m in ev.models)]
        return FieldSource(tuple(dict.fromkeys(users)), row)
    return FieldSource((), row)
