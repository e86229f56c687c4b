"""What counts as a credential: the environment variables providers read their keys from, names that look like
a secret (`api_key`, `authorization`, `*_token`, `*secret*`, `password`...) and values that look like one
(`Bearer ...`, `sk-...`). Shared by the spec check (credentials never go in a spec) and the redactor (their
values never leave the process). See docs/security.md."""

from __future__ import annotations

import re

# The key variable litellm reads for each provider prefix of a model id (`litellm.validate_environment` names
# them; tests/test_credentials.py compares). A prefix not listed reads `<PREFIX>_API_KEY`.
PROVIDER_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "huggingface": ("HUGGINGFACE_API_KEY", "HF_TOKEN"),
    "replicate": ("REPLICATE_API_KEY",),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY",),
    "perplexity": ("PERPLEXITYAI_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "bedrock": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "azure": ("AZURE_API_KEY",),
    "vertex_ai": ("GOOGLE_APPLICATION_CREDENTIALS",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "nvidia_nim": ("NVIDIA_NIM_API_KEY",),
    "ai21": ("AI21_API_KEY",),
    "watsonx": ("WATSONX_APIKEY",),
    "databricks": ("DATABRICKS_API_KEY",),
}

# Parts of a name (split at `_`, `-`, `.` and case changes) that make it a credential's name.
_SECRET_PARTS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "cookie",
        "bearer",
        "pat",
        "privatekey",
    }  # fmt: skip
)
# A last part that names where a credential lives or how it is used, not the credential itself.
_NOT_SECRET_LAST = frozenset(
    {
        "url",
        "uri",
        "host",
        "port",
        "endpoint",
        "file",
        "dir",
        "dirs",
        "path",
        "version",
        "enabled",
        "name",
        "names",
        "interval",
        "namespace",
        "period",
        "limit",
        "type",
        "header",
        "id",
        "ids",
        "count",
        "counting",
        "budget",
        "tokens",
        "keys",
    }  # fmt: skip
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_VALUE = re.compile(
    r"\s*(?:(?:Bearer|Basic|Token)\s+\S|(?:sk|pk|rk)-[\w-]{8,}|hf_\w{8,}|gh[pousr]_\w{8,}|xox[abprs]-[\w-]{8,}"
    r"|AKIA[A-Z0-9]{12,})"
)


def _parts(name: str) -> list[str]:
    return [p.lower() for p in _WORD.findall(name)]


def looks_like_secret_name(name: str) -> bool:
    """Whether an attribute, map key or environment variable name names a credential: `api_key`, `apiKey`,
    `Authorization`, `x-api-key`, `HF_TOKEN`, `client_secret`, `AWS_SECRET_ACCESS_KEY`, `db_password`... but not
    `max_tokens`, `api_base`, `KEY_FILE` or `TOKEN_URL`."""
    parts = _parts(name)
    if not parts:
        return False
    if parts[-1] in _NOT_SECRET_LAST and not (parts[-1] == "id" and {"access", "secret"} & set(parts)):
        return False
    return any(p in _SECRET_PARTS or p.endswith("apikey") or "secret" in p or "password" in p for p in parts)


def looks_like_secret_value(value: str) -> bool:
    """Whether a string looks like a credential by its shape: `Bearer ...`, `sk-...`, `hf_...`, `ghp_...`."""
    return _SECRET_VALUE.match(value) is not None


def key_variables(model_id: str | None) -> tuple[str, ...]:
    """The environment variables a litellm model id reads its key from (`openai/gpt-4o` → OPENAI_API_KEY);
    OPENAI_API_KEY when the id has no provider prefix (litellm's default)."""
    prefix, slash, _ = (model_id or "").partition("/")
    if not slash:
        return ("OPENAI_API_KEY",)
    known = PROVIDER_KEY_VARIABLES.get(prefix.lower())
    return known or (re.sub(r"\W", "_", prefix).upper() + "_API_KEY",)
