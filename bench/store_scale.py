"""Benchmark: a 100,000-sample run through the `mock` model in; out: the run's wall time (whole process), the
store's bytes per sample beyond the prompt and output text, and `evaldsl report`'s time, peak memory and size.

    python bench/store_scale.py [--samples 100000] [--row-bytes 0|2048] [--store DIR|postgresql://...]
        [--profile FILE]   # also a cProfile of the run, in-process

Rows are short question/answer pairs, or carry a `context` of --row-bytes characters (rendered into the prompt).
EVALDSL_BENCH_ROOT=/another/checkout runs the `evaldsl` commands of another checkout (a before/after comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, evaldsl_cmd  # noqa: E402

SPEC = """
dataset d {{ path = "data.jsonl" }}
model instant {{ provider = "mock", response = "The answer is {{{{ answer }}}}." }}
prompt p {{
  system = "You answer trivia questions in one short sentence, naming the answer first. Do not explain."
  user   = "{user}"
}}
eval scale {{
  dataset = d
  prompt  = p
  models  = [instant]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, contains]
}}
"""


def make_data(folder: Path, n: int, row_bytes: int) -> None:
    rng = random.Random(0)  # a vocabulary of 5,000 made-up words: compresses about as well as English prose
    words = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz"[: rng.randint(8, 26)]) for _ in range(rng.randint(2, 9)))
             for _ in range(5000)]
    with (folder / "data.jsonl").open("w") as fh:
        for i in range(n):
            row = {"question": f"What is {i} plus {i}?", "answer": str(2 * i)}
            if row_bytes:
                text = " ".join(rng.choice(words) for _ in range(row_bytes // 5))
                row["context"] = text[:row_bytes]
            fh.write(json.dumps(row) + "\n")
    user = "Context: {{ context }}\\nQ: {{ question }}" if row_bytes else "Q: {{ question }}"
    (folder / "scale.eval").write_text(SPEC.format(user=user))


def run_timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system: what load on a shared machine does not inflate) and peak RSS
    (MiB) of a whole process, and its output."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=tempfile.gettempdir(),
                                env={**os.environ, "PYTHONPATH": os.environ.get("EVALDSL_BENCH_ROOT", str(ROOT))})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def text_bytes(store: str, run_id: str) -> tuple[int, int]:
    """(samples, bytes of prompt and output text) of the run."""
    from evaldsl.store import Store

    n = total = 0
    with Store(store) as st:
        for s in st.iter_samples(run_id):
            n += 1
            total += sum(len(m.get("content", "").encode()) for m in s.prompt)
            total += len(str(s.output.get("output") or "").encode())
    return n, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--row-bytes", type=int, default=0)
    parser.add_argument("--store", default=None, help="store folder or postgresql:// URL (default: a new folder)")
    parser.add_argument("--report-samples", type=int, default=None, help="evaldsl report --samples N")
    parser.add_argument("--profile", default=None, help="write a cProfile of an in-process run to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_data(folder, args.samples, args.row_bytes)
        store = args.store or str(folder / "store")
        spec = str(folder / "scale.eval")
        if args.profile:
            import asyncio  # noqa: F401 - used by the profiled statement
            import cProfile

            from evaldsl import api
            from evaldsl.run.runner import RunConfig, run_graph  # noqa: F401 - used by the profiled statement
            from evaldsl.store.locate import as_location

            checked = api.check(Path(spec))
            assert checked.spec is not None
            graph = api.plan(checked.spec)
            config = RunConfig(store_dir=as_location(store), use_cache=False)
            cProfile.runctx("asyncio.run(run_graph(graph, config))", globals(), locals(), args.profile)
            print(f"profile written to {args.profile}")
            return
        load = os.getloadavg()
        wall, cpu, rss, out = run_timed(evaldsl_cmd("run", spec, "--no-cache", "--store", store, "--format", "json"))
        result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
        assert result["results"][0]["n"] == args.samples, out[-2000:]
        run_id = result["run_id"]
        n = args.samples
        print(f"load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores)")
        print(f"evaldsl run, {n:,} samples ({args.row_bytes} B rows), no cache: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
              f"peak RSS {rss:.0f} MiB")
        size = 0 if store.startswith("postgres") else sum(p.stat().st_size for p in Path(store).iterdir())
        html = folder / "report.html"
        cmd = evaldsl_cmd("report", run_id, "--html", str(html), "--store", store)
        if args.report_samples:
            cmd += ["--samples", str(args.report_samples)]
        wall, cpu, rss, _ = run_timed(cmd)
        print(f"evaldsl report: {wall:6.2f} s wall, {cpu:6.2f} s CPU, peak RSS {rss:.0f} MiB, "
              f"{html.stat().st_size / 1e6:.2f} MB")
        if size:  # read last: this checkout's store code may migrate another version's store
            n, text = text_bytes(store, run_id)
            print(f"store: {size / 1e6:.1f} MB; prompt+output text {text / 1e6:.1f} MB; overhead "
                  f"{(size - text) / n:.0f} B/sample")

if __name__ == "__main__":
    main()
