"""Check: judges fit the evals that use them (E317 pairwise needs two models, W301 self-judging, W303 votes) and
their models can give what `verdict = "likelihood"` needs (E341)."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ..model_config import ModelConfig
from .context import CheckContext


def check(ctx: CheckContext) -> list[Diagnostic]:
    spec = ctx.spec
    out: list[Diagnostic] = []
    for judge in spec.judges.values():
        model = spec.models.get(judge.model.name)
        if judge.verdict == "likelihood" and model is not None and not _scores_verdicts(model.config):
            out.append(
                Diagnostic(
                    code="E341",
                    message=f"judge `{judge.name}` reads its verdict by likelihood, but model `{model.name}` "
                    f"({model.config.provider}) cannot score replies",
                    span=judge.span,
                    hint='use a local model (provider = "hf"), an API model with `logprobs = true`, '
                    'or `verdict = "parsed"`',
                )
            )
        if judge.votes > 1 and model is not None and model.config.generation.temperature == 0:
            out.append(
                Diagnostic(
                    code="W303",
                    severity="warning",
                    message=f"judge `{judge.name}` takes {judge.votes} votes at temperature 0",
                    span=judge.span,
                    hint="identical votes add nothing; raise the judge model's temperature or set votes = 1",
                )
            )
    for ev in spec.evals.values():
        for ref in ev.metrics:
            used = spec.judges.get(ref.name)
            if used is None:
                continue
            judge = used
            if judge.mode == "pairwise" and len(ev.models) < 2:
                out.append(
                    Diagnostic(
                        code="E317",
                        message=f"pairwise judge `{judge.name}` needs at least two models in eval `{ev.name}`",
                        span=ref.span,
                        hint="it compares the eval's first two models per sample",
                    )
                )
            if judge.model.name in {m.name for m in ev.models}:
                out.append(
                    Diagnostic(
                        code="W301",
                        severity="warning",
                        message=f"model `{judge.model.name}` judges its own outputs in eval `{ev.name}`",
                        span=ref.span,
                        hint="self-judging is biased; prefer a different judge model",
                    )
                )
    return out


def _scores_verdicts(model: ModelConfig) -> bool:
    """Local models score any reply; API models through token log-probabilities (`logprobs = true`)."""
    return model.supports_loglikelihood or (model.provider == "litellm" and model.logprobs)
