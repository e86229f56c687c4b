"""Secrets out of everything that leaves the process: credential-like keys dropped, `--api-key VALUE` arguments
and key-shaped strings redacted (`<redacted>`), and — by value — every secret the environment holds (`Redactor`:
the values of the variables providers read their keys from and of any variable whose name looks like a secret),
in data, in messages and in the log records of a run (`redacting_logs`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..credentials import looks_like_secret_name

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 6
"""Shorter values are not redacted: they would blank common words and numbers everywhere (and guess nothing)."""

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


def _pieces(value: str) -> list[str]:
    """What of a secret value to look for: the value, and each line of a multi-line one (a PEM key may come
    back re-wrapped or one line at a time), each stripped of surrounding blanks."""
    pieces = [value.strip()]
    if "\n" in value or "\r" in value:
        pieces += [line.strip() for line in value.splitlines()]
    return [p for p in pieces if len(p) >= MIN_SECRET_LENGTH and p not in REDACTED]


@dataclass(frozen=True)
class Redactor:
    """Redacts known secret values (longest first) and key-shaped strings from text and JSON-like data.

    Built once per command from the environment (`from_environ`) and handed to what writes text out (the store,
    printed results, reports); an empty one redacts by shape only."""

    secrets: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unique = sorted({p for s in self.secrets for p in _pieces(s)}, key=lambda p: (-len(p), p))
        pattern = re.compile("|".join(re.escape(p) for p in unique)) if unique else None
        object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Redactor:
        """Every value of `environ` whose variable names a credential (OPENAI_API_KEY, HF_TOKEN,
        AWS_SECRET_ACCESS_KEY, DB_PASSWORD, any provider's key variable...) and is long enough to redact."""
        return cls(tuple(v for k, v in environ.items() if looks_like_secret_name(k) and v.strip()))

    def text(self, value: str) -> str:
        """`value` with every known secret and every key-shaped string (`sk-...`, `Bearer ...`) replaced by
        `<redacted>`: for messages (errors, statuses) that may quote a provider's reply."""
        return _SECRET_VALUE.sub(REDACTED, self.exact(value))

    def exact(self, value: str) -> str:
        """`value` with every known secret replaced: for model outputs and data, which may legitimately talk
        about "Bearer tokens" but must never hold this machine's keys."""
        return self._pattern.sub(REDACTED, value) if self._pattern is not None else value

    def values(self, obj: Any, *, shapes: bool = False) -> Any:
        """A copy of JSON-like `obj` with every known secret redacted in every string, keys included (and
        key-shaped strings too with `shapes`, as `text` does)."""
        if self._pattern is None and not shapes:
            return obj
        if isinstance(obj, str):
            return self.text(obj) if shapes else self.exact(obj)
        if isinstance(obj, Mapping):
            return {self.values(k, shapes=shapes): self.values(v, shapes=shapes) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.values(v, shapes=shapes) for v in obj]
        return obj

    def data(self, obj: Any) -> Any:
        """`values` of `obj` after `strip_secrets` (credential-like keys dropped, key-shaped strings redacted):
        for run metadata and summaries, which hold options and messages, not data."""
        return self.values(strip_secrets(obj))


class _RedactingFilter(logging.Filter):
    """Rewrites each log record's message through a redactor (it never drops a record)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redactor.text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        return True


# Loggers of the libraries a run drives, which may log requests, replies and errors through their own handlers.
LIBRARY_LOGGERS: tuple[str, ...] = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "openai")


@contextmanager
def redacting_logs(redactor: Redactor, names: Iterable[str] = LIBRARY_LOGGERS) -> Iterator[None]:
    """While the block runs, every record logged by the named libraries or reaching the root logger's handlers
    has its message redacted (a user debugging with LITELLM_LOG=DEBUG sees no key)."""
    log_filter = _RedactingFilter(redactor)
    loggers = [logging.getLogger(name) for name in names]
    handlers = {h for logger in [logging.getLogger(), *loggers] for h in logger.handlers}
    targets: list[logging.Logger | logging.Handler] = [*loggers, *handlers]
    for target in targets:
        target.addFilter(log_filter)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(log_filter)
