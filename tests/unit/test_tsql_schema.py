"""The embedded T-SQL runner's DDL and catalog: tables, ALTER TABLE, SELECT ... INTO, #temp tables,
OBJECT_ID, COL_LENGTH, INFORMATION_SCHEMA and sys.* views."""

from __future__ import annotations

import pytest
from test_tsql_support import failure, ok, printed

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget

TABLES = """CREATE TABLE dbo.Orders (
    order_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_Orders PRIMARY KEY,
    [CUSTOMER] NVARCHAR(50) NOT NULL CONSTRAINT DF_Orders_CUSTOMER DEFAULT (N'nobody'),
    [ORDER QTY] BIGINT NULL,
    [FINAL FOB (USD)] DECIMAL(18,4) NULL,
    [CUSTOMER'S ALT PO] VARCHAR(20) NULL,
    notes NVARCHAR(MAX) NULL,
    code CHAR(3) NULL,
    created DATETIME2 NULL CONSTRAINT DF_Orders_created DEFAULT (SYSUTCDATETIME()),
    retries INT NULL CONSTRAINT DF_Orders_retries DEFAULT (0),
    batch UNIQUEIDENTIFIER NOT NULL CONSTRAINT DF_Orders_batch DEFAULT (NEWID())
);
CREATE INDEX IX_Orders_customer ON dbo.Orders ([CUSTOMER]);
INSERT INTO dbo.Orders ([CUSTOMER], [ORDER QTY], [FINAL FOB (USD)], [CUSTOMER'S ALT PO])
VALUES (N'GREYSON', 100, 12.5, 'alt-1'), (N'Acme', 5, NULL, NULL), (N'greyson', 7, 1.25, 'alt-3');
"""


@pytest.fixture
def sandbox() -> SandboxTarget:
    target = SandboxTarget()
    ok(target, TABLES)
    return target


def value(target: SandboxTarget, expression: str) -> object:
    return target.execute(f"SELECT {expression}")[0][0]


# -- the catalog a CREATE TABLE produces ---------------------------------------------------------------


def test_declared_types_defaults_and_keys_are_reported_as_sql_server_does(sandbox: SandboxTarget) -> None:
    table = sandbox.catalog().table("dbo.Orders")
    assert table is not None
    shape = [(c.name, c.type_text, c.nullable, c.default, c.default_name) for c in table.columns]
    assert shape == [
        ("order_id", "int", False, None, None),
        ("CUSTOMER", "nvarchar(50)", False, "('nobody')", "DF_Orders_CUSTOMER"),
        ("ORDER QTY", "bigint", True, None, None),
        ("FINAL FOB (USD)", "decimal(18,4)", True, None, None),
        ("CUSTOMER'S ALT PO", "varchar(20)", True, None, None),
        ("notes", "nvarchar(max)", True, None, None),
        ("code", "char(3)", True, None, None),
        ("created", "datetime2", True, "(sysutcdatetime())", "DF_Orders_created"),
        ("retries", "int", True, "((0))", "DF_Orders_retries"),
        ("batch", "uniqueidentifier", False, "(newid())", "DF_Orders_batch"),
    ]
    assert table.column("order_id").identity  # type: ignore[union-attr]
    assert [(i.name, i.columns, i.primary_key) for i in table.indexes] == [
        ("PK_Orders", ("order_id",), True), ("IX_Orders_customer", ("CUSTOMER",), False),
    ]


def test_identity_numbers_rows_and_defaults_fill_in(sandbox: SandboxTarget) -> None:
    rows = sandbox.execute("SELECT order_id, [CUSTOMER], retries, LEN(batch), LEN(created) FROM dbo.Orders "
                           "ORDER BY order_id")
    assert [r[:3] for r in rows] == [(1, "GREYSON", 0), (2, "Acme", 0), (3, "greyson", 0)]
    assert all(r[3] == 36 and r[4] >= 19 for r in rows)
    result = ok(sandbox, "INSERT INTO dbo.Orders ([ORDER QTY]) VALUES (1);\nPRINT @@IDENTITY; PRINT SCOPE_IDENTITY();")
    assert [m.text for m in result.messages] == ["4", "4"]


def test_create_table_twice_is_error_2714(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nCREATE TABLE dbo.orders (n INT);")
    assert error.number == 2714 and error.line == 2


def test_not_null_is_enforced(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "INSERT INTO dbo.Orders ([CUSTOMER]) VALUES (NULL);")
    assert error.number == 515


# -- OBJECT_ID and COL_LENGTH --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "found"),
    [
        ("OBJECT_ID(N'dbo.Orders')", True),
        ("OBJECT_ID(N'dbo.Orders', N'U')", True),
        ("OBJECT_ID('[dbo].[orders]', 'U')", True),
        ("OBJECT_ID(N'Orders', N'V')", False),
        ("OBJECT_ID(N'dbo.Nope')", False),
        ("OBJECT_ID(N'other.Orders')", False),
        ("OBJECT_ID(N'dbo.OrderSummary', N'V')", True),
        ("OBJECT_ID(N'dbo.OrderSummary', N'U')", False),
        ("OBJECT_ID(N'dbo.Count_Orders', N'P')", True),
        ("OBJECT_ID(N'dbo.DF_Orders_retries', N'D')", True),
        ("OBJECT_ID(N'dbo.PK_Orders', N'PK')", True),
        ("OBJECT_ID(N'dbo.PK_Orders', N'D')", False),
    ],
)
def test_object_id_by_type(sandbox: SandboxTarget, call: str, found: bool) -> None:
    ok(sandbox, "CREATE VIEW dbo.OrderSummary AS SELECT [CUSTOMER], COUNT(*) AS n FROM dbo.Orders GROUP BY [CUSTOMER];")
    ok(sandbox, "CREATE PROCEDURE dbo.Count_Orders AS SELECT COUNT(*) FROM dbo.Orders;")
    assert (value(sandbox, call) is not None) == found


def test_object_id_is_stable_and_matches_sys_objects(sandbox: SandboxTarget) -> None:
    oid = value(sandbox, "OBJECT_ID(N'dbo.Orders')")
    assert isinstance(oid, int) and oid > 0
    assert sandbox.execute("SELECT name FROM sys.objects WHERE object_id = ?", [oid]) == [("Orders",)]
    assert value(sandbox, f"OBJECT_NAME({oid})") == "Orders"


@pytest.mark.parametrize(
    ("column", "length"),
    [
        ("CUSTOMER", 100),  # nvarchar(50): two bytes a character
        ("customer", 100),
        ("CUSTOMER'S ALT PO", 20),
        ("notes", -1),
        ("code", 3),
        ("ORDER QTY", 8),
        ("order_id", 4),
        ("FINAL FOB (USD)", 9),
        ("batch", 16),
        ("no such column", None),
    ],
)
def test_col_length_in_bytes(sandbox: SandboxTarget, column: str, length: int | None) -> None:
    assert sandbox.execute("SELECT COL_LENGTH(N'dbo.Orders', ?)", [column]) == [(length,)]


def test_col_length_of_a_missing_table_is_null(sandbox: SandboxTarget) -> None:
    assert value(sandbox, "COL_LENGTH('dbo.Nope', 'x')") is None


def test_guards_follow_ddl_in_the_same_batch(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "IF COL_LENGTH('dbo.Orders', 'extra') IS NULL ALTER TABLE dbo.Orders ADD extra INT NULL;\n"
                           "IF COL_LENGTH('dbo.Orders', 'extra') IS NOT NULL PRINT 'added';\n"
                           "IF OBJECT_ID('dbo.Later', 'U') IS NULL CREATE TABLE dbo.Later (n INT);\n"
                           "IF OBJECT_ID('dbo.Later', 'U') IS NOT NULL PRINT 'created';")
    assert out == ["added", "created"]


# -- INFORMATION_SCHEMA and sys.* ---------------------------------------------------------------------


def test_information_schema_columns(sandbox: SandboxTarget) -> None:
    rows = sandbox.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE, COLUMN_DEFAULT, NUMERIC_PRECISION, "
        "NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'dbo' AND TABLE_NAME = 'orders' "
        "AND COLUMN_NAME IN ('customer', 'notes', 'FINAL FOB (USD)', 'retries') ORDER BY ORDINAL_POSITION"
    )
    assert rows == [
        ("CUSTOMER", "nvarchar", 50, "NO", "('nobody')", None, None),
        ("FINAL FOB (USD)", "decimal", None, "YES", None, 18, 4),
        ("notes", "nvarchar", -1, "YES", None, None, None),
        ("retries", "int", None, "YES", "((0))", 10, 0),
    ]


def test_information_schema_tables_routines_and_parameters(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE VIEW dbo.V AS SELECT order_id FROM dbo.Orders;")
    ok(sandbox, "CREATE PROCEDURE dbo.P @batch VARCHAR(50), @reason NVARCHAR(500) = NULL, @n INT OUTPUT AS RETURN;")
    assert sandbox.execute("SELECT TABLE_NAME, TABLE_TYPE FROM INFORMATION_SCHEMA.TABLES ORDER BY TABLE_NAME") == [
        ("Orders", "BASE TABLE"), ("V", "VIEW"),
    ]
    assert sandbox.execute("SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM INFORMATION_SCHEMA.ROUTINES") == [
        ("dbo", "P", "PROCEDURE"),
    ]
    assert sandbox.execute(
        "SELECT PARAMETER_NAME, ORDINAL_POSITION, PARAMETER_MODE, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH "
        "FROM INFORMATION_SCHEMA.PARAMETERS WHERE SPECIFIC_NAME = N'P' ORDER BY ORDINAL_POSITION"
    ) == [("@batch", 1, "IN", "varchar", 50), ("@reason", 2, "IN", "nvarchar", 500), ("@n", 3, "INOUT", "int", None)]
    assert sandbox.execute("SELECT COUNT(*) FROM INFORMATION_SCHEMA.VIEWS WHERE TABLE_NAME = 'v'") == [(1,)]


def test_sys_views(sandbox: SandboxTarget) -> None:
    oid = value(sandbox, "OBJECT_ID('dbo.Orders')")
    assert sandbox.execute("SELECT name, type FROM sys.tables") == [("Orders", "U")]
    assert sandbox.execute("SELECT name, schema_id FROM sys.schemas") == [("dbo", 1)]
    assert sandbox.execute(
        "SELECT i.name, i.is_primary_key, i.is_unique FROM sys.indexes AS i "
        "WHERE i.object_id = OBJECT_ID('dbo.Orders') "
        "ORDER BY i.index_id"
    ) == [("PK_Orders", 1, 1), ("IX_Orders_customer", 0, 0)]
    assert sandbox.execute(
        "SELECT c.name FROM sys.index_columns AS ic JOIN sys.indexes AS i ON i.object_id = ic.object_id "
        "AND i.index_id = ic.index_id JOIN sys.columns AS c ON c.object_id = ic.object_id "
        "AND c.column_id = ic.column_id "
        "WHERE i.name = 'IX_Orders_customer'"
    ) == [("CUSTOMER",)]
    defaults = sandbox.execute(
        "SELECT dc.name, c.name, dc.definition, dc.is_system_named FROM sys.default_constraints AS dc "
        "JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id "
        "WHERE dc.parent_object_id = ? ORDER BY dc.name", [oid]
    )
    assert defaults == [
        ("DF_Orders_batch", "batch", "(newid())", 0), ("DF_Orders_created", "created", "(sysutcdatetime())", 0),
        ("DF_Orders_CUSTOMER", "CUSTOMER", "('nobody')", 0), ("DF_Orders_retries", "retries", "((0))", 0),
    ]
    assert sandbox.execute(
        "SELECT name, max_length, is_nullable, is_identity FROM sys.columns WHERE object_id = ? AND column_id <= 2",
        [oid],
    ) == [("order_id", 4, 0, 1), ("CUSTOMER", 100, 0, 0)]


def test_catalog_views_see_ddl_made_earlier_in_the_script(sandbox: SandboxTarget) -> None:
    out = printed(sandbox, "ALTER TABLE dbo.Orders ADD late INT NULL;\n"
                           "IF EXISTS (SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'Orders' "
                           "AND COLUMN_NAME = 'late') PRINT 'seen';")
    assert out == ["seen"]


def test_unknown_catalog_view_is_outside_the_subset(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nSELECT * FROM sys.foreign_keys;")
    assert "not supported by the sandbox: " in error.message and error.line == 2


# -- ALTER TABLE ---------------------------------------------------------------------------------------


def test_add_nullable_column_with_default_leaves_existing_rows_null(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders ADD status VARCHAR(20) NULL CONSTRAINT DF_Orders_status DEFAULT ('NEW');")
    assert sandbox.execute("SELECT COUNT(*), COUNT(status) FROM dbo.Orders") == [(3, 0)]
    sandbox.execute("INSERT INTO dbo.Orders ([CUSTOMER]) VALUES (N'new one')")
    assert sandbox.execute("SELECT status FROM dbo.Orders WHERE [CUSTOMER] = N'new one'") == [("NEW",)]
    column = sandbox.catalog().table("Orders").column("status")  # type: ignore[union-attr]
    assert (column.default, column.default_name) == ("('NEW')", "DF_Orders_status")  # type: ignore[union-attr]


def test_add_not_null_column_with_default_fills_existing_rows(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders ADD status VARCHAR(20) NOT NULL CONSTRAINT DF_Orders_status DEFAULT ('NEW');"
                "ALTER TABLE dbo.Orders ADD stamp DATETIME2 NOT NULL CONSTRAINT DF_Orders_stamp "
                "DEFAULT (SYSUTCDATETIME());")
    assert sandbox.execute("SELECT DISTINCT status, LEN(stamp) > 18 FROM dbo.Orders") == [("NEW", 1)]


def test_add_not_null_column_without_default_to_a_table_with_rows_fails(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "ALTER TABLE dbo.Orders ADD must INT NOT NULL;")
    assert error.number == 4901


def test_add_existing_column_fails(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "ALTER TABLE dbo.Orders ADD notes INT NULL;").number == 2705


def test_add_column_keeps_rows_and_indexes(sandbox: SandboxTarget) -> None:
    before = sandbox.execute("SELECT * FROM dbo.Orders ORDER BY order_id")
    ok(sandbox, "ALTER TABLE dbo.Orders ADD flag BIT NULL CONSTRAINT DF_Orders_flag DEFAULT (1);")
    after = sandbox.execute("SELECT * FROM dbo.Orders ORDER BY order_id")
    assert [r[:-1] for r in after] == before and all(r[-1] is None for r in after)
    table = sandbox.catalog().table("Orders")
    assert table is not None and table.index("IX_Orders_customer") is not None
    assert table.column("order_id").identity  # type: ignore[union-attr]


def test_drop_constraint_then_drop_column(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders DROP CONSTRAINT DF_Orders_retries;")
    table = sandbox.catalog().table("Orders")
    assert table is not None and table.column("retries").default is None  # type: ignore[union-attr]
    assert sandbox.execute("SELECT retries FROM dbo.Orders ORDER BY order_id") == [(0,), (0,), (0,)]  # data kept
    ok(sandbox, "ALTER TABLE dbo.Orders DROP COLUMN retries;")
    assert sandbox.catalog().table("Orders").column("retries") is None  # type: ignore[union-attr]
    assert value(sandbox, "OBJECT_ID('DF_Orders_retries')") is None


def test_drop_constraint_missing(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "ALTER TABLE dbo.Orders DROP CONSTRAINT DF_Nope;").number == 3728
    ok(sandbox, "ALTER TABLE dbo.Orders DROP CONSTRAINT IF EXISTS DF_Nope;")


@pytest.mark.parametrize(
    ("column", "dependent"),
    [("retries", "DF_Orders_retries"), ("CUSTOMER", "DF_Orders_CUSTOMER"), ("created", "DF_Orders_created")],
)
def test_drop_column_refused_while_a_default_depends_on_it(sandbox: SandboxTarget, column: str,
                                                           dependent: str) -> None:
    error = failure(sandbox, f"PRINT 1;\nALTER TABLE dbo.Orders DROP COLUMN [{column}];")
    assert error.number == 5074 and error.line == 2
    assert f"The object '{dependent}' is dependent on column '{column}'." in error.message
    assert sandbox.catalog().table("Orders").column(column) is not None  # type: ignore[union-attr]


def test_drop_column_refused_while_an_index_depends_on_it(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders DROP CONSTRAINT DF_Orders_CUSTOMER;")
    error = failure(sandbox, "ALTER TABLE dbo.Orders DROP COLUMN [CUSTOMER];")
    assert error.number == 5074 and "'IX_Orders_customer'" in error.message
    ok(sandbox, "DROP INDEX IX_Orders_customer ON dbo.Orders; ALTER TABLE dbo.Orders DROP COLUMN [CUSTOMER];")


def test_drop_column_missing_and_if_exists(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "ALTER TABLE dbo.Orders DROP COLUMN nope;").number == 4924
    ok(sandbox, "ALTER TABLE dbo.Orders DROP COLUMN IF EXISTS nope;")


def test_alter_column_type_and_nullability_keeps_data_and_indexes(sandbox: SandboxTarget) -> None:
    before = sandbox.execute("SELECT * FROM dbo.Orders ORDER BY order_id")
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER] NVARCHAR(200) NULL;")
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [ORDER QTY] BIGINT NOT NULL;")
    assert sandbox.execute("SELECT * FROM dbo.Orders ORDER BY order_id") == before
    table = sandbox.catalog().table("Orders")
    assert table is not None
    customer, qty = table.column("CUSTOMER"), table.column("ORDER QTY")
    assert (customer.type_text, customer.nullable, customer.default) == (  # type: ignore[union-attr]
        "nvarchar(200)", True, "('nobody')")
    assert (qty.type_text, qty.nullable) == ("bigint", False)  # type: ignore[union-attr]
    assert table.index("IX_Orders_customer") is not None and table.index("PK_Orders") is not None


def test_alter_column_to_not_null_with_nulls_present_fails(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER'S ALT PO] VARCHAR(20) NOT NULL;")
    assert error.number == 515
    assert sandbox.catalog().table("Orders").column("CUSTOMER'S ALT PO").nullable  # type: ignore[union-attr]


def test_alter_column_narrower_than_the_data_fails(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER] NVARCHAR(3) NOT NULL;")
    assert error.number == 2628 and "truncated" in error.message
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER] NVARCHAR(7) NOT NULL;")


def test_alter_column_to_a_number_needs_numbers(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [ORDER QTY] VARCHAR(10) NULL;")
    assert sandbox.execute("SELECT [ORDER QTY] FROM dbo.Orders WHERE order_id = 1") == [("100",)]
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [ORDER QTY] INT NULL;")
    assert sandbox.execute("SELECT [ORDER QTY] + 1 FROM dbo.Orders WHERE order_id = 1") == [(101,)]
    error = failure(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER] INT NOT NULL;")
    assert error.number == 245


def test_alter_column_without_null_or_not_null_makes_it_nullable(sandbox: SandboxTarget) -> None:
    ok(sandbox, "ALTER TABLE dbo.Orders ALTER COLUMN [CUSTOMER] NVARCHAR(60);")
    assert sandbox.catalog().table("Orders").column("CUSTOMER").nullable  # type: ignore[union-attr]


def test_ddl_on_a_missing_table(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "ALTER TABLE dbo.Nope ADD x INT NULL;").number == 4902
    assert failure(sandbox, "DROP TABLE dbo.Nope;").number == 3701
    ok(sandbox, "DROP TABLE IF EXISTS dbo.Nope; DROP VIEW IF EXISTS dbo.Nope;")


def test_index_ddl(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "CREATE INDEX IX_Orders_customer ON dbo.Orders (notes);").number == 1913
    assert failure(sandbox, "CREATE INDEX IX_x ON dbo.Orders (nope);").number == 1911
    ok(sandbox, "CREATE UNIQUE INDEX UX_Orders_batch ON dbo.Orders (batch);")
    index = sandbox.catalog().table("Orders").index("UX_Orders_batch")  # type: ignore[union-attr]
    assert index is not None and index.unique
    assert failure(sandbox, "DROP INDEX IX_nope ON dbo.Orders;").number == 3701
    ok(sandbox, "DROP INDEX UX_Orders_batch ON dbo.Orders;")


def test_views(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE VIEW dbo.V AS SELECT [CUSTOMER], COUNT(*) AS n FROM dbo.Orders GROUP BY [CUSTOMER];")
    assert sandbox.execute("SELECT n FROM dbo.V WHERE [CUSTOMER] = 'greyson'") == [(2,)]  # grouped without case
    assert failure(sandbox, "CREATE VIEW dbo.V AS SELECT 1 AS one;").number == 2714
    ok(sandbox, "CREATE OR ALTER VIEW dbo.V AS SELECT 1 AS one;")
    ok(sandbox, "ALTER VIEW dbo.V AS SELECT 2 AS two;")
    assert sandbox.execute("SELECT * FROM dbo.V") == [(2,)]
    assert failure(sandbox, "ALTER VIEW dbo.W AS SELECT 1 AS one;").number == 208
    error = failure(sandbox, "PRINT 1;\nCREATE VIEW dbo.Broken AS SELECT nope FROM dbo.Orders;")
    assert error.line == 2 and sandbox.catalog().view("Broken") is None


# -- SELECT ... INTO and #temp tables -------------------------------------------------------------------


def test_select_into_copies_types_and_nullability(sandbox: SandboxTarget) -> None:
    ok(sandbox, "SELECT o.order_id AS id, o.[CUSTOMER], o.[FINAL FOB (USD)] AS fob, CAST(o.[ORDER QTY] AS INT) AS qty,"
                " CAST(NULL AS DATETIME2) AS taken, CAST(o.notes AS NVARCHAR(40)) AS short_note, 'abc' AS lit,"
                " N'xy' AS nlit, 7 AS seven, NULL AS nothing\n"
                "INTO dbo.Copy FROM dbo.Orders AS o WHERE o.[ORDER QTY] > 5;")
    table = sandbox.catalog().table("Copy")
    assert table is not None
    assert [(c.name, c.type_text, c.nullable) for c in table.columns] == [
        ("id", "int", False), ("CUSTOMER", "nvarchar(50)", False), ("fob", "decimal(18,4)", True),
        ("qty", "int", True), ("taken", "datetime2", True), ("short_note", "nvarchar(40)", True),
        ("lit", "varchar(3)", True), ("nlit", "nvarchar(2)", True), ("seven", "int", True), ("nothing", "int", True),
    ]
    assert not table.column("id").identity  # type: ignore[union-attr]
    assert sandbox.execute("SELECT id, [CUSTOMER] FROM dbo.Copy ORDER BY id") == [(1, "GREYSON"), (3, "greyson")]


def test_select_star_into_and_empty_copy(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "SELECT * INTO dbo.Empty FROM dbo.Orders WHERE 1 = 0; PRINT @@ROWCOUNT;")
    assert [m.text for m in result.messages] == ["0"]
    source, copy = sandbox.catalog().table("Orders"), sandbox.catalog().table("Empty")
    assert source is not None and copy is not None
    assert [(c.name, c.type_text) for c in copy.columns] == [(c.name, c.type_text) for c in source.columns]
    assert copy.indexes == () and all(c.default is None for c in copy.columns)


def test_select_into_an_existing_table_fails(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "SELECT 1 AS n INTO dbo.Orders;").number == 2714


def test_temp_tables_live_until_the_script_ends(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "CREATE TABLE #work (n INT NOT NULL, label NVARCHAR(10));\n"
                         "INSERT INTO #work VALUES (1, N'a'), (2, N'B');\nGO\n"
                         "SELECT [CUSTOMER] AS c INTO #names FROM dbo.Orders;\n"
                         "SELECT COUNT(*) AS n FROM #work JOIN #names ON 1 = 1 WHERE label = 'b';\n"
                         "DROP TABLE #names;")
    assert result.result_sets[0].rows == [(3,)]
    assert sandbox.catalog().table("#work") is None  # never part of the catalog
    error = failure(sandbox, "SELECT * FROM #work;")
    assert error.number == 208 and "#work" in error.message
    ok(sandbox, "CREATE TABLE #work (n INT);")  # the name is free again


def test_temp_table_twice_fails(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "CREATE TABLE #t (n INT);\nCREATE TABLE #t (n INT);").number == 2714


def test_truncate_table(sandbox: SandboxTarget) -> None:
    ok(sandbox, "TRUNCATE TABLE dbo.Orders;")
    assert sandbox.execute("SELECT COUNT(*) FROM dbo.Orders") == [(0,)]


def test_an_index_on_a_temp_table_is_created_and_checked_as_sql_server_does(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "CREATE TABLE #w (a INT, b INT);\nCREATE INDEX IX_a ON #w (a);\n"
                         "CREATE TABLE #v (a INT);\nCREATE INDEX IX_a ON #v (a);\n"  # index names are per table
                         "INSERT INTO #w VALUES (1, 2), (1, 3);\nSELECT COUNT(*) FROM #w WHERE a = 1;")
    assert result.result_sets[0].rows == [(2,)]
    assert failure(sandbox, "CREATE TABLE #x (a INT);\nCREATE INDEX IX_a ON #x (a);\n"
                            "CREATE INDEX ix_A ON #x (a);").number == 1913
    assert failure(sandbox, "CREATE TABLE #y (a INT);\nCREATE INDEX IX_b ON #y (b);").number == 1911
    assert failure(sandbox, "CREATE INDEX IX_a ON #missing (a);").number == 1088
    refused = failure(sandbox, "CREATE TABLE #z (a INT);\nCREATE UNIQUE INDEX UX_a ON #z (a);")
    assert isinstance(refused, UnsupportedConstruct) and "CREATE UNIQUE INDEX on a #temp table" in str(refused)


def test_a_view_reading_a_dropped_view_is_kept_and_fails_only_when_used(sandbox: SandboxTarget) -> None:
    """SQL Server drops a view other views read, keeps those views, and fails them only when they are used
    (208). The sandbox must go on working: its catalog still lists the broken view, and the rest."""
    ok(sandbox, "CREATE VIEW dbo.VA AS SELECT [CUSTOMER] AS c FROM dbo.Orders\nGO\n"
                "CREATE VIEW dbo.VB AS SELECT c FROM dbo.VA\nGO\nDROP VIEW dbo.VA\nGO\n")
    catalog = sandbox.catalog()
    assert catalog.table("dbo.Orders") is not None and "dbo.vb" in catalog.views
    assert failure(sandbox, "SELECT c FROM dbo.VB").number == 208
    ok(sandbox, "CREATE VIEW dbo.VA AS SELECT [CUSTOMER] AS c FROM dbo.Orders\nGO\n")  # mended: VB works again
    assert ok(sandbox, "SELECT COUNT(*) FROM dbo.VB").result_sets[0].rows == [(3,)]
    ok(sandbox, "DROP VIEW dbo.VA\nGO\nDROP VIEW dbo.VB\nGO\n")
    assert "dbo.vb" not in sandbox.catalog().views
