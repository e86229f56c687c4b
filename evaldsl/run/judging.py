"""Run a judge node: build judge prompts per sample, call the judge model through the cache, parse verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..compile.spec import JudgeDef
from ..judges.verdicts import (
    JudgeConfig,
    JudgeError,
    PairVerdict,
    Verdict,
    aggregate_pair_votes,
    aggregate_votes,
    agreement,
    build_pairwise_messages,
    build_single_messages,
    combine_swapped,
    human_verdict,
    parse_pairwise,
    parse_single,
    response_format,
)
from ..plan.graph import JudgeNode
from ..providers.records import GenerateRequest, Generation
from .samples import Sample
from .scoring import Output, estimate_of, jsonable, output_error

if TYPE_CHECKING:
    from .runner import _Execution


def judge_config(judge: JudgeDef) -> JudgeConfig:
    return JudgeConfig(
        name=judge.name,
        model=judge.model.name,
        rubric=judge.rubric.source if judge.rubric.kind != "const" else str(judge.rubric.value),
        mode=judge.mode,
        reference=None if judge.reference is None else (judge.reference.source or str(judge.reference.value)),
        scale=judge.scale if judge.choices is None else None,
        choices=judge.choices,
        reasoning=judge.reasoning,
        votes=judge.votes,
        swap=judge.swap,
        human=None if judge.human is None else (judge.human.source or str(judge.human.value)),
    )


@dataclass
class JudgeResult:
    """Per-sample judge scores (None = unscored or not judged), stored records, and the summary."""

    name: str
    mode: str
    scores: list[float | None]
    records: list[dict[str, Any] | None]
    judged: int
    unscored: int
    estimate: Any
    agreement: dict[str, Any] | None = None
    outcomes: dict[str, int] | None = None

    def summary(self) -> dict[str, Any]:
        e = self.estimate
        out: dict[str, Any] = {
            "value": jsonable(e.value),
            "ci_low": jsonable(e.ci_low),
            "ci_high": jsonable(e.ci_high),
            "n": e.n,
            "unscored": self.unscored,
            "unscored_rate": jsonable(self.unscored / self.judged) if self.judged else None,
        }
        if self.outcomes is not None:
            out["outcomes"] = self.outcomes
        if self.agreement is not None:
            out["human_agreement"] = {k: jsonable(v) for k, v in self.agreement.items()}
        return out


def _variables(judge: JudgeDef, sample: Sample) -> dict[str, Any]:
    """What the rubric/reference templates see: the sample's fields and template parameters — never the judged
    output, which must stay inside its delimited block."""
    return {**judge.rubric.params, **sample.row, "row": sample.row}


async def _ask(
    ex: _Execution,
    node: JudgeNode,
    cfg: JudgeConfig,
    messages_list: list[list[dict[str, str]]],
    salts: list[Any],
    label: str,
) -> list[Generation]:
    schema = response_format(cfg)
    params = node.judge_model.generation_params()
    requests = [GenerateRequest(messages=tuple(m), params=params, response_format=schema) for m in messages_list]
    return await ex.generate_many(node.judge_model, requests, salts, label)


async def run_judge(
    ex: _Execution,
    node: JudgeNode,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    other: Sequence[Output] | None,
) -> JudgeResult:
    cfg = judge_config(node.judge)
    usable = [
        i
        for i, (s, o) in enumerate(zip(samples, outputs, strict=True))
        if s.error is None and output_error(o) is None and (other is None or output_error(other[i]) is None)
    ]
    texts = {i: outputs[i].text for i in usable}  # type: ignore[union-attr]
    prompts: list[list[dict[str, str]]] = []
    slots: list[tuple[int, int, bool]] = []  # (sample, vote, swapped)
    try:
        for i in usable:
            s = samples[i]
            variables = _variables(node.judge, s)
            for vote in range(cfg.votes):
                if cfg.mode == "single":
                    prompts.append(
                        build_single_messages(cfg, question=s.question, response=texts[i], variables=variables)
                    )
                    slots.append((i, vote, False))
                else:
                    b = other[i].text  # type: ignore[index, union-attr]
                    prompts.append(
                        build_pairwise_messages(
                            cfg, question=s.question, response_a=texts[i], response_b=b, variables=variables
                        )
                    )
                    slots.append((i, vote, False))
                    if cfg.swap:
                        prompts.append(
                            build_pairwise_messages(
                                cfg, question=s.question, response_a=b, response_b=texts[i], variables=variables
                            )
                        )
                        slots.append((i, vote, True))
    except JudgeError as exc:
        from .runner import RunFailed

        raise RunFailed(f"judge {cfg.name}: {exc}") from None
    label = f"{node.eval} · {node.model} · judge {cfg.name}"
    replies = await _ask(ex, node, cfg, prompts, [("vote", v, sw) for _, v, sw in slots], label)
    parse = parse_single if cfg.mode == "single" else parse_pairwise
    parsed: list[Verdict | PairVerdict] = [
        parse(cfg, r.text) if r.error is None else _failed(cfg, f"judge call failed: {r.error}") for r in replies
    ]
    # One retry for each unparseable verdict (a fresh cache key), then it stays unscored.
    retry = [k for k, (v, r) in enumerate(zip(parsed, replies, strict=True)) if not v.scored and r.error is None]
    if retry:
        again = await _ask(
            ex,
            node,
            cfg,
            [prompts[k] for k in retry],
            [("retry", slots[k][1], slots[k][2]) for k in retry],
            label + " (retry)",
        )
        for k, r in zip(retry, again, strict=True):
            if r.error is None:
                v = parse(cfg, r.text)
                if v.scored:
                    parsed[k], replies[k] = v, r
    per_sample: dict[int, list[tuple[bool, Verdict | PairVerdict, Generation, list[dict[str, str]]]]] = {}
    for (i, _vote, swapped), v, r, p in zip(slots, parsed, replies, prompts, strict=True):
        per_sample.setdefault(i, []).append((swapped, v, r, p))
    scores: list[float | None] = [None] * len(samples)
    records: list[dict[str, Any] | None] = [None] * len(samples)
    verdicts: list[Verdict | PairVerdict | None] = [None] * len(samples)
    for i, items in per_sample.items():
        if cfg.mode == "single":
            final: Verdict | PairVerdict = aggregate_votes(cfg, [v for _, v, _, _ in items])  # type: ignore[misc]
        else:
            firsts = aggregate_pair_votes([v for sw, v, _, _ in items if not sw])  # type: ignore[misc]
            if cfg.swap:
                seconds = aggregate_pair_votes([v for sw, v, _, _ in items if sw])  # type: ignore[misc]
                final = combine_swapped(firsts, seconds)
            else:
                final = firsts
        verdicts[i] = final
        scores[i] = final.score
        records[i] = {
            "verdict": {
                "score": final.score,
                "label": getattr(final, "label", None),
                "winner": getattr(final, "winner", None),
                "error": final.error,
            },
            "calls": [
                {
                    "prompt": p,
                    "reply": r.text,
                    "error": r.error,
                    "swapped": sw,
                    "parsed": {"score": v.score, "error": v.error, "reasoning": v.reasoning},
                }
                for sw, v, r, p in items
            ],
        }
    judged = len(per_sample)
    unscored = sum(1 for i in per_sample if scores[i] is None)
    estimate, _ = estimate_of(
        [scores[i] for i in per_sample if scores[i] is not None], seed=ex.config.seed, n_boot=ex.config.n_boot
    )
    outcomes = None
    if cfg.mode == "pairwise":
        won = [scores[i] for i in per_sample if scores[i] is not None]
        outcomes = {
            "win": sum(1 for x in won if x == 1.0),
            "tie": sum(1 for x in won if x == 0.5),
            "loss": sum(1 for x in won if x == 0.0),
        }
    human = None
    if cfg.human is not None:
        humans = [
            human_verdict(cfg, _variables(node.judge, samples[i])) if i in per_sample else None
            for i in range(len(samples))
        ]
        human = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in agreement(cfg, verdicts, humans).items()
        }
    return JudgeResult(
        name=cfg.name,
        mode=cfg.mode,
        scores=scores,
        records=records,
        judged=judged,
        unscored=unscored,
        estimate=estimate,
        agreement=human,
        outcomes=outcomes,
    )


def _failed(cfg: JudgeConfig, error: str) -> Verdict | PairVerdict:
    return Verdict(score=None, error=error) if cfg.mode == "single" else PairVerdict(winner=None, error=error)
