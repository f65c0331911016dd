"""The SQL Server target: T-SQL sent verbatim over pyodbc, a script's GO batches in one transaction."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from ..batches import Batch, split_batches
from ..catalog import Catalog, Column
from ..errors import DeploymentLockError, ScriptError
from ..secrets import mask_dsn, redact, secret_values
from ..tsql.dialect import parse_type
from . import _odbc
from .base import BatchResult, Message, MessageSink, ResultColumn, ResultSet, Row, ScriptResult, Target
from .locking import DEFAULT_LOCK_WAIT_SECONDS, application_lock
from .sqlserver_catalog import (
    COLUMNS_QUERY,
    CONSTRAINTS_QUERY,
    PARAMETERS_QUERY,
    ColumnRow,
    ConstraintRow,
    ParameterRow,
    build_catalog,
)

#: The columns of a query's first result set, as the server would return them (SQL Server 2012+).
DESCRIBE_QUERY = (
    "SELECT name, system_type_name, is_nullable, error_message "
    "FROM sys.dm_exec_describe_first_result_set(?, NULL, 0) "
    "WHERE ISNULL(is_hidden, 0) = 0 ORDER BY column_ordinal"
)


@dataclass(frozen=True)
class TransactionStatements:
    """The statements that wrap a script in one transaction, and the probe that checks it stayed open.

    SQL Server's are the defaults; another engine reached over ODBC supplies its own (`depth` is None
    where the engine has no @@TRANCOUNT, and the nesting check is then skipped).
    """

    begin: str = "BEGIN TRANSACTION"
    commit: str = "COMMIT TRANSACTION"
    # A batch-aborting error (or XACT_ABORT) may already have rolled the transaction back.
    rollback: str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION"
    depth: str | None = "SELECT @@TRANCOUNT"


SQLSERVER_TRANSACTION = TransactionStatements()


def message_kind(diagnostic: _odbc.Diagnostic) -> str:
    """The kind of a message the server sent while a batch ran: "print", "info" or "warning".

    PRINT arrives as SQLSTATE 01000 with message number 0, and RAISERROR of severity 10 or less as
    01000 with its message number (50000 for ad-hoc text, user-defined ones are above): both are
    the script's own output. Other 01000 messages are the server's notes ("Changed database
    context..."); any other class-01 state is a real warning (01003 NULL eliminated by an aggregate,
    01004 string data truncated).
    """
    if diagnostic.state == "01000":
        return "print" if diagnostic.native == 0 or diagnostic.native >= 50000 else "info"
    return "warning" if diagnostic.is_info else "info"


def to_message(diagnostic: _odbc.Diagnostic) -> Message:
    return Message(diagnostic.text, kind=message_kind(diagnostic))


# The ODBC driver does not pass on the server's line number, but a message in sqlcmd's format
# (relayed by some tools) carries it; the procedure form is skipped, its line is not in the batch.
_SERVER_LINE = re.compile(r"^Msg \d+, Level \d+, State \d+, Line (?P<line>\d+)\b")


def first_code_line(batch: Batch) -> int:
    """The line of a batch's first line that is neither blank nor a `--` comment.

    Where the server does not say which line failed, this is the closest honest answer: it points
    at the batch's first statement rather than at the blank line or comment after the GO.
    """
    for offset, line in enumerate(batch.text.splitlines()):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            return batch.start_line + offset
    return batch.start_line


def batch_error(
    records: Sequence[_odbc.Diagnostic],
    *,
    source: str,
    number: int,
    batch: Batch,
    clean: Callable[[str], str],
) -> ScriptError:
    """The ScriptError for a batch that failed with these diagnostic records.

    The line is that of the batch's first statement unless the message says where it failed.
    """
    failures = [r for r in records if not r.is_info] or list(records)
    text = clean("; ".join(r.text for r in failures) or "the driver reported an error without a message")
    where = _SERVER_LINE.match(text)
    line = batch.start_line + int(where["line"]) - 1 if where is not None else first_code_line(batch)
    return ScriptError(text, source=source, batch=number, line=line, number=failures[0].native or None)


class _TransactionDepth:
    """Follows @@TRANCOUNT across batches so a script that unbalances it is caught and named."""

    def __init__(self, probe: str | None) -> None:
        self.probe = probe
        self.depth = 1
        self.raised_by: int | None = None  # the batch since which the count has stayed above 1

    def after(self, connection: Any, number: int) -> str | None:
        """Read the count after batch `number`; the problem when it dropped to 0, else None."""
        if self.probe is None:
            return None
        cursor = connection.cursor()
        try:
            cursor.execute(self.probe)
            self.depth = int(cursor.fetchone()[0])
        finally:
            cursor.close()
        if self.depth == 0:
            return (
                "this batch ended the script's transaction (a COMMIT or ROLLBACK without a matching "
                "BEGIN TRANSACTION; @@TRANCOUNT is 0 after it), so the runner can no longer roll the "
                "script back: what the batches up to here did may already be committed. A script may "
                "use BEGIN TRANSACTION/COMMIT only in balanced pairs"
            )
        if self.depth == 1:
            self.raised_by = None
        elif self.raised_by is None:
            self.raised_by = number
        return None

    def unbalanced(self, source: str, batches: Sequence[Batch]) -> ScriptError | None:
        """The error for a script that ends with transactions of its own still open."""
        if self.depth <= 1 or self.raised_by is None:
            return None
        return ScriptError(
            f"the script left {self.depth - 1} transaction(s) open (BEGIN TRANSACTION without COMMIT, "
            f"@@TRANCOUNT {self.depth} after the last batch, first raised by this batch); "
            "everything was rolled back",
            source=source,
            batch=self.raised_by,
            line=first_code_line(batches[self.raised_by - 1]),
        )


def _drain(cursor: Any, sql: str, into: BatchResult, emit: Callable[[Message], None]) -> None:
    """Run one batch and read everything it returns, step by step, until the driver has no more.

    Messages are read after every step because pyodbc replaces `cursor.messages` on each
    `execute`/`nextset`; and `nextset` is called until it says False because an error raised by a
    later statement only surfaces there.
    """
    cursor.execute(sql)
    while True:
        for entry in getattr(cursor, "messages", None) or ():
            emit(to_message(_odbc.parse_message(entry)))
        if cursor.description is not None:
            columns = tuple(d[0] for d in cursor.description)
            into.result_sets.append(ResultSet(columns, [tuple(row) for row in cursor.fetchall()]))
        elif cursor.rowcount is not None and cursor.rowcount >= 0:
            into.rowcount = max(into.rowcount, 0) + cursor.rowcount
        if not cursor.nextset():
            return


def _control(connection: Any, sql: str) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def run_batches(
    connection: Any,
    batches: Sequence[Batch],
    *,
    db_error: type[BaseException],
    source: str = "<script>",
    statements: TransactionStatements = SQLSERVER_TRANSACTION,
    clean: Callable[[str], str] = lambda text: text,
    on_message: MessageSink | None = None,
) -> ScriptResult:
    """Run `batches` on a DB-API connection (pyodbc's, or one shaped like it) as one transaction.

    Each batch is sent verbatim, `repeat` times, and drained (see `_drain`). The first error stops
    the run and rolls everything back. `db_error` is the driver's exception class, `clean` redacts
    secrets from every text taken from the driver. `connection.autocommit` is restored afterwards.
    """
    started = time.perf_counter()
    result = ScriptResult(source=source)
    if not batches:
        result.error = ScriptError("the script holds no SQL (it is empty or only comments)", source=source)
        return result

    def emit_into(batch_result: BatchResult) -> Callable[[Message], None]:
        def emit(message: Message) -> None:
            message = Message(clean(message.text), kind=message.kind, line=message.line)
            batch_result.messages.append(message)
            if on_message is not None:
                on_message(message)

        return emit

    depth = _TransactionDepth(statements.depth)
    saved_autocommit = connection.autocommit
    # The transaction is opened with an explicit BEGIN on an autocommit connection rather than by
    # switching autocommit off: with autocommit off, SQL Server's driver uses implicit transactions,
    # where @@TRANCOUNT stays 0 until some statement happens to open one (a batch of PRINTs does
    # not) and a script's own BEGIN TRANSACTION at that point opens two. An explicit BEGIN makes
    # @@TRANCOUNT exactly 1 when the first batch starts, so a batch that commits it is detectable.
    connection.autocommit = True
    is_open = False
    try:
        try:
            _control(connection, statements.begin)
        except db_error as exc:
            result.error = _whole_script_error("could not start the transaction", exc, source, clean)
            return result
        is_open = True
        for number, batch in enumerate(batches, 1):
            batch_result = BatchResult(number=number, start_line=batch.start_line)
            result.batches.append(batch_result)
            emit = emit_into(batch_result)
            batch_started = time.perf_counter()
            try:
                for _ in range(batch.repeat):
                    cursor = connection.cursor()
                    try:
                        _drain(cursor, batch.text, batch_result, emit)
                    finally:
                        cursor.close()
                    problem = depth.after(connection, number)
                    if problem is not None:
                        batch_result.error = ScriptError(
                            problem, source=source, batch=number, line=first_code_line(batch)
                        )
                        break
            except db_error as exc:
                records = _odbc.error_records(exc)
                # A PRINT that came just before the failure can arrive inside the exception; it
                # still belongs in the output (unless it is all the driver said, then it is the error).
                if any(not r.is_info for r in records):
                    for record in records:
                        if record.is_info:
                            emit(to_message(record))
                batch_result.error = batch_error(
                    records, source=source, number=number, batch=batch, clean=clean
                )
            batch_result.seconds = time.perf_counter() - batch_started
            if batch_result.error is not None:
                result.error = batch_result.error
                return result
        result.error = depth.unbalanced(source, batches)
        if result.error is None:
            try:
                _control(connection, statements.commit)
            except db_error as exc:
                result.error = _whole_script_error("COMMIT failed, nothing was kept", exc, source, clean)
                return result
            is_open = False
            result.committed = True
        return result
    finally:
        if is_open:
            try:
                _control(connection, statements.rollback)
            except db_error as exc:
                note = clean("; ".join(r.text for r in _odbc.error_records(exc)))
                if result.error is not None:
                    result.error = _with_note(result.error, f"and the ROLLBACK failed too: {note}")
        connection.autocommit = saved_autocommit
        result.seconds = time.perf_counter() - started


def _whole_script_error(
    what: str, exc: BaseException, source: str, clean: Callable[[str], str]
) -> ScriptError:
    text = clean("; ".join(r.text for r in _odbc.error_records(exc)))
    return ScriptError(f"{what}: {text}", source=source)


def _with_note(error: ScriptError, note: str) -> ScriptError:
    return ScriptError(
        f"{error.message} ({note})",
        source=error.source,
        batch=error.batch,
        line=error.line,
        number=error.number,
    )


class SqlServerTarget(Target):
    """A SQL Server database reached through pyodbc and an ODBC driver (17 or 18).

    Scripts: every GO batch is sent as written, in order, inside one explicit transaction that is
    committed only when all batches succeeded and rolled back at the first error, which is reported
    with the script, batch number, line (the line of the batch's first statement: the ODBC driver
    does not relay the server's line within the batch) and the server's message.

    A script may use BEGIN TRANSACTION / COMMIT of its own, but only in balanced pairs: @@TRANCOUNT
    is checked after every batch, and a batch that brings it to 0 (committing or rolling back the
    runner's transaction), or a script that ends with transactions still open, fails. Statements
    that SQL Server refuses inside a transaction (CREATE DATABASE, ALTER DATABASE, BACKUP, ...)
    therefore fail too.

    Statements (`execute`, `executemany`, `stream`, `columns_of`): the connection runs with
    autocommit off; outside a `transaction()` block each call commits on success and rolls back on
    error, inside one they commit together when the block ends. While a `stream` is being read the
    connection is busy, so no other statement may run until it is exhausted or closed.

    No text taken from the driver reaches an exception or a message without the DSN's password
    being redacted first, and `display_name` is the DSN with the password masked.
    """

    kind = "sqlserver"
    persistent = True
    #: how a script's transaction is opened, checked and closed
    script_transaction: TransactionStatements = SQLSERVER_TRANSACTION
    #: pyodbc's array parameter binding for executemany: one round trip instead of one per row
    fast_executemany: bool = True

    def __init__(self, dsn: str, *, timeout: int = 30, connection: Any = None) -> None:
        """Connect to `dsn` (an ODBC connection string); `timeout` is the login timeout in seconds.

        `connection` is an already open pyodbc connection (autocommit off) to use instead; `dsn`
        then only names the target and tells which password to redact.
        Raises ConfigError (password masked) when pyodbc, unixODBC or the driver is missing, or the
        server refuses the connection.
        """
        super().__init__(mask_dsn(dsn))
        self._secrets = secret_values(dsn)
        self._pyodbc = _odbc.load_pyodbc()
        self._connection: Any = (
            connection if connection is not None else _odbc.connect(dsn, autocommit=False, timeout=timeout)
        )
        self._transaction_depth = 0
        self._doomed_by: str | None = None  # the failure of a nested block, which dooms the transaction
        self._rowcount = -1

    # -- helpers ---------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return redact(text, *self._secrets)

    def _require_open(self) -> Any:
        if self._connection is None:
            raise ScriptError("the target is closed", source=self.display_name)
        return self._connection

    def _error(self, exc: BaseException, source: str = "<statement>") -> ScriptError:
        records = _odbc.error_records(exc)
        failures = [r for r in records if not r.is_info] or records
        return ScriptError(
            self._clean("; ".join(r.text for r in failures)), source=source, number=failures[0].native or None
        )

    def _end_transaction(self, commit: bool) -> None:
        connection = self._require_open()
        try:
            if commit:
                connection.commit()
            else:
                connection.rollback()
        except self._pyodbc.Error as exc:
            raise self._error(exc, "COMMIT" if commit else "ROLLBACK") from None

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor for one call; outside transaction() the call commits or rolls back on its own."""
        cursor = self._require_open().cursor()
        succeeded = False
        try:
            yield cursor
            succeeded = True
        except self._pyodbc.Error as exc:
            # `from None`: pyodbc's own text is not redacted, so it must not ride along as the cause.
            raise self._error(exc) from None
        finally:
            # Closing first discards unread results, which the driver requires before commit/rollback.
            cursor.close()
            if self._transaction_depth == 0:
                self._end_transaction(commit=succeeded)

    @staticmethod
    def _send(cursor: Any, sql: str, params: Sequence[Any]) -> None:
        if params:
            cursor.execute(sql, tuple(params))
        else:
            cursor.execute(sql)

    @staticmethod
    def _skip_remaining_results(cursor: Any) -> None:
        # Later result sets are not returned, but an error raised by a later statement only
        # surfaces when the driver is asked for the next set.
        while cursor.nextset():
            pass

    def _query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Row], int]:
        with self._cursor() as cursor:
            self._send(cursor, sql, params)
            rowcount = cursor.rowcount
            rows = [tuple(row) for row in cursor.fetchall()] if cursor.description is not None else []
            self._skip_remaining_results(cursor)
        return rows, rowcount

    # -- scripts ---------------------------------------------------------------------------------
    def execute_script(
        self, text: str, *, source: str = "<script>", on_message: MessageSink | None = None
    ) -> ScriptResult:
        if self._transaction_depth:
            result = ScriptResult(source=source)
            result.error = ScriptError(
                "a script cannot run inside transaction(): it commits or rolls back on its own", source=source
            )
            return result
        try:
            batches = split_batches(text, source=source)
        except ScriptError as exc:
            result = ScriptResult(source=source)
            result.error = exc
            return result
        return run_batches(
            self._require_open(),
            batches,
            db_error=self._pyodbc.Error,
            source=source,
            statements=self.script_transaction,
            clean=self._clean,
            on_message=on_message,
        )

    def deployment_lock(
        self, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS, holder: str = ""
    ) -> AbstractContextManager[None]:
        """SQL Server's application lock 'pytest-opus deployment' in the connected database, owned by
        this session (see `locking.application_lock`): it spans the script's own transaction and
        ends with the session if the process dies. The holder a waiting run is told about is the
        session as sys.dm_tran_locks and sys.dm_exec_sessions show it (login, host, client pid,
        program, login time), which needs VIEW SERVER STATE; `holder` is not published, since a
        session has no place other sessions can read it from without changing its settings.
        """
        if self._transaction_depth:
            # The lock's statements run with autocommit on, which would commit the open transaction.
            raise DeploymentLockError(
                "the deployment lock cannot be taken inside transaction(): take it before the transaction starts"
            )
        return application_lock(
            self._require_open(),
            db_error=self._pyodbc.Error,
            wait_seconds=wait_seconds,
            target=self.display_name,
            clean=self._clean,
        )

    # -- statements ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows, self._rowcount = self._query(sql, params)
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        values = [tuple(row) for row in rows]
        if not values:
            self._rowcount = 0
            return
        with self._cursor() as cursor:
            cursor.fast_executemany = self.fast_executemany
            cursor.executemany(sql, values)
            self._rowcount = cursor.rowcount

    def stream(self, sql: str, params: Sequence[Any] = (), chunk: int = 5000) -> Iterator[list[Row]]:
        with self._cursor() as cursor:
            self._send(cursor, sql, params)
            if cursor.description is None:
                return
            while rows := cursor.fetchmany(chunk):
                yield [tuple(row) for row in rows]
            self._skip_remaining_results(cursor)

    def columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[str, ...]:
        with self._cursor() as cursor:
            self._send(cursor, sql, params)
            description = cursor.description
        return tuple(d[0] for d in description) if description is not None else ()

    def describe_query(self, sql: str, params: Sequence[Any] = ()) -> tuple[ResultColumn, ...] | None:
        """The query's first result set as SQL Server describes it (`sys.dm_exec_describe_first_result_set`),
        without running it. None for a query with `?` parameters (their types would have to be declared)
        or one the server cannot describe; the caller then learns the columns by running the query."""
        if params:
            return None
        rows, _ = self._query(DESCRIBE_QUERY, [sql])
        if not rows or any(error is not None or name is None for name, _, _, error in rows):
            return None
        described = []
        for ordinal, (name, type_name, nullable, _) in enumerate(rows, start=1):
            data_type, length, precision, scale = parse_type(str(type_name))
            column = Column(str(name), ordinal, data_type, length, precision, scale, nullable=bool(nullable))
            described.append(ResultColumn(str(name), column))
        return tuple(described)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together at the end of the outermost block, or roll back together.

        Nested blocks join the outer one (there are no savepoints): a nested block that fails cannot
        be undone on its own, so it dooms the whole transaction. Even if the caller catches its
        error and goes on, the outermost block then rolls everything back and raises, rather than
        commit the half of the nested block's work that ran (a half-staged batch, say).
        """
        self._require_open()  # fail before the block runs, not at its end
        self._transaction_depth += 1
        try:
            yield
        except BaseException as exc:
            self._transaction_depth -= 1
            if self._transaction_depth == 0:
                self._doomed_by = None
                self._end_transaction(commit=False)
            elif self._doomed_by is None:
                self._doomed_by = f"{type(exc).__name__}: {exc}"
            raise
        self._transaction_depth -= 1
        if self._transaction_depth == 0:
            doomed_by, self._doomed_by = self._doomed_by, None
            if doomed_by is not None:
                self._end_transaction(commit=False)
                raise ScriptError(
                    f"a nested transaction() block failed ({self._clean(doomed_by)}); on SQL Server nested "
                    "blocks share the outer transaction and cannot be undone alone, so all of it was rolled back",
                    source=self.display_name,
                )
            self._end_transaction(commit=True)

    @property
    def rowcount(self) -> int:
        return self._rowcount

    # -- schema ----------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """Tables, views and procedures in three queries, however many objects the database holds."""
        results: list[list[Row]] = []
        for query in (COLUMNS_QUERY, CONSTRAINTS_QUERY, PARAMETERS_QUERY):
            self.catalog_queries += 1
            results.append(self._query(query)[0])
        columns, constraints, parameters = results
        return build_catalog(
            [ColumnRow(*row) for row in columns],
            [ConstraintRow(*row) for row in constraints],
            [ParameterRow(*row) for row in parameters],
        )

    def close(self) -> None:
        """Close the connection; work not yet committed is rolled back by the driver."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except self._pyodbc.Error as exc:
            raise self._error(exc, "<close>") from None
