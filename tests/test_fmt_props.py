"""Property tests of the formatter on generated specs: any layout of the same tokens (spaces, newlines, blank
lines, optional commas, comments anywhere a comment may go) formats to a fixed point with the same tokens, the
same comments and, for specs that compile, the same graph hash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldsl import api
from evaldsl.compile.fmt import comments, format_source
from evaldsl.compile.syntax import _tokens

_PUNCT = set("{}[](),=.")
_GAPS = ["", " ", "  ", "\n", "\n\n", "\n\n\n  ", "\t", " # note\n", "\n# own line\n", "  #\n", "\n  # a # b\n\n"]

words = st.sampled_from(
    ["question", "Paris", "2 + 2?", "a # not a comment", "{{ question }}", "{% if 1 %}y{% endif %}", "é ü"]
)
short_strings = st.builds(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"', words)
long_strings = st.builds(
    lambda a, b: '"""\n  ' + a + "\n\n    " + b + '  \n"""', words, words
)


def _layout(tokens: list[str], gaps: list[str]) -> str:
    """`tokens` joined by `gaps` (cycled); an empty gap only next to punctuation, where no space is needed."""
    out = []
    for i, tok in enumerate(tokens):
        if i:
            gap = gaps[i % len(gaps)] if gaps else " "
            if not gap and not (tokens[i - 1][-1] in _PUNCT or tok[0] in _PUNCT):
                gap = " "
            out.append(gap)
        out.append(tok)
    return "".join(out) + "\n"


@st.composite
def specs(draw: st.DrawFn) -> list[str]:
    """The tokens of a spec that compiles: inline datasets, a mock model, prompts, metrics, evals, asserts."""
    toks: list[str] = []
    n_data = draw(st.integers(1, 2))
    for d in range(n_data):
        toks += ["dataset", f"d{d}", "{", "rows", "=", "["]
        for r in range(draw(st.integers(1, 3))):
            toks += [","] if r else []
            toks += ["{", "question", "=", draw(short_strings), ",", "answer", "=", draw(short_strings), "}"]
        toks += [",", "]"] if draw(st.booleans()) else ["]"]
        if draw(st.booleans()):
            toks += [",", "where", "=", "`row.answer != \"x\"`"]
        toks += ["}"]
    toks += ["model", "m", "{", "provider", "=", '"mock"', *draw(st.sampled_from([[], [","]]))]
    toks += ["response", "=", '"{{ answer }}"', "max_tokens", "=", str(draw(st.integers(1, 64))), "}"]
    if draw(st.booleans()):
        toks += ["prompt", "p", "=", draw(long_strings).replace("  \n", " {{ question }}\n", 1)]
    else:
        toks += ["prompt", "p", "{", "system", "=", draw(short_strings), "user", "=", '"{{ question }}"', "}"]
    toks += ["metric", "em", "=", "exact_match", "(", "normalize", "=", draw(st.sampled_from(["true", "false"]))]
    toks += [")"]
    for e in range(draw(st.integers(1, 2))):
        metrics = draw(st.lists(st.sampled_from(["exact_match", "f1", "bleu", "em"]), min_size=1, unique=True))
        toks += ["eval", f"e{e}", "{", "dataset", "=", f"d{draw(st.integers(0, n_data - 1))}", "prompt", "=", "p"]
        toks += ["models", "=", "[", "m", "]", "target", "=", '"{{ answer }}"', "metrics", "=", "["]
        for i, name in enumerate(metrics):
            toks += [",", name] if i else [name]
        toks += ["]"]
        if draw(st.booleans()):
            toks += ["limit", "=", str(draw(st.integers(1, 5)))]
        if draw(st.booleans()):
            toks += ["assert", "mean", "(", metrics[0], ")", ">=", "0.0"]
        toks += ["}"]
    return toks


@st.composite
def any_syntax(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """Tokens of any entry the grammar accepts (names need not mean anything): nested blocks, lists, maps, calls,
    templates with parameters, imports, asserts."""
    kind = draw(st.sampled_from(["attr", "block", "named", "assign", "template", "import", "assert"]))
    name = draw(st.sampled_from(["a", "bb", "ccc_long", "dataset", "eval"]))
    if kind == "import":
        return ["import", draw(short_strings)]
    if kind == "assert":
        return ["assert", *draw(values(1)), draw(st.sampled_from([">=", "==", "<"])), *draw(values(1))]
    if kind == "attr":
        return [name, "=", *draw(values(depth))]
    if kind == "assign":
        return [name, "x", "=", *draw(values(depth))]
    body: list[str] = []
    if depth < 2:
        for entry in draw(st.lists(any_syntax(depth + 1), max_size=3)):
            body += entry + draw(st.sampled_from([[], [","]]))
    if kind == "block":
        return [name, "{", *body, "}"]
    if kind == "named":
        return [name, "y", "{", *body, "}"]
    params: list[str] = []
    for i, p in enumerate(draw(st.lists(st.sampled_from(["p", "q", "r"]), max_size=3, unique=True))):
        params += ([","] if i else []) + [p] + (["=", *draw(values(1))] if draw(st.booleans()) else [])
    return ["template", "t", "(", *params, *draw(st.sampled_from([[], [","]]) if params else st.just([])), ")",
            "{", *body, "}"]


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> list[str]:
    leaves = [draw(short_strings), draw(long_strings), "`row.a + 1`", "-1.5e3", "true", "false", "x.y.z", "42"]
    kind = draw(st.sampled_from(["leaf", "leaf", "list", "map", "call"] if depth < 2 else ["leaf"]))
    if kind == "leaf":
        return [draw(st.sampled_from(leaves))]
    items = draw(st.lists(values(depth + 1), max_size=3))
    keyed = kind in ("map", "call")
    out: list[str] = {"list": ["["], "map": ["{"], "call": ["f", "("]}[kind]
    for i, item in enumerate(items):
        key = [draw(st.sampled_from(["k", "key_two", '"quoted key"' if kind == "map" else "k3"])), "="]
        out += ([","] if i else []) + (key if keyed and (kind == "map" or draw(st.booleans())) else []) + item
    if items and draw(st.booleans()):
        out.append(",")
    return out + [{"list": "]", "map": "}", "call": ")"}[kind]]


def _check_fixed_point(text: str) -> str:
    formatted = format_source(text)
    assert format_source(formatted) == formatted
    toks = [(t.type, str(t)) for t in _tokens(text) if t.type != "COMMA"]
    assert [(t.type, str(t)) for t in _tokens(formatted) if t.type != "COMMA"] == toks
    assert [c.text for c in comments(formatted)] == [c.text for c in comments(text)]
    return formatted


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_syntax(), min_size=1, max_size=5), st.lists(st.sampled_from(_GAPS), min_size=1, max_size=12))
def test_any_layout_formats_to_a_fixed_point_with_the_same_tokens(entries: list[list[str]], gaps: list[str]) -> None:
    _check_fixed_point(_layout([tok for entry in entries for tok in entry], gaps))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.lists(st.sampled_from(_GAPS), min_size=1, max_size=12))
def test_formatting_a_generated_spec_keeps_its_graph_hash(tmp_path_factory: object, toks: list[str],
                                                          gaps: list[str]) -> None:
    text = _layout(toks, gaps)
    formatted = _check_fixed_point(text)
    path = Path("generated.eval").resolve()
    before, after = api.check(path, text), api.check(path, formatted)
    assert before.ok, before.diagnostics
    assert after.ok and before.spec is not None and after.spec is not None
    assert api.plan(after.spec).graph_hash == api.plan(before.spec).graph_hash
