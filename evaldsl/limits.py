"""Per-sample limits on work a spec can ask for: a time limit that interrupts runaway Python code (template
loops, backtracking regexes, user metrics) and raises `LimitExceeded` instead of hanging the run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

RENDER_SECONDS = 2.0
"""Most wall time one template or expression may take to render for one sample."""
METRIC_SECONDS = 10.0
"""Most wall time one metric may take to score one sample (regexes and python metrics included)."""


class LimitExceeded(Exception):
    """A per-sample limit was reached; the message says which and what to change."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise LimitExceeded in this block after `seconds` (wall time). Uses SIGALRM, so it applies on the main
    thread (where the runner works); elsewhere, and when an outer limit is already set, it does nothing. The
    interruption happens between Python bytecodes, which covers template loops, regex backtracking (the `re`
    engine checks for signals) and user functions."""
    if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise LimitExceeded(f"{what} took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
