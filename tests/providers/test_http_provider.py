"""`provider = "http"`: a real service on 127.0.0.1 answers each sample — the body template, headers from the
environment (never stored), the output expression, concurrency, retries with `Retry-After`, failures as sample
errors, GET, and the diagnostics (E374-E376, E303 for a literal header value)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from evaldsl import api
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store

ROOT = Path(__file__).resolve().parents[2]
CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima"}


class Service:
    """A JSON service: POST/GET /answer → {"result": {"text": capital}}; faults queued with `fail`."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.times: list[float] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, body: dict[str, Any]) -> None:
                with service.lock:
                    service.requests.append({"body": body, "headers": dict(self.headers), "path": self.path})
                    service.times.append(time.monotonic())
                    fault = service.faults.pop(0) if service.faults else None
                    service.in_flight += 1
                    service.max_in_flight = max(service.max_in_flight, service.in_flight)
                try:
                    time.sleep(service.latency)
                    if fault is not None:
                        status, headers = fault
                        self.send_response(status)
                        for k, v in headers.items():
                            self.send_header(k, v)
                        payload = b"overloaded, try later"
                    else:
                        question = str(body.get("q") or body.get("messages", [{}])[-1].get("content", ""))
                        country = question.split()[-1] if question.split() else ""
                        payload = json.dumps({"result": {"text": CAPITALS.get(country, "?")}}).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    with service.lock:
                        service.in_flight -= 1

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(json.loads(self.rfile.read(length) or b"{}"))

            def do_GET(self) -> None:  # noqa: N802
                query = parse_qs(urlparse(self.path).query)
                self._answer({k: v[0] for k, v in query.items()})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/answer"

    def fail(self, status: int, n: int = 1, **headers: str) -> None:
        self.faults.extend([(status, headers)] * n)

    def __enter__(self) -> Service:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    with Service(latency=0.05) as s:
        yield s


ROWS = """[
    { question = "capital of France", answer = "Paris", id = 1 },
    { question = "capital of Japan", answer = "Tokyo", id = 2 },
    { question = "capital of Peru", answer = "Lima", id = 3 },
    { question = "capital of Chile", answer = "Santiago", id = 4 },
]"""


def write_spec(tmp_path: Path, model: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    spec = tmp_path / "spec.eval"
    spec.write_text(
        f"dataset d {{ rows = {ROWS} }}\n{model}\n"
        'eval e { dataset = d, prompt = "{{ question }}", models = [svc], target = "{{ answer }}", '
        "metrics = [exact_match], max_error_rate = 1 }\n"
    )
    return spec


def run(spec: Path, store: Path):  # type: ignore[no-untyped-def]
    return api.run(api.compile(spec), RunConfig(store_dir=store))


def test_body_headers_output_and_concurrency(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_TOKEN", "tok-very-secret-123")
    spec = write_spec(tmp_path, f'''model svc {{
  provider    = "http"
  url         = "{service.url}"
  headers     = {{ Authorization = env("APP_TOKEN") }}
  body        = """{{"q": {{{{ messages[-1].content | tojson }}}}, "id": {{{{ row.id }}}},
                   "n": {{{{ settings.max_tokens }}}}}}"""
  output      = "response.result.text"
  concurrency = 4
}}''')
    assert api.check(spec).ok
    result = run(spec, tmp_path / "store")
    assert result.status == "completed", result.message
    assert result.results[0].metrics["exact_match"].value == pytest.approx(0.75)
    assert service.max_in_flight == 4
    first = sorted(service.requests, key=lambda r: r["body"]["id"])[0]
    assert first["body"] == {"q": "capital of France", "id": 1, "n": 256}
    assert first["headers"]["Authorization"] == "tok-very-secret-123"
    store_bytes = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert b"tok-very-secret-123" not in store_bytes  # the header value is never stored
    again = run(spec, tmp_path / "store")
    assert (again.cache_hits, again.model_calls, len(service.requests)) == (4, 0, 4)


def test_retries_honour_retry_after_and_failures_are_sample_errors(tmp_path: Path, service: Service) -> None:
    spec = write_spec(tmp_path, f'model svc {{ provider = "http", url = "{service.url}", '
                                'output = "response.result.text", max_retries = 2, concurrency = 1 }')  # fmt: skip
    service.fail(429, 1, **{"Retry-After": "1"})
    service.fail(503, 1)
    started = time.monotonic()
    result = run(spec, tmp_path / "store")
    assert time.monotonic() - started >= 1.0  # waited as the server asked
    assert result.status == "completed" and len(service.requests) == 6  # two retries, then four answers
    assert service.times[1] - service.times[0] >= 1.0
    service.fail(500, 3)  # more failures than retries: that sample is an error with the server's reason
    store = tmp_path / "store2"
    result = run(spec, store)
    (res,) = result.results
    assert res.errors == 1 and result.status == "partial"
    assert "server error: HTTP 500: overloaded, try later (after 3 attempts)" in res.error_summary[0].reason
    with Store(store) as st:
        samples = list(st.iter_samples(result.run_id))
    assert sum(s.error is not None for s in samples) == 1


def test_get_default_body_and_bad_output(tmp_path: Path, service: Service) -> None:
    spec = write_spec(tmp_path, f'model svc {{ provider = "http", url = "{service.url}", method = "GET", '
                                'body = """{"q": {{ question | tojson }}}""", output = "response.result.text" }')
    result = run(spec, tmp_path / "store")
    assert result.results[0].metrics["exact_match"].value == pytest.approx(0.75)
    assert service.requests[0]["path"].startswith("/answer?q=capital")
    spec = write_spec(tmp_path, f'model svc {{ provider = "http", url = "{service.url}" }}')
    result = run(spec, tmp_path / "store3")  # the default body: messages, row and settings
    (res,) = result.results
    assert res.errors == 4 and "no string `output`" in res.error_summary[0].reason
    assert service.requests[-1]["body"]["row"]["question"].startswith("capital of")
    spec = write_spec(tmp_path, f'model svc {{ provider = "http", url = "{service.url}", output = "response.nope.x" }}')
    (res,) = run(spec, tmp_path / "store4").results
    assert res.errors == 4 and "output expression failed" in res.error_summary[0].reason


def test_unreachable_service_is_a_connection_error(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, 'model svc { provider = "http", url = "http://127.0.0.1:9/x", max_retries = 0 }')
    (res,) = run(spec, tmp_path / "store").results
    assert res.errors == 4 and res.error_summary[0].reason.startswith("connection failed")


def test_diagnostics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)

    def codes(model: str) -> list[tuple[str, str]]:
        return [(d.code, d.message) for d in api.check(write_spec(tmp_path, model)).diagnostics]

    (literal,) = codes('model svc { provider = "http", url = "http://x", headers = { Authorization = "Bearer x" } }')
    assert literal[0] == "E303" and 'env("VARIABLE")' in literal[1]
    (unset,) = codes('model svc { provider = "http", url = "http://127.0.0.1:1", '
                     'headers = { A = env("NOT_SET_TOKEN") } }')
    assert unset[0] == "E376" and "NOT_SET_TOKEN" in unset[1]
    (scheme,) = codes('model svc { provider = "http", url = "ftp://x" }')
    assert scheme[0] == "E375"
    (body,) = codes('model svc { provider = "http", url = "http://x", body = "{{ messages" }')
    assert body[0] == "E375" and "body template" in body[1]
    (output,) = codes('model svc { provider = "http", url = "http://x", output = "response." }')
    assert output[0] == "E375" and "output expression" in output[1]
    (foreign,) = codes('model svc { provider = "http", url = "http://x", id = "y", api_base = "http://z" }')
    assert foreign[0] == "E374" and "api_base" in foreign[1]
    (no_url,) = codes('model svc { provider = "http" }')
    assert no_url[0] == "E304" and "url" in no_url[1]
    (method,) = codes('model svc { provider = "http", url = "http://x", method = "PATCH" }')
    assert method[0] == "E303"


def test_example_spec_runs_against_the_example_service(tmp_path: Path) -> None:
    import importlib.util

    loaded = importlib.util.spec_from_file_location("serve_example", ROOT / "specs" / "my_app" / "serve.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    server = module.make_server(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        text = (ROOT / "specs" / "service.eval").read_text().replace("8765", str(server.server_address[1]))
        (tmp_path / ".git").mkdir()
        (tmp_path / "service.eval").write_text(text)
        result = run(tmp_path / "service.eval", tmp_path / "store")
    finally:
        server.shutdown()
        server.server_close()
    assert result.status == "completed", result.message
    assert result.results[0].metrics["exact_match"].value == pytest.approx(0.75)
