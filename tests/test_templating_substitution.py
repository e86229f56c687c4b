"""Templates that only put variables into text render without Jinja's per-render set-up: the text must be
exactly Jinja's, and every other template (and every failure) must still go through Jinja."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from evaldsl.compile.sandbox import MAX_OUTPUT, render_bounded
from evaldsl.compile.templating import TemplateError, _substitution, _template, render

VALUES: list[Any] = ["x", "", "ünï ✓", 0, 5, -1.5, 1e20, None, True, [1, "a"], {"a": [1, {"b": None}]}, ("t",),
                     "a\nb", "{{ q }}"]
TEMPLATES = ["{{ v }}", "Q: {{ v }}", "{{v}} and {{ w }}.", "{{  v  }}\n", "A {{ v }}{{ w }} B\n\n", "no vars", "",
             "{{ v }} }} x", "{ {{ v }}", "{{{ v }}}", "{{ none }}", "{{ True }}", "{{ self }}", "{{ v }}\r\n",
             "{{ row }}", "{{ missing }}", "{{ v }}{# c #}", "{%- if v %}y{% endif %}", "{{ range }}", "\t{{ v }}\t",
             "{{ v | upper }}", "{{ v.x }}", "{{\tv }}"]


def jinja(source: str, variables: dict[str, Any]) -> str | None:
    try:
        return str(render_bounded(_template(source), dict(variables)))
    except Exception:
        return None


@pytest.mark.parametrize("source", TEMPLATES)
def test_the_text_is_exactly_jinjas(source: str) -> None:
    for v, w in itertools.product(VALUES, VALUES[:4]):
        variables = {"v": v, "w": w, "row": {"v": v}}
        expected = jinja(source, variables)
        if expected is None:
            with pytest.raises(TemplateError):
                render(source, variables)
        else:
            assert render(source, variables) == expected, (source, v, w)


def test_only_plain_substitutions_skip_jinja() -> None:
    assert _substitution("Q: {{ question }}\nA:") == (("Q: ", "\nA:"), ("question",))
    for source in ["{ {{ v }}", "{{{ v }}}", "{{ none }}", "{{ self }}", "{{ v }}\r\n", "{{ v | upper }}", "{{ v.x }}",
                   "{% if v %}{% endif %}", "{# c #}{{ v }}", "{{\tv }}"]:
        assert _substitution(source) is None, source


def test_the_output_cap_holds_on_both_paths() -> None:
    big = "x" * (MAX_OUTPUT // 2 + 1)
    for source in ["{{ v }}{{ v }}", "{{ v | string }}{{ v }}"]:
        with pytest.raises(TemplateError, match="more than 1,000,000 characters"):
            render(source, {"v": big})
    assert render("{{ v }}", {"v": big}) == big
