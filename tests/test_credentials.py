"""Credentials never go in a spec (E330): attributes and `extra` keys that look like credentials, at any depth,
and values shaped like keys, point at the environment variable to use instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.credentials import PROVIDER_KEY_VARIABLES, key_variables, looks_like_secret_name, looks_like_secret_value


def check(tmp_path: Path, model_body: str) -> list[tuple[str, str, str | None]]:
    spec = tmp_path / "spec.eval"
    spec.write_text(f"""
dataset d {{ rows = [{{ q = "hi", key = "k1", token = "t", password_hint = "p" }}] }}
model m {{ {model_body} }}
eval e {{ dataset = d, prompt = "{{{{ q }}}} {{{{ key }}}} {{{{ token }}}}", models = [m], target = "x",
          metrics = [exact_match] }}
""")
    return [(d.code, d.message, d.hint) for d in api.check(spec).diagnostics if d.is_error]


def test_api_key_is_an_error_naming_the_variable_not_a_typo_of_api_base(tmp_path: Path) -> None:
    found = check(tmp_path, 'id = "openai/gpt-4o-mini", api_key = "sk-proj-0123456789abcdef"')
    assert [code for code, _, _ in found] == ["E330"]
    _, message, hint = found[0]
    assert "`api_key` looks like a credential" in message and "api_base" not in message + (hint or "")
    assert hint is not None and "OPENAI_API_KEY" in hint
    assert "sk-proj" not in message + hint  # the value itself is never repeated


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('id = "anthropic/claude-3-5-haiku-latest", extra = { api_key = "abc123def" }', "extra.api_key"),
        ('id = "openai/x", extra = { extra_headers = { Authorization = "Bearer a" } }', "extra_headers.Authorization"),
        ('id = "openai/x", extra = { extra_headers = { "x-api-key" = "abc" } }', "extra_headers.x-api-key"),
        ('id = "openai/x", extra = { aws_secret_access_key = "abc" }', "extra.aws_secret_access_key"),
        ('id = "openai/x", extra = { vertex_credentials = "{}" }', "extra.vertex_credentials"),
        ('id = "openai/x", extra = { github_token = "abc" }', "extra.github_token"),
        ('id = "openai/x", extra = { db = { password = "hunter22" } }', "extra.db.password"),
        ('id = "openai/x", extra = { headers = [{ value = "Bearer abc" }] }', "extra.headers[0].value"),
        ('id = "openai/x", extra = { user = "sk-abcdefghijklmnop" }', "extra.user"),
        ('id = "openai/x", token = "abc"', "`token`"),
        ('id = "openai/x", clientSecret = "abc"', "`clientSecret`"),
    ],
)
def test_credential_like_keys_and_values_are_errors_at_any_depth(tmp_path: Path, body: str, where: str) -> None:
    found = check(tmp_path, body)
    assert [code for code, _, _ in found] == ["E330"], found
    assert where in found[0][1]


def test_the_hint_names_the_providers_variable(tmp_path: Path) -> None:
    (_, _, hint), = check(tmp_path, 'id = "anthropic/claude-3-5-haiku-latest", api_key = "x"')
    assert hint is not None and "ANTHROPIC_API_KEY" in hint
    (_, _, hint), = check(tmp_path, 'id = "groq/llama", extra = { api_key = "x" }')
    assert hint is not None and "GROQ_API_KEY" in hint
    (_, _, hint), = check(tmp_path, 'provider = "hf", id = "smollm2-135m-instruct", token = "x"')
    assert hint is not None and "HF_TOKEN" in hint


def test_ordinary_settings_and_data_fields_are_not_credentials(tmp_path: Path) -> None:
    found = check(
        tmp_path,
        'id = "openai/x", api_base = "http://127.0.0.1:1/v1", max_tokens = 8, '
        'extra = { max_completion_tokens = 8, logit_bias = { "50256" = -100 }, user = "team-a", '
        'metadata = { key_file_path = "x", token_budget = "5" } }',
    )
    assert found == []  # rows with fields `key`, `token`... are data, not credentials


@pytest.mark.parametrize(
    "name",
    ["api_key", "apiKey", "API_KEY", "Authorization", "x-api-key", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY",
     "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "client_secret", "db_password", "WATSONX_APIKEY", "cookie",
     "GOOGLE_APPLICATION_CREDENTIALS", "HCP_VAULT_APPROLE_SECRET_ID", "MY_SERVICE_TOKEN"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert looks_like_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["api_base", "max_tokens", "max_completion_tokens", "TOKENIZERS_PARALLELISM", "PATH", "HOME", "PWD",
     "KEY_FILE", "ACTIONS_ID_TOKEN_REQUEST_URL", "VALKEY_HOST", "monkey", "keyboard", "author", "OAUTH_CLIENT_ID",
     "token_budget", "timeout", "user"],
)  # fmt: skip
def test_names_that_are_not_secrets(name: str) -> None:
    assert not looks_like_secret_name(name)


def test_secret_shaped_values() -> None:
    for value in ("Bearer abc", "sk-abcdef123456", "sk-proj-abcdefgh", "hf_abcdefghijk", "ghp_abcdefghij"):
        assert looks_like_secret_value(value), value
    for value in ("hello", "skip-this", "Bearer", "task-1", "https://example.org"):
        assert not looks_like_secret_value(value), value


def test_key_variables_follow_litellm() -> None:
    """Our table of provider key variables agrees with what litellm itself asks for."""
    litellm = pytest.importorskip("litellm")
    for prefix, names in PROVIDER_KEY_VARIABLES.items():
        missing = litellm.validate_environment(f"{prefix}/some-model")["missing_keys"]
        asked = [n for n in missing if looks_like_secret_name(n)]
        if asked:  # litellm names no key for some providers (they read several sources)
            assert set(asked) <= set(names) | set(PROVIDER_KEY_VARIABLES.get(prefix, ())), (prefix, asked)
            assert set(names) & set(asked), (prefix, asked)
        assert all(looks_like_secret_name(n) for n in names), names
    assert key_variables("gpt-4o") == ("OPENAI_API_KEY",)
    assert key_variables("newprov/x") == ("NEWPROV_API_KEY",)
