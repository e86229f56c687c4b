"""The syntax check of templates and expressions agrees with Jinja's compiler: whatever it passes compiles and
can be analysed, and a filter or test the sandbox lacks is a syntax problem with a suggestion, not a crash."""

from __future__ import annotations

import pytest

from evaldsl.compile.field_reads import field_reads
from evaldsl.compile.templating import _env, expression_syntax_error, template_syntax_error

TEMPLATES = ["{{ a | upper }}", "{{ a | nswer }}", "{% if a is evn %}x{% endif %}", "{{ a is defined }}",
             "{{ a | ensure_suffix('.') }}", "{{ a | regex_replace('x', 'y') | lenght }}",
             "{% filter uper %}x{% endfilter %}", "{{ a | default('') | trim }}",
             "{{ a if a is strng else '' }}"]  # fmt: skip


@pytest.mark.parametrize("source", TEMPLATES)
def test_what_the_check_passes_compiles_and_is_analysed(source: str) -> None:
    if template_syntax_error(source) is None:
        _env().from_string(source)
        field_reads(source, False)


@pytest.mark.parametrize(
    ("source", "message", "hint"),
    [
        ("{{ a | nswer }}", "no filter named `nswer`", None),
        ("{{ a | lenght }}", "no filter named `lenght`", "did you mean `length`?"),
        ("{% if a is evn %}x{% endif %}", "no test named `evn`", "did you mean `even`?"),
        ("{% filter uper %}x{% endfilter %}", "no filter named `uper`", "did you mean `upper`?"),
        ("line one\n{{ a | zzzzzz }}", "no filter named `zzzzzz`", "docs/language.md lists the filters"),
    ],
)
def test_an_unknown_filter_or_test_is_a_syntax_problem(source: str, message: str, hint: str | None) -> None:
    problem = template_syntax_error(source)
    assert problem is not None
    assert problem.message == message
    if hint is not None:
        assert problem.hint is not None and problem.hint.startswith(hint)
    assert problem.line == source.count("\n") + 1


def test_an_expression_with_an_unknown_filter_is_a_syntax_problem() -> None:
    problem = expression_syntax_error("row.question | lenght > 3")
    assert problem is not None and problem.message == "no filter named `lenght`"
    assert expression_syntax_error("row.question | length > 3") is None
    assert expression_syntax_error("row.x is strng") is not None


def test_the_projects_own_filters_are_known() -> None:
    for name in ("ensure_suffix", "split_list", "regex_replace"):
        assert template_syntax_error("{{ a | " + name + " }}") is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% include 'other.txt' %}", "`{% include %}` cannot load another template"),
        ("{% extends 'base' %}", "`{% extends %}` cannot load another template"),
        ("{% import 'm' as m %}{{ a }}", "`{% import %}` cannot load another template"),
        ("{% from 'm' import x %}{{ a }}", "`{% from %}` cannot load another template"),
        ("{% block b %}{% endblock %}\n{% block b %}{% endblock %}", "block 'b' defined twice"),
    ],
)
def test_what_only_jinjas_compiler_or_loader_refuses_is_found_by_the_check(source: str, message: str) -> None:
    problem = template_syntax_error(source)
    assert problem is not None and problem.message.startswith(message)


def _templates():  # type: ignore[no-untyped-def]
    """Well-formed Jinja (as the parser sees it) built from tags, filters and tests, known and unknown alike."""
    from hypothesis import strategies as st

    names = st.sampled_from(["a", "b", "x", "row.a", "row['a']", "loop.index", "caller()", "super()", "'s'", "1"])
    filters = st.sampled_from(["upper", "default('')", "nswer", "length", "split_list(',')", "lenght", "trim"])
    tests = st.sampled_from(["defined", "string", "evn", "none", "sequence"])
    expr = st.one_of(names, st.builds("{} | {}".format, names, filters), st.builds("{} is {}".format, names, tests))
    leaf = st.one_of(st.sampled_from(["text ", "\n", ""]), st.builds("{{{{ {} }}}}".format, expr),
                     st.sampled_from(["{% include 'p' %}", "{% import 'm' as m %}", "{% set y = 2 %}"]))  # fmt: skip

    def nest(inner):  # type: ignore[no-untyped-def]
        body = st.lists(inner, max_size=3).map("".join)
        return st.one_of(
            st.builds("{{% if {} %}}{}{{% else %}}{}{{% endif %}}".format, expr, body, body),
            st.builds("{{% for x in {} %}}{}{{% endfor %}}".format, names, body),
            st.builds("{{% block {} %}}{}{{% endblock %}}".format, st.sampled_from(["p", "q"]), body),
            st.builds("{{% filter {} %}}{}{{% endfilter %}}".format, st.sampled_from(["upper", "uper"]), body),
            st.builds("{{% macro m() %}}{}{{% endmacro %}}{{{{ m() }}}}".format, body),
        )

    return st.recursive(leaf, nest, max_leaves=8)


def test_whatever_the_check_passes_compiles_renders_or_fails_cleanly_and_is_analysed() -> None:
    from hypothesis import HealthCheck, given, settings

    from evaldsl.compile.templating import TemplateError, render

    @settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_templates())
    def check(source: str) -> None:
        if template_syntax_error(source) is not None:
            return
        _env().from_string(source)  # compiles: nothing the check passed is refused by Jinja's compiler
        field_reads(source, False)
        try:
            render(source, {"a": "x", "b": [1, 2], "x": "y", "row": {"a": "x"}})
        except TemplateError:
            pass  # a user error at run time (an undefined name...), reported per sample: never another exception

    check()


def _expressions():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    atoms = st.sampled_from(["a", "b", "row.a", "row['a']", "row.get('z')", "'s'", "1", "[1, 2]", "{'k': 1}",
                             "none", "true", "x", "range(3)", "loop", "caller()"])  # fmt: skip
    filters = st.sampled_from(["upper", "length", "nswer", "split_list(',')", "join(', ')", "default(0)", "first"])
    tests = st.sampled_from(["defined", "string", "evn", "number", "divisibleby(2)"])

    def grow(inner):  # type: ignore[no-untyped-def]
        return st.one_of(
            st.builds("{} | {}".format, inner, filters),
            st.builds("{} is {}".format, inner, tests),
            st.builds("({} if {} else {})".format, inner, inner, inner),
            st.builds("{} {} {}".format, inner, st.sampled_from(["+", "and", "in", "==", "~", "*"]), inner),
            st.builds("[{}, {}]".format, inner, inner),
            st.builds("{}[0]".format, inner),
        )

    return st.recursive(atoms, grow, max_leaves=6)


def test_whatever_expression_the_check_passes_compiles_evaluates_or_fails_cleanly() -> None:
    from hypothesis import HealthCheck, given, settings

    from evaldsl.compile.templating import TemplateError, evaluate

    @settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_expressions())
    def check(source: str) -> None:
        if expression_syntax_error(source) is not None:
            return
        field_reads(source, True)
        try:
            evaluate(source, {"a": "x", "b": [1, 2], "row": {"a": "x"}})
        except TemplateError:
            pass

    check()
