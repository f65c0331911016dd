"""Suggested T-SQL for each finding, built as sqlglot expressions and rendered for SQL Server.

The statements are advice printed next to a finding; nothing here executes them. sqlglot has no
node for `ADD CONSTRAINT ... DEFAULT ... FOR [column]`, so that one statement is assembled from
sqlglot-rendered pieces; everything else is a full expression tree.
"""

from __future__ import annotations

import re

from sqlglot import exp

from pytest_opus.catalog import Column
from pytest_opus.expectations.model import (
    CheckSpec,
    ColumnSpec,
    IndexSpec,
    ObjectKind,
    PrimaryKeySpec,
    TableSpec,
)
from pytest_opus.expectations.sqltypes import ExpectedDefault, SqlType, parse_expression, parse_type
from pytest_opus.sqltypes import UNICODE

DEPLOY_SCRIPT = "sql/deploy_opus_update_boards.sql"
DIALECT = "tsql"
_NATIONAL_TYPES = frozenset(UNICODE)


def _sql(expression: exp.Expression) -> str:
    return expression.sql(dialect=DIALECT)


def identifier(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def name_identifier(name: str) -> exp.Identifier:
    """A constraint or index name: bare when it is a plain word, bracketed otherwise."""
    return exp.Identifier(this=name, quoted=not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name))


def table_ref(schema: str, name: str) -> exp.Table:
    return exp.Table(this=identifier(name), db=identifier(schema))


def data_type(sql_type: SqlType) -> exp.DataType:
    """The sqlglot type node for a normalised type, spelled the way SQL Server reports it."""
    try:
        built = exp.DataType.build(sql_type.text, dialect=DIALECT)
        # sqlglot renames some types for T-SQL (int -> INTEGER, decimal -> NUMERIC); keep ours so a
        # column created from the fix reports the type the expectation names.
        if parse_type(_sql(built)) == sql_type and _sql(built).split("(")[0].lower() == sql_type.name:
            return built
    except Exception:  # sqlglot does not know every T-SQL type (hierarchyid, ...)
        pass
    return exp.DataType(this=exp.DataType.Type.USERDEFINED, kind=sql_type.text.upper().replace(",", ", "))


def constraint_name(prefix: str, table: str, *parts: str) -> str:
    """A deterministic constraint name (`DF_T_col`), so a fix never creates a system-named one."""
    return "_".join(re.sub(r"\W+", "_", piece).strip("_") for piece in (prefix, table, *parts))


def default_expression(expected: ExpectedDefault, sql_type: SqlType) -> exp.Expression:
    """The parenthesised value of a DEFAULT clause for an expected default."""
    value: exp.Expression
    if expected.kind == "utc_now":
        # datetime2/datetimeoffset hold more precision than getutcdate() delivers.
        value = exp.Anonymous(this="SYSUTCDATETIME" if sql_type.name in ("datetime2", "datetimeoffset")
                              else "GETUTCDATE")
    elif expected.kind == "now":
        value = exp.Anonymous(this="SYSDATETIME") if sql_type.name == "datetime2" else exp.CurrentTimestamp()
    elif expected.kind == "value" and not expected.sql_text:
        value = (exp.National(this=expected.written) if sql_type.name in _NATIONAL_TYPES
                 else exp.Literal.string(expected.written))
    else:
        parsed = parse_expression(expected.written, canonical=False)
        value = parsed if parsed is not None else exp.Var(this=expected.written)
    return exp.Paren(this=value)


def _nullability(nullable: bool) -> exp.ColumnConstraint:
    return exp.ColumnConstraint(kind=exp.NotNullColumnConstraint(allow_null=True) if nullable
                                else exp.NotNullColumnConstraint())


def column_definition(table: str, spec: ColumnSpec) -> exp.ColumnDef:
    """`[c] VARCHAR(50) NULL CONSTRAINT DF_T_c DEFAULT ('x')` from a column expectation."""
    constraints: list[exp.ColumnConstraint] = []
    if spec.identity:
        constraints.append(exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(
            this=False, start=exp.Literal.number(1), increment=exp.Literal.number(1))))
    # Unstated nullability: an identity column cannot be NULL; otherwise SQL Server's own default.
    constraints.append(_nullability(spec.nullable if spec.nullable is not None else not spec.identity))
    if spec.default is not None and spec.default.kind != "none":
        constraints.append(exp.ColumnConstraint(
            this=name_identifier(constraint_name("DF", table, spec.name)),
            kind=exp.DefaultColumnConstraint(this=default_expression(spec.default, spec.type))))
    return exp.ColumnDef(this=identifier(spec.name), kind=data_type(spec.type), constraints=constraints)


def _alter(schema: str, table: str, action: exp.Expression) -> str:
    return _sql(exp.Alter(this=table_ref(schema, table), kind="TABLE", actions=[action]))


def add_column(schema: str, table: str, spec: ColumnSpec) -> str:
    return _alter(schema, table, column_definition(table, spec))


def alter_column(schema: str, table: str, column: str, sql_type: SqlType, nullable: bool) -> str:
    # ALTER COLUMN without NULL/NOT NULL resets a column to NULL, so nullability is always stated.
    return _alter(schema, table, exp.AlterColumn(this=identifier(column), dtype=data_type(sql_type),
                                                 allow_null=nullable))


def drop_constraint(schema: str, table: str, name: str) -> str:
    return _alter(schema, table, exp.Drop(tables=[exp.Table(this=name_identifier(name))], kind="CONSTRAINT"))


def _unnamed_default_note(schema: str, table: str, column: str) -> str:
    return (f"-- look up the name of the default on {schema}.{table}.{column} in sys.default_constraints "
            "and drop it first")


def add_default(schema: str, table: str, column: Column, expected: ExpectedDefault, sql_type: SqlType) -> str:
    """Replace (or create) a column's default constraint with a deterministically named one."""
    steps: list[str] = []
    if column.default is not None:
        steps.append(drop_constraint(schema, table, column.default_name) if column.default_name
                     else _unnamed_default_note(schema, table, column.name))
    if expected.kind != "none":
        name = constraint_name("DF", table, column.name)
        value = _sql(default_expression(expected, sql_type))
        steps.append(f"{_sql(exp.Alter(this=table_ref(schema, table), kind='TABLE', actions=[]))} "
                     f"ADD CONSTRAINT {_sql(name_identifier(name))} "
                     f"DEFAULT {value} FOR {_sql(identifier(column.name))}")
    return ";\n".join(steps)


def drop_column(schema: str, table: str, column: Column) -> str:
    """Drop a column, removing its default constraint first (SQL Server refuses otherwise)."""
    steps: list[str] = []
    if column.default is not None:
        steps.append(drop_constraint(schema, table, column.default_name) if column.default_name
                     else _unnamed_default_note(schema, table, column.name))
    target = exp.Column(this=identifier(column.name))
    steps.append(_alter(schema, table, exp.Drop(tables=[target], kind="COLUMN")))
    return ";\n".join(steps)


def _ordered(columns: tuple[str, ...]) -> list[exp.Ordered]:
    return [exp.Ordered(this=exp.Column(this=identifier(c)), nulls_first=True) for c in columns]


def create_index(schema: str, table: str, spec: IndexSpec, *, replace: bool = False) -> str:
    """CREATE INDEX; `replace` rebuilds an existing index of that name in one statement."""
    params = exp.IndexParameters(columns=_ordered(spec.columns))
    if replace:
        rebuild = exp.Property(this=exp.Var(this="DROP_EXISTING"), value=exp.Var(this="ON"))
        params.set("with_storage", [rebuild])
    index = exp.Index(this=name_identifier(spec.name), table=table_ref(schema, table), params=params)
    return _sql(exp.Create(this=index, kind="INDEX", unique=bool(spec.unique)))


def _unicode_literal(text: str) -> str:
    return "N'" + text.replace("'", "''") + "'"


def rename_index(schema: str, table: str, old: str, new: str) -> str:
    """`EXEC sp_rename N'dbo.T.Old', N'New', N'INDEX'`.

    sp_rename parses its first argument as a multi-part name, so odd parts are bracketed there; the
    new name is taken literally and must not be.
    """
    parts = ".".join(_sql(name_identifier(part)) for part in (schema, table, old))
    return f"EXEC sp_rename {_unicode_literal(parts)}, {_unicode_literal(new)}, N'INDEX'"


def add_primary_key(schema: str, table: str, spec: PrimaryKeySpec, existing: str | None = None) -> str:
    steps = [drop_constraint(schema, table, existing)] if existing else []
    name = spec.name or constraint_name("PK", table)
    constraint = exp.Constraint(this=name_identifier(name),
                                expressions=[exp.PrimaryKey(expressions=_ordered(spec.columns))])
    steps.append(_alter(schema, table, exp.AddConstraint(expressions=[constraint])))
    return ";\n".join(steps)


def add_check(schema: str, table: str, spec: CheckSpec, *, replace: bool = False) -> str | None:
    if spec.definition is None:
        return None
    condition = parse_expression(spec.definition, canonical=False)
    steps = [drop_constraint(schema, table, spec.name)] if replace else []
    if condition is None:
        steps.append(f"ALTER TABLE {_sql(table_ref(schema, table))} ADD CONSTRAINT "
                     f"{_sql(name_identifier(spec.name))} CHECK ({spec.definition})")
    else:
        constraint = exp.Constraint(this=name_identifier(spec.name),
                                    expressions=[exp.CheckColumnConstraint(this=condition)])
        steps.append(_alter(schema, table, exp.AddConstraint(expressions=[constraint])))
    return ";\n".join(steps)


def drop_object(kind: ObjectKind, schema: str, name: str) -> str:
    return _sql(exp.Drop(tables=[table_ref(schema, name)], kind=kind.upper()))


def create_table(spec: TableSpec) -> str:
    """CREATE TABLE (plus its indexes) for a table whose expectation lists every column."""
    body: list[exp.Expression] = [column_definition(spec.name, column) for column in spec.columns]
    if spec.primary_key is not None:
        name = spec.primary_key.name or constraint_name("PK", spec.name)
        body.append(exp.Constraint(this=name_identifier(name),
                                   expressions=[exp.PrimaryKey(expressions=_ordered(spec.primary_key.columns))]))
    statements = [_sql(exp.Create(this=exp.Schema(this=table_ref(spec.schema, spec.name), expressions=body),
                                  kind="TABLE"))]
    statements.extend(create_index(spec.schema, spec.name, index) for index in spec.indexes)
    statements.extend(fix for check in spec.checks if (fix := add_check(spec.schema, spec.name, check)))
    return ";\n".join(statements)


def redeploy(what: str, script: str = DEPLOY_SCRIPT) -> str:
    """The fix for objects the deploy script owns as a whole (views, procedures)."""
    return f"-- re-run {script} (it creates {what})"


def identity_note(schema: str, table: str, column: str, wanted: bool) -> str:
    change = "add IDENTITY to" if wanted else "remove IDENTITY from"
    return (f"-- ALTER COLUMN cannot {change} {schema}.{table}.{column}; rebuild the table "
            "(create the corrected table, copy the rows, swap names)")
