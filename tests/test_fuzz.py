"""Random text and bytes, token soup and mutated valid specs → `api.check` gives diagnostics, never raises.

Also a script: `python tests/test_fuzz.py --examples 20000` runs that many seeded inputs through the same
properties and prints how many ran per kind (and any crash with the input that caused it).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evaldsl import api  # noqa: E402
from evaldsl.diagnostics import Diagnostic, render_all  # noqa: E402

# Valid specs to mutate: each is checked as if the mutated text were that file, so its data files resolve.
SEED_SPECS = [
    ROOT / "specs" / "language.eval",
    *sorted((ROOT / "tests" / "golden" / "graphs").glob("*.eval")),
]

_TOKENS = (
    "dataset model prompt metric judge eval template import assert field fewshot mean rows path limit "
    "shuffle where "
    "provider id response models metrics target choices labels text mode rubric scale votes swap reference "
    "exact_match f1 bleu rouge rougeL mc1 mc2 perplexity regex python qa dry small x y std "
    "{ } [ ] ( ) = , . >= <= == != > < true false 1 -1 0 0.5 1e-3 1.2.3 12abc"
).split() + [
    '"data/qa.jsonl"', '"data/mc.jsonl"', '"mock"', '"hf"', '"litellm"', '"choice"', '"perplexity"',
    '"pairwise"', '"{{ question }}"', '"{{ answer }"', '"{% if x %}"', '"{{ row.__class__ }}"',
    '"std/general"', '"./missing.eval"', '"\\n"', '"""\n  Q: {{ question }}\n"""', "`row.answer`",
    "`row[\"x\"]`", "`1 +`", "`",
    '"', '"""', "\n", "# comment\n", " ", "\t", "\u00e9", "\x00", "\ufeff",
]
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz_ABCXYZ0123456789 \n\t{}[]()=,.:;'\"`#<>!+-*/\\|%$@?~^&"
    "\u00e9\u00ff\u03bb\u4e2d\U0001f600\x00\x7f\ufeff\u2028\r"
)

Mutation = Callable[[str, random.Random], str]


# ---- generators (driven by a random.Random, so hypothesis and the script share them) ---------------------


def random_text(rnd: random.Random) -> str:
    n = rnd.choice((0, 1, 5, 20, 80, 300))
    return "".join(rnd.choice(_ALPHABET) for _ in range(n))


def random_bytes(rnd: random.Random) -> bytes:
    return bytes(rnd.randrange(256) for _ in range(rnd.choice((0, 1, 8, 64, 400))))


def token_soup(rnd: random.Random) -> str:
    sep = rnd.choice((" ", "\n", ""))
    return sep.join(rnd.choice(_TOKENS) for _ in range(rnd.randrange(1, 60)))


def _tokenize(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isalnum() or ch == "_":
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def _delete_chars(text: str, rnd: random.Random) -> str:
    i = rnd.randrange(len(text) + 1)
    return text[:i] + text[i + rnd.randrange(1, 4):]


def _insert_chars(text: str, rnd: random.Random) -> str:
    i = rnd.randrange(len(text) + 1)
    return text[:i] + "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randrange(1, 4))) + text[i:]


def _swap_chars(text: str, rnd: random.Random) -> str:
    if len(text) < 2:
        return text
    i, j = sorted(rnd.sample(range(len(text)), 2))
    return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]


def _delete_token(text: str, rnd: random.Random) -> str:
    toks = _tokenize(text)
    if toks:
        del toks[rnd.randrange(len(toks))]
    return "".join(toks)


def _insert_token(text: str, rnd: random.Random) -> str:
    toks = _tokenize(text)
    toks.insert(rnd.randrange(len(toks) + 1), rnd.choice(_TOKENS))
    return "".join(toks)


def _replace_token(text: str, rnd: random.Random) -> str:
    toks = _tokenize(text)
    if toks:
        toks[rnd.randrange(len(toks))] = rnd.choice(_TOKENS + toks)
    return "".join(toks)


def _swap_tokens(text: str, rnd: random.Random) -> str:
    toks = _tokenize(text)
    if len(toks) >= 2:
        i, j = rnd.sample(range(len(toks)), 2)
        toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


def _duplicate_lines(text: str, rnd: random.Random) -> str:
    lines = text.split("\n")
    i = rnd.randrange(len(lines))
    j = min(len(lines), i + rnd.randrange(1, 12))
    return "\n".join(lines[:j] + lines[i:j] + lines[j:])


def _truncate(text: str, rnd: random.Random) -> str:
    return text[: rnd.randrange(len(text) + 1)]


MUTATIONS: tuple[Mutation, ...] = (
    _delete_chars, _insert_chars, _swap_chars, _delete_token, _insert_token, _replace_token, _swap_tokens,
    _duplicate_lines, _truncate,
)


def mutate(text: str, rnd: random.Random) -> str:
    for _ in range(rnd.choice((1, 1, 2, 3, 6))):
        text = rnd.choice(MUTATIONS)(text, rnd)
    return text


# ---- the property -----------------------------------------------------------------------------------------


def check_text(path: Path, text: str | None = None) -> api.CheckResult:
    """`api.check` must return diagnostics; a clean spec must also plan and render without raising."""
    result = api.check(path, text)
    assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
    assert result.ok == (not any(d.is_error for d in result.diagnostics))
    render_all(result.diagnostics, result.sources)
    if result.ok:
        assert result.spec is not None
        from evaldsl.report.graph_view import to_dot, to_json, to_text

        graph = api.plan(result.spec)
        to_text(graph), to_dot(graph), to_json(graph)
    return result


# ---- pytest + hypothesis ----------------------------------------------------------------------------------

try:
    import pytest
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # the script mode needs neither
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=False)

    @settings(FUZZ, max_examples=1500)
    @given(st.text(alphabet=st.sampled_from(_ALPHABET) | st.characters(), max_size=300))
    def test_random_text_gives_diagnostics(text: str) -> None:
        check_text(ROOT / "tests" / "fuzz_input.eval", text)

    @settings(FUZZ, max_examples=400)
    @given(st.binary(max_size=400))
    def test_random_bytes_as_files_give_diagnostics(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "input.eval"
            path.write_bytes(data)
            result = check_text(path)
        if data and not result.ok:
            assert result.diagnostics[0].code.startswith("E")
        check_text(ROOT / "tests" / "fuzz_input.eval", data.decode("utf-8", errors="replace"))

    @settings(FUZZ, max_examples=2000)
    @given(st.randoms(use_true_random=False))
    def test_token_soup_gives_diagnostics(rnd: random.Random) -> None:
        check_text(ROOT / "tests" / "fuzz_input.eval", token_soup(rnd))

    @settings(FUZZ, max_examples=2500)
    @given(st.sampled_from(SEED_SPECS), st.randoms(use_true_random=False))
    def test_mutated_specs_give_diagnostics(seed: Path, rnd: random.Random) -> None:
        check_text(seed, mutate(seed.read_text(encoding="utf-8"), rnd))

    # ---- regressions found by fuzzing: each used to hang ----

    def test_unterminated_long_string_before_many_lines_is_fast() -> None:
        """The LONG_STRING regex backtracked exponentially in the newlines after an unclosed triple quote."""
        text = 'prompt p = """\n' + "".join(f"  line {i} = {{{{ x }}}}\n" for i in range(300))
        began = time.perf_counter()
        result = check_text(ROOT / "tests" / "fuzz_input.eval", text)
        assert time.perf_counter() - began < 10
        assert [d.code for d in result.diagnostics] == ["E101"]

    def test_self_instantiating_template_with_fan_out_is_fast() -> None:
        """A template using itself twice expanded 2^16 times before E209 stopped it; three times, 3^16."""
        body = "".join(f"  eval e{i} = t(a = 1)\n" for i in range(3))
        text = "template t(a) {\n" + body + "}\neval top = t(a = 1)\n"
        began = time.perf_counter()
        result = check_text(ROOT / "tests" / "fuzz_input.eval", text)
        assert time.perf_counter() - began < 10
        assert {d.code for d in result.diagnostics} == {"E209"}
        assert "(t -> t)" in result.diagnostics[0].message

    @pytest.mark.parametrize(("text", "code"), [
        ('dataset d { path = "data\x00.jsonl" }', "E303"),
        ('import "./a\x00.eval"', "E201"),
        ('import "std//"', "E201"),
        ('import "std/a\x00"', "E201"),
    ])
    def test_unusable_paths_are_diagnostics(text: str, code: str) -> None:
        """Paths with a NUL character (or no name) raised ValueError from pathlib."""
        result = check_text(ROOT / "tests" / "fuzz_input.eval", text)
        assert [d.code for d in result.diagnostics] == [code]

    def test_seed_specs_are_clean() -> None:
        """The mutations start from valid specs (else the mutation test fuzzes only the error paths)."""
        for seed in SEED_SPECS:
            assert check_text(seed).ok, seed


# ---- script mode ------------------------------------------------------------------------------------------


def run_volume(examples: int, seed: int) -> int:
    rnd = random.Random(seed)
    seeds = [(p, p.read_text(encoding="utf-8")) for p in SEED_SPECS]
    counts = {"text": 0, "bytes": 0, "soup": 0, "mutation": 0}
    clean = crashes = 0
    slowest: tuple[float, str] = (0.0, "")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        byte_file = Path(tmp) / "input.eval"
        for i in range(examples):
            kind = ("text", "bytes", "soup", "mutation", "mutation")[i % 5]
            path, text = ROOT / "tests" / "fuzz_input.eval", None
            if kind == "text":
                text = random_text(rnd)
            elif kind == "bytes":
                byte_file.write_bytes(random_bytes(rnd))
                path = byte_file
            elif kind == "soup":
                text = token_soup(rnd)
            else:
                path, original = rnd.choice(seeds)
                text = mutate(original, rnd)
            counts[kind] += 1
            began = time.perf_counter()
            try:
                clean += check_text(path, text).ok
            except Exception:
                crashes += 1
                shown = text if text is not None else repr(byte_file.read_bytes())
                print(f"CRASH on a {kind} input ({path.name}):\n{shown}\n{traceback.format_exc()}",
                      file=sys.stderr)
            took = time.perf_counter() - began
            if took > slowest[0]:
                slowest = (took, f"a {kind} input: {(text if text is not None else '<bytes>')[:200]!r}")
            if (i + 1) % 2000 == 0:
                print(f"... {i + 1} inputs, {crashes} crash(es), {time.perf_counter() - start:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - start
    ran = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"ran {ran} inputs ({detail}) in {elapsed:.1f} s: {crashes} crash(es), {clean} checked clean")
    print(f"slowest: {slowest[0]:.2f} s on {slowest[1]}")
    return 1 if crashes else 0


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="Fuzz the compiler front end in volume.")
    cli.add_argument("--examples", type=int, default=20000)
    cli.add_argument("--seed", type=int, default=0)
    args = cli.parse_args()
    raise SystemExit(run_volume(args.examples, args.seed))
