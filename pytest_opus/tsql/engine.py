"""The embedded T-SQL runner: executes the subset on SQLite, over sqlite3 or over ODBC.

It interprets control flow itself (variables, IF, TRY/CATCH, THROW, transactions, procedures,
dynamic SQL) and hands each single statement to sqlglot for transpiling (translate.py, ddl.py).
Statements are never skipped: anything outside the subset raises UnsupportedConstruct with its
line. The engine is independent of how SQLite is reached: it talks to a `Driver`, which wraps a
DB-API connection (Python's sqlite3, or pyodbc with an SQLite ODBC driver).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from ..catalog import split_name
from ..errors import ScriptError, UnsupportedConstruct
from . import dialect
from .ddl import column_model, index_spec, object_name, table_model, tsql_type
from .parser import (
    Block,
    CreateProcedure,
    Declare,
    Exec,
    ExecDynamic,
    If,
    Print,
    Raiserror,
    Return,
    SetVariable,
    Sql,
    Statement,
    Throw,
    Transaction,
    TryCatch,
    While,
    parse_batch,
    unquote,
)
from .sqlite_schema import (
    ROUTINES_DDL,
    ROUTINES_TABLE,
    ColumnModel,
    SandboxCatalog,
    TableModel,
    catalog_view_rows,
    object_id,
    object_types,
    quote,
    read_catalog,
    render_table,
    without_default,
)
from .translate import Answers, NotInSubset, SyntaxProblem, parse_expression, parse_statement, rewrite

Row = tuple[Any, ...]
MAX_LOOP = 1_000_000


class Driver:
    """A DB-API connection to SQLite, plus how to read its errors."""

    def __init__(self, connection: Any, error_types: tuple[type[BaseException], ...],
                 clean_error: Callable[[BaseException], str] = str) -> None:
        self.connection = connection
        self.error_types = error_types
        self.clean_error = clean_error

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.connection.cursor()
        if params:
            cursor.execute(sql, [to_db(p) for p in params])
        else:
            cursor.execute(sql)
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.run(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.connection.cursor()
        cursor.executemany(sql, [[to_db(v) for v in row] for row in rows])
        return cursor


def to_db(value: Any) -> Any:
    """Values SQLite can bind: exact decimals as text, dates as ISO text, GUIDs as text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    return value


class TsqlError(Exception):
    """An error raised while running T-SQL; TRY/CATCH catches it, the script runner reports it."""

    def __init__(self, number: int, message: str, *, severity: int = 16, state: int = 1,
                 line: int | None = None, procedure: str | None = None) -> None:
        super().__init__(message)
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state
        self.line = line
        self.procedure = procedure


class _ReturnSignal(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


_ERROR_NUMBERS = (
    ("no such table", 208), ("no such column", 207), ("UNIQUE constraint failed", 2627),
    ("NOT NULL constraint failed", 515), ("CHECK constraint failed", 547),
    ("already exists", 2714), ("syntax error", 102),
)


@dataclass
class Variable:
    type: str
    value: Any = None


@dataclass
class Frame:
    """Where statements come from: the script itself, a procedure body, or dynamic SQL."""

    variables: dict[str, Variable] = field(default_factory=dict)
    procedure: str | None = None
    line_offset: int = 0


@dataclass
class Output:
    """What a run produced: messages (kind, text, line) and result sets."""

    messages: list[tuple[str, str, int | None]] = field(default_factory=list)
    result_sets: list[tuple[tuple[str, ...], list[Row]]] = field(default_factory=list)


_SET_OPTION = re.compile(r"^\s*SET\s+(\w+)\s+(ON|OFF)\s*;?\s*$", re.IGNORECASE)
_HARMLESS_OPTIONS = {"NOCOUNT", "XACT_ABORT", "ANSI_NULLS", "QUOTED_IDENTIFIER", "ANSI_PADDING",
                     "ANSI_WARNINGS", "ARITHABORT", "CONCAT_NULL_YIELDS_NULL", "NUMERIC_ROUNDABORT"}
_DROP_INDEX = re.compile(
    r"^\s*DROP\s+INDEX\s+(?P<exists>IF\s+EXISTS\s+)?(?P<index>\[[^\]]+\]|\w+)\s+ON\s+(?P<table>[\w\[\]. ]+?)\s*;?\s*$",
    re.IGNORECASE,
)
_ALTER_VIEW = re.compile(r"^\s*ALTER\s+VIEW\b", re.IGNORECASE)
_TRUNCATE = re.compile(r"^\s*TRUNCATE\s+TABLE\s+(?P<table>[\w\[\]. ]+?)\s*;?\s*$", re.IGNORECASE)


class Engine:
    """Runs T-SQL batches and single statements against one SQLite connection."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.trancount = 0
        self.rowcount = 0
        self.last_error = 0
        self.ddl_version = 0
        self._snapshot: SandboxCatalog | None = None
        self._snapshot_version = -1
        self._filled: dict[str, int] = {}
        self._errors: list[TsqlError] = []  # the errors being handled by enclosing CATCH blocks
        self._statement_cache: dict[str, exp.Expression] = {}
        self._dml_cache: dict[str, Any] = {}
        self._procedure_cache: dict[str, CreateProcedure] = {}
        self.output = Output()
        self.on_message: Callable[[str, str, int | None], None] | None = None
        self.source = "<script>"
        self.top_line: int | None = None

    # -- public API ----------------------------------------------------------------------------------
    def run_batch(self, text: str, *, source: str, start_line: int) -> None:
        """Parse and run one GO batch; errors come out as ScriptError with the script line."""
        self.source = source
        try:
            parsed = parse_batch(text, source=source, line_offset=start_line - 1)
        except UnsupportedConstruct:
            raise
        except ScriptError:
            raise
        frame = Frame(line_offset=start_line - 1)
        for statement in parsed.statements:
            self.top_line = statement.line + frame.line_offset
            try:
                self.execute_statement(statement, frame)
            except _ReturnSignal:
                return
            except TsqlError as error:
                self.last_error = error.number
                raise self.script_error(error) from None

    def script_error(self, error: TsqlError) -> ScriptError:
        message = error.message
        if error.procedure:
            message += f" (in {error.procedure}"
            message += f", line {error.line})" if error.line else ")"
        if isinstance(error, _Unsupported):
            return UnsupportedConstruct(error.construct, source=self.source, line=self.top_line)
        return ScriptError(message, source=self.source, line=self.top_line, number=error.number)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[tuple[str, ...], list[Row]]:
        """Run one T-SQL statement from library code, with `?` parameters; returns its last result."""
        text, names = _placeholders_to_variables(sql)
        if len(names) != len(params):
            raise ScriptError(f"statement has {len(names)} parameter marker(s) but {len(params)} value(s) "
                              "were given", source="<statement>")
        frame = Frame({n: Variable("sql_variant", v) for n, v in zip(names, params, strict=True)})
        self.source = "<statement>"
        self.output = Output()
        try:
            parsed = parse_batch(text, source="<statement>")
            for statement in parsed.statements:
                self.top_line = statement.line
                self.execute_statement(statement, frame)
        except _ReturnSignal:
            pass
        except TsqlError as error:
            raise self.script_error(error) from None
        if self.output.result_sets:
            return self.output.result_sets[-1]
        return (), []

    def translate_dml(self, sql: str) -> tuple[str, list[str]]:
        """The SQLite text of a plain DML statement with `?` markers (for executemany and streaming)."""
        cached = self._dml_cache.get(sql)
        if cached is not None:
            return cached
        text, names = _placeholders_to_variables(sql)
        try:
            tree = parse_statement(text)
        except SyntaxProblem as problem:
            raise ScriptError(f"syntax error: {problem}", source="<statement>") from None
        except NotInSubset as construct:
            raise UnsupportedConstruct(str(construct), source="<statement>") from None
        if not isinstance(tree, exp.Select | exp.Insert | exp.Update | exp.Delete | exp.Union):
            raise ScriptError("only SELECT/INSERT/UPDATE/DELETE can be run with many parameter rows",
                              source="<statement>")
        try:
            translated = rewrite(tree, self._answers(Frame()))
        except NotInSubset as construct:
            raise UnsupportedConstruct(str(construct), source="<statement>") from None
        order = [names.index("@" + v) for v in translated.variables]
        result = (translated.sql, [f"{i}" for i in order])
        self._dml_cache[sql] = result
        return result

    def catalog(self, *, fresh: bool = False) -> SandboxCatalog:
        if fresh or self._snapshot is None or self._snapshot_version != self.ddl_version:
            self._snapshot = read_catalog(self._query_plain, routines=True)
            self._snapshot_version = self.ddl_version
        return self._snapshot

    def begin(self) -> None:
        if self.trancount == 0:
            self.driver.run("BEGIN")
        self.trancount += 1

    def commit(self) -> None:
        if self.trancount == 0:
            raise TsqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        if self.trancount == 1:
            self.driver.run("COMMIT")
        self.trancount -= 1

    def rollback(self) -> None:
        if self.trancount == 0:
            raise TsqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        self.driver.run("ROLLBACK")
        self.trancount = 0
        self.changed()  # the catalog may be back to what it was
        self._filled.clear()

    def changed(self) -> None:
        self.ddl_version += 1

    # -- statements ------------------------------------------------------------------------------------
    def execute_statement(self, statement: Statement, frame: Frame) -> None:
        line = statement.line + frame.line_offset
        try:
            self._dispatch(statement, frame)
        except (TsqlError, _ReturnSignal):
            raise
        except NotInSubset as construct:
            raise _Unsupported(str(construct), line, frame.procedure) from None
        except SyntaxProblem as problem:
            raise TsqlError(102, f"syntax error: {problem}", severity=15, line=line,
                            procedure=frame.procedure) from None
        except UnsupportedConstruct as error:
            raise _Unsupported(error.construct, line, frame.procedure) from None
        except ScriptError as error:
            raise TsqlError(102, error.message, severity=15, line=line, procedure=frame.procedure) from None
        except self.driver.error_types as error:
            message = self.driver.clean_error(error)
            number = next((n for text, n in _ERROR_NUMBERS if text in message), 50000)
            raise TsqlError(number, message, line=line, procedure=frame.procedure) from None

    def _dispatch(self, statement: Statement, frame: Frame) -> None:
        if isinstance(statement, Sql):
            self.exec_sql(statement.text, frame)
        elif isinstance(statement, Block):
            for inner in statement.body:
                self.execute_statement(inner, frame)
        elif isinstance(statement, If):
            branch = statement.then if self.condition(statement.condition, frame) else statement.otherwise
            if branch is not None:
                self.execute_statement(branch, frame)
        elif isinstance(statement, While):
            for _ in range(MAX_LOOP):
                if not self.condition(statement.condition, frame):
                    break
                assert statement.body is not None
                self.execute_statement(statement.body, frame)
            else:
                raise TsqlError(50000, f"WHILE loop ran {MAX_LOOP} times; stopped")
        elif isinstance(statement, TryCatch):
            self.try_catch(statement, frame)
        elif isinstance(statement, Declare):
            for name, type_text, expression in statement.items:
                value = self.evaluate(expression, frame) if expression is not None else None
                frame.variables[name.lower()] = Variable(type_text, coerce(type_text, value))
        elif isinstance(statement, SetVariable):
            self.set_variable(statement, frame)
        elif isinstance(statement, Print):
            value = self.evaluate(statement.expression, frame)
            self.message("print", "" if value is None else _text(value), statement.line + frame.line_offset)
            self.rowcount = 0
        elif isinstance(statement, Throw):
            self.throw(statement, frame)
        elif isinstance(statement, Raiserror):
            self.raiserror(statement, frame)
        elif isinstance(statement, Exec):
            self.exec_procedure(statement, frame)
        elif isinstance(statement, ExecDynamic):
            self.exec_dynamic(_text(self.evaluate(statement.expression, frame)), {}, frame)
        elif isinstance(statement, Return):
            value = self.evaluate(statement.expression, frame) if statement.expression else 0
            raise _ReturnSignal(value)
        elif isinstance(statement, Transaction):
            {"BEGIN": self.begin, "COMMIT": self.commit, "ROLLBACK": self.rollback}[statement.action]()
            self.rowcount = 0
        elif isinstance(statement, CreateProcedure):
            self.create_procedure(statement)
        else:  # pragma: no cover - the parser produces only the kinds above
            raise NotInSubset(type(statement).__name__)

    def message(self, kind: str, text: str, line: int | None) -> None:
        self.output.messages.append((kind, text, line))
        if self.on_message is not None:
            self.on_message(kind, text, line)

    def try_catch(self, statement: TryCatch, frame: Frame) -> None:
        try:
            for inner in statement.body:
                self.execute_statement(inner, frame)
        except _Unsupported:
            raise  # outside the subset is never "handled": it is a limit of the sandbox
        except TsqlError as error:
            self.last_error = error.number
            self._errors.append(error)
            try:
                for inner in statement.handler:
                    self.execute_statement(inner, frame)
            finally:
                self._errors.pop()

    def set_variable(self, statement: SetVariable, frame: Frame) -> None:
        variable = self.variable(statement.name, frame)
        value = self.evaluate(statement.expression, frame)
        if statement.operator != "=":
            current = variable.value
            op = statement.operator[0]
            if current is None or value is None:
                value = None
            elif op == "+":
                value = current + value if not isinstance(current, str) else current + _text(value)
            elif op == "-":
                value = current - value
            elif op == "*":
                value = current * value
            else:
                value = current / value
        variable.value = coerce(variable.type, value)
        self.rowcount = 1

    def variable(self, name: str, frame: Frame) -> Variable:
        found = frame.variables.get(name.lower())
        if found is None:
            raise TsqlError(137, f'Must declare the scalar variable "{name}".')
        return found

    def throw(self, statement: Throw, frame: Frame) -> None:
        line = statement.line + frame.line_offset
        if not statement.arguments:
            if not self._errors:
                raise TsqlError(10704, "To rethrow an error, a THROW statement must be used inside a CATCH block.")
            raise self._errors[-1]
        number, message, state = (self.evaluate(a, frame) for a in statement.arguments)
        if not isinstance(number, int) or number < 50000:
            raise TsqlError(35100, f"Error number {number} in the THROW statement is outside the valid range. "
                            "Specify an error number in the valid range of 50000 to 2147483647.")
        raise TsqlError(number, _text(message), severity=16, state=int(state or 1), line=line,
                        procedure=frame.procedure)

    def raiserror(self, statement: Raiserror, frame: Frame) -> None:
        values = [self.evaluate(a, frame) for a in statement.arguments]
        template, severity, state = values[0], values[1], values[2]
        number = 50000
        if isinstance(template, int):
            raise NotInSubset("RAISERROR with a message number (use a message text)")
        message = _printf(_text(template), values[3:])
        severity = int(severity or 0)
        if severity <= 10:
            self.message("info", message, statement.line + frame.line_offset)
            return
        raise TsqlError(number, message, severity=severity, state=int(state or 1),
                        line=statement.line + frame.line_offset, procedure=frame.procedure)

    # -- expressions -------------------------------------------------------------------------------------
    def _answers(self, frame: Frame) -> Answers:
        return Answers(self.system_variable, self.runner_function,
                       lambda name: self.variable("@" + name, frame).value,
                       lambda name: frame.variables[name].type if name in frame.variables else "sql_variant")

    def evaluate(self, expression: str | None, frame: Frame) -> Any:
        if expression is None:
            return None
        tree = self._parsed_expression(expression)
        translated = rewrite(exp.select(tree), self._answers(frame))
        self._fill_catalog_views(translated.catalog_views)
        params = [self.variable("@" + v, frame).value for v in translated.variables]
        rows = self.driver.query(translated.sql, params)
        return rows[0][0] if rows else None

    def condition(self, text: str, frame: Frame) -> bool:
        tree = self._parsed_expression(text)
        case = exp.Case(ifs=[exp.If(this=tree, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        translated = rewrite(exp.select(case), self._answers(frame))
        self._fill_catalog_views(translated.catalog_views)
        params = [self.variable("@" + v, frame).value for v in translated.variables]
        rows = self.driver.query(translated.sql, params)
        return bool(rows and rows[0][0])

    def _parsed_expression(self, text: str) -> exp.Expression:
        key = "expr:" + text
        cached = self._statement_cache.get(key)
        if cached is None:
            cached = parse_expression(text)
            self._statement_cache[key] = cached
        return cached.copy()

    def system_variable(self, name: str) -> Any:
        return {
            "ROWCOUNT": self.rowcount, "TRANCOUNT": self.trancount, "ERROR": self.last_error,
            "IDENTITY": None, "SERVERNAME": "sandbox", "SPID": 1,
            "VERSION": "pytest-opus embedded T-SQL runner on SQLite",
        }.get(name)

    def runner_function(self, name: str, args: list[Any]) -> Any:
        current = self._errors[-1] if self._errors else None
        if name == "ERROR_MESSAGE":
            return current.message if current else None
        if name == "ERROR_NUMBER":
            return current.number if current else None
        if name == "ERROR_LINE":
            return current.line if current else None
        if name == "ERROR_SEVERITY":
            return current.severity if current else None
        if name == "ERROR_STATE":
            return current.state if current else None
        if name == "ERROR_PROCEDURE":
            return current.procedure if current else None
        if name == "XACT_STATE":
            return 1 if self.trancount else 0
        if name == "SCHEMA_ID":
            return 1 if not args or str(args[0]).lower() == "dbo" else None
        if name == "SCHEMA_NAME":
            return "dbo" if not args or args[0] == 1 else None
        if name == "OBJECT_ID":
            return self.object_id(*args)
        if name == "OBJECT_NAME":
            return self.object_name(args[0] if args else None)
        if name == "COL_LENGTH":
            return self.col_length(*args)
        raise NotInSubset(f"function {name}()")

    def object_id(self, name: Any = None, object_type: Any = None, *_: Any) -> int | None:
        if name is None:
            return None
        text = str(name)
        if text.startswith("#") or ".." in text or text.count(".") > 1:
            raise NotInSubset("temporary tables and cross-database names")
        schema, bare = split_name(text)
        if schema.lower() != "dbo":
            return None
        types = object_types(self.catalog()).get(bare.lower())
        if not types:
            return None
        if object_type is not None and str(object_type).strip().upper() not in types:
            return None
        return object_id(bare)

    def object_name(self, oid: Any) -> str | None:
        for name in object_types(self.catalog()):
            if object_id(name) == oid:
                return self._proper_name(name)
        return None

    def _proper_name(self, lowered: str) -> str:
        cat = self.catalog().catalog
        for group in (cat.tables, cat.views, cat.procedures):
            for obj in group.values():
                if obj.name.lower() == lowered:  # type: ignore[attr-defined]
                    return obj.name  # type: ignore[attr-defined,no-any-return]
        return lowered

    def col_length(self, table: Any = None, column: Any = None, *_: Any) -> int | None:
        if table is None or column is None:
            return None
        found = self.catalog().catalog.table(str(table))
        col = found.column(str(column)) if found else None
        if col is None:
            return None
        return dialect.col_length(col.data_type, col.max_length, col.precision)

    def _query_plain(self, sql: str, params: Sequence[Any]) -> list[Row]:
        try:
            return self.driver.query(sql, params)
        except self.driver.error_types as error:
            if ROUTINES_TABLE in sql and "no such table" in self.driver.clean_error(error):
                return []
            raise

    def _fill_catalog_views(self, views: set[str]) -> None:
        for view in views:
            if self._filled.get(view) == self.ddl_version:
                continue
            columns = dialect.CATALOG_VIEWS[view]
            table = "opus_" + view.replace(".", "_")
            cols = ", ".join(f"{quote(c)} COLLATE NOCASE" for c in columns)
            self.driver.run(f"CREATE TEMP TABLE IF NOT EXISTS {quote(table)} ({cols})")
            self.driver.run(f"DELETE FROM temp.{quote(table)}")
            rows = catalog_view_rows(view, self.catalog())
            if rows:
                marks = ", ".join("?" for _ in columns)
                self.driver.run_many(f"INSERT INTO temp.{quote(table)} VALUES ({marks})", rows)
            self._filled[view] = self.ddl_version

    # -- SQL statements ------------------------------------------------------------------------------------
    def _parsed_statement(self, text: str) -> exp.Expression:
        cached = self._statement_cache.get(text)
        if cached is None:
            cached = parse_statement(text)
            self._statement_cache[text] = cached
        return cached.copy()

    def exec_sql(self, text: str, frame: Frame) -> None:
        option = _SET_OPTION.match(text)
        if option:
            if option.group(1).upper() not in _HARMLESS_OPTIONS:
                raise NotInSubset(f"SET {option.group(1).upper()}")
            return
        drop_index = _DROP_INDEX.match(text)
        if drop_index:
            self.drop_index(unquote(drop_index.group("index")), drop_index.group("table"),
                            bool(drop_index.group("exists")))
            return
        truncate = _TRUNCATE.match(text)
        if truncate:
            table = split_name(truncate.group("table").strip())[1]
            self.driver.run(f"DELETE FROM {quote(table)}")
            self.rowcount = 0
            return
        is_alter_view = bool(_ALTER_VIEW.match(text))
        if is_alter_view:
            text = _ALTER_VIEW.sub("CREATE VIEW", text, count=1)
        tree = self._parsed_statement(text)
        if isinstance(tree, exp.Create):
            kind = str(tree.args.get("kind") or "").upper()
            if kind == "TABLE":
                self.create_table(tree)
            elif kind == "VIEW":
                self.create_view(tree, "ALTER" if is_alter_view else
                                 "CREATE OR ALTER" if tree.args.get("replace") else "CREATE")
            elif kind == "INDEX":
                self.create_index(tree)
            else:
                raise NotInSubset(f"CREATE {kind}")
            self.rowcount = 0
        elif isinstance(tree, exp.Alter):
            self.alter_table(tree)
            self.rowcount = 0
        elif isinstance(tree, exp.Drop):
            self.drop(tree)
            self.rowcount = 0
        elif isinstance(tree, exp.Select) and tree.args.get("into") is not None:
            self.select_into(tree, frame)
        elif isinstance(tree, exp.Select | exp.Union | exp.Insert | exp.Update | exp.Delete):
            self.dml(tree, frame)
        else:
            raise NotInSubset(f"{type(tree).__name__.upper()} statement")

    def dml(self, tree: exp.Expression, frame: Frame) -> None:
        if isinstance(tree, exp.Insert | exp.Update | exp.Delete) and tree.args.get("returning") is not None:
            raise NotInSubset("OUTPUT clause")
        translated = rewrite(tree, self._answers(frame))
        self._fill_catalog_views(translated.catalog_views)
        params = [self.variable("@" + v, frame).value for v in translated.variables]
        cursor = self.driver.run(translated.sql, params)
        if cursor.description:
            rows = [tuple(r) for r in cursor.fetchall()]
            if translated.assignments:
                if rows:
                    for name, value in zip(translated.assignments, rows[-1], strict=True):
                        variable = self.variable("@" + name, frame)
                        variable.value = coerce(variable.type, value)
            else:
                columns = tuple(d[0] for d in cursor.description)
                self.output.result_sets.append((columns, rows))
            self.rowcount = len(rows)
        else:
            self.rowcount = max(cursor.rowcount, 0)

    def _require_absent(self, name: str) -> None:
        if self.object_id(name) is not None:
            raise TsqlError(2714, f"There is already an object named '{name}' in the database.")

    def _temp_exists(self, name: str) -> bool:
        return bool(self.driver.query("SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = ?",
                                      [name]))

    def create_table(self, tree: exp.Create) -> None:
        model = table_model(tree)
        if model.name.startswith("#"):  # a #temp table lives in SQLite's temp schema until the script ends
            if self._temp_exists(model.name):
                raise TsqlError(2714, f"There is already an object named '{model.name}' in the database.")
            self.driver.run(render_table(model).replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            return
        self._require_absent(model.name)
        for name in [c.default_name for c in model.columns] + [c.pk_name for c in model.columns]:
            if name:
                self._require_absent(name)
        self.driver.run(render_table(model))
        self.changed()

    def create_view(self, tree: exp.Create, mode: str) -> None:
        name = object_name(tree.this if not isinstance(tree.this, exp.Schema) else tree.this.this)
        select = tree.expression
        if select is None:
            raise SyntaxProblem("CREATE VIEW needs AS SELECT ...")
        exists = self.object_id(name, "V") is not None
        if mode == "CREATE":
            self._require_absent(name)
        elif mode == "ALTER" and not exists:
            raise TsqlError(208, f"Invalid object name '{name}'.")
        translated = rewrite(select, None)
        if translated.variables:
            raise TsqlError(4104, "Views cannot use variables or parameters.")
        columns = ""
        if isinstance(tree.this, exp.Schema):
            columns = " (" + ", ".join(quote(c.name) for c in tree.this.expressions) + ")"
        if exists:
            self.driver.run(f"DROP VIEW {quote(name)}")
        self.driver.run(f"CREATE VIEW {quote(name)}{columns} AS {translated.sql}")
        self.changed()
        try:  # SQLite checks a view's references only when it is used: use it once, like SQL Server would
            self.driver.query(f"SELECT * FROM {quote(name)} LIMIT 0")
        except self.driver.error_types as error:
            raise TsqlError(208, f"view {name}: {self.driver.clean_error(error)}") from None

    def create_index(self, tree: exp.Create) -> None:
        spec = index_spec(tree)
        table = self.catalog().catalog.table(spec.table)
        if table is None:
            raise TsqlError(1088, f"Cannot find the object \"{spec.table}\" because it does not exist.")
        if table.index(spec.name) is not None:
            raise TsqlError(1913, f"The operation failed because an index or statistics with name "
                            f"'{spec.name}' already exists on table '{spec.table}'.")
        for col in spec.columns:
            if table.column(col) is None:
                raise TsqlError(1911, f"Column name '{col}' does not exist in the target table or view.")
        self.driver.run(spec.sql())
        self.changed()

    def drop_index(self, index: str, table_text: str, if_exists: bool) -> None:
        table = self.catalog().catalog.table(table_text.strip())
        found = table.index(index) if table else None
        if found is None or found.primary_key:
            if if_exists and found is None:
                return
            raise TsqlError(3701, f"Cannot drop the index '{table_text.strip()}.{index}', because it does not "
                            "exist or you do not have permission.")
        self.driver.run(f"DROP INDEX {quote(found.name)}")
        self.changed()

    def drop(self, tree: exp.Drop) -> None:
        kind = str(tree.args.get("kind") or "").upper()
        if_exists = bool(tree.args.get("exists"))
        for target in _drop_targets(tree):
            name = object_name(target)
            if kind == "TABLE" and name.startswith("#"):
                if not self._temp_exists(name):
                    if if_exists:
                        continue
                    raise TsqlError(3701, f"Cannot drop the table '{name}', because it does not exist or you "
                                    "do not have permission.")
                self.driver.run(f"DROP TABLE temp.{quote(name)}")
                continue
            if kind in ("TABLE", "VIEW"):
                code = "U" if kind == "TABLE" else "V"
                if self.object_id(name, code) is None:
                    if if_exists:
                        continue
                    raise TsqlError(3701, f"Cannot drop the {kind.lower()} '{name}', because it does not exist "
                                    "or you do not have permission.")
                self.driver.run(f"DROP {kind} {quote(name)}")
            elif kind in ("PROCEDURE", "PROC"):
                if self.object_id(name, "P") is None:
                    if if_exists:
                        continue
                    raise TsqlError(3701, f"Cannot drop the procedure '{name}', because it does not exist "
                                    "or you do not have permission.")
                self.driver.run(f"DELETE FROM {ROUTINES_TABLE} WHERE name = ?", [name])
            else:
                raise NotInSubset(f"DROP {kind}")
            self.changed()

    def alter_table(self, tree: exp.Alter) -> None:
        if str(tree.args.get("kind") or "").upper() != "TABLE":
            raise NotInSubset(f"ALTER {tree.args.get('kind')}")
        name = object_name(tree.this)
        if self.object_id(name, "U") is None:
            raise TsqlError(4902, f"Cannot find the object \"{name}\" because it does not exist or you do not "
                            "have permissions.")
        for action in tree.args.get("actions") or []:
            model = self.catalog().models[name.lower()]
            if isinstance(action, exp.ColumnDef):
                self.add_column(model, column_model(action))
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                for target in _drop_targets(action):
                    self.drop_column(model, target.name, bool(action.args.get("exists")))
                    model = self.catalog().models[name.lower()]
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "CONSTRAINT":
                for target in _drop_targets(action):
                    self.drop_constraint(model, target.name, bool(action.args.get("exists")))
                    model = self.catalog().models[name.lower()]
            elif isinstance(action, exp.AlterColumn):
                self.alter_column(model, action)
            else:
                raise NotInSubset(f"ALTER TABLE {action.sql(dialect='tsql')}")

    def add_column(self, model: TableModel, col: ColumnModel) -> None:
        if model.column(col.name) is not None:
            raise TsqlError(2705, f"Column names in each table must be unique. Column name '{col.name}' in "
                            f"table '{model.name}' is specified more than once.")
        if col.identity or col.pk_name is not None or col.unique:
            raise NotInSubset("adding an IDENTITY, PRIMARY KEY or UNIQUE column")
        if col.default_name:
            self._require_absent(col.default_name)
        has_rows = bool(self.driver.query(f"SELECT 1 FROM {quote(model.name)} LIMIT 1"))
        if col.not_null and col.default is None and has_rows:
            raise TsqlError(4901, "ALTER TABLE only allows columns to be added that can contain nulls, or have a "
                            f"DEFAULT definition specified, or the column being added is an identity or timestamp "
                            f"column, or alternatively if none of the previous conditions are satisfied the table "
                            f"must be empty to allow addition of this column. Column '{col.name}' cannot be added "
                            f"to non-empty table '{model.name}' because it does not satisfy these conditions.")
        constant = col.default is None or not col.default.startswith("(")
        if col.not_null and col.default is not None and constant:
            # SQL Server fills existing rows with the default, as SQLite does for a constant default
            self.driver.run(f"ALTER TABLE {quote(model.name)} ADD COLUMN {_render_column(col)}")
        elif col.default is None and not col.not_null:
            self.driver.run(f"ALTER TABLE {quote(model.name)} ADD COLUMN {_render_column(col)}")
        else:
            # a nullable column with a default: SQL Server leaves existing rows NULL, while SQLite would
            # show the default in them, so rebuild (existing rows get NULL, or the default when NOT NULL)
            fill = "NULL" if not col.not_null else col.default
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
        table = self.catalog().catalog.table(model.name)
        assert table is not None
        dependents = [i.name for i in table.indexes if any(c.lower() == column.lower() for c in i.columns)]
        tcol = table.column(column)
        if tcol is not None and tcol.default_name:
            dependents.insert(0, tcol.default_name)
        if dependents:
            details = " ".join(f"The object '{d}' is dependent on column '{col.name}'." for d in dependents)
            raise TsqlError(5074, f"{details} ALTER TABLE DROP COLUMN {col.name} failed because one or more "
                            "objects access this column.")
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

    def alter_column(self, model: TableModel, action: exp.AlterColumn) -> None:
        col = model.column(action.name)
        if col is None:
            raise TsqlError(4924, f"ALTER TABLE ALTER COLUMN failed because column '{action.name}' does not exist "
                            f"in table '{model.name}'.")
        dtype = action.args.get("dtype")
        if dtype is None or action.args.get("default") is not None:
            raise NotInSubset(f"ALTER COLUMN {action.sql(dialect='tsql')}")
        ttype = tsql_type(dtype)
        allow_null = action.args.get("allow_null")
        not_null = col.not_null if allow_null is None else not allow_null
        if col.identity or col.pk_name is not None:
            raise NotInSubset("ALTER COLUMN on a key column")
        changed = replace(col, storage_type=dialect.storage_type(ttype), tsql_type=ttype, not_null=not_null)
        self.rebuild(model, replace(model, columns=[changed if c is col else c for c in model.columns]))
        self.changed()

    def rebuild(self, old: TableModel, new: TableModel, extra: dict[str, str] | None = None) -> None:
        """Recreate a table with a new definition, keeping rows and indexes (SQLite's ALTER recipe)."""
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
        self.driver.run(f"DROP TABLE {quote(old.name)}")
        self.driver.run("PRAGMA legacy_alter_table = ON")  # views naming the table stay as written
        try:
            self.driver.run(f"ALTER TABLE {quote(temp)} RENAME TO {quote(old.name)}")
        finally:
            self.driver.run("PRAGMA legacy_alter_table = OFF")
        for (sql,) in indexes:
            self.driver.run(sql)

    def select_into(self, tree: exp.Select, frame: Frame) -> None:
        into = tree.args["into"]
        target = object_name(into.this)
        self._require_absent(target)
        tree.set("into", None)
        translated = rewrite(tree, self._answers(frame))
        self._fill_catalog_views(translated.catalog_views)
        params = [self.variable("@" + v, frame).value for v in translated.variables]
        probe = self.driver.run(f"SELECT * FROM ({translated.sql}) LIMIT 0", params)
        names = [d[0] for d in probe.description]
        probe.fetchall()
        types = self._projection_types(tree, names)
        model = TableModel(target, [
            ColumnModel(n, dialect.storage_type(t), t,
                        nocase=dialect.parse_type(t)[0] in dialect.CHARACTER_TYPES)
            for n, t in zip(names, types, strict=True)
        ])
        self.driver.run(render_table(model))
        cursor = self.driver.run(
            f"INSERT INTO {quote(target)} ({', '.join(quote(n) for n in names)}) {translated.sql}", params
        )
        self.rowcount = max(cursor.rowcount, 0)
        self.changed()

    def _projection_types(self, tree: exp.Select, names: list[str]) -> list[str]:
        """Column types for SELECT ... INTO: copied from source columns, or from a CAST."""
        sources: dict[str, str] = {}
        snapshot = self.catalog().catalog
        for table in tree.find_all(exp.Table):
            found = snapshot.table(table.name)
            if found is not None:
                for c in found.columns:
                    sources.setdefault(c.name.lower(), c.type_text)
        casts: dict[str, str] = {}
        for projection in tree.expressions:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(inner, exp.Cast):
                casts[projection.alias_or_name.lower()] = tsql_type(inner.to)
        return [casts.get(n.lower()) or sources.get(n.lower()) or "nvarchar(max)" for n in names]

    # -- procedures and dynamic SQL ----------------------------------------------------------------------
    def create_procedure(self, statement: CreateProcedure) -> None:
        schema, name = split_name(statement.name)
        if schema.lower() != "dbo":
            raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
        exists = self.object_id(name, "P") is not None
        if statement.mode == "CREATE":
            self._require_absent(name)
        elif statement.mode == "ALTER" and not exists:
            raise TsqlError(208, f"Could not find stored procedure '{name}'.")
        parameters = [
            {"name": p.name, "type": _normal_type(p.type), "default": p.default, "output": p.output}
            for p in statement.parameters
        ]
        self.driver.run(ROUTINES_DDL)
        self.driver.run(f"DELETE FROM {ROUTINES_TABLE} WHERE name = ?", [name])
        self.driver.run(
            f"INSERT INTO {ROUTINES_TABLE} (schema_name, name, type, definition, parameters, created) "
            "VALUES ('dbo', ?, 'P', ?, ?, strftime('%Y-%m-%d %H:%M:%f','now'))",
            [name, statement.text, json.dumps(parameters)],
        )
        self.changed()

    def _procedure(self, name: str) -> CreateProcedure:
        schema, bare = split_name(name)
        if schema.lower() != "dbo":
            raise TsqlError(2812, f"Could not find stored procedure '{name}'.")
        rows = self._query_plain(f"SELECT definition FROM {ROUTINES_TABLE} WHERE name = ?", [bare])
        if not rows:
            raise TsqlError(2812, f"Could not find stored procedure '{bare}'.")
        definition = rows[0][0]
        cached = self._procedure_cache.get(definition)
        if cached is None:
            parsed = parse_batch(definition, source=f"procedure {bare}")
            statement = parsed.statements[0]
            assert isinstance(statement, CreateProcedure)
            cached = statement
            self._procedure_cache[definition] = cached
        return cached

    def exec_procedure(self, statement: Exec, frame: Frame) -> None:
        name = ".".join(unquote(p) for p in statement.procedure.split("."))
        if name.lower() in ("sp_executesql", "sys.sp_executesql", "dbo.sp_executesql"):
            self.sp_executesql(statement, frame)
            return
        if name.lower().startswith(("sp_", "sys.", "xp_")):
            raise NotInSubset(f"system procedure {name}")
        procedure = self._procedure(name)
        bound: dict[str, Variable] = {}
        outputs: list[tuple[str, str]] = []
        params = procedure.parameters
        by_name = {p.name.lower(): p for p in params}
        for position, (param_name, expression, output) in enumerate(statement.arguments):
            if param_name is None:
                if position >= len(params):
                    raise TsqlError(8144, f"Procedure or function {procedure.name} has too many arguments "
                                    "specified.")
                target = params[position]
            else:
                found = by_name.get(param_name.lower())
                if found is None:
                    raise TsqlError(8145, f"{param_name} is not a parameter for procedure {procedure.name}.")
                target = found
            value = self.evaluate(expression, frame)
            bound[target.name.lower()] = Variable(target.type, coerce(target.type, value))
            if output and target.output:
                outputs.append((target.name.lower(), expression.strip()))
        for p in params:
            if p.name.lower() not in bound:
                if p.default is None:
                    raise TsqlError(201, f"Procedure or function '{procedure.name}' expects parameter "
                                    f"'{p.name}', which was not supplied.")
                bound[p.name.lower()] = Variable(p.type, coerce(p.type, self.evaluate(p.default, Frame())))
        inner = Frame(bound, procedure=procedure.name, line_offset=procedure.line - 1)
        body_offset = _body_line_offset(procedure)
        inner.line_offset = body_offset
        result: Any = 0
        try:
            for s in procedure.body:
                self.execute_statement(s, inner)
        except _ReturnSignal as signal:
            result = signal.value
        for param, target_expr in outputs:
            if target_expr.startswith("@"):
                self.variable(target_expr, frame).value = bound[param].value
        if statement.result_variable:
            self.variable(statement.result_variable, frame).value = result

    def sp_executesql(self, statement: Exec, frame: Frame) -> None:
        if not statement.arguments:
            raise TsqlError(201, "Procedure 'sp_executesql' expects parameter '@statement'.")
        text = _text(self.evaluate(statement.arguments[0][1], frame))
        bound: dict[str, Variable] = {}
        if len(statement.arguments) > 1:
            declaration = _text(self.evaluate(statement.arguments[1][1], frame))
            declared = parse_batch(f"DECLARE {declaration}", source="sp_executesql parameters").statements
            assert isinstance(declared[0], Declare)
            types = {n.lower(): t for n, t, _ in declared[0].items}
            order = [n.lower() for n, _, _ in declared[0].items]
            for position, (param_name, expression, _out) in enumerate(statement.arguments[2:]):
                key = param_name.lower() if param_name else order[position]
                if key not in types:
                    raise TsqlError(8145, f"{param_name} is not a parameter for procedure sp_executesql.")
                bound[key] = Variable(types[key], coerce(types[key], self.evaluate(expression, frame)))
        self.exec_dynamic(text, bound, frame)

    def exec_dynamic(self, text: str, variables: dict[str, Variable], frame: Frame) -> None:
        parsed = parse_batch(text, source="dynamic SQL")
        inner = Frame(variables, procedure=frame.procedure or "dynamic SQL", line_offset=0)
        try:
            for s in parsed.statements:
                self.execute_statement(s, inner)
        except _ReturnSignal:
            pass


def _drop_targets(drop: exp.Drop) -> list[exp.Expression]:
    """What a DROP names; never empty (an empty list would make the statement a silent no-op)."""
    targets = [t for t in (drop.args.get("tables") or drop.expressions or [drop.this]) if t is not None]
    if not targets:
        raise SyntaxProblem("DROP without an object name")
    return targets


class _Unsupported(TsqlError):
    def __init__(self, construct: str, line: int | None, procedure: str | None) -> None:
        super().__init__(0, f"{construct}: construct not supported by the embedded target",
                         line=line, procedure=procedure)
        self.construct = construct


def _render_column(col: ColumnModel) -> str:
    from .sqlite_schema import render_column

    return render_column(col)


def _body_line_offset(procedure: CreateProcedure) -> int:
    return 0


def _normal_type(text: str) -> str:
    from .sqlite_schema import _type_text  # the catalog's spelling of a type

    return _type_text(*dialect.parse_type(text))


_PLACEHOLDER = re.compile(r"\?")


def _placeholders_to_variables(sql: str) -> tuple[str, list[str]]:
    """Turn ODBC `?` markers (outside strings and comments) into variables @__p0, @__p1, ..."""
    from .parser import tokenize

    names: list[str] = []
    pieces: list[str] = []
    last = 0
    for tok in tokenize(sql):
        if tok.text == "?":
            pieces.append(sql[last:tok.start])
            name = f"@__p{len(names)}"
            pieces.append(name)
            names.append(name.lower())
            last = tok.end
    pieces.append(sql[last:])
    return "".join(pieces), names


def coerce(type_text: str, value: Any) -> Any:
    """Assigning to a typed variable converts the value as SQL Server would (truncating strings)."""
    if value is None or type_text == "sql_variant":
        return value
    name, length, _precision, _scale = dialect.parse_type(type_text)
    try:
        if name in dialect.INTEGER_TYPES:
            if name == "bit":
                return 1 if value not in (0, "0", False, "false", "False") else 0
            return int(value) if not isinstance(value, str) else int(decimal.Decimal(value.strip()))
        if name in ("char", "varchar", "nchar", "nvarchar", "text", "ntext"):
            text = _text(value)
            return text if length in (None, -1) else text[:length]
        if name in dialect.EXACT_NUMERIC_TYPES:
            return decimal.Decimal(str(value))
        if name in ("float", "real"):
            return float(value)
    except (ValueError, decimal.InvalidOperation):
        raise TsqlError(245, f"Conversion failed when converting the value '{value}' to data type {name}.") from None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_PRINTF = re.compile(r"%(?:-?\d*)(?:\.\d+)?([sdiuxX%])")


def _printf(template: str, args: list[Any]) -> str:
    """RAISERROR's message substitution: %s, %d, %i, %u, %x; `%%` is a percent sign."""
    values = iter(args)

    def substitute(m: re.Match[str]) -> str:
        if m.group(1) == "%":
            return "%"
        value = next(values, None)
        if value is None:
            return "(null)"
        if m.group(1) in "xX":
            return format(int(value), m.group(1))
        return _text(value)

    return _PRINTF.sub(substitute, template)
