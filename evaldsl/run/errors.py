"""Why a run stops early: each exception carries the run status it ends in and a one-line message for the user."""

from __future__ import annotations


class RunStopped(Exception):
    """The run cannot go on; `status` is what the stored run says ("failed" or "interrupted")."""

    status = "failed"


class RunFailed(RunStopped):
    """A model cannot be loaded, a dataset cannot be read, a metric cannot be built, or `--max-errors` was
    exceeded: the run ends as "failed" and keeps what finished."""

    status = "failed"


class RunInterrupted(RunStopped):
    """The user (Ctrl-C, SIGTERM) or a budget stopped the run: it ends as "interrupted"."""

    status = "interrupted"
