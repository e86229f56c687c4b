"""A scriptable OpenAI-compatible chat server on 127.0.0.1 for tests: requests in, chat.completion JSON out
(and `/v1/embeddings`: each input's letter counts).

Use the `fake_openai_server` fixture (import it into a conftest), or `FakeOpenAIServer` as a context manager:

    with FakeOpenAIServer(latency=0.1) as server:
        server.fail_next(2, "429", retry_after=0)
        ...  # point a model at api_base=server.url + "/v1", id="openai/anything", OPENAI_API_KEY=sk-test
        assert server.count == 3

It can also run on its own (for benchmarks, in a separate process): `python tests/fakeserver.py --port 8011`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

FaultKind = Literal["429", "500", "503", "401", "401-echo", "404", "400", "hang", "malformed"]
Reply = Callable[[dict[str, Any]], str]

_STATUS_ERRORS: dict[str, tuple[int, str, str]] = {
    "429": (429, "rate_limit_exceeded", "Rate limit reached for requests"),
    "500": (500, "server_error", "The server had an error while processing your request"),
    "503": (503, "server_error", "The engine is currently overloaded, please try again later"),
    "401": (401, "invalid_api_key", "Incorrect API key provided"),
    "404": (404, "model_not_found", "The model does not exist or you do not have access to it"),
    "400": (400, "invalid_request_error", "This model's maximum context length is 8 tokens"),
}


@dataclass(frozen=True)
class Fault:
    """One injected failure: an HTTP error status, a hang (no answer for `hang_s`), or a malformed body."""

    kind: FaultKind
    retry_after: float | None = None  # seconds, sent as `Retry-After` and `retry-after-ms` (error statuses)
    hang_s: float = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clients connect at once in concurrency tests and benchmarks


def last_user_message(body: Mapping[str, Any]) -> str:
    """The default reply: echo the content of the last user message."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


class FakeOpenAIServer:
    """A real HTTP server in a background thread answering `POST /v1/chat/completions`.

    `reply` maps a request body to the reply text: a function, or a mapping from the last user message to a
    reply (unknown messages are echoed). `latency` (seconds) delays every answer. Faults queued with
    `fail_next` are served first, one per request, in order. Every parsed request body is kept in `bodies`;
    `max_in_flight` is the most requests it was answering at the same time.
    """

    def __init__(
        self,
        reply: Reply | Mapping[str, str] | None = None,
        *,
        latency: float = 0.0,
        model: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tool_calls: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
        logprobs: Callable[[dict[str, Any]], Mapping[str, float]] | None = None,
    ) -> None:
        self.latency = latency
        self._logprobs = logprobs  # body → {token: log-probability}: the first token's top_logprobs when asked
        self.model = model
        self.tool_calls = tool_calls  # request body → the calls to reply with ({name, arguments}); [] → text
        self._reply = reply
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._stop = threading.Event()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = _Server((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeOpenAIServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="fake-openai", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # wakes hanging handlers
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scripting ------------------------------------------------------------------------------------------
    def fail_next(
        self, n: int, kind: FaultKind, *, retry_after: float | None = None, hang_s: float = 30.0
    ) -> None:
        """Make the next `n` requests fail with `kind` (queued after faults already pending)."""
        with self._lock:
            self._faults.extend(Fault(kind, retry_after, hang_s) for _ in range(n))

    def reset(self) -> None:
        """Forget recorded requests, pending faults and the in-flight peak."""
        with self._lock:
            self._faults.clear()
            self.bodies.clear()
            self.headers.clear()
            self.max_in_flight = self.in_flight

    @property
    def count(self) -> int:
        """Number of chat requests received so far (faulted ones included)."""
        with self._lock:
            return len(self.bodies)

    # -- serving (called from handler threads) ------------------------------------------------------------
    def _begin(self, body: dict[str, Any], headers: dict[str, str]) -> Fault | None:
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._faults.popleft() if self._faults else None

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reply_text(self, body: dict[str, Any]) -> str:
        if self._reply is None:
            return last_user_message(body)
        if callable(self._reply):
            return self._reply(body)
        message = last_user_message(body)
        return self._reply.get(message, message)

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        calls = self.tool_calls(body) if self.tool_calls is not None else None
        if calls:  # a reply calling tools: OpenAI's shape, arguments as JSON text
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
                for i, c in enumerate(calls)]}  # fmt: skip
            return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                    "created": int(time.time()), "model": self.model or str(body.get("model", "fake")),
                    "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
        text = self.reply_text(body)
        logprobs = None
        if body.get("logprobs") and self._logprobs is not None:
            top = sorted(self._logprobs(body).items(), key=lambda kv: -kv[1])[: int(body.get("top_logprobs") or 1)]
            text = top[0][0]
            logprobs = {"content": [{"token": text, "logprob": top[0][1], "bytes": None,
                                     "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]}]}
        return completion(body, text, self.model, logprobs)


def completion(body: Mapping[str, Any], text: str, model: str | None = None,
               logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chat.completion reply with `text` (cut to `max_tokens` words, then finish_reason "length")."""
    words = text.split()
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    finish = "stop"
    if isinstance(max_tokens, int) and len(words) > max_tokens:
        text, finish = " ".join(words[:max_tokens]), "length"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
    completion_tokens = len(text.split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model or str(body.get("model", "fake")),
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": logprobs,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def letter_vector(text: str) -> list[float]:
    """The fake embedding of a text: how often each letter a-z occurs in it."""
    lowered = text.lower()
    return [float(lowered.count(chr(ord("a") + k))) for k in range(26)]


def embeddings(body: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI embeddings response: each input's letter counts (`letter_vector`)."""
    inputs = body.get("input") or []
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": letter_vector(str(t))} for i, t in enumerate(inputs)],
        "model": str(body.get("model", "fake-embedding")),
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }


def _error_body(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "param": None, "code": code}}).encode()


def _handler_class(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
            return

        def _send(self, status: int, payload: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                data = {"object": "list", "data": [{"id": server.model or "fake", "object": "model"}]}
                self._send(200, json.dumps(data).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") in ("/v1/embeddings", "/embeddings"):
                body = json.loads(raw or b"{}")
                server._begin(body, {k.lower(): v for k, v in self.headers.items()})
                try:
                    self._send(200, json.dumps(embeddings(body)).encode())
                finally:
                    server._end()
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, _error_body("unknown endpoint", "invalid_request_error"))
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, _error_body("invalid JSON body", "invalid_request_error"))
                return
            fault = server._begin(body, {k.lower(): v for k, v in self.headers.items()})
            try:
                self._answer(body, fault)
            finally:
                server._end()

        def _answer(self, body: dict[str, Any], fault: Fault | None) -> None:
            if fault is not None and fault.kind == "hang":
                server._stop.wait(fault.hang_s)
                return  # close without answering
            if server.latency > 0:
                server._stop.wait(server.latency)
            if fault is None:
                self._send(200, json.dumps(server.completion(body)).encode())
            elif fault.kind == "malformed":
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"message": ')
            elif fault.kind == "401-echo":  # a provider quoting the rejected key back, whole
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                self._send(401, _error_body(f"Incorrect API key provided: {key}", "invalid_api_key"))
            else:
                status, code, message = _STATUS_ERRORS[fault.kind]
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                    headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
                self._send(status, _error_body(message, code), headers)

    return Handler


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """A started FakeOpenAIServer (echo replies, no latency), closed after the test."""
    with FakeOpenAIServer() as server:
        yield server


def serve_asyncio(port: int, latency: float) -> None:
    """Serve echo replies from one asyncio event loop (aiohttp): far less CPU per request than a thread per
    connection, so that a benchmark on a small machine measures its client rather than this server."""
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if latency > 0:
            await asyncio.sleep(latency)
        return web.json_response(completion(body, last_user_message(body)))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    print(f"serving on http://127.0.0.1:{port}/v1", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI-compatible chat API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--engine", choices=("threads", "asyncio"), default="threads",
                        help="threads: the scriptable test server; asyncio: echo replies only, less CPU")
    args = parser.parse_args()
    if args.engine == "asyncio":
        serve_asyncio(args.port, args.latency)
        return
    server = FakeOpenAIServer(latency=args.latency, port=args.port)
    print(f"serving on {server.api_base}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
