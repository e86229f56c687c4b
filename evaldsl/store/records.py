"""What the store hands out and how it packs what it keeps: run listings and records, the store error, and the
encoding of stored JSON (compact; compressed with zstd when large; repeated prompt messages stored once)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import socket
import threading
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

import zstandard

from ..hashing import compact_json
from ..results import RESULTS_VERSION, RUN_STATUSES, AssertOutcome, EvalModelResult, RunResult

COMPRESS_FROM = 160  # bytes of JSON from which a stored value is compressed
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # how a zstd frame starts (schema 4); JSON never starts with "(" nor "x"
ZLIB_MARK = b"x"  # how a zlib stream starts (values written by schema 3)
SHARED_TEXT_FROM = 120  # characters from which a prompt message other than the last is stored once, by hash


class Redacting(Protocol):
    """What the store asks of a redactor, applied to all that it writes and reads: `data` for run meta and
    summaries (credential-like keys dropped too), `values` for stored values, `text` for error messages."""

    def data(self, obj: Any) -> Any: ...
    def values(self, obj: Any, *, shapes: bool = False) -> Any: ...
    def text(self, value: str) -> str: ...


class StoreError(Exception):
    """The store cannot be opened, read or written, or a run reference does not resolve."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One line of `evaldsl runs`. `status` reads "interrupted" for a run whose process died while running."""

    id: str
    status: str
    started_at: str
    finished_at: str | None
    spec_path: str | None
    graph_hash: str | None
    n_samples: int


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A stored run: its meta, typed per eval × model results and assert outcomes, and its summary.
    `results_version` is the version the results were written with (1: before results were typed)."""

    id: str
    status: str
    started_at: str
    finished_at: str | None
    meta: dict[str, Any]
    results: tuple[EvalModelResult, ...]
    asserts: tuple[AssertOutcome, ...]
    summary: dict[str, Any]
    results_version: int = RESULTS_VERSION

    def to_result(self, store: str | None = None) -> RunResult:
        """The run as the `RunResult` that `evaldsl run` printed (as far as it was stored)."""
        status = self.status if self.status in RUN_STATUSES else "interrupted"
        return RunResult(
            run_id=self.id,
            spec=str(self.meta.get("spec_path") or ""),
            status=status,  # type: ignore[arg-type]
            results=self.results,
            asserts=self.asserts,
            message=self.summary.get("message"),
            store=store,
            cache_hits=int(self.summary.get("cache_hits") or 0),
            model_calls=int(self.summary.get("model_calls") or 0),
            wall_s=self.summary.get("wall_s"),
        )


def dumps(obj: Any) -> str:
    return compact_json(obj).decode("utf-8")


_codecs = threading.local()
"""One zstd compressor and decompressor per thread: neither may be shared between threads, and making one costs
as much as compressing a sample."""


def _compressor() -> zstandard.ZstdCompressor:
    codec = getattr(_codecs, "compressor", None)
    if codec is None:
        codec = _codecs.compressor = zstandard.ZstdCompressor(level=1)  # fast; about zlib's size at a third of its time
    return codec


def _decompressor() -> zstandard.ZstdDecompressor:
    codec = getattr(_codecs, "decompressor", None)
    if codec is None:
        codec = _codecs.decompressor = zstandard.ZstdDecompressor()
    return codec


def pack(obj: Any) -> bytes:
    """Compact JSON bytes, zstd-compressed when large enough to gain from it."""
    raw = compact_json(obj)
    if len(raw) < COMPRESS_FROM:
        return raw
    packed = _compressor().compress(raw)
    return packed if len(packed) < len(raw) else raw


def unpack(value: str | bytes | memoryview) -> Any:
    """The JSON value of a stored column: text (older stores), plain JSON bytes, or JSON compressed with zstd
    (or with zlib, by schema 3)."""
    if isinstance(value, str):
        return json.loads(value)
    data = bytes(value)
    if data[:4] == ZSTD_MAGIC:
        data = _decompressor().decompress(data)
    elif data[:1] == ZLIB_MARK:
        data = zlib.decompress(data)
    return json.loads(data)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def share_prompt(prompt: list[dict[str, Any]], texts: dict[str, str]) -> list[dict[str, Any]]:
    """The prompt with each long message but the last replaced by a reference into the shared texts (added to
    `texts`): system messages and few-shot turns repeat across samples; the last message rarely does."""
    shared = []
    for n, message in enumerate(prompt):
        content = message.get("content")
        if n < len(prompt) - 1 and isinstance(content, str) and len(content) >= SHARED_TEXT_FROM:
            ref = text_hash(content)
            texts[ref] = content
            message = {k: v for k, v in message.items() if k != "content"} | {"content_ref": ref}
        shared.append(message)
    return shared


def unshare_prompt(prompt: list[dict[str, Any]], lookup: Callable[[str], str]) -> list[dict[str, Any]]:
    """The prompt with shared-text references replaced by their text."""
    return [
        {k: v for k, v in m.items() if k != "content_ref"} | {"content": lookup(m["content_ref"])}
        if "content_ref" in m else m
        for m in prompt
    ]  # fmt: skip


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, but owned by someone else
        pass
    return True


def effective_status(status: str, host: str | None, pid: int | None) -> str:
    """ "running" reads "interrupted" when the run's process (on this host) is gone, e.g. after kill -9."""
    if status == "running" and pid and host == socket.gethostname() and pid != os.getpid() and not pid_alive(pid):
        return "interrupted"
    return status
