"""How T-SQL maps onto SQLite in the embedded runner: types, defaults and functions as tables.

Differences are data, in the sqlglot manner: a T-SQL construct the subset supports appears in one
of these tables, and anything absent from them is rejected as outside the subset.
"""

from __future__ import annotations

import re
import socket

from .. import sqltypes

# -- types -----------------------------------------------------------------------------------------
# SQL Server's type vocabulary lives in pytest_opus/sqltypes.py; these are the sandbox's views of it.
#: T-SQL types the sandbox stores. SQLite keeps the declared type text verbatim, so the catalog can
#: report it back exactly; only MAX is spelled -1 (SQLite type arguments must be numbers).
SUPPORTED_TYPES = {
    *sqltypes.WHOLE_NUMBERS, *sqltypes.DECIMALS, "money", *sqltypes.APPROXIMATE, *sqltypes.STRINGS,
    *sqltypes.DATE_TIME, "uniqueidentifier", "varbinary", "binary",
}
#: the types whose values SQLite compares as text (NOCASE applies to the strings among them)
CHARACTER_TYPES = {*sqltypes.STRINGS, "binary", "varbinary"}
INTEGER_TYPES = set(sqltypes.WHOLE_NUMBERS)
INTEGER_RANGES = sqltypes.INTEGER_RANGES
EXACT_NUMERIC_TYPES = set(sqltypes.DECIMALS)
#: the type an IDENTITY primary key has in SQLite (only this exact spelling makes a rowid alias)
IDENTITY_STORAGE_TYPE = "INTEGER"
#: marks an identity column whose T-SQL type is not int, inside the stored CREATE TABLE text
IDENTITY_MARKER = re.compile(r"/\*opus:(\w+)\*/")


def parse_type(text: str) -> tuple[str, int | None, int | None, int | None]:
    """`NVARCHAR(-1)` / `nvarchar(max)` / `DECIMAL(18,4)` -> (name, max_length, precision, scale): the parts
    of sqltypes.read_type, for the callers that unpack them."""
    declared = sqltypes.read_type(text)
    return declared.name, declared.length, declared.precision, declared.scale


def storage_type(tsql_type: str) -> str:
    """The declared type SQLite stores for a T-SQL type: the same text, MAX spelled -1."""
    return sqltypes.read_type(tsql_type).storage_text


def col_length(data_type: str, max_length: int | None, precision: int | None) -> int:
    """COL_LENGTH: the column's size in bytes, as SQL Server reports it (-1 for MAX)."""
    if max_length is not None:
        return -1 if max_length == -1 else max_length * sqltypes.BYTES_PER_CHARACTER.get(data_type, 1)
    if data_type in sqltypes.DECIMALS:
        return sqltypes.decimal_storage_bytes(precision or sqltypes.DEFAULT_PRECISION)
    return sqltypes.STORAGE_BYTES.get(data_type, 8)


# -- defaults --------------------------------------------------------------------------------------
#: T-SQL default functions -> the SQLite expression stored for them. Each SQLite text is distinct,
#: so the catalog can map a stored default back to the T-SQL function that produced it.
DEFAULT_FUNCTIONS = {
    "getutcdate": "strftime('%Y-%m-%d %H:%M:%f','now')",
    "sysutcdatetime": "strftime('%Y-%m-%d %H:%M:%f0000','now')",
    "getdate": "strftime('%Y-%m-%d %H:%M:%f','now','localtime')",
    "sysdatetime": "strftime('%Y-%m-%d %H:%M:%f0000','now','localtime')",
    "current_timestamp": "strftime('%Y-%m-%d %H:%M:%f','now','localtime')",
    "newid": (
        "upper(substr(hex(randomblob(16)),1,8)||'-'||substr(hex(randomblob(16)),1,4)||'-4'||"
        "substr(hex(randomblob(16)),1,3)||'-'||substr('89AB',1+abs(random())%4,1)||"
        "substr(hex(randomblob(16)),1,3)||'-'||substr(hex(randomblob(16)),1,12))"
    ),
    "suser_sname": "'sandbox'",
}
_REVERSE_DEFAULTS = {v: k for k, v in DEFAULT_FUNCTIONS.items() if k != "current_timestamp"}
#: Defaults that are the statement's time: SQL Server evaluates them once per statement, not per row.
TIME_DEFAULTS = frozenset({"getutcdate", "sysutcdatetime", "getdate", "sysdatetime", "current_timestamp"})


def default_to_tsql(sqlite_default: str | None) -> str | None:
    """A stored SQLite default -> its definition text the way SQL Server reports it."""
    if sqlite_default is None:
        return None
    text = sqlite_default.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if text in _REVERSE_DEFAULTS:
        return f"({_REVERSE_DEFAULTS[text]}())"
    if text.upper() == "NULL":
        return "(NULL)"
    if text.startswith("'"):
        return f"({text})"
    if re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
        return f"(({text}))"
    return f"({text})"


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# -- functions -------------------------------------------------------------------------------------
#: T-SQL functions rewritten to SQLite expressions (the argument list is given as {0}, {1}, ...).
FUNCTION_REWRITES = {
    "GETUTCDATE": "strftime('%Y-%m-%d %H:%M:%f','now')",
    "SYSUTCDATETIME": "strftime('%Y-%m-%d %H:%M:%f0000','now')",
    "SYSDATETIME": "strftime('%Y-%m-%d %H:%M:%f0000','now','localtime')",
    "ISJSON": "json_valid({0})",
    "DB_NAME": "'sandbox'",
    "SUSER_SNAME": "'sandbox'",
    "SUSER_NAME": "'sandbox'",
    "ORIGINAL_LOGIN": "'sandbox'",
    "USER_NAME": "'dbo'",
    # the machine the sandbox runs on is the client: HOST_NAME() is the client's name on SQL Server too
    "HOST_NAME": "'" + socket.gethostname().replace("'", "''") + "'",
    "QUOTENAME": "'[' || replace({0}, ']', ']]') || ']'",
    "NCHAR": "char({0})",
    "NEWID": DEFAULT_FUNCTIONS["newid"],
}
#: T-SQL functions sqlglot does not model (it leaves them by name) that SQLite has with the same meaning
SQLITE_FUNCTIONS = {
    "ABS", "AVG", "COALESCE", "COUNT", "IIF", "LOWER", "LTRIM", "MAX", "MIN", "NULLIF", "REPLACE", "ROUND",
    "RTRIM", "SUBSTRING", "SUM", "TRIM", "UPPER", "UNICODE", "CHAR", "SIGN", "ROW_NUMBER", "RANK", "DENSE_RANK",
}
#: T-SQL functions sqlglot parses into its own expression classes (by class name) and renders for
#: SQLite with SQL Server's meaning. A function sqlglot knows but that is absent here (FORMAT,
#: DATEADD, YEAR, REPLICATE, STUFF, ...) is outside the subset: its SQLite rendering would fail or differ.
SQLGLOT_FUNCTIONS = {
    # aggregates and window functions
    "Count", "Sum", "Min", "Max", "Avg", "GroupConcat", "RowNumber", "Rank", "DenseRank",
    # conditionals
    "Coalesce", "Nullif", "If", "Case", "Exists",
    # strings (LEN, LEFT, RIGHT and CONCAT are rewritten by the runner; CHARINDEX without a start)
    "Upper", "Lower", "Trim", "Substring", "Replace", "StrPosition", "Unicode", "Chr", "Length", "Concat",
    # numbers
    "Abs", "Round", "Sign",
    # JSON_VALUE
    "JSONExtractScalar",
}
#: functions the runner answers itself from the catalog or its own state
RUNNER_FUNCTIONS = {
    "OBJECT_ID", "COL_LENGTH", "ERROR_MESSAGE", "ERROR_NUMBER", "ERROR_LINE", "ERROR_SEVERITY",
    "ERROR_STATE", "ERROR_PROCEDURE", "XACT_STATE", "OBJECT_NAME", "SCHEMA_ID", "SCHEMA_NAME",
}
#: system variables (@@NAME) the runner answers
SYSTEM_VARIABLES = {"ROWCOUNT", "TRANCOUNT", "ERROR", "IDENTITY", "VERSION", "SERVERNAME", "SPID"}

#: the catalog views the runner can answer (schema.view -> columns of its snapshot table)
CATALOG_VIEWS: dict[str, tuple[str, ...]] = {
    "information_schema.tables": ("TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE"),
    "information_schema.columns": (
        "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "COLUMN_NAME", "ORDINAL_POSITION",
        "COLUMN_DEFAULT", "IS_NULLABLE", "DATA_TYPE", "CHARACTER_MAXIMUM_LENGTH",
        "NUMERIC_PRECISION", "NUMERIC_SCALE",
    ),
    "information_schema.views": ("TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME"),
    "information_schema.routines": (
        "ROUTINE_CATALOG", "ROUTINE_SCHEMA", "ROUTINE_NAME", "ROUTINE_TYPE", "SPECIFIC_SCHEMA",
        "SPECIFIC_NAME",
    ),
    "information_schema.parameters": (
        "SPECIFIC_SCHEMA", "SPECIFIC_NAME", "ORDINAL_POSITION", "PARAMETER_MODE", "PARAMETER_NAME",
        "DATA_TYPE", "CHARACTER_MAXIMUM_LENGTH",
    ),
    "sys.schemas": ("schema_id", "name"),
    "sys.objects": ("object_id", "name", "schema_id", "parent_object_id", "type", "type_desc"),
    "sys.tables": ("object_id", "name", "schema_id", "type"),
    "sys.views": ("object_id", "name", "schema_id", "type"),
    "sys.procedures": ("object_id", "name", "schema_id", "type"),
    "sys.columns": (
        "object_id", "name", "column_id", "max_length", "precision", "scale", "is_nullable",
        "is_identity", "default_object_id",
    ),
    "sys.indexes": ("object_id", "name", "index_id", "type_desc", "is_unique", "is_primary_key"),
    "sys.index_columns": ("object_id", "index_id", "index_column_id", "column_id", "key_ordinal"),
    "sys.default_constraints": (
        "object_id", "name", "schema_id", "parent_object_id", "parent_column_id", "definition",
        "is_system_named", "type",
    ),
    "sys.check_constraints": ("object_id", "name", "parent_object_id", "definition", "type"),
    # SQL Server's compatibility views, read as `sysobjects` / `dbo.sysobjects` / `sys.sysobjects`
    "sys.sysobjects": ("name", "id", "xtype", "uid", "parent_obj", "type"),
    "sys.syscolumns": ("name", "id", "colid", "length", "prec", "scale", "isnullable"),
}
#: each compatibility view's rows are a catalog view's: (that view, its column for each of theirs)
COMPATIBILITY_VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sys.sysobjects": ("sys.objects", ("name", "object_id", "type", "schema_id", "parent_object_id", "type")),
    "sys.syscolumns": ("sys.columns", ("name", "object_id", "column_id", "max_length", "precision", "scale",
                                       "is_nullable")),
}

#: The types SQL Server gives the catalog views' columns (so that arithmetic and CAST on them follow
#: its rules, arithmetic.py); a column not named here is nvarchar. tests check the names against
#: CATALOG_VIEWS.
_IDS = {"object_id": "int", "schema_id": "int", "type": "char"}
CATALOG_VIEW_TYPES: dict[str, dict[str, str]] = {
    "information_schema.tables": {},
    "information_schema.columns": {"ORDINAL_POSITION": "int", "CHARACTER_MAXIMUM_LENGTH": "int",
                                   "NUMERIC_PRECISION": "tinyint", "NUMERIC_SCALE": "int", "IS_NULLABLE": "varchar"},
    "information_schema.views": {},
    "information_schema.routines": {},
    "information_schema.parameters": {"ORDINAL_POSITION": "int", "CHARACTER_MAXIMUM_LENGTH": "int"},
    "sys.schemas": {"schema_id": "int"},
    "sys.objects": {**_IDS, "parent_object_id": "int"},
    "sys.tables": _IDS,
    "sys.views": _IDS,
    "sys.procedures": _IDS,
    "sys.columns": {"object_id": "int", "column_id": "int", "max_length": "smallint", "precision": "tinyint",
                    "scale": "tinyint", "is_nullable": "bit", "is_identity": "bit", "default_object_id": "int"},
    "sys.indexes": {"object_id": "int", "index_id": "int", "is_unique": "bit", "is_primary_key": "bit"},
    "sys.index_columns": {"object_id": "int", "index_id": "int", "index_column_id": "int", "column_id": "int",
                          "key_ordinal": "tinyint"},
    "sys.default_constraints": {**_IDS, "parent_object_id": "int", "parent_column_id": "int",
                                "is_system_named": "bit"},
    "sys.check_constraints": {"object_id": "int", "parent_object_id": "int", "type": "char"},
    "sys.sysobjects": {"id": "int", "xtype": "char", "uid": "smallint", "parent_obj": "int", "type": "char"},
    "sys.syscolumns": {"id": "int", "colid": "smallint", "length": "smallint", "prec": "smallint", "scale": "int",
                       "isnullable": "int"},
}


def catalog_view_columns(view: str) -> dict[str, str] | None:
    """{lower-case column: base type} of a catalog view ("sys.indexes"), or of its snapshot table
    ("opus_sys_indexes"); None for another name."""
    name = view.lower()
    for known in CATALOG_VIEWS:
        if name in (known, "opus_" + known.replace(".", "_")):
            types = {c.lower(): t for c, t in CATALOG_VIEW_TYPES[known].items()}
            return {c.lower(): types.get(c.lower(), "nvarchar") for c in CATALOG_VIEWS[known]}
    return None
