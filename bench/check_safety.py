"""`evaldsl check` on hostile-sized specs → wall time, peak memory and output size of the whole process.

Usage: python bench/check_safety.py [--repeat 1] [--only NAME]
Generates, in a temporary folder (never committed), and checks each as a separate process:
  - `string_5mb`: a valid spec whose prompt is one 5 MB string,
  - `defs_20k`: a valid spec of 20,000 definitions (10,000 prompts and 10,000 evals using them),
  - `errors_5k`: a spec producing 5,000 errors (5,000 evals, each naming an unknown metric),
  - `line_1mb`: a spec with one 1 MB line holding a syntax error,
  - `nesting`: a list nested 5,000 deep (E004, never a RecursionError).
Peak memory is the child's own high-water mark (VmHWM in /proc/self/status, read as it exits): `ru_maxrss`
of a child started by fork would report the parent's size when that is larger.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs `python -m evaldsl ARGS` and, as the process exits, writes its VmHWM (KiB) to the file named by
# EVALDSL_BENCH_HWM.
RUNNER = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["EVALDSL_BENCH_HWM"], "w") as out:
        out.write(kib)
atexit.register(_hwm)
sys.argv = ["evaldsl", *sys.argv[1:]]
runpy.run_module("evaldsl", run_name="__main__", alter_sys=True)
"""

HEAD = """dataset d { rows = [{ q = "2+2?", a = "4" }] }
model m { provider = "mock", response = "{{ a }}" }
"""


def string_5mb() -> str:
    return HEAD + 'eval e {\n  dataset = d\n  models = [m]\n  prompt = "' + "x" * 5_000_000 + ' {{ q }}"\n' + (
        '  target = "{{ a }}"\n  metrics = [exact_match]\n}\n'
    )


def defs_20k() -> str:
    parts = [HEAD]
    for i in range(10_000):
        parts.append(f'prompt p{i} = "Question {i}: {{{{ q }}}}"\n')
        parts.append(f'eval e{i} {{ dataset = d, models = [m], prompt = p{i}, target = "{{{{ a }}}}", '
                     "metrics = [exact_match] }\n")
    return "".join(parts)


def errors_5k() -> str:
    evals = (
        f'eval e{i} {{ dataset = d, models = [m], prompt = "{{{{ q }}}}", target = "{{{{ a }}}}", '
        f"metrics = [nope{i}] }}\n"
        for i in range(5_000)
    )
    return HEAD + "".join(evals)


def line_1mb() -> str:
    return HEAD + "eval e { dataset = d, models = [m] } " + "junk " * 200_000 + "\n"


def nesting() -> str:
    return HEAD + "eval e { dataset = d, models = [m], x = " + "[" * 5_000 + "]" * 5_000 + " }\n"


CASES: dict[str, tuple[Callable[[], str], int]] = {  # name → (spec text, expected exit code)
    "string_5mb": (string_5mb, 0),
    "defs_20k": (defs_20k, 0),
    "errors_5k": (errors_5k, 2),
    "line_1mb": (line_1mb, 2),
    "nesting": (nesting, 2),
}


def measure(spec: Path, expected: int) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak memory MiB, bytes written, last output line) of `evaldsl check spec`.
    CPU time (user + system) is what a loaded machine does not inflate."""
    hwm = spec.with_suffix(".hwm")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVALDSL_BENCH_HWM": str(hwm)}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, "check", "-q", spec.name], cwd=spec.parent, env=env, stdout=sink,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        sink.seek(0)
        output = sink.read()
    code = os.waitstatus_to_exitcode(status)
    if code != expected or b"Traceback" in output:
        raise RuntimeError(f"{spec.name}: exit {code}, expected {expected}:\n{output[-2000:]!r}")
    last = output.decode("utf-8", "replace").strip().splitlines()[-1] if output.strip() else ""
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, int(hwm.read_text()) / 1024, len(output), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=sorted(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'case':<12} {'spec MB':>8} {'wall s':>8} {'CPU s':>7} {'peak MiB':>9} {'output KB':>10}  last line")
        for name, (make, expected) in CASES.items():
            if args.only and name != args.only:
                continue
            spec = folder / f"{name}.eval"
            spec.write_text(make(), encoding="utf-8")
            size = spec.stat().st_size / 1e6
            for _ in range(args.repeat):
                wall, cpu, peak, written, last = measure(spec, expected)
                row = f"{name:<12} {size:>8.2f} {wall:>8.2f} {cpu:>7.2f} {peak:>9.1f} {written / 1000:>10.1f}"
                print(f"{row}  {last[:50]}")


if __name__ == "__main__":
    main()
