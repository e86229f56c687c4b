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
