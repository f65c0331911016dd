"""The embedded T-SQL runner: executes the subset on SQLite, over sqlite3 or over ODBC.

It interprets control flow itself (variables, IF, TRY/CATCH, THROW, transactions, procedures,
dynamic SQL) from the statement tree parser.py builds. Each single SQL statement is classified
(statements.py), parsed and transpiled by sqlglot (translate.py); DDL runs in schema_changes.py.
Statements are never skipped: anything outside the subset raises UnsupportedConstruct with its
line. The engine is independent of how SQLite is reached: it talks to a `Driver`, which wraps a
DB-API connection (Python's sqlite3, or pyodbc with an SQLite ODBC driver).
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ..catalog import Catalog, Index, Table, split_name
from ..errors import ScriptError, UnsupportedConstruct
from . import collation, dialect, literal_rows, translation_store
from .compile_checks import CompileError, Refused, check_batch, use_refusal
from .ddl import declared_type, drop_plan
from .expression_types import tsql_type
from .parser import (
    Block,
    CreateProcedure,
    Declare,
    DeclareTable,
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
    Use,
    While,
    parse_batch,
    unquote,
)
from .runtime import (
    UNKNOWN_IDENTITY,
    Frame,
    Output,
    Row,
    TsqlError,
    Unsupported,
    Variable,
    as_text,
    coerce,
    converted,
    refused_construct,
    server_error,
)
from .runtime import Driver as Driver  # re-exported: the targets build engines from drivers
from .runtime import to_db as to_db
from .schema_changes import SchemaChanges
from .sqlite_schema import (
    ROUTINES_DDL,
    ROUTINES_INDEX_DDL,
    ROUTINES_TABLE,
    SandboxCatalog,
    TableModel,
    catalog_view_rows,
    object_id,
    object_types,
    quote,
    read_catalog,
    read_temp_table,
    type_text,
)
from .statements import classify, procedure_call
from .subset import batch_refusals
from .translate import (
    Answers,
    NotInSubset,
    SyntaxProblem,
    Translated,
    parse_expression,
    parse_statement,
    rewrite,
    table_variables,
)
from .translation_store import TranslationStore
from .writes import (
    DATABASE,
    VALUE,
    Source,
    WritePlan,
    assignment,
    plan_writes,
    qualified,
    sql_server_error,
    target_name,
    temp_table,
    type_by_value,
)

#: SQLite's message for a violated constraint: its kind, then the columns ("T.a, T.b") or the CHECK's name
_CONSTRAINT_FAILED = re.compile(r"^(NOT NULL|UNIQUE|CHECK) constraint failed: (.*)$", re.S)
_WRITE_VERB = re.compile(r"\b(INSERT|UPDATE|MERGE)\b", re.I)

#: the #temp table that holds a table variable (Engine.declare_table): #tv<n>_<the variable's name>
_TABLE_VARIABLE_HELD = re.compile(r"^#tv\d+_(.+)$")
#: types whose values are compared under the default collation (case-insensitive, trailing blanks ignored)
_CHARACTER_TYPES = frozenset({"char", "varchar", "nchar", "nvarchar", "text", "ntext", "sysname"})
_NUMERIC_TYPES = frozenset({"tinyint", "smallint", "int", "bigint", "decimal", "numeric", "money", "smallmoney"})
_NOT_KNOWN = object()


def _stored_literal(value: exp.Expression, data_type: str) -> Any:
    """A VALUES literal as its column stores it, when that is the literal itself (an integer written to an
    integer type, text to a character type, NULL); _NOT_KNOWN when a conversion would decide it."""
    if isinstance(value, exp.Null):
        return None
    if isinstance(value, exp.National) and data_type in ("nvarchar", "sysname"):
        return value.this
    if isinstance(value, exp.Literal) and value.is_string and data_type in ("varchar", "nvarchar", "sysname"):
        return value.this
    if isinstance(value, exp.Literal) and not value.is_string and data_type in _NUMERIC_TYPES and value.this.isdigit():
        return int(value.this)
    return _NOT_KNOWN


#: datetime2(n), time(n), datetimeoffset(n) with n below 7: the sandbox stores the type without n (seven decimals)
SCALED_TIME = re.compile(r"\b(?:datetime2|time|datetimeoffset)\s*\(\s*[0-6]\s*\)", re.IGNORECASE)
SCALED_TIME_CONSTRUCT = ("datetime2(n), time(n) or datetimeoffset(n) with n below 7 (the sandbox keeps seven "
                         "decimals, SQL Server rounds to n: declare datetime2 or time)")

#: A WHILE loop is stopped (refused, see docs/embedded-runner.md "Limits") after this many iterations,
#: or after LOOP_SECONDS of wall time, whichever comes first; Engine.loop_iterations/loop_seconds.
MAX_LOOP = 1_000_000
LOOP_SECONDS = 30.0

#: How many translations (and parsed statements and expressions) an engine keeps before it starts over: enough for
#: every statement of a deploy or an update run; a bound for dynamic SQL that builds new text in a loop.
TRANSLATION_CACHE_SIZE = 4096

#: Statements and expressions at least this long are also kept for every engine of the process whose
#: database has the same schema (the same CREATE texts in sqlite_master and sqlite_temp_master): the
#: generated SQL of `UpdateOperations` is translated once per process, not once per target. Shorter
#: ones translate faster than the schema's fingerprint is taken. Engine.shared_translation_chars.
SHARED_TRANSLATION_CHARS = 2000
#: Statements at least this long are parsed for a run without keeping a copy of their tree (_parsed_statement).
_HANDED_OVER_CHARS = 4096
_SHARED_TRANSLATIONS: dict[tuple[Any, ...], Any] = {}


@dataclass(frozen=True)
class _DmlTranslation:
    """One DML statement as the runner ran it on SQLite: what `exec_sql` keeps to run the same text again."""

    sql: str  # the SQLite text, the write plan's conversions included
    translated: Translated
    keys: tuple[Table, list[Index]] | None  # Engine.nullable_keys of the statement
    written_variable: str | None  # the table variable the statement writes (without @), if any
    #: an INSERT's table: (its name, whether it has an IDENTITY column); None for other statements
    inserted: tuple[str, bool] | None = None


class _ReturnSignal(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


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
        #: the objects (lower-case names) whose DDL ran since the snapshot was read: only they are read again;
        #: None when a change may reach further (ALTER, DROP, a rollback) and the whole catalog is read
        self._stale: set[str] | None = set()
        #: the schema's digest, kept up to date object by object as `_stale` is (`_schema_fingerprint`)
        self._digest = _SchemaDigest()
        # every object name (lower case) -> its type codes, for the snapshot; None until asked for
        self._types: dict[str, set[str]] | None = None
        self._filled: dict[str, int] = {}
        # What is derived from the catalog (column types, time defaults, DML translations), for the
        # ddl_version it was derived under: a DDL statement drops all of it at once.
        self._derived: dict[str, Any] = {}
        self._derived_version = -1
        self._errors: list[TsqlError] = []  # the errors being handled by enclosing CATCH blocks
        self._statement_cache: dict[str, exp.Expression] = {}
        self._procedure_cache: dict[str, CreateProcedure] = {}
        #: Whether statements and expressions are translated once and run again from the cache (see
        #: docs/embedded-runner.md "Translation cache"); tests turn it off to compare both paths.
        self.translation_cache = True
        self.shared_translation_chars = SHARED_TRANSLATION_CHARS
        #: the translations of every process of this runner (translation_store.py); None: this process's only
        self.stored: TranslationStore | None = translation_store.store()
        self.output = Output()
        self.schema = SchemaChanges(self)
        self.on_message: Callable[[str, str, int | None], None] | None = None
        self.source = "<script>"
        # the line (in the script) of the innermost script statement running: errors raised inside a
        # procedure or dynamic SQL are reported at the statement that called it
        self.script_line: int | None = None
        self.batch_offset = 0  # start line of the running batch - 1 (ERROR_LINE() counts from the batch)
        #: Test hook for fault injection: called with each statement's line (in the script; in a
        #: procedure body or dynamic SQL, the line there) just before the statement runs; when it
        #: returns True the statement fails with error 50000 "injected failure" instead of running.
        self.fail_at: Callable[[int], bool] | None = None
        #: the table SET IDENTITY_INSERT is ON for (one per session, as in SQL Server), or None
        self.identity_insert: str | None = None
        #: @@IDENTITY: the last IDENTITY value an INSERT of this session generated (None after an INSERT into
        #: a table without one; UNKNOWN_IDENTITY after a failed INSERT or one that inserted no row)
        self.session_identity: Any = None
        #: IDENTITY tables an INSERT failed on in the open transaction: SQL Server may have used values for the
        #: failed rows (never given back), so the next values it generates are not known (see `note_insert`)
        self._identity_gaps: set[str] = set()
        #: SQL Server's collations on this connection (collation.py); None over ODBC, which keeps NOCASE
        self.collations = collation.register(driver.connection) if driver.functions else None
        #: The budget of one WHILE loop (each time it runs): iterations and seconds of wall time.
        self.loop_iterations = MAX_LOOP
        self.loop_seconds = LOOP_SECONDS
        #: the database the sandbox is: `USE` of this name is accepted, of any other refused
        self.database = DATABASE
        self._table_variables = 0  # table variables declared so far (each gets its own #temp table)
        self._savepoints = 0  # savepoints taken around writes to a unique key with a nullable column
        #: True while a target runs a script inside its own transaction (the outermost @@TRANCOUNT level)
        self.script_transaction = False
        #: the #temp tables of table variables written inside the open transaction (see `rollback`)
        self._table_variables_in_transaction: dict[str, str] = {}

    # -- public API ----------------------------------------------------------------------------------
    def run_batch(self, text: str, *, source: str, start_line: int) -> None:
        """Parse and run one GO batch; errors come out as ScriptError with the script line."""
        self.source = source
        self.batch_offset = start_line - 1
        # one INSERT of literal rows (the baseline's sample data) runs in literal_rows.py, as it would here; that
        # fast path takes only batches whose compile and subset checks pass, so it skips them with the parse
        fast = literal_rows.recognize(self, text, start_line)
        parsed = fast or parse_batch(text, source=source, line_offset=start_line - 1)
        compiled = self._compiled_key(text)
        if fast is None and (compiled is None or self.stored is None or self.stored.get(compiled) is not True):
            try:  # SQL Server compiles the whole batch before its first statement runs (compile_checks.py)
                check_batch(parsed.statements, self.table_columns, self._shared_statement, self._shared_expression,
                            database=self.database)
            except CompileError as error:
                raise ScriptError(error.message, source=source, line=error.line + start_line - 1,
                                  number=error.number) from None
            except Refused as refusal:
                raise UnsupportedConstruct(refusal.construct, source=source,
                                           line=refusal.line + start_line - 1) from None
            if compiled is not None and self.stored is not None:
                self.stored.put(compiled, True)
        refused = [] if fast else batch_refusals(text, parsed.statements, source, start_line - 1,
                                                 database=self.database, parse=self._parsed_statement,
                                                 use_store=self.translation_cache)
        if refused:  # outside the subset: refused before anything of the batch runs
            raise refused[0]
        frame = Frame(line_offset=start_line - 1)
        try:
            for statement in parsed.statements:
                try:
                    self.execute_statement(statement, frame)
                except _ReturnSignal:
                    return
                except TsqlError as error:
                    self.last_error = error.number
                    raise self.script_error(error) from None
                except RecursionError:  # the parser's nesting limits keep within Python's; this is the backstop
                    raise UnsupportedConstruct("a statement nested too deeply for the sandbox", source=source,
                                               line=self.script_line) from None
        finally:
            self.end_frame(frame)

    def script_error(self, error: TsqlError) -> ScriptError:
        """The error as the script runner reports it: at its own line, or at the calling statement's."""
        message = error.message
        line = error.line
        if error.procedure:
            message += f" (in {error.procedure}"
            message += f", line {error.line})" if error.line else ")"
            line = self.script_line
        if isinstance(error, Unsupported):
            return UnsupportedConstruct(error.construct, source=self.source, line=line)
        return ScriptError(message, source=self.source, line=line, number=error.number)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[tuple[str, ...], list[Row]]:
        """Run one T-SQL statement from library code, with `?` parameters; returns its last result."""
        text, names = _placeholders_to_variables(sql)  # both kept per process (parse_batch too)
        if len(names) != len(params):
            raise ScriptError(f"statement has {len(names)} parameter marker(s) but {len(params)} value(s) "
                              "were given", source="<statement>")
        frame = Frame({n: Variable("sql_variant", v) for n, v in zip(names, params, strict=True)})
        self.source = "<statement>"
        self.output = Output()
        try:
            parsed = parse_batch(text, source="<statement>")
            self.batch_offset = 0
            for statement in parsed.statements:
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
        key = self._translation_key("many", sql, Frame())  # kept as every translation is (`_cached`)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        version = self.ddl_version
        text, names = _placeholders_to_variables(sql)
        try:
            tree = parse_statement(text)
        except SyntaxProblem as problem:
            raise ScriptError(f"syntax error: {problem}", source="<statement>") from None
        except NotInSubset as construct:
            raise UnsupportedConstruct(str(construct), source="<statement>") from None
        if not isinstance(tree, exp.Select | exp.Insert | exp.Update | exp.Delete | exp.SetOperation):
            raise ScriptError("only SELECT/INSERT/UPDATE/DELETE can be run with many parameter rows",
                              source="<statement>")
        try:
            plan = self.write_plan(tree, Frame())
            translated = rewrite(tree, self.answers(Frame()))
        except NotInSubset as construct:
            raise UnsupportedConstruct(str(construct), source="<statement>") from None
        except TsqlError as error:
            raise ScriptError(error.message, source="<statement>", number=error.number) from None
        order = [names.index("@" + v) for v in translated.variables]
        result = (plan.finish(translated.sql) if plan else translated.sql, [f"{i}" for i in order])
        self._remember(key, result, translated, version)
        return result

    def catalog(self, *, fresh: bool = False) -> SandboxCatalog:
        """The catalog as it is now: read in full once, then after each DDL statement only the objects it
        created (`changed(name)`), so that deploying N objects costs N reads of one object, not N of N."""
        if fresh or self._snapshot is None or self._stale is None:
            self._snapshot = read_catalog(self._query_plain, routines=True)
            self._types = None
        elif self._snapshot_version != self.ddl_version:
            self._snapshot = self._updated_catalog(self._snapshot, self._stale)
        self._snapshot_version = self.ddl_version
        self._stale = set()
        return self._snapshot

    def _updated_catalog(self, old: SandboxCatalog, names: set[str]) -> SandboxCatalog:
        """`old` with the objects named `names` read again (gone when they no longer exist)."""
        # their rows, by rowid, as the schema digest keeps them: sqlite_master and the routines table have no index
        # on names, and a read by name would scan every object
        located = self._digest.located(self._query_plain, names)
        in_master, in_routines = located.get("sqlite_master", []), located.get(ROUTINES_TABLE, [])
        master_marks = ", ".join("?" for _ in in_master)

        def only(sql: str, params: Sequence[Any]) -> list[Row]:
            # the catalog's queries, narrowed to the named objects (sqlite_schema's texts, checked below)
            if sql.startswith("SELECT m.") and " WHERE m.type" in sql:
                narrowed = sql.replace(" WHERE m.type", f" WHERE m.rowid IN ({master_marks}) AND m.type", 1)
                given = list(in_master)
                if " ON s.name = il.name" in narrowed:  # an index's own row: one of its table's (by tbl_name)
                    narrowed = narrowed.replace(" ON s.name = il.name",
                                                f" ON s.rowid IN ({master_marks}) AND s.name = il.name", 1)
                    given += in_master
            elif sql.startswith(f"SELECT schema_name, name, parameters FROM {ROUTINES_TABLE} ORDER BY"):
                marks = ", ".join("?" for _ in in_routines)
                narrowed = sql.replace(" ORDER BY", f" WHERE rowid IN ({marks}) ORDER BY", 1)
                given = list(in_routines)
            else:
                raise LookupError(sql)
            if not given:  # no row of these objects in that table: nothing to read
                return []
            return self._query_plain(narrowed, [*params, *given])

        try:
            part = read_catalog(only, routines=True)
        except LookupError:  # a query of read_catalog's this does not know how to narrow: read it all
            self._types = None
            return read_catalog(self._query_plain, routines=True)

        def kept(group: Any, read: Any, key: str) -> dict[str, Any]:
            # one copy; the objects gone taken out, those read again replaced where they are (a key taken out and
            # put back would leave a hole, and CPython copies a dict with holes entry by entry)
            copied = dict(group)
            for name in names:
                if key + name not in read:
                    copied.pop(key + name, None)
            copied.update(read)
            return copied

        catalog = Catalog(
            kept(old.catalog.tables, part.catalog.tables, "dbo."),
            kept(old.catalog.views, part.catalog.views, "dbo."),
            kept(old.catalog.procedures, part.catalog.procedures, "dbo."),
        )
        models = kept(old.models, part.models, "")
        if self._types is not None:  # the object names: those of the objects read again replace their old ones
            keys = [f"dbo.{name}" for name in names]
            before = old.catalog
            gone = Catalog({k: before.tables[k] for k in keys if k in before.tables},
                           {k: before.views[k] for k in keys if k in before.views},
                           {k: before.procedures[k] for k in keys if k in before.procedures})
            for name, codes in object_types(SandboxCatalog(gone, {}, 0)).items():
                left = self._types.get(name, set()) - codes
                if left:
                    self._types[name] = left
                else:
                    self._types.pop(name, None)
            for name, codes in object_types(part).items():
                self._types[name] = self._types.get(name, set()) | codes
        return SandboxCatalog(catalog, models, part.queries)

    def object_types(self) -> dict[str, set[str]]:
        """sqlite_schema.object_types of the catalog as it is now, kept up to date after each CREATE."""
        self.catalog()
        if self._types is None:
            self._types = object_types(self.catalog())
        return self._types

    def begin(self) -> None:
        if self.trancount == 0:
            self.driver.run("BEGIN")
        self.trancount += 1

    def commit(self) -> None:
        if self.trancount == 0:
            raise TsqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        if self.trancount == 1:
            self.driver.run("COMMIT")
            self._table_variables_in_transaction.clear()
            self._identity_gaps.clear()
        self.trancount -= 1

    def rollback(self) -> None:
        if self.trancount == 0:
            raise TsqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
        self.driver.run("ROLLBACK")
        self._table_variables_in_transaction.clear()
        self._identity_gaps.clear()
        self.trancount = 0
        self.changed()  # the catalog may be back to what it was
        self._filled.clear()

    def changed(self, *created: str) -> None:
        """The schema changed: by the creation of the objects named `created` only (a table with its
        indexes, a view, a procedure), or, with no names, in ways that may reach any object."""
        self.ddl_version += 1
        names = [split_name(name)[1].lower() for name in created]
        if not created or not all(n.isascii() for n in names):  # SQLite's lower() folds ASCII letters only
            self._stale = None
            self._digest.changed(None)
            return
        if self._stale is not None:
            self._stale.update(names)
        self._digest.changed(set(names))

    # -- statements ------------------------------------------------------------------------------------
    def execute_statement(self, statement: Statement, frame: Frame) -> None:
        line = statement.line + frame.line_offset
        if frame.procedure is None:
            self.script_line = line
        try:
            if self.fail_at is not None and self.fail_at(line):
                raise TsqlError(50000, "injected failure")
            if self.collations is not None:
                self.collations.take()  # what an earlier statement left is not this one's
            self._dispatch(statement, frame)
            self.check_collation()
        except _ReturnSignal:
            raise
        except TsqlError as error:
            if error.line is None:  # raised by a helper that does not know where it runs
                error.line = line
                error.procedure = frame.procedure
            raise
        except NotInSubset as construct:
            raise Unsupported(str(construct), line, frame.procedure) from None
        except SyntaxProblem as problem:
            raise TsqlError(102, f"syntax error: {problem}", severity=15, line=line,
                            procedure=frame.procedure) from None
        except UnsupportedConstruct as error:
            raise Unsupported(error.construct, line, frame.procedure) from None
        except ScriptError as error:
            raise TsqlError(102, error.message, severity=15, line=line, procedure=frame.procedure) from None
        except self.driver.error_types as error:
            text = self.driver.clean_error(error)
            refused = refused_construct(text)
            if refused is not None:  # the value showed an answer the sandbox cannot give (arithmetic.py)
                raise Unsupported(refused, line, frame.procedure) from None
            number, message = server_error(text)
            number, message = self.constraint_error(text, statement) or (number, message)
            if number == 208 and isinstance(statement, Sql):
                message = _name_as_written(message, statement.text)
            raise TsqlError(number, message, line=line, procedure=frame.procedure) from None

    def constraint_error(self, text: str, statement: Statement) -> tuple[int, str] | None:
        """SQLite's words for a violated NOT NULL, key, unique index or CHECK -> SQL Server's number and
        text (515, 2627, 2601, 547), naming the constraint or index from the catalog (a #temp table's or
        table variable's from SQLite's temp schema); None for the rest."""
        found = _CONSTRAINT_FAILED.match(text)
        if found is None:
            return None
        kind, detail = found.group(1), found.group(2).strip()
        verb_match = _WRITE_VERB.search(getattr(statement, "text", "") or "")
        verb = verb_match.group(1).upper() if verb_match else "INSERT"
        if kind == "NOT NULL":
            table_name, _, column = detail.partition(".")
            found_table = self.constrained_table(table_name)
            shown = self.shown_table(found_table[0].name if found_table else table_name)
            database = "tempdb" if shown.startswith(("#", "@")) else self.database
            return 515, (f"Cannot insert the value NULL into column '{column}', table '{database}.dbo.{shown}'; "
                         f"column does not allow nulls. {verb} fails.")
        if kind == "CHECK":  # SQLite names the CHECK (or gives an unnamed one's text), not its table
            temp = [self.constrained_table(row[0]) for row in
                    self._query_plain("SELECT name FROM sqlite_temp_master WHERE type = 'table'", ())]
            candidates = [*(t for t in temp if t is not None),
                          *((t, self.catalog().models.get(t.name.lower()))
                            for t in self.catalog().catalog.tables.values())]
            tree = self._statement_tree(statement)
            target = tree.find(exp.Table) if isinstance(tree, exp.Insert | exp.Update) else None
            written = target.name.lower() if target is not None else ""
            candidates.sort(key=lambda c: c[0].name.lower() != written)  # the written table's CHECK first
            for table, model in candidates:
                for check in table.checks:
                    # an unnamed CHECK of a column is reported by the column's name (SQLite 3.4x) or its text
                    column = next((c.name for c in (model.columns if model else [])
                                   if any(n == check.name or (n is None and e == check.definition)
                                          for n, e in c.checks)), None)
                    unnamed_here = check.name.upper().startswith("CK__") and (
                        (column or "").lower() == detail.lower()
                        or re.sub(r'[`"\[\]]', "", check.definition).lower().startswith(detail.lower()))
                    if check.name.lower() == detail.lower() or check.definition == detail or unnamed_here:
                        where = f", column '{column}'" if column else ""
                        shown = self.shown_table(table.name)
                        database = "tempdb" if shown.startswith(("#", "@")) else self.database
                        return 547, (f'The {verb} statement conflicted with the CHECK constraint "{check.name}". '
                                     f'The conflict occurred in database "{database}", table '
                                     f'"dbo.{shown}"{where}.')
            return None
        columns = [part.strip().partition(".") for part in detail.split(",")]
        found_table = self.constrained_table(columns[0][0]) if columns and columns[0][1] else None
        if found_table is None:
            return None
        table = found_table[0]
        key = tuple(c[2].lower() for c in columns)
        index = next((i for i in table.indexes if i.unique and tuple(c.lower() for c in i.columns) == key), None)
        if index is None:
            return None
        return self.duplicate_key(table, index, self.clashing_key(statement, table, index),
                                  model=found_table[1])

    def constrained_table(self, name: str) -> tuple[Table, TableModel | None] | None:
        """The catalog table `name`, or the #temp table of that name (a table variable's too), with its model."""
        if name.startswith("#"):
            return read_temp_table(self._query_plain, name)
        table = self.catalog().catalog.table(name)
        return (table, self.catalog().models.get(table.name.lower())) if table is not None else None

    @staticmethod
    def shown_table(name: str) -> str:
        """A table's name in SQL Server's messages: a table variable's #temp table (`#tv1_t`, see
        `declare_table`) is the variable (`@t`)."""
        held = _TABLE_VARIABLE_HELD.match(name)
        return "@" + held.group(1) if held is not None else name

    def _statement_tree(self, statement: Statement) -> exp.Expression | None:
        """The statement's tree when it is plain SQL (read only); None otherwise."""
        if not isinstance(statement, Sql):
            return None
        try:
            return self._shared_statement(statement.text)
        except Exception:  # only for naming an error: the statement already failed
            return None

    def clashing_key(self, statement: Statement, table: Table, index: Index) -> str:
        """SQL Server's "(v1, v2)" of the key an INSERT ... VALUES could not write twice, when its values are
        literals written as they are stored (a number to a numeric column, text to a character column): the
        first row whose key the table already holds, or an earlier row of the statement holds; "" when the
        runner cannot tell (INSERT ... SELECT, UPDATE, computed values)."""
        tree = self._statement_tree(statement)
        if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Values):
            return ""
        names = ([c.name.lower() for c in tree.this.expressions] if isinstance(tree.this, exp.Schema)
                 else [c.name.lower() for c in table.columns if not c.identity])
        types = {c.name.lower(): c.data_type.lower() for c in table.columns}
        try:
            positions = [names.index(c.lower()) for c in index.columns]
        except ValueError:
            return ""
        keys: list[tuple[Any, ...]] = []
        for row in tree.expression.expressions:
            values = row.expressions if isinstance(row, exp.Tuple) else [row]
            if len(values) != len(names):
                return ""
            stored = [_stored_literal(values[position], types.get(names[position], "")) for position in positions]
            if any(value is _NOT_KNOWN for value in stored):
                return ""
            keys.append(tuple(stored))
        nocase = {c.lower() for c in index.columns if types.get(c.lower(), "") in _CHARACTER_TYPES}
        columns = [c.lower() for c in index.columns]

        def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
            return all(
                (x.rstrip(" ").casefold() == y.rstrip(" ").casefold() if c in nocase else x == y)
                for c, x, y in zip(columns, a, b, strict=True))

        where = " AND ".join(f"{quote(c)} = ?" for c in index.columns)
        for i, row_key in enumerate(keys):
            if None in row_key:  # a NULL key is checked by the runner (check_nullable_keys), not by SQLite's index
                continue
            earlier = any(same(other, row_key) for other in keys[:i] if None not in other)
            if earlier or self.driver.query(f"SELECT 1 FROM {quote(table.name)} WHERE {where} LIMIT 1",
                                            list(row_key)):
                return ", ".join(as_text(v) for v in row_key)
        return ""

    def duplicate_key(self, table: Table, index: Index, value: str = "", *,
                      model: TableModel | None = None) -> tuple[int, str]:
        """Error 2627 (a PRIMARY KEY or UNIQUE constraint) or 2601 (a unique index) for a duplicate in
        `index` of `table`; `value` is SQL Server's "The duplicate key value is (...)." when known."""
        key = tuple(c.lower() for c in index.columns)
        if model is None:
            found = self.constrained_table(table.name)
            model = found[1] if found is not None else None
        constraint = index.primary_key or (model is not None and (
            any(tuple(c.lower() for c in cols) == key for _, cols in model.uniques)
            or (len(key) == 1 and any(c.unique and c.name.lower() == key[0] for c in model.columns))))
        shown = f" The duplicate key value is ({value})." if value else ""
        name = self.shown_table(table.name)
        if not constraint:
            return 2601, (f"Cannot insert duplicate key row in object 'dbo.{name}' with unique index "
                          f"'{index.name}'.{shown}")
        which = "PRIMARY KEY" if index.primary_key else "UNIQUE KEY"
        return 2627, (f"Violation of {which} constraint '{index.name}'. Cannot insert duplicate key in object "
                      f"'dbo.{name}'.{shown}")

    def nullable_keys(self, tree: exp.Expression) -> tuple[Table, list[Index]] | None:
        """The table an INSERT or UPDATE writes and its unique keys with a nullable column: SQL Server lets
        such a key hold NULL once, SQLite any number of times, so `dml` checks them itself (#temp tables
        and table variables too)."""
        if not isinstance(tree, exp.Insert | exp.Update):
            return None
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if not isinstance(target, exp.Table) or not target.name or target.name.startswith("@"):
            return None
        found = self.constrained_table(target.name)
        if found is None:
            return None
        table = found[0]
        nullable = {c.name.lower() for c in table.columns if c.nullable}
        keys = [i for i in table.indexes if i.unique and any(c.lower() in nullable for c in i.columns)]
        return (table, keys) if keys else None

    def check_nullable_keys(self, table: Table, keys: list[Index]) -> None:
        """Error 2627/2601 when a unique key now holds a key with a NULL twice (SQL Server's NULL is one value
        for uniqueness); the caller undoes the statement."""
        for index in keys:
            cols = ", ".join(quote(c) for c in index.columns)
            nulls = " OR ".join(f"{quote(c)} IS NULL" for c in index.columns)
            rows = self.driver.query(f"SELECT {cols} FROM {quote(table.name)} WHERE {nulls} GROUP BY {cols} "
                                     "HAVING COUNT(*) > 1 LIMIT 1")
            if rows:
                value = ", ".join("<NULL>" if v is None else as_text(v) for v in rows[0])
                raise TsqlError(*self.duplicate_key(table, index, value))

    def check_collation(self) -> None:
        """Refuse what the statement compared where SQL Server's collation could answer otherwise
        than the sandbox's model of it (collation.py): the refusal is raised after the statement ran,
        and the script's transaction undoes it."""
        refusal = self.collations.take() if self.collations is not None else None
        if refusal is not None:
            raise NotInSubset(refusal)

    def _dispatch(self, statement: Statement, frame: Frame) -> None:
        if isinstance(statement, literal_rows.LiteralInsert):
            literal_rows.run(self, statement, frame)
        elif isinstance(statement, Sql):
            self.exec_sql(statement.text, frame)
        elif isinstance(statement, Block):
            for inner in statement.body:
                self.execute_statement(inner, frame)
        elif isinstance(statement, If):
            branch = statement.then if self.condition(statement.condition, frame) else statement.otherwise
            if branch is not None:
                self.execute_statement(branch, frame)
        elif isinstance(statement, While):
            self.loop(statement, frame)
        elif isinstance(statement, TryCatch):
            self.try_catch(statement, frame)
        elif isinstance(statement, Declare):
            for name, type_text, expression in statement.items:
                declared_type(type_text)
                value = self.evaluate(expression, frame, type_text) if expression is not None else None
                frame.variables[name.lower()] = Variable(type_text, self.assigned(type_text, value))
        elif isinstance(statement, DeclareTable):
            self.declare_table(statement, frame)
        elif isinstance(statement, Use):
            self.use(statement.database, frame)
        elif isinstance(statement, SetVariable):
            self.set_variable(statement, frame)
        elif isinstance(statement, Print):  # PRINT converts its argument to text as CAST does (a decimal's scale)
            value = self.evaluate(f"CAST(({statement.expression}) AS NVARCHAR(MAX))", frame)
            self.message("print", "" if value is None else as_text(value), statement.line + frame.line_offset)
            self.rowcount = 0
        elif isinstance(statement, Throw):
            self.throw(statement, frame)
        elif isinstance(statement, Raiserror):
            self.raiserror(statement, frame)
        elif isinstance(statement, Exec):
            self.exec_procedure(statement, frame)
        elif isinstance(statement, ExecDynamic):
            self.exec_dynamic(as_text(self.evaluate(statement.expression, frame)), {}, frame)
        elif isinstance(statement, Return):
            value = self.evaluate(statement.expression, frame) if statement.expression else 0
            raise _ReturnSignal(value)
        elif isinstance(statement, Transaction):
            if statement.action == "ROLLBACK" and self.trancount and self._table_variables_in_transaction:
                name = next(iter(self._table_variables_in_transaction.values()))
                raise NotInSubset(f"ROLLBACK after writing to the table variable {name} in the transaction (SQL "
                                  "Server keeps a table variable's rows through a rollback; the sandbox cannot)")
            if statement.action == "ROLLBACK" and self.script_transaction and self.trancount >= 2:
                raise NotInSubset(
                    "ROLLBACK of a transaction the script began (the script runs inside a transaction of the "
                    "runner's own, and ROLLBACK undoes every open transaction: on SQL Server it would undo the "
                    "whole script so far and the runner would stop after this batch; use COMMIT, or let an "
                    "error end the script, which rolls it all back)")
            {"BEGIN": self.begin, "COMMIT": self.commit, "ROLLBACK": self.rollback}[statement.action]()
            self.rowcount = 0
        elif isinstance(statement, CreateProcedure):
            self.create_procedure(statement)
        else:  # pragma: no cover - the parser produces only the kinds above
            raise NotInSubset(type(statement).__name__)

    def loop(self, statement: While, frame: Frame) -> None:
        """A WHILE loop within its budget; past it the loop is refused at its line (a limit of the
        sandbox, so TRY/CATCH does not catch it) instead of running on for minutes."""
        assert statement.body is not None
        started = time.monotonic()
        iterations = 0
        while self.condition(statement.condition, frame):
            if iterations >= self.loop_iterations:
                raise Unsupported(f"WHILE loop still running after {iterations:,} iterations (the sandbox "
                                  f"stops a loop after {self.loop_iterations:,})", None, None)
            if time.monotonic() - started >= self.loop_seconds:
                raise Unsupported(f"WHILE loop still running after {self.loop_seconds:g} s (the sandbox's time "
                                  "budget for one loop)", None, None)
            iterations += 1
            self.execute_statement(statement.body, frame)

    def message(self, kind: str, text: str, line: int | None) -> None:
        self.output.messages.append((kind, text, line))
        if self.on_message is not None:
            self.on_message(kind, text, line)

    def try_catch(self, statement: TryCatch, frame: Frame) -> None:
        try:
            for inner in statement.body:
                self.execute_statement(inner, frame)
        except Unsupported:
            raise  # outside the subset is never "handled": it is a limit of the sandbox
        except TsqlError as error:
            self.last_error = error.number
            self._errors.append(error)
            try:
                for inner in statement.handler:
                    self.execute_statement(inner, frame)
            finally:
                self._errors.pop()

    def declare_table(self, statement: DeclareTable, frame: Frame) -> None:
        """DECLARE @t TABLE (...): a #temp table of its own, dropped when the batch, procedure or dynamic
        SQL that declared it ends. Run again (in a loop) it keeps its rows, as in SQL Server, where a
        declaration is not a statement that runs."""
        key = statement.name.lower()
        if key in frame.variables:
            if frame.variables[key].type == "table":
                return
            raise TsqlError(134, f"The variable name '{statement.name}' has already been declared. Variable "
                            "names must be unique within a query batch or stored procedure.")
        self._table_variables += 1
        held = f"#tv{self._table_variables}_{re.sub(r'[^A-Za-z0-9_]', '_', statement.name[1:])}"
        created = classify(f"CREATE TABLE {held} {statement.definition}", self._parsed_statement)
        if created.kind != "create-table" or not isinstance(created.tree, exp.Create):
            raise NotInSubset(f"table variable {statement.name} ({created.kind})")
        self.schema.create_table(created.tree, created.indexes)
        frame.variables[key] = Variable("table", held)
        frame.tables.append(held)
        if self.trancount:
            self._table_variables_in_transaction[held] = statement.name

    def table_variable(self, name: str, frame: Frame) -> str:
        """The #temp table holding the table variable @name; error 1087 when the batch declares none."""
        found = frame.variables.get("@" + name.lower())
        if found is None or found.type != "table":
            raise TsqlError(1087, f'Must declare the table variable "@{name}".')
        return str(found.value)

    def end_frame(self, frame: Frame) -> None:
        """A batch, procedure call or dynamic SQL ended: its table variables go with it."""
        for held in frame.tables:
            self._table_variables_in_transaction.pop(held, None)
            try:
                self.driver.run(f"DROP TABLE IF EXISTS temp.{quote(held)}")
            except self.driver.error_types:  # a failed transaction may have taken it already
                pass
        if frame.tables:
            self.changed(*frame.tables)  # the #temp tables (translation cache, schema fingerprint)
        frame.tables.clear()

    def use(self, database: str, frame: Frame) -> None:
        """USE of the database the sandbox is changes nothing; any other database is refused by name."""
        refusal = use_refusal(database, self.database)  # compile_checks refused it before the batch ran
        if refusal is not None:
            raise NotInSubset(refusal)
        self.rowcount = 0

    def set_variable(self, statement: SetVariable, frame: Frame) -> None:
        variable = self.variable(statement.name, frame)
        expression = statement.expression
        if statement.operator != "=":  # SET @a += x is SET @a = @a + (x), with T-SQL's meaning of +
            expression = f"{statement.name} {statement.operator[0]} ({expression})"
        variable.value = self.assigned(variable.type, self.evaluate(expression, frame, variable.type))
        self.rowcount = 1

    def assigned(self, type_text: str, value: Any) -> Any:
        """A value assigned to a variable of `type_text`, as SQL Server converts it: runtime.coerce, then
        what writes.assignment adds (varchar's code page, dates rounded, errors 241 and 8169)."""
        value = coerce(type_text, value)
        rule = assignment(type_text) if isinstance(value, str) else None
        if rule is None:
            return value
        rows = self.driver.query(f"SELECT {rule.replace(VALUE, '`v`.`x`')} FROM (SELECT ? AS x) AS `v`", [value])
        return rows[0][0]

    def bound(self, translated: Translated, frame: Frame) -> list[Any]:
        """The values of a translation's markers as SQLite parameters: its variables, and the runtime values it
        left to be answered now (`Translated.deferred`). A DECIMAL goes in as a number: bound as text (how to_db
        keeps decimals exact in a column), it would compare greater than every number."""
        values = [self.variable("@" + name, frame).value if not name.startswith("@@")
                  else self._deferred_value(translated.deferred[int(name[2:])], frame) for name in translated.variables]
        return [_sqlite_number(v) if isinstance(v, decimal.Decimal) else v for v in values]

    def _deferred_value(self, deferred: tuple[str, tuple[tuple[str, Any], ...]], frame: Frame) -> Any:
        name, arguments = deferred
        if name.startswith("@@"):
            return self.system_variable(name[2:], frame)
        values = [self.variable("@" + value, frame).value if kind == "variable" else value
                  for kind, value in arguments]
        return self.runner_function(name, values)

    def variable(self, name: str, frame: Frame) -> Variable:
        found = frame.variables.get(name.lower())
        if found is None or found.type == "table":
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
        raise TsqlError(number, as_text(message), severity=16, state=int(state or 1), line=line,
                        procedure=frame.procedure)

    def raiserror(self, statement: Raiserror, frame: Frame) -> None:
        values = [self.evaluate(a, frame) for a in statement.arguments]
        template, severity, state = values[0], values[1], values[2]
        number = 50000
        if isinstance(template, int):
            raise NotInSubset("RAISERROR with a message number (use a message text)")
        message = _printf(as_text(template), values[3:])
        severity = min(max(int(severity or 0), 0), 25)  # SQL Server reads below 0 as 0, above 25 as 25
        if severity > 18:
            if "LOG" not in statement.options:
                raise TsqlError(2754, "Error severity levels greater than 18 can only be specified by members of the "
                                "sysadmin role, using the WITH LOG option.")
            raise NotInSubset(f"RAISERROR with severity {severity} WITH LOG (a sysadmin's error; from 20 on SQL "
                              "Server ends the connection)")
        if severity <= 10:
            self.message("info", message, statement.line + frame.line_offset)
            self.last_error = number if "SETERROR" in statement.options else 0
            return
        raise TsqlError(number, message, severity=severity, state=int(state or 1),
                        line=statement.line + frame.line_offset, procedure=frame.procedure)

    # -- expressions -------------------------------------------------------------------------------------
    def answers(self, frame: Frame, *, defer: bool = False) -> Answers:
        """What a translation asks the engine; `defer`: leave the hot runtime values to `bound` (translate.DEFERRED),
        for a translation whose SQL runs with `bound`'s parameters."""
        return Answers(lambda name: self.system_variable(name, frame), self.runner_function,
                       lambda name: self.variable("@" + name, frame).value,
                       lambda name: self._variable_type("@" + name, frame),
                       self.column_type, self.time_defaults, self.table_columns, self.driver.functions,
                       lambda name: self.table_variable(name, frame), self.table_column_types, defer)

    def _for_schema(self, key: str, build: Callable[[], Any]) -> Any:
        """What `build` derives from the catalog, kept until the next DDL statement."""
        if self._derived_version != self.ddl_version:
            self._derived = {}
            self._derived_version = self.ddl_version
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def time_defaults(self, table: str) -> list[tuple[str, str]]:
        """(column, SQLite expression) for each column of `table` whose default is the time (GETDATE(), ...)."""

        def build() -> dict[str, list[tuple[str, str]]]:
            found: dict[str, list[tuple[str, str]]] = {}
            for model in self.catalog().catalog.tables.values():
                for column in model.columns:
                    function = (column.default or "").strip("() ").lower()
                    if function in dialect.TIME_DEFAULTS:
                        found.setdefault(model.name.lower(), []).append(
                            (column.name, dialect.DEFAULT_FUNCTIONS[function]))
            return found

        defaults: dict[str, list[tuple[str, str]]] = self._for_schema("time_defaults", build)
        return defaults.get(table.lower(), [])

    def column_type(self, name: str) -> str | None:
        """A column's base type, when every table with a column of that name agrees on it."""

        def build() -> dict[str, str]:
            found: dict[str, set[str]] = {}
            for table in self.catalog().catalog.tables.values():
                for column in table.columns:
                    found.setdefault(column.name.lower(), set()).add(column.data_type)
            return {n: next(iter(t)) for n, t in found.items() if len(t) == 1}

        types: dict[str, str] = self._for_schema("column_types", build)
        return types.get(name.lower())

    def table_column_types(self, table: str) -> dict[str, str] | None:
        """{lower-case column name: full type ('decimal(18,4)')} of a catalog or #temp table (`#t`); None when
        there is none."""

        tables: dict[str, dict[str, str] | None] = self._for_schema("table_column_types", dict)
        lowered = table.lower()
        if lowered not in tables:  # one table at a time: a deploy asks about a few tables between DDL statements
            found = self._any_table(table)
            tables[lowered] = None if found is None else {c.name.lower(): c.type_text for c in found.columns}
        return tables[lowered]

    def table_columns(self, table: str) -> dict[str, str] | None:
        """{lower-case column name: base type} of a catalog or #temp table (`#t`); None when there is none."""

        tables: dict[str, dict[str, str] | None] = self._for_schema("table_columns", dict)
        lowered = table.lower()
        if lowered not in tables:
            found = self._any_table(table)
            tables[lowered] = None if found is None else {c.name.lower(): c.data_type for c in found.columns}
        return tables[lowered]

    def _any_table(self, table: str) -> Table | None:
        """A catalog table, or a #temp table (`#t`, read from SQLite's temp schema)."""
        return self.written_table(table) if table.startswith("#") else self._catalog_table(table.lower())

    def _catalog_table(self, lowered: str) -> Table | None:
        """The catalog table whose (bare) name is `lowered`, in lower case; None when there is none."""
        found = self.catalog().catalog.tables.get(f"dbo.{lowered}")
        return found if found is not None and found.name.lower() == lowered else None

    @staticmethod
    def _variable_type(name: str, frame: Frame) -> str:
        found = frame.variables.get(name.lower())
        return found.type if found is not None else "sql_variant"

    def evaluate(self, expression: str | None, frame: Frame, into: str | None = None) -> Any:
        """An expression's value; `into` a variable's numeric type, converted to it as SQL Server
        converts on assignment (its errors: 220, 8115, 245, ...; arithmetic.py)."""
        if expression is None:
            return None
        source, translated = self._translated_expression("value" if into is None else "typed", expression, frame)
        self.fill_catalog_views(translated.catalog_views)
        params = self.bound(translated, frame)
        rows = self.driver.query(translated.sql, params)
        value = rows[0][0] if rows else None
        return value if into is None else converted(source, into, value)

    def condition(self, text: str, frame: Frame) -> bool:
        _source, translated = self._translated_expression("condition", text, frame)
        self.fill_catalog_views(translated.catalog_views)
        params = self.bound(translated, frame)
        rows = self.driver.query(translated.sql, params)
        return bool(rows and rows[0][0])

    def _translated_expression(self, kind: str, text: str, frame: Frame) -> tuple[str | None, Translated]:
        """An expression as a SELECT for SQLite: a `value`, a `typed` value (with its T-SQL type, which
        `evaluate` converts from) or a `condition` (1 or 0); kept in the translation cache."""
        key = self._translation_key(kind, text, frame)
        cached = self._cached(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        version = self.ddl_version
        tree = self._parsed_expression(text)
        answers = self.answers(frame, defer=True)
        source = tsql_type(tree, answers) if kind == "typed" else None  # before rewrite() changes the tree
        if kind == "condition":
            tree = exp.Case(ifs=[exp.If(this=tree, true=exp.Literal.number(1))], default=exp.Literal.number(0))
        translated = rewrite(exp.select(tree), answers)
        self._remember(key, (source, translated), translated, version)
        return source, translated

    # -- the translation cache ---------------------------------------------------------------------------
    def _translations(self) -> dict[tuple[Any, ...], Any]:
        """The translations made under the current schema version (a DDL statement starts a new one)."""
        found: dict[tuple[Any, ...], Any] = self._for_schema("translations", dict)
        return found

    def _translation_key(self, kind: str, text: str, frame: Frame) -> tuple[Any, ...] | None:
        """What a translation of `text` depends on besides the schema version (`_for_schema`): the session's
        IDENTITY_INSERT table, and each variable of the frame with its declared type and what of its value
        a translation reads (a parameter's type; a table variable's #temp table; on the ODBC target, a
        string's text, which its checks read). None when the cache is off. Not the database name: only
        DB_NAME() reads it, a value answered while translating, which is never kept (`_remember`); so
        sandbox files of other names share translations (`_SHARED_TRANSLATIONS`)."""
        if not self.translation_cache:
            return None
        variables = tuple(sorted((name, v.type, self._value_kind(v)) for name, v in frame.variables.items()))
        return kind, text, self.identity_insert, variables

    def _value_kind(self, variable: Variable) -> Any:
        if variable.type == "table":
            return variable.value
        if not self.driver.functions and isinstance(variable.value, str):
            return variable.value
        if variable.type.lower() == "sql_variant":
            return type_by_value(variable.value)
        return None

    def _cached(self, key: tuple[Any, ...] | None) -> Any:
        """The translation kept for `key` by this engine, by any engine of the process whose database has the
        same schema (a long text), or by any process of the same runner (`translation_store`); None when
        there is none."""
        if key is None:
            return None
        cache = self._translations()
        found = cache.get(key)
        if found is not None:
            return found
        if self.stored is None and len(key[1]) < self.shared_translation_chars:
            return None
        shared = (self._schema_fingerprint(), self.driver.functions, *key)
        found = _SHARED_TRANSLATIONS.get(shared)
        if found is None and self.stored is not None:
            found = self.stored.get(self.stored.key(shared))
            if found is not None:
                _keep(_SHARED_TRANSLATIONS, shared, found)
        if found is not None:
            _keep(cache, key, found)
        return found

    def _remember(self, key: tuple[Any, ...] | None, value: Any, translated: Translated, version: int) -> None:
        """Keep a translation, unless it holds a value answered while it was made (`@@ROWCOUNT`, `OBJECT_ID()`,
        `ERROR_MESSAGE()`, ...: `runtime_values`) or the schema changed while it was made."""
        if key is None or translated.runtime_values or version != self.ddl_version:
            return
        _keep(self._translations(), key, value)
        if self.stored is None and len(key[1]) < self.shared_translation_chars:
            return
        shared = (self._schema_fingerprint(), self.driver.functions, *key)
        _keep(_SHARED_TRANSLATIONS, shared, value)
        if self.stored is not None:
            self.stored.put(self.stored.key(shared), value)

    def _compiled_key(self, text: str) -> bytes | None:
        """The store's key for "this batch passed the compile checks": they read the text, the catalog's
        columns (the schema) and the database's name. None when the cache is off."""
        if not self.translation_cache or self.stored is None:
            return None
        return self.stored.key(("compiled", self._schema_fingerprint(), self.database, text))

    def _schema_fingerprint(self) -> str:
        """A digest of every CREATE text of the database (tables, indexes, views, #temp tables) and of the T-SQL
        of its procedures and views as the runner keeps them (not when they were created): two databases with
        the same digest give every statement the same translation."""

        found: str = self._for_schema("fingerprint", lambda: self._digest.value(self._query_plain))
        return found

    def full_schema_fingerprint(self) -> str:
        """The digest `_schema_fingerprint` keeps, taken from every object again (for tests that compare them)."""
        return _SchemaDigest().value(self._query_plain)

    def _parsed_expression(self, text: str) -> exp.Expression:
        return self._shared_expression(text).copy()

    def _shared_expression(self, text: str) -> exp.Expression:
        """The cached tree of an expression, not copied: for readers that never change it."""
        key = "expr:" + text
        cached = self._statement_cache.get(key)
        if cached is None:
            cached = parse_expression(text)
            _keep(self._statement_cache, key, cached)
        return cached

    def system_variable(self, name: str, frame: Frame | None = None) -> Any:
        """@@NAME, and SCOPE_IDENTITY() (of `frame`'s scope)."""
        if name in ("IDENTITY", "SCOPE_IDENTITY"):
            value = self.session_identity if name == "IDENTITY" else frame.scope_identity if frame else None
            if value is UNKNOWN_IDENTITY:
                shown = "@@IDENTITY" if name == "IDENTITY" else "SCOPE_IDENTITY()"
                raise NotInSubset(f"{shown} after a failed INSERT into a table with an IDENTITY column, or (for "
                                  "@@IDENTITY) after one that inserted no row (SQL Server's value is not documented "
                                  "well enough for the sandbox to give it)")
            return value
        return {
            "ROWCOUNT": self.rowcount, "TRANCOUNT": self.trancount, "ERROR": self.last_error,
            "SERVERNAME": "sandbox", "SPID": 1, "VERSION": "pytest-opus embedded T-SQL runner on SQLite",
        }.get(name)

    def note_insert(self, identity: bool, rows: int, frame: Frame, last_row: int | None = None) -> None:
        """@@IDENTITY and SCOPE_IDENTITY() after an INSERT (the IDENTITY and SCOPE_IDENTITY pages): an INSERT
        into a table without an IDENTITY column makes @@IDENTITY NULL and leaves SCOPE_IDENTITY() as it was;
        one into an IDENTITY table sets both to the last value it generated (with IDENTITY_INSERT ON, the last
        value it wrote: the column is the table's rowid). An INSERT of no row into an IDENTITY table leaves
        SCOPE_IDENTITY() as it was; what @@IDENTITY holds then is not documented (reading it is refused)."""
        if not identity:
            self.session_identity = None
            return
        if not rows:
            self.session_identity = UNKNOWN_IDENTITY
            return
        value = last_row if last_row is not None else self.driver.query("SELECT last_insert_rowid()")[0][0]
        self.session_identity = frame.scope_identity = value

    @contextmanager
    def undone_on_error(self, savepoint: bool, identity_table: str | None, frame: Frame) -> Iterator[None]:
        """A writing statement that fails: undone whole in a savepoint where `savepoint` (SQLite undoes one
        statement itself, not checks made after it nor several statements run as one), and an INSERT into the
        IDENTITY table `identity_table` noted as failed (`note_failed_insert`)."""
        name = None
        if savepoint:
            self._savepoints += 1
            name = f'"opus_keys_{self._savepoints}"'
            self.driver.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if name is not None:
                try:
                    self.driver.run(f"ROLLBACK TO {name}")
                    self.driver.run(f"RELEASE {name}")
                except self.driver.error_types:  # (SQLite rolled the transaction back itself): the first error counts
                    pass
            if identity_table is not None:
                self.note_failed_insert(identity_table, frame)
            raise
        if name is not None:
            self.driver.run(f"RELEASE {name}")

    def note_failed_insert(self, table: str, frame: Frame) -> None:
        """A failed INSERT into an IDENTITY table: SQL Server may have generated values for it, which it never
        gives back and which @@IDENTITY and SCOPE_IDENTITY() then hold, so neither they nor the table's next
        IDENTITY values are known (reading them, and the next INSERT into the table, are refused)."""
        self.session_identity = frame.scope_identity = UNKNOWN_IDENTITY
        if self.trancount:
            self._identity_gaps.add(table)

    def runner_function(self, name: str, args: list[Any]) -> Any:
        current = self._errors[-1] if self._errors else None
        if name == "ERROR_MESSAGE":
            return current.message if current else None
        if name == "ERROR_NUMBER":
            return current.number if current else None
        if name == "ERROR_LINE":  # SQL Server counts from the start of the batch (or procedure)
            if current is None or current.line is None:
                return None
            return current.line if current.procedure else current.line - self.batch_offset
        if name == "ERROR_SEVERITY":
            return current.severity if current else None
        if name == "ERROR_STATE":
            return current.state if current else None
        if name == "ERROR_PROCEDURE":
            return current.procedure if current else None
        if name == "XACT_STATE":
            return 1 if self.trancount else 0
        if name == "DB_NAME":  # the database `USE` accepts (the sandbox file's name); another id: refused
            if args and args[0] is not None:
                raise NotInSubset("DB_NAME(database_id) (the sandbox holds one database and has no database ids)")
            return self.database
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
        temp = re.match(r"^\s*\[?tempdb\]?\s*\.\s*(?:\[?dbo\]?\s*)?\.\s*\[?(#[^\]]*)\]?\s*$", text, re.IGNORECASE)
        if temp is not None:  # OBJECT_ID('tempdb..#t'): a #temp table of this session
            if object_type is not None and str(object_type).strip().upper() != "U":
                return None
            return -object_id(temp.group(1)) if self.schema.temp_exists(temp.group(1)) else None
        if text.startswith("#"):  # "the database name must come before the temporary table name" (OBJECT_ID)
            return None
        if ".." in text or text.count(".") > 1:
            raise NotInSubset("cross-database names (database.schema.object)")
        schema, bare = split_name(text)
        if schema.lower() != "dbo":
            return None
        types = self.object_types().get(bare.lower())
        if not types:
            return None
        if object_type is not None and str(object_type).strip().upper() not in types:
            return None
        return object_id(bare)

    def object_name(self, oid: Any) -> str | None:
        for name in self.object_types():
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

    def fill_catalog_views(self, views: set[str]) -> None:
        for view in views:
            if self._filled.get(view) == self.ddl_version:
                continue
            columns = dialect.CATALOG_VIEWS[view]
            table = "opus_" + view.replace(".", "_")
            cols = ", ".join(f"{quote(c)} COLLATE NOCASE" for c in columns)
            self.driver.run(f"CREATE TEMP TABLE IF NOT EXISTS {quote(table)} ({cols})")
            self.driver.run(f"DELETE FROM temp.{quote(table)}")
            if view in dialect.COMPATIBILITY_VIEWS:  # sysobjects, syscolumns: a catalog view's columns
                source, taken = dialect.COMPATIBILITY_VIEWS[view]
                positions = [dialect.CATALOG_VIEWS[source].index(c) for c in taken]
                rows = [tuple(row[p] for p in positions) for row in catalog_view_rows(source, self.catalog())]
            else:
                rows = catalog_view_rows(view, self.catalog())
            if rows:
                marks = ", ".join("?" for _ in columns)
                self.driver.run_many(f"INSERT INTO temp.{quote(table)} VALUES ({marks})", rows)
            self._filled[view] = self.ddl_version

    # -- SQL statements ------------------------------------------------------------------------------------
    def _parsed_statement(self, text: str) -> exp.Expression:
        """A tree of the statement the caller may change: a copy of the cached one; for a long statement (a
        baseline's INSERT of a thousand rows) the cached tree itself, no longer kept: copying it costs about
        what parsing it again does, and once run its translation is kept, not its tree."""
        if len(text) >= _HANDED_OVER_CHARS:
            cached = self._statement_cache.pop(text, None)
            return cached if cached is not None else parse_statement(text)
        return self._shared_statement(text).copy()

    def _shared_statement(self, text: str) -> exp.Expression:
        """The cached tree of a statement, not copied: for readers that never change it."""
        cached = self._statement_cache.get(text)
        if cached is None:
            cached = parse_statement(text)
            _keep(self._statement_cache, text, cached)
        return cached

    def exec_sql(self, text: str, frame: Frame) -> None:
        key = self._translation_key("dml", text, frame)
        cached = self._cached(key)
        if cached is not None:  # the same text, schema, variable types and session settings as before
            self._run_dml(cached, frame)
            return
        statement = classify(text, self._parsed_statement)
        kind, tree = statement.kind, statement.tree
        if kind in ("create-table", "alter-table", "select-into") and SCALED_TIME.search(text):
            raise NotInSubset(SCALED_TIME_CONSTRUCT)
        if kind == "dml":
            assert tree is not None
            version = self.ddl_version
            translation = self._translate_dml(tree, frame)
            self._remember(key, translation, translation.translated, version)
            self._run_dml(translation, frame)
            return
        if kind == "select-into":
            assert isinstance(tree, exp.Select)
            self.rowcount = self.schema.select_into(tree, frame)
            return
        if kind == "create-table":
            assert isinstance(tree, exp.Create)
            self.schema.create_table(tree, statement.indexes)
        elif kind == "create-view":
            assert isinstance(tree, exp.Create)
            self.schema.create_view(tree, statement.view_mode)
        elif kind == "create-index":
            assert isinstance(tree, exp.Create)
            self.schema.create_index(tree)
        elif kind == "alter-table":
            assert statement.plan is not None
            self.schema.alter_table(statement.plan)
        elif kind == "drop":
            assert isinstance(tree, exp.Drop)
            self.schema.drop(drop_plan(tree))
        elif kind == "drop-index":
            self.schema.drop_index(statement.name, statement.table, statement.if_exists)
        elif kind == "truncate":
            self.schema.truncate(statement.name)
        elif kind == "identity-insert":
            self.set_identity_insert(statement.name, statement.on)
        self.rowcount = 0  # DDL, and SET options too (@@ROWCOUNT's page: SET <option> resets it to 0)

    def dml(self, tree: exp.Expression, frame: Frame) -> None:
        """Translate and run one DML statement's tree (not cached: `exec_sql` keeps translations by text)."""
        self._run_dml(self._translate_dml(tree, frame), frame)

    def _translate_dml(self, tree: exp.Expression, frame: Frame) -> _DmlTranslation:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        written = None
        if isinstance(tree, exp.Insert | exp.Update | exp.Delete) and isinstance(target, exp.Table) \
                and isinstance(target.this, exp.Parameter):
            written = target.this.name
        found: dict[str, Table | None] = {}  # the written table, looked up once (a #temp table is a query)

        def lookup(name: str) -> Table | None:
            if name not in found:
                found[name] = self.written_table(name)
            return found[name]

        plan = self.write_plan(tree, frame, lookup)  # a table variable's name is its #temp table's from here on
        inserted = None
        name = target_name(tree.this.this if isinstance(tree.this, exp.Schema) else tree.this) \
            if isinstance(tree, exp.Insert) else None
        if name is not None:
            table = lookup(name)
            inserted = (name.lower(), table is not None and any(c.identity for c in table.columns))
        translated = rewrite(tree, self.answers(frame, defer=True))
        return _DmlTranslation(plan.finish(translated.sql) if plan else translated.sql, translated,
                               self.nullable_keys(tree), written, inserted)

    def _run_dml(self, translation: _DmlTranslation, frame: Frame) -> None:
        translated = translation.translated
        name = translation.written_variable
        if name is not None and self.trancount:  # as write_plan notes it (a later ROLLBACK is refused)
            self._table_variables_in_transaction[self.table_variable(name, frame)] = "@" + name
        self.fill_catalog_views(translated.catalog_views)
        params = self.bound(translated, frame)
        inserted = translation.inserted
        if inserted is not None and inserted[0] in self._identity_gaps and self.identity_insert is None:
            raise NotInSubset(f"an INSERT into {inserted[0]} after an INSERT into it failed in this transaction "
                              "(SQL Server may have used IDENTITY values for the failed rows and never gives them "
                              "back; the sandbox cannot tell which values come next)")
        keys = translation.keys
        # undone in a savepoint when it wrote a second NULL key (check_nullable_keys)
        with self.undone_on_error(keys is not None, inserted[0] if inserted and inserted[1] else None, frame):
            cursor = self.driver.run(translation.sql, params)
            description = cursor.description
            rows = [tuple(r) for r in cursor.fetchall()] if description else []
            written = max(cursor.rowcount, 0)
            last_row = getattr(cursor, "lastrowid", None)  # sqlite3's; an ODBC cursor has none (asked below)
            if keys is not None:
                self.check_nullable_keys(*keys)
        if inserted is not None:
            self.note_insert(inserted[1], written, frame, last_row)
        if description:
            if translated.accumulation is not None:  # SELECT @v = @v + x FROM ...: concatenated row by row
                self.accumulate(translated.assignments[0], translated.accumulation, rows, frame)
            elif translated.assignments:
                if translated.accumulates and len(rows) > 1:
                    raise NotInSubset("SELECT @v = <expression reading @v> over more than one row (SQL Server "
                                      "accumulates row by row; build the value with STRING_AGG or a loop)")
                if rows:
                    for name, source, value in zip(translated.assignments, translated.assignment_types, rows[-1],
                                                   strict=True):
                        variable = self.variable("@" + name, frame)
                        variable.value = self.assigned(variable.type, converted(source, variable.type, value))
            else:
                columns = tuple(d[0] for d in description)
                self.output.result_sets.append((columns, rows))
            self.rowcount = len(rows)
        else:
            self.rowcount = written

    def accumulate(self, name: str, left: str, rows: list[Row], frame: Frame) -> None:
        """`SELECT @v = <left> + <column part> FROM ...` as SQL Server runs it: for each row in turn, @v becomes
        <left> (evaluated with @v as it is then) concatenated with the row's part; NULL on either side gives
        NULL (CONCAT_NULL_YIELDS_NULL). The order is the query's (its ORDER BY where it has one)."""
        variable = self.variable("@" + name, frame)
        for (part,) in rows:
            before = self.evaluate(left, frame)
            joined = None if before is None or part is None else as_text(before) + as_text(part)
            variable.value = self.assigned(variable.type, joined)

    def write_plan(self, tree: exp.Expression, frame: Frame, lookup: Callable[[str], Table | None] | None = None,
                   sources: list[Source | None] | None = None) -> WritePlan | None:
        """Each value an INSERT or UPDATE writes, converted to its column's type (writes.py); `sources`: the
        types of an INSERT's values, when the caller knows them better than the tree (literal_rows.py)."""
        if self.trancount and isinstance(tree, exp.Insert | exp.Update | exp.Delete):
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if isinstance(target, exp.Table) and isinstance(target.this, exp.Parameter):
                name = target.this.name
                self._table_variables_in_transaction[self.table_variable(name, frame)] = "@" + name
        table_variables(tree, self.answers(frame))
        return plan_writes(tree, lookup or self.written_table, self.identity_insert, self.answers(frame), sources)

    def written_table(self, name: str) -> Table | None:
        """A table a statement writes: the catalog's, or a #temp table (not in the catalog)."""
        if not name.startswith("#"):
            return self.catalog().catalog.table(name)
        rows = self.driver.query("SELECT sql FROM sqlite_temp_master WHERE type = 'table' AND name = ?", [name])
        return temp_table(rows[0][0]) if rows else None

    def set_identity_insert(self, table: str, on: bool) -> None:
        """SET IDENTITY_INSERT: explicit IDENTITY values for one table at a time (error 8107)."""
        found = self.catalog().catalog.table(table)
        if found is None:
            raise sql_server_error(1088, table=table)
        if not any(c.identity for c in found.columns):
            raise sql_server_error(8106, table=found.name)
        held = self.identity_insert
        if held is not None and self.catalog().catalog.table(held) is None:
            held = None  # the table it was ON for is gone (dropped, or rolled back)
        if on and held is not None and held.lower() != found.name.lower():
            raise sql_server_error(8107, held=qualified(held), table=table)
        if on:
            self.identity_insert = found.name
        elif held is not None and held.lower() == found.name.lower():
            self.identity_insert = None

    # -- procedures and dynamic SQL ----------------------------------------------------------------------
    def create_procedure(self, statement: CreateProcedure) -> None:
        schema, name = split_name(statement.name)
        if schema.lower() != "dbo":
            raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
        for parameter in statement.parameters:
            declared_type(parameter.type)
        exists = self.object_id(name, "P") is not None
        if statement.mode == "CREATE":
            self.schema.require_absent(name)
        elif statement.mode == "ALTER" and not exists:
            raise TsqlError(208, f"Could not find stored procedure '{name}'.")
        parameters = [
            {"name": p.name, "type": _normal_type(p.type), "default": p.default, "output": p.output}
            for p in statement.parameters
        ]
        self.driver.run(ROUTINES_DDL)
        self.driver.run(ROUTINES_INDEX_DDL)
        self.driver.run(f"DELETE FROM {ROUTINES_TABLE} WHERE name = ?", [name])
        self.driver.run(
            f"INSERT INTO {ROUTINES_TABLE} (schema_name, name, type, definition, parameters, created) "
            "VALUES ('dbo', ?, 'P', ?, ?, strftime('%Y-%m-%d %H:%M:%f','now'))",
            [name, statement.text, json.dumps(parameters)],
        )
        self.changed(name)

    def _procedure(self, bare: str, written: str | None = None) -> CreateProcedure:
        rows = self._query_plain(f"SELECT definition FROM {ROUTINES_TABLE} WHERE name = ?", [bare])
        if not rows:  # SQL Server names the procedure as the EXEC wrote it (with its schema, if any)
            raise TsqlError(2812, f"Could not find stored procedure '{written or bare}'.")
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
        call = procedure_call(statement.procedure)
        if call.dynamic:
            self.sp_executesql(statement, frame)
            return
        procedure = self._procedure(call.name, ".".join(unquote(p) for p in statement.procedure.split(".")))
        proc_name = split_name(procedure.name)[1]  # SQL Server names it without the schema
        bound: dict[str, Variable] = {}
        outputs: list[tuple[str, str]] = []
        params = procedure.parameters
        by_name = {p.name.lower(): p for p in params}
        for position, (param_name, expression, output) in enumerate(statement.arguments):
            if param_name is None:
                if position >= len(params):
                    raise TsqlError(8144, f"Procedure or function {proc_name} has too many arguments "
                                    "specified.")
                target = params[position]
            else:
                found = by_name.get(param_name.lower())
                if found is None:
                    raise TsqlError(8145, f"{param_name} is not a parameter for procedure {proc_name}.")
                target = found
            value = self.evaluate(expression, frame, target.type)
            bound[target.name.lower()] = Variable(target.type, coerce(target.type, value))
            if output and target.output:
                outputs.append((target.name.lower(), expression.strip()))
        for p in params:
            if p.name.lower() not in bound:
                if p.default is None:
                    raise TsqlError(201, f"Procedure or function '{proc_name}' expects parameter "
                                    f"'{p.name}', which was not supplied.")
                bound[p.name.lower()] = Variable(p.type, coerce(p.type, self.evaluate(p.default, Frame(), p.type)))
        inner = Frame(bound, procedure=proc_name)
        result: Any = 0
        session = self.identity_insert  # a SET inside a procedure ends with it (SET statements, T-SQL)
        try:
            for s in procedure.body:
                self.execute_statement(s, inner)
        except _ReturnSignal as signal:
            result = signal.value
        finally:
            self.identity_insert = session
            self.end_frame(inner)
        for param, target_expr in outputs:
            if target_expr.startswith("@"):
                self.variable(target_expr, frame).value = bound[param].value
        if statement.result_variable:
            self.variable(statement.result_variable, frame).value = result

    def sp_executesql(self, statement: Exec, frame: Frame) -> None:
        if not statement.arguments:
            raise TsqlError(201, "Procedure 'sp_executesql' expects parameter '@statement'.")
        text = as_text(self.evaluate(statement.arguments[0][1], frame))
        bound: dict[str, Variable] = {}
        if len(statement.arguments) > 1:
            declaration = as_text(self.evaluate(statement.arguments[1][1], frame))
            declared = parse_batch(f"DECLARE {declaration}", source="sp_executesql parameters").statements
            assert isinstance(declared[0], Declare)
            types = {n.lower(): t for n, t, _ in declared[0].items}
            order = [n.lower() for n, _, _ in declared[0].items]
            for position, (param_name, expression, _out) in enumerate(statement.arguments[2:]):
                key = param_name.lower() if param_name else order[position]
                if key not in types:
                    raise TsqlError(8145, f"{param_name} is not a parameter for procedure sp_executesql.")
                bound[key] = Variable(types[key], coerce(types[key], self.evaluate(expression, frame, types[key])))
        self.exec_dynamic(text, bound, frame)

    def exec_dynamic(self, text: str, variables: dict[str, Variable], frame: Frame) -> None:
        parsed = parse_batch(text, source="dynamic SQL")
        try:  # dynamic SQL is a batch of its own, compiled when it runs
            check_batch(parsed.statements, self.table_columns, self._shared_statement, self._shared_expression,
                        database=self.database)
        except CompileError as error:
            raise TsqlError(error.number, error.message, severity=16 if error.number == 207 else 15,
                            line=error.line, procedure=frame.procedure or "dynamic SQL") from None
        except Refused as refusal:
            raise Unsupported(refusal.construct, refusal.line, frame.procedure or "dynamic SQL") from None
        inner = Frame(variables, procedure=frame.procedure or "dynamic SQL", line_offset=0)
        session = self.identity_insert  # as in a procedure, a SET in dynamic SQL ends with it
        try:
            for s in parsed.statements:
                self.execute_statement(s, inner)
        except _ReturnSignal:
            pass
        finally:
            self.identity_insert = session
            self.end_frame(inner)


#: SQLite's lower(), which folds ASCII letters only (the names the engine narrows a change to are ASCII)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
#: the three tables the schema digest reads, each with what of a row is hashed (read after its rowid)
_DIGEST_COLUMNS = {
    "sqlite_master": "type, name, tbl_name, sql",
    "sqlite_temp_master": "type, name, tbl_name, sql",
    ROUTINES_TABLE: "schema_name, name, type, definition, parameters",
}


class _SchemaDigest:
    """A digest of the schema: every row of sqlite_master and sqlite_temp_master (tables, indexes, views, #temp
    tables) and the T-SQL of the procedures and views the runner keeps in its routines table (not when they were
    made). It is the sum of one hash per row, each row kept by its rowid, so that after a CREATE only the rows of
    the objects it named and the rows added since are read again, found by rowid: none of the three tables has
    an index on names, and a read by name would scan every object (deploying N objects would cost N times N).

    The rows read again are all that can have changed, for every change is told to `changed`: by names (the
    engine's `changed(*created)`) when it alters or deletes only rows of those objects (rows named so, or of
    a table so named) and adds rows, else as a change of anything (ALTER, DROP, a ROLLBACK), which reads every
    row again. SQLite numbers a new row one above the largest rowid its table then holds, so every row added
    lies above the largest rowid kept of the rows not read again (`_floor`). A change the engine cannot tell,
    another connection writing the file, changes PRAGMA data_version: then every row is read again too."""

    _MODULUS = 1 << 160
    _WALK = 64  # rowids looked at below a top read again, before the largest kept is taken from every row

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], int] | None = None  # (table, rowid) -> the row's hash
        self.owned: dict[tuple[str, int], frozenset[str]] = {}  # (table, rowid) -> the names the row belongs to
        self.owners: dict[str, set[tuple[str, int]]] = {}  # a lower-case object name -> its rows' keys
        self.top: dict[str, int] = {}  # table -> the largest rowid kept of it (absent: none kept)
        self.total = 0
        self.pending: set[str] | None = set()  # names to read again; None: everything
        self.data_version: Any = None  # PRAGMA data_version before the rows were last read

    def changed(self, names: set[str] | None) -> None:
        if names is None or self.pending is None:
            self.pending = None
        else:
            self.pending |= names

    def value(self, query: Callable[[str, Sequence[Any]], list[Row]]) -> str:
        self.refresh(query)
        return f"{self.total % self._MODULUS:040x}"

    def located(self, query: Callable[[str, Sequence[Any]], list[Row]], names: set[str]) -> dict[str, list[int]]:
        """The rowids of the rows of the objects named `names` (lower case), by table: rows named so and rows of
        a table so named (its indexes); the digest is brought up to date first."""
        self.refresh(query)
        found: dict[str, set[int]] = {}
        for name in names:
            for table, rowid in self.owners.get(name, ()):
                found.setdefault(table, set()).add(rowid)
        return {table: sorted(rowids) for table, rowids in found.items()}

    def refresh(self, query: Callable[[str, Sequence[Any]], list[Row]]) -> None:
        version = self._data_version(query)  # taken before the rows: a change made while they are read is seen next
        if self.rows is None or self.pending is None or version is None or version != self.data_version:
            self.rows, self.owned, self.owners, self.top, self.total = {}, {}, {}, {}, 0
            for table in _DIGEST_COLUMNS:
                self._read(query, table, "", [])
        elif self.pending:
            again: dict[str, list[int]] = {}
            for name in self.pending:
                for key in list(self.owners.get(name, ())):
                    self._drop(key)
                    again.setdefault(key[0], []).append(key[1])
            for table in _DIGEST_COLUMNS:
                rowids = again.get(table, [])
                floor = self._floor(table)
                if floor is None:  # no row of it kept (none yet, or all read again): all of it
                    self._read(query, table, "", [])
                    continue
                terms = [f"rowid IN ({', '.join('?' for _ in rowids)})"] if rowids else []
                self._read(query, table, " WHERE " + " OR ".join([*terms, "rowid > ?"]), [*rowids, floor])
        self.pending = set()
        self.data_version = version

    @staticmethod
    def _data_version(query: Callable[[str, Sequence[Any]], list[Row]]) -> Any:
        """PRAGMA data_version: it changes when another connection commits to the file; None when it cannot be
        read (every read is then a full one)."""
        try:
            rows = query("PRAGMA data_version", ())
        except Exception:  # the driver's own error class (sqlite3's, pyodbc's)
            return None
        return rows[0][0] if rows else None

    def _floor(self, table: str) -> int | None:
        """The largest rowid kept of `table` (None: none), looked for again when the top one was dropped."""
        assert self.rows is not None
        top = self.top.get(table)
        if top is None or (table, top) in self.rows:
            return top
        found = next((r for r in range(top - 1, top - 1 - self._WALK, -1) if (table, r) in self.rows), None)
        if found is None:  # past a long gap: the largest of the rows kept
            found = max((rowid for source, rowid in self.rows if source == table), default=None)
        if found is None:
            del self.top[table]
        else:
            self.top[table] = found
        return found

    def _drop(self, key: tuple[str, int]) -> None:
        assert self.rows is not None
        self.total -= self.rows.pop(key)
        for owner in self.owned.pop(key):
            keys = self.owners[owner]
            keys.discard(key)
            if not keys:
                del self.owners[owner]

    def _read(self, query: Callable[[str, Sequence[Any]], list[Row]], table: str, where: str,
              params: list[Any]) -> None:
        assert self.rows is not None
        for row in query(f"SELECT rowid, {_DIGEST_COLUMNS[table]} FROM {table}{where}", params):
            key = (table, int(row[0]))
            if key in self.rows:  # kept and read again (the floor's rule rules it out): counted once all the same
                self._drop(key)
            data = tuple(row[1:])
            digest = hashlib.blake2b(repr((table, data)).encode("utf-8", "surrogatepass"), digest_size=20)
            value = int.from_bytes(digest.digest(), "big")
            self.rows[key] = value
            self.total += value
            named = (data[1],) if table == ROUTINES_TABLE else (data[1], data[2])  # a row's name (and its table's)
            owners = frozenset(str(n).translate(_ASCII_LOWER) for n in named)
            self.owned[key] = owners
            for owner in owners:
                self.owners.setdefault(owner, set()).add(key)
            if key[1] > self.top.get(table, key[1] - 1):
                self.top[table] = key[1]


def _keep(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep `value` in a translation or parse cache; a full cache starts over (see TRANSLATION_CACHE_SIZE)."""
    if len(cache) >= TRANSLATION_CACHE_SIZE:
        cache.clear()
    cache[key] = value


def _name_as_written(message: str, sql: str) -> str:
    """"Invalid object name 'T'." (SQLite drops the schema) -> the name as the statement wrote it,
    `dbo.T` for `[dbo].[T]`, as SQL Server names it."""
    found = re.fullmatch(r"Invalid object name '([^'.]+)'\.", message)
    if found is None:
        return message
    bare = re.escape(found.group(1))
    part = r"(?:\[[^\]]+\]|\w+)"
    written = re.search(rf"(?<![\w.\]@#])((?:{part}\s*\.\s*){{1,3}})(?:\[{bare}\]|{bare}\b)", sql, re.IGNORECASE)
    if written is None:
        return message
    prefix = [unquote(p.strip()) for p in written.group(1).split(".") if p.strip()]
    return f"Invalid object name '{'.'.join([*prefix, found.group(1)])}'."


def _normal_type(text: str) -> str:
    """A declared type in the catalog's spelling: `NVARCHAR(MAX)` -> `nvarchar(max)`."""
    return type_text(*dialect.parse_type(text))


def _placeholders_to_variables(sql: str) -> tuple[str, list[str]]:
    """Turn ODBC `?` markers (outside strings and comments) into variables @__p0, @__p1, ..."""
    text, names = _markers_made_variables(sql)
    return text, list(names)


@functools.lru_cache(maxsize=1024)
def _markers_made_variables(sql: str) -> tuple[str, tuple[str, ...]]:
    """`_placeholders_to_variables`, once per text in the process (library statements come back in every
    new sandbox)."""
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
    return "".join(pieces), tuple(names)


def _sqlite_number(value: decimal.Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


#: RAISERROR's format specifications: % [flags] [width] [.precision] [h|l] type (the RAISERROR page)
_PRINTF = re.compile(r"%(?P<flags>[-+0# ]*)(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlI]?(?P<type>.?)")
#: the longest message RAISERROR sends; a longer one is cut to 2,044 characters and an ellipsis
RAISERROR_MESSAGE_MAX = 2047


def _printf(template: str, args: list[Any]) -> str:
    """RAISERROR's message substitution, as the RAISERROR page documents it: %d and %i (signed), %u, %o, %x,
    %X (unsigned, 32 bits) and %s, with the flags `-` `+` `0` `#` and blank, a width and a precision (each
    a number or `*`, taken from the arguments); `%%` is a percent sign; a NULL or missing argument is
    `(null)`. Other types (%f, %c, ...) and an argument whose type does not match are refused."""
    values = iter(args)

    def argument_number(written: str | None, what: str) -> int | None:
        if written != "*":
            return int(written) if written else None
        value = next(values, None)
        if not isinstance(value, int) or isinstance(value, bool):
            raise NotInSubset(f"RAISERROR with a {what} '*' whose argument is not an integer")
        return value

    def substitute(m: re.Match[str]) -> str:
        kind = m["type"]
        if kind == "%" and not (m["flags"] or m["width"] or m["precision"]):
            return "%"
        if kind not in ("d", "i", "u", "o", "x", "X", "s"):
            raise NotInSubset(f"RAISERROR with the format specification {m[0]!r} (SQL Server takes d, i, o, s, u, "
                              "x and X)")
        flags = m["flags"]
        width = argument_number(m["width"], "width")
        precision = argument_number(m["precision"], "precision")
        value = next(values, None)
        if value is None:
            body = "(null)"
        elif kind == "s":
            if not isinstance(value, str):
                raise NotInSubset("RAISERROR with a number for %s (SQL Server: error 2786, the types must match)")
            body = value[:precision] if precision is not None else value
        else:
            if not isinstance(value, int) or isinstance(value, bool) or not -(2**31) <= value < 2**32:
                raise NotInSubset(f"RAISERROR with a value that is not a 32-bit integer for %{kind} (SQL Server: "
                                  "error 2786 or 2748)")
            signed = kind in "di"
            number = value if signed else value % 2**32
            if precision == 0 and number == 0:
                raise NotInSubset(f"RAISERROR {m[0]!r} of 0 (C writes no digit; SQL Server's answer is not documented)")
            digits = format(abs(number), {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x", "X": "X"}[kind])
            if precision is not None:
                digits = digits.zfill(precision)
            prefix = ""
            if "#" in flags and kind in "oxX" and number:
                prefix = {"o": "0", "x": "0x", "X": "0X"}[kind]
            sign = "-" if number < 0 else ("+" if "+" in flags else " " if " " in flags else "") if signed else ""
            if width is not None and "0" in flags and "-" not in flags and precision is None:
                digits = digits.zfill(width - len(sign) - len(prefix))
            body = sign + prefix + digits
        if width is not None:
            body = body.ljust(width) if "-" in flags else body.rjust(width)
        return body

    message = _PRINTF.sub(substitute, template)
    if len(message) > RAISERROR_MESSAGE_MAX:
        message = message[:RAISERROR_MESSAGE_MAX - 3] + "..."
    return message
