"""Helpers shared by the benchmarks: timing whole commands and making peer virtual environments."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def timed(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, ok: tuple[int, ...] = (0, 1)
) -> tuple[float, str]:
    """Wall seconds of a whole process, and its combined output (raises if it fails)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout + proc.stderr


def peer_venv(name: str, packages: list[str]) -> Path:
    """A virtual environment under bench/ with `packages` installed (created once); returns its python."""
    folder = BENCH / f".venv-{name}"
    python = folder / "bin" / "python"
    marker = folder / ".installed"
    if not marker.exists():
        venv.EnvBuilder(with_pip=True, system_site_packages=False).create(folder)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
        marker.write_text(" ".join(packages))
    return python


def evaldsl_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "evaldsl", *args]
