"""Check: choice and perplexity evals only use models that can give log-likelihoods (E307)."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from .context import CheckContext


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
    return out
