"""Check structured-output and repeat metrics: an extractor's (or pass_at's...) `metric` names a metric that
can score text (E370, also cycles), a `json_schema` schema is a valid schema from inside the project (E371),
an extractor's path or regex compiles (E372), and a repeat metric fits its eval's `epochs` (E380, W370)."""

from __future__ import annotations

from ...diagnostics import Diagnostic, did_you_mean
from ...metrics import BUILTIN_METRICS, EXTRACTORS, REPEATS, MetricError, bind_params
from ...metrics.structured import compile_pattern, load_schema, parse_path
from ...project import is_within, project_root
from ..spec import MetricDef
from .context import CheckContext


def _inner(ctx: CheckContext, m: MetricDef, chain: tuple[str, ...]) -> Diagnostic | None:
    """Whether the metric named by `m`'s `metric` parameter can score the extracted text."""
    target = m.params.get("metric", "exact_match")
    span = m.ref_spans.get("metric", m.call_span or m.family_span)
    if not isinstance(target, str):
        return None  # a wrong type: E318 from the metrics check
    spec = ctx.spec
    if target in chain:
        cycle = " → ".join((*chain, target))
        return Diagnostic(code="E370", message=f"metric `{m.name}` scores its part with itself ({cycle})", span=span)
    inner = spec.metrics.get(target)
    if inner is not None:
        if inner.family in EXTRACTORS | REPEATS:
            return _inner(ctx, inner, (*chain, target))
        family = BUILTIN_METRICS.get(inner.family)
    elif target in spec.judges:
        return Diagnostic(
            code="E370",
            message=f"metric `{m.name}`: a judge (`{target}`) cannot score an extracted part",
            span=span,
            hint="list the judge in the eval's metrics: it sees the whole reply",
        )
    else:
        family = BUILTIN_METRICS.get(target)
        if family is None and target not in ctx.broken:
            known = [*BUILTIN_METRICS, *spec.metrics]
            return Diagnostic(
                code="E370",
                message=f"metric `{m.name}`: unknown metric `{target}` to score the extracted part",
                span=span,
                hint=did_you_mean(target, known) or "e.g. metric = exact_match",
            )
    if family is not None and "generate" not in family.modes:
        return Diagnostic(
            code="E370",
            message=f"metric `{m.name}`: `{target}` scores {'/'.join(sorted(family.modes))} mode, not text",
            span=span,
        )
    return None


def _own(ctx: CheckContext, m: MetricDef) -> Diagnostic | None:
    """The extractor's path or regex, or the json_schema's schema."""
    family = BUILTIN_METRICS[m.family]
    params, problem = bind_params(family, m.args, m.params)
    if problem:
        return None  # E318 from the metrics check
    span = m.call_span or m.family_span
    try:
        if m.family == "json_field":
            parse_path(params["path"])
        elif m.family == "extract":
            compile_pattern(params["regex"], m.name)
        elif m.family == "json_schema":
            schema = params["schema"]
            if isinstance(schema, str):
                path = m.base_dir / schema
                root = project_root(ctx.spec.path)
                if not is_within(path, [root]):
                    return Diagnostic(
                        code="E371",
                        message=f"metric `{m.name}`: the schema file {schema!r} is outside the project",
                        span=span,
                        hint="keep schema files inside the project, or write the schema inline as a map",
                    )
            load_schema(schema, m.base_dir)
    except MetricError as exc:
        code = "E371" if m.family == "json_schema" else "E372"
        return Diagnostic(code=code, message=f"metric `{m.name}`: {exc}", span=span)
    return None


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for m in ctx.spec.metrics.values():
        if m.family not in ("json_schema", *EXTRACTORS, *REPEATS):
            continue
        for found in (_own(ctx, m), _inner(ctx, m, (m.name,)) if m.family in EXTRACTORS | REPEATS else None):
            if found is not None:
                out.append(found)
    return out + _epochs(ctx)


def _epochs(ctx: CheckContext) -> list[Diagnostic]:
    """pass_at(k) / pass_all(k) need k attempts per sample; attempt_variance needs two."""
    out: list[Diagnostic] = []
    for ev in ctx.spec.evals.values():
        for ref in ev.metrics:
            m = ctx.spec.metrics.get(ref.name)
            if m is None or m.family not in REPEATS:
                continue
            params, problem = bind_params(BUILTIN_METRICS[m.family], m.args, m.params)
            if problem:
                continue
            k = params.get("k", 2 if m.family == "attempt_variance" else 1)
            if not isinstance(k, int) or k <= ev.epochs:
                continue
            if m.family == "attempt_variance":
                out.append(Diagnostic(code="W370", severity="warning", span=ref.span,
                                      message=f"`{ref.name}` needs at least 2 attempts per sample; eval "
                                              f"`{ev.name}` makes {ev.epochs}: it scores nothing",
                                      hint="set `epochs = 2` or more on the eval"))  # fmt: skip
            else:
                out.append(Diagnostic(code="E380", span=ref.span,
                                      message=f"`{ref.name}` = {m.family}({k}) needs {k} attempts per sample; eval "
                                              f"`{ev.name}` makes {ev.epochs}",
                                      hint=f"set `epochs = {k}` or more on the eval (more attempts give a "
                                           "tighter estimate)"))  # fmt: skip
    return out
