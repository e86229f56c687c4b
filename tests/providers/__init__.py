"""Tests of the model providers (mock, litellm) and their retry policy."""
