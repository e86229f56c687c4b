"""API concurrency: 1,000 chat requests to a loopback OpenAI-compatible server (100 ms latency), 50 in flight.

    python bench/api_concurrency.py [--requests 1000] [--concurrency 50] [--latency 0.1] [--server asyncio]

Compares, each as a whole process with its wall and CPU seconds: a bare `litellm.acompletion` loop (asyncio +
semaphore); `evaldsl run` on a model litellm knows (`openai/gpt-4o-mini` at the local `api_base`: every call goes
through litellm); `evaldsl run` on a model it does not know (the lean HTTP path); the same run all cached; and
the physical limit requests / concurrency × latency. "run only" is the run's own `wall_s` (the requests, scoring
and storing, without the process start, imports and compile). The server runs in its own process: `asyncio` (default,
little CPU per request) or `threads` (the scriptable test server, whose CPU competes with the client's).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, evaldsl_cmd, timed  # noqa: E402

BARE_LOOP = """
import asyncio, os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm
litellm.suppress_debug_info = True

async def main(n, conc, base):
    sem = asyncio.Semaphore(conc)
    async def one(i):
        async with sem:
            r = await litellm.acompletion(model="openai/bench", api_base=base, temperature=0, max_tokens=16,
                                          messages=[{"role": "user", "content": f"Q: question {i}"}])
            return r.choices[0].message.content
    out = await asyncio.gather(*(one(i) for i in range(n)))
    assert len(out) == n

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


def timed_cpu(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and output of a whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, out = timed(cmd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def spec_text(model_id: str, base: str, concurrency: int) -> str:
    return f'''
dataset q {{ path = "q.jsonl" }}
model api {{
  provider = "litellm"
  id = "{model_id}"
  api_base = "{base}"
  concurrency = {concurrency}
  max_tokens = 16
}}
eval api_load {{
  dataset = q
  prompt  = "Q: {{{{ question }}}}"
  models  = [api]
  target  = "Q: {{{{ question }}}}"
  metrics = [exact_match]
}}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--server", choices=("asyncio", "threads"), default="asyncio")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fakeserver.py"), "--port", str(port), "--latency", str(args.latency),
         "--engine", args.server],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "serving on ..."
        base = f"http://127.0.0.1:{port}/v1"
        env = {"OPENAI_API_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        rows: list[tuple[str, float, float]] = []
        runner_s: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "q.jsonl").write_text(
                "".join(json.dumps({"question": f"question {i}"}) + "\n" for i in range(args.requests))
            )
            bare_file = folder / "bare.py"
            bare_file.write_text(BARE_LOOP)
            wall, cpu, _ = timed_cpu(
                [sys.executable, str(bare_file), str(args.requests), str(args.concurrency), base], env
            )
            rows.append(("bare litellm.acompletion loop", wall, cpu))
            for label, model_id in (("evaldsl run, litellm path (known model)", "openai/gpt-4o-mini"),
                                    ("evaldsl run, lean HTTP path", "openai/bench")):  # fmt: skip
                spec = folder / f"{model_id.replace('/', '_')}.eval"
                spec.write_text(spec_text(model_id, base, args.concurrency))
                store = str(folder / "store")
                wall, cpu, out = timed_cpu(
                    evaldsl_cmd("run", str(spec), "--no-cache", "--store", store, "--format", "json"), env
                )
                result = json.loads(out.splitlines()[0])["results"][0]
                assert result["errors"] == 0 and result["metrics"]["exact_match"]["value"] == 1.0, result
                rows.append((label, wall, cpu))
                runner_s[label] = json.loads(out.splitlines()[0])["wall_s"]
            wall, cpu, _ = timed_cpu(evaldsl_cmd("run", str(spec), "--store", store, "--format", "json"), env)
            rows.append(("evaldsl run, all cached", wall, cpu))
        limit = args.requests / args.concurrency * args.latency
        print(f"{args.requests} requests, {args.latency * 1000:.0f} ms latency, {args.concurrency} in flight, "
              f"{args.server} server")  # fmt: skip
        print(f"{'physical limit':42s}: {limit:6.2f} s wall")
        for label, wall, cpu in rows:
            print(f"{label:42s}: {wall:6.2f} s wall {cpu:6.2f} s CPU  ({wall / limit:4.2f}x the limit)")
        for label, seconds in runner_s.items():
            print(f"{label + ' (run only)':42s}: {seconds:6.2f} s wall  ({seconds / limit:4.2f}x the limit)")

    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
