"""JudgeConfig validation: bad judge blocks in, clear JudgeError messages out."""

from __future__ import annotations

import pytest

from evaldsl.judges.config import JudgeConfig, JudgeError


def test_defaults() -> None:
    cfg = JudgeConfig(name="j", model="gpt", rubric="r")
    assert cfg.scale == (1, 5) and cfg.choices is None and cfg.labels == ()
    assert cfg.mode == "single" and cfg.reasoning and cfg.votes == 1 and cfg.swap


def test_choices_replace_the_scale_and_are_frozen() -> None:
    cfg = JudgeConfig(name="j", model="gpt", rubric="r", choices={" A ": 1, "B": 0.5})
    assert cfg.scale is None and cfg.labels == ("A", "B") and cfg.choices == {"A": 1.0, "B": 0.5}
    with pytest.raises(TypeError):
        cfg.choices["C"] = 0.0  # type: ignore[index]
    assert hash(cfg) == hash(JudgeConfig(name="j", model="gpt", rubric="r", choices={"A": 1, "B": 0.5}))


def test_scale_list_becomes_tuple() -> None:
    assert JudgeConfig(name="j", model="m", rubric="r", scale=[0, 10]).scale == (0, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rubric": "  "}, "`rubric` must be a non-empty string"),
        ({"model": ""}, "`model` must be a non-empty string"),
        ({"scale": (5, 1)}, "lo < hi"),
        ({"scale": (1, 1)}, "lo < hi"),
        ({"scale": (1.0, 5)}, "integers"),
        ({"scale": (1, 2, 3)}, "two integers"),
        ({"scale": None}, "needs `scale"),
        ({"choices": {}}, "at least one label"),
        ({"choices": {"Yes": 1, "yes": 0}}, "differ only in case"),
        ({"choices": {"A": "high"}}, "finite number"),
        ({"choices": {"A": float("nan")}}, "finite number"),
        ({"choices": {"": 1}}, "non-empty strings"),
        ({"votes": 0}, "`votes`"),
        ({"votes": True}, "`votes`"),
        ({"mode": "ranking"}, "mode must be"),
    ],
)
def test_invalid_configs(kwargs: dict, message: str) -> None:
    base = {"name": "j", "model": "gpt", "rubric": "Is it right?"}
    with pytest.raises(JudgeError, match=message) as info:
        JudgeConfig(**{**base, **kwargs})
    assert "judge 'j'" in str(info.value)


def test_pairwise_needs_no_scale() -> None:
    cfg = JudgeConfig(name="p", model="m", rubric="r", mode="pairwise", scale=None)
    assert cfg.fingerprint()["mode"] == "pairwise"
