"""Check: asserts that cannot do their job — a threshold outside the metric's range (W361), a threshold of at most
1 on a 0–100 metric (W362, a fraction where a percentage is meant), and a gate that flips by chance (W360): at
the eval's sample count, the worst-case 95% CI half-width of the mean reaches from the threshold past the end
of the metric's range, so every true value on that side of the threshold may pass or fail by chance.

The half-width is worst-case: a metric bounded in [lo, hi] has a standard deviation of at most (hi − lo) / 2
(a 0–1 metric: a Bernoulli with p = 0.5), so the half-width is at most 1.96 · (hi − lo) / (2 √n). The sample
count is the dataset's rows capped by the limits; a `where` filter can only lower it, which widens the CI, so
the warning stays true."""

from __future__ import annotations

import math

from ...diagnostics import Diagnostic
from ...metrics import BUILTIN_METRICS, bind_params, metric_direction
from ..spec import AssertDef, EvalDef
from .context import CheckContext

Z95 = 1.959964
Range = tuple[float | None, float | None]


def worst_half_width(lo: float, hi: float, n: int) -> float:
    """The largest 95% CI half-width of the mean of n values in [lo, hi]."""
    return Z95 * (hi - lo) / 2 / math.sqrt(n)


def samples_needed(lo: float, hi: float, half_width: float) -> int:
    """The n at which the worst-case half-width is at most `half_width`."""
    return math.ceil((Z95 * (hi - lo) / 2 / half_width) ** 2)


def _range(ctx: CheckContext, name: str) -> Range | None:
    judge = ctx.spec.judges.get(name)
    if judge is not None:
        try:
            lo, hi = judge.config().range
            return float(lo), float(hi)
        except Exception:  # noqa: BLE001 - an inconsistent judge is reported by the judges check
            return None
    mdef = ctx.spec.metrics.get(name)
    family = mdef.family if mdef is not None else name
    if family not in BUILTIN_METRICS:
        return None
    params = bind_params(BUILTIN_METRICS[family], mdef.args, mdef.params)[0] if mdef is not None else {}
    return metric_direction(family, params)[1]


def _samples(ctx: CheckContext, ev: EvalDef) -> int | None:
    ds = ctx.spec.datasets.get(ev.dataset.name)
    profile = ctx.profile(ev.dataset.name)
    if ds is None or profile is None:
        return None
    caps = [profile.rows - profile.bad_count, *(c for c in (ds.limit, ev.limit) if c)]
    n = min(caps)
    return n if n > 0 else None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _gate(ctx: CheckContext, ev: EvalDef, a: AssertDef, n: int | None) -> Diagnostic | None:
    span = _range(ctx, a.metric.name)
    if span is None or span[0] is None or span[1] is None:
        return None
    lo, hi = float(span[0]), float(span[1])
    t, upward = a.threshold, a.op in (">", ">=")
    where = f"`{a.metric.name}` ranges over {_fmt(lo)}–{_fmt(hi)}"
    strict = a.op in (">", "<")
    if upward:
        never, always = t > hi or (t == hi and strict), t < lo or (t == lo and not strict)
    else:
        never, always = t < lo or (t == lo and strict), t > hi or (t == hi and not strict)
    if never or always:
        return Diagnostic(code="W361", severity="warning", span=a.span,
                          message=f"`{a.text}` {'can never pass' if never else 'always passes'}: {where}",
                          hint=f"use a threshold between {_fmt(lo)} and {_fmt(hi)}")  # fmt: skip
    if hi == 100 and lo == 0 and 0 < t <= 1:
        return Diagnostic(code="W362", severity="warning", span=a.span,
                          message=f"`{a.text}`: threshold {_fmt(t)} on a 0–100 metric looks like a fraction",
                          hint=f"{where}: {_fmt(t * 100)}% is written {_fmt(t * 100)}")  # fmt: skip
    if n is None:
        return None
    h = worst_half_width(lo, hi, n)
    gap = hi - t if upward else t - lo
    if h < gap:
        return None
    side = f"from {_fmt(max(lo, t - h))} to {_fmt(hi)}" if upward else f"from {_fmt(lo)} to {_fmt(min(hi, t + h))}"
    need = samples_needed(lo, hi, gap / 2) if gap > 0 else None
    return Diagnostic(
        code="W360", severity="warning", span=a.span,
        message=f"`{a.text}` flips by chance: at n = {n} the 95% CI of the mean is up to ±{_fmt(h)} wide, so a "
                f"true value anywhere {side} may pass or fail",
        hint=(f"use at least {need} samples (±{_fmt(gap / 2)}), or move the threshold away from the end of the "
              "range" if need else "a threshold at the end of the range passes only on a perfect score"),
    )  # fmt: skip


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ev in ctx.spec.evals.values():
        computed = ctx.metric_names(ev)
        gates = [a for a in ev.asserts if a.metric.name in computed]
        if not gates:
            continue
        n = _samples(ctx, ev)
        out += [d for a in gates if (d := _gate(ctx, ev, a, n)) is not None]
    return out
