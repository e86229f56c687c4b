"""A long-lived `evaldsl check` for the structure-aware fuzz test: reads one spec path per line on stdin, runs the
real CLI command on it in this process, and answers one JSON line per spec: exit code, CPU seconds, peak memory
(VmHWM, reset before each spec through /proc/self/clear_refs), output size and any traceback.

When the peak cannot be reset (no /proc, or a kernel that refuses), the answer says so and the worker exits after
that spec, so the caller starts a fresh process (whose peak is then that spec's alone) for the next one.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


SECRET = "FUZZ-SECRET-7c1e"  # written into files beside the fuzzed specs: it must never be printed


def _hwm_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        kib = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    from typer.testing import CliRunner

    from evaldsl.cli.app import app

    runner = CliRunner()
    for line in sys.stdin:
        spec = Path(line.strip())
        reset = _reset_hwm()
        before = resource.getrusage(resource.RUSAGE_SELF)
        result = runner.invoke(app, ["check", "-q", str(spec)], catch_exceptions=True)
        after = resource.getrusage(resource.RUSAGE_SELF)
        crash = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            crash = "".join(traceback.format_exception(result.exception))[-4000:]
        answer = {
            "code": result.exit_code,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mib": _hwm_mib(),
            "output_bytes": len(result.output.encode("utf-8", "replace")),
            "traceback": crash or ("Traceback" in result.output and result.output[-4000:]) or None,
            "secret_shown": SECRET in result.output,
            "reset": reset,
        }
        print(json.dumps(answer), flush=True)
        if not reset:
            return


if __name__ == "__main__":
    main()
