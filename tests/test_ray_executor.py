"""The Ray executor on a real local Ray cluster (2 CPU actors): the same per-sample numbers as a single-process
run for choice, perplexity and generation evals on a tiny model built here; an actor that dies mid-run has its
batch retried on another; the cluster it started is stopped afterwards."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from evaldsl import api
from evaldsl.access import access_for
from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers.hf import HFProvider
from evaldsl.providers.records import GenerateRequest, GenerationParams
from evaldsl.report.export import write_run_jsonl
from tests.providers_hf.conftest import SENTENCES, build_tiny_model

ray = pytest.importorskip("ray", reason="the Ray executor needs the `ray` extra (pip install 'evaldsl[ray]')")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's workers import this module (the dying provider below) and evaldsl from this checkout."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("ray-tiny") / "model")


def write_project(folder: Path, model_dir: Path) -> Path:
    words = " ".join(SENTENCES).split()
    with (folder / "mc.jsonl").open("w") as out:
        for i in range(10):
            question = " ".join(words[i : i + 3 + i % 5])
            choices = [" " + words[(i + k) % len(words)] for k in range(2 + i % 3)] + [" the lazy dog"]
            labels = [1] + [0] * (len(choices) - 1)
            out.write(json.dumps({"q": question, "choices": choices, "labels": labels}) + "\n")
    with (folder / "text.jsonl").open("w") as out:
        for sentence in SENTENCES:
            out.write(json.dumps({"text": sentence, "answer": sentence.split()[0]}) + "\n")
    spec = folder / "ray.eval"
    spec.write_text(f"""
dataset mc   {{ path = "mc.jsonl" }}
dataset text {{ path = "text.jsonl" }}
model tiny {{
  provider   = "hf"
  id         = "{model_dir}"
  batch_size = 3
  max_tokens = 6
}}
eval choose {{
  mode    = "choice"
  dataset = mc
  prompt  = "Q: {{{{ q }}}}\\nA:"
  models  = [tiny]
  choices = `choices`
  labels  = `labels`
  metrics = [mc1, mc2, accuracy]
}}
eval ppl {{
  mode    = "perplexity"
  dataset = text
  text    = "{{{{ text }}}}"
  models  = [tiny]
  metrics = [perplexity]
}}
eval say {{
  dataset = text
  prompt  = "{{{{ text }}}}"
  models  = [tiny]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, f1]
}}
""")
    return spec


def per_sample(result: api.RunResult) -> list[tuple[Any, ...]]:
    assert result.run_id is not None and result.store is not None
    out = io.StringIO()
    write_run_jsonl(Path(result.store), result.run_id, out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return sorted(
        (r["eval"], *(json.dumps(r.get(k), sort_keys=True) for k in ("row_id", "output", "scores"))) for r in rows
    )


def test_ray_run_gives_bit_identical_per_sample_scores(tiny: Path, tmp_path: Path) -> None:
    spec = write_project(tmp_path, tiny)
    checked = api.check(spec, access=access_for([tiny], environ={}))  # the model lives outside the project
    assert checked.ok and checked.spec is not None, checked.diagnostics
    graph = api.plan(checked.spec)
    local = api.run(graph, api.RunConfig(store_dir=tmp_path / "local", use_cache=False))
    sharded = api.run(graph, api.RunConfig(store_dir=tmp_path / "ray", use_cache=False, executor="ray", ray_actors=2))
    assert local.status == sharded.status == "completed", (local.message, sharded.message)
    assert sharded.model_calls == local.model_calls > 0
    assert per_sample(sharded) == per_sample(local)
    assert [r.metrics for r in sharded.results] == [r.metrics for r in local.results]
    assert not ray.is_initialized()  # the local cluster it started is stopped
    # the driver wrote the cache, under the same keys as a local run: a local run on the Ray run's store calls nothing
    again = api.run(graph, api.RunConfig(store_dir=tmp_path / "ray"))
    assert again.cache_hits == local.model_calls and again.model_calls == 0


class DyingProvider(HFProvider):
    """An hf provider whose process exits on its first generation while `marker` exists (once, cluster-wide)."""

    def __init__(self, config: ModelConfig, marker: str) -> None:
        super().__init__(config, base_dir=config.base_dir or Path.cwd(), progress=False)
        self.marker = marker

    async def generate(self, requests: Any) -> Any:
        try:
            os.remove(self.marker)
        except FileNotFoundError:
            pass
        else:
            os._exit(1)
        async for pair in super().generate(requests):
            yield pair


def load_dying(marker: str, config: ModelConfig) -> DyingProvider:
    return DyingProvider(config, marker)


def test_a_dead_actors_batch_is_retried_on_another(tiny: Path, tmp_path: Path) -> None:
    import functools

    from evaldsl.providers.ray_pool import RayPool

    config = ModelConfig(
        name="tiny", provider="hf", id=str(tiny), batch_size=2, generation=GenerationParams(max_tokens=4)
    )
    requests = [
        GenerateRequest(messages=({"role": "user", "content": s},), params=config.generation) for s in SENTENCES
    ]
    marker = tmp_path / "die-once"
    marker.write_text("")
    pool = RayPool(config, actors=2, loader=functools.partial(load_dying, str(marker)))

    async def both() -> tuple[list[Any], list[Any]]:
        try:
            sharded = dict([pair async for pair in pool.generate(requests)])
        finally:
            await pool.aclose()
        single = HFProvider(config, base_dir=tmp_path, progress=False)
        alone = dict([pair async for pair in single.generate(requests)])
        await single.aclose()
        return [sharded[i] for i in range(len(requests))], [alone[i] for i in range(len(requests))]

    sharded, alone = asyncio.run(both())
    assert not marker.exists()  # an actor did die
    assert pool._replacements == 1  # and was replaced
    assert [(g.text, g.error) for g in sharded] == [(g.text, g.error) for g in alone]
    assert all(g.error is None for g in sharded)
    assert not ray.is_initialized()


def _descendants(root: int) -> dict[int, str]:
    """Live processes below `root` (pid → command line)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


@pytest.mark.slow  # a whole `evaldsl run` process with its own cluster (about a minute)
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_ctrl_c_stops_the_run_and_the_local_cluster(tiny: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    spec = write_project(tmp_path, tiny)
    spec.write_text(spec.read_text().replace("max_tokens = 6", "max_tokens = 60"))
    (tmp_path / "text.jsonl").write_text(
        "".join(json.dumps({"text": f"{s} {i}", "answer": "x"}) + "\n" for i in range(40) for s in SENTENCES)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaldsl", "run", str(spec), "--eval", "say", "--executor", "ray", "--ray-actors", "2",
         "--allow-path", str(tiny),
         "--no-cache", "--store", str(tmp_path / "store"), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            seen.update(_descendants(proc.pid))
            if sum("ShardWorker" in command for command in seen.values()) >= 2:
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        time.sleep(2)  # the actors are at work
        seen.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert json.loads(out.splitlines()[0])["status"] == "interrupted", (out, err)
    assert "Traceback" not in err
    assert any("raylet" in command for command in seen.values())  # a local cluster was started...
    deadline = time.monotonic() + 30
    alive = {pid for pid in seen if Path(f"/proc/{pid}").exists()}
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists()}
    assert not alive, {pid: seen[pid] for pid in alive}  # ...and none of its processes is left


def test_more_actors_than_devices_get_fractions_so_that_all_start() -> None:
    from evaldsl.providers.ray_pool import _share

    assert _share(2, 2) == 1.0 and _share(8, 2) == 4.0  # whole CPUs where there are enough
    assert _share(2, 4) == 0.5 and 0 < _share(2, 3) * 3 <= 2  # fractions never add up to more than there is
    assert _share(4, 16, cap=1.0) == 0.25 and _share(8, 2, cap=1.0) == 1.0  # at most one GPU each
