"""Diagnostics latency of `evaldsl lsp` on a generated ~2,000-line spec, driven over stdio like an editor.

Usage: python bench/lsp_latency.py [--lines 2000] [--rounds 3] [--gap-ms 100] [--debounce-ms MS]
Opens the spec in a real server process, then types: a new attribute line inside an eval block character by
character (Enter first, then each key), and deletes it again key by key, at the top, middle and end of the
file; each edit is one incremental didChange, sent --gap-ms after the diagnostics of the previous one arrived
(100 ms: a fast typist; 0: a burst, where the server's debounce holds each check back until the edits pause).
Prints the latency from didChange to the matching publishDiagnostics (p50/p95/max, all edits and by kind) and
the server's CPU time per edit, with the server's default debounce unless --debounce-ms is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lsprotocol import types  # noqa: E402

from bench.compile_speed import generate  # noqa: E402
from tests.lsp.client import Editor, pos  # noqa: E402

TYPED = "  limit = 5"


def _edit_points(text: str) -> list[int]:
    """0-based lines ending `  models  = [dry]` in evals near the top, middle and end of the file."""
    lines = text.split("\n")
    hits = [i for i, line in enumerate(lines) if line.startswith("  models  = [dry]")]
    return [hits[1], hits[len(hits) // 2], hits[-2]]


def _keystrokes(line: int, column: int) -> list[tuple[str, types.Range, str]]:
    """(kind, range, text) of each key: Enter at the end of `line`, the attribute typed, then deleted."""
    keys = [("newline", types.Range(start=pos(line, column), end=pos(line, column)), "\n")]
    for i, ch in enumerate(TYPED):
        keys.append(("type", types.Range(start=pos(line + 1, i), end=pos(line + 1, i)), ch))
    for i in range(len(TYPED), 0, -1):
        keys.append(("delete", types.Range(start=pos(line + 1, i - 1), end=pos(line + 1, i)), ""))
    keys.append(("join lines", types.Range(start=pos(line, column), end=pos(line + 1, 0)), ""))
    return keys


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{label:>11}: n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gap-ms", type=float, default=100, help="pause before each key (default 100)")
    parser.add_argument("--debounce-ms", type=float, default=None, help="default: the server's own")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "big.eval"
        text = generate(args.lines)
        path.write_text(text, encoding="utf-8")
        start = time.perf_counter()
        editor = Editor(root, debounce_ms=args.debounce_ms)
        started = time.perf_counter() - start
        try:
            sent = time.perf_counter()
            uri = editor.open(path, text)
            first = editor.wait_published(uri, 1)
            print(
                f"spec: {text.count(chr(10))} lines; server start + initialize {started:.2f} s; "
                f"first diagnostics after didOpen {(first.at - sent) * 1000:.0f} ms "
                f"({len(first.diagnostics)} diagnostics)"
            )
            latencies: dict[str, list[float]] = {}
            lines = text.split("\n")
            server = editor.client._server
            assert server is not None
            cpu = _cpu_seconds(server.pid)
            for _ in range(args.rounds):
                for line in _edit_points(text):
                    for kind, rng, new in _keystrokes(line, len(lines[line])):
                        time.sleep(args.gap_ms / 1000)
                        sent = time.perf_counter()
                        version = editor.change(uri, [(rng, new)])
                        got = editor.wait_published(uri, version, after=len(editor.published) - 1)
                        latencies.setdefault(kind, []).append(got.at - sent)
            every = [v for values in latencies.values() for v in values]
            cpu_ms = (_cpu_seconds(server.pid) - cpu) / len(every) * 1000
            print(f"{args.gap_ms:.0f} ms between keys; server CPU time per edit (mean) {cpu_ms:.1f} ms; "
                  f"load average {os.getloadavg()[0]:.1f}")
            print(_summary("all edits", every))
            for kind, values in latencies.items():
                print(_summary(kind, values))
        finally:
            editor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
