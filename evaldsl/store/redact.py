"""Secrets out of what is stored: credential-like keys dropped, `--api-key VALUE` arguments and key-shaped
strings redacted (`<redacted>`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "<redacted>"

_SECRET_KEY = re.compile(
    r"(?:.*[_.])?(?:api_?key|key|token|authorization|auth|password|passwd|secret|credentials?|cookie)", re.I
)
_SECRET_VALUE = re.compile(r"\b(?:sk-[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,})|\bBearer\s+\S+", re.I)


def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.fullmatch(key.strip().lstrip("-").replace("-", "_")) is not None


def _strip_list(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    redact_next = False
    for item in items:
        if redact_next and isinstance(item, str) and not item.startswith("-"):
            out.append(REDACTED)
            redact_next = False
            continue
        redact_next = False
        if isinstance(item, str):
            name, eq, _ = item.partition("=")
            if eq and _is_secret_key(name):  # --api-key=..., OPENAI_API_KEY=...
                out.append(f"{name}={REDACTED}")
                continue
            if item.startswith("-") and _is_secret_key(item):  # --api-key VALUE
                redact_next = True
        out.append(strip_secrets(item))
    return out


def strip_secrets(obj: Any) -> Any:
    """A copy of `obj` without credential-like keys (api_key, *_key, token, authorization, password, secret),
    with `--api-key VALUE` / `NAME_TOKEN=VALUE` items of lists and key-shaped strings redacted."""
    if isinstance(obj, Mapping):
        return {k: strip_secrets(v) for k, v in obj.items() if not (isinstance(k, str) and _is_secret_key(k))}
    if isinstance(obj, (list, tuple)):
        return _strip_list(obj)
    if isinstance(obj, str):
        return _SECRET_VALUE.sub(REDACTED, obj)
    return obj
