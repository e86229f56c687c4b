"""Which evals a change affects: the spec compiled at a git revision (its tree materialised with `git archive`
into a temporary folder) and in the working tree, both planned, and each eval's nodes compared by content hash —
with the reason read from the nodes whose own settings differ (prompt, dataset rows, model settings, a metric
added...)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..compile.pipeline import CheckResult
from ..project import git_root
from .graph import AggregateNode, EvalPlan, Graph, LoadNode, Node
from .planner import plan

Status = Literal["changed", "new", "unchanged", "removed"]


class AffectedError(Exception):
    """The spec is not in a git repository, the revision does not exist, or the current spec does not compile."""


@dataclass(frozen=True)
class AffectedEval:
    eval: str
    status: Status
    reasons: tuple[str, ...] = ()
    models: tuple[str, ...] = field(default_factory=tuple)

    @property
    def affected(self) -> bool:
        return self.status in ("changed", "new")

    def to_json(self) -> dict[str, Any]:
        return {"eval": self.eval, "status": self.status, "reasons": list(self.reasons), "models": list(self.models)}


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AffectedError(f"cannot run git: {exc}") from None


def materialise(root: Path, rev: str, into: Path) -> str:
    """Write the tree of `rev` of the repository at `root` into `into`; returns the full commit id."""
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise AffectedError(f"no git revision {rev!r} in {root}")
    commit = found.stdout.decode().strip()
    archive = _git(root, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise AffectedError(f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / ".git").write_text("")  # the materialised tree is its own project root, as the repository is
    return commit


def _eval_nodes(graph: Graph, ev: EvalPlan) -> dict[str, Node]:
    """Every node an eval's results depend on: its own, its datasets (few-shot included)."""
    nodes = {nid: graph.nodes[nid] for nid in (ev.load, *graph.nodes[ev.render].inputs)}
    nodes.update({nid: n for nid, n in graph.nodes.items() if getattr(n, "eval", None) == ev.name})
    return nodes


def _what(node_id: str, node: Node) -> str:
    kind, _, rest = node_id.partition(":")
    name = rest.rsplit(":", 1)[-1]
    if kind == "load":
        return f"dataset {rest}"
    if kind == "render":
        return "prompt or sample fields"
    if kind in ("generate", "score_choices", "score_text"):
        return f"model {name}"
    if kind == "assert":
        return f"assert #{int(name) + 1} of {rest.split(':')[1]}"
    return f"{kind} {name}"


def _reasons(old: dict[str, Node], new: dict[str, Node]) -> list[str]:
    reasons: list[str] = []
    for nid, node in new.items():
        before = old.get(nid)
        what = _what(nid, node)
        if before is None:
            reasons.append(f"{what} added")
        elif before.config_hash != node.config_hash:
            if isinstance(node, AggregateNode) and isinstance(before, AggregateNode):
                if before.metrics == node.metrics:  # else: a metric or judge added/removed says why
                    reasons.append(f"max_error_rate of {node.model} changed")
            elif isinstance(node, LoadNode) and isinstance(before, LoadNode) and before.data_hash != node.data_hash:
                reasons.append(f"{what} rows changed")
            else:
                reasons.append(f"{what} changed")
    reasons += [f"{_what(nid, node)} removed" for nid, node in old.items() if nid not in new]
    return list(dict.fromkeys(reasons))


def compare(old: Graph | None, new: Graph, why_all: str | None = None) -> list[AffectedEval]:
    """Each eval of `new` against `old` (None: everything is new, for `why_all`), then evals only in `old`."""
    out = []
    old_evals = {ev.name: ev for ev in old.evals} if old is not None else {}
    for ev in new.evals:
        models = tuple(r.model for r in ev.runs)
        before = old_evals.get(ev.name)
        if old is None or before is None:
            out.append(AffectedEval(ev.name, "new", (why_all or "eval added",), models))
            continue
        new_nodes, old_nodes = _eval_nodes(new, ev), _eval_nodes(old, before)
        same = new_nodes.keys() == old_nodes.keys() and all(n.hash == old_nodes[i].hash for i, n in new_nodes.items())
        if same:
            out.append(AffectedEval(ev.name, "unchanged", (), models))
        else:
            out.append(AffectedEval(ev.name, "changed", tuple(_reasons(old_nodes, new_nodes)), models))
    names = {ev.name for ev in new.evals}
    out += [AffectedEval(name, "removed", ("eval removed",)) for name in old_evals if name not in names]
    return out


def affected_since(spec: Path, rev: str, check: Callable[[Path], CheckResult]) -> list[AffectedEval]:
    """Compare the spec at git revision `rev` with the working tree (`check` compiles a spec file)."""
    spec = spec.resolve()
    root = git_root(spec)
    if root is None:
        raise AffectedError(f"{spec} is not in a git repository, so there is no revision {rev!r} to compare with")
    current = check(spec)
    if not current.ok or current.spec is None:
        raise AffectedError(f"{spec} does not compile; run `evaldsl check {spec}`")
    new = plan(current.spec)
    with tempfile.TemporaryDirectory(prefix="evaldsl-affected-") as tmp:
        commit = materialise(root, rev, Path(tmp))
        old_spec = Path(tmp) / spec.relative_to(root)
        if not old_spec.is_file():
            return compare(None, new, f"the spec is not in {rev} ({commit[:12]})")
        before = check(old_spec)
        if not before.ok or before.spec is None:
            return compare(None, new, f"the spec did not compile at {rev} ({commit[:12]})")
        return compare(plan(before.spec), new)
