"""Random text and bytes, token soup and mutated valid specs → `api.check` gives diagnostics, never raises; hostile
specs (deep nesting, huge literals, long lines, thousands of errors, refused imports) → the real `check` exits 0 or
2 within bounds of CPU time, peak memory and output, without showing a byte of a file it must not read.

Also a script: `python tests/test_fuzz.py --examples 20000` runs that many seeded inputs through the same
properties and prints how many ran per kind (and any crash with the input that caused it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# ---- structure-aware generator: hostile sizes and shapes ----------------------------------------------------

_HEAD = 'dataset d { rows = [{ q = "2+2?", a = "4" }] }\nmodel m { provider = "mock", response = "{{ a }}" }\n'
_EVAL = (
    'eval e{i} {{ dataset = d, models = [m], prompt = "{prompt}", target = {target}, metrics = [{metric}]{extra} }}\n'
)


def _nested_value(rnd: random.Random) -> str:
    """Lists, maps and calls inside one another, sometimes left unclosed."""
    depth = rnd.choice((3, 31, 32, 33, 200, 3000))
    kinds = [rnd.randrange(3) for _ in range(depth)]
    opens = "".join(("[", "{ k = ", "f(")[k] for k in kinds)
    closes = "".join(("]", " }", ")")[k] for k in reversed(kinds))
    if rnd.random() < 0.15:
        closes = closes[: rnd.randrange(len(closes))]
    return opens + rnd.choice(("1", '"x"', "true", "q", "`q`")) + closes


def _nested_jinja(rnd: random.Random) -> str:
    """A Jinja expression nested by brackets, `not`s, a chain of `+`, unary minus or lists."""
    depth = rnd.choice((5, 60, 70, 200, 2000))
    return rnd.choice((
        "(" * depth + "q" + ")" * depth,
        "not " * depth + "q",
        "q" + " + q" * depth,
        "-" * depth + "1",
        "[" * depth + "q" + "]" * depth,
    ))


def _number(rnd: random.Random) -> str:
    n = rnd.choice((1, 40, 41, 4301, 20_000))
    return rnd.choice(("", "-", "+")) + "1" + "9" * (n - 1) + rnd.choice(("", ".5", "e999", "e-999", "e5"))


def _hazard(rnd: random.Random, i: int) -> str:
    """One hostile statement (or a few thousand ordinary ones)."""
    kind = rnd.randrange(8)
    if kind == 0:
        return _EVAL.format(i=i, prompt="{{ q }}", target='"{{ a }}"', metric="exact_match",
                            extra=", description = " + _nested_value(rnd))
    if kind == 1:
        jinja = _nested_jinja(rnd)
        if rnd.random() < 0.5:
            return _EVAL.format(i=i, prompt="{{ " + jinja + " }}", target='"{{ a }}"', metric="exact_match", extra="")
        return _EVAL.format(i=i, prompt="{{ q }}", target=f"`{jinja}`", metric="exact_match", extra="")
    if kind == 2:
        return f"dataset n{i} {{ rows = [{{ q = {_number(rnd)} }}], limit = {_number(rnd)} }}\n"
    if kind == 3:  # one long line: a huge string, junk, or a huge name
        n = rnd.choice((10_000, 200_000, 1_000_000))
        return rnd.choice((
            f'prompt p{i} = "' + "x" * n + '{{ q }}"\n',
            f"eval e{i} {{ dataset = d }} " + "junk " * (n // 5) + "\n",
            "eval " + "a" * n + " { }\n",
        ))
    if kind == 4:  # many errors
        count = rnd.choice((10, 300, 1500))
        return "".join(
            _EVAL.format(i=f"{i}_{j}", prompt="{{ q }}", target='"{{ a }}"', metric=f"nope{j}", extra="")
            for j in range(count)
        )
    if kind == 5:  # refused by name: never opened, never shown
        return "import " + rnd.choice(('"secrets.txt"', '"secret"', '"../outside/x.eval"', '"/proc/self/environ"',
                                       '"../../../../../../../../etc/shadow"', '"link.eval"')) + "\n"
    if kind == 6:
        return f'dataset o{i} {{ path = "' + rnd.choice(("../outside/data.tsv", "secrets.txt", "/etc/passwd")) + (
            '", format = "tsv" }\n'
        )
    depth = rnd.choice((10, 100, 1000))
    body = "{% if q %}" * depth + "{{ q }}" + "{% endif %}" * depth
    return _EVAL.format(i=i, prompt=body, target='"{{ a }}"', metric="exact_match", extra="")


def hostile_spec(rnd: random.Random) -> str:
    """A spec of valid definitions and one to three hazards: deep nesting (values, templates, expressions),
    huge numbers, long lines, thousands of errors, imports and data paths that must be refused by name."""
    return _HEAD + "".join(_hazard(rnd, i) for i in range(rnd.randint(1, 3)))


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

    # ---- structure-aware: hostile sizes and shapes, through the real command, with bounds ----

    class _Worker:
        """tests/check_worker.py, restarted when it exits (it does after each spec where peaks cannot be reset)."""

        def __init__(self, log: Path):
            self.proc: subprocess.Popen[str] | None = None
            self.log = log

        def check(self, spec: Path, timeout: float = 120) -> dict[str, Any]:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen(
                    [sys.executable, str(ROOT / "tests" / "check_worker.py")], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=self.log.open("a"), text=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(f"{spec}\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                self.proc.kill()
                raise AssertionError(f"check took over {timeout} s on {spec.read_text()[:300]!r}")
            line = self.proc.stdout.readline()
            assert line, f"the worker died: {self.log.read_text()[-3000:]}"
            return dict(json.loads(line))

        def close(self) -> None:
            if self.proc is not None and self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=30)

    @pytest.fixture(scope="module")
    def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, _Worker]]:
        """A project folder with secrets beside the spec and outside it, and a checking worker."""
        from tests.check_worker import SECRET

        base = tmp_path_factory.mktemp("hostile")
        project, outside = base / "project", base / "outside"
        project.mkdir()
        outside.mkdir()
        for path in (project / "secrets.txt", project / "secret", outside / "x.eval"):
            path.write_text(f"{SECRET} = 1\n")
        (outside / "data.tsv").write_text(f"q\n{SECRET}\n")
        (project / "link.eval").symlink_to(project / "secrets.txt")
        worker = _Worker(base / "worker.log")
        yield project, worker
        worker.close()

    @settings(FUZZ, max_examples=30)
    @given(st.randoms(use_true_random=False))
    def test_hostile_specs_are_bounded(hostile_project: tuple[Path, _Worker], rnd: random.Random) -> None:
        """Exit 0 or 2, never a traceback, never a secret; CPU, peak memory and output bounded per input."""
        project, worker = hostile_project
        spec = project / "spec.eval"
        spec.write_text(hostile_spec(rnd), encoding="utf-8")
        answer = worker.check(spec)
        shown = spec.read_text()[:300]
        assert answer["traceback"] is None, answer["traceback"]
        assert answer["code"] in (0, 2), (answer, shown)
        assert not answer["secret_shown"], shown
        assert answer["cpu"] < 15, (answer, shown)
        assert answer["peak_mib"] < 400, (answer, shown)
        assert answer["output_bytes"] < 50_000, (answer, shown)

    def test_seed_specs_are_clean() -> None:
        """The mutations start from valid specs (else the mutation test fuzzes only the error paths)."""
        for seed in SEED_SPECS:
            assert check_text(seed).ok, seed


# ---- script mode ------------------------------------------------------------------------------------------


KINDS = ("text", "bytes", "soup", "mutation", "mutation", "text", "bytes", "soup", "mutation", "hostile")


def run_volume(examples: int, seed: int) -> int:
    rnd = random.Random(seed)
    seeds = [(p, p.read_text(encoding="utf-8")) for p in SEED_SPECS]
    counts = {"text": 0, "bytes": 0, "soup": 0, "mutation": 0, "hostile": 0}
    clean = crashes = 0
    slowest: tuple[float, str] = (0.0, "")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        byte_file = Path(tmp) / "input.eval"
        for i in range(examples):
            kind = KINDS[i % len(KINDS)]
            path, text = ROOT / "tests" / "fuzz_input.eval", None
            if kind == "text":
                text = random_text(rnd)
            elif kind == "bytes":
                byte_file.write_bytes(random_bytes(rnd))
                path = byte_file
            elif kind == "soup":
                text = token_soup(rnd)
            elif kind == "hostile":
                text = hostile_spec(rnd)
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
