"""Shared fixtures: a local OpenAI-compatible server, offline settings, and a helper to run the CLI."""

from __future__ import annotations

import os

import pytest

from tests.fakeserver import fake_openai_server  # noqa: F401 - re-exported fixture

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    return "sk-test-not-a-real-key"
