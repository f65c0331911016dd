"""The base of targets that run T-SQL through the embedded runner on SQLite (sandbox, ODBC SQLite)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ..batches import split_batches
from ..catalog import Catalog
from ..errors import ConfigError, DeploymentLockError, ScriptError, UnsupportedConstruct
from ..tsql.engine import Driver, Engine, Output
from ..tsql.runtime import refused_construct, server_error
from ..tsql.sqlite_schema import quote, stored_value_fits
from .base import BatchResult, Message, MessageSink, ResultColumn, ResultSet, Row, ScriptResult, Target
from .locking import DEFAULT_LOCK_WAIT_SECONDS, FileLock


class EmbeddedTarget(Target):
    """A target whose SQL runs on SQLite: scripts through the T-SQL runner, atomically."""

    def __init__(self, driver: Driver, display_name: str) -> None:
        super().__init__(display_name)
        self.driver = driver
        self.engine = Engine(driver)
        self._last_rowcount = -1
        self._savepoints = 0
        self._file_lock: FileLock | None = None  # made on first use: one per target, so nesting re-enters it
        if self.engine.collations is not None:
            self._reindex()

    def _reindex(self) -> None:
        """Rebuild the indexes of character columns under SQL Server's collation (collation.py): a file
        written by another SQLite (the ODBC target, an older runner) ordered them by SQLite's own NOCASE,
        and an index in another order misses rows."""
        try:
            self.driver.run("REINDEX NOCASE")
        except self.driver.error_types as error:
            text = self.driver.clean_error(error)
            if "UNIQUE" in text:
                self.driver.connection.close()  # the target is not made: nothing else will close it
                raise ConfigError(
                    f"{self.display_name} holds values that SQL Server's collation counts as the same in a "
                    f"unique key or index ({text}): case or trailing blanks differ. Remove the duplicates "
                    "(they could not exist on SQL Server) before using this database"
                ) from None
            # read-only or locked by another run: it keeps its indexes; writes are refused there anyway

    # -- scripts ---------------------------------------------------------------------------------
    def execute_script(
        self, text: str, *, source: str = "<script>", on_message: MessageSink | None = None
    ) -> ScriptResult:
        started = time.perf_counter()
        result = ScriptResult(source=source)
        try:
            batches = split_batches(text, source=source)
        except ScriptError as error:
            result.error = error
            return result
        if not batches:
            result.error = ScriptError("the script is empty (nothing but comments or blank lines)",
                                       source=source)
            return result
        if self.engine.trancount:
            result.error = ScriptError("a script cannot run inside an open transaction", source=source)
            return result

        def relay(kind: str, text: str, line: int | None) -> None:
            if on_message is not None:
                on_message(Message(text, kind, line))

        self.engine.on_message = relay
        self.engine.begin()
        self.engine.script_transaction = True  # a ROLLBACK of the script's own BEGIN would end it too
        finished = False  # only a loop that ran to its end may commit (not Ctrl-C, not a raising callback)
        try:
            for number, batch in enumerate(batches, start=1):
                for _ in range(batch.repeat):
                    outcome = self._run_batch(batch.text, number, batch.start_line, source)
                    result.batches.append(outcome)
                    self._hand_over(source, outcome)
                    if outcome.error is not None:
                        result.error = outcome.error
                        break
                    if self.engine.trancount != 1:
                        result.error = ScriptError(
                            "the batch committed or rolled back the deployment transaction (unbalanced "
                            "COMMIT/ROLLBACK); every batch must leave @@TRANCOUNT as it found it",
                            source=source, batch=number, line=batch.start_line,
                        )
                        break
                if result.error is not None:
                    break
            finished = True
        finally:
            self.engine.on_message = None
            self.engine.script_transaction = False
            self._drop_temp_tables()
            if finished and result.error is None:
                self.engine.commit()
                result.committed = True
            elif self.engine.trancount:
                self.engine.rollback()
        result.seconds = time.perf_counter() - started
        return result

    def _run_batch(self, text: str, number: int, start_line: int, source: str) -> BatchResult:
        outcome = BatchResult(number=number, start_line=start_line)
        self.engine.output = Output()
        started = time.perf_counter()
        try:
            self.engine.run_batch(text, source=source, start_line=start_line)
        except ScriptError as error:
            error.batch = number
            error.args = (error.describe(),)
            outcome.error = error
        outcome.seconds = time.perf_counter() - started
        outcome.messages = [Message(t, k, line) for k, t, line in self.engine.output.messages]
        outcome.result_sets = [ResultSet(c, r) for c, r in self.engine.output.result_sets]
        outcome.rowcount = self.engine.rowcount if outcome.error is None else -1  # nothing a failed batch did stays
        return outcome

    def _drop_temp_tables(self) -> None:
        """#temp tables end with the script, as they end with the session in SQL Server."""
        try:
            names = self.driver.query("SELECT name FROM sqlite_temp_master WHERE type = 'table' "
                                      "AND name LIKE '#%'")
            for (name,) in names:
                self.driver.run(f'DROP TABLE temp."{name}"')
            if names:  # translations of statements that named them change (the engine's translation cache)
                self.engine.changed(*(name for (name,) in names))
        except self.driver.error_types:  # the connection is already unusable; its error is reported
            pass

    def deployment_lock(
        self, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS, holder: str = ""
    ) -> AbstractContextManager[None]:
        """The file lock `<database file>.opus-lock` (see `locking.FileLock`); none for a database in
        memory, which no other process can reach. The file is the one SQLite itself has open, so the
        sandbox and an ODBC source over the same file (named by Database= or by a DSN name) share
        one lock. `holder` goes into the lock file's record of this run.
        """
        database = self.database_file()
        if database is None:
            return super().deployment_lock(wait_seconds, holder)
        if self._file_lock is None:
            self._file_lock = FileLock(database)
        return self._file_lock.held(wait_seconds, holder)

    def database_file(self) -> Path | None:
        """The main database's file, symlinks resolved; None for a database in memory or a temporary one."""
        try:
            rows = self.driver.query("PRAGMA database_list")
        except self.driver.error_types as error:
            raise DeploymentLockError(
                f"cannot tell which file {self.display_name} is, to lock it: {self.driver.clean_error(error)}"
            ) from None
        for row in rows:
            _seq, name, file = row[:3]
            if name == "main":
                return Path(os.path.realpath(file)) if file else None
        return None

    # -- statements ------------------------------------------------------------------------------
    def _statement_error(self, error: BaseException) -> ScriptError:
        """A database error of a library statement, with SQL Server's number where the runner knows it; a value
        the runner's SQL refused when it met it (`Not supported: ...`) is an UnsupportedConstruct, as it is in a
        script."""
        text = self.driver.clean_error(error)
        refused = refused_construct(text)
        if refused is not None:
            return UnsupportedConstruct(refused, source="<statement>")
        number, message = server_error(text)
        return ScriptError(message, source="<statement>", number=number if number != 50000 else None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.statements += 1
        _columns, rows = self.engine.execute(sql, params)
        self._last_rowcount = self.engine.rowcount
        return rows

    def columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[str, ...]:
        translated, order = self.engine.translate_dml(sql)
        try:
            cursor = self.driver.run(f"SELECT * FROM ({translated}) LIMIT 0", [params[int(i)] for i in order])
            cursor.fetchall()
        except self.driver.error_types as error:
            raise self._statement_error(error) from None
        return tuple(d[0] for d in cursor.description)

    def describe_query(self, sql: str, params: Sequence[Any] = ()) -> tuple[ResultColumn, ...] | None:
        """A single SELECT's columns; those read straight from a catalog table have its column's type.

        SQLite keeps no types for expressions, so a CASE, CAST or computed column has none here (SQL
        Server would know them). `SELECT *`, set operations and anything not a SELECT give None.
        """
        try:
            statements = sqlglot.parse(sql, read="tsql")
        except (SqlglotError, RecursionError):  # what sqlglot cannot read is simply not described
            return None
        if len(statements) != 1 or not isinstance(statements[0], exp.Select):
            return None
        select = statements[0]
        if not select.expressions or any(
            isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for p in select.expressions
        ):
            return None
        catalog = self.catalog()
        source = select.args.get("from_") or select.args.get("from")
        joins = list(select.args.get("joins") or [])
        tables = {}
        all_known = True
        for node in ([source.this] if source is not None else []) + [j.this for j in joins]:
            schema = node.args.get("db") if isinstance(node, exp.Table) else None
            table = None
            if isinstance(node, exp.Table) and node.args.get("catalog") is None and (
                schema is None or schema.name.lower() == "dbo"
            ):
                table = catalog.table(f"dbo.{node.name}")
            if table is None:
                all_known = False  # a derived or temp table: its columns' types are unknown
            else:
                tables[node.alias_or_name.lower()] = table
        outer = any(j.side for j in joins)  # an outer join can make any column NULL
        described = []
        for projection in select.expressions:
            node = projection.this if isinstance(projection, exp.Alias) else projection
            column = None
            if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
                if node.table:
                    table = tables.get(node.table.lower())
                    column = table.column(node.name) if table is not None else None
                elif all_known:
                    found = [c for t in tables.values() if (c := t.column(node.name)) is not None]
                    column = found[0] if len(found) == 1 else None
            if column is not None and outer:
                column = dataclasses.replace(column, nullable=True)
            described.append(ResultColumn(projection.alias_or_name, column))
        return tuple(described)

    def check_values(
        self, sql: str, params: Sequence[Any], columns: Sequence[ResultColumn]
    ) -> tuple[ResultColumn, ...]:
        """Keep a column's declared type only if every value the query returns for it obeys that type.

        SQLite does not enforce declared types on writes (an `int` column can hold 1.5 or 'abc', an
        `nvarchar(50)` 60 characters), where SQL Server refuses or converts such values. So the types
        are checked against the query's rows with SQLite's own functions, in one scan (a single
        date column is checked once per distinct value, in a second); a column whose values stray
        loses its type, and says why. About 1 microsecond per row for the benchmark's six columns.
        """
        described = list(columns)
        checks = {i: check for i, c in enumerate(described)
                  if c.type is not None and (check := stored_value_fits(f"q.{quote(c.name)}", c.type))}
        if not checks:
            return tuple(described)
        translated, order = self.engine.translate_dml(sql)
        values = [params[int(i)] for i in order]
        # A date's check parses it; a batch repeats few days, so one date column is checked once per
        # distinct value (a second scan). With several, one scan that checks every row is cheaper.
        dates = [i for i in checks if described[i].type.data_type == "date"]  # type: ignore[union-attr]
        if len(dates) > 1:
            dates = []
        scan = [i for i in checks if i not in dates]
        flags = dict.fromkeys(checks, 0)
        try:
            if scan:
                conditions = ", ".join(f"MAX(CASE WHEN {checks[i]} THEN 0 ELSE 1 END)" for i in scan)
                row = self.driver.run(f"SELECT {conditions} FROM ({translated}) AS q", values).fetchone()
                flags.update({i: int(stray or 0) for i, stray in zip(scan, row, strict=True)})
            for i in dates:
                distinct = f"SELECT DISTINCT {quote(described[i].name)} FROM ({translated})"
                check = f"SELECT MAX(CASE WHEN {checks[i]} THEN 0 ELSE 1 END) FROM ({distinct}) AS q"
                flags[i] = int(self.driver.run(check, values).fetchone()[0] or 0)
        except self.driver.error_types as error:
            raise self._statement_error(error) from None
        for i, stray in flags.items():
            column = described[i]
            if stray and column.type is not None:
                described[i] = ResultColumn(
                    column.name, None,
                    f"is {column.type.type_text}, but the sandbox holds values that type does not allow "
                    "(SQLite does not enforce declared types)",
                )
        return tuple(described)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.statements += 1
        translated, order = self.engine.translate_dml(sql)
        positions = [int(i) for i in order]
        self._collation_refusal()  # what an earlier statement left is not this one's
        try:
            cursor = self.driver.run_many(translated, [[row[p] for p in positions] for row in rows])
        except self.driver.error_types as error:
            raise self._statement_error(error) from None
        self._last_rowcount = cursor.rowcount
        if (refusal := self._collation_refusal()) is not None:
            raise UnsupportedConstruct(refusal, source="<statement>")

    def stream(self, sql: str, params: Sequence[Any] = (), chunk: int = 5000) -> Iterator[list[Row]]:
        self.statements += 1
        translated, order = self.engine.translate_dml(sql)
        try:
            cursor = self.driver.run(translated, [params[int(i)] for i in order])
        except self.driver.error_types as error:
            raise self._statement_error(error) from None
        self._collation_refusal()
        while True:
            rows = cursor.fetchmany(chunk)
            if (refusal := self._collation_refusal()) is not None:
                raise UnsupportedConstruct(refusal, source="<statement>")
            if not rows:
                return
            yield [tuple(r) for r in rows]

    def _collation_refusal(self) -> str | None:
        """What SQL Server's collation could answer otherwise than the sandbox's model (collation.py),
        for statements run here straight on the driver (the engine checks its own)."""
        return self.engine.collations.take() if self.engine.collations is not None else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. A nested block is a savepoint: its failure undoes only its own work, and
        the enclosing block goes on (and can still roll back everything)."""
        if self.engine.trancount == 0:
            self.engine.begin()
            try:
                yield
            except BaseException:
                if self.engine.trancount:
                    self.engine.rollback()
                raise
            else:
                self.engine.commit()
            return
        self._savepoints += 1
        name = f'"opus_savepoint_{self._savepoints}"'
        self.driver.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self.engine.trancount:  # a script's own ROLLBACK may already have ended everything
                self.driver.run(f"ROLLBACK TO {name}")
                self.driver.run(f"RELEASE {name}")
                self.engine.changed()
            raise
        else:
            if self.engine.trancount:
                self.driver.run(f"RELEASE {name}")

    @property
    def rowcount(self) -> int:
        return self._last_rowcount

    # -- schema ----------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        snapshot = self.engine.catalog(fresh=True)
        self.catalog_queries += snapshot.queries
        return snapshot.catalog
