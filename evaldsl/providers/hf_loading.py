"""Where an `hf` model comes from and how it is loaded: a model id + base folder in, a `LoadedModel` out."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import ProviderError
from .default_model import (
    DEFAULT_MODEL_ID,
    default_model_dir,
    gguf_fingerprint,
    is_default_model_id,
    packaged_gguf,
)

_DEVICES = ("auto", "cpu", "cuda", "mps")
_DTYPES = ("auto", "float32", "float16", "bfloat16")
_FINGERPRINT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".jinja", ".txt", ".gguf", ".pt", ".pth")
DEFAULT_MAX_LENGTH = 2048


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: `kind` is "default" (the packaged GGUF, converted on load), "local" (a directory) or
    "hub-cache" (a snapshot already in the local Hugging Face cache)."""

    kind: str
    path: Path
    fingerprint: str
    revision: str | None = None


@dataclass
class LoadedModel:
    """A model and tokenizer on their device, with what the generation and scoring code needs to know."""

    model: Any
    tokenizer: Any
    device: Any  # torch.device
    dtype: Any  # torch.dtype
    max_length: int
    prefix_token_id: int | None  # BOS, else EOS: the context of an empty prompt / first rolling window
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    cache_kwarg: str  # "cache" (transformers >= 5) or "past_key_values"
    cache_attr: str  # the output attribute holding the key/value cache
    logits_kwarg: str | None  # "logits_to_keep" / "num_logits_to_keep" where the model supports it
    vocab_size: int
    kv_bytes_per_token: int  # key/value cache size of one token of one sequence (all layers)


def resolve_source(model_id: str, base_dir: Path) -> ModelSource:
    """Find the model without loading it or touching the network; a clear ProviderError if it is absent."""
    raw = model_id.strip()
    if not raw:
        raise ProviderError(
            f"an hf model needs an `id`: '{DEFAULT_MODEL_ID}' (the packaged default), a local model folder, "
            "or a model id already in the Hugging Face cache"
        )
    if is_default_model_id(raw):
        gguf = packaged_gguf()
        return ModelSource("default", gguf, f"gguf:{gguf_fingerprint(gguf)}")
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ProviderError(
                f"hf model folder {candidate} has no config.json, so it is not a transformers model"
            )
        resolved = candidate.resolve()
        return ModelSource("local", resolved, f"files:{_folder_fingerprint(resolved)}")
    if candidate.exists():
        raise ProviderError(f"hf model {raw!r} resolves to {candidate}, which is a file, not a model folder")
    snapshot = _hub_cache_snapshot(raw)
    if snapshot is not None:
        return ModelSource("hub-cache", snapshot, f"revision:{snapshot.name}", revision=snapshot.name)
    if raw.startswith((".", "/", "~")) or raw.count("/") > 1:
        raise ProviderError(
            f"hf model folder {candidate} does not exist; check `id` (a relative path is relative to the file "
            "that declares the model)"
        )
    raise ProviderError(
        f"hf model {raw!r} was not found: it is not the packaged default model ('{DEFAULT_MODEL_ID}'), "
        f"not a folder (looked for {candidate}), and not in the local Hugging Face cache "
        f"({_hub_cache_dir()}). Models are never downloaded during a run: fetch it first (e.g. "
        f"`hf download {raw}`) or give a local path, relative to the spec's folder or absolute."
    )


def _folder_fingerprint(folder: Path) -> str:
    """Names, sizes and mtimes of the model's files: cheap (weights are not read), changes on any rewrite."""
    entries = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix in _FINGERPRINT_SUFFIXES:
            st = path.stat()
            entries.append(f"{path.name}|{st.st_size}|{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def _hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return "~/.cache/huggingface/hub"


def _hub_cache_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of `repo_id` (looked up on disk only), or None."""
    if repo_id.count("/") > 1 or repo_id.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an invalid repo id raises HFValidationError; anything else means "not cached" here
        return None
    if isinstance(found, str):
        return Path(found).parent
    return None


def resolve_device(requested: str) -> str:
    """auto -> cuda, else mps, else cpu; an explicitly requested accelerator that is missing is an error."""
    import torch

    name = requested.strip().lower() or "auto"
    base = name.split(":", 1)[0]
    if base not in _DEVICES:
        raise ProviderError(f"hf device {requested!r} is not one of {', '.join(_DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if base == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if base == "cuda" and not cuda:
        raise ProviderError(f"hf device {requested!r} was asked for, but torch sees no CUDA device here")
    if base == "mps" and not mps:
        raise ProviderError(f"hf device {requested!r} was asked for, but torch sees no MPS device here")
    return name


def config_dtype(source: ModelSource) -> str | None:
    """The dtype the model's config.json declares (None for the packaged default model, stored as float32)."""
    if source.kind == "default":
        return "float32"
    try:
        data = json.loads((source.path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    value = data.get("dtype") or data.get("torch_dtype")
    return value if isinstance(value, str) else None


def cpu_threads(requested: int, environ: Mapping[str, str] | None = None, cores: int | None = None) -> int:
    """torch's compute threads on a CPU: the model's `threads`, else $OMP_NUM_THREADS, else half the cores
    this process may use (at least 1): torch's default of one thread per core lost to fewer threads on a CPU that
    other work shares (bench/cpu_threads.py; figures in bench/README.md)."""
    if requested > 0:
        return requested
    env = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // 2)


def resolve_dtype(requested: str, device: str, declared: str | None) -> str:
    """auto -> float32 on CPU/MPS; on CUDA the config's half type (bfloat16 only where supported)."""
    import torch

    name = requested.strip().lower() or "auto"
    if name not in _DTYPES:
        raise ProviderError(f"hf dtype {requested!r} is not one of {', '.join(_DTYPES)}")
    if name != "auto":
        return name
    if not device.startswith("cuda"):
        return "float32"
    if declared == "bfloat16":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if declared == "float16":
        return "float16"
    return "float32"


def load_model(source: ModelSource, device: str, dtype: str, *, progress: bool = True) -> LoadedModel:
    """Load tokenizer and weights from disk only (`local_files_only=True`), on `device`, in eval mode."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = default_model_dir(progress=progress) if source.kind == "default" else source.path
    torch_dtype = getattr(torch, dtype)
    major = int(transformers.__version__.split(".", 1)[0])
    dtype_kwarg = "dtype" if major >= 5 else "torch_dtype"
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(path), local_files_only=True, **{dtype_kwarg: torch_dtype}
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ProviderError(f"could not load hf model from {path}: {exc}") from exc
    model.to(device)
    model.eval()
    eos_ids = _eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = eos_ids[0] if eos_ids else 0
    prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    params = inspect.signature(model.forward).parameters
    cache_kwarg = "cache" if "cache" in params else "past_key_values"
    logits_kwarg = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=torch.device(device),
        dtype=torch_dtype,
        max_length=_max_length(model, tokenizer),
        prefix_token_id=prefix,
        eos_token_ids=eos_ids,
        pad_token_id=int(pad_id),
        cache_kwarg=cache_kwarg,
        cache_attr=cache_kwarg,
        logits_kwarg=logits_kwarg,
        vocab_size=_vocab_size(model),
        kv_bytes_per_token=_kv_bytes_per_token(model, torch_dtype),
    )


def _text_config(model: Any) -> Any:
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _vocab_size(model: Any) -> int:
    embeddings = model.get_output_embeddings()
    weight = getattr(embeddings, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(getattr(_text_config(model), "vocab_size", 0) or 50_000)


def _kv_bytes_per_token(model: Any, torch_dtype: Any) -> int:
    """An estimate (exact for standard decoders) used to size the choice-scoring batches."""
    config = _text_config(model)
    layers = int(getattr(config, "num_hidden_layers", 0) or 24)
    hidden = int(getattr(config, "hidden_size", 0) or 1024)
    heads = int(getattr(config, "num_attention_heads", 0) or 16)
    kv_heads = int(getattr(config, "num_key_value_heads", 0) or heads)
    head_dim = int(getattr(config, "head_dim", 0) or hidden // heads)
    return 2 * layers * kv_heads * head_dim * torch_dtype.itemsize


def _eos_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos if isinstance(gen_eos, list) else [gen_eos]) + [tokenizer.eos_token_id]:
        if isinstance(value, int) and value not in ids:
            ids.append(value)
    return tuple(ids)


def _max_length(model: Any, tokenizer: Any) -> int:
    """The model's window, as lm-evaluation-harness finds it: config first, then the tokenizer, then 2048."""
    config = _text_config(model)
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**9:
        return limit
    return DEFAULT_MAX_LENGTH
