"""The SQL Server target: T-SQL sent verbatim over pyodbc, a script's GO batches in one transaction."""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from ..batches import Batch, split_batches
from ..catalog import Catalog, Column
from ..errors import ConfigError, DeploymentLockError, ScriptError
from ..secrets import mask_dsn, redact, secret_values
from ..sqltypes import (
    DECIMALS,
    DEFAULT_PRECISION,
    MAX_FRACTIONAL_SECONDS,
    MONEY_PRECISION,
    MONEY_SCALE,
    SHORT_STRINGS,
    STRINGS,
    read_type,
)
from . import _odbc
from .base import (
    BatchResult,
    Message,
    MessageSink,
    ParamTypes,
    ResultColumn,
    ResultSet,
    Row,
    ScriptResult,
    Target,
)
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

#: How long a statement waits for a lock another session holds before it fails with error 1222, in
#: seconds. SQL Server's own default (-1) waits forever: an ALTER TABLE behind the sync job's open
#: transaction on a staging table would hang the deployment with no message.
DEFAULT_LOCK_TIMEOUT_SECONDS = 30.0
#: How long the driver lets one statement run before it cancels it (pyodbc's `connection.timeout`),
#: in seconds; 0 is no limit, as in sqlcmd and SSMS: a long CREATE INDEX is legitimate, and waiting
#: for locks is bounded by the lock timeout instead.
DEFAULT_QUERY_TIMEOUT_SECONDS = 0
#: The environment variables `open_target` reads the two timeouts from (opus-sql and the plugin).
LOCK_TIMEOUT_ENV = "OPUS_LOCK_TIMEOUT"
QUERY_TIMEOUT_ENV = "OPUS_QUERY_TIMEOUT"
#: SQL Server's "Lock request time out period exceeded." (the statement is cancelled, its transaction is not).
LOCK_TIMEOUT_ERROR = 1222
#: The SQLSTATEs of a query the driver cancelled after the query timeout (HYT00) or connection timeout (HYT01).
TIMEOUT_STATES = frozenset({"HYT00", "HYT01"})


# -- binding parameters by the column they meet ------------------------------------------------------

#: The ODBC SQL type each column type is bound as (pyodbc's SQL_* constants, by name). Character
#: types keep their own width: a Python str is otherwise sent as NVARCHAR, and an NVARCHAR parameter
#: compared with a VARCHAR column converts the column (data type precedence), so under a SQL collation
#: its index is scanned instead of sought. Dates go as text: the staging converters produce ISO text,
#: which SQL Server reads as a date whatever the session's DATEFORMAT.
_SQL_TYPE_NAMES = {
    "char": "SQL_VARCHAR", "varchar": "SQL_VARCHAR", "text": "SQL_VARCHAR",
    "nchar": "SQL_WVARCHAR", "nvarchar": "SQL_WVARCHAR", "ntext": "SQL_WVARCHAR",
    "bigint": "SQL_BIGINT", "int": "SQL_INTEGER", "smallint": "SQL_SMALLINT", "tinyint": "SQL_TINYINT",
    "bit": "SQL_BIT", "decimal": "SQL_DECIMAL", "numeric": "SQL_NUMERIC", "money": "SQL_DECIMAL",
    "float": "SQL_DOUBLE", "real": "SQL_REAL", "date": "SQL_WVARCHAR",
    "datetime": "SQL_TYPE_TIMESTAMP", "datetime2": "SQL_TYPE_TIMESTAMP", "smalldatetime": "SQL_TYPE_TIMESTAMP",
    "uniqueidentifier": "SQL_GUID",
}  # fmt: skip


def input_size(pyodbc: Any, column: Column | None) -> tuple[int, int, int] | None:
    """pyodbc's `setinputsizes` entry for a value that meets `column`: (SQL type, size, digits).

    Text is bound with the column's length (0 for MAX, which pyodbc sends as a stream of any length),
    decimals with their precision and scale; None (the driver's own choice) for a type not listed.
    With `fast_executemany` this is what sizes pyodbc's buffers: without it they come from
    SQLDescribeParam, which cannot describe a marker inside a derived table and leaves them too small
    ("String data, right truncation").
    """
    if column is None:
        return None
    kind = column.data_type
    name = _SQL_TYPE_NAMES.get(kind)
    if name is None:
        return None
    code = int(getattr(pyodbc, name))
    if kind in SHORT_STRINGS:
        length = column.max_length
        return code, 0 if length is None or length <= 0 else int(length), 0
    if kind in STRINGS:  # text, ntext: no length
        return code, 0, 0
    if kind in DECIMALS:
        return code, int(column.precision or DEFAULT_PRECISION), int(column.scale or 0)
    if kind == "money":
        return code, MONEY_PRECISION["money"], MONEY_SCALE
    if kind == "date":
        return code, 10, 0
    if kind == "datetime2":
        scale = MAX_FRACTIONAL_SECONDS if column.scale is None else int(column.scale)
        return code, 20 + scale if scale else 19, scale
    if kind == "datetime":
        return code, 23, 3
    if kind == "smalldatetime":
        return code, 16, 0
    return code, 0, 0


# -- Multiple Active Result Sets ------------------------------------------------------------------------

#: The DSN keywords that turn MARS on or off: ODBC Driver 17/18's own, and ADO.NET's spelling.
_MARS_KEY = re.compile(r"(?:^|;)\s*(?:MARS_Connection|MultipleActiveResultSets)\s*=\s*(?P<value>[^;]*)", re.I)


def mars_setting(dsn: str) -> bool | None:
    """Whether the DSN turns MARS on (True) or off (False); None when it does not say."""
    match = _MARS_KEY.search(dsn)
    if match is None:
        return None
    return match["value"].strip().strip("{}").lower() in ("yes", "true", "1")


def with_mars(dsn: str) -> str:
    """The DSN with `MARS_Connection=yes` added where it does not say either way.

    Without MARS, SQL Server serves one request per connection at a time: a statement sent while the
    rows of another are still unread fails with "Connection is busy with results for another
    command" (Using Multiple Active Result Sets, Microsoft's ODBC driver documentation). Streamed
    staging reads its source in chunks and inserts between them, on one connection and in one
    transaction; MARS is Microsoft's way to interleave them. A DSN that says MARS_Connection=no is
    respected: the source is then read to its end before the first insert (see `stream`).
    """
    if mars_setting(dsn) is not None:
        return dsn
    return dsn.rstrip().rstrip(";") + ";MARS_Connection=yes"


@dataclass(frozen=True)
class SessionSettings:
    """What every statement on the target's connection runs under.

    `lock_timeout`: seconds a statement waits for a lock before SQL Server fails it with error 1222
    (`SET LOCK_TIMEOUT`, set once per connection); None or -1 waits forever. `query_timeout`: seconds the
    driver lets a statement run before cancelling it (SQLSTATE HYT00); 0 is no limit. A query timeout
    shorter than the deployment lock's wait cuts that wait short.
    """

    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT_SECONDS
    query_timeout: int = DEFAULT_QUERY_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        lock = self.lock_timeout
        if lock is not None and (
            isinstance(lock, bool)
            or not isinstance(lock, int | float)
            or not math.isfinite(lock)
            or (lock < 0 and lock != -1)
        ):
            raise ConfigError(
                f"the lock timeout must be a number of seconds, 0 or more (-1 or None: wait forever), "
                f"got {lock!r}: set lock_timeout= or {LOCK_TIMEOUT_ENV}"
            )
        query = self.query_timeout
        if isinstance(query, bool) or not isinstance(query, int) or query < 0:
            raise ConfigError(
                f"the query timeout must be a whole number of seconds, 0 (no limit) or more, got {query!r}: "
                f"set query_timeout= or {QUERY_TIMEOUT_ENV}"
            )

    @property
    def lock_timeout_ms(self) -> int:
        """The value of `SET LOCK_TIMEOUT`: milliseconds, -1 for no limit."""
        return -1 if self.lock_timeout is None or self.lock_timeout == -1 else round(self.lock_timeout * 1000)

    def advice(self, records: Sequence[_odbc.Diagnostic]) -> str | None:
        """What to do about a statement that failed with these records, when it was a timeout."""
        if any(r.native == LOCK_TIMEOUT_ERROR for r in records):
            waited = "none" if self.lock_timeout_ms == -1 else f"{self.lock_timeout:g} s"
            return (
                f"SQL Server gave up waiting for a lock that another session holds (lock timeout: {waited}). "
                "On the staging tables that is usually the monday sync job's open transaction: retry when it "
                f"is idle, or wait longer with the lock timeout option (lock_timeout=SECONDS, or {LOCK_TIMEOUT_ENV}). "
                "Nothing of this statement was kept"
            )
        if any(r.state in TIMEOUT_STATES for r in records):
            return (
                f"The driver cancelled the statement after the query timeout ({self.query_timeout} s). If it "
                "was waiting for a lock on the staging tables, the monday sync job holds it: retry when it is "
                f"idle; otherwise raise the query timeout option (query_timeout=SECONDS, or {QUERY_TIMEOUT_ENV}; "
                "0 is no limit)"
            )
        return None


def with_advice(text: str, advice: str | None) -> str:
    """The driver's `text` followed by `advice` (see `SessionSettings.advice`) as a sentence of its own."""
    if not advice:
        return text
    text = text.rstrip()
    return f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {advice}."


@dataclass(frozen=True)
class SessionStatements:
    """The statements that set the session's lock timeout and read its SET options; None where the
    engine reached over ODBC has no such thing (then it is not set, or not restored)."""

    lock_timeout: str | None = "SET LOCK_TIMEOUT {milliseconds}"
    probe: str | None = "SELECT @@OPTIONS, @@LOCK_TIMEOUT"


SQLSERVER_SESSION = SessionStatements()

#: The SET options a script can leave changed on the connection that change how the library's own
#: statements behave (NOCOUNT: `rowcount` becomes -1; XACT_ABORT: any error rolls back the whole
#: transaction; ANSI_WARNINGS, ARITHABORT, ...: errors become NULLs), by their bit in @@OPTIONS.
#: IMPLICIT_TRANSACTIONS is not here: the driver sets it whenever autocommit changes.
SESSION_OPTIONS: dict[str, int] = {
    "CURSOR_CLOSE_ON_COMMIT": 4,
    "ANSI_WARNINGS": 8,
    "ANSI_PADDING": 16,
    "ANSI_NULLS": 32,
    "ARITHABORT": 64,
    "ARITHIGNORE": 128,
    "QUOTED_IDENTIFIER": 256,
    "NOCOUNT": 512,
    "CONCAT_NULL_YIELDS_NULL": 4096,
    "NUMERIC_ROUNDABORT": 8192,
    "XACT_ABORT": 16384,
}


@dataclass(frozen=True)
class SessionState:
    """A session's SET options (@@OPTIONS) and lock timeout (@@LOCK_TIMEOUT, milliseconds)."""

    options: int
    lock_timeout: int

    def restore_from(self, current: SessionState) -> str | None:
        """The SET statements that bring a session now in `current` back to this state; None if equal."""
        changed = self.options ^ current.options
        sets = [
            f"SET {name} {'ON' if self.options & bit else 'OFF'}"
            for name, bit in SESSION_OPTIONS.items()
            if changed & bit
        ]
        if self.lock_timeout != current.lock_timeout:
            sets.append(f"SET LOCK_TIMEOUT {self.lock_timeout}")
        return "; ".join(sets) + ";" if sets else None


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
    advise: Callable[[Sequence[_odbc.Diagnostic]], str | None] = lambda records: None,
) -> ScriptError:
    """The ScriptError for a batch that failed with these diagnostic records.

    The line is that of the batch's first statement unless the message says where it failed.
    `advise` says what to do about some failures (a lock or query timeout); it is appended.
    """
    failures = [r for r in records if not r.is_info] or list(records)
    text = clean("; ".join(r.text for r in failures) or "the driver reported an error without a message")
    where = _SERVER_LINE.match(text)
    text = with_advice(text, advise(failures))
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
    advise: Callable[[Sequence[_odbc.Diagnostic]], str | None] = lambda records: None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> ScriptResult:
    """Run `batches` on a DB-API connection (pyodbc's, or one shaped like it) as one transaction.

    Each batch is sent verbatim, `repeat` times, and drained (see `_drain`). The first error stops
    the run and rolls everything back. `db_error` is the driver's exception class, `clean` redacts
    secrets from every text taken from the driver, `advise` adds what to do to some errors (see
    `batch_error`). `on_batch` is told of each batch as soon as it has run (failed or not), before
    the next one is sent. `connection.autocommit` is restored afterwards; the session's SET options
    are the caller's to restore (`SqlServerTarget.execute_script` does).
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
            result.error = _whole_script_error("could not start the transaction", exc, source, clean, advise)
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
                    records, source=source, number=number, batch=batch, clean=clean, advise=advise
                )
            batch_result.seconds = time.perf_counter() - batch_started
            if on_batch is not None:
                on_batch(batch_result)
            if batch_result.error is not None:
                result.error = batch_result.error
                return result
        result.error = depth.unbalanced(source, batches)
        if result.error is None:
            try:
                _control(connection, statements.commit)
            except db_error as exc:
                result.error = _whole_script_error("COMMIT failed, nothing was kept", exc, source, clean, advise)
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
    what: str,
    exc: BaseException,
    source: str,
    clean: Callable[[str], str],
    advise: Callable[[Sequence[_odbc.Diagnostic]], str | None] = lambda records: None,
) -> ScriptError:
    records = _odbc.error_records(exc)
    text = with_advice(clean("; ".join(r.text for r in records)), advise(records))
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

    After a script, the session's SET options (NOCOUNT, XACT_ABORT, ANSI_WARNINGS, ...) and lock
    timeout are put back as they were before it: a SET in a batch stays on the connection, and the
    library's statements rely on the defaults (NOCOUNT OFF for `rowcount`, XACT_ABORT OFF).

    Parameters of the typed forms (`execute_typed`, `executemany_typed`, `stream_typed`) are bound as
    the type and length of the column each meets (`input_size`); the plain forms let pyodbc choose.

    The connection is opened with MARS (`MARS_Connection=yes`, see `with_mars`) unless the DSN turns it
    off: then `stream` reads the whole result before returning its first chunk, since no other
    statement may run on the connection while rows are unread.

    Statements (`execute`, `executemany`, `stream`, `columns_of`): the connection runs with
    autocommit off; outside a `transaction()` block each call commits on success and rolls back on
    error. A `transaction()` block is an explicit transaction (autocommit on, BEGIN TRANSACTION
    before its first statement), so @@TRANCOUNT is exactly 1 inside it: a procedure that runs its own
    BEGIN/COMMIT TRANSACTION leaves it as it found it (under autocommit off, the driver's implicit
    transactions would make its BEGIN open two, and the call fail with error 266). Its statements
    commit together when the block ends. While a `stream` is being read the connection is busy, so
    no other statement may run until it is exhausted or closed.

    Every statement waits at most `lock_timeout` seconds for a lock (then fails with error 1222 and
    says what to do) and runs at most `query_timeout` seconds (0: no limit); see `SessionSettings`.

    No text taken from the driver reaches an exception or a message without the DSN's password
    being redacted first, and `display_name` is the DSN with the password masked.
    """

    kind = "sqlserver"
    persistent = True
    #: how a script's transaction is opened, checked and closed
    script_transaction: TransactionStatements = SQLSERVER_TRANSACTION
    #: how the session's lock timeout is set and its SET options read
    session_statements: SessionStatements = SQLSERVER_SESSION
    #: pyodbc's array parameter binding for executemany: one round trip instead of one per row
    fast_executemany: bool = True

    def __init__(
        self,
        dsn: str,
        *,
        timeout: int = 30,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT_SECONDS,
        query_timeout: int = DEFAULT_QUERY_TIMEOUT_SECONDS,
        connection: Any = None,
        configure_session: bool | None = None,
        mars: bool | None = None,
    ) -> None:
        """Connect to `dsn` (an ODBC connection string); `timeout` is the login timeout in seconds.

        `lock_timeout` and `query_timeout` (seconds) are set on the session before its first
        statement (see `SessionSettings` for their meaning and defaults).
        `connection` is an already open pyodbc connection (autocommit off) to use instead; `dsn`
        then only names the target and tells which password to redact. Its session is used as it is,
        unless `configure_session` is True (the default for a connection this target opens).
        `mars` says whether that connection has MARS (default: what `dsn` says, else no); a connection
        this target opens has it unless the DSN says MARS_Connection=no.
        Raises ConfigError (password masked) when pyodbc, unixODBC or the driver is missing, the
        server refuses the connection, or a timeout is not a valid number of seconds.
        """
        super().__init__(mask_dsn(dsn))
        self._secrets = secret_values(dsn)
        self.session = SessionSettings(lock_timeout, query_timeout)
        self._pyodbc = _odbc.load_pyodbc()
        if connection is None:
            connection = _odbc.connect(with_mars(dsn), autocommit=False, timeout=timeout)
            self.mars = mars_setting(with_mars(dsn)) is True
        else:
            self.mars = bool(mars_setting(dsn)) if mars is None else mars
        self._connection: Any = connection
        # Done before the first statement rather than here, so that opening a target sends nothing.
        self._configure_pending = connection is None if configure_session is None else configure_session
        self._transaction_depth = 0
        self._explicit_open = False  # whether the transaction() block's BEGIN TRANSACTION was sent
        self._doomed_by: str | None = None  # the failure of a nested block, which dooms the transaction
        self._rowcount = -1

    # -- helpers ---------------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return redact(text, *self._secrets)

    def _require_open(self) -> Any:
        if self._connection is None:
            raise ScriptError("the target is closed", source=self.display_name)
        if self._configure_pending:
            self._configure_pending = False
            self._configure_session(self._connection)
        return self._connection

    def _configure_session(self, connection: Any) -> None:
        """The query timeout on the connection (pyodbc applies it to every cursor it creates after)
        and the lock timeout on the session."""
        try:
            connection.timeout = self.session.query_timeout
            statement = self.session_statements.lock_timeout
            if statement is not None:
                _control(connection, statement.format(milliseconds=self.session.lock_timeout_ms))
        except self._pyodbc.Error as exc:
            raise self._error(exc, "<session settings>") from None

    def _error(self, exc: BaseException, source: str = "<statement>") -> ScriptError:
        records = _odbc.error_records(exc)
        failures = [r for r in records if not r.is_info] or records
        text = with_advice(self._clean("; ".join(r.text for r in failures)), self.session.advice(failures))
        return ScriptError(text, source=source, number=failures[0].native or None)

    def _begin_explicit(self, connection: Any) -> None:
        """Open the transaction() block's transaction: autocommit on, then BEGIN TRANSACTION.

        As in `run_batches`: with autocommit off the driver runs in implicit-transaction mode, where
        @@TRANCOUNT is 0 until some statement happens to open one, and a BEGIN TRANSACTION at that
        point opens two. An explicit BEGIN makes it exactly 1.
        """
        try:
            connection.autocommit = True
            _control(connection, self.script_transaction.begin)
        except self._pyodbc.Error as exc:
            try:
                connection.autocommit = False
            except self._pyodbc.Error:
                pass
            raise self._error(exc, "BEGIN TRANSACTION") from None
        self._explicit_open = True

    def _end_transaction(self, commit: bool) -> None:
        connection = self._require_open()
        if self._explicit_open:
            self._explicit_open = False
            statements = self.script_transaction
            try:
                _control(connection, statements.commit if commit else statements.rollback)
            except self._pyodbc.Error as exc:
                raise self._error(exc, "COMMIT" if commit else "ROLLBACK") from None
            finally:
                try:
                    connection.autocommit = False
                except self._pyodbc.Error:  # the connection is gone; its next use says so
                    pass
            return
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
        connection = self._require_open()
        if self._transaction_depth and not self._explicit_open:
            self._begin_explicit(connection)
        cursor = connection.cursor()
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

    def _send(self, cursor: Any, sql: str, params: Sequence[Any], types: ParamTypes | None = None) -> None:
        self._bind(cursor, types)
        if params:
            cursor.execute(sql, tuple(params))
        else:
            cursor.execute(sql)

    def _bind(self, cursor: Any, types: ParamTypes | None) -> None:
        if types is not None and any(t is not None for t in types):
            cursor.setinputsizes([input_size(self._pyodbc, t) for t in types])

    @staticmethod
    def _skip_remaining_results(cursor: Any) -> None:
        # Later result sets are not returned, but an error raised by a later statement only
        # surfaces when the driver is asked for the next set.
        while cursor.nextset():
            pass

    def _query(
        self, sql: str, params: Sequence[Any] = (), types: ParamTypes | None = None
    ) -> tuple[list[Row], int]:
        with self._cursor() as cursor:
            self._send(cursor, sql, params, types)
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
        connection = self._require_open()
        try:
            before = self._session_state(connection)
        except self._pyodbc.Error as exc:
            result = ScriptResult(source=source)
            result.error = _whole_script_error(
                "could not read the session's settings, nothing was run", exc, source, self._clean
            )
            return result
        try:
            return run_batches(
                connection,
                batches,
                db_error=self._pyodbc.Error,
                source=source,
                statements=self.script_transaction,
                clean=self._clean,
                on_message=on_message,
                advise=self.session.advice,
                on_batch=None if self.batch_sink is None else lambda batch: self._hand_over(source, batch),
            )
        finally:
            if before is not None:
                self._restore_session(connection, before, source)

    def _session_state(self, connection: Any) -> SessionState | None:
        """The session's SET options and lock timeout; None where the engine has no probe for them."""
        probe = self.session_statements.probe
        if probe is None:
            return None
        cursor = connection.cursor()
        try:
            cursor.execute(probe)
            options, lock_timeout = cursor.fetchone()
        finally:
            cursor.close()
        return SessionState(int(options), int(lock_timeout))

    def _restore_session(self, connection: Any, before: SessionState, source: str) -> None:
        """Undo the SET statements a script left on the session (they persist after a batch ends)."""
        try:
            statement = before.restore_from(self._session_state(connection) or before)
            if statement is not None:
                _control(connection, statement)
        except self._pyodbc.Error as exc:
            note = self._clean("; ".join(r.text for r in _odbc.error_records(exc)))
            warnings.warn(
                f"{source}: the session's SET options could not be put back after the script ({note}); "
                "later statements on this connection may behave as the script left them (SET NOCOUNT, "
                "XACT_ABORT, ...): close the target and open a new one",
                RuntimeWarning,
                stacklevel=3,
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

    def execute_typed(self, sql: str, params: Sequence[Any], types: ParamTypes) -> list[Row]:
        rows, self._rowcount = self._query(sql, params, types)
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._executemany(sql, rows, None)

    def executemany_typed(self, sql: str, rows: Sequence[Sequence[Any]], types: ParamTypes) -> None:
        self._executemany(sql, rows, types)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]], types: ParamTypes | None) -> None:
        values = [tuple(row) for row in rows]
        if not values:
            self._rowcount = 0
            return
        with self._cursor() as cursor:
            cursor.fast_executemany = self.fast_executemany
            self._bind(cursor, types)
            cursor.executemany(sql, values)
            self._rowcount = cursor.rowcount

    def stream(self, sql: str, params: Sequence[Any] = (), chunk: int = 5000) -> Iterator[list[Row]]:
        return self._stream(sql, params, None, chunk)

    def stream_typed(
        self, sql: str, params: Sequence[Any], types: ParamTypes, chunk: int = 5000
    ) -> Iterator[list[Row]]:
        return self._stream(sql, params, types, chunk)

    def _stream(self, sql: str, params: Sequence[Any], types: ParamTypes | None, chunk: int) -> Iterator[list[Row]]:
        """Chunks of the query's rows. With MARS they are fetched as they are read, so the caller may
        run other statements between chunks; without it the whole result is read first (and the
        connection drained), since SQL Server refuses any other statement while rows are unread."""
        with self._cursor() as cursor:
            self._send(cursor, sql, params, types)
            if cursor.description is None:
                return
            if not self.mars:
                rows = [tuple(row) for row in cursor.fetchall()]
                self._skip_remaining_results(cursor)
                for start in range(0, len(rows), chunk):
                    yield rows[start : start + chunk]
                return
            while fetched := cursor.fetchmany(chunk):
                yield [tuple(row) for row in fetched]
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
            declared = read_type(str(type_name))
            column = Column(str(name), ordinal, declared.name, declared.length, declared.precision, declared.scale,
                            nullable=bool(nullable))
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
