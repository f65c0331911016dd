"""Where the runner answers with SQLite's own C functions instead of its Python model of the collation
(REPLACE of a letterless printable-ASCII search in printable-ASCII text, REPLACE of a literal under a binary
collation; UPPER/LOWER of ASCII text; the ASCII test before LEN's GLOB for characters beyond U+FFFF; LEN's
operand computed once), both give the same answer (issue 14: one conversion path per value, a
test that the paths agree)."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pytest_opus.targets.sandbox import SandboxTarget  # noqa: E402
from pytest_opus.tsql import collation  # noqa: E402
from pytest_opus.tsql.translate import SandboxSQLite, _astral, _astral_pattern  # noqa: E402

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
LETTERLESS = "".join(ch for ch in PRINTABLE if not ch.isalpha())
texts = st.text(alphabet=PRINTABLE + "é\u00a0\x00Ω", max_size=12)


def n_literal(text: str) -> str:
    """`text` as an N'...' literal, with characters SQL text cannot hold built by NCHAR."""
    parts = []
    for ch in text:
        parts.append(f"NCHAR({ord(ch)})" if ch == "\x00" else "N'" + ch.replace("'", "''") + "'")
    return " + ".join(parts) if parts else "N''"


def n_quoted(text: str) -> str:
    """One N'...' literal (the fast path needs a literal search string)."""
    return "N'" + text.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def sandbox() -> SandboxTarget:
    return SandboxTarget()


@settings(max_examples=150, deadline=None)
@given(text=texts, search=st.text(alphabet=LETTERLESS, min_size=1, max_size=3),
       replacement=st.text(alphabet=PRINTABLE, max_size=3))
def test_replace_of_letterless_ascii_agrees_with_the_collation_model(sandbox: SandboxTarget, text: str, search: str,
                                                                      replacement: str) -> None:
    model = sandbox.engine.collations  # the engine's own model, as its tsql_replace uses it
    assert model is not None
    model.refusal = None
    expected = model.replace(text, search, replacement, 0)
    if model.refusal:  # the model refuses text it does not vouch for (the engine then refuses the statement)
        expected, model.refusal = "refused", None
    result = sandbox.execute_script(f"DECLARE @t NVARCHAR(100) = {n_literal(text)}\n"
                                    f"SELECT REPLACE(@t, {n_quoted(search)}, {n_quoted(replacement)})")
    got = "refused" if result.error is not None else result.result_sets[-1].rows[0][0]
    if got == "refused" and "\x00" in text:  # text holding NUL: refused where SQLite would cut it (documented)
        return
    assert got == expected


@settings(max_examples=150, deadline=None)
@given(text=texts)
def test_upper_and_lower_agree_with_the_model(sandbox: SandboxTarget, text: str) -> None:
    result = sandbox.execute_script(f"DECLARE @t NVARCHAR(100) = {n_literal(text)}\nSELECT UPPER(@t), LOWER(@t)")
    assert result.error is None, result.error
    assert result.result_sets[-1].rows[0] == (collation.change_case(text, 1), collation.change_case(text, 0))


any_texts = st.text(alphabet=PRINTABLE + "éÉß\u00a0\x00\x01Ωω😀", max_size=12)


@settings(max_examples=150, deadline=None)
@given(text=any_texts, search=st.text(alphabet=PRINTABLE + "éÉΩ😀", min_size=1, max_size=3),
       replacement=st.text(alphabet=PRINTABLE + "é😀", max_size=3))
def test_replace_under_a_binary_collation_agrees_with_the_model(sandbox: SandboxTarget, text: str, search: str,
                                                                 replacement: str) -> None:
    """REPLACE(x COLLATE ..._BIN2, N'literal', N'literal') runs as SQLite's replace() for a text without a NUL,
    else as the model: a search by code point either way."""
    model = sandbox.engine.collations
    assert model is not None
    expected = model.replace(text, search, replacement, 1)
    result = sandbox.execute_script(f"DECLARE @t NVARCHAR(100) = {n_literal(text)}\n"
                                    f"SELECT REPLACE(@t COLLATE Latin1_General_BIN2, {n_quoted(search)}, "
                                    f"{n_quoted(replacement)})")
    assert result.error is None, result.error
    assert result.result_sets[-1].rows[0][0] == expected


@settings(max_examples=150, deadline=None)
@given(text=any_texts, needle=st.sampled_from(["NCHAR(0)", "NCHAR(98)", "CHAR(97)", "N'a'", "'é'", "N'😀'"]))
def test_charindex_of_one_character_under_a_binary_collation_agrees_with_the_model(
        sandbox: SandboxTarget, text: str, needle: str) -> None:
    """CHARINDEX(<one character> COLLATE ..._BIN2, x) runs as SQLite's instr() where no character beyond U+FFFF
    (or, for another needle than NUL, no NUL) could shift its count, else as the model: UTF-16 positions."""
    model = sandbox.engine.collations
    assert model is not None
    value = {"NCHAR(0)": "\x00", "NCHAR(98)": "b", "CHAR(97)": "a", "N'a'": "a", "'é'": "é", "N'😀'": "😀"}[needle]
    expected = model.charindex(value, text, 1)
    result = sandbox.execute_script(f"DECLARE @t NVARCHAR(100) = {n_literal(text)}\n"
                                    f"SELECT CHARINDEX({needle} COLLATE Latin1_General_BIN2, @t)")
    assert result.error is None, result.error
    assert result.result_sets[-1].rows[0][0] == expected


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.none(), st.integers(min_value=-2**63, max_value=2**63 - 1), st.floats(allow_nan=False),
                       st.binary(max_size=8), st.text(alphabet=PRINTABLE + "é\x00Ω😀\U0010fffd", max_size=12)))
def test_the_ascii_shortcut_answers_as_the_glob_for_characters_beyond_u_ffff(value: object) -> None:
    """`_astral(x)` tries the GLOB only for text that is not plain ASCII; for every SQLite value (NULL, numbers,
    blobs, text with NUL) it answers as the GLOB alone."""
    import sqlite3

    from sqlglot import exp

    x = exp.column("x")
    both = (f"SELECT {_astral(x).sql(dialect=SandboxSQLite)}, "
            f"{exp.Glob(this=x, expression=_astral_pattern()).sql(dialect=SandboxSQLite)} FROM t")
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (?)", (value,))
        shortcut, glob = connection.execute(both).fetchone()
    assert shortcut == glob or (not shortcut and not glob), (value, shortcut, glob)


@settings(max_examples=150, deadline=None)
@given(text=any_texts, search=st.sampled_from(["N'a'", "N' '", "N'😀'", "N'é'"]),
       replacement=st.sampled_from(["N''", "N'xy'", "N'😀'", "N'  '"]))
def test_len_of_a_computed_text_agrees_with_the_model(sandbox: SandboxTarget, text: str, search: str,
                                                      replacement: str) -> None:
    """LEN of REPLACE (by code point) and of a concatenation, each an operand bound once in a subquery: UTF-16
    code units without trailing blanks, as the model counts them; text holding NUL refused as before."""
    model = sandbox.engine.collations
    assert model is not None
    values = {"N'a'": "a", "N' '": " ", "N'😀'": "😀", "N'é'": "é", "N''": "", "N'xy'": "xy", "N'  '": "  "}
    replaced = model.replace(text, values[search], values[replacement], 1)
    result = sandbox.execute_script(f"DECLARE @t NVARCHAR(100) = {n_literal(text)}\n"
                                    f"SELECT LEN(REPLACE(@t COLLATE Latin1_General_BIN2, {search}, {replacement})), "
                                    f"LEN(@t + {replacement})")
    if "\x00" in text:
        assert result.error is not None and "NUL" in str(result.error)
        return
    assert result.error is None, result.error
    expected = (collation.text_length(replaced), collation.text_length(text + values[replacement]))
    assert tuple(result.result_sets[-1].rows[0]) == expected


@pytest.mark.parametrize(("sql", "value", "expected"), [
    ("SELECT CONCAT(?, 'x')", 2, "2x"),
    ("SELECT CONCAT(?, 'x')", "ab", "abx"),
    ("SELECT CONCAT(?, 'x')", 1.5, "refused"),
    ("SELECT CASE WHEN ? > 1 THEN 'big' ELSE 'small' END", 5, "big"),
    ("SELECT CASE WHEN ? > 1 THEN 'big' ELSE 'small' END", "abc", "refused"),
])
def test_the_translators_type_guards_still_decide(sandbox: SandboxTarget, sql: str, value: object,
                                                  expected: str) -> None:
    """The guards the translator writes on a value of unknown type (a library parameter), `typeof(x) = 'real'`
    and `typeof(x) = 'text'`, compare as SQLite does (no call of the default collation per row) and still
    refuse what they refused and let through the rest."""
    from pytest_opus.errors import UnsupportedConstruct

    if expected == "refused":
        with pytest.raises(UnsupportedConstruct):
            sandbox.execute(sql, [value])
    else:
        assert sandbox.execute(sql, [value]) == [(expected,)]
    assert "NOCASE" not in sandbox.engine.translate_dml(sql)[0]
