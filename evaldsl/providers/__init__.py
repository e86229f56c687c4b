"""Model backends: a `ModelConfig` in, a loaded `Provider` out (backends are imported only when chosen)."""

from __future__ import annotations

from pathlib import Path

from ..compile.model_config import ModelConfig
from .base import Provider, ProviderError

__all__ = ["Provider", "ProviderError", "load_provider"]


def load_provider(config: ModelConfig) -> Provider:
    """Build the provider named by `config.provider`; raises ProviderError when it cannot be used at all.
    Relative model paths resolve against `config.base_dir`, the folder of the file that declares the model."""
    base_dir = config.base_dir or Path.cwd()
    if config.provider == "mock":
        from .mock import MockProvider

        return MockProvider(config, base_dir=base_dir)
    if config.provider == "litellm":
        from .litellm_api import LiteLLMProvider

        return LiteLLMProvider(config, base_dir=base_dir)
    if config.provider == "hf":
        from .hf import HFProvider

        return HFProvider(config, base_dir=base_dir)
    if config.provider == "vllm":
        from .vllm_engine import VLLMProvider

        return VLLMProvider(config, base_dir=base_dir)
    if config.provider == "python":
        from .python_fn import PythonProvider

        return PythonProvider(config, base_dir=base_dir)
    if config.provider == "http":
        from .http_api import HTTPProvider

        return HTTPProvider(config, base_dir=base_dir)
    raise ProviderError(
        f"model {config.name!r}: unknown provider {config.provider!r} (use hf, litellm, mock, vllm, python or http)"
    )
