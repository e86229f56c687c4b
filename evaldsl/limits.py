"""Per-sample limits on work a spec can ask for: a time limit that interrupts runaway Python code (template
loops, backtracking regexes, user metrics) and raises `LimitExceeded` instead of hanging the run."""

from __future__ import annotations

import _signal  # the C functions behind `signal`, without its enum conversions (a few µs per call)
import signal
import threading
from types import FrameType, TracebackType

RENDER_SECONDS = 2.0
"""Most wall time one template or expression may take to render for one sample."""
METRIC_SECONDS = 10.0
"""Most wall time one metric may take to score one sample (regexes and python metrics included)."""

_SIGALRM = int(signal.SIGALRM)
_ITIMER_REAL = int(signal.ITIMER_REAL)


class LimitExceeded(Exception):
    """A per-sample limit was reached; the message says which and what to change."""


class time_limit_each:  # noqa: N801 - a context manager named like `time_limit`
    """A time limit for each item of a loop: entered once around the loop (installing the handler), then
    `arm()` before and `disarm()` after each item (one system call each). Used where every sample gets a limit of
    its own (rendering, scoring). Uses SIGALRM, so it applies on the main thread (where the runner works);
    elsewhere, and when an outer limit is already set, it does nothing. The interruption happens between Python
    bytecodes, which covers template loops, regex backtracking (the `re` engine checks for signals) and user
    functions.

        with time_limit_each(10.0, "metric f1") as limit:
            for sample in samples:
                try:
                    limit.arm()
                    ...
                except LimitExceeded: ...
                finally:
                    limit.disarm()

    A plain class rather than a generator context manager, calling the C signal functions directly: the runner
    arms one per sample, and this keeps each to a system call."""

    __slots__ = ("seconds", "what", "_previous", "_active")

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self._previous: object = None
        self._active = False

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        raise LimitExceeded(f"{self.what} took longer than {self.seconds:g} s")

    def __enter__(self) -> time_limit_each:
        if threading.current_thread() is threading.main_thread() and not _signal.getitimer(_ITIMER_REAL)[0]:
            self._previous = _signal.signal(_SIGALRM, self._expire)
            self._active = True
        return self

    def arm(self) -> None:
        if self._active:
            _signal.setitimer(_ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self._active:
            _signal.setitimer(_ITIMER_REAL, 0)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._active:
            self._active = False
            _signal.setitimer(_ITIMER_REAL, 0)
            _signal.signal(_SIGALRM, self._previous)


class time_limit(time_limit_each):  # noqa: N801 - used like the function it replaced: `with time_limit(2.0, ...):`
    """Raise LimitExceeded in this block after `seconds` (wall time): `time_limit_each` armed once, for one item."""

    __slots__ = ()

    def __enter__(self) -> time_limit:
        super().__enter__()
        self.arm()
        return self
