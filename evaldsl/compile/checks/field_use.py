"""One template or expression + its dataset's profile → field diagnostics: a field no row has (E309), one only
some rows have read without a guard (E321; W306 in a mock model's reply), a value of the wrong type (E322), a
guard on a field no row has (W304)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ...datasets.profile import DatasetProfile, FieldProfile
from ...diagnostics import Diagnostic, Span, did_you_mean
from ..field_reads import FieldRead, field_reads, value_kinds
from ..spec import SampleValue

JINJA_GLOBALS = frozenset(
    {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none", "True", "False", "None"}
    | {"loop", "row"}
)
# What each per-sample attribute may evaluate to without failing at run time (see run/samples.py).
_ACCEPTED = {
    "choices": frozenset({"list"}),
    "labels": frozenset({"list", "int", "float", "str"}),
    "target": frozenset({"str", "list", "null"}),
    "incorrect": frozenset({"str", "list", "null"}),
}
_WANTED = {
    "choices": "a list",
    "labels": "a list of 0/1 or the index of the true choice",
    "target": "a string or a list of strings",
    "incorrect": "a string or a list of strings",
}
_FIX = {
    "choices": 'split a delimited string into a list: `{x} | split_list(";")`',
    "labels": "give a list of 0/1 per choice, or the index of the true choice",
    "target": 'for a number or a boolean, write a template: `"{{{{ {x} }}}}"`',
    "incorrect": 'for a number or a boolean, write a template: `"{{{{ {x} }}}}"`',
}
_DEFAULTS = {"list": "[]", "str": '""', "dict": "{}", "int": "0", "float": "0", "bool": "false"}


def check_reads(
    value: SampleValue,
    profile: DatasetProfile,
    context: str,
    *,
    extra: Iterable[str] = (),
    mock: bool = False,
    kept: Collection[str] = (),
) -> list[Diagnostic]:
    """Every field problem of one per-sample value; `extra`: other variables it may read (a judge's `question`).
    `mock`: the value is a mock model's `response`, whose failures are model errors by design (W306, not E321).
    `kept`: fields every sample has although some rows lack them (the dataset's `where` keeps only those rows)."""
    names = list(profile.fields)
    known = set(names)
    skip = set(extra) | set(value.params) | JINJA_GLOBALS
    reads = field_reads(value.source, value.kind == "expr", value.params)
    out: list[Diagnostic] = []
    # Fields no row has, read without a guard (E309): plain names first, then `row.x` and `row[param]` reads.
    unknown = [r for r in reads if r.name not in known and not (r.written == r.name and r.name in skip)]
    failing = {(r.name, r.written) for r in unknown if not r.guarded}
    order = sorted(failing, key=lambda nw: (nw[1] != nw[0], nw[0]))
    by_written = {(r.name, r.written): r for r in unknown}
    for name, written in order:
        out.append(_not_a_field(by_written[(name, written)], value, names, context))
    guarded_only = sorted({r.name for r in unknown if r.guarded} - {n for n, _ in failing})
    for name in guarded_only:
        read = next(r for r in unknown if r.name == name)
        out.append(
            Diagnostic(
                code="W304",
                severity="warning",
                message=f"no row of {context} has `{name}`: the guard always takes its fallback",
                span=_span(read, value),
                hint=did_you_mean(name, names) or f"fields: {', '.join(names) or '(none)'}",
            )
        )
    reported: set[str] = set()
    for read in reads:
        found = profile.field(read.name) if read.name in known else None
        if found is None or (read.written == read.name and read.name in skip):
            continue
        partial = found.presence == "some" and not found.derived and read.name not in kept
        if partial and not read.guarded and read.name not in reported:
            reported.add(read.name)
            out.append(_partial(read, found, value, context, mock))
        if read.method and not read.type_tested and (problem := _method_problem(read, found)):
            out.append(Diagnostic(code="E322", message=problem, span=_span(read, value), hint=_method_hint(read)))
    return out


def check_shape(attr: str, value: SampleValue, profile: DatasetProfile, context: str) -> list[Diagnostic]:
    """E322 when an eval's `choices`/`labels`/`target`/`incorrect` expression plainly gives a type its mode
    cannot use (e.g. `choices` reading a field that is a string)."""
    accepted = _ACCEPTED.get(attr)
    if accepted is None or value.kind != "expr":
        return []

    def field_kinds(name: str) -> frozenset[str] | None:
        found = profile.field(name)
        return frozenset(found.types) if found is not None and found.types else None

    kinds = value_kinds(value.source, value.params, field_kinds)
    if not kinds or kinds <= accepted:
        return []
    wrong = sorted(kinds - accepted)
    reads = field_reads(value.source, True, value.params)
    source = profile.field(reads[0].name) if len(reads) == 1 else None
    if source is not None and source.types:
        counts = ", ".join(f"{t} in {source.types[t]} of {source.rows} rows" for t in wrong if t in source.types)
        detail = f"`{reads[0].written}` is {counts}"
        example = reads[0].written
    else:
        detail = f"it gives {' or '.join(wrong)}"
        example = "row.field"
    return [
        Diagnostic(
            code="E322",
            message=f"`{attr}` must be {_WANTED[attr]}, but {detail} of {context}",
            span=value.span,
            hint=_FIX[attr].format(x=example),
        )
    ]


def _span(read: FieldRead, value: SampleValue) -> Span:
    """Where to point: at the template argument that named the field, else at the value."""
    return value.param_spans.get(read.param, value.span) if read.param else value.span


def _not_a_field(read: FieldRead, value: SampleValue, names: list[str], context: str) -> Diagnostic:
    hint = did_you_mean(read.name, names) or f"fields: {', '.join(names) or '(none)'}"
    if read.param is not None:
        message = (
            f"`{read.name}` (template argument `{read.param}`, read as `{read.written}`) is not a field of {context}"
        )
    elif read.written == read.name:
        message = f"`{read.name}` is not a field of {context}"
    else:
        message = f"`row.{read.name}` is not a field of {context}"
    return Diagnostic(code="E309", message=message, span=_span(read, value), hint=hint)


def _partial(read: FieldRead, found: FieldProfile, value: SampleValue, context: str, mock: bool) -> Diagnostic:
    common = sorted((t for t in found.types if t != "null"), key=lambda t: -found.types[t])
    fallback = _DEFAULTS.get(common[0], "none") if common else "none"
    written = read.written if not read.written.startswith('"') else f"row[{read.written}]"
    message = f"`{read.name}` is missing from {found.missing} of {found.rows} rows of {context}"
    hint = f"guard the read: `{written} | default({fallback})`, or test `\"{read.name}\" in row` first"
    if mock:
        message += ": the mock model's reply fails on those rows (counted as model errors)"
        return Diagnostic(code="W306", severity="warning", message=message, span=_span(read, value), hint=hint)
    return Diagnostic(code="E321", message=message, span=_span(read, value), hint=hint)


def _method_problem(read: FieldRead, found: FieldProfile) -> str | None:
    others = {t: n for t, n in found.types.items() if t != "str"}
    if not others:
        return None
    counts = ", ".join(f"{t} in {n} row{'s' if n != 1 else ''}" for t, n in sorted(others.items()))
    return f"`{read.written}.{read.method}(...)` needs a string, but `{read.name}` is {counts}"


def _method_hint(read: FieldRead) -> str:
    x = read.written
    return f"handle the other types first, e.g. `{x}.{read.method}(...) if {x} is string else ...`"
