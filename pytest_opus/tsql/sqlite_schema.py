"""The sandbox's catalog: T-SQL tables rendered as SQLite DDL, read back, and rebuilt when altered.

SQLite keeps each table's CREATE text and declared column types verbatim, so T-SQL facts survive in
the real catalog: the declared type (`NVARCHAR(-1)`), named constraints (`CONSTRAINT "DF_x"
DEFAULT ...`), and, for an IDENTITY key that must be spelled INTEGER to auto-increment, a marker
comment with its T-SQL type. The runner writes that text in one regular form (`render_table`) and
reads it back here; nothing is kept in a side table that could disagree with the catalog, except
procedures, which SQLite does not have (they live in `__opus_routines`).
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .. import sqltypes
from ..catalog import Catalog, CheckConstraint, Column, Index, Parameter, Procedure, Table, View
from . import dialect
from .parser import Token, tokenize, unquote

ROUTINES_TABLE = "__opus_routines"
INTERNAL_PREFIX = "__opus_"
SCHEMA = "dbo"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def object_id(name: str, schema: str = SCHEMA) -> int:
    """A stable object id: the same name always gets the same number, in every snapshot."""
    return (zlib.crc32(f"{schema}.{name}".lower().encode()) & 0x3FFFFFFF) + 1


@dataclass
class ColumnModel:
    name: str
    storage_type: str  # the declared type SQLite keeps, e.g. NVARCHAR(-1), INTEGER
    tsql_type: str  # the T-SQL type, e.g. nvarchar(max), bigint
    not_null: bool = False
    default: str | None = None  # SQLite default expression text
    default_name: str | None = None
    identity: bool = False
    pk_name: str | None = None  # an inline PRIMARY KEY (identity columns)
    nocase: bool = False
    checks: list[tuple[str | None, str]] = field(default_factory=list)
    unique: bool = False
    unique_name: str | None = None  # only while a CREATE TABLE is read: a named key becomes a table constraint


@dataclass
class TableModel:
    name: str
    columns: list[ColumnModel]
    primary_key: tuple[str | None, tuple[str, ...]] | None = None  # table-level PK
    checks: list[tuple[str | None, str]] = field(default_factory=list)
    uniques: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)

    def column(self, name: str) -> ColumnModel | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


def render_column(col: ColumnModel) -> str:
    parts = [quote(col.name)]
    if col.identity:
        parts.append(dialect.IDENTITY_STORAGE_TYPE)
        if sqltypes.read_type(col.tsql_type).name != "int":
            parts.append(f"/*opus:{sqltypes.read_type(col.tsql_type).name}*/")
        if col.pk_name:
            parts.append(f"CONSTRAINT {quote(col.pk_name)}")
        parts.append("PRIMARY KEY AUTOINCREMENT")
    else:
        parts.append(col.storage_type)
        if col.pk_name:
            parts.append(f"CONSTRAINT {quote(col.pk_name)} PRIMARY KEY")
    if col.not_null:
        parts.append("NOT NULL")
    if col.nocase:
        parts.append("COLLATE NOCASE")
    if col.unique:
        parts.append("UNIQUE")
    if col.default is not None:
        if col.default_name:
            parts.append(f"CONSTRAINT {quote(col.default_name)}")
        parts.append(f"DEFAULT {col.default}")
    for name, expr in col.checks:
        if name:
            parts.append(f"CONSTRAINT {quote(name)}")
        parts.append(f"CHECK ({expr})")
    return " ".join(parts)


def render_table(table: TableModel, name: str | None = None) -> str:
    items = [render_column(c) for c in table.columns]
    if table.primary_key:
        pk_name, cols = table.primary_key
        prefix = f"CONSTRAINT {quote(pk_name)} " if pk_name else ""
        items.append(f"{prefix}PRIMARY KEY ({', '.join(quote(c) for c in cols)})")
    for uq_name, cols in table.uniques:
        prefix = f"CONSTRAINT {quote(uq_name)} " if uq_name else ""
        items.append(f"{prefix}UNIQUE ({', '.join(quote(c) for c in cols)})")
    for ck_name, expr in table.checks:
        prefix = f"CONSTRAINT {quote(ck_name)} " if ck_name else ""
        items.append(f"{prefix}CHECK ({expr})")
    return f"CREATE TABLE {quote(name or table.name)} ({', '.join(items)})"


# -- reading the stored CREATE TABLE text back -------------------------------------------------------


def _split_items(text: str, tokens: list[Token]) -> list[tuple[str, list[Token]]]:
    """Top-level comma-separated items inside the outer parentheses of CREATE TABLE."""
    open_at = next(i for i, t in enumerate(tokens) if t.text == "(")
    items: list[tuple[str, list[Token]]] = []
    depth = 0
    current: list[Token] = []
    for tok in tokens[open_at + 1 :]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if depth == 0:
                break
            depth -= 1
        if depth == 0 and tok.text == ",":
            items.append((text[current[0].start : current[-1].end], current))
            current = []
        else:
            current.append(tok)
    if current:
        items.append((text[current[0].start : current[-1].end], current))
    return items


def _paren_text(text: str, tokens: list[Token], i: int) -> tuple[str, int]:
    """Text inside the parentheses opening at tokens[i]; returns (text, index after the close)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == "(":
            depth += 1
        elif tokens[j].text == ")":
            depth -= 1
            if depth == 0:
                return text[tokens[i].end : tokens[j].start], j + 1
    return text[tokens[i].end :], len(tokens)


def _name_list(inner: str) -> tuple[str, ...]:
    return tuple(unquote(t.text) for t in tokenize(inner) if t.kind in ("word", "quoted", "bracket"))


_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "DEFAULT", "COLLATE", "CHECK", "UNIQUE",
                     "REFERENCES", "GENERATED", "AS"}


def parse_table_sql(sql: str) -> TableModel:
    """Read a CREATE TABLE text written by `render_table` (or plain SQLite DDL) into a model."""
    tokens = tokenize(sql)
    name_tok = next(t for i, t in enumerate(tokens) if i >= 2 and tokens[i - 1].upper == "TABLE")
    table = TableModel(unquote(name_tok.text), [])
    for item_text, toks in _split_items(sql, tokens):
        first = toks[0].upper
        if first in ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
            cname = None
            i = 0
            if first == "CONSTRAINT":
                cname = unquote(toks[1].text)
                i = 2
            kind = toks[i].upper
            paren = next(j for j in range(i, len(toks)) if toks[j].text == "(")
            inner, _ = _paren_text(item_text, [_shift(t, toks[0].start) for t in toks], paren)
            if kind == "PRIMARY":
                table.primary_key = (cname, _name_list(inner))
            elif kind == "UNIQUE":
                table.uniques.append((cname, _name_list(inner)))
            elif kind == "CHECK":
                table.checks.append((cname, inner.strip()))
            continue
        table.columns.append(_parse_column(item_text, [_shift(t, toks[0].start) for t in toks]))
    return table


def _shift(tok: Token, offset: int) -> Token:
    return Token(tok.kind, tok.text, tok.start - offset, tok.end - offset, tok.line)


def _parse_column(text: str, toks: list[Token]) -> ColumnModel:
    name = unquote(toks[0].text)
    i = 1
    type_start = i
    while i < len(toks) and toks[i].upper not in _CONSTRAINT_WORDS:
        if toks[i].text == "(":
            _, i = _paren_text(text, toks, i)
            continue
        i += 1
    storage = text[toks[type_start].start : toks[i - 1].end] if i > type_start else ""
    col = ColumnModel(name, storage, storage.lower())
    marker = dialect.IDENTITY_MARKER.search(text)
    pending_name: str | None = None
    while i < len(toks):
        word = toks[i].upper
        if word == "CONSTRAINT":
            pending_name = unquote(toks[i + 1].text)
            i += 2
            continue
        if word == "PRIMARY":
            col.pk_name = pending_name or ""
            i += 2
            if i < len(toks) and toks[i].upper in ("ASC", "DESC"):
                i += 1
            if i < len(toks) and toks[i].upper == "AUTOINCREMENT":
                col.identity = True
                i += 1
        elif word == "NOT":
            col.not_null = True
            i += 2
        elif word == "NULL":
            i += 1
        elif word == "COLLATE":
            col.nocase = toks[i + 1].upper == "NOCASE"
            i += 2
        elif word == "UNIQUE":
            col.unique = True
            i += 1
        elif word == "DEFAULT":
            i += 1
            if toks[i].text == "(":
                inner, nxt = _paren_text(text, toks, i)
                col.default = f"({inner})"
                i = nxt
            else:
                start = i
                if toks[i].text in ("-", "+"):
                    i += 1
                i += 1
                col.default = text[toks[start].start : toks[i - 1].end]
            col.default_name = pending_name
        elif word == "CHECK":
            inner, i = _paren_text(text, toks, i + 1)
            col.checks.append((pending_name, inner.strip()))
        else:
            i += 1
            continue
        pending_name = None
    if col.pk_name == "":
        col.pk_name = None
    if col.identity:
        col.tsql_type = marker.group(1).lower() if marker else "int"
    else:
        col.tsql_type = sqltypes.read_type(storage).text if storage else ""
    return col


def type_text(name: str, length: int | None, precision: int | None, scale: int | None) -> str:
    """A type's parts as the catalog writes the type: nvarchar(max), decimal(18,4) (sqltypes.SqlType.text)."""
    return sqltypes.SqlType(name, length, precision, scale).text


# -- the catalog in three queries --------------------------------------------------------------------

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_OBJECTS_QUERY = (
    "SELECT m.type, m.name, m.sql, p.cid, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk "
    "FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' "
    "AND m.name NOT LIKE '!_!_opus!_%' ESCAPE '!' ORDER BY m.name, p.cid"
)
#: when the joined query fails (a view that reads a dropped object cannot be described, and SQLite then
#: fails the whole join), the objects are listed and described one by one
_OBJECT_NAMES_QUERY = (
    "SELECT m.type, m.name, m.sql FROM sqlite_master AS m "
    "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' "
    "AND m.name NOT LIKE '!_!_opus!_%' ESCAPE '!' ORDER BY m.name"
)
_ONE_OBJECT_QUERY = "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid"
_INDEX_QUERY = (
    "SELECT m.name, il.name, il.\"unique\", il.origin, ii.seqno, ii.name, s.sql "
    "FROM sqlite_master AS m JOIN pragma_index_list(m.name) AS il "
    "JOIN pragma_index_info(il.name) AS ii LEFT JOIN sqlite_master AS s ON s.name = il.name "
    "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' "
    "AND m.name NOT LIKE '!_!_opus!_%' ESCAPE '!' ORDER BY m.name, il.name, ii.seqno"
)
ROUTINES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ROUTINES_TABLE} (schema_name TEXT NOT NULL COLLATE NOCASE, "
    "name TEXT NOT NULL COLLATE NOCASE, type TEXT NOT NULL, definition TEXT NOT NULL, "
    "parameters TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (schema_name, name))"
)
#: the routines table is searched by name alone (CREATE OR ALTER, DROP and EXEC of a procedure); its key starts
#: with the schema, so without this index each of them would read every routine
ROUTINES_INDEX_DDL = f"CREATE INDEX IF NOT EXISTS {ROUTINES_TABLE}_name ON {ROUTINES_TABLE} (name)"
_ROUTINES_QUERY = f"SELECT schema_name, name, parameters FROM {ROUTINES_TABLE} ORDER BY name"


@dataclass
class SandboxCatalog:
    """The catalog plus what only the sandbox knows (stored DDL models, routine definitions)."""

    catalog: Catalog
    models: dict[str, TableModel]  # lower table name -> model
    queries: int


def read_catalog(execute: Execute, *, routines: bool = True) -> SandboxCatalog:
    """Read tables, views, indexes and procedures in at most three queries."""
    columns: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    sql_of: dict[str, str] = {}
    for row in _object_rows(execute, columns):
        kind, name, sql = row[0], row[1], row[2]
        columns.setdefault((kind, name), []).append(row[3:])
        sql_of[name] = sql
    indexes: dict[str, list[tuple[Any, ...]]] = {}
    for row in execute(_INDEX_QUERY, ()):
        indexes.setdefault(row[0].lower(), []).append(row[1:])
    queries = 2
    procedures: list[Procedure] = []
    if routines:
        queries += 1
        for schema_name, name, params_json in execute(_ROUTINES_QUERY, ()):
            params = tuple(
                Parameter(p["name"], i + 1, *_param_type(p["type"]), is_output=bool(p.get("output")))
                for i, p in enumerate(json.loads(params_json))
            )
            procedures.append(Procedure(schema_name, name, params))

    tables: list[Table] = []
    views: list[View] = []
    models: dict[str, TableModel] = {}
    for (kind, name), rows in columns.items():
        if kind == "view":
            views.append(View(SCHEMA, name, tuple(_view_column(r) for r in rows)))
            continue
        model, table = _read_table(name, sql_of[name], tuple(rows), tuple(indexes.get(name.lower(), [])))
        models[name.lower()] = model
        tables.append(table)
    return SandboxCatalog(Catalog.build(tables, views, procedures), models, queries)


def _object_rows(execute: Execute, columns: dict[tuple[str, str], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    """Every table's and view's columns, one row each. A view that reads an object dropped since (SQL
    Server keeps such a view, and fails only when it is used) cannot be described: it is entered in
    `columns` with no columns, and every other object is still read."""
    try:
        return execute(_OBJECTS_QUERY, ())
    except Exception as error:  # the driver's own error class: sqlite3's or pyodbc's
        if "no such" not in str(error).lower():
            raise
    rows: list[tuple[Any, ...]] = []
    for kind, name, sql in execute(_OBJECT_NAMES_QUERY, ()):
        try:
            described = execute(_ONE_OBJECT_QUERY, (name,))
        except Exception as error:
            if kind != "view" or "no such" not in str(error).lower():
                raise
            columns[(kind, name)] = []  # broken: present, its columns unknown until it is fixed
            continue
        rows += [(kind, name, sql, *row) for row in described]
    return rows


@functools.lru_cache(maxsize=512)
def _read_table(name: str, sql: str, rows: tuple[tuple[Any, ...], ...],
                index_rows: tuple[tuple[Any, ...], ...]) -> tuple[TableModel, Table]:
    """One table's model and catalog entry. Cached: guards re-read the catalog after every DDL
    statement, and most tables have not changed. Callers never mutate a model (they `replace` it)."""
    model = parse_table_sql(sql)
    return model, _table(name, model, list(rows), list(index_rows))


def _param_type(type_text: str) -> tuple[str, int | None, int | None, int | None]:
    declared = sqltypes.read_type(type_text)
    return declared.name, declared.length, declared.precision, declared.scale


def _view_column(row: tuple[Any, ...]) -> Column:
    cid, name, decl = row[0], row[1], row[2]
    declared = sqltypes.read_type(decl) if decl else sqltypes.SqlType("")
    return Column(name, cid + 1, declared.name, declared.length, declared.precision, declared.scale, nullable=True)


def _table(name: str, model: TableModel, rows: list[tuple[Any, ...]], index_rows: list[tuple[Any, ...]]) -> Table:
    cols: list[Column] = []
    for cid, col_name, decl, notnull, _dflt, _pk in rows:
        cm = model.column(col_name)
        if cm is None:  # a column SQLite knows but our text reader missed: report what SQLite says
            cm = ColumnModel(col_name, decl, decl.lower(), bool(notnull))
        declared = sqltypes.read_type(cm.tsql_type)
        cols.append(
            Column(
                col_name, cid + 1, declared.name, declared.length, declared.precision, declared.scale,
                nullable=not (notnull or cm.identity or cm.pk_name is not None),
                default=dialect.default_to_tsql(cm.default),
                default_name=cm.default_name
                or (system_default_name(name, col_name) if cm.default is not None else None),
                identity=cm.identity,
            )
        )
    idx: dict[str, dict[str, Any]] = {}
    for index_name, unique, origin, _seq, col_name, _sql in index_rows:
        entry = idx.setdefault(index_name, {"unique": bool(unique), "origin": origin, "cols": []})
        entry["cols"].append(col_name)
    result: list[Index] = []
    for index_name, entry in idx.items():
        if entry["origin"] == "pk":
            pk_name = (model.primary_key[0] if model.primary_key else None) or next(
                (c.pk_name for c in model.columns if c.pk_name), None
            )
            result.append(Index(pk_name or f"PK_{name}", tuple(entry["cols"]), True, True))
        elif entry["origin"] == "u":
            uq = next((n for n, c in model.uniques if tuple(x.lower() for x in c) ==
                       tuple(x.lower() for x in entry["cols"])), None)
            if uq is None and index_name.startswith("sqlite_autoindex_"):  # an unnamed UNIQUE: a system name
                uq = system_key_name("UQ", name, entry["cols"])
            result.append(Index(uq or index_name, tuple(entry["cols"]), True, False))
        else:
            result.append(Index(index_name, tuple(entry["cols"]), entry["unique"], False))
    identity = next((c for c in model.columns if c.identity), None)
    if identity is not None:  # an INTEGER PRIMARY KEY is the rowid: SQLite lists no index for it
        result.append(Index(identity.pk_name or f"PK_{name}", (identity.name,), True, True))
    checks = [CheckConstraint(n or system_check_name(name, None, e), e) for n, e in model.checks]
    for c in model.columns:
        checks.extend(CheckConstraint(n or system_check_name(name, c.name, e), e) for n, e in c.checks)
    result.sort(key=lambda i: (not i.primary_key, i.name.lower()))
    return Table(SCHEMA, name, tuple(cols), tuple(result), tuple(checks))


# -- objects by name (OBJECT_ID) and the catalog views -----------------------------------------------


def object_types(snapshot: SandboxCatalog) -> dict[str, set[str]]:
    """Every object name (lower case) -> its SQL Server object type codes (U, V, P, PK, D, C, UQ)."""
    found: dict[str, set[str]] = {}
    for table in snapshot.catalog.tables.values():
        found.setdefault(table.name.lower(), set()).add("U")
        for index in table.indexes:
            if index.primary_key:
                found.setdefault(index.name.lower(), set()).add("PK")
        for column in table.columns:
            if column.default_name:
                found.setdefault(column.default_name.lower(), set()).add("D")
        for check in table.checks:
            found.setdefault(check.name.lower(), set()).add("C")
    for view in snapshot.catalog.views.values():
        found.setdefault(view.name.lower(), set()).add("V")
    for proc in snapshot.catalog.procedures.values():
        found.setdefault(proc.name.lower(), set()).add("P")
    return found


def catalog_view_rows(view: str, snapshot: SandboxCatalog) -> list[tuple[Any, ...]]:
    """Rows of one emulated catalog view (`information_schema.columns`, `sys.indexes`, ...)."""
    cat = snapshot.catalog
    tables = sorted(cat.tables.values(), key=lambda t: t.name.lower())
    views = sorted(cat.views.values(), key=lambda v: v.name.lower())
    procs = sorted(cat.procedures.values(), key=lambda p: p.name.lower())
    schema_id = 1
    rows: list[tuple[Any, ...]] = []
    if view == "information_schema.tables":
        rows = [("sandbox", SCHEMA, t.name, "BASE TABLE") for t in tables]
        rows += [("sandbox", SCHEMA, v.name, "VIEW") for v in views]
    elif view == "information_schema.columns":
        relations: list[Table | View] = [*tables, *views]
        for obj in relations:
            for c in obj.columns:
                rows.append((
                    "sandbox", SCHEMA, obj.name, c.name, c.ordinal, c.default,
                    "YES" if c.nullable else "NO", c.data_type, c.max_length,
                    c.precision if c.precision is not None else sqltypes.INTEGER_DIGITS.get(c.data_type),
                    c.scale if c.scale is not None else (0 if c.data_type in sqltypes.WHOLE_NUMBERS else None),
                ))
    elif view == "information_schema.views":
        rows = [("sandbox", SCHEMA, v.name) for v in views]
    elif view == "information_schema.routines":
        rows = [("sandbox", SCHEMA, p.name, "PROCEDURE", SCHEMA, p.name) for p in procs]
    elif view == "information_schema.parameters":
        for p in procs:
            for prm in p.parameters:
                rows.append((SCHEMA, p.name, prm.ordinal, "INOUT" if prm.is_output else "IN", prm.name,
                             prm.data_type, prm.max_length))
    elif view == "sys.schemas":
        rows = [(schema_id, SCHEMA)]
    elif view in ("sys.objects", "sys.tables", "sys.views", "sys.procedures"):
        objs: list[tuple[Any, ...]] = []
        for t in tables:
            objs.append((object_id(t.name), t.name, schema_id, 0, "U", "USER_TABLE"))
            for i in t.indexes:
                if i.primary_key:
                    objs.append((object_id(i.name), i.name, schema_id, object_id(t.name), "PK",
                                 "PRIMARY_KEY_CONSTRAINT"))
            for c in t.columns:
                if c.default_name:
                    objs.append((object_id(c.default_name), c.default_name, schema_id, object_id(t.name),
                                 "D", "DEFAULT_CONSTRAINT"))
            for ck in t.checks:
                objs.append((object_id(ck.name), ck.name, schema_id, object_id(t.name), "C",
                             "CHECK_CONSTRAINT"))
        objs += [(object_id(v.name), v.name, schema_id, 0, "V", "VIEW") for v in views]
        objs += [(object_id(p.name), p.name, schema_id, 0, "P", "SQL_STORED_PROCEDURE") for p in procs]
        wanted = {"sys.tables": "U", "sys.views": "V", "sys.procedures": "P"}.get(view)
        if view == "sys.objects":
            rows = objs
        else:
            rows = [(o[0], o[1], o[2], o[4]) for o in objs if o[4] == wanted]
    elif view == "sys.columns":
        relations = [*tables, *views]
        for obj in relations:
            for c in obj.columns:
                rows.append((
                    object_id(obj.name), c.name, c.ordinal,
                    dialect.col_length(c.data_type, c.max_length, c.precision),
                    c.precision or sqltypes.INTEGER_DIGITS.get(c.data_type) or 0, c.scale or 0,
                    int(c.nullable), int(c.identity),
                    object_id(c.default_name) if c.default_name else 0,
                ))
    elif view in ("sys.indexes", "sys.index_columns"):
        for t in tables:
            for n, i in enumerate(t.indexes, start=1):
                if view == "sys.indexes":
                    rows.append((object_id(t.name), i.name, n,
                                 "CLUSTERED" if i.primary_key else "NONCLUSTERED", int(i.unique),
                                 int(i.primary_key)))
                else:
                    for k, col in enumerate(i.columns, start=1):
                        found = t.column(col)
                        rows.append((object_id(t.name), n, k, found.ordinal if found else 0, k))
    elif view == "sys.default_constraints":
        for t in tables:
            for c in t.columns:
                if c.default_name is not None:
                    system = c.default_name == system_default_name(t.name, c.name)
                    rows.append((object_id(c.default_name), c.default_name, schema_id, object_id(t.name),
                                 c.ordinal, c.default, int(system), "D"))
    elif view == "sys.check_constraints":
        for t in tables:
            for ck in t.checks:
                rows.append((object_id(ck.name), ck.name, object_id(t.name), f"({ck.definition})", "C"))
    return rows


def system_default_name(table: str, column: str) -> str:
    """The name an unnamed default gets, shaped like SQL Server's system names (DF__table__col__hex)."""
    return f"DF__{table[:9]}__{column[:5]}__{object_id(table + '.' + column):08X}"


def system_check_name(table: str, column: str | None, definition: str) -> str:
    """The name an unnamed CHECK gets, shaped like SQL Server's system names: CK__table__col__hex for a
    column's CHECK, CK__table__hex for a table's. SQL Server's suffix is the constraint's object id in
    hex; the sandbox's is a hash of table and definition, so the same script gives the same name."""
    middle = f"__{column[:5]}" if column else ""
    return f"CK__{table[:9]}{middle}__{object_id(table + '.' + definition):08X}"


def system_key_name(prefix: str, table: str, columns: Sequence[str]) -> str:
    """The name an unnamed UNIQUE key gets, shaped like SQL Server's (UQ__table__hex); SQL Server's
    suffix is an object id, the sandbox's a hash of table and columns (stable from run to run)."""
    return f"{prefix}__{table[:9]}__{object_id(table + '.' + ','.join(columns)):08X}"


def read_temp_table(execute: Execute, name: str) -> tuple[Table, TableModel] | None:
    """A #temp table (or a table variable's #temp table) as `read_catalog` reads a table: its columns,
    keys, unique indexes (created as `#T.IX_name`, see schema_changes) and CHECKs, and its model; None
    when there is no such table in SQLite's temp schema."""
    found = execute("SELECT name, sql FROM sqlite_temp_master WHERE type = 'table' AND name = ?", (name,))
    if not found:
        return None
    name, sql = found[0]
    rows = execute("SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?, 'temp')", (name,))
    index_rows = [
        (index_name.removeprefix(name + "."), *rest)
        for index_name, *rest in execute(
            "SELECT il.name, il.\"unique\", il.origin, ii.seqno, ii.name, NULL FROM pragma_index_list(?, 'temp') AS il "
            "JOIN pragma_index_info(il.name, 'temp') AS ii ORDER BY il.name, ii.seqno", (name,))
    ]
    model = parse_table_sql(sql)
    return _table(name, model, [tuple(r) for r in rows], index_rows), model


def without_default(model: TableModel, constraint: str) -> TableModel | None:
    """The model with the named default constraint removed, or None when no column has it."""
    lowered = constraint.lower()
    for col in model.columns:
        name = col.default_name or (
            system_default_name(model.name, col.name) if col.default is not None else None
        )
        if name and name.lower() == lowered:
            cols = [replace(c, default=None, default_name=None) if c is col else c for c in model.columns]
            return replace(model, columns=cols)
    return None


def quote_list(names: Sequence[str]) -> str:
    return ", ".join(quote(n) for n in names)


# -- values as stored ------------------------------------------------------------------------------
#: SQL Server's integer ranges, and bit's.
_RANGES = {**sqltypes.INTEGER_RANGES, "bit": (0, 1)}


def stored_value_fits(value: str, column: Column) -> str | None:
    """A SQLite condition true when the stored `value` is one SQL Server could hold in `column`'s type,
    as the staging converters read it; None for types it does not check.

    Integers: integer storage in range. Decimals: a number with at most `scale` decimals and room
    for its integer digits, which 15 significant digits (what json_object writes) give back exactly.
    Text: text of at most `n` UTF-16 units (a character outside the BMP counts two: checked by
    bytes when there is one). Dates: a real `YYYY-MM-DD` day from year 1.
    """
    kind = column.data_type
    ok = f"{value} IS NULL OR "
    if kind == "bigint":  # SQLite's integers are 64-bit: the storage class is the whole check
        return ok + f"typeof({value}) = 'integer'"
    if kind in _RANGES:
        low, high = _RANGES[kind]
        return ok + f"(typeof({value}) = 'integer' AND {value} BETWEEN {low} AND {high})"
    if kind in sqltypes.DECIMALS:
        precision, scale = column.precision or sqltypes.DEFAULT_PRECISION, column.scale or 0
        # Comparisons, not abs(): SQLite's abs() of -2^63 is an "integer overflow" error.
        bound = f"{value} > -1e{precision - scale} AND {value} < 1e{precision - scale}"
        # At most `scale` decimals, as Python's round(v, scale) == v decides, and what json_object
        # writes (15 significant digits) reads back as the same number. Below 10^(15 - scale) both
        # follow from v == round(v * 10^scale) / 10^scale: the product is within 0.25 of a whole
        # number under 2^53, and IEEE division is correctly rounded. Larger values take the slow way.
        slow = f"round({value}, {scale}) = {value} AND CAST(printf('%!.15g', {value}) AS REAL) = {value}"
        fast = (f"{value} > -1e{15 - scale} AND {value} < 1e{15 - scale} "
                f"AND {value} = round({value} * 1e{scale}) / 1e{scale}")
        exact = f"({fast}) OR ({slow})" if scale <= 22 else slow
        return ok + (
            f"(typeof({value}) = 'integer' AND {bound}) OR (typeof({value}) = 'real' AND {bound} AND ({exact}))"
        )
    if kind in sqltypes.STRINGS:
        if column.max_length in (None, -1):
            return ok + f"typeof({value}) = 'text'"
        n = column.max_length
        astral = f"{value} GLOB '*[' || char(65536) || '-' || char(1114111) || ']*'"
        # UTF-8 bytes are never fewer than UTF-16 units, so short text needs no closer look.
        return ok + (
            f"(typeof({value}) = 'text' AND (length(CAST({value} AS BLOB)) <= {n} "
            f"OR (length({value}) <= {n} AND NOT ({astral}))))"
        )
    if kind == "date":
        return ok + f"(typeof({value}) = 'text' AND {value} >= '0001-01-01' AND date({value}, '+0 days') = {value})"
    return None
