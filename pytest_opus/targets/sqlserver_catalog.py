"""SQL Server's catalog in three queries over the sys views, and the assembly of their rows into a Catalog."""

# The queries join every view by object_id and schema_id, and the assembly groups rows by object_id,
# so two tables of the same name in different schemas never mix. The number of queries is fixed: it
# does not grow with the number of objects or of expectations.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from .. import sqltypes
from ..catalog import Catalog, CheckConstraint, Column, Index, Parameter, Procedure, Table, View

# The type name a column or parameter reports: the system type itself, or for an alias type
# (CREATE TYPE ... FROM nvarchar(50)) its base type, as INFORMATION_SCHEMA.COLUMNS does. A CLR type
# has no base row, so its own name is kept.
_TYPE_NAME = "COALESCE(CASE WHEN ut.is_user_defined = 1 THEN bt.name END, ut.name)"

COLUMNS_QUERY = f"""
SELECT o.object_id, s.name, o.name, o.type, c.name, c.column_id, {_TYPE_NAME},
       c.max_length, c.precision, c.scale, c.is_nullable, c.is_identity, dc.definition, dc.name
FROM sys.objects AS o
JOIN sys.schemas AS s ON s.schema_id = o.schema_id
JOIN sys.columns AS c ON c.object_id = o.object_id
JOIN sys.types AS ut ON ut.user_type_id = c.user_type_id
LEFT JOIN sys.types AS bt ON bt.user_type_id = c.system_type_id
LEFT JOIN sys.default_constraints AS dc
       ON dc.object_id = c.default_object_id AND dc.parent_object_id = c.object_id
WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0
ORDER BY o.object_id, c.column_id
"""

# Indexes (key columns in key order) and check constraints of user tables, told apart by `kind`.
CONSTRAINTS_QUERY = """
SELECT 'index' AS kind, o.object_id, i.name, i.index_id, ic.key_ordinal, ic.index_column_id, c.name,
       i.is_unique, i.is_primary_key, CAST(NULL AS nvarchar(max)) AS definition
FROM sys.indexes AS i
JOIN sys.objects AS o ON o.object_id = i.object_id
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE o.type = 'U' AND o.is_ms_shipped = 0 AND i.index_id > 0 AND i.is_hypothetical = 0
  AND ic.is_included_column = 0
UNION ALL
SELECT 'check', o.object_id, cc.name, CAST(NULL AS int), CAST(NULL AS int), CAST(NULL AS int),
       CAST(NULL AS sysname), CAST(NULL AS bit), CAST(NULL AS bit), cc.definition
FROM sys.check_constraints AS cc
JOIN sys.objects AS o ON o.object_id = cc.parent_object_id
WHERE o.type = 'U' AND o.is_ms_shipped = 0
"""

# Every user procedure, with one row per parameter, or a single row of NULLs when it has none.
PARAMETERS_QUERY = f"""
SELECT p.object_id, s.name, p.name, prm.name, prm.parameter_id, {_TYPE_NAME},
       prm.max_length, prm.precision, prm.scale, prm.is_output
FROM sys.procedures AS p
JOIN sys.schemas AS s ON s.schema_id = p.schema_id
LEFT JOIN sys.parameters AS prm ON prm.object_id = p.object_id AND prm.parameter_id > 0
LEFT JOIN sys.types AS ut ON ut.user_type_id = prm.user_type_id
LEFT JOIN sys.types AS bt ON bt.user_type_id = prm.system_type_id
WHERE p.is_ms_shipped = 0
ORDER BY p.object_id, prm.parameter_id
"""

QUERIES = (COLUMNS_QUERY, CONSTRAINTS_QUERY, PARAMETERS_QUERY)


class ColumnRow(NamedTuple):
    """One row of COLUMNS_QUERY, in its column order."""

    object_id: int
    schema: str
    object_name: str
    object_type: str  # "U" (table) or "V" (view); sys.objects pads it to char(2)
    column_name: str
    column_id: int
    type_name: str
    max_length: int  # bytes, as sys.columns stores it; -1 for MAX
    precision: int
    scale: int
    is_nullable: bool
    is_identity: bool
    default_definition: str | None
    default_name: str | None


class ConstraintRow(NamedTuple):
    """One row of CONSTRAINTS_QUERY: an index key column (kind "index") or a check (kind "check")."""

    kind: str
    object_id: int
    name: str
    index_id: int | None
    key_ordinal: int | None
    index_column_id: int | None
    column_name: str | None
    is_unique: bool | None
    is_primary_key: bool | None
    definition: str | None


class ParameterRow(NamedTuple):
    """One row of PARAMETERS_QUERY; the parameter fields are None for a procedure without any."""

    object_id: int
    schema: str
    procedure_name: str
    parameter_name: str | None
    parameter_id: int | None
    type_name: str | None
    max_length: int | None
    precision: int | None
    scale: int | None
    is_output: bool | None


def reported_type(
    type_name: str, max_length: int | None, precision: int | None, scale: int | None
) -> tuple[str, int | None, int | None, int | None]:
    """(type, length in characters or -1 for MAX, precision, scale) as the Catalog reports a type.

    Length is given for character and binary types only, precision and scale for decimal/numeric
    only: sys.columns fills them for every type (int has max_length 4, precision 10), and keeping
    those would make `int` look different from one target to the next. The one exception is the
    scale of datetime2/time/datetimeoffset (digits of a second) when it is not the default 7: a
    `datetime2(0)` column rounds away what a `datetime2` keeps, and staging must know that.
    """
    data_type = type_name.lower()
    length: int | None = None
    # sys.columns gives the length in bytes: two per character for the n-types (INFORMATION_SCHEMA's
    # CHARACTER_MAXIMUM_LENGTH counts characters)
    if data_type in sqltypes.LENGTH_LIMITS and max_length is not None:
        per_character = sqltypes.BYTES_PER_CHARACTER.get(data_type, 1)
        length = max_length // per_character if max_length > 0 else max_length
    if data_type in sqltypes.DECIMALS:
        return data_type, length, precision, scale
    # the digits of a second the time types keep (sys.columns.scale); 7 is what the bare name means, so a
    # column declared without one reads the same on every target
    if data_type in sqltypes.TIME_TYPES and scale is not None and scale != sqltypes.MAX_FRACTIONAL_SECONDS:
        return data_type, length, None, scale
    return data_type, length, None, None


def _column(row: ColumnRow, ordinal: int) -> Column:
    data_type, length, precision, scale = reported_type(
        row.type_name, row.max_length, row.precision, row.scale
    )
    return Column(
        name=row.column_name,
        ordinal=ordinal,
        data_type=data_type,
        max_length=length,
        precision=precision,
        scale=scale,
        nullable=bool(row.is_nullable),
        default=row.default_definition,
        default_name=row.default_name,
        identity=bool(row.is_identity),
    )


def build_catalog(
    columns: Iterable[ColumnRow], constraints: Iterable[ConstraintRow], parameters: Iterable[ParameterRow]
) -> Catalog:
    """Assemble the rows of the three queries into a Catalog, grouping everything by object_id.

    A column's ordinal is its position among the object's current columns (1, 2, ...), not its
    column_id, which keeps the gaps a dropped column leaves behind.
    """
    heads: dict[int, ColumnRow] = {}
    columns_of: dict[int, list[ColumnRow]] = defaultdict(list)
    for row in columns:
        heads.setdefault(row.object_id, row)
        columns_of[row.object_id].append(row)

    index_keys: dict[tuple[int, int], list[ConstraintRow]] = defaultdict(list)
    checks: dict[int, list[CheckConstraint]] = defaultdict(list)
    for con in constraints:
        if con.kind == "check":
            checks[con.object_id].append(CheckConstraint(con.name, con.definition or ""))
        else:
            index_keys[(con.object_id, con.index_id or 0)].append(con)
    indexes: dict[int, list[Index]] = defaultdict(list)
    for (object_id, _), keys in sorted(index_keys.items()):
        keys.sort(key=lambda k: (k.key_ordinal or 0, k.index_column_id or 0))
        first = keys[0]
        indexes[object_id].append(
            Index(
                name=first.name,
                columns=tuple(k.column_name or "" for k in keys),
                unique=bool(first.is_unique),
                primary_key=bool(first.is_primary_key),
            )
        )

    tables: list[Table] = []
    views: list[View] = []
    for object_id, head in heads.items():
        rows = sorted(columns_of[object_id], key=lambda r: r.column_id)
        cols = tuple(_column(row, ordinal) for ordinal, row in enumerate(rows, 1))
        if head.object_type.strip().upper() == "V":
            views.append(View(head.schema, head.object_name, cols))
        else:
            tables.append(
                Table(
                    head.schema,
                    head.object_name,
                    cols,
                    indexes=tuple(indexes.get(object_id, ())),
                    checks=tuple(sorted(checks.get(object_id, ()), key=lambda c: c.name.lower())),
                )
            )

    procedure_heads: dict[int, ParameterRow] = {}
    params: dict[int, list[Parameter]] = defaultdict(list)
    for prm in parameters:
        procedure_heads.setdefault(prm.object_id, prm)
        if prm.parameter_name is None or prm.type_name is None:
            continue
        data_type, length, precision, scale = reported_type(
            prm.type_name, prm.max_length, prm.precision, prm.scale
        )
        params[prm.object_id].append(
            Parameter(
                name=prm.parameter_name,
                ordinal=prm.parameter_id or 0,
                data_type=data_type,
                max_length=length,
                precision=precision,
                scale=scale,
                is_output=bool(prm.is_output),
            )
        )
    procedures = [
        Procedure(head.schema, head.procedure_name, tuple(sorted(params[oid], key=lambda p: p.ordinal)))
        for oid, head in procedure_heads.items()
    ]
    return Catalog.build(tables, views, procedures)
