"""The DDL the engine runs: tables, views, indexes, ALTER TABLE, DROP and SELECT ... INTO on SQLite.

SQLite's own ALTER TABLE can add and drop columns but cannot change a column's type, nullability or
default, so those changes rebuild the table (create the new shape, copy the rows, swap, restore the
indexes). Every change checks what SQL Server would check first and raises its error number.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlglot import exp

from ..catalog import Table
from . import dialect
from .ddl import (
    AlterTable,
    DropPlan,
    IndexSpec,
    InlineIndex,
    TableAction,
    index_spec,
    object_name,
    table_model,
    tsql_type,
    view_definition,
)
from .expression_types import is_star
from .expression_types import tsql_type as expression_tsql_type
from .runtime import Frame, TsqlError
from .sqlite_schema import (
    ROUTINES_TABLE,
    ColumnModel,
    TableModel,
    quote,
    render_column,
    render_table,
    without_default,
)
from .translate import NotInSubset, parse_expression, rewrite
from .writes import Source, conversion, insert_sql, literal_type, table_of

if TYPE_CHECKING:
    from .engine import Engine

_UNKNOWN_TYPE = "nvarchar(max)"  # SELECT ... INTO of an expression with no CAST


class SchemaChanges:
    """Runs the engine's DDL statements against its connection and keeps its catalog snapshot current."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.driver = engine.driver

    # -- helpers ---------------------------------------------------------------------------------------
    def require_absent(self, name: str) -> None:
        if self.engine.object_id(name) is not None:
            raise TsqlError(2714, f"There is already an object named '{name}' in the database.")

    def temp_exists(self, name: str) -> bool:
        return bool(self.driver.query("SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?",
                                      [name]))

    def model(self, table: str) -> TableModel:
        return self.engine.catalog().models[table.lower()]

    def changed(self, *created: str) -> None:
        """See Engine.changed: name the objects a CREATE made, so that only they are read again."""
        self.engine.changed(*created)

    # -- CREATE / DROP -----------------------------------------------------------------------------------
    def create_table(self, tree: exp.Create, indexes: list[InlineIndex] | None = None) -> None:
        model = table_model(tree)
        for index in indexes or []:  # inline INDEX clauses: checked before anything is created
            for col in index.columns:
                if model.column(col) is None:
                    raise TsqlError(1911, f"Column name '{col}' does not exist in the target table or view.")
        if model.name.startswith("#"):  # a #temp table lives in SQLite's temp schema until the script ends
            if self.temp_exists(model.name):
                raise TsqlError(2714, f"There is already an object named '{model.name}' in the database.")
            self.driver.run(render_table(model).replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            for index in indexes or []:  # SQLite's index names are per schema: made unique per table
                cols = ", ".join(quote(c) for c in index.columns)
                unique = "UNIQUE " if index.unique else ""
                self.driver.run(f"CREATE {unique}INDEX temp.{quote(model.name + '.' + index.name)} "
                                f"ON {quote(model.name)} ({cols})")
            self.changed(model.name)  # not in the catalog, but translations of statements that name it change
            return
        self.require_absent(model.name)
        for name in [c.default_name for c in model.columns] + [c.pk_name for c in model.columns]:
            if name:
                self.require_absent(name)
        self.driver.run(render_table(model))
        self.changed(model.name)
        for index in indexes or []:
            self.add_index(IndexSpec(index.name, model.name, index.columns, index.unique))

    def create_view(self, tree: exp.Create, mode: str) -> None:
        view = view_definition(tree)
        name = view.name
        exists = self.engine.object_id(name, "V") is not None
        if mode == "CREATE":
            self.require_absent(name)
        elif mode == "ALTER" and not exists:
            raise TsqlError(208, f"Invalid object name '{name}'.")
        if view.select.variables:
            raise TsqlError(4104, "Views cannot use variables or parameters.")
        columns = f" ({', '.join(quote(c) for c in view.columns)})" if view.columns else ""
        if exists:
            self.driver.run(f"DROP VIEW {quote(name)}")
        self.driver.run(f"CREATE VIEW {quote(name)}{columns} AS {view.select.sql}")
        if exists:  # an altered view: the views that read it may have other columns now
            self.changed()
        else:
            self.changed(name)
        try:  # SQLite checks a view's references only when it is used: use it once, like SQL Server would
            self.driver.query(f"SELECT * FROM {quote(name)} LIMIT 0")
        except self.driver.error_types as error:
            raise TsqlError(208, f"view {name}: {self.driver.clean_error(error)}") from None

    def create_index(self, tree: exp.Create) -> None:
        self.add_index(index_spec(tree))

    def add_index(self, spec: IndexSpec) -> None:
        if spec.table.startswith("#"):
            self.add_temp_index(spec)
            return
        table = self.engine.catalog().catalog.table(spec.table)
        if table is None:
            raise TsqlError(1088, f"Cannot find the object \"{spec.table}\" because it does not exist.")
        if table.index(spec.name) is not None:
            raise TsqlError(1913, f"The operation failed because an index or statistics with name "
                            f"'{spec.name}' already exists on table '{spec.table}'.")
        for col in spec.columns:
            if table.column(col) is None:
                raise TsqlError(1911, f"Column name '{col}' does not exist in the target table or view.")
        self.driver.run(spec.sql())
        self.changed(table.name)

    def add_temp_index(self, spec: IndexSpec) -> None:
        """An index on a #temp table, kept in SQLite's temp schema under `<table>.<index>` (SQL Server's
        index names are per table, SQLite's per schema). A UNIQUE one is refused: SQL Server lets its key
        hold one NULL, which SQLite's index would not enforce here."""
        if spec.unique:
            raise NotInSubset("CREATE UNIQUE INDEX on a #temp table")
        if not self.temp_exists(spec.table):
            raise TsqlError(1088, f"Cannot find the object \"{spec.table}\" because it does not exist.")
        stored = f"{spec.table}.{spec.name}"
        if self.driver.query("SELECT 1 FROM sqlite_temp_master WHERE type = 'index' AND name = ? COLLATE NOCASE",
                             [stored]):
            raise TsqlError(1913, f"The operation failed because an index or statistics with name "
                            f"'{spec.name}' already exists on table '{spec.table}'.")
        columns = {str(row[1]).lower() for row in self.driver.query(f"PRAGMA temp.table_info({quote(spec.table)})")}
        for col in spec.columns:
            if col.lower() not in columns:
                raise TsqlError(1911, f"Column name '{col}' does not exist in the target table or view.")
        listed = ", ".join(quote(c) for c in spec.columns)
        self.driver.run(f"CREATE INDEX temp.{quote(stored)} ON {quote(spec.table)} ({listed})")
        self.changed(spec.table)

    def drop_index(self, index: str, table_text: str, if_exists: bool) -> None:
        table = self.engine.catalog().catalog.table(table_text)
        found = table.index(index) if table else None
        if found is None or found.primary_key:
            if if_exists and found is None:
                return
            raise TsqlError(3701, f"Cannot drop the index '{table_text}.{index}', because it does not "
                            "exist or you do not have permission.")
        self.driver.run(f"DROP INDEX {quote(found.name)}")
        self.changed()

    def drop(self, plan: DropPlan) -> None:
        for name in plan.names:
            if plan.kind == "TABLE" and name.startswith("#"):
                if self.temp_exists(name):
                    self.driver.run(f"DROP TABLE temp.{quote(name)}")
                    self.changed(name)
                elif not plan.if_exists:
                    raise TsqlError(3701, f"Cannot drop the table '{name}', because it does not exist or you "
                                    "do not have permission.")
                continue
            code = {"TABLE": "U", "VIEW": "V", "PROCEDURE": "P"}[plan.kind]
            if self.engine.object_id(name, code) is None:
                if plan.if_exists:
                    continue
                raise TsqlError(3701, f"Cannot drop the {plan.kind.lower()} '{name}', because it does not exist "
                                "or you do not have permission.")
            if plan.kind == "PROCEDURE":
                self.driver.run(f"DELETE FROM {ROUTINES_TABLE} WHERE name = ?", [name])
            else:
                self.driver.run(f"DROP {plan.kind} {quote(name)}")
            self.changed()

    def truncate(self, table: str) -> None:
        if self.engine.object_id(table, "U") is None:
            raise TsqlError(4701, f"Cannot find the object \"{table}\" because it does not exist or you do not "
                            "have permissions.")
        self.driver.run(f"DELETE FROM {quote(table)}")
        # TRUNCATE TABLE resets an IDENTITY column to its seed (always 1 in the sandbox); SQLite's
        # AUTOINCREMENT keeps its counter in sqlite_sequence, which exists once a table has used one
        for schema in ("main", "temp"):
            if self.driver.query(f"SELECT 1 FROM {schema}.sqlite_master WHERE name = 'sqlite_sequence'"):
                self.driver.run(f"DELETE FROM {schema}.sqlite_sequence WHERE name = ?", [table])

    # -- ALTER TABLE -------------------------------------------------------------------------------------
    def alter_table(self, plan: AlterTable) -> None:
        if self.engine.object_id(plan.table, "U") is None:
            raise TsqlError(4902, f"Cannot find the object \"{plan.table}\" because it does not exist or you "
                            "do not have permissions.")
        for action in plan.actions:
            model = self.model(plan.table)
            if action.kind == "add":
                assert action.column is not None
                self.add_column(model, action.column)
            elif action.kind == "drop-column":
                self.drop_column(model, action.name, action.if_exists)
            elif action.kind == "drop-constraint":
                self.drop_constraint(model, action.name, action.if_exists)
            elif action.kind in ("add-primary-key", "add-unique"):
                self.add_key(model, action)
            elif action.kind == "add-check":
                self.add_check(model, action)
            elif action.kind == "add-default":
                self.add_default(model, action)
            else:
                self.alter_column(model, action)

    def add_key(self, model: TableModel, action: TableAction) -> None:
        """ADD [CONSTRAINT name] PRIMARY KEY | UNIQUE (columns): SQL Server's checks, then a rebuild."""
        primary = action.kind == "add-primary-key"
        if primary and (model.primary_key is not None or any(c.pk_name is not None for c in model.columns)):
            raise TsqlError(1779, f"Table '{model.name}' already has a primary key defined on it.")
        if action.name:
            self.require_absent(action.name)
        columns = []
        for name in action.columns:
            col = model.column(name)
            if col is None:
                raise TsqlError(1911, f"Column name '{name}' does not exist in the target table or view.")
            if primary and not col.not_null:
                raise TsqlError(8111, f"Cannot define PRIMARY KEY constraint on nullable column in table "
                                f"'{model.name}'.")
            columns.append(col.name)
        keys = ", ".join(quote(c) for c in columns)
        rows = self.driver.query(f"SELECT {keys} FROM {quote(model.name)} GROUP BY {keys} HAVING COUNT(*) > 1 "
                                 "LIMIT 1")
        if rows:
            shown = ", ".join("<NULL>" if v is None else str(v) for v in rows[0])
            index = action.name or f"{'PK' if primary else 'UQ'}__{model.name}"
            raise TsqlError(1505, f"The CREATE UNIQUE INDEX statement terminated because a duplicate key was found "
                            f"for the object name 'dbo.{model.name}' and the index name '{index}'. The duplicate "
                            f"key value is ({shown}).")
        if primary:
            new = replace(model, primary_key=(action.name or None, tuple(columns)))
        else:
            new = replace(model, uniques=[*model.uniques, (action.name or None, tuple(columns))])
        self.rebuild(model, new)
        self.changed()

    def add_check(self, model: TableModel, action: TableAction) -> None:
        """ADD [CONSTRAINT name] CHECK (condition): the existing rows must meet it (error 547)."""
        if action.name:
            self.require_absent(action.name)
        if self.driver.query(f"SELECT 1 FROM {quote(model.name)} WHERE NOT ({action.expression}) LIMIT 1"):
            raise TsqlError(547, f"The ALTER TABLE statement conflicted with the CHECK constraint "
                            f"\"{action.name}\". The conflict occurred in database \"{self.engine.database}\", table "
                            f"\"dbo.{model.name}\".")
        new = replace(model, checks=[*model.checks, (action.name or None, action.expression)])
        self.rebuild(model, new)
        self.changed()

    def add_default(self, model: TableModel, action: TableAction) -> None:
        """ADD [CONSTRAINT name] DEFAULT expr FOR column: existing rows keep their values."""
        col = model.column(action.name)
        if col is None:
            raise TsqlError(1752, f"Column '{action.name}' in table '{model.name}' is invalid for creating a "
                            "default constraint.")
        if col.default is not None:
            raise TsqlError(1781, "Column already has a DEFAULT bound to it.")
        if col.identity:
            raise TsqlError(1754, "Defaults cannot be created on columns with an IDENTITY attribute. Table "
                            f"'{model.name}', column '{col.name}'.")
        if action.constraint:
            self.require_absent(action.constraint)
        changed = replace(col, default=action.expression, default_name=action.constraint)
        self.rebuild(model, replace(model, columns=[changed if c is col else c for c in model.columns]))
        self.changed()

    def add_column(self, model: TableModel, col: ColumnModel) -> None:
        if model.column(col.name) is not None:
            raise TsqlError(2705, f"Column names in each table must be unique. Column name '{col.name}' in "
                            f"table '{model.name}' is specified more than once.")
        if col.default_name:
            self.require_absent(col.default_name)
        has_rows = bool(self.driver.query(f"SELECT 1 FROM {quote(model.name)} LIMIT 1"))
        if col.not_null and col.default is None and has_rows:
            raise TsqlError(4901, "ALTER TABLE only allows columns to be added that can contain nulls, or have a "
                            "DEFAULT definition specified, or the column being added is an identity or timestamp "
                            "column, or alternatively if none of the previous conditions are satisfied the table "
                            f"must be empty to allow addition of this column. Column '{col.name}' cannot be added "
                            f"to non-empty table '{model.name}' because it does not satisfy these conditions.")
        constant = col.default is None or not col.default.startswith("(")
        if (col.not_null and col.default is not None and constant) or (col.default is None and not col.not_null):
            # SQLite's ADD COLUMN does what SQL Server does here: existing rows get NULL, or the constant
            self.driver.run(f"ALTER TABLE {quote(model.name)} ADD COLUMN {render_column(col)}")
        else:
            # A nullable column with a default: SQL Server leaves existing rows NULL, while SQLite would
            # show the default in them; a NOT NULL one with a function default: SQLite refuses. Rebuild,
            # filling existing rows with NULL, or with the default when the column is NOT NULL.
            fill = col.default if col.not_null else None
            new = replace(model, columns=[*model.columns, col])
            self.rebuild(model, new, extra={col.name: fill or "NULL"})
        self.changed()

    def drop_column(self, model: TableModel, column: str, if_exists: bool) -> None:
        col = model.column(column)
        if col is None:
            if if_exists:
                return
            raise TsqlError(4924, f"ALTER TABLE DROP COLUMN failed because column '{column}' does not exist in "
                            f"table '{model.name}'.")
        if len(model.columns) == 1:
            raise TsqlError(4923, f"ALTER TABLE DROP COLUMN failed because '{col.name}' is the only data column in "
                            f"table '{model.name}'. A table must have at least one data column.")
        table = self.engine.catalog().catalog.table(model.name)
        assert table is not None
        dependents = _dependents(table, col.name)
        if dependents:
            details = " ".join(f"The object '{d}' is dependent on column '{col.name}'." for d in dependents)
            raise TsqlError(5074, f"{details} ALTER TABLE DROP COLUMN {col.name} failed because one or more "
                            "objects access this column.")
        if self.driver.query("SELECT 1 FROM sqlite_master WHERE type = 'view' AND instr(lower(sql), ?) LIMIT 1",
                             [model.name.lower()]):
            # SQLite refuses to drop a column a view reads; SQL Server drops it and the view fails when used
            # (207), as a view reading a dropped table does here: rebuild the table, views kept as written
            self.rebuild(model, replace(model, columns=[c for c in model.columns if c is not col]))
        else:
            self.driver.run(f"ALTER TABLE {quote(model.name)} DROP COLUMN {quote(col.name)}")
        self.changed()

    def drop_constraint(self, model: TableModel, constraint: str, if_exists: bool) -> None:
        new = without_default(model, constraint)
        if new is None:
            lowered = constraint.lower()
            if any(n and n.lower() == lowered for n, _ in model.checks):
                new = replace(model, checks=[(n, e) for n, e in model.checks if not (n and n.lower() == lowered)])
            elif any(ck and ck.lower() == lowered for c in model.columns for ck, _ in c.checks):
                cols = [replace(c, checks=[(n, e) for n, e in c.checks if not (n and n.lower() == lowered)])
                        for c in model.columns]
                new = replace(model, columns=cols)
        if new is None:
            if if_exists:
                return
            raise TsqlError(3728, f"'{constraint}' is not a constraint.")
        self.rebuild(model, new)
        self.changed()

    def alter_column(self, model: TableModel, action: TableAction) -> None:
        col = model.column(action.name)
        if col is None:
            raise TsqlError(4924, f"ALTER TABLE ALTER COLUMN failed because column '{action.name}' does not exist "
                            f"in table '{model.name}'.")
        if col.identity or col.pk_name is not None:
            raise NotInSubset("ALTER COLUMN on a key column")
        if action.not_null and self.driver.query(
                f"SELECT 1 FROM {quote(model.name)} WHERE {quote(col.name)} IS NULL LIMIT 1"):
            raise TsqlError(515, f"Cannot insert the value NULL into column '{col.name}', table '{model.name}'; "
                            "column does not allow nulls. UPDATE fails.")
        base = dialect.parse_type(action.new_type)[0]
        changed = replace(col, storage_type=dialect.storage_type(action.new_type), tsql_type=action.new_type,
                          not_null=action.not_null, nocase=base in dialect.CHARACTER_TYPES - {"binary", "varbinary"})
        new = replace(model, columns=[changed if c is col else c for c in model.columns])
        # The rows are converted as SQL Server converts them: longer strings (2628), text that is not a
        # number (245), values out of range, decimals rounded to the new scale (writes.conversion)
        target = next(c for c in table_of(new).columns if c.name == col.name)
        rule = conversion(quote(col.name), target, model.name, Source.of(col.tsql_type))
        self.rebuild(model, new, extra={col.name: f"({rule})"} if rule else None)
        self.changed()

    def rebuild(self, old: TableModel, new: TableModel, extra: dict[str, str] | None = None) -> None:
        """Recreate a table with a new definition, keeping rows and indexes (SQLite's ALTER recipe).

        `extra` gives the SQL that fills a column from the old rows (default: the old column)."""
        extra = extra or {}
        temp = f"__opus_rebuild_{old.name}"
        indexes = self.driver.query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            [old.name],
        )
        self.driver.run(render_table(new, temp))
        targets = [c.name for c in new.columns]
        sources = [extra.get(c.name, quote(c.name)) for c in new.columns]
        self.driver.run(
            f"INSERT INTO {quote(temp)} ({', '.join(quote(t) for t in targets)}) "
            f"SELECT {', '.join(sources)} FROM {quote(old.name)}"
        )
        # the IDENTITY counter (AUTOINCREMENT's row in sqlite_sequence) goes with the old table; SQL Server's
        # current identity value is the table's, whatever the ALTER, so it is carried over
        counter = (self.driver.query("SELECT seq FROM sqlite_sequence WHERE name = ?", [old.name])
                   if any(c.identity for c in old.columns) else [])
        self.driver.run(f"DROP TABLE {quote(old.name)}")
        self.driver.run("PRAGMA legacy_alter_table = ON")  # views naming the table stay as written
        try:
            self.driver.run(f"ALTER TABLE {quote(temp)} RENAME TO {quote(old.name)}")
        finally:
            self.driver.run("PRAGMA legacy_alter_table = OFF")
        if counter and any(c.identity for c in new.columns):  # the old counter is at least the copied rows' max
            self.driver.run("DELETE FROM sqlite_sequence WHERE name = ?", [old.name])
            self.driver.run("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [old.name, counter[0][0]])
        for (sql,) in indexes:
            self.driver.run(sql)

    # -- SELECT ... INTO -------------------------------------------------------------------------------
    def select_into(self, tree: exp.Select, frame: Frame) -> int:
        """Create the table and fill it; returns the number of rows."""
        into = tree.args["into"]
        target = object_name(into.this)
        temporary = target.startswith("#")
        if temporary and self.temp_exists(target):
            raise TsqlError(2714, f"There is already an object named '{target}' in the database.")
        if not temporary:
            self.require_absent(target)
        tree.set("into", None)
        declared = self.projection_types(tree)  # before rewrite() replaces CASTs and columns
        translated = rewrite(tree, self.engine.answers(frame, defer=True))
        self.engine.fill_catalog_views(translated.catalog_views)
        params = self.engine.bound(translated, frame)
        probe = self.driver.run(f"SELECT * FROM ({translated.sql}) LIMIT 0", params)
        names = [d[0] for d in probe.description]
        probe.fetchall()
        if len(declared) != len(names):  # a * in the list: match the source columns by name
            by_name = self._source_columns(tree)
            declared = [by_name.get(n.lower(), (_UNKNOWN_TYPE, False)) for n in names]
        columns = []
        for name, (ttype, not_null) in zip(names, declared, strict=True):
            base = dialect.parse_type(ttype)[0]
            columns.append(ColumnModel(name, dialect.storage_type(ttype), ttype, not_null=not_null,
                                       nocase=base in dialect.CHARACTER_TYPES - {"binary", "varbinary"}))
        ddl = render_table(TableModel(target, columns))
        if temporary:
            ddl = ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1)
        self.driver.run(ddl)
        qualified = f"temp.{quote(target)}" if temporary else quote(target)
        # each value converted to its new column's type as SQL Server converts it (writes.py: a value of a
        # type that fits is copied as it is)
        sources = [Source.of(ttype) for ttype, _ in declared]
        insert = insert_sql(table_of(TableModel(target, columns)), qualified, translated.sql, sources)
        cursor = self.driver.run(insert, params)
        if temporary:
            self.changed(target)
        else:
            self.changed()
        return max(cursor.rowcount, 0)

    def _source_columns(self, tree: exp.Select) -> dict[str, tuple[str, bool]]:
        """Every column of the tables a SELECT reads: lower name -> (type, NOT NULL); first table wins."""
        found: dict[str, tuple[str, bool]] = {}
        for table in self._source_tables(tree).values():
            for c in table.columns:
                found.setdefault(c.name.lower(), (c.type_text, not c.nullable))
        return found

    def _source_tables(self, tree: exp.Select) -> dict[str, Table]:
        """The catalog tables a SELECT reads, by lower alias (and by lower name)."""
        snapshot = self.engine.catalog().catalog
        tables: dict[str, Table] = {}
        for table in tree.find_all(exp.Table):
            found = snapshot.table(table.name)
            if found is not None:
                tables.setdefault(table.alias_or_name.lower(), found)
                tables.setdefault(table.name.lower(), found)
        return tables

    def projection_types(self, tree: exp.Select) -> list[tuple[str, bool]]:
        """(T-SQL type, NOT NULL) of each column SELECT ... INTO creates, as SQL Server derives them:
        a plain column keeps its type and nullability, a CAST gives its type, a literal its own type.
        Anything else becomes nvarchar(max) (write a CAST to choose). Empty when the list has a *."""
        tables = self._source_tables(tree)
        result: list[tuple[str, bool]] = []
        for projection in tree.expressions:
            node = projection.this if isinstance(projection, exp.Alias) else projection
            while isinstance(node, exp.Paren):
                node = node.this
            if is_star(node):
                return []  # resolved by name once the column names are known
            if isinstance(node, exp.Cast):
                result.append((tsql_type(node.to), False))
            elif isinstance(node, exp.Column):
                owners = [tables[node.table.lower()]] if node.table.lower() in tables else list(tables.values())
                column = next((c for t in owners if (c := t.column(node.name)) is not None), None)
                result.append((column.type_text, not column.nullable) if column else (_UNKNOWN_TYPE, False))
            else:
                result.append((_expression_type(node), False))
        return result


def _dependents(table: Table, column: str) -> list[str]:
    """What stops a column from being dropped (SQL Server error 5074): its default, the CHECK constraints
    that read it (its own column CHECK too), indexes and keys on it."""
    found = [i.name for i in table.indexes if any(c.lower() == column.lower() for c in i.columns)]
    found[:0] = [check.name for check in table.checks if column.lower() in _columns_read(check.definition)]
    col = table.column(column)
    if col is not None and col.default_name:
        found.insert(0, col.default_name)
    return found


def _columns_read(definition: str) -> set[str]:
    """The lower-case names of the columns a CHECK's condition reads."""
    try:
        tree = parse_expression(definition)
    except Exception:  # a condition the runner stored but cannot read again: every word might be a column
        return {word.lower() for word in re.findall(r"\w+", definition)}
    return {c.name.lower() for c in tree.find_all(exp.Column)}


#: the types an expression's value has whatever its operands hold (no length, precision or scale to derive)
_WHOLE_TYPES = ("int", "bigint", "smallint", "tinyint", "bit")


def _expression_type(node: exp.Expression) -> str:
    """A literal's type; a whole-number type where the expression's is one without a length or scale to
    derive (`@@ROWCOUNT`, `OBJECT_ID(...)`, `LEN(...)`, `COUNT(*)` are int); nvarchar(max) for others."""
    if not isinstance(node, exp.Literal | exp.National | exp.Null | exp.Neg):
        found = expression_tsql_type(node, None)
        if found in _WHOLE_TYPES:
            return found
    return _literal_type(node)


def _literal_type(node: exp.Expression) -> str:
    """The type SQL Server gives a literal (writes.literal_type; NULL is int); nvarchar(max) for others."""
    if isinstance(node, exp.Null):
        return "int"
    return literal_type(node) or _UNKNOWN_TYPE
