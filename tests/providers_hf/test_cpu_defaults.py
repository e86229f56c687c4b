"""CPU defaults of the hf provider: torch's compute threads (the model's `threads`, else $OMP_NUM_THREADS, else
half the cores) and the half-precision-on-CPU warning (W307 at check time, a notice when the model loads)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evaldsl.api import check
from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers.hf import HFProvider
from evaldsl.providers.hf_loading import cpu_threads


@pytest.mark.parametrize(
    ("requested", "env", "cores", "expected"),
    [
        (3, {"OMP_NUM_THREADS": "5"}, 8, 3),  # the spec's setting wins
        (0, {"OMP_NUM_THREADS": "5"}, 8, 5),  # then the environment
        (0, {"OMP_NUM_THREADS": " 2 "}, 8, 2),
        (0, {"OMP_NUM_THREADS": "lots"}, 8, 4),  # unusable → ignored
        (0, {"OMP_NUM_THREADS": "0"}, 8, 4),
        (0, {}, 8, 4),  # else half the cores
        (0, {}, 2, 1),
        (0, {}, 1, 1),  # at least one
    ],
)
def test_cpu_thread_default(requested: int, env: dict[str, str], cores: int, expected: int) -> None:
    assert cpu_threads(requested, env, cores) == expected


def test_loading_on_cpu_sets_torch_threads_and_warns_about_half_precision(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    before = torch.get_num_threads()
    config = ModelConfig(name="tiny", provider="hf", id=str(tiny_model_dir), device="cpu", threads=1,
                         dtype="bfloat16")
    provider = HFProvider(config, base_dir=tiny_model_dir.parent, progress=True)
    asyncio.run(provider.load())
    # the setting applies to the provider's worker thread, where every model call runs
    assert asyncio.run(provider._run(torch.get_num_threads)) == 1
    assert "model 'tiny' runs in bfloat16 on a CPU" in capsys.readouterr().err
    asyncio.run(provider.aclose())

    config = config.model_copy(update={"dtype": "float32", "threads": 2})
    provider = HFProvider(config, base_dir=tiny_model_dir.parent, progress=True)
    asyncio.run(provider.load())
    assert asyncio.run(provider._run(torch.get_num_threads)) == 2
    assert torch.get_num_threads() == before  # the test's own thread is untouched
    assert "warning" not in capsys.readouterr().err
    asyncio.run(provider.aclose())


def test_threads_never_changes_a_hash() -> None:
    one = ModelConfig(name="m", provider="hf", id="x", threads=1)
    assert one.model_dump() == ModelConfig(name="m", provider="hf", id="x").model_dump()


SPEC = """
dataset d {{ rows = [{{ q = "a", options = ["x", "y"], gold = [1, 0] }}] }}
model local {{
  provider = "hf"
  id = "smollm2-135m-instruct"
{settings}
}}
eval e {{
  mode = "choice"
  dataset = d
  models = [local]
  prompt = "{{{{ q }}}}"
  choices = `row.options`
  labels = `row.gold`
  metrics = [accuracy]
}}
"""


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ('  dtype = "bfloat16"\n  device = "cpu"', True),
        ('  dtype = "float16"\n  device = "CPU"', True),
        ('  dtype = "float32"\n  device = "cpu"', False),
        ('  dtype = "bfloat16"\n  device = "cuda"', False),
        ('  dtype = "bfloat16"', False),  # device "auto": only the machine knows; the provider says at load
        ('  device = "cpu"\n  threads = 2', False),
    ],
)
def test_half_precision_on_cpu_is_a_check_warning(settings: str, warned: bool, tmp_path: Path) -> None:
    diagnostics = check(tmp_path / "spec.eval", SPEC.format(settings=settings)).diagnostics
    assert not [d for d in diagnostics if d.severity == "error"], diagnostics
    w307 = [d for d in diagnostics if d.code == "W307"]
    assert bool(w307) == warned
    if warned:
        assert "runs in" in w307[0].message and "on a CPU" in w307[0].message
