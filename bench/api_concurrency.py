"""API concurrency: 1,000 chat requests to a loopback OpenAI-compatible server (100 ms latency), 50 in flight.

    python bench/api_concurrency.py [--requests 1000] [--concurrency 50] [--latency 0.1]

Compares `evaldsl run` (whole process, litellm provider) with a bare `litellm.acompletion` loop (asyncio +
semaphore, whole process) and with the physical limit requests / concurrency × latency.
"""

from __future__ import annotations

import argparse
import json
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fakeserver.py"), "--port", str(port), "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "serving on ..."
        base = f"http://127.0.0.1:{port}/v1"
        env = {"OPENAI_API_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "q.jsonl").write_text(
                "".join(
                    json.dumps({"question": f"question {i}", "answer": f"question {i}"}) + "\n"
                    for i in range(args.requests)
                )
            )
            spec = folder / "api.eval"
            spec.write_text(f'''
dataset q {{ path = "q.jsonl" }}
model api {{
  provider = "litellm"
  id = "openai/bench"
  api_base = "{base}"
  concurrency = {args.concurrency}
  max_tokens = 16
}}
eval api_load {{
  dataset = q
  prompt  = "Q: {{{{ question }}}}"
  models  = [api]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match]
}}
''')
            bare_file = folder / "bare.py"
            bare_file.write_text(BARE_LOOP)
            bare, _ = timed([sys.executable, str(bare_file), str(args.requests), str(args.concurrency), base], env=env)
            ours, out = timed(
                evaldsl_cmd("run", str(spec), "--no-cache", "--store", str(folder / "store"), "--format", "json"),
                env=env,
            )
            result = json.loads(out.splitlines()[0])["results"][0]
            assert result["errors"] == 0, result
            cached, _ = timed(
                evaldsl_cmd("run", str(spec), "--store", str(folder / "store"), "--format", "json"), env=env
            )
        limit = args.requests / args.concurrency * args.latency
        print(f"physical limit ({args.requests} x {args.latency * 1000:.0f} ms / {args.concurrency}) : {limit:6.2f} s")
        print(f"bare litellm.acompletion loop (process)   : {bare:6.2f} s")
        print(f"evaldsl run (process)                     : {ours:6.2f} s")
        print(f"evaldsl run, all cached                   : {cached:6.2f} s")
        print(f"ratio evaldsl / bare loop                 : {ours / bare:6.2f}x   (target <= 1.3x)")
        print(f"ratio evaldsl / physical limit            : {ours / limit:6.2f}x")

    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
