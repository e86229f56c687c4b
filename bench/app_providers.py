"""Application providers: N samples answered by a project function (`provider = "python"`) and by a loopback
JSON service (`provider = "http"`), each taking `--latency` seconds per call, `--concurrency` in flight.

    python bench/app_providers.py [--samples 1000] [--concurrency 16] [--latency 0.01]

Prints each run's wall time (the run itself, in process, no cache) against the physical limit
samples / concurrency × latency, the `mock` provider's time on the same spec (the runner's own cost), and a
bare httpx loop (asyncio + semaphore) against the same service (what the http provider is compared with).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from evaldsl import api  # noqa: E402
from evaldsl.run.runner import RunConfig  # noqa: E402

APP = """
import time

def answer(messages, row, settings):
    time.sleep({latency})
    return {{"output": row["answer"], "usage": {{"prompt_tokens": 5, "completion_tokens": 1}}}}
"""


def serve(latency: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            time.sleep(latency)
            payload = json.dumps({"answer": body["answer"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def bare_loop(url: str, n: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> str:
            async with limit:
                for attempt in range(3):  # the loopback server drops a connection now and then under load
                    try:
                        response = await client.post(url, json={"answer": f"a{i}"})
                        return str(response.json()["answer"])
                    except httpx.HTTPError:
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

        assert len(await asyncio.gather(*(one(i) for i in range(n)))) == n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.01)
    args = parser.parse_args()
    server = serve(args.latency)
    url = f"http://127.0.0.1:{server.server_address[1]}/answer"
    limit = args.samples / args.concurrency * args.latency
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / ".git").mkdir()
        (folder / "bench_app.py").write_text(APP.format(latency=args.latency))
        rows = "".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(args.samples))
        (folder / "qa.jsonl").write_text(rows)
        models = {
            "mock": 'provider = "mock", response = "{{ answer }}"',
            "python": f'provider = "python", id = "bench_app:answer", concurrency = {args.concurrency}',
            "http": f'provider = "http", url = "{url}", concurrency = {args.concurrency}, '
            'body = """{"answer": {{ answer | tojson }}}""", output = "response.answer"',
        }
        print(f"{args.samples} samples, {args.concurrency} in flight, {args.latency * 1000:g} ms per call; "
              f"physical limit {limit:.2f} s")  # fmt: skip
        for name, settings in models.items():
            spec = folder / f"{name}.eval"
            spec.write_text(
                f'dataset qa {{ path = "qa.jsonl" }}\nmodel m {{ {settings} }}\n'
                'eval e { dataset = qa, prompt = "{{ question }}", models = [m], target = "{{ answer }}", '
                "metrics = [exact_match] }\n"
            )
            graph = api.compile(spec)
            started = time.perf_counter()
            result = api.run(graph, RunConfig(store_dir=folder / f"store-{name}", use_cache=False))
            wall = time.perf_counter() - started
            value = result.results[0].metrics["exact_match"].value
            ratio = "" if name == "mock" else f"  ({wall / limit:.2f}× the limit)"
            print(f"{name:>7}: {wall:6.2f} s, exact_match {value:.3f}, status {result.status}{ratio}")
    started = time.perf_counter()
    asyncio.run(bare_loop(url, args.samples, args.concurrency))
    wall = time.perf_counter() - started
    print(f"{'bare':>7}: {wall:6.2f} s, httpx loop ({wall / limit:.2f}× the limit)")
    server.shutdown()


if __name__ == "__main__":
    main()
