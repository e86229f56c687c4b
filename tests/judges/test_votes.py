"""Votes, swapped pairwise judging and human labels: verdicts in, one combined verdict out."""

from __future__ import annotations

import pytest

from evaldsl.judges.config import JudgeConfig, JudgeError
from evaldsl.judges.verdicts import PairVerdict, Verdict, parse_pairwise
from evaldsl.judges.votes import aggregate_pair_votes, aggregate_votes, combine_swapped, human_verdict

SCALE = JudgeConfig(name="s", model="m", rubric="r", votes=5)
LABELS = JudgeConfig(name="l", model="m", rubric="r", choices={"good": 1.0, "ok": 0.5, "bad": 0.0}, votes=4)
PAIR = JudgeConfig(name="p", model="m", rubric="r", mode="pairwise", human="{{ pref }}")


def _bad(reason: str = "no verdict found") -> Verdict:
    return Verdict(None, error=reason)


def test_median_of_scale_votes_excludes_but_counts_unscored() -> None:
    votes = [Verdict(2.0, reasoning="meh"), _bad(), Verdict(5.0), Verdict(4.0, reasoning="good"), _bad()]
    v = aggregate_votes(SCALE, votes)
    assert v.score == 4.0 and v.error is None
    assert v.votes == 5 and v.unscored_votes == 2
    assert v.reasoning == "good"
    assert aggregate_votes(SCALE, [Verdict(3.0), Verdict(4.0)]).score == 3.5


def test_all_unscored_votes_give_an_unscored_verdict() -> None:
    v = aggregate_votes(SCALE, [_bad("empty reply"), _bad("score 7 outside scale 1–5")])
    assert v.score is None and v.votes == 2 and v.unscored_votes == 2
    assert v.error == "all 2 votes unscored (first: empty reply)"
    single = aggregate_votes(SCALE, [_bad("empty reply")])
    assert single.score is None and single.error == "empty reply"
    assert aggregate_votes(SCALE, []).error == "no votes"


def test_majority_label() -> None:
    votes = [Verdict(0.5, "ok"), Verdict(1.0, "good"), Verdict(0.5, "ok"), _bad()]
    v = aggregate_votes(LABELS, votes)
    assert (v.label, v.score, v.votes, v.unscored_votes) == ("ok", 0.5, 4, 1)


def test_label_tie_goes_to_the_label_nearest_the_mean() -> None:
    # good, bad, ok, ok... no: 1 good, 1 bad, 2 ok -> ok wins outright
    assert (
        aggregate_votes(LABELS, [Verdict(1.0, "good"), Verdict(0.0, "bad")] + [Verdict(0.5, "ok")] * 2).label
        == "ok"
    )
    # 2 good vs 2 bad plus nothing else: mean 0.5 is equally far; declaration order decides (good first)
    tied = [Verdict(1.0, "good"), Verdict(0.0, "bad"), Verdict(1.0, "good"), Verdict(0.0, "bad")]
    assert aggregate_votes(LABELS, tied).label == "good"
    # 1 good, 1 ok: mean 0.75, tie at count 1 -> equally far again -> declaration order
    assert aggregate_votes(LABELS, [Verdict(0.5, "ok"), Verdict(1.0, "good")]).label == "good"
    # 2 bad, 2 ok, 1 good: tie between bad and ok; mean 0.4 is nearer ok (0.5) than bad (0.0)
    votes = [Verdict(0.0, "bad")] * 2 + [Verdict(0.5, "ok")] * 2 + [Verdict(1.0, "good")]
    assert aggregate_votes(LABELS, votes).label == "ok"


def test_aggregate_votes_rejects_pairwise() -> None:
    with pytest.raises(JudgeError):
        aggregate_votes(PAIR, [Verdict(1.0)])


def test_pair_votes_majority() -> None:
    assert aggregate_pair_votes([PairVerdict("A"), PairVerdict("B"), PairVerdict("A")]).winner == "A"
    assert aggregate_pair_votes([PairVerdict("A"), PairVerdict("B"), PairVerdict("tie")]).winner == "tie"
    v = aggregate_pair_votes([PairVerdict("B"), PairVerdict(None, error="empty reply"), PairVerdict("tie")])
    assert (v.winner, v.score, v.votes, v.unscored_votes) == ("B", 0.0, 3, 1)
    none = aggregate_pair_votes([PairVerdict(None, error="x"), PairVerdict(None, error="y")])
    assert none.winner is None and none.error == "all 2 votes unscored (first: x)"


@pytest.mark.parametrize(
    ("first", "second", "winner", "consistent"),
    [
        ("A", "B", "A", True),  # A wins in both orders (second order: original A is shown as B)
        ("B", "A", "B", True),
        ("tie", "tie", "tie", True),
        ("A", "A", "tie", False),  # position bias: the first slot always wins
        ("B", "B", "tie", False),
        ("A", "tie", "tie", False),
        ("tie", "A", "tie", False),
    ],
)
def test_combine_swapped(first: str, second: str, winner: str, consistent: bool) -> None:
    v = combine_swapped(PairVerdict(first), PairVerdict(second))  # type: ignore[arg-type]
    assert v.winner == winner and v.consistent is consistent and v.error is None
    assert v.score == {"A": 1.0, "tie": 0.5, "B": 0.0}[winner]
    assert v.votes == 2


def test_combine_swapped_unscored_side() -> None:
    v = combine_swapped(PairVerdict("A"), PairVerdict(None, error="no verdict found"))
    assert v.winner is None and v.score is None
    assert (v.votes, v.unscored_votes) == (2, 1)
    assert v.error == "B/A order: no verdict found"
    v = combine_swapped(PairVerdict(None, error="empty reply"), PairVerdict(None, error="no verdict found"))
    assert v.error == "A/B order: empty reply; B/A order: no verdict found"


def test_votes_over_swapped_pairs_count_judge_calls() -> None:
    pairs = [
        combine_swapped(PairVerdict("A"), PairVerdict("B")),
        combine_swapped(PairVerdict("A"), PairVerdict(None, error="empty reply")),
        combine_swapped(PairVerdict("B"), PairVerdict("B")),
    ]
    v = aggregate_pair_votes(pairs)
    assert (v.winner, v.votes, v.unscored_votes, v.consistent) == ("A", 6, 1, False)


def test_swapped_end_to_end_from_replies() -> None:
    first = parse_pairwise(PAIR, '{"reasoning": "A is right.", "winner": "A"}')
    second = parse_pairwise(PAIR, "Assistant B is correct and A is not. [[B]]")
    v = combine_swapped(first, second)
    assert v.winner == "A" and v.reasoning and "[A/B] A is right." in v.reasoning


def test_human_verdicts() -> None:
    scale = JudgeConfig(name="s", model="m", rubric="r", human="{{ rating }}")
    assert human_verdict(scale, {"rating": 4}) == Verdict(4.0)
    bad = human_verdict(scale, {"rating": 9})
    assert isinstance(bad, Verdict) and bad.score is None and bad.error == "human score 9 outside scale 1–5"
    assert human_verdict(scale, {"rating": ""}) is None
    assert human_verdict(JudgeConfig(name="s", model="m", rubric="r"), {"rating": 4}) is None
    labels = JudgeConfig(name="l", model="m", rubric="r", choices={"Good": 1, "Bad": 0}, human="{{ h }}")
    assert human_verdict(labels, {"h": "good"}) == Verdict(1.0, "Good")
    assert human_verdict(PAIR, {"pref": "b"}) == PairVerdict("B")
    odd = human_verdict(PAIR, {"pref": "model C"})  # "C" is a tie only in the MT-Bench form [[C]]
    assert isinstance(odd, PairVerdict) and odd.winner is None and odd.error
