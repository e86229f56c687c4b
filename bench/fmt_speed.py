"""Speed of the formatter (`evaldsl fmt`) on a generated ~2,000-line spec.

Usage: python bench/fmt_speed.py [--lines 2000] [--repeat 5]
Formats the spec of bench/compile_speed.py as generated, and a messy copy of it (indentation stripped, no spaces
around `=`, comments added at the ends of lines); prints min / median seconds of `format_source` (parse + print,
wall and CPU) over --repeat runs, the parse alone, and the wall time of a whole `evaldsl fmt --check` process
(imports included).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import evaldsl_cmd, timed  # noqa: E402
from bench.compile_speed import generate  # noqa: E402


def messy(text: str) -> str:
    """The same spec laid out badly: no indentation, `a=b`, a comment after every tenth line."""
    lines = []
    for i, line in enumerate(text.splitlines()):
        line = re.sub(r"^\s+", "", line)
        if '"' not in line and "`" not in line:
            line = re.sub(r"\s*=\s*", "=", line)
        if i % 10 == 9 and '"""' not in line and not line.endswith("\\"):
            line += "   # note"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """min and median wall seconds, and median CPU seconds (what a loaded machine does not inflate)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times), statistics.median(times), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from evaldsl.compile.fmt import format_source
    from evaldsl.compile.syntax import parse_tree

    tidy = generate(args.lines)
    bad = messy(tidy)
    parse_tree(tidy, "warm-up")  # the parser is built once per process; not part of a format
    print(f"spec: {tidy.count(chr(10))} lines, {len(tidy):,} bytes (messy copy: {len(bad):,} bytes)")
    for label, text in (("as generated", tidy), ("messy copy", bad)):
        fmin, fmed, fcpu = _timed(lambda text=text: format_source(text, "big.eval"), args.repeat)
        pmin, pmed, pcpu = _timed(lambda text=text: parse_tree(text, "big.eval"), args.repeat)
        print(f"format_source, {label}: wall min {fmin * 1000:.0f} ms, median {fmed * 1000:.0f} ms, "
              f"CPU median {fcpu * 1000:.0f} ms (of which the parse: CPU median {pcpu * 1000:.0f} ms, "
              f"wall min {pmin * 1000:.0f} ms, median {pmed * 1000:.0f} ms)")
    assert format_source(format_source(bad)) == format_source(bad)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.eval"
        path.write_text(bad, encoding="utf-8")
        walls = [timed(evaldsl_cmd("fmt", "--check", str(path)))[0] for _ in range(3)]
    print(f"`evaldsl fmt --check` process on the messy copy: min {min(walls):.2f} s, "
          f"median {statistics.median(walls):.2f} s (imports included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
