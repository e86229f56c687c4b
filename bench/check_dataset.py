"""`evaldsl check` on a spec over a generated N-row JSON-lines file → wall time and peak RSS of the whole process.

Usage: python bench/check_dataset.py [--rows 1000000] [--keep]
Generates the file in a temporary folder (never committed), then measures, each as a separate process:
  - `evaldsl check` on the same spec over a 10-row file (the fixed cost: imports, parse, checks),
  - `evaldsl check` over the N-row file (every row read and profiled),
  - a bare `json.loads` loop over the N-row file (the floor for any reader that parses each line),
and prints the times, peak RSS, and ratios. Flat memory means the N-row peak stays near the 10-row one.
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

SPEC = """dataset big {{ path = "{data}" }}
model dry {{
  provider = "mock"
  response = "{{{{ answer }}}}"
}}
eval qa {{
  dataset = big
  prompt  = "Question: {{{{ question }}}}"
  models  = [dry]
  target  = `[answer] + (aliases | default([]))`
  metrics = [exact_match, f1]
}}
eval qa_by_category {{
  dataset = big
  prompt  = "[{{{{ category }}}}] {{{{ question }}}}"
  models  = [dry]
  target  = "{{{{ answer }}}}"
  metrics = [contains]
}}
"""

FLOOR = """
import json, sys
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        json.loads(line)
"""


def write_rows(path: Path, n: int) -> None:
    """Short trivia-like rows; `aliases` on one row in seven (so presence is "some" and the guard matters)."""
    rng = random.Random(0)
    categories = ["science", "history", "geography", "literature", "sport"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row: dict[str, object] = {
                "question": f"What is {i} plus {rng.randint(0, 999)}?",
                "answer": str(i),
                "category": categories[i % len(categories)],
            }
            if i % 7 == 0:
                row["aliases"] = [f"{i}.0", f"number {i}"]
            fh.write(json.dumps(row) + "\n")


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, output) of one child process."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    output = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{output}")
    peak_kib = usage.ru_maxrss  # KiB on Linux
    return elapsed, peak_kib / 1024, output.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated folder and print its path")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="evaldsl-check-bench-"))
    small, big = folder / "small.jsonl", folder / "big.jsonl"
    write_rows(small, 10)
    started = time.perf_counter()
    write_rows(big, args.rows)
    size_mib = big.stat().st_size / 2**20
    print(f"generated {args.rows:,} rows, {size_mib:.1f} MiB, in {time.perf_counter() - started:.1f} s")
    (folder / "small.eval").write_text(SPEC.format(data=small.name), encoding="utf-8")
    (folder / "big.eval").write_text(SPEC.format(data=big.name), encoding="utf-8")
    (folder / "floor.py").write_text(FLOOR, encoding="utf-8")
    py = sys.executable
    fixed_s, fixed_mib, out = measure([py, "-m", "evaldsl", "check", "small.eval"], folder)
    assert out.endswith("ok (2 evals)"), out
    check_s, check_mib, out = measure([py, "-m", "evaldsl", "check", "big.eval"], folder)
    assert out.endswith("ok (2 evals)"), out
    floor_s, floor_mib, _ = measure([py, "floor.py", big.name], folder)
    per_row_us = (check_s - fixed_s) / args.rows * 1e6
    print(f"{'':34} {'wall s':>8} {'peak RSS MiB':>13}")
    print(f"{'check, 10-row file (fixed cost)':34} {fixed_s:8.2f} {fixed_mib:13.1f}")
    print(f"{f'check, {args.rows:,}-row file':34} {check_s:8.2f} {check_mib:13.1f}")
    print(f"{'bare json.loads loop, same file':34} {floor_s:8.2f} {floor_mib:13.1f}")
    print(f"reading and profiling: {per_row_us:.2f} µs per row; (check - fixed) / json.loads loop = "
          f"{(check_s - fixed_s) / floor_s:.2f}×; peak RSS over the fixed cost: {check_mib - fixed_mib:+.1f} MiB")
    if args.keep:
        print(f"files kept in {folder}")
    else:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
