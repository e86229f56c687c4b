"""The report's sample browser at scale: a capped, stratified, deterministic selection made in one pass."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from evaldsl.report.html import write_report
from evaldsl.report.sampling import Selection
from evaldsl.results import RunResult, SampleRecord
from evaldsl.store import Store


def test_selection_keeps_rare_strata_and_respects_the_cap() -> None:
    sel: Selection[int] = Selection(100)
    strata = {}
    for i in range(10_000):
        stratum = ("qa", "error") if i % 1000 == 0 else ("qa", "low" if i % 3 else "high")
        strata[i] = stratum
        sel.offer(i, stratum)
    chosen = sel.chosen()
    assert len(chosen) <= 100 and len(chosen) >= 95
    by = Counter(strata[k] for k in chosen)
    assert by[("qa", "error")] == 10  # all ten errors (a rare stratum keeps its floor)
    assert by[("qa", "low")] > by[("qa", "high")] > 10  # the rest in proportion
    again: Selection[int] = Selection(100)
    for i in range(9_999, -1, -1):  # another order, the same selection
        again.offer(i, strata[i])
    assert again.chosen() == chosen
    small: Selection[int] = Selection(100)
    for i in range(50):
        assert small.offer(i, ("qa", "high")) == (True, [])
    assert small.chosen() == set(range(50))


def _sample(eval_: str, model: str, i: int) -> SampleRecord:
    return SampleRecord(eval=eval_, model=model, index=i, row_id=f"row{i}", inputs={"q": f"question {i}"},
                        prompt=({"role": "user", "content": f"question {i}"},), references=(str(i),),
                        scores={} if i % 97 == 0 else {"exact_match": float(i % 2)},
                        error="timeout" if i % 97 == 0 else None, output={"output": f"answer {i}"})  # fmt: skip


def test_report_of_a_large_run_embeds_a_capped_selection(tmp_path: Path) -> None:
    with Store(tmp_path / "st") as st:
        run_id = st.begin_run({"spec_path": "big.eval"})
        st.add_samples(run_id, [_sample(ev, m, i) for ev in ("qa", "mc") for m in ("a", "b") for i in range(3000)])
        st.finish_run(RunResult(run_id=run_id, spec="big.eval", status="completed"), {})
        info = write_report(st, [run_id], tmp_path / "r.html", samples=200)
        full = write_report(st, [run_id], tmp_path / "all.html", samples=None)
    page = (tmp_path / "r.html").read_text()
    data = json.loads(re.search(r'id="evaldsl-data">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert info.samples == 12_000 and info.items == len(data["items"]) <= 200
    assert data["distinct"] == 6000 and "stratified selection" in page
    assert {data["evals"][it["e"]] for it in data["items"]} == {"qa", "mc"}
    assert all(len(it["o"]) == 2 for it in data["items"])  # both models' outputs for every selected sample
    assert sum(1 for it in data["items"] if it["o"][0].get("err")) >= 2 * 4  # errors stay in view
    assert full.items == 6000 and full.bytes > 10 * info.bytes and "stratified selection" not in (
        tmp_path / "all.html").read_text()
