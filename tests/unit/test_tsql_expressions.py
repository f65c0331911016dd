"""The embedded T-SQL runner's expressions and names: collation, `+`, string functions, @@ROWCOUNT, quoting."""

from __future__ import annotations

import json

import pytest
from test_tsql_support import ok, printed, run

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget

TABLE = """CREATE TABLE dbo.STG_MON_CustMasterSchedule (
    stg_id BIGINT IDENTITY(1,1) NOT NULL CONSTRAINT PK_STG PRIMARY KEY,
    [CUSTOMER] NVARCHAR(200) NULL,
    [PO NUMBER] NVARCHAR(200) NULL,
    [ORDER QTY] BIGINT NULL,
    [CUSTOMER'S ALT PO] NVARCHAR(200) NULL,
    [a]]b] INT NULL,
    code VARCHAR(10) NULL
);
INSERT INTO dbo.STG_MON_CustMasterSchedule ([CUSTOMER], [PO NUMBER], [ORDER QTY], [CUSTOMER'S ALT PO], [a]]b], code)
VALUES (N'GREYSON', N'PO-1', 10, N'x', 1, 'abc  '), (N'Acme', N'PO-2', 20, NULL, 2, NULL),
       (N'greyson', N'po-3', 30, N'y', 3, 'Z');
"""


@pytest.fixture
def sandbox() -> SandboxTarget:
    target = SandboxTarget()
    ok(target, TABLE)
    return target


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        # identifiers in any case, with or without the schema
        ("select count(*) from dbo.stg_mon_custmasterschedule", [(3,)]),
        ("SELECT COUNT(*) FROM STG_MON_CUSTMASTERSCHEDULE", [(3,)]),
        ("SELECT [customer] FROM [dbo].[Stg_Mon_CustMasterSchedule] WHERE stg_id = 2", [("Acme",)]),
        # string comparison ignores case, as under SQL Server's default collation
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [CUSTOMER] = 'greyson'", [(2,)]),
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [CUSTOMER] IN (N'ACME')", [(1,)]),
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [PO NUMBER] LIKE 'PO-%'", [(3,)]),
        # a [...] class is matched by the runner's LIKE (it was refused before the collation module)
        ("SELECT stg_id FROM dbo.STG_MON_CustMasterSchedule WHERE [PO NUMBER] LIKE '[pP]O-[13]' ORDER BY 1",
         [(1,), (3,)]),
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [PO NUMBER] LIKE '[^p]%'", [(0,)]),
        ("SELECT COUNT(DISTINCT [CUSTOMER]) FROM dbo.STG_MON_CustMasterSchedule", [(2,)]),
        ("SELECT MIN([PO NUMBER]) FROM dbo.STG_MON_CustMasterSchedule WHERE [PO NUMBER] > 'po-1'", [("PO-2",)]),
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE 'GREYSON' = [CUSTOMER]", [(2,)]),
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [ORDER QTY] = '20'", [(1,)]),  # still a number
        ("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE [CUSTOMER] BETWEEN 'a' AND 'B'", [(1,)]),
        # bracketed identifiers with spaces, quotes and ]]
        ("SELECT [CUSTOMER'S ALT PO], [a]]b] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 1", [("x", 1)]),
        ("SELECT s.[ORDER QTY] AS [Order Qty (total)] FROM dbo.STG_MON_CustMasterSchedule AS s WHERE stg_id = 3",
         [(30,)]),
        # + is concatenation when one side is a string, arithmetic otherwise
        ("SELECT [CUSTOMER] + N'/' + [PO NUMBER] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 1",
         [("GREYSON/PO-1",)]),
        ("SELECT [ORDER QTY] + stg_id FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 1", [(11,)]),
        ("SELECT 'n=' + CAST([ORDER QTY] AS NVARCHAR(10)) FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2",
         [("n=20",)]),
        ("SELECT [CUSTOMER] + [CUSTOMER'S ALT PO] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2", [(None,)]),
        ("SELECT [CUSTOMER] + [PO NUMBER] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 1", [("GREYSONPO-1",)]),
        ("SELECT s.[CUSTOMER] + s.code FROM dbo.STG_MON_CustMasterSchedule AS s WHERE stg_id = 3", [("greysonZ",)]),
        ("SELECT ISNULL(code, '') + [CUSTOMER] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2", [("Acme",)]),
        ("SELECT [ORDER QTY] + [a]]b] FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2", [(22,)]),
        ("SELECT CASE [CUSTOMER] WHEN 'acme' THEN 1 ELSE 0 END FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2",
         [(1,)]),
        ("SELECT stg_id FROM dbo.STG_MON_CustMasterSchedule EXCEPT SELECT 2 ORDER BY 1", [(1,), (3,)]),
        ("SELECT CONCAT([CUSTOMER], ':', [CUSTOMER'S ALT PO], ':', [ORDER QTY]) FROM dbo.STG_MON_CustMasterSchedule "
         "WHERE stg_id = 2", [("Acme::20",)]),
        # FOR JSON PATH as one object per row, NULLs kept: SQLite's json_object, keys in order
        ("SELECT (SELECT s.[CUSTOMER] AS [who], s.[ORDER QTY] AS [n], s.code AS [c'x] FOR JSON PATH, "
         "WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) FROM dbo.STG_MON_CustMasterSchedule AS s WHERE stg_id = 2",
         [('{"who":"Acme","n":20,"c\'x":null}',)]),
        ("SELECT (SELECT N'tab\t\"q\"' AS [t] FOR JSON PATH, INCLUDE_NULL_VALUES, WITHOUT_ARRAY_WRAPPER)",
         [('{"t":"tab\\t\\"q\\""}',)]),
        # a binary collation finds NCHAR(0), which SQL Server's default collations ignore
        ("SELECT CHARINDEX(NCHAR(0) COLLATE Latin1_General_BIN2, CONCAT(N'ab', NCHAR(0), N'c')), "
         "CHARINDEX(NCHAR(0) COLLATE Latin1_General_BIN2, N'abc')", [(3, 0)]),
    ],
)
def test_queries(sandbox: SandboxTarget, query: str, rows: list[tuple]) -> None:
    assert sandbox.execute(query) == rows


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'a' + 'b'", "ab"),
        ("N'a' + N'b'", "ab"),
        ("1 + 2", 3),
        ("'1' + 1", 2),  # a number on either side makes + arithmetic (type precedence)
        ("CAST(2 AS VARCHAR(5)) + 3", 5),
        ("LEN('ab') + '1'", 3),
        ("1.5 + 1", 2.5),
        ("'a' + NULL", None),
        ("CONCAT('a', NULL, 'b')", "ab"),
        ("CONCAT(NULL, NULL)", ""),
        ("CONCAT('n', 1, 2.5)", "n12.5"),
        ("LEN('abc   ')", 3),
        ("LEN('   abc')", 6),
        ("LEN(N'')", 0),
        ("LEN(NULL)", None),
        ("UPPER(N'straße')", "STRAßE"),
        ("LTRIM(RTRIM('  x  '))", "x"),
        ("ISNULL(NULL, 'fallback')", "fallback"),
        ("COALESCE(NULL, NULL, 3)", 3),
        ("NULLIF(1, 1)", None),
        ("IIF(2 > 1, 'yes', 'no')", "yes"),
        ("CASE WHEN 'ABC' = 'abc' THEN 1 ELSE 0 END", 1),
        ("CASE WHEN 'ABC' <> 'abc' THEN 1 ELSE 0 END", 0),
        ("CASE WHEN 'b' > 'A' THEN 1 ELSE 0 END", 1),
        ("CASE WHEN N'x' IN ('X', 'Y') THEN 1 ELSE 0 END", 1),
        ("CASE WHEN 'Q' IN (N'q') THEN 1 ELSE 0 END", 1),
        ("CASE WHEN 10 = 10.0 THEN 1 ELSE 0 END", 1),
        ("CASE N'Yes' WHEN 'YES' THEN 1 ELSE 0 END", 1),
        ("QUOTENAME('a]b')", "[a]]b]"),
        ("REPLACE('a-b-c', '-', '+')", "a+b+c"),
        ("SUBSTRING('abcdef', 2, 3)", "bcd"),
        ("LEFT('abcdef', 2) + RIGHT('abcdef', 2)", "abef"),
        ("CAST('12' AS INT) + 1", 13),
        ("CAST(3.99 AS INT)", 3),
        ("CAST('abcdef' AS VARCHAR(3))", "abc"),
        ("CAST(12 AS NVARCHAR(10)) + 'x'", "12x"),
        ("CONVERT(INT, '7')", 7),
        ("N'ünï' + N'cödé'", "ünïcödé"),
        ("'it''s'", "it's"),
        ("DB_NAME()", "sandbox"),
        ("SCHEMA_NAME()", "dbo"),
        ("SCHEMA_ID('dbo')", 1),
        ("SUSER_SNAME()", "sandbox"),
        ("USER_NAME()", "dbo"),
        ("ISJSON(N'{\"a\": 1}')", 1),
        ("JSON_VALUE(N'{\"a\": \"x\"}', '$.a')", "x"),
        ("CHARINDEX('c', 'abcd')", 3),
        ("UNICODE(N'A')", 65),
        ("CHAR(66)", "B"),
        ("ROUND(2.345, 2)", 2.35),
        ("ABS(-4) * SIGN(-2)", -4),
        ("LEN(CAST(NEWID() AS NVARCHAR(36)))", 36),
        ("DATALENGTH(GETUTCDATE())", 8),  # a datetime
        ("CASE WHEN SYSUTCDATETIME() > '2020-01-01' THEN 1 ELSE 0 END", 1),
    ],
)
def test_expressions(sandbox: SandboxTarget, expression: str, expected: object) -> None:
    assert sandbox.execute(f"SELECT {expression}") == [(expected,)]


def test_variables_compare_without_case(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "DECLARE @s VARCHAR(20) = 'PENDING';\n"
                           "IF @s = 'pending' PRINT 'same' ELSE PRINT 'different';\n"
                           "IF @s IN ('done', 'Pending') PRINT 'in' ELSE PRINT 'not in';")
    assert out == ["same", "in"]


def test_string_variables_concatenate(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "DECLARE @a NVARCHAR(10) = N'x', @n INT = 5, @s VARCHAR(10) = '5';\n"
                           "PRINT @a + N'y'; PRINT @n + 1; PRINT @s + '1'; PRINT @a + CAST(@n AS NVARCHAR(5));\n"
                           "PRINT @s + @a; PRINT @n + @n;")
    assert out == ["xy", "6", "51", "x5", "5x", "10"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("UPDATE dbo.STG_MON_CustMasterSchedule SET code = 'u' WHERE [CUSTOMER] = 'GREYSON'; PRINT @@ROWCOUNT;", "2"),
        ("UPDATE dbo.STG_MON_CustMasterSchedule SET code = 'u' WHERE 1 = 0; PRINT @@ROWCOUNT;", "0"),
        ("DELETE FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id > 1; PRINT @@ROWCOUNT;", "2"),
        ("INSERT INTO dbo.STG_MON_CustMasterSchedule ([CUSTOMER]) VALUES ('a'), ('b'); PRINT @@ROWCOUNT;", "2"),
        ("SELECT * FROM dbo.STG_MON_CustMasterSchedule; PRINT @@ROWCOUNT;", "3"),
        ("SELECT * FROM dbo.STG_MON_CustMasterSchedule WHERE 1 = 0; PRINT @@ROWCOUNT;", "0"),
        ("DECLARE @x INT; SELECT @x = stg_id FROM dbo.STG_MON_CustMasterSchedule; PRINT @@ROWCOUNT;", "3"),
        ("DECLARE @x INT; SET @x = 1; PRINT @@ROWCOUNT;", "1"),
        ("UPDATE dbo.STG_MON_CustMasterSchedule SET code = 'u'; DECLARE @n INT = @@ROWCOUNT; PRINT @n;", "3"),
    ],
)
def test_rowcount(sandbox: SandboxTarget, script: str, expected: str) -> None:
    assert printed(sandbox, script)[-1] == expected


def test_select_assigns_variables(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "DECLARE @c NVARCHAR(200), @q BIGINT;\n"
                           "SELECT @c = [CUSTOMER], @q = [ORDER QTY] FROM dbo.STG_MON_CustMasterSchedule\n"
                           "WHERE stg_id = 2;\n"
                           "PRINT @c; PRINT @q;\n"
                           "SELECT @c = [CUSTOMER] FROM dbo.STG_MON_CustMasterSchedule WHERE 1 = 0; PRINT @c;")
    assert out == ["Acme", "20", "Acme"]  # no row: the variable keeps its value


def test_string_agg_builds_a_list(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "DECLARE @list NVARCHAR(MAX);\n"
                           "SELECT @list = STRING_AGG([PO NUMBER], N',') FROM dbo.STG_MON_CustMasterSchedule;\n"
                           "PRINT LEN(@list);")
    assert out == ["14"]


def test_parameters_bind_with_question_marks(sandbox: SandboxTarget) -> None:
    rows = sandbox.execute("SELECT stg_id FROM dbo.STG_MON_CustMasterSchedule WHERE [CUSTOMER] = ? AND [ORDER QTY] > ? "
                           "ORDER BY stg_id", ["GreySon", 15])
    assert rows == [(3,)]
    sandbox.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET code = ? WHERE stg_id = ?", ["it's", 2])
    assert sandbox.rowcount == 1
    assert sandbox.execute("SELECT code FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = 2") == [("it's",)]


@pytest.mark.parametrize(
    ("statement", "construct"),
    [
        ("SELECT TRY_CAST('1' AS INT)", "TRY_CAST"),
        ("SELECT FORMAT_MESSAGE('x')", "FORMAT_MESSAGE"),
        ("SELECT * FROM other.Things", "schema other"),
        ("SELECT * FROM sandbox.dbo.STG_MON_CustMasterSchedule", "three-part names"),
        ("SELECT @@FETCH_STATUS", "@@FETCH_STATUS"),
        ("SELECT FORMAT(1.5, 'N2')", "function FORMAT()"),
        ("SELECT DATENAME(month, SYSUTCDATETIME())", "DATENAME or FORMAT"),
        ("SELECT DATEPART(weekday, SYSUTCDATETIME())", "DATEPART(weekday, ...)"),
        ("SELECT PATINDEX('%a%', 'abc')", "function PATINDEX()"),
        ("SELECT CONVERT(VARCHAR(10), SYSUTCDATETIME(), 120)", "CONVERT with a style"),
        ("SELECT CHARINDEX('a', 'abc', 2)", "CHARINDEX with a start position"),
        ("SELECT JULIANDAY('now')", "function JULIANDAY()"),
        ("SELECT stg_id FROM dbo.STG_MON_CustMasterSchedule FOR JSON PATH", "Unsupported query option"),
        ("SELECT (SELECT stg_id AS [a] FOR JSON PATH) FROM dbo.STG_MON_CustMasterSchedule", "FOR JSON other than"),
        ("SELECT (SELECT stg_id AS [a] FOR JSON AUTO, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) "
         "FROM dbo.STG_MON_CustMasterSchedule", "FOR JSON other than"),
        ("SELECT (SELECT stg_id AS [a.b] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) "
         "FROM dbo.STG_MON_CustMasterSchedule", "dotted keys"),
        ("SELECT (SELECT TOP 1 stg_id AS [a] FROM dbo.STG_MON_CustMasterSchedule FOR JSON PATH, "
         "WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)", "FOR JSON other than"),
        ("SELECT * FROM dbo.STG_MON_CustMasterSchedule AS s CROSS APPLY (SELECT TOP 1 s.stg_id AS x) AS a",
         "CROSS APPLY"),
        ("DELETE s FROM dbo.STG_MON_CustMasterSchedule AS s JOIN dbo.STG_MON_CustMasterSchedule AS t ON 1 = 1",
         "DELETE with FROM ... JOIN"),
    ],
)
def test_constructs_outside_the_subset_are_refused_with_their_line(
    sandbox: SandboxTarget, statement: str, construct: str
) -> None:
    result = run(sandbox, f"PRINT 1;\n\n{statement};\nPRINT 2;")
    assert isinstance(result.error, UnsupportedConstruct)
    assert result.error.line == 3
    assert construct in result.error.message
    assert "not supported by the sandbox: " in result.error.message
    assert [m.text for m in result.messages] == []  # refused before anything of its batch ran


@pytest.mark.parametrize("name", ["[no such column]", "[nope]", "nope", '"nope"'])
def test_a_missing_column_is_an_error_however_it_is_quoted(sandbox: SandboxTarget, name: str) -> None:
    result = run(sandbox, f"SELECT {name} FROM dbo.STG_MON_CustMasterSchedule;")
    assert result.error is not None and result.error.number == 207
    assert "Invalid column name" in result.error.message


UPDATE_TABLES = """CREATE TABLE dbo.Items (id INT NOT NULL, status NVARCHAR(20) NULL, qty INT NULL);
CREATE TABLE dbo.Changes (item_id INT NOT NULL, new_status NVARCHAR(20) NULL, new_qty INT NULL);
INSERT INTO dbo.Items VALUES (1, N'open', 1), (2, N'open', 2), (3, N'open', 3);
INSERT INTO dbo.Changes VALUES (1, N'done', 10), (3, N'held', 30);
"""


@pytest.mark.parametrize(
    "update",
    [
        "UPDATE i SET i.status = c.new_status, qty = c.new_qty FROM dbo.Items AS i JOIN dbo.Changes AS c "
        "ON c.item_id = i.id;",
        "UPDATE i SET status = c.new_status, qty = c.new_qty FROM dbo.Items AS i INNER JOIN dbo.Changes AS c "
        "ON c.item_id = i.id WHERE i.qty > 0;",
        "UPDATE dbo.Items SET status = c.new_status, qty = c.new_qty FROM dbo.Items JOIN dbo.Changes AS c "
        "ON c.item_id = Items.id;",
        "UPDATE Items SET status = c.new_status, qty = c.new_qty FROM dbo.Changes AS c WHERE c.item_id = Items.id;",
    ],
    ids=["alias-join", "alias-join-where", "name-join", "sqlite-form"],
)
def test_update_from_changes_only_the_joined_rows(update: str) -> None:
    target = SandboxTarget()
    result = run(target, UPDATE_TABLES + update + "\nPRINT @@ROWCOUNT;")
    assert result.ok, result.summary()
    assert [m.text for m in result.messages] == ["2"]
    assert target.execute("SELECT id, status, qty FROM dbo.Items ORDER BY id") == [
        (1, "done", 10), (2, "open", 2), (3, "held", 30),
    ]


def test_update_from_with_an_outer_join_is_refused() -> None:
    result = run(SandboxTarget(), UPDATE_TABLES + "UPDATE i SET qty = 0 FROM dbo.Items AS i "
                                                  "LEFT JOIN dbo.Changes AS c ON c.item_id = i.id;")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == 5


def test_insert_select_gives_every_row_the_statements_time_for_time_defaults() -> None:
    """A GETDATE()/SYSUTCDATETIME() default is the statement's time, the same for every row (as on
    SQL Server; SQLite's 'now' is per statement too). The runner names such columns in
    INSERT ... SELECT so that SQLite computes the value once rather than per row: a speed-up, which
    the translation assertions below guard."""
    target = SandboxTarget()
    target.execute("CREATE TABLE dbo.T (a INT, made DATETIME2 DEFAULT (GETDATE()), "
                   "utc DATETIME2 DEFAULT (SYSUTCDATETIME()), n INT DEFAULT (0))")
    target.execute("CREATE TABLE dbo.S (x INT)")
    target.executemany("INSERT INTO dbo.S VALUES (?)", [(i,) for i in range(2000)])
    target.execute("INSERT INTO dbo.T (a) SELECT x FROM dbo.S")
    assert target.execute("SELECT COUNT(*), COUNT(DISTINCT made), COUNT(DISTINCT utc), MIN(n) FROM dbo.T") == [
        (2000, 1, 1, 0)]
    translated, _ = target.engine.translate_dml("INSERT INTO dbo.T (a, made) SELECT ? AS x, NULL AS m")
    assert "`utc`" in translated and translated.count("STRFTIME") == 1  # a column given is left alone
    target.execute("INSERT INTO dbo.T (a, made) SELECT x, NULL FROM dbo.S WHERE x < 3")
    assert target.execute("SELECT COUNT(*) FROM dbo.T WHERE made IS NULL AND utc IS NOT NULL") == [(3,)]


def test_for_json_of_more_keys_than_one_sqlite_function_takes(sandbox: SandboxTarget) -> None:
    """Over 63 keys the object is json_object plus json_insert (linear in the keys), and it stays a
    JSON object when nested in another FOR JSON."""
    keys = ", ".join(f"s.stg_id + {i} AS [k{i}]" for i in range(150))
    inner = f"(SELECT {keys} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)"
    sql = (f"SELECT (SELECT {inner} AS [obj], N'x' AS [tail] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, "
           "INCLUDE_NULL_VALUES) FROM dbo.STG_MON_CustMasterSchedule AS s WHERE stg_id = 1")
    (text,) = sandbox.execute(sql)[0]
    outer = json.loads(text)
    assert list(outer) == ["obj", "tail"]
    assert list(outer["obj"]) == [f"k{i}" for i in range(150)]
    assert outer["obj"]["k149"] == 150
    translated, _ = sandbox.engine.translate_dml(sql)
    assert translated.upper().count("JSON_INSERT") == 2 and len(translated) < 12_000


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # CHARINDEX and REPLACE follow the collation: case-insensitive by default, for every vouched letter
        ("CHARINDEX(N'É', N'aé')", 2),
        ("CHARINDEX('B' COLLATE Latin1_General_BIN2, 'abc')", 0),
        ("CHARINDEX('', 'abc')", 0),
        ("REPLACE(N'ÉtÉ', N'é', N'e')", "ete"),
        ("REPLACE('abc' COLLATE Latin1_General_BIN2, 'B', 'x')", "abc"),
        ("REPLACE('a.b', '.', '')", "ab"),
        # UPPER and LOWER over all of Unicode, never longer than their argument
        ("UPPER(N'ωß')", "Ωß"),
        ("LOWER(N'ЖÉ')", "жé"),
        ("CONCAT_WS(',', NULL, NULL)", ""),
        ("CONCAT_WS(', ', 'a', 2, NULL, 'c')", "a, 2, c"),
        # ROUND keeps its argument's type: a decimal(6,4) variable rounded to tens
        ("ROUND(CAST(12.3456 AS DECIMAL(6, 4)), -1)", 10),
        ("ROUND(-2.5, 0)", -3),
        # decimal division to the quotient's scale (exact here, so rounding and truncation agree)
        ("CAST(12.3456 AS DECIMAL(18, 4)) / 2", 6.1728),
        ("ABS(CAST(-5 AS SMALLINT))", 5),
    ],
)
def test_functions_give_sql_servers_answer(sandbox: SandboxTarget, expression: str, expected: object) -> None:
    assert sandbox.execute(f"SELECT {expression}") == [(expected,)]


@pytest.mark.parametrize(
    ("script", "construct"),
    [
        ("SELECT 2.0 / 3", "decimal division"),  # 0.666667 or 0.666666: the documentation does not say
        ("SELECT COALESCE(NULL, 'x', 1.5)", "COALESCE of text and decimal"),
        ("SELECT CHARINDEX(N'ß', N'ss')", "comparison under SQL Server's collation"),
        ("SELECT ROUND(SUM(v), -1) FROM (SELECT 748.58 AS v) AS t", "ROUND with a negative"),
        ("SELECT STRING_AGG(name, ',') WITHIN GROUP (ORDER BY name COLLATE Latin1_General_BIN2) FROM sys.tables",
         "WITHIN GROUP"),
    ],
)
def test_functions_whose_answer_the_sandbox_cannot_vouch_for_are_refused(
        sandbox: SandboxTarget, script: str, construct: str) -> None:
    result = run(sandbox, script)
    assert isinstance(result.error, UnsupportedConstruct), result.error
    assert construct in result.error.message


def test_abs_of_the_smallest_smallint_overflows(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "DECLARE @s SMALLINT = -32768\nSELECT ABS(@s)")
    assert result.error is not None and result.error.number == 8115


def test_string_agg_within_group_orders_by_its_keys_in_sql_servers_order(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.A (g INT, v NVARCHAR(5), k INT);\n"
                "INSERT INTO dbo.A VALUES (1, N'éa', 2), (1, N'B', 3), (1, N'eb', 1), (2, N'x', NULL), (2, NULL, 5), "
                "(2, N'y', 0);")
    assert sandbox.execute("SELECT g, STRING_AGG(v, N'; ') WITHIN GROUP (ORDER BY v) FROM dbo.A GROUP BY g "
                           "ORDER BY g") == [(1, "B; éa; eb"), (2, "x; y")]
    # NULL keys sort lowest; NULL values are skipped
    assert sandbox.execute("SELECT g, STRING_AGG(v, ',') WITHIN GROUP (ORDER BY k DESC) FROM dbo.A GROUP BY g "
                           "ORDER BY g") == [(1, "B,éa,eb"), (2, "y,x")]
