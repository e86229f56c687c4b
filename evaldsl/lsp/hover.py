"""Hover: an attribute's documentation and type, a metric's definition, range and direction, a dataset's fields
and an example row, a template's signature, a model's provider and settings, a field's type."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..compile.model_config import ModelConfig
from ..compile.spec import SampleValue, Spec
from ..metrics import BUILTIN_METRICS
from .completion import field_source, fields_of
from .documents import Documents
from .index import Definition, Index, Occurrence
from .scan import context_at
from .schema import ATTRIBUTE_DOCS, STATEMENT_SNIPPETS, block_schema, lower_is_better, metric_range

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def hover(docs: Documents, index: Index, path: Path, text: str, offset: int, line: int, column: int) -> str | None:
    """Markdown describing what is under the cursor (1-based line and column), or None."""
    field = _field(docs, path, text, offset)
    if field is not None:
        return field
    occ = index.at(path, line, column)
    if occ is None:
        return None
    spec = docs.knowledge(path).spec
    if occ.role == "attr":
        return _attribute(occ.owner or "", occ.name)
    if occ.role == "keyword":
        known = STATEMENT_SNIPPETS.get(occ.name)
        return f"**{occ.name}** — {known[1]}" if known else None
    if occ.role == "family":
        if occ.kinds == ("aggregate",):
            return "**mean** — the mean of the metric over the scored samples"
        return builtin_metric(occ.name)
    if occ.role == "import":
        return _import(docs, occ)
    if occ.role == "ref" and occ.kinds != ("param",) and "metric" in occ.kinds and occ.name in BUILTIN_METRICS:
        if index.resolve(path, occ) is None:
            return builtin_metric(occ.name)
    target = index.resolve(path, occ)
    if target is None:
        return None
    if target.path != path and target.occurrence.scope is None:
        spec = _spec_with(docs, path, target)
    return definition(docs, spec, target)


def _spec_with(docs: Documents, path: Path, target: Definition) -> Spec:
    """The compiled spec that holds the target: the current file's, else the defining file's."""
    spec = docs.knowledge(path).spec
    table = _table(spec, target.kind)
    if table is not None and target.name in table:
        return spec
    return docs.knowledge(target.path).spec


def _table(spec: Spec, kind: str) -> dict[str, object] | None:
    return {
        "dataset": spec.datasets,
        "model": spec.models,
        "prompt": spec.prompts,
        "metric": spec.metrics,
        "judge": spec.judges,
        "eval": spec.evals,
        "template": spec.templates,
    }.get(kind)  # type: ignore[return-value]


def _attribute(kind: str, name: str) -> str | None:
    schema = block_schema(kind)
    expected = schema.attributes.get(name) if schema else None
    if expected is None:
        return None
    doc = ATTRIBUTE_DOCS.get(kind, {}).get(name, "")
    return f"**{name}** ({kind}): {expected}\n\n{doc}".strip()


def builtin_metric(name: str) -> str | None:
    spec = BUILTIN_METRICS.get(name)
    if spec is None:
        return None
    params = ", ".join(f"{p}: {getattr(t, '__name__', t)}" for p, t in spec.params.items())
    lines = [
        f"**{name}** — built-in metric ({'/'.join(sorted(spec.modes))} mode)",
        "",
        spec.doc,
        "",
        f"Range: {metric_range(name)}; {_direction(name)}.",
    ]
    if params:
        lines.append(f"Parameters: {params}.")
    return "\n".join(lines)


def _direction(name: str) -> str:
    return "lower is better" if lower_is_better(name) else "higher is better"


def definition(docs: Documents, spec: Spec, target: Definition) -> str | None:
    """The hover of a defined name."""
    kind, name = target.kind, target.name
    if kind == "param":
        return _param(docs, target)
    if target.occurrence.scope is not None:
        scope = target.occurrence.scope
        return f"**{kind} {name}** — defined in template `{scope}`: each instance has its own, `INSTANCE.{name}`"
    render = {
        "dataset": _dataset,
        "model": _model,
        "prompt": _prompt,
        "metric": _metric,
        "judge": _judge,
        "eval": _eval,
        "template": _template,
    }[kind]
    table = _table(spec, kind) or {}
    if kind == "eval" and name not in table:
        made = [n for n in spec.evals if n.startswith(name + ".")]
        if made:  # a template instance: the evals it makes
            return f"**eval {name}** — a template instance: " + ", ".join(f"`{n}`" for n in made)
    if name not in table:
        return f"**{kind} {name}** (defined in `{target.path.name}`; it does not compile yet)"
    return render(docs, spec, name)  # type: ignore[operator]


def _dataset(docs: Documents, spec: Spec, name: str) -> str:
    ds = spec.datasets[name]
    rows = len(ds.rows or ())
    origin = (f"`{ds.path.name}`" if ds.path is not None else f"Hugging Face `{ds.hf}`" if ds.hf is not None
              else f"{rows} inline row{'s' if rows != 1 else ''}")  # fmt: skip
    lines = [f"**dataset {name}** — {origin}"]
    extras = [f"{k} {v}" for k, v in (("limit", ds.limit), ("shuffle", ds.shuffle)) if v is not None]
    if ds.where is not None:
        extras.append(f"where `{ds.where.source}`")
    if extras:
        lines.append(", ".join(extras))
    info = docs.dataset_fields(spec, name)
    if info is None:
        lines.append("\nFields: unknown (the data cannot be read)")
        return "\n".join(lines)
    lines += ["", "| field | type |", "| --- | --- |"]
    lines += [f"| {f} | {t or '?'} |" for f, t in info.types.items()]
    if info.example is not None:
        example = json.dumps(info.example, ensure_ascii=False, default=str)
        if len(example) > 400:
            example = example[:400] + "…"
        lines += ["", "Example row:", "```json", example, "```"]
    return "\n".join(lines)


def _model(docs: Documents, spec: Spec, name: str) -> str:
    config = spec.models[name].config
    defaults = ModelConfig(name=name, provider=config.provider)
    given = config.model_dump(exclude={"name", "provider", "id", "generation"}) | config.generation.model_dump()
    usual = defaults.model_dump(exclude={"name", "provider", "id", "generation"}) | defaults.generation.model_dump()
    settings = [
        f"{key} = {json.dumps(value) if isinstance(value, str) else value}"
        for key, value in given.items()
        if key not in usual or value != usual[key]  # (settings left unset are not dumped)
    ]
    head = f"**model {name}** — provider `{config.provider}`" + (f", id `{config.id}`" if config.id else "")
    return head + ("\n\nSettings: " + ", ".join(settings) if settings else "\n\nDefault settings.")


def _sample(value: SampleValue | None) -> str:
    if value is None:
        return "—"
    return f"`{value.source}`" if value.kind == "expr" else json.dumps(value.source or value.value)


def _prompt(docs: Documents, spec: Spec, name: str) -> str:
    p = spec.prompts[name]
    parts = [f"**prompt {name}**"]
    if p.system is not None:
        parts.append(f"system: {_sample(p.system)}")
    parts.append(f"user: {_sample(p.user)}")
    if p.fewshot is not None:
        parts.append(f"fewshot: {p.fewshot.k} from `{p.fewshot.dataset.name}` (seed {p.fewshot.seed})")
    return "\n\n".join(parts)


def _metric(docs: Documents, spec: Spec, name: str) -> str:
    m = spec.metrics[name]
    args = [json.dumps(a) for a in m.args] + [f"{k} = {json.dumps(v)}" for k, v in m.params.items()]
    head = f"**metric {name}** = {m.family}({', '.join(args)})"
    base = builtin_metric(m.family)
    return head + ("\n\n" + base if base else "")


def _judge(docs: Documents, spec: Spec, name: str) -> str:
    j = spec.judges[name]
    if j.choices:
        scores = ", ".join(f"{label} = {score}" for label, score in j.choices.items())
        values = f"labels {scores}"
    elif j.scale:
        values = f"an integer score from {j.scale[0]} to {j.scale[1]}"
    else:
        values = "win/tie/loss between the eval's first two models"
    lines = [
        f"**judge {name}** — model `{j.model.name}`, {j.mode}",
        "",
        f"Range: {values}; higher is better.",
        "",
        f"rubric: {_sample(j.rubric)}",
    ]
    if j.votes > 1:
        lines.append(f"\nvotes: {j.votes}")
    return "\n".join(lines)


def _eval(docs: Documents, spec: Spec, name: str) -> str:
    ev = spec.evals[name]
    models = ", ".join(m.name for m in ev.models)
    metrics = ", ".join(m.name for m in ev.metrics) or "none"
    return f"**eval {name}** — {ev.mode} mode\n\ndataset `{ev.dataset.name}`, models {models}\n\nmetrics: {metrics}"


def _template(docs: Documents, spec: Spec, name: str) -> str:
    info = spec.templates[name]
    params = ", ".join(p if d is None else f"{p} = {d}" for p, d in info.params)
    text = f"```\ntemplate {name}({params})\n```"
    return text + (f"\n\n{info.description}" if info.description else "")


def _param(docs: Documents, target: Definition) -> str:
    template = target.occurrence.scope or ""
    spec = docs.knowledge(target.path).spec
    info = spec.templates.get(template)
    default = dict(info.params).get(target.name) if info else None
    what = "required" if default is None else f"default {default}"
    return f"**{target.name}** — parameter of template `{template}` ({what})"


def _import(docs: Documents, occ: Occurrence) -> str:
    if occ.target is None:
        return f"`{occ.name}`: not found"
    knowledge = docs.knowledge(occ.target)
    spec = knowledge.spec
    lines = [f"**import** `{occ.name}` → `{occ.target.name}`", ""]
    own = [
        f"{kind} `{name}`"
        for kind, table in knowledge.program.definitions.items()
        for name, d in table.items()
        if kind != "template" and Path(d.node.span.file) == occ.target and "." not in name
    ]
    if own:
        lines.append("Defines " + ", ".join(own) + ".")
    for info in spec.templates.values():
        params = ", ".join(p if d is None else f"{p} = {d}" for p, d in info.params)
        lines.append(f"- template `{info.name}({params})`" + (f": {info.description}" if info.description else ""))
    return "\n".join(lines)


def _field(docs: Documents, path: Path, text: str, offset: int) -> str | None:
    """A dataset field under the cursor inside `{{ }}` or backticks."""
    for m in _WORD.finditer(text, max(0, offset - 64), offset + 64):
        if m.start() <= offset <= m.end():
            break
    else:
        return None
    ctx = context_at(text, m.end())
    if ctx.where not in ("template", "expression"):
        return None
    knowledge = docs.knowledge(path)
    fields = fields_of(docs, knowledge.spec, field_source(ctx, knowledge).datasets)
    if m.group() not in fields:
        return None
    kind, doc, _ = fields[m.group()]
    return f"**{m.group()}**: {kind}\n\n{doc}"
