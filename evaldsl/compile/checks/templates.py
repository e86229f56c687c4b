"""Check: Jinja templates and expressions compile (E308) and nest at most MAX_TEMPLATE_DEPTH deep (E004), stay in
the sandbox (E314), and read the dataset's fields as its rows have them (E309, E321, E322, W304: see field_use)."""

from __future__ import annotations

from functools import lru_cache

from ...datasets.profile import derived_field
from ...diagnostics import Diagnostic, Span
from .. import templating
from ..field_reads import required_fields
from ..spec import EvalDef, SampleValue
from .context import CheckContext
from .field_use import check_reads, check_shape

# The same template source recurs across evals, template instances and checks: analyse each one once.
# (Pure functions of their arguments; the results are immutable.)
template_syntax_error = lru_cache(maxsize=8192)(templating.template_syntax_error)
expression_syntax_error = lru_cache(maxsize=8192)(templating.expression_syntax_error)
unsafe_attribute = lru_cache(maxsize=8192)(templating.unsafe_attribute)


JUDGE_VARIABLES = {"question"}  # judges also see the rendered question; never the judged output
_MODE_SHAPES = {"generate": {"target", "incorrect"}, "choice": {"choices", "labels"}, "perplexity": set()}


def _syntax(value: SampleValue) -> Diagnostic | None:
    if value.kind not in ("template", "expr"):
        return None
    template = value.kind == "template"
    problem = (template_syntax_error if template else expression_syntax_error)(value.source)
    if problem is None:
        return None
    span = value.span
    if template:
        # A multi-line string drops a blank first and last line: when the source spans two lines more than
        # the value, the value's line 1 is the string's second source line.
        raw_lines = value.span.end_line - value.span.line + 1
        first_dropped = 1 if raw_lines - (value.source.count("\n") + 1) >= 2 else 0
        line = min(value.span.line + first_dropped + problem.line - 1, value.span.end_line)
        span = value.span if line == value.span.line else Span.point(value.span.file, line, 1)
    what = "template" if template else "expression"
    if problem.too_deep:
        return Diagnostic(
            code="E004",
            message=f"{what} {problem.message}",
            span=span,
            hint="split it up: set parts with `{% set %}`, or derive them with `field` in the dataset",
        )
    if template:
        return Diagnostic(
            code="E308",
            message=f"template syntax error: {problem.message}",
            span=span,
            hint=problem.hint or "check `{{ ... }}` and `{% ... %}` pairs",
        )
    return Diagnostic(
        code="E308",
        message=f"expression syntax error: {problem.message}",
        span=span,
        hint=problem.hint or 'a backtick holds one Jinja expression, e.g. `row.answer.split("; ")`',
    )


def _unsafe(value: SampleValue) -> Diagnostic | None:
    name = unsafe_attribute(value.source, value.kind == "expr")
    if name is None:
        return None
    return Diagnostic(
        code="E314",
        message=f"unsafe access to `{name}`: templates run in a sandbox",
        span=value.span,
        hint="names starting with `_` are not reachable from a spec; use a `python(...)` metric for custom code",
    )


def _kept(where: SampleValue | None, broken: set[int]) -> frozenset[str]:
    """Fields a dataset's `where` requires (`"aliases" in row`): every sample has them."""
    if where is None or where.kind != "expr" or id(where) in broken:
        return frozenset()
    return required_fields(where.source, where.params)


def _eval_values(ctx: CheckContext, ev: EvalDef) -> list[tuple[SampleValue, str]]:
    """(value, where it comes from) for every per-sample value an eval renders."""
    values: list[tuple[SampleValue, str]] = []
    for attr in ("target", "incorrect", "choices", "labels", "contexts", "text", "inline_prompt"):
        v = getattr(ev, attr)
        if v is not None:
            values.append((v, attr))
    if ev.prompt is not None and ev.prompt.name in ctx.spec.prompts:
        prompt = ctx.spec.prompts[ev.prompt.name]
        for part in (prompt.user, prompt.system, prompt.messages):
            if part is not None:
                values.append((part, f"prompt {prompt.name}"))
    return values


def check(ctx: CheckContext) -> list[Diagnostic]:
    spec = ctx.spec
    out: list[Diagnostic] = []
    broken: set[int] = set()  # ids of values with syntax/safety errors: no field check for them

    def basic(value: SampleValue) -> None:
        if value.kind == "const" or id(value) in broken:
            return
        for d in (_syntax(value),):
            if d is not None:
                out.append(d)
                broken.add(id(value))
                return
        d = _unsafe(value)
        if d is not None:
            out.append(d)
            broken.add(id(value))

    # A mock model's `response` is rendered with each sample's fields: a template checked like a prompt.
    responses = {
        name: SampleValue(kind="template", source=m.config.response, span=m.value_spans.get("response", m.span))
        for name, m in spec.models.items()
        if m.config.response
    }
    all_values: list[SampleValue] = list(responses.values())
    for ds in spec.datasets.values():
        all_values += [v for v in (ds.where,) if v is not None] + [v for _, v in ds.fields]
    for p in spec.prompts.values():
        all_values += [v for v in (p.system, p.user, p.messages) if v is not None]
    for j in spec.judges.values():
        all_values += [v for v in (j.rubric, j.reference, j.human) if v is not None]
    for ev in spec.evals.values():
        all_values += [v for v, _ in _eval_values(ctx, ev)]
    checked: set[int] = set()
    for v in all_values:
        if id(v) not in checked:
            checked.add(id(v))
            basic(v)

    reported: set[tuple[str, int, int, str]] = set()

    def add_unique(diags: list[Diagnostic]) -> None:
        for d in diags:
            assert d.span is not None
            key = (d.span.file, d.span.line, d.span.column, d.message)
            if key not in reported:
                reported.add(key)
                out.append(d)

    for ds in spec.datasets.values():
        profile = ctx.profile(ds.name, derived=False)
        if profile is None:
            continue
        for name, value in ds.fields:  # each derived field sees the fields before it
            if value.kind != "const" and id(value) not in broken:
                add_unique(check_reads(value, profile, f"dataset `{ds.name}` (before field `{name}`)"))
            profile = profile.with_fields([derived_field(name, value, profile)])
        if ds.where is not None and ds.where.kind != "const" and id(ds.where) not in broken:
            add_unique(check_reads(ds.where, profile, f"dataset `{ds.name}`"))
    for ev in spec.evals.values():
        profile = ctx.profile(ev.dataset.name)
        if profile is None:
            continue
        context = f"dataset `{ev.dataset.name}` (used by eval `{ev.name}`)"
        kept = _kept(spec.datasets[ev.dataset.name].where, broken)
        for value, attr in _eval_values(ctx, ev):
            if value.kind != "const" and id(value) not in broken:
                add_unique(check_reads(value, profile, context, kept=kept))
                if attr in _MODE_SHAPES[ev.mode]:
                    add_unique(check_shape(attr, value, profile, context))
        for ref in ev.models:
            response = responses.get(ref.name)
            if response is not None and id(response) not in broken:
                add_unique(check_reads(response, profile, context, mock=True, kept=kept))
        for ref in ev.metrics:
            judge = spec.judges.get(ref.name)
            if judge is None:
                continue
            for part in (judge.rubric, judge.reference, judge.human):
                if part is not None and part.kind != "const" and id(part) not in broken:
                    add_unique(check_reads(part, profile, context, extra=JUDGE_VARIABLES, kept=kept))
    return out
