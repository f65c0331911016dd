"""parser.expand_compound_assignments: `SELECT @v += x` read as `SELECT @v = @v + (x)` (issue 10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.tsql.parser import expand_compound_assignments, tokenize

words = st.sampled_from(["name", "a.b", "'x;'", "N'y'", "1", "f(a, b)", "(c + d)", "[col 1]", "@w"])


@pytest.mark.parametrize(("written", "expanded"), [
    ("SELECT @s += name + ';' FROM t WHERE x = 1", "SELECT @s = @s + ( name + ';') FROM t WHERE x = 1"),
    ("SELECT @s += a, @n -= (1 + 2) FROM t", "SELECT @s = @s + ( a), @n = @n - ( (1 + 2)) FROM t"),
    ("SELECT @s *= 2", "SELECT @s = @s * ( 2)"),
    ("SELECT @s = @s + 1 FROM t", "SELECT @s = @s + 1 FROM t"),  # nothing to expand
    ("UPDATE t SET a += 1", "UPDATE t SET a += 1"),  # only a SELECT's list
])
def test_expansion(written: str, expanded: str) -> None:
    assert expand_compound_assignments(written) == expanded


@given(st.lists(st.tuples(st.sampled_from(["+=", "-=", "*=", "|="]), st.lists(words, min_size=1, max_size=3)),
                min_size=1, max_size=3),
       st.sampled_from(["", " FROM t", " FROM t ORDER BY name", " WHERE 1 = 1"]))
def test_every_item_becomes_a_plain_assignment_of_its_whole_expression(items: list, tail: str) -> None:
    written = "SELECT " + ", ".join(f"@v{k} {op} {' + '.join(parts)}" for k, (op, parts) in enumerate(items)) + tail
    expanded = expand_compound_assignments(written)
    assert not any(t.text.endswith("=") and t.text != "=" for t in tokenize(expanded))
    for k, (op, parts) in enumerate(items):
        assert f"@v{k} = @v{k} {op[0]} ( {' + '.join(parts)})" in expanded
    assert expanded.endswith(tail)
