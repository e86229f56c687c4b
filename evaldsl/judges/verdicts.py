"""Judge replies in; validated verdicts (score, label or winner — or why the reply is unscored) out.

A reply gives its verdict once, after its reasoning (a JSON object, or "Score: 4", "[[A]]"...). A reply that
holds two different verdicts, or that repeats the judged response or our delimiters, is unscored with that
reason: text the judged model wrote can then never choose the verdict (prompt injection)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .config import JudgeConfig, JudgeError

__all__ = ["PairVerdict", "Verdict", "Winner", "parse_pairwise", "parse_single"]

Winner = Literal["A", "B", "tie"]
_PAIR_SCORE: Mapping[str, float] = {"A": 1.0, "tie": 0.5, "B": 0.0}
SWAPPED: Mapping[str, Winner] = {"A": "B", "B": "A", "tie": "tie"}


@dataclass(frozen=True)
class Verdict:
    """A single-mode verdict. `score` None means unscored, and `error` says why (never a silent low score).

    For a label judge `label` is the canonical label and `score` its configured value. `votes` counts the
    judge samples behind it and `unscored_votes` those of them that gave no valid verdict.
    """

    score: float | None
    label: str | None = None
    reasoning: str | None = None
    error: str | None = None
    votes: int = 1
    unscored_votes: int = 0

    @property
    def scored(self) -> bool:
        return self.score is not None

    @property
    def value(self) -> str | float | None:
        """What agreement statistics compare: the label for a label judge, else the score."""
        return self.label if self.label is not None else self.score


@dataclass(frozen=True)
class PairVerdict:
    """A pairwise verdict: `winner` "A" / "B" / "tie", or None (unscored, `error` says why).

    `consistent` is set by `combine_swapped`: whether both presentation orders agreed.
    """

    winner: Winner | None
    reasoning: str | None = None
    error: str | None = None
    votes: int = 1
    unscored_votes: int = 0
    consistent: bool | None = None

    @property
    def score(self) -> float | None:
        """The outcome for the first model (response A): win 1, tie 0.5, loss 0; None when unscored."""
        return None if self.winner is None else _PAIR_SCORE[self.winner]

    @property
    def scored(self) -> bool:
        return self.winner is not None

    @property
    def value(self) -> str | None:
        """What agreement statistics compare: the winner."""
        return self.winner


# --- finding verdict candidates ----

_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9, "ten": 10}  # fmt: skip
_NUM = r"[-+]?[0-9]+(?:\.[0-9]+)?(?![0-9])|(?:zero|one|two|three|four|five|six|seven|eight|nine|ten)\b"
_DEN = r"(?:\s*(?:/|out\s+of)\s*(?P<den>[0-9]+(?:\.[0-9]+)?))?"
_NUM_END = r"(?!\.[0-9])(?!\s*[-–]\s*[0-9])"
_PAREN = r"(?:\s*\([^)\n]{0,30}\))?"
_QUOTE = "[\"'`]?"
_LEAD = r"[\s*_\[\"'`]*"  # markdown, quotes or brackets between a separator and the value

_SCALE_KEY = re.compile(
    rf"(?<![\w-]){_QUOTE}(?:(?:(?:final|overall|total)[ _]+)?(?:score|rating|grade|mark|verdict)|overall)"
    rf"{_QUOTE}"
    rf"{_PAREN}[\s*_]*(?:[:=–—]|-(?!\d)|\bis\b:?){_LEAD}(?P<num>{_NUM}){_DEN}{_NUM_END}",
    re.IGNORECASE,
)
_SCALE_BRACKETS = re.compile(  # MT-Bench "[[4]]", Prometheus "[RESULT] 4"
    rf"(?:\[\[\s*(?P<num>{_NUM})\s*(?:/\s*(?P<den>\d+))?\s*\]\]|\[RESULT\]\s*(?P<rnum>{_NUM}){_NUM_END})",
    re.IGNORECASE,
)
_RESULT = re.compile(r"\[RESULT\][ \t]*(?P<val>[^\n]*)", re.IGNORECASE)
_TAIL = r"[\s*_.!)\]`\"']*\Z"
_TAIL_WINDOW = 300  # weak end-of-reply patterns look at this many final characters
_SHORT_REPLY = 60  # a reply this short may be nothing but the verdict
_JSON_WINDOW = 20_000  # the longest JSON verdict object read
_MAX_JSON_TRIES = 1_000  # "{" positions tried per reply
_SCALE_TAILS = (
    re.compile(rf"\*\*\s*(?P<num>{_NUM}){_DEN}\s*\*\*{_TAIL}", re.IGNORECASE),  # ... **4**
    re.compile(rf"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*(?P<den>\d+){_TAIL}", re.IGNORECASE),
    re.compile(  # "I would rate this response a 4."
        r"\b(?:rate|give|award|assign)\s+(?:it|this|this\s+response|the\s+response)?\s*"
        rf"(?:an?\s+|a\s+(?:score|rating)\s+of\s+)?(?P<num>{_NUM}){_DEN}{_TAIL}",
        re.IGNORECASE,
    ),
)
_SCALE_WHOLE = re.compile(rf"\A[\s*_#\[\"'`]*(?P<num>{_NUM}){_DEN}{_TAIL}", re.IGNORECASE)  # the reply: "4"
_LABEL_KEY = re.compile(
    rf"(?<![\w-]){_QUOTE}(?:(?:answer|choice){_QUOTE}[\s*_]*[:=]|(?:(?:final|overall)[ _]+)?"
    rf"(?:verdict|label|grade|classification|decision|judge?ment|rating|score|category){_QUOTE}{_PAREN}"
    rf"[\s*_]*(?:[:=]|\bis\b))(?P<val>[^\n]*)",
    re.IGNORECASE,
)
_PAIR_KEY = re.compile(
    rf"(?<![\w-]){_QUOTE}(?:(?:final|overall)[ _]+)?(?:winner|verdict|better(?:[ _]response)?|preferred|"
    rf"preference|choice|decision|judge?ment){_QUOTE}{_PAREN}[\s*_]*(?:[:=]|\bis\b)(?P<val>[^\n]*)",
    re.IGNORECASE,
)
_DOUBLE_BRACKETS = re.compile(r"\[\[\s*(?P<val>[^\[\]\n]{1,40}?)\s*\]\]")
_BOLD_TAIL = re.compile(rf"\*\*\s*(?P<val>[^*\n]{{1,40}}?)\s*\*\*{_TAIL}")
_WHOLE = re.compile(rf"\A[\s*_#\[\"'`(]*(?P<val>[^\n]{{1,40}}?){_TAIL}")
_PAIR_SENTENCE = re.compile(
    r"(?:response|assistant|answer|output|model)\s+(?P<val>[AB])\s+is\s+(?:clearly\s+|slightly\s+)?"
    rf"(?:better|preferred|superior|stronger|the\s+winner){_TAIL}",
    re.IGNORECASE,
)
_SCALE_JSON_KEYS = ("score", "final_score", "overall_score", "rating", "grade", "verdict")
_LABEL_JSON_KEYS = ("verdict", "label", "grade", "choice", "answer", "classification", "decision", "rating",
                    "score")  # fmt: skip
_PAIR_JSON_KEYS = ("winner", "verdict", "better", "better_response", "preferred", "preference", "choice")
_REASON_KEYS = ("reasoning", "explanation", "rationale", "justification", "analysis", "reason", "feedback")
_OUR_TAG = re.compile(r"<\s*/?\s*(?:question|reference|response(?:-[ab])?)-[0-9a-f]{12}\s*>", re.IGNORECASE)
_QUOTES = " \t\r\n'\"`*_“”‘’"  # quotes and emphasis a judge wraps around text it quotes
_ECHO_MIN = 40  # a judged response at least this long, repeated whole in the reply, is an echo
_THINK = re.compile(r"<think(?:ing)?>(.*?)(?:</think(?:ing)?>|\Z)", re.IGNORECASE | re.DOTALL)
_STRIP = " \t\r\n*_`\"'[]().,;:!"
_PAIR_PREFIX = re.compile(r"^(?:response|assistant|answer|output|model|option|candidate)\s*", re.IGNORECASE)
_PAIR_WORDS: Mapping[str, Winner] = {
    "a": "A", "b": "B", "tie": "tie", "draw": "tie", "tied": "tie", "equal": "tie",
    "equally": "tie", "both": "tie", "neither": "tie",
}  # fmt: skip
_PAIR_FOLLOW = frozenset(  # words that may follow "A"/"B" in a verdict ("A is better"), unlike "A bit..."
    ("is", "wins", "won", "better", "preferred", "clearly", "slightly", "significantly", "much", "overall")
)


@dataclass(frozen=True)
class _Candidate:
    end: int  # where the verdict ends in the (think-stripped) text; the largest wins
    start: int
    value: Any  # scale: (num, den) strings or a JSON value; labels/pairwise: str or JSON value
    from_json: bool
    strong: bool
    reasoning: str | None


def _split_think(text: str) -> tuple[str, str | None]:
    """Remove <think> blocks (reasoning models); text after a lone `</think>` is the answer."""
    thoughts = [m.group(1).strip() for m in _THINK.finditer(text)]
    *heads, body = re.split(r"</think(?:ing)?>", _THINK.sub("", text), flags=re.IGNORECASE)
    thoughts += [h.strip() for h in heads]
    thought = "\n\n".join(t for t in thoughts if t) or None
    return body, thought


def _json_objects(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    """JSON objects in the text as (start, end, object), outermost only. Bounded windows and a capped number
    of tries keep hostile replies cheap; verdicts past the cap are still read by the prose patterns."""
    decoder = json.JSONDecoder()
    found: list[tuple[int, int, dict[str, Any]]] = []
    i = text.find("{")
    for _ in range(_MAX_JSON_TRIES):
        if i == -1:
            break
        try:
            obj, length = decoder.raw_decode(text[i : i + _JSON_WINDOW])
        except (ValueError, RecursionError):
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append((i, i + length, obj))
        i = text.find("{", i + length)
    return found


def _lookup(obj: dict[str, Any], keys: Sequence[str], depth: int = 0) -> tuple[bool, Any, dict[str, Any]]:
    """The first verdict key in `obj` (case-insensitive), else in nested objects (last first, 3 levels)."""
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    for key in keys:
        if key in lowered:
            return True, lowered[key], lowered
    for value in reversed(list(obj.values())) if depth < 3 else ():
        if isinstance(value, dict):
            hit = _lookup(value, keys, depth + 1)
            if hit[0]:
                return hit
    return False, None, lowered


def _surrounding(text: str, start: int, end: int) -> str | None:
    """The prose around a verdict (before it, else after it), without fences and stray markdown."""
    before = re.sub(r"```(?:json)?\s*\Z", "", text[:start].rstrip()).strip(" \t\r\n*_#`[")
    after = re.sub(r"\A\s*```", "", text[end:]).strip(" \t\r\n*_#`]")
    for part in (before, after):
        if re.search(r"\w", part):
            return part
    return None


def _candidates(text: str, mode: str) -> list[_Candidate]:
    keys = {"scale": _SCALE_JSON_KEYS, "labels": _LABEL_JSON_KEYS, "pairwise": _PAIR_JSON_KEYS}[mode]
    found: list[_Candidate] = []
    spans: list[tuple[int, int]] = []
    for start, end, obj in _json_objects(text):
        spans.append((start, end))
        hit, value, flat = _lookup(obj, keys)
        if hit:
            reason = next((flat[k] for k in _REASON_KEYS if isinstance(flat.get(k), str)), None)
            found.append(_Candidate(end, start, value, True, True, reason or _surrounding(text, start, end)))

    def add(match: re.Match[str], value: Any, strong: bool) -> None:
        if any(s <= match.start() < e for s, e in spans):
            return  # already read as JSON
        found.append(_Candidate(match.end(), match.start(), value, False, strong, None))

    # Strong: JSON, "Score: 4", "[[4]]", "[RESULT] 4". Weak (used only without a strong one): a bold value or
    # "4/5" at the very end, or a reply that is nothing but the verdict. Weak patterns only look at the end
    # of the text (and the whole-reply one only at short replies), which also bounds their backtracking.
    tail_from = max(0, len(text) - _TAIL_WINDOW)
    short = len(text.strip()) <= _SHORT_REPLY
    if mode == "scale":
        searches = [(_SCALE_KEY, 0, True), (_SCALE_BRACKETS, 0, True)]
        searches += [(p, tail_from, False) for p in _SCALE_TAILS] + ([(_SCALE_WHOLE, 0, False)] if short else [])
    else:
        weak = [_BOLD_TAIL] + ([_PAIR_SENTENCE] if mode == "pairwise" else [])
        searches = [(_LABEL_KEY if mode == "labels" else _PAIR_KEY, 0, True), (_DOUBLE_BRACKETS, 0, True)]
        searches += [(_RESULT, 0, True)] + [(p, tail_from, False) for p in weak]
        searches += [(_WHOLE, 0, False)] if short else []
    for pattern, pos, strong in searches:
        for m in pattern.finditer(text, pos):
            if mode == "scale":
                groups = m.groupdict()
                add(m, (groups.get("rnum") or groups["num"], groups.get("den")), strong)
            elif mode == "pairwise" and pattern is _DOUBLE_BRACKETS and m.group("val").upper() == "C":
                add(m, "tie", strong)  # MT-Bench's pairwise prompt asks for [[C]] on a tie
            else:
                add(m, m.group("val"), strong)
    return [c if c.from_json else replace(c, reasoning=_surrounding(text, c.start, c.end)) for c in found]


# --- validating one verdict ----


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def scale_value(cfg: JudgeConfig, value: Any) -> tuple[float | None, str | None]:
    """(score, None) or (None, error) for a number, a numeric string, or a (num, den) pair from prose."""
    assert cfg.scale is not None
    lo, hi = cfg.scale
    if value is None:
        return None, "score is null"
    if isinstance(value, tuple):
        num, den = value
    elif isinstance(value, bool) or isinstance(value, (list, dict)):
        return None, f"score {json.dumps(value)} is not a number"
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None, f"score {value} is not a finite number"
        num, den = str(value), None
    else:
        m = re.fullmatch(rf"[\s*\[]*(?P<num>{_NUM}){_DEN}[\s*\].]*", str(value), re.IGNORECASE)
        if not m:
            return None, f"score {str(value)[:40]!r} is not a number"
        num, den = m.group("num"), m.group("den")
    x = float(_WORDS[num.lower()]) if num.lower() in _WORDS else float(num)
    if den is not None and float(den) != hi:
        return None, f"score {_fmt(x)}/{_fmt(float(den))} is not on scale {lo}–{hi}"
    if x != int(x):
        return None, f"score {_fmt(x)} is not a whole number on scale {lo}–{hi}"
    if not lo <= x <= hi:
        return None, f"score {_fmt(x)} outside scale {lo}–{hi}"
    return float(int(x)), None


def label_value(cfg: JudgeConfig, value: Any, strict: bool) -> tuple[str | None, str | None] | None:
    """(label, None), (None, error), or None when prose after a keyword does not look like a verdict."""
    assert cfg.choices is not None
    allowed = "/".join(cfg.labels)
    if value is None:
        return None, "verdict is null"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    raw = str(value).strip()
    clean = raw.strip(_STRIP)
    by_fold = {label.casefold(): label for label in cfg.labels}
    if clean.casefold() in by_fold:
        return by_fold[clean.casefold()], None
    if not strict:  # prose: "A - mostly correct", "correct (minor slips)"
        for label in sorted(cfg.labels, key=len, reverse=True):
            m = re.match(rf"[\s*_`\"'\[(]*{re.escape(label)}[\s*_`\"'\])]*(?:[-–—:(.,;!]|\Z)", raw, re.I)
            if m:
                return label, None
        if len(clean.split()) > 3 or len(clean) > 40 or not clean:
            return None
    return None, f"label {clean[:40] or raw[:40]!r} not in {allowed}"


def pair_value(value: Any, strict: bool) -> tuple[Winner | None, str | None] | None:
    """("A" | "B" | "tie", None), (None, error), or None when prose after a keyword is not a verdict."""
    if value is None:
        return None, "winner is null"
    raw = str(value).strip().strip(_STRIP)
    arrow = re.fullmatch(r"([AB])\s*(>>|>|=|<<|<)\s*([AB])", raw, re.IGNORECASE)  # Arena-Hard "[[A>>B]]"
    if arrow and arrow.group(1).upper() != arrow.group(3).upper():
        first: Winner = "A" if arrow.group(1).upper() == "A" else "B"
        op = arrow.group(2)
        return ("tie" if op == "=" else first if op.startswith(">") else SWAPPED[first]), None
    head = re.split(r"\s*[(\[\-–—:,;.!]", _PAIR_PREFIX.sub("", raw).strip(_STRIP), maxsplit=1)[0]
    words = re.findall(r"[\w'-]+", head.lower())
    if words and words[0] in _PAIR_WORDS:
        winner = _PAIR_WORDS[words[0]]
        if winner == "tie" and len(words) <= 4 or len(words) == 1 or words[1] in _PAIR_FOLLOW:
            return winner, None
    if not strict and (len(words) > 3 or not words):
        return None
    return None, f"winner {raw[:40]!r} not in A/B/tie"


def _counts_when_invalid(body: str, cand: _Candidate) -> bool:
    """An unknown label is reported only from a strong verdict or a reply that is nothing else; a bold
    phrase closing a long reply ("**Thank you!**") that is no label is just ignored."""
    return cand.strong or not re.search(r"\w", body[: cand.start])


def _echo(body: str, judged: Sequence[str]) -> str | None:
    """Why a reply must not be read: it repeats our delimiters or a judged response (with whatever verdict that
    response may carry)."""
    if _OUR_TAG.search(body):
        return "the reply repeats the prompt's delimiters"
    for response in judged:
        if len(response.strip()) >= _ECHO_MIN and response.strip() in body:
            return "the reply repeats the judged response"
    return None


def parse_single(cfg: JudgeConfig, text: str, judged: Sequence[str] = ()) -> Verdict:
    """Read the one verdict of a single-mode reply (a JSON object, else "Score: 4", "[[4]]", "**4**"...).
    `judged`: the response(s) shown to the judge, which the reply must not repeat."""
    if cfg.mode != "single":
        raise JudgeError(f"judge {cfg.name!r} is pairwise; use parse_pairwise")
    if not text.strip():
        return Verdict(None, error="empty reply")
    body, thought = _split_think(text)
    if (echo := _echo(body, judged)) is not None:
        return Verdict(None, reasoning=body.strip() or thought, error=echo)
    mode = "labels" if cfg.choices else "scale"
    results: list[tuple[_Candidate, Verdict]] = []
    for cand in _candidates(body, mode):
        reasoning = cand.reasoning or thought
        if mode == "scale":
            score, error = scale_value(cfg, cand.value)
            results.append((cand, Verdict(score, None, reasoning, error)))
            continue
        read = label_value(cfg, cand.value, strict=cand.from_json)
        if read is not None and (read[0] is not None or _counts_when_invalid(body, cand)):
            label, error = read
            score = cfg.choices[label] if label is not None and cfg.choices else None
            results.append((cand, Verdict(score, label, reasoning, error)))
    if not results:
        return Verdict(None, reasoning=body.strip() or thought, error="no verdict found")
    return _one(results, lambda v: v.label if v.label is not None else v.score, Verdict, body, judged)


def parse_pairwise(cfg: JudgeConfig, text: str, judged: Sequence[str] = ()) -> PairVerdict:
    """Read the one "A" / "B" / "tie" verdict of a pairwise judge reply (JSON, "[[A]]", "Winner: B"...).
    `judged`: the two responses shown to the judge, which the reply must not repeat."""
    if cfg.mode != "pairwise":
        raise JudgeError(f"judge {cfg.name!r} is single-mode; use parse_single")
    if not text.strip():
        return PairVerdict(None, error="empty reply")
    body, thought = _split_think(text)
    if (echo := _echo(body, judged)) is not None:
        return PairVerdict(None, reasoning=body.strip() or thought, error=echo)
    results: list[tuple[_Candidate, PairVerdict]] = []
    for cand in _candidates(body, "pairwise"):
        read = pair_value(cand.value, strict=cand.from_json)
        if read is not None and (read[0] is not None or _counts_when_invalid(body, cand)):
            winner, error = read
            results.append((cand, PairVerdict(winner, cand.reasoning or thought, error)))
    if not results:
        return PairVerdict(None, reasoning=body.strip() or thought, error="no verdict found")
    return _one(results, lambda v: v.winner, PairVerdict, body, judged)


def _one(results: list[tuple[_Candidate, Any]], value: Any, kind: Any, body: str, judged: Sequence[str]) -> Any:
    """The reply's verdict: its strong candidates (weak ones only when there is none) must all say the same, and
    none may be a copy of text in a judged response — else the reply is unscored, as one of its verdicts may
    have been written by the judged model. The same verdict matched twice (e.g. "Score: 4" inside a JSON object)
    is one verdict."""
    pool = sorted([r for r in results if r[0].strong] or results, key=lambda r: r[0].start)
    said = list(dict.fromkeys(value(v) if v.error is None else f"invalid ({v.error})" for _, v in pool))
    last = max(pool, key=lambda r: (r[0].end, r[1].error is None, -r[0].start))[1]
    quoted = [c for c, _ in pool if any(body[c.start : c.end].strip(_QUOTES) in response for response in judged)]
    if quoted:
        text = body[quoted[0].start : quoted[0].end].strip()[:40]
        return kind(None, reasoning=last.reasoning, error=f"the verdict {text!r} also appears in the judged response")
    if len(said) > 1:
        shown = ", ".join(str(s) for s in said[:4])
        return kind(None, reasoning=last.reasoning, error=f"ambiguous reply: {len(said)} different verdicts ({shown})")
    return last
