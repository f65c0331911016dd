"""SQL Server's default collation on the sandbox (pytest_opus/tsql/collation.py), against a model of the
documented rules: case-insensitive for every letter, accent-sensitive, trailing blanks ignored in
comparisons (not in a LIKE pattern), binary and case-sensitive collations when a COLLATE asks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import collation

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: letters whose case pairs and accents the documentation settles, plus blanks
ALPHABET = "aAbBeE éÉèÈäÄñÑøØωΩжЖ"


def model_equal(a: str, b: str) -> bool:
    """The documented rule: blanks at the end do not count, upper and lower case of a letter are the
    same, an accent makes another letter."""
    return a.rstrip(" ").lower() == b.rstrip(" ").lower()


def model_like(value: str, pattern: str, unicode: bool) -> bool:
    """LIKE without wildcards: the pattern's blanks count; the value's trailing blanks count for Unicode
    text and not for other text (Microsoft's LIKE page)."""
    if unicode:
        return value.lower() == pattern.lower()
    return any(value[: len(value) - k].lower() == pattern.lower()
               for k in range(len(value) - len(value.rstrip(" ")) + 1))


@pytest.fixture
def sandbox() -> Iterator[SandboxTarget]:
    target = SandboxTarget()
    yield target
    target.close()


def rows(target: SandboxTarget, script: str) -> list[Any]:
    result = target.execute_script(script)
    assert result.error is None, result.error
    return [list(r) for b in result.batches for rs in b.result_sets for r in rs.rows]


def test_every_letter_compares_without_case_and_trailing_blanks_are_ignored(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "SELECT CASE WHEN N'é' = N'É' THEN 1 ELSE 0 END, CASE WHEN 'abc  ' = 'ABC' THEN 1 ELSE 0 END,"
                         " CASE WHEN N'e' = N'é' THEN 1 ELSE 0 END, CASE WHEN N'ω' <> N'Ω' THEN 1 ELSE 0 END") \
        == [[1, 1, 0, 0]]


def test_a_key_refuses_the_same_word_in_other_case_or_with_trailing_blanks(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "CREATE TABLE dbo.K (k NVARCHAR(10) NOT NULL, CONSTRAINT PK_K PRIMARY KEY (k))\n"
                         "INSERT INTO dbo.K VALUES (N'Émile')\nSELECT COUNT(*) FROM dbo.K") == [[1]]
    for duplicate in ("N'émile'", "N'ÉMILE  '"):
        result = sandbox.execute_script(f"INSERT INTO dbo.K VALUES ({duplicate})")
        assert result.error is not None and result.error.number == 2627 and "PK_K" in str(result.error)
    assert rows(sandbox, "INSERT INTO dbo.K VALUES (N'Emile')\nSELECT COUNT(*) FROM dbo.K") == [[2]]


def test_group_by_distinct_and_in_follow_the_collation(sandbox: SandboxTarget) -> None:
    setup = ("CREATE TABLE dbo.G (v NVARCHAR(10))\n"
             "INSERT INTO dbo.G VALUES (N'Ä'), (N'ä '), (N'a'), (N'A')\n")
    assert rows(sandbox, setup + "SELECT COUNT(*) FROM (SELECT DISTINCT v FROM dbo.G) AS d") == [[2]]
    assert rows(sandbox, "SELECT COUNT(*) FROM (SELECT v FROM dbo.G GROUP BY v) AS d") == [[2]]
    assert rows(sandbox, "SELECT COUNT(*) FROM dbo.G WHERE v IN (N'ä', N'x')") == [[2]]


def test_binary_and_case_sensitive_collations_compare_as_asked(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "SELECT CASE WHEN 'abc' = 'ABC' COLLATE Latin1_General_BIN2 THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc ' = 'abc' COLLATE Latin1_General_BIN2 THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc' = 'ABC' COLLATE Latin1_General_CS_AS THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc' = 'ABC' COLLATE SQL_Latin1_General_CP1_CI_AS THEN 1 ELSE 0 END") \
        == [[0, 1, 0, 1]]


def test_like_counts_the_values_trailing_blanks_only_in_unicode_text(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "CREATE TABLE dbo.L (v VARCHAR(10), n NVARCHAR(10))\n"
                         "INSERT INTO dbo.L VALUES ('abc  ', N'abc  ')\n"
                         "SELECT CASE WHEN N'abc  ' LIKE N'abc' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc  ' LIKE N'abc' THEN 1 ELSE 0 END, "  # one Unicode argument decides
                         "CASE WHEN v LIKE 'ab_' THEN 1 ELSE 0 END, CASE WHEN n LIKE 'ab_' THEN 1 ELSE 0 END, "
                         "CASE WHEN v COLLATE Latin1_General_BIN2 LIKE 'abc' THEN 1 ELSE 0 END, "
                         "CASE WHEN n COLLATE Latin1_General_BIN2 LIKE 'abc' THEN 1 ELSE 0 END, "
                         "CASE WHEN n COLLATE Latin1_General_BIN2 LIKE N'abc  ' THEN 1 ELSE 0 END, "
                         "CASE WHEN n LIKE N'abc%' THEN 1 ELSE 0 END FROM dbo.L") == [[0, 0, 1, 0, 1, 0, 1, 1]]


def test_like_of_a_value_whose_type_the_runner_cannot_tell_is_refused_where_it_matters(sandbox: SandboxTarget) -> None:
    assert sandbox.execute("SELECT CASE WHEN ? LIKE 'ab_' THEN 1 ELSE 0 END", ["abc"]) == [(1,)]
    with pytest.raises(UnsupportedConstruct, match="cannot tell whether the text is Unicode"):
        sandbox.execute("SELECT CASE WHEN ? LIKE 'abc' THEN 1 ELSE 0 END", ["abc  "])


def test_like_ignores_the_values_trailing_blanks_not_the_patterns(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "SELECT CASE WHEN 'abc  ' LIKE 'ABC' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc' LIKE 'abc ' THEN 1 ELSE 0 END, "
                         "CASE WHEN N'Élan' LIKE N'é%' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'PO5' LIKE '[p]O[0-9]' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'PO5' LIKE 'PO[^0-9]' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'a_b' LIKE 'a!_b' ESCAPE '!' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'axb' NOT LIKE 'a!_b' ESCAPE '!' THEN 1 ELSE 0 END, "
                         "CASE WHEN 'abc' LIKE 'ABC' COLLATE Latin1_General_BIN2 THEN 1 ELSE 0 END") \
        == [[1, 0, 1, 1, 0, 1, 1, 0]]


def test_order_by_puts_accented_letters_with_their_letter(sandbox: SandboxTarget) -> None:
    setup = ("CREATE TABLE dbo.O (v NVARCHAR(10))\n"
             "INSERT INTO dbo.O VALUES (N'eb'), (N'éa'), (N'B'), (N'a 1'), (N'ea'), (N'f')\n")
    assert rows(sandbox, setup + "SELECT v FROM dbo.O ORDER BY v") == [["a 1"], ["B"], ["ea"], ["éa"], ["eb"], ["f"]]
    assert rows(sandbox, "SELECT MIN(v), MAX(v) FROM dbo.O WHERE v > N'b'") == [["ea", "f"]]


@pytest.mark.parametrize("script", [
    "SELECT CASE WHEN N'a' + NCHAR(1) = N'a' THEN 1 ELSE 0 END",  # a character of no weight
    "SELECT CASE WHEN N'ß' = N'ss' THEN 1 ELSE 0 END",  # an expansion
    "CREATE TABLE dbo.P (v NVARCHAR(10))\nINSERT INTO dbo.P VALUES (N'a-c'), (N'ab')\nSELECT v FROM dbo.P ORDER BY v",
])
def test_what_the_model_cannot_vouch_for_is_refused(sandbox: SandboxTarget, script: str) -> None:
    result = sandbox.execute_script(script)
    assert isinstance(result.error, UnsupportedConstruct), result.error
    assert "not supported" in str(result.error)


def test_a_range_in_like_that_the_sandbox_cannot_order_is_refused(sandbox: SandboxTarget) -> None:
    result = sandbox.execute_script("SELECT CASE WHEN N'é' LIKE N'[a-é]' THEN 1 ELSE 0 END")
    assert isinstance(result.error, UnsupportedConstruct)


TEXT = st.text(alphabet=ALPHABET, max_size=6)


@settings(max_examples=150, deadline=None)
@given(a=TEXT, b=TEXT)
def test_equality_agrees_with_the_model(a: str, b: str) -> None:
    state = collation.Collations()
    assert (state.default(a, b) == 0) == model_equal(a, b)
    assert state.take() is None
    # antisymmetric: an index needs a consistent order
    assert (state.default(a, b) > 0) == (state.default(b, a) < 0)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=6), probe=TEXT, unicode=st.booleans())
def test_the_sandbox_finds_exactly_the_rows_the_model_finds(values: list[str], probe: str, unicode: bool) -> None:
    if not unicode:  # varchar holds the code page's characters only (cp1252)
        values = [v.encode("cp1252", "replace").decode("cp1252") for v in values]
        probe = probe.encode("cp1252", "replace").decode("cp1252")
    with SandboxTarget() as target:
        target.execute_script(f"CREATE TABLE dbo.H (v {'N' if unicode else ''}VARCHAR(10))")
        for v in values:
            target.execute("INSERT INTO dbo.H (v) VALUES (?)", [v])
        found = target.execute("SELECT COUNT(*) FROM dbo.H WHERE v = ?", [probe])[0][0]
        # the pattern of the column's type: a Python str is bound as nvarchar, and over a varchar column
        # that makes the comparison Unicode (trailing blanks count), which is not what the model is asked
        pattern = "?" if unicode else "CAST(? AS VARCHAR(10))"
        liked = target.execute(f"SELECT COUNT(*) FROM dbo.H WHERE v LIKE {pattern}", [probe])[0][0]
    assert found == sum(model_equal(v, probe) for v in values)
    assert liked == sum(model_like(v, probe, unicode) for v in values)


def test_the_odbc_target_refuses_text_its_nocase_would_compare_otherwise(tmp_path: Any) -> None:
    pyodbc = pytest.importorskip("pyodbc")
    if "SQLite3" not in pyodbc.drivers():
        pytest.skip("the SQLite3 ODBC driver is not installed: apt-get install libsqliteodbc")
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    target = OdbcSqliteTarget(f"Driver=SQLite3;Database={tmp_path / 'c.sqlite'}")
    try:
        assert target.execute_script("CREATE TABLE dbo.T (v NVARCHAR(10))\nINSERT INTO dbo.T VALUES (N'abc  ')").ok
        for refused in ("SELECT COUNT(*) FROM dbo.T WHERE v = N'é'", "SELECT COUNT(*) FROM dbo.T WHERE v = 'abc '",
                        "SELECT COUNT(*) FROM dbo.T WHERE v = 'abc' COLLATE Latin1_General_CS_AS"):
            assert isinstance(target.execute_script(refused).error, UnsupportedConstruct), refused
        # the value's trailing blanks count in LIKE over nvarchar and not over varchar, as in SQL Server
        assert target.execute_script("CREATE TABLE dbo.V (v VARCHAR(10))\nINSERT INTO dbo.V VALUES ('abc  ')").ok
        for query, expected in (("SELECT COUNT(*) FROM dbo.T WHERE v LIKE 'ABC'", 0),
                                ("SELECT COUNT(*) FROM dbo.V WHERE v LIKE 'ABC'", 1),
                                ("SELECT COUNT(*) FROM dbo.T WHERE v COLLATE Latin1_General_BIN2 LIKE N'abc  '", 1),
                                ("SELECT COUNT(*) FROM dbo.V WHERE v COLLATE Latin1_General_BIN2 LIKE 'abc'", 1),
                                ("SELECT COUNT(*) FROM dbo.V WHERE v COLLATE Latin1_General_BIN2 LIKE 'ABC'", 0),
                                ("SELECT COUNT(*) FROM dbo.T WHERE v COLLATE Latin1_General_BIN2 LIKE N'a!_%' "
                                 "ESCAPE '!'", 0),
                                ("SELECT COUNT(*) FROM dbo.T WHERE v COLLATE Latin1_General_BIN2 NOT LIKE N'%c'", 1)):
            result = target.execute_script(query)
            assert result.ok and result.batches[0].result_sets[0].rows[0][0] == expected, (query, result.error)
    finally:
        target.close()


def test_case_sensitive_like_without_classes_runs_as_glob_with_the_same_answers(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "SELECT CASE WHEN N'x\"PO NUMBER\":1' COLLATE Latin1_General_BIN2 LIKE N'%\"PO!_NUMBER\":%' "
                         "ESCAPE '!' THEN 1 ELSE 0 END, "
                         "CASE WHEN N'po number' COLLATE Latin1_General_BIN2 LIKE N'PO%' THEN 1 ELSE 0 END, "
                         "CASE WHEN N'a*b?c' COLLATE Latin1_General_BIN2 LIKE N'a*b?%' THEN 1 ELSE 0 END, "
                         "CASE WHEN N'axbyc' COLLATE Latin1_General_BIN2 LIKE N'a*b?%' THEN 1 ELSE 0 END") \
        == [[0, 0, 1, 0]]


@pytest.mark.parametrize(("a", "b", "settled"), [
    ("âá\x1a", "received", True),  # unequal however SQL Server weighs the control character
    ("a\x01", "a", False),  # equal if it has no weight, as in SQL Server's Windows collations
    ("ｅ", "e", False),  # full-width: SQL Server's width-insensitivity makes them equal
    ("ß", "ss", False),
    ("xß", "yss", True),
])
def test_a_character_outside_the_model_is_refused_only_where_it_could_change_equality(
        a: str, b: str, settled: bool) -> None:
    state = collation.Collations()
    state.default(a, b)
    assert (state.take() is None) == settled


def test_a_file_whose_key_holds_duplicates_under_the_collation_is_refused_on_opening(tmp_path: Any) -> None:
    import sqlite3

    from pytest_opus.errors import ConfigError

    path = tmp_path / "other.sqlite"
    plain = sqlite3.connect(path)  # SQLite's own NOCASE, as the ODBC driver writes
    plain.execute('CREATE TABLE "K" ("k" NVARCHAR(10) NOT NULL COLLATE NOCASE, PRIMARY KEY ("k"))')
    plain.execute("INSERT INTO K VALUES ('é'), ('É')")
    plain.commit()
    plain.close()
    with pytest.raises(ConfigError, match="counts as the same"):
        SandboxTarget(path)


@pytest.mark.parametrize(("a", "b", "order"), [
    ("IX_batch_id", "IX_BatchId", -1),  # a symbol before a letter
    ("ab", "ab_x", -1),  # a string before its longer continuation
    ("Ab", "ac", -1),
    ("éa", "eb", -1),  # the letter decides before the accent
])
def test_orders_the_model_can_vouch_for(a: str, b: str, order: int) -> None:
    state = collation.Collations()
    assert state.order(a, b) == order and state.order(b, a) == -order
    assert state.take() is None


@pytest.mark.parametrize(("a", "b"), [("a-c", "ab"), ("a_", "a!"), ("é", "è"), ("co'op", "coop")])
def test_orders_it_cannot_vouch_for_are_refused(a: str, b: str) -> None:
    state = collation.Collations()
    state.order(a, b)
    assert state.take() is not None


#: LIKE patterns of literal text with every wildcard, GLOB's own pattern characters, blanks and the escape
LIKE_PATTERN = st.text(alphabet="aAb %_*?!", max_size=5)
LIKE_VALUE = st.text(alphabet="aAb *?%_", max_size=5)


def _like_targets(tmp_path: Any) -> list[Any]:
    targets: list[Any] = [SandboxTarget()]
    try:
        import pyodbc
    except ImportError:
        return targets
    if "SQLite3" in pyodbc.drivers():
        from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

        targets.append(OdbcSqliteTarget(f"Driver=SQLite3;Database={tmp_path / 'like.sqlite'}"))
    return targets


@settings(max_examples=12, deadline=None)
@given(cases=st.lists(st.tuples(LIKE_VALUE, LIKE_PATTERN), min_size=10, max_size=25))
@example(cases=[("a ", "a"), ("ab  ", "ab_"), ("a", "a "), ("a*b", "a*b"), ("A  ", "a%"), ("%a ", "!%a"),
                ("a? ", "a!?"), ("b ", "_"), ("a", "a!"), ("ab", "a![b")])
def test_glob_and_sqlite_like_fast_paths_answer_as_the_runners_like(tmp_path_factory: Any,
                                                                    cases: list[tuple[str, str]]) -> None:
    """A literal pattern under a binary collation runs as SQLite's GLOB (on the ODBC target too), and one
    ending in % under the default collation as SQLite's LIKE; both must match what tsql_like matches,
    for varchar (trailing blanks of the value ignored) and nvarchar (counted) alike."""
    for target in _like_targets(tmp_path_factory.mktemp("like")):
        try:
            assert target.execute_script("CREATE TABLE dbo.H (id INT, v VARCHAR(10), n NVARCHAR(10))").ok
            for i, (value, _) in enumerate(cases):
                target.execute("INSERT INTO dbo.H (id, v, n) VALUES (?, ?, ?)", [i, value, value])
            for i, (value, pattern) in enumerate(cases):
                literal = pattern.replace("'", "''")
                for column, unicode in (("v", False), ("n", True)):
                    for collate, sensitive in ((" COLLATE Latin1_General_BIN2", True), ("", False)):
                        if not sensitive and not pattern.replace("!!", "").replace("!%", "").endswith("%"):
                            continue  # not a fast path: tsql_like itself (sandbox) or RTRIM + LIKE (ODBC)
                        query = (f"SELECT COUNT(*) FROM dbo.H WHERE id = {i} AND {column}{collate} LIKE "
                                 f"{'N' if unicode else ''}'{literal}' ESCAPE '!'")
                        try:
                            found = target.execute(query)[0][0]
                        except UnsupportedConstruct:
                            continue  # refused where GLOB or LIKE cannot answer: never a third answer
                        expected = collation.like_regex(pattern, "!", sensitive, unicode).fullmatch(value)
                        assert found == (expected is not None), (type(target).__name__, query, value)
        finally:
            target.close()


# -- UPPER, LOWER, CHARINDEX and REPLACE without the runner's functions (the ODBC target) -----------------------
FUNCTION_TEXT = st.text(alphabet="aAbBc -'éÉß\t", max_size=6)
FUNCTION_FIND = st.text(alphabet="aAbB -é", min_size=0, max_size=2)
_FUNCTIONS = ("UPPER(s)", "LOWER(s)", "CHARINDEX(f, s)", "REPLACE(s, f, N'#')")


def _n(text: str) -> str:
    return "N'" + text.replace("'", "''") + "'"


def _answer(target: Any, script: str) -> Any:
    """The value of the script's last result set, or UnsupportedConstruct when it is refused."""
    result = target.execute_script(script)
    if isinstance(result.error, UnsupportedConstruct):
        return UnsupportedConstruct
    assert result.error is None, (script, result.error)
    return result.batches[-1].result_sets[-1].rows[0][0]


def _odbc_target(path: Any) -> Any:
    pyodbc = pytest.importorskip("pyodbc")
    if "SQLite3" not in pyodbc.drivers():
        pytest.skip("the SQLite3 ODBC driver is not installed: apt-get install libsqliteodbc")
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    return OdbcSqliteTarget(f"Driver=SQLite3;Database={path}")


@settings(max_examples=40, deadline=None)
@given(text=FUNCTION_TEXT, find=FUNCTION_FIND)
@example(text="aBc", find="b")  # REPLACE: a case-insensitive match SQLite's replace() would miss
@example(text="Aaa", find="aa")  # as many matches both ways, at other places
@example(text="abc", find="")  # CHARINDEX of '' is 0 (SQLite's instr: 1)
@example(text="éa", find="a")  # UPPER/LOWER of a letter beyond ASCII
def test_the_odbc_target_gives_the_sandboxs_string_functions_or_refuses(tmp_path_factory: Any, text: str,
                                                                        find: str) -> None:
    """On the ODBC target UPPER, LOWER, CHARINDEX and REPLACE give the sandbox's answer (SQL Server's, by the
    collation model) or are refused; never another. A column's value is checked when the statement runs, a
    literal before. Printable ASCII text is never refused, except by REPLACE where a case-insensitive search
    finds other matches than SQLite's case-sensitive replace()."""
    odbc = _odbc_target(tmp_path_factory.mktemp("functions") / "f.sqlite")
    sandbox = SandboxTarget()
    try:
        for target in (odbc, sandbox):
            assert target.execute_script(f"CREATE TABLE dbo.W (s NVARCHAR(10), f NVARCHAR(10))\n"
                                         f"INSERT INTO dbo.W VALUES ({_n(text)}, {_n(find)})").ok
        printable = all(" " <= c <= "~" for c in text + find)
        for function in _FUNCTIONS:
            expected = _answer(sandbox, f"SELECT {function} FROM dbo.W")
            for form in (f"SELECT {function} FROM dbo.W",
                         "SELECT " + function.replace("s", _n(text), 1).replace("f,", _n(find) + ",")):
                got = _answer(odbc, form)
                assert got is UnsupportedConstruct or got == expected, (form, got, expected)
                if not printable or expected is UnsupportedConstruct:
                    continue
                clash = function.startswith("REPLACE") and find and \
                    text.lower().replace(find.lower(), "\x01") != text.replace(find, "\x01").lower()
                assert (got is UnsupportedConstruct) == bool(clash), (form, got, expected)
    finally:
        odbc.close()
        sandbox.close()


def test_the_library_sql_over_odbc_keeps_running_with_binary_collations(tmp_path: Any) -> None:
    """staging.py searches NUL and FOR JSON's `\\/` under a binary collation: SQLite's instr() and replace()."""
    odbc = _odbc_target(tmp_path / "lib.sqlite")
    try:
        assert _answer(odbc, "SELECT CHARINDEX(N'B' COLLATE Latin1_General_BIN2, N'aBé')") == 2
        assert _answer(odbc, "SELECT CHARINDEX(N'b' COLLATE Latin1_General_BIN2, N'aBé')") == 0
        assert _answer(odbc, "SELECT REPLACE(N'{\"a\":\"x\\/é\"}' COLLATE Latin1_General_BIN2, N'\\/', N'/')") == \
            '{"a":"x/é"}'
        assert _answer(odbc, "SELECT UPPER(LTRIM(RTRIM(N'  true '))) COLLATE Latin1_General_BIN2") == "TRUE"
    finally:
        odbc.close()


def test_nested_replace_over_odbc_stays_small_and_answers_as_the_sandbox(tmp_path: Any) -> None:
    """Cleaning text with REPLACE(REPLACE(...)) is common: a text to find without letters needs no check of
    its case, and an inner REPLACE's printable result is not checked again, so the SQL grows linearly."""
    odbc = _odbc_target(tmp_path / "nest.sqlite")
    sandbox = SandboxTarget()
    try:
        expression = "s"
        for find in "-_ .,;/":
            expression = f"REPLACE({expression}, '{find}', '')"
        for target in (odbc, sandbox):
            assert target.execute_script("CREATE TABLE dbo.W (s NVARCHAR(20))\n"
                                         "INSERT INTO dbo.W VALUES (N'a-b_c d.e,f;g/h')").ok
            assert _answer(target, f"SELECT {expression} FROM dbo.W") == "abcdefgh"
        # letters to find are checked: on a value where the case matters, refused rather than SQLite's answer
        assert _answer(odbc, "SELECT REPLACE(REPLACE(s, 'A', 'x'), 'b', 'y') FROM dbo.W") is UnsupportedConstruct
        assert _answer(sandbox, "SELECT REPLACE(REPLACE(s, 'A', 'x'), 'b', 'y') FROM dbo.W") == "x-y_c d.e,f;g/h"
    finally:
        odbc.close()
        sandbox.close()


@pytest.mark.parametrize("definition", ["UPPER(s)", "LOWER(s)", "CHARINDEX('a', s)", "REPLACE(s, 'a', 'b')"])
def test_a_view_is_refused_the_string_functions_sqlite_would_answer_otherwise(sandbox: SandboxTarget,
                                                                              definition: str) -> None:
    """A view is stored as SQLite's own SQL (no runner functions, on either target): UPPER(N'é') there is é."""
    assert sandbox.execute_script("CREATE TABLE dbo.W (s NVARCHAR(10))").ok
    result = sandbox.execute_script(f"CREATE VIEW dbo.V AS SELECT {definition} AS u FROM dbo.W")
    assert isinstance(result.error, UnsupportedConstruct) and "in a view" in result.error.construct
    # a case-sensitive search is SQLite's own: kept
    assert sandbox.execute_script("CREATE VIEW dbo.V AS SELECT REPLACE(s COLLATE Latin1_General_BIN2, 'a', 'b') "
                                  "AS u FROM dbo.W").ok
