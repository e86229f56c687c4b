"""Agreement maths: rating tables in, Cohen's kappa / Krippendorff's alpha out (textbook and hand values)."""

from __future__ import annotations

import math

import pytest

from evaldsl.judges.verdicts import PairVerdict, Verdict
from evaldsl.stats.agreement import AgreementError, agreement, cohen_kappa, krippendorff_alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", 4 observers x 12 units with gaps.
N = None
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_textbook_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)  # type: ignore[arg-type]


def test_krippendorff_nominal_by_hand() -> None:
    # Units: (a,a) (a,b) (b,b) -> coincidences o_aa=2, o_ab=o_ba=1, o_bb=2; n_a=n_b=3, n=6.
    # alpha = 1 - (n-1) * (o_ab+o_ba) / (n_a*n_b + n_b*n_a) = 1 - 5*2/18 = 4/9
    assert krippendorff_alpha([["a", "a", "b"], ["a", "b", "b"]], "nominal") == pytest.approx(4 / 9)


def test_krippendorff_edge_cases() -> None:
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([[3, 3], [3, 3]]))  # no variation: undefined
    assert math.isnan(krippendorff_alpha([[1, N], [N, 2]]))  # nothing pairable
    # A unit with a single value is skipped; the result equals the table without it.
    assert krippendorff_alpha([[1, 2, 3, 4], [1, 3, 3, N]]) == pytest.approx(
        krippendorff_alpha([[1, 2, 3], [1, 3, 3]])
    )
    with pytest.raises(AgreementError, match="one value"):
        krippendorff_alpha([[1, 2], [1]])
    with pytest.raises(AgreementError, match="numeric"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], "interval")
    with pytest.raises(AgreementError, match="unknown level"):
        krippendorff_alpha([[1]], "fuzzy")  # type: ignore[arg-type]


def test_cohen_kappa_textbook() -> None:
    # Wikipedia "Cohen's kappa" examples: 20/5/10/15 -> 0.4, and 45/15/25/15 -> 0.06/0.46.
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    a = ["y"] * 60 + ["n"] * 40
    b = ["y"] * 45 + ["n"] * 15 + ["y"] * 25 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.06 / 0.46)


def test_cohen_kappa_weighted_by_hand() -> None:
    a, b = [1, 2, 3, 3], [1, 3, 3, 2]
    assert cohen_kappa(a, b) == pytest.approx(0.2)  # po 0.5, pe 6/16
    assert cohen_kappa(a, b, weights="linear") == pytest.approx(3 / 7)  # 1 - (1/4)/(7/16)
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(7 / 11)  # 1 - (1/8)/(11/32)


def test_cohen_kappa_missing_and_edge_cases() -> None:
    # pairs with a missing side are skipped: (a, a) and (b, b) remain, so agreement is perfect
    assert cohen_kappa(["a", None, "b"], ["a", "b", "b"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    assert math.isnan(cohen_kappa([None], ["a"]))
    with pytest.raises(AgreementError, match="equally long"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(AgreementError, match="numeric"):
        cohen_kappa(["a", "b"], ["b", "a"], weights="linear")


def test_judge_human_agreement_summary() -> None:
    judged = [Verdict(5.0), Verdict(3.0), Verdict(None, error="x"), Verdict(1.0), None]
    human = [Verdict(5.0), Verdict(4.0), Verdict(2.0), Verdict(1.0), Verdict(3.0)]
    out = agreement(judged, human, scale=True)
    assert out["n"] == 3 and out["agreement"] == pytest.approx(2 / 3)
    assert out["kappa"] == pytest.approx(cohen_kappa([5.0, 3.0, 1.0], [5.0, 4.0, 1.0], weights="quadratic"))
    assert out["alpha"] == pytest.approx(krippendorff_alpha([[5, 3, 1], [5, 4, 1]], "interval"))
    res = agreement([PairVerdict("A"), PairVerdict("B")], [PairVerdict("A"), PairVerdict("A")], scale=False)
    assert res["n"] == 2 and res["agreement"] == 0.5
    with pytest.raises(AgreementError):
        agreement([Verdict(1.0)], [], scale=True)
