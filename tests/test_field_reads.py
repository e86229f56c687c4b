"""Which fields a template or expression reads, and which reads a guard protects (Jinja AST analysis)."""

from __future__ import annotations

import pytest

from evaldsl.compile.field_reads import field_reads, value_kinds, whole_field


def unguarded(source: str, expression: bool = True, params: dict[str, object] | None = None) -> set[str]:
    return {r.name for r in field_reads(source, expression, params) if not r.guarded}


def guarded(source: str, expression: bool = True) -> set[str]:
    return {r.name for r in field_reads(source, expression) if r.guarded}


@pytest.mark.parametrize(
    "source",
    [
        "x | default([])",
        "x | d('')",
        "row.x | default([])",
        'row["x"] | default([])',
        'row.get("x")',
        'row.get("x", [])',
        '"x" in row',
        '"x" not in row',
        "x is defined",
        "row.x is undefined",
        'row.x if "x" in row else []',
        "x if x is defined else []",
        "[] if x is undefined else x",
        '[] if "x" not in row else row.x',
        '"x" in row and x',
        '"x" not in row or x',
        'not ("x" not in row) and x',
        '"x" in row and "y" in row and x + y',
        'row.get("x") and row.x',
        "x is string",
    ],
)
def test_guarded_expressions(source: str) -> None:
    assert "x" not in unguarded(source), source
    assert "x" in guarded(source)


@pytest.mark.parametrize(
    "source",
    [
        "x",
        "x or []",
        "[a] + (x or [])",
        'x if "y" in row else []',
        '"x" in row or x',
        '("x" in row or "y" in row) and x',
        "row.x",
        'row["x"]',
    ],
)
def test_unguarded_expressions(source: str) -> None:
    assert "x" in unguarded(source), source


def test_if_blocks_guard_their_bodies() -> None:
    source = (
        '{% if "a" in row %}{{ a }}{% elif b is defined %}{{ b }}{{ c }}{% else %}{{ d }}{% endif %}'
        '{% if "e" not in row %}{{ f }}{% else %}{{ e }}{% endif %}{{ a }}'
    )
    reads = field_reads(source, False)
    assert {r.name for r in reads if not r.guarded} == {"c", "d", "f", "a"}  # the last `a` is outside the if
    assert {(r.name, r.guarded) for r in reads if r.name == "e"} == {("e", True)}


def test_loop_variables_and_globals_are_not_fields() -> None:
    assert unguarded("{% for z in zs %}{{ z }}{% endfor %}{% set k = 1 %}{{ k }}", False) == {"zs"}


def test_row_methods_and_parameters() -> None:
    assert unguarded("row.items() | list") == set()
    assert unguarded("row[field]", params={"field": "answer"}) == {"answer"}
    (read,) = field_reads("row[field]", True, {"field": "answer"})
    assert (read.param, read.written) == ("field", "row[field]")
    assert unguarded("row[limit]", params={"limit": 3}) == set()  # not a string: not a field name
    assert guarded('row.get(field, "")') == set() and {
        r.name for r in field_reads('row.get(field, "")', True, {"field": "ctx"})
    } == {"ctx"}


def test_string_methods_are_recorded() -> None:
    (read,) = field_reads('row.answers.split("; ")', True)
    assert (read.name, read.method, read.type_tested) == ("answers", "split", False)
    reads = field_reads('answers.split(";") if answers is string else answers', True)
    assert all(r.type_tested for r in reads)


def test_whole_field_and_value_kinds() -> None:
    assert whole_field("row.choices") is not None and whole_field("row.choices").name == "choices"  # type: ignore[union-attr]
    assert whole_field("row.choices[0]") is None

    def kinds(name: str) -> frozenset[str] | None:
        return {"s": frozenset({"str"}), "l": frozenset({"list", "null"})}.get(name)

    assert value_kinds("s", None, kinds) == {"str"}
    assert value_kinds('s | split_list(";")', None, kinds) == {"list"}
    assert value_kinds('s.split(";")', None, kinds) == {"list"}
    assert value_kinds("l | default([])", None, kinds) == {"list"}
    assert value_kinds("[s] + (l or [])", None, kinds) == {"list"}
    assert value_kinds("s ~ '!'", None, kinds) == {"str"}
    assert value_kinds("unknown_field", None, kinds) is None
    assert value_kinds("s | reverse", None, kinds) is None
