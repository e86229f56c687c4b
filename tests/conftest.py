"""Shared fixtures: a local OpenAI-compatible server, offline settings, and a helper to run the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakeserver import fake_openai_server  # noqa: F401 - re-exported fixture
from tests.pgserver import postgres_server, postgres_url  # noqa: F401 - re-exported fixtures

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    return "sk-test-not-a-real-key"


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own folder with no EVALDSL_HOME, so that the store rule (nearest `.evaldsl/` at or
    above the current folder) never finds a developer's own store."""
    monkeypatch.delenv("EVALDSL_HOME", raising=False)
    monkeypatch.delenv("EVALDSL_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A new store of each backend: a folder (SQLite) and a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return tmp_path / "st"
    return str(request.getfixturevalue("postgres_url"))
