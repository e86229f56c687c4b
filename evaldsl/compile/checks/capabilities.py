"""Check: choice and perplexity evals only use models that can give log-likelihoods (E307); a local model
set to half precision on a CPU is flagged (W307)."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from .context import CheckContext

HALF_DTYPES = ("float16", "bfloat16")


def check(ctx: CheckContext) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ev in ctx.spec.evals.values():
        if ev.mode == "generate":
            continue
        for ref in ev.models:
            model = ctx.spec.models.get(ref.name)
            if model is not None and not model.config.supports_loglikelihood:
                out.append(
                    Diagnostic(
                        code="E307",
                        message=f"model `{ref.name}` ({model.config.provider}) cannot give log-likelihoods, "
                        f"which {ev.mode} mode needs",
                        span=ref.span,
                        hint='use a local model (provider = "hf") for choice and perplexity evals',
                    )
                )
    return out + _half_precision_on_cpu(ctx)


def _half_precision_on_cpu(ctx: CheckContext) -> list[Diagnostic]:
    """`dtype = "bfloat16"`/`"float16"` with `device = "cpu"`: its scores drift from float32 runs, and it is
    slower than float32 on CPUs without native bfloat16 instructions."""
    out: list[Diagnostic] = []
    for model in ctx.spec.models.values():
        config = model.config
        if config.provider == "hf" and config.dtype in HALF_DTYPES and config.device.strip().lower() == "cpu":
            out.append(
                Diagnostic(
                    code="W307",
                    severity="warning",
                    message=f"model `{model.name}` runs in {config.dtype} on a CPU",
                    span=model.span,
                    hint="scores differ from float32 runs, and it is only faster on CPUs with native bfloat16 "
                    '(AVX-512 BF16, AMX); elsewhere it was 2.5× slower: leave `dtype` unset for "float32"',
                )
            )
    return out
