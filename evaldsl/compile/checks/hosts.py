"""Check: credentials of the environment go only to servers the user allows (E333). A model that names its own
server — litellm's `api_base`, or an `http` model's `url` when its headers read environment variables — sends
that server the API key or the variables of the environment, so a spec from someone else could collect them; so
does an `embedding_similarity(api = ..., api_base = ...)` metric.
The server must be this machine (`localhost`, a loopback address) or a host the user named with `--allow-host`
(or EVALDSL_ALLOW_HOST); `extra` may not choose a server at all. The provider's default endpoints (no
`api_base`) need no grant."""

from __future__ import annotations

from ...access import url_host
from ...diagnostics import Diagnostic, Span
from ...metrics import BUILTIN_METRICS, bind_params
from ..spec import MetricDef, ModelDef
from .context import CheckContext

CODE = "E333"
# `extra` keys that decide where a litellm request goes, or what it carries besides the call's arguments.
_ROUTING_WORDS = ("url", "api_base", "endpoint", "host", "header", "proxy", "custom_llm_provider")


def _hint(host: str) -> str:
    return (
        "run specs you did not write only with keys meant for them; to send this server the credentials of the "
        f"environment, allow it: `evaldsl run --allow-host {host}` (or EVALDSL_ALLOW_HOST={host})"
    )


def _api_base(ctx: CheckContext, who: str, api_base: str, span: Span) -> Diagnostic | None:
    host = url_host(api_base)
    if host is None:
        return Diagnostic(code=CODE, message=f"{who} has `api_base = {api_base!r}`, which is not an http:// or "
                          "https:// URL", span=span, hint='e.g. api_base = "http://127.0.0.1:8000/v1"')  # fmt: skip
    if ctx.access.allows_host(host):
        return None
    message = f"{who} sends its requests, with the API key of the environment, to `{host}`, which is not this machine"
    return Diagnostic(code=CODE, message=message + " nor an allowed host", span=span, hint=_hint(host))


def _metric(ctx: CheckContext, metric: MetricDef) -> Diagnostic | None:
    if metric.family != "embedding_similarity":
        return None
    params, problem = bind_params(BUILTIN_METRICS[metric.family], metric.args, metric.params)
    api_base = params.get("api_base")
    if problem is not None or not isinstance(api_base, str) or not params.get("api"):
        return None  # E318 (reported by the metrics check), or a local encoder: no request leaves
    return _api_base(ctx, f"metric `{metric.name}`", api_base, metric.call_span or metric.span)


def _model(ctx: CheckContext, model: ModelDef) -> list[Diagnostic]:
    config, out = model.config, []

    def bad(message: str, hint: str, attr: str) -> None:
        span = model.value_spans.get(attr, model.span)
        out.append(Diagnostic(code=CODE, message=f"model `{model.name}` {message}", span=span, hint=hint))

    if config.provider == "litellm":
        if config.api_base:
            found = _api_base(ctx, f"model `{model.name}`", config.api_base,
                              model.value_spans.get("api_base", model.span))  # fmt: skip
            out += [found] if found else []
        routing = sorted(k for k in config.extra if any(word in k.lower() for word in _ROUTING_WORDS))
        if routing:
            bad(f"sets {', '.join(f'`{k}`' for k in routing)} in `extra`, which would decide where its requests "
                "and the API key go", "name the server with `api_base`, which `check` verifies", "extra")  # fmt: skip
    elif config.provider == "http" and config.headers and config.url:
        host = url_host(config.url)
        if host is not None and not ctx.access.allows_host(host):
            names = ", ".join(sorted(set(config.headers.values())))
            bad(f"sends the environment variable(s) {names} (its headers) to `{host}`, which is not this machine "
                "nor an allowed host", _hint(host), "url")  # fmt: skip
    return out


def check(ctx: CheckContext) -> list[Diagnostic]:
    out = [d for model in ctx.spec.models.values() for d in _model(ctx, model)]
    return out + [d for metric in ctx.spec.metrics.values() if (d := _metric(ctx, metric)) is not None]
