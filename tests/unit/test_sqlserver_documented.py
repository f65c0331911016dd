"""The SQL Server path against a double that behaves as Microsoft and pyodbc document it (issue 11).

No SQL Server runs here, so `DocumentedServer` stands in for one: a pyodbc-shaped connection whose
data lives in a deployed sandbox (the embedded runner gives the library's T-SQL its meaning), with
SQL Server's documented session behaviour on top, each with its source:

- the default collation (SQL_Latin1_General_CP1_CI_AS): characters without a sort weight compare as
  nothing, so `LIKE N'%<ch>%'` matches every value unless the operand has a binary collation
  ("LIKE ignores magic Unicode character", answer by Solomon Rutzky, stackoverflow.com/a/27554462;
  "Why does MS SQL Server return a result for empty string check", dba.stackexchange.com/q/208414);
- SET options persist on the session after the batch that set them, and NOCOUNT ON takes the row
  count away (SET NOCOUNT, learn.microsoft.com/sql/t-sql/statements/set-nocount-transact-sql;
  their bits in @@OPTIONS, learn.microsoft.com/sql/t-sql/functions/options-transact-sql);
- locks: with LOCK_TIMEOUT -1 (the default) a statement waits for ever; otherwise it fails with error
  1222 and its transaction stays open ("Customizing the Lock Time-Out", learn.microsoft.com); a query
  timeout set on the connection cancels a statement with SQLSTATE HYT00 (pyodbc, Connection.timeout);
- implicit transactions (autocommit off): a statement that reads or writes a table at @@TRANCOUNT 0
  opens a transaction, and an explicit BEGIN TRANSACTION there opens two; a procedure that ends with
  another @@TRANCOUNT than it started with raises error 266 (SET IMPLICIT_TRANSACTIONS; error 266);
- ODBC: switching autocommit on commits an open transaction (SQLSetConnectAttr, SQL_ATTR_AUTOCOMMIT).
- without MARS a connection serves one request at a time: a statement sent while another cursor's
  rows are unread fails with "Connection is busy with results for another command" (HY000); with
  MARS_Connection=yes it runs ("Using Multiple Active Result Sets (MARS)", ODBC Driver for SQL Server);
- pyodbc's fast_executemany sizes its parameter buffers from SQLDescribeParam; a marker the driver
  cannot describe (inside a derived table) gets a buffer sized from the first row's value, and a
  longer value in a later row fails with "String data, right truncation" (pyodbc wiki, "Features
  beyond the DB API: fast_executemany"; pyodbc issue 867). `setinputsizes` gives the sizes instead;
- sys.dm_exec_describe_first_result_set describes a query's columns (here: as the sandbox does), and
  FOR JSON writes decimals with their scale, bits as true/false and '/' as '\\/' (the sandbox's FOR
  JSON now writes SQL Server's forms; "How FOR JSON escapes special characters", learn.microsoft.com).

Every statement it receives is recorded, and `pitfalls` checks each one for the documented traps.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.dialects.tsql import TSQL
from sqlglot.tokens import TokenType
from test_sqlserver_target import _pyodbc

from pytest_opus.catalog import Catalog, Column
from pytest_opus.errors import ConfigError, ScriptError
from pytest_opus.targets import _odbc, open_target
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.targets.sqlserver import (
    DESCRIBE_QUERY,
    SESSION_OPTIONS,
    SessionSettings,
    SessionState,
    SqlServerTarget,
    input_size,
    mars_setting,
    with_mars,
)
from pytest_opus.updates import BoardMetadata, UpdateOperations
from pytest_opus.updates.operations import SET_BASED, STREAMED
from pytest_opus.updates.staging import BATCH_ID_TYPE, JSON_FORMS_PROBE, JsonForms, column_converter
from pytest_opus.updates.validation import WHITESPACE, blank_or_blank_first, has_blank

ROOT = Path(__file__).resolve().parents[2]
DSN = "Driver={ODBC Driver 18 for SQL Server};Server=sql01;Database=dms;Encrypt=yes;UID=deployer;PWD=s3cr3t!"
DRIVER = "[Microsoft][ODBC Driver 18 for SQL Server]"
SERVER = DRIVER + "[SQL Server]"
ITEMS = "dbo.STG_MON_CustMasterSchedule"

#: Characters SQL_Latin1_General_CP1_CI_AS gives no sort weight for Unicode text: the C0 controls
#: other than the five white-space ones (TAB, LF, VT, FF, CR), and U+FFFD. (There are many more in
#: the version-80 tables; these are the ones the library's checks meet.)
ZERO_WEIGHT = frozenset(
    [chr(c) for c in range(0x00, 0x09)] + [chr(c) for c in range(0x0E, 0x20)] + ["\ufffd"]
)
#: ODBC's connection defaults for the options in @@OPTIONS (the driver sets ANSI_DEFAULTS-like
#: options ON at connect; NOCOUNT, XACT_ABORT, ARITHABORT and the rest are OFF).
ODBC_DEFAULTS = {name: name in {"ANSI_WARNINGS", "ANSI_PADDING", "ANSI_NULLS", "QUOTED_IDENTIFIER",
                                "CONCAT_NULL_YIELDS_NULL"} for name in SESSION_OPTIONS}

_SET_OPTION = re.compile(
    r"\bSET\s+(?P<name>" + "|".join(SESSION_OPTIONS) + r"|LOCK_TIMEOUT)\s+(?P<value>ON|OFF|-?\d+)\s*;?",
    re.IGNORECASE,
)
# A LIKE pattern literal and, when there is one, the collation of the operand just before it.
_LIKE = re.compile(r"(?:COLLATE\s+(?P<collation>\w+)\s+)?LIKE\s+N'(?P<body>(?:[^']|'')*)'", re.IGNORECASE)
_TOUCHES_TABLES = re.compile(r"\b(FROM|INSERT|UPDATE|DELETE|MERGE|EXEC|CREATE|ALTER|DROP|TRUNCATE)\b", re.I)


class WaitsForever(Exception):
    """Raised where SQL Server would block with no end (no lock timeout, no query timeout)."""


def driver_error(pyodbc: Any, state: str, text: str, native: int, kind: str = "Error") -> Exception:
    """A pyodbc exception exactly as pyodbc formats one from a SQL Server diagnostic record."""
    prefix = SERVER if native else DRIVER
    return getattr(pyodbc, kind)(state, f"[{state}] {prefix}{text} ({native}) (SQLExecDirectW)")


@dataclass
class Sent:
    sql: str
    params: tuple[Any, ...]
    autocommit: bool
    trancount: int  # @@TRANCOUNT when the statement arrived
    sizes: tuple[Any, ...] | None = None  # what setinputsizes said for each marker, if anything


@dataclass
class Step:
    columns: tuple[str, ...] | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = -1
    messages: list[tuple[str, str]] = field(default_factory=list)
    error: Exception | None = None


class DocumentedServer:
    """A pyodbc connection to "SQL Server", its data in `sandbox` (see the module docstring).

    Every instance is remembered, and after each test of this module every statement each one
    received is checked for the documented pitfalls (`every_statement_sent_is_checked`), unless the
    test sends one on purpose (`deliberate`).
    """

    instances: ClassVar[list[DocumentedServer]] = []

    def __init__(self, sandbox: SandboxTarget, *, locked_by_sync_job: Sequence[str] = (),
                 slow: Sequence[str] = (), mars: bool = False, describe: bool = False) -> None:
        _pyodbc()  # skips where pyodbc is not usable
        self.pyodbc = _odbc.load_pyodbc()  # the module whose errors the target catches
        self.sandbox = sandbox
        self.options = dict(ODBC_DEFAULTS)
        self.lock_timeout = -1  # SQL Server's default: wait for ever
        self.timeout = 0  # pyodbc's query timeout: none
        self.trancount = 0
        self._autocommit = False
        self.locked = [name.lower() for name in locked_by_sync_job]  # held by another session's transaction
        self.slow = [text.lower() for text in slow]  # statements that run for minutes
        self.sent: list[Sent] = []
        self.closed = False
        self.mars = mars  # MARS_Connection=yes in the DSN it was opened with
        self.describe = describe  # whether describe_first_result_set answers (else: "not described")
        self.cursors: list[DocumentedCursor] = []
        self.deliberate = False  # the test sends a statement with a pitfall on purpose, to show it
        self.varchar = varchar_names(sandbox)  # read now: the sandbox may be closed when checked
        DocumentedServer.instances.append(self)

    def connected(self, dsn: str) -> DocumentedServer:
        """As pyodbc.connect(dsn) would give it: MARS as the DSN says."""
        self.mars = mars_setting(dsn) is True
        return self

    def check_busy(self, cursor: DocumentedCursor) -> None:
        if self.mars:
            return
        if any(other is not cursor and other.pending for other in self.cursors):
            raise driver_error(self.pyodbc, "HY000", "Connection is busy with results for another command", 0)

    # -- the connection's interface ----------------------------------------------------------------
    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if value and not self._autocommit and self.trancount:
            self.commit()  # ODBC: switching to autocommit commits the open transaction
        self._autocommit = bool(value)

    def cursor(self) -> DocumentedCursor:
        cursor = DocumentedCursor(self)
        self.cursors.append(cursor)
        return cursor

    def commit(self) -> None:
        if self.trancount:
            while self.sandbox.engine.trancount:
                self.sandbox.engine.commit()
        self.trancount = 0

    def rollback(self) -> None:
        if self.sandbox.engine.trancount:
            self.sandbox.engine.rollback()
        self.trancount = 0

    def getinfo(self, what: int) -> str:
        return "Microsoft SQL Server"

    def close(self) -> None:
        self.closed = True

    # -- the server ------------------------------------------------------------------------------
    @property
    def options_value(self) -> int:
        return sum(bit for name, bit in SESSION_OPTIONS.items() if self.options[name])

    def _open(self, count: int) -> None:
        if self.trancount == 0 and count:
            self.sandbox.engine.begin()
        self.trancount = count

    def _implicit(self, sql: str) -> None:
        """Implicit-transaction mode: a statement that touches a table at @@TRANCOUNT 0 opens one."""
        if not self._autocommit and self.trancount == 0 and _TOUCHES_TABLES.search(sql):
            self._open(1)

    def _blocked(self, sql: str) -> None:
        lowered = sql.lower()
        if any(name in lowered for name in self.locked):
            if self.lock_timeout == -1:
                raise WaitsForever(f"blocked by the sync job's lock, with no lock timeout: {sql[:80]}")
            raise driver_error(self.pyodbc, "HY000", "Lock request time out period exceeded.", 1222)
        if any(text in lowered for text in self.slow):
            if not self.timeout:
                raise WaitsForever(f"a long statement with no query timeout: {sql[:80]}")
            raise driver_error(self.pyodbc, "HYT00", "Query timeout expired", 0, "OperationalError")

    def _collated(self, sql: str) -> str:
        """The statement as the sandbox must run it to give the default collation's LIKE results."""
        def weigh(match: re.Match[str]) -> str:
            collation = match["collation"] or ""
            if collation.upper().endswith("_BIN2") or collation.upper().endswith("_BIN"):
                return match[0]
            body = "".join(ch for ch in match["body"] if ch not in ZERO_WEIGHT)
            return match[0][: match.start("body") - match.start()] + body + "'"

        return _LIKE.sub(weigh, sql)

    def respond(self, sql: str, params: tuple[Any, ...], sizes: tuple[Any, ...] | None = None) -> list[Step]:
        self.sent.append(Sent(sql, params, self._autocommit, self.trancount, sizes))
        text = sql.strip()
        if text == "SELECT @@OPTIONS, @@LOCK_TIMEOUT":
            return [Step(("", ""), [(self.options_value, self.lock_timeout)])]
        if text == "SELECT @@TRANCOUNT":
            return [Step(("",), [(self.trancount,)])]
        if text == DESCRIBE_QUERY:
            described = self.sandbox.describe_query(params[0]) if self.describe else None
            if described is None or any(c.type is None for c in described):
                rows = [(None, None, None, "not described by the double")]
            else:
                rows = [(c.name, c.type.type_text, c.type.nullable, None) for c in described if c.type]
            return [Step(("name", "system_type_name", "is_nullable", "error_message"), rows)]
        if text == "BEGIN TRANSACTION":
            # In implicit mode at @@TRANCOUNT 0, BEGIN TRANSACTION opens two (SET IMPLICIT_TRANSACTIONS).
            self._open(self.trancount + (2 if not self._autocommit and self.trancount == 0 else 1))
            return [Step()]
        if text == "COMMIT TRANSACTION":
            if self.trancount == 0:
                raise driver_error(self.pyodbc, "25000", "The COMMIT TRANSACTION request has no "
                                   "corresponding BEGIN TRANSACTION.", 3902)
            self.trancount -= 1
            if self.trancount == 0:
                self.commit()
            return [Step()]
        if text in ("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION", "ROLLBACK TRANSACTION"):
            self.rollback()
            return [Step()]
        # SET options take effect for the session, and stay after the batch.
        for match in _SET_OPTION.finditer(text):
            name, value = match["name"].upper(), match["value"].upper()
            if name == "LOCK_TIMEOUT":
                self.lock_timeout = int(value)
            else:
                self.options[name] = value == "ON"
        rest = _SET_OPTION.sub("", text).strip(" ;\n")
        if not rest:
            return [Step()]
        self._blocked(rest)
        if re.match(r"EXEC\s+dbo\.SP_RollbackBatch\b", rest, re.IGNORECASE):
            return self._rollback_procedure(rest, params)
        self._implicit(rest)
        return [self._run(rest, params)]

    def _run(self, sql: str, params: Sequence[Any]) -> Step:
        try:
            columns, rows = self.sandbox.engine.execute(self._collated(sql), params)
        except ScriptError as error:
            if self.options["XACT_ABORT"]:
                self.rollback()
            return Step(error=driver_error(self.pyodbc, "42000", error.message, error.number or 50000))
        rowcount = -1 if columns or self.options["NOCOUNT"] else self.sandbox.engine.rowcount
        messages = [("[01000] (0)", SERVER + t) for _kind, t, _line in self.sandbox.engine.output.messages]
        return Step(columns or None, [tuple(r) for r in rows], rowcount, messages)

    def _rollback_procedure(self, sql: str, params: Sequence[Any]) -> list[Step]:
        """SP_RollbackBatch's own transaction handling, as SQL Server counts it: its first read of a
        table opens an implicit transaction at @@TRANCOUNT 0 (autocommit off), its BEGIN TRANSACTION
        adds one and its COMMIT takes one away; a count that differs on exit is error 266."""
        entry = self.trancount
        self._implicit(sql)
        step = self._run(sql, params)
        if step.error is not None:
            return [step]
        exit_count = self.trancount  # its BEGIN and COMMIT cancel out
        if exit_count == entry:
            return [step]
        return [step, Step(error=driver_error(
            self.pyodbc, "25000", "Transaction count after EXECUTE indicates a mismatching number of BEGIN "
            f"and COMMIT statements. Previous count = {entry}, current count = {exit_count}.", 266))]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], sizes: tuple[Any, ...] | None = None,
                    fast: bool = False) -> int:
        self.sent.append(Sent(sql, tuple(rows), self._autocommit, self.trancount, sizes))
        if fast and rows:
            self._buffers_fit(sql, rows, sizes)
        self._blocked(sql)
        self._implicit(sql)
        try:
            self.sandbox.executemany(self._collated(sql), rows)
        except ScriptError as error:
            raise driver_error(self.pyodbc, "42000", error.message, error.number or 50000) from None
        return -1 if self.options["NOCOUNT"] else self.sandbox.rowcount


    def _buffers_fit(self, sql: str, rows: Sequence[Sequence[Any]], sizes: tuple[Any, ...] | None) -> None:
        """fast_executemany: every parameter's buffer is sized before the first row is sent."""
        undescribed = bool(_DERIVED_MARKERS.search(sql))
        for position in range(len(rows[0])):
            size = sizes[position] if sizes is not None and position < len(sizes) else None
            if size is not None:
                buffer = size[1] if size[1] else None  # 0: sent as a stream of any length
            elif undescribed:
                first = rows[0][position]
                buffer = len(first) if isinstance(first, str) else 1
            else:
                continue  # described by the server: the column's own size
            for row in rows:
                value = row[position]
                if buffer is not None and isinstance(value, str) and len(value) > buffer:
                    raise self.pyodbc.Error(
                        "HY000", f"String data, right truncation: length {2 * len(value)} buffer {2 * buffer}")


#: Markers SQLDescribeParam cannot describe: the selected values of a derived table.
_DERIVED_MARKERS = re.compile(r"\(SELECT \? AS c0\b", re.IGNORECASE)


class DocumentedCursor:
    def __init__(self, connection: DocumentedServer) -> None:
        self.connection = connection
        self.sizes: tuple[Any, ...] | None = None
        self.description: tuple[tuple[str], ...] | None = None
        self.rowcount = -1
        self.messages: list[tuple[str, str]] = []
        self.fast_executemany = False
        self._rows: list[tuple[Any, ...]] = []
        self._steps: Iterator[Step] = iter(())
        self._left = 0  # steps (result sets) not yet advanced to

    @property
    def pending(self) -> bool:
        """Rows or result sets not yet read: the connection is busy with them (without MARS)."""
        return bool(self._rows) or self._more

    def setinputsizes(self, sizes: Sequence[Any]) -> None:
        self.sizes = tuple(sizes)

    def execute(self, sql: str, *params: Any) -> DocumentedCursor:
        if len(params) == 1 and isinstance(params[0], tuple | list):
            params = tuple(params[0])
        self.connection.check_busy(self)
        steps = self.connection.respond(sql, tuple(params), self.sizes)
        self._steps = iter(steps)
        self._left = len(steps)
        self._advance()
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.check_busy(self)
        self.rowcount = self.connection.executemany(sql, rows, self.sizes, self.fast_executemany)

    @property
    def _more(self) -> bool:
        return self._left > 0

    def _advance(self) -> bool:
        step = next(self._steps, None)
        self._left = max(0, self._left - 1)
        if step is None:
            self.description, self._rows, self.messages = None, [], []
            return False
        if step.error is not None:
            raise step.error
        self.description = tuple((c,) for c in step.columns) if step.columns else None
        self._rows, self.rowcount, self.messages = list(step.rows), step.rowcount, step.messages
        return True

    def nextset(self) -> bool:
        return self._advance()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def close(self) -> None:
        self._rows, self._steps, self._left = [], iter(()), 0


# -- the documented pitfalls, checked on every statement the library sends -----------------------------


def _is_binary(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.Collate) and node.expression.name.upper().endswith(("_BIN2", "_BIN"))


def _string(node: exp.Expression) -> str | None:
    if isinstance(node, exp.National | exp.Literal) and (isinstance(node, exp.National) or node.is_string):
        return str(node.this)
    return None


def _weightless_risk(text: str) -> bool:
    """A character whose comparison under a non-binary collation is not by code point: anything
    outside printable ASCII (controls and separators can weigh nothing, others fold)."""
    return any(not (" " <= ch <= "~") for ch in text)


def _separator_or_control(text: str) -> bool:
    """A control, format or separator character other than the plain space."""
    return any(ch != " " and unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"} for ch in text)


def pitfalls(sql: str) -> list[str]:
    """What in `sql` SQL Server is documented to do differently from what the library means.

    - a LIKE whose pattern holds a character outside printable ASCII without a binary collation
      on either side (a character without sort weight matches everything);
    - an `=`, `<>` or `IN` against a literal holding a control or separator character without a
      binary collation (such a character can equal the empty string).
    """
    try:
        trees = sqlglot.parse(sql, read="tsql")
    except sqlglot.errors.SqlglotError as error:
        return [f"unreadable, so unchecked: {error}"]
    found = []
    for tree in trees:
        if tree is None:
            continue
        for like in tree.find_all(exp.Like):
            pattern = _string(like.expression.this if isinstance(like.expression, exp.Collate) else like.expression)
            if pattern is not None and _weightless_risk(pattern) and not (
                _is_binary(like.this) or _is_binary(like.expression)
            ):
                found.append(f"LIKE {pattern!r} without a binary collation: {like.sql(dialect='tsql')[:120]}")
        for node in tree.find_all(exp.In, exp.EQ, exp.NEQ):
            values = node.expressions if isinstance(node, exp.In) else [node.expression]
            texts = [t for v in values if (t := _string(v)) is not None]
            if any(_separator_or_control(t) for t in texts) and not (
                _is_binary(node.this) or any(_is_binary(v) for v in values)
            ):
                found.append(f"comparison with a blank or control character without a binary collation: "
                             f"{node.sql(dialect='tsql')[:120]}")
    return found


@pytest.fixture(autouse=True)
def every_statement_sent_is_checked() -> Iterator[None]:
    """The recording double's check: whatever the library sent in a test, no documented pitfall."""
    DocumentedServer.instances.clear()
    yield
    checked: set[str] = set()
    found: dict[str, list[str]] = {}
    for server in DocumentedServer.instances:
        if server.deliberate:
            continue
        for sent in server.sent:
            if sent.sql not in checked:
                checked.add(sent.sql)
                found.update({sent.sql[:100]: problems} if (problems := pitfalls(sent.sql)) else {})
            if problems := binding_pitfalls(sent, server.varchar):
                found[sent.sql[:100]] = problems
    DocumentedServer.instances.clear()
    assert found == {}, "statements sent to the SQL Server double with a documented pitfall"


def test_pitfalls_finds_what_the_collation_would_change() -> None:
    assert pitfalls("SELECT 1 WHERE [v] LIKE N'%\x1c%' ESCAPE '!'")
    assert pitfalls("SELECT 1 WHERE SUBSTRING([v], 1, 1) IN (N'\u00a0', N' ')")
    assert not pitfalls("SELECT 1 WHERE [v] COLLATE Latin1_General_BIN2 LIKE N'%\x1c%' ESCAPE '!'")
    assert not pitfalls("SELECT 1 WHERE update_fields LIKE N'%\"NOTES\":%' ESCAPE '!'")
    assert not pitfalls(f"SELECT 1 WHERE {has_blank('[v]')} OR {blank_or_blank_first('[v]')}")


# -- the double's own documented behaviour -------------------------------------------------------------


@pytest.fixture
def memory() -> Iterator[SandboxTarget]:
    sandbox = SandboxTarget(None)
    try:
        assert sandbox.execute_script(
            "CREATE TABLE dbo.t (n INT NOT NULL, v NVARCHAR(50) NULL)\nGO\n"
            "INSERT INTO dbo.t (n, v) VALUES (1, N'buyer@example.com'), (2, N'a\u00a0b'), (3, NULL)\n"
        ).ok
        yield sandbox
    finally:
        sandbox.close()


def test_the_double_matches_every_value_with_a_weightless_character_unless_binary(memory: SandboxTarget) -> None:
    server = DocumentedServer(memory)
    server.deliberate = True  # the unprotected LIKE is what this test shows
    cursor = server.cursor()
    cursor.execute("SELECT n FROM dbo.t WHERE v LIKE N'%\x1c%' ESCAPE '!' ORDER BY n")
    assert cursor.fetchall() == [(1,), (2,)]  # every non-NULL value
    cursor.execute("SELECT n FROM dbo.t WHERE v COLLATE Latin1_General_BIN2 LIKE N'%\x1c%' ESCAPE '!'")
    assert cursor.fetchall() == []
    cursor.execute("SELECT n FROM dbo.t WHERE v COLLATE Latin1_General_BIN2 LIKE N'%\u00a0%' ESCAPE '!'")
    assert cursor.fetchall() == [(2,)]


# -- point 1: validation of Unicode blanks under the default collation -------------------------------


class SqlServerOverDouble(SqlServerTarget):
    """The SQL Server target, its catalog read from the double's sandbox: the double has no sys views
    (the catalog queries are checked against SQL Server's rows in test_sqlserver_target.py)."""

    def catalog(self) -> Catalog:
        return self._require_open().sandbox.catalog()


def sqlserver_ops(
    deployed: SandboxTarget, board: BoardMetadata, **server: Any
) -> tuple[UpdateOperations, DocumentedServer]:
    double = DocumentedServer(deployed, **server)
    target = SqlServerOverDouble(DSN, connection=double, configure_session=True)
    return UpdateOperations(target, board, user_id="unit-test"), double


def statuses(deployed: SandboxTarget, batch_id: str) -> dict[int, tuple[str, list[str]]]:
    import json

    rows = deployed.execute(
        f"SELECT stg_monday_item_id, validation_status, validation_errors FROM {ITEMS} WHERE update_batch_id = ?",
        [batch_id],
    )
    return {int(item): (status, json.loads(errors)) for item, status, errors in rows}


def test_validation_rejects_only_emails_with_blanks_under_sql_servers_default_collation(
    deployed: SandboxTarget, board: BoardMetadata
) -> None:
    ops, server = sqlserver_ops(deployed, board)
    records = [
        {"item_id": 501, "AAG ORDER NUMBER": "A", "CUSTOMER CONTACT EMAIL": "buyer@example.com"},
        {"item_id": 502, "AAG ORDER NUMBER": "A", "CUSTOMER CONTACT EMAIL": "buyer\u00a0x@example.com"},
        {"item_id": 503, "AAG ORDER NUMBER": "A", "CUSTOMER CONTACT EMAIL": "buyer\u2028@example.com"},
        {"item_id": 504, "AAG ORDER NUMBER": " leading blank"},
        {"item_id": 505, "AAG ORDER NUMBER": "B"},
    ]
    staged = ops.stage_updates(records, "update_items")
    ops.validate_staged_updates(staged.batch_id)
    got = statuses(deployed, staged.batch_id)
    email = "CUSTOMER CONTACT EMAIL: not an email address"
    assert got[501] == ("VALID", []), got[501]
    assert got[502] == ("INVALID", [email]) and got[503] == ("INVALID", [email])
    assert got[505] == ("VALID", [])
    assert server.sent, "the statements went through the double"


def test_every_statement_of_the_workflow_is_free_of_the_documented_pitfalls(
    deployed: SandboxTarget, board: BoardMetadata
) -> None:
    """Stage, validate, dry-run and roll back on the double; every SQL text it received is checked."""
    ops, server = sqlserver_ops(deployed, board)
    staged = ops.stage_updates(
        [{"item_id": 600 + n, "AAG ORDER NUMBER": f"A{n}", "CUSTOMER CONTACT EMAIL": f"b{n}@example.com"}
         for n in range(5)],
        "update_items",
    )
    ops.validate_staged_updates(staged.batch_id)
    ops.process_staged_updates(staged.batch_id, dry_run=True)
    ops.batch_summary(staged.batch_id)
    ops.rollback_batch(staged.batch_id, "pitfall check")
    texts = list(dict.fromkeys(s.sql for s in server.sent))
    assert len(texts) > 5
    found = {text[:100]: problems for text in texts if (problems := pitfalls(text))}
    assert found == {}
    # Point 5: every parameter compared with a VARCHAR column was bound as VARCHAR of its length.
    varchar = varchar_names(deployed)
    unbound = {sent.sql[:100]: problems for sent in server.sent if (problems := binding_pitfalls(sent, varchar))}
    assert unbound == {}
    assert sum("update_batch_id = ?" in sent.sql for sent in server.sent) >= 4
    # The blank checks are in what was sent, each under the binary collation.
    assert any("COLLATE Latin1_General_BIN2 LIKE N'%\u3000%'" in text for text in texts)
    assert all(ch in "".join(texts) for ch in WHITESPACE)


# -- point 8: a script's SET options do not outlive it ----------------------------------------------


def test_a_scripts_set_options_are_undone_so_rowcount_still_counts(memory: SandboxTarget) -> None:
    server = DocumentedServer(memory)
    target = SqlServerTarget(DSN, connection=server, configure_session=True)
    target.execute("UPDATE dbo.t SET n = n + 10")
    assert target.rowcount == 3
    before = dict(server.options), server.lock_timeout
    result = target.execute_script("SET NOCOUNT ON;\nSET XACT_ABORT ON;\nGO\nUPDATE dbo.t SET n = n - 10\n")
    assert result.ok, result.summary()
    assert (dict(server.options), server.lock_timeout) == before
    target.execute("UPDATE dbo.t SET n = n + 1")
    assert target.rowcount == 3  # -1 if NOCOUNT ON had stayed
    # A script that fails after its SET statements is undone as well.
    failed = target.execute_script("SET NOCOUNT ON\nSET LOCK_TIMEOUT 0\nGO\nSELECT * FROM dbo.nowhere\n")
    assert not failed.ok
    assert (dict(server.options), server.lock_timeout) == before


def test_only_the_options_a_script_changed_are_set_back() -> None:
    default = sum(bit for name, bit in SESSION_OPTIONS.items() if ODBC_DEFAULTS[name])
    before = SessionState(default, 30000)
    assert before.restore_from(before) is None
    after = SessionState(default | SESSION_OPTIONS["NOCOUNT"] | SESSION_OPTIONS["XACT_ABORT"], 0)
    assert before.restore_from(after) == "SET NOCOUNT OFF; SET XACT_ABORT OFF; SET LOCK_TIMEOUT 30000;"
    ansi_off = SessionState(default & ~SESSION_OPTIONS["ANSI_WARNINGS"], 30000)
    assert before.restore_from(ansi_off) == "SET ANSI_WARNINGS ON;"


# -- point 6: lock and query timeouts ------------------------------------------------------------------


def opened(server: DocumentedServer, monkeypatch: pytest.MonkeyPatch, **options: Any) -> SqlServerTarget:
    """`open_target` for DSN, its connection the double (as pyodbc.connect would return it)."""
    monkeypatch.setattr(_odbc, "connect", lambda dsn, **kw: server)
    target = open_target(dsn=DSN, **options)
    assert isinstance(target, SqlServerTarget)
    return target


def test_a_statement_behind_the_sync_jobs_lock_fails_after_the_lock_timeout_saying_what_to_do(
    memory: SandboxTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = DocumentedServer(memory, locked_by_sync_job=["dbo.t"])
    target = opened(server, monkeypatch, environ={})
    result = target.execute_script("ALTER TABLE dbo.t ADD extra INT NULL\n", source="deploy.sql")
    assert server.lock_timeout == 30_000 and server.timeout == 0  # the documented defaults
    assert result.error is not None and result.error.number == 1222
    message = result.error.message
    for part in ("Lock request time out period exceeded.", "lock timeout: 30 s", "sync job",
                 "retry when it is idle", "lock_timeout=SECONDS", "OPUS_LOCK_TIMEOUT"):
        assert part in message, message
    assert not result.committed and server.trancount == 0
    with pytest.raises(ScriptError, match="sync job") as raised:
        target.execute("UPDATE dbo.t SET n = 0")
    assert raised.value.number == 1222 and "s3cr3t" not in str(raised.value)


def test_the_timeouts_come_from_the_arguments_or_the_environment(
    memory: SandboxTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = DocumentedServer(memory)
    target = opened(server, monkeypatch, environ={"OPUS_LOCK_TIMEOUT": "2.5", "OPUS_QUERY_TIMEOUT": "600"})
    target.execute("SELECT 1 AS one")
    assert (server.lock_timeout, server.timeout) == (2500, 600)
    server = DocumentedServer(memory)
    target = opened(server, monkeypatch, lock_timeout=-1, query_timeout=0, environ={"OPUS_LOCK_TIMEOUT": "5"})
    target.execute("SELECT 1 AS one")
    assert (server.lock_timeout, server.timeout) == (-1, 0)
    for environ in ({"OPUS_LOCK_TIMEOUT": "soon"}, {"OPUS_LOCK_TIMEOUT": "-3"}, {"OPUS_QUERY_TIMEOUT": "1.5"}):
        with pytest.raises(ConfigError, match="OPUS_"):
            opened(DocumentedServer(memory), monkeypatch, environ=environ)
    with pytest.raises(ConfigError, match="query_timeout"):
        SessionSettings(query_timeout=-1)


def test_a_query_timeout_cancels_the_statement_and_says_what_to_do(
    memory: SandboxTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = DocumentedServer(memory, slow=["dbo.t"])
    target = opened(server, monkeypatch, query_timeout=60, environ={})
    with pytest.raises(ScriptError) as raised:
        target.execute("SELECT n FROM dbo.t")
    message = str(raised.value)
    assert "Query timeout expired. The driver cancelled the statement after the query timeout (60 s)" in message
    assert "query_timeout=SECONDS" in message and "OPUS_QUERY_TIMEOUT" in message


# -- point 7: ODBC Driver 18 and the server's certificate ----------------------------------------------

CERTIFICATE_ERRORS = [
    # Linux (OpenSSL 3), a server with a self-signed certificate (pyodbc issue 610)
    f"[08001] {DRIVER}SSL Provider: [error:0A000086:SSL routines::certificate verify failed:self-signed "
    f"certificate] (-1) (SQLDriverConnect); [08001] {DRIVER}Client unable to establish connection (-1)",
    # Linux (OpenSSL 1.1), a certificate from a CA this machine does not trust (pyodbc issue 825)
    f"[08001] {DRIVER}SSL Provider: [error:1416F086:SSL routines:tls_process_server_certificate:certificate "
    "verify failed:unable to get local issuer certificate] (-1) (SQLDriverConnect)",
    # Windows (dbt-sqlserver pull request 267)
    f"[08001] {DRIVER}SSL Provider: The certificate chain was issued by an authority that is not trusted.\r\n"
    f" (-2146893019) (SQLDriverConnect); [08001] {DRIVER}Client unable to establish connection (-2146893019)",
]


@pytest.mark.parametrize("text", CERTIFICATE_ERRORS)
def test_a_refused_certificate_says_what_to_change_in_the_dsn(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _pyodbc()
    pyodbc = _odbc.load_pyodbc()  # the module the target connects with (other tests may reload pyodbc)

    def refuse(dsn: str, **kwargs: Any) -> None:
        raise pyodbc.OperationalError("08001", text)

    monkeypatch.setattr(pyodbc, "connect", refuse)
    with pytest.raises(ConfigError) as raised:
        open_target(dsn=DSN, environ={})
    message = str(raised.value)
    for part in ("TLS certificate was refused", "Encrypt=yes", "TrustServerCertificate=yes",
                 "update-ca-certificates", "HostNameInCertificate", "Connecting to SQL Server", "PWD=***"):
        assert part in message, message
    assert "s3cr3t" not in message


def test_other_connection_failures_do_not_blame_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    _pyodbc()
    pyodbc = _odbc.load_pyodbc()

    def refuse(dsn: str, **kwargs: Any) -> None:
        raise pyodbc.OperationalError("08001", f"[08001] {DRIVER}TCP Provider: Error code 0x2749 (10057) "
                                      "(SQLDriverConnect)")

    monkeypatch.setattr(pyodbc, "connect", refuse)
    with pytest.raises(ConfigError) as raised:
        open_target(dsn=DSN, environ={})
    assert "TrustServerCertificate" not in str(raised.value) and "server name and port" in str(raised.value)


# A whole connection string (error messages quoted in the docs show them shortened, without Database=).
DSN_IN_DOCS = re.compile(r"Driver=\{ODBC Driver 18 for SQL Server\}[^\"'`\n]*Database=[^\"'`\n]*")


def test_the_documented_dsns_are_driver_18_forms_that_connect() -> None:
    """Every Driver 18 DSN in README.md and docs/dba.md says how it encrypts and what certificate it
    accepts, and the DBA's guide ends with the section the certificate error points to."""
    dsns = [dsn for doc in ("README.md", "docs/dba.md") for dsn in DSN_IN_DOCS.findall((ROOT / doc).read_text())]
    assert len(dsns) >= 4
    for dsn in dsns:
        assert "Encrypt=yes" in dsn, dsn
        assert "TrustServerCertificate=" in dsn, dsn
    guide = (ROOT / "docs" / "dba.md").read_text()
    headings = re.findall(r"^## (.+)$", guide, re.MULTILINE)
    assert headings[-1] == "Connecting to SQL Server"
    section = guide.split("## Connecting to SQL Server", 1)[1]
    for part in ("TrustServerCertificate", "certificate verify failed", "Lock request time out period exceeded",
                 "Query timeout expired", "VIEW SERVER STATE", "ALTER", "CREATE TABLE", "CREATE PROCEDURE",
                 "CREATE VIEW", "MARS"):
        assert part in section, part


# -- point 9: SP_RollbackBatch's own transaction on SQL Server -----------------------------------------


def test_rollback_batch_runs_the_procedure_at_trancount_1_and_it_is_kept(
    deployed: SandboxTarget, board: BoardMetadata
) -> None:
    ops, server = sqlserver_ops(deployed, board)
    staged = ops.stage_updates(
        [{"item_id": 700 + n, "AAG ORDER NUMBER": f"R{n}"} for n in range(3)], "update_items"
    )
    ops.validate_staged_updates(staged.batch_id)
    result = ops.rollback_batch(staged.batch_id, "operator asked")
    assert result.item_rows == 3
    (call,) = [s for s in server.sent if "SP_RollbackBatch" in s.sql]
    assert call.trancount == 1 and call.autocommit  # an explicit transaction: exactly one open
    assert server.trancount == 0 and not server.autocommit  # committed, connection given back
    assert {status for status, _ in statuses(deployed, staged.batch_id).values()} == {"ROLLED_BACK"}
    assert ops.rollback_batch(staged.batch_id, "again").item_rows == 0  # idempotent


def test_the_procedure_called_on_its_own_is_what_error_266_looks_like(memory: SandboxTarget) -> None:
    """What the double does with a procedure call at @@TRANCOUNT 0 under autocommit off: the reason
    rollback_batch calls it inside transaction()."""
    server = DocumentedServer(memory)
    assert memory.execute_script(
        "CREATE PROCEDURE dbo.SP_RollbackBatch @batch_id VARCHAR(50), @rollback_reason NVARCHAR(500) AS\n"
        "BEGIN\n  BEGIN TRANSACTION;\n  UPDATE dbo.t SET n = n WHERE 1 = 0;\n  COMMIT TRANSACTION;\n"
        "  SELECT @batch_id AS batch_id, 0 AS a, 0 AS b, 0 AS c;\nEND\n"
    ).ok
    target = SqlServerTarget(DSN, connection=server, configure_session=True)
    with pytest.raises(ScriptError, match="Previous count = 0, current count = 1") as raised:
        target.execute("EXEC dbo.SP_RollbackBatch @batch_id = ?, @rollback_reason = ?", ["b", "r"])
    assert raised.value.number == 266
    with target.transaction():
        rows = target.execute("EXEC dbo.SP_RollbackBatch @batch_id = ?, @rollback_reason = ?", ["b", "r"])
    assert rows == [("b", 0, 0, 0)]


# -- point 12: the CI example works as written --------------------------------------------------------

WORKFLOW = ROOT / "examples" / "ci" / "phase0-sqlserver.yml"


def test_the_ci_example_installs_what_the_suite_needs_and_uses_the_runners_driver() -> None:
    import yaml

    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert job["runs-on"] == "ubuntu-latest"
    # tests/conftest.py imports hypothesis: the dev extra, not only [odbc].
    assert "pip install -e '.[dev]'" in runs and "[odbc]" not in runs
    # The runner image has msodbcsql18; Microsoft's package source would conflict with it.
    assert "packages.microsoft.com" not in WORKFLOW.read_text() and "apt-get" not in runs
    assert "'ODBC Driver 18 for SQL Server' not in d" in runs
    assert "sql/baseline/*.sql" in runs and "CREATE DATABASE dms" in runs
    (phase0,) = [step for step in steps if "pytest" in step.get("run", "")]
    assert phase0["run"].startswith("pytest --opus-deploy")
    dsn = " ".join(job["env"]["OPUS_DSN"].split())
    assert dsn.startswith("Driver={ODBC Driver 18 for SQL Server};") and "Database=dms" in dsn
    assert "Encrypt=yes;TrustServerCertificate=yes" in dsn  # the container's certificate is self-signed
    service = job["services"]["mssql"]
    assert service["image"].startswith("mcr.microsoft.com/mssql/server:2022")
    assert "secrets.MSSQL_SA_PASSWORD" in service["env"]["MSSQL_SA_PASSWORD"]
    assert steps[-1]["with"]["path"] == "reports/" and steps[-1]["if"] == "always()"


def test_the_ci_example_is_a_valid_github_workflow(tmp_path: Path) -> None:
    """Against GitHub's workflow schema as check-jsonschema ships it (no network); a broken copy is refused."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("check_jsonschema") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("check-jsonschema is part of the dev extra: pip install -e '.[dev]'")
        pytest.skip("check-jsonschema is not installed: pip install check-jsonschema")

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
            capture_output=True, text=True, check=False,
        )

    done = check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"  # the same workflow with a job that has no runs-on: the schema must refuse it
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "runs_on:"), encoding="utf-8")
    assert check(broken).returncode != 0


# -- point 5: parameters bound as the VARCHAR columns they meet ----------------------------------------


def varchar_names(sandbox: SandboxTarget) -> frozenset[str]:
    """Lower-cased names of the database's VARCHAR/CHAR columns and procedure parameters."""
    catalog = sandbox.catalog()
    names = {c.name.lower() for t in catalog.tables.values() for c in t.columns if c.data_type in ("varchar", "char")}
    names |= {prm.name.lstrip("@").lower() for proc in catalog.procedures.values() for prm in proc.parameters
              if prm.data_type in ("varchar", "char")}
    return frozenset(names)


def binding_pitfalls(sent: Sent, varchar: frozenset[str]) -> list[str]:
    """`column = ?` (or `? = column`) where the column is VARCHAR and the marker was not bound as
    VARCHAR: pyodbc sends a Python str as NVARCHAR, and SQL Server then converts the column, which
    under a SQL collation scans its index instead of seeking it (data type precedence)."""
    tokens = [t for t in TSQL().tokenize(sent.sql) if t.token_type != TokenType.COMMENT]
    markers = [i for i, t in enumerate(tokens) if t.token_type == TokenType.PLACEHOLDER]
    found = []
    varchar_type = _odbc.load_pyodbc().SQL_VARCHAR
    for number, at in enumerate(markers):
        beside = []
        if at >= 2 and tokens[at - 1].token_type == TokenType.EQ:
            beside.append(tokens[at - 2])
        if at + 2 < len(tokens) and tokens[at + 1].token_type == TokenType.EQ:
            beside.append(tokens[at + 2])
        for token in beside:
            name = token.text.strip("[]").lower()
            if name not in varchar:
                continue
            size = sent.sizes[number] if sent.sizes is not None and number < len(sent.sizes) else None
            if size is None or size[0] != varchar_type:
                found.append(f"marker {number + 1} meets VARCHAR [{name}] bound as {size!r}")
    return found


def test_an_unbound_batch_id_is_what_the_pitfall_check_finds(deployed: SandboxTarget) -> None:
    """Before: a str parameter against update_batch_id (pyodbc sends NVARCHAR). After: bound as VARCHAR(50)."""
    server = DocumentedServer(deployed)
    server.deliberate = True  # the unbound parameter is what this test shows
    target = SqlServerTarget(DSN, connection=server, configure_session=True)
    sql = f"SELECT COUNT(*) FROM {ITEMS} WHERE update_batch_id = ?"
    target.execute(sql, ["b-1"])
    varchar = varchar_names(deployed)
    assert "update_batch_id" in varchar and "batch_id" in varchar
    assert binding_pitfalls(server.sent[-1], varchar) == ["marker 1 meets VARCHAR [update_batch_id] bound as None"]
    target.execute_typed(sql, ["b-1"], [BATCH_ID_TYPE])
    assert server.sent[-1].sizes == ((_odbc.load_pyodbc().SQL_VARCHAR, 50, 0),)
    assert binding_pitfalls(server.sent[-1], varchar) == []


def test_input_sizes_follow_the_column_types() -> None:
    pyodbc = _pyodbc()
    assert input_size(pyodbc, Column("c", 1, "varchar", max_length=50)) == (pyodbc.SQL_VARCHAR, 50, 0)
    assert input_size(pyodbc, Column("c", 1, "nvarchar", max_length=-1)) == (pyodbc.SQL_WVARCHAR, 0, 0)
    assert input_size(pyodbc, Column("c", 1, "decimal", precision=18, scale=4)) == (pyodbc.SQL_DECIMAL, 18, 4)
    assert input_size(pyodbc, Column("c", 1, "bigint")) == (pyodbc.SQL_BIGINT, 0, 0)
    assert input_size(pyodbc, Column("c", 1, "datetime2", scale=3)) == (pyodbc.SQL_TYPE_TIMESTAMP, 23, 3)
    assert input_size(pyodbc, None) is None and input_size(pyodbc, Column("c", 1, "geography")) is None


# -- point 4: fast_executemany with markers the driver cannot describe --------------------------------


def test_long_values_after_short_ones_need_explicit_sizes(deployed: SandboxTarget, board: BoardMetadata) -> None:
    """Before: the multi-row INSERT through executemany without sizes fails as pyodbc documents it.
    After: staging binds every marker with its column's type and length and the rows arrive whole."""
    ops, server = sqlserver_ops(deployed, board)
    records = [{"item_id": 800 + n, "AAG ORDER NUMBER": f"N{n}", "NOTES": "x" * (10 + 3000 * n)} for n in range(3)]

    from pytest_opus.updates.staging import BatchConstants, SourceLayout, staging_table

    table, problems = staging_table(board.board_for(False), deployed.catalog(), "test")
    assert table is not None, problems
    layout = SourceLayout(table, tuple(records[0]), BatchConstants("UPDATE_ITEMS", "tb-1", None, "q" * 5000), "t")
    rows = layout.rows([tuple(r.values()) for r in records], 1)
    # 3 rows are fewer than a full statement: one text, a parameter set per row, one executemany.
    ((sql, params),) = list(layout.statements(rows))
    target = SqlServerTarget(DSN, connection=server, configure_session=True)
    with pytest.raises(ScriptError, match="String data, right truncation"):
        target.executemany(sql, params)
    target.executemany_typed(sql, params, layout.insert.param_types(sql))
    assert server.sent[-1].sizes is not None
    staged = ops.stage_updates(records, "update_items")
    got = deployed.execute(f"SELECT LEN([NOTES]) FROM {ITEMS} WHERE update_batch_id = ? ORDER BY stg_monday_item_id",
                           [staged.batch_id])
    assert [int(n) for (n,) in got] == [10, 3010, 6010]


# -- point 3: streamed staging on a connection without MARS ------------------------------------------------


@pytest.fixture
def source_rows(deployed: SandboxTarget) -> str:
    deployed.execute("CREATE TABLE dbo.SRC_Many (item_id BIGINT NOT NULL, [AAG ORDER NUMBER] NVARCHAR(200))")
    deployed.executemany("INSERT INTO dbo.SRC_Many VALUES (?, ?)", [(900 + n, f"M{n}") for n in range(150)])
    return "SELECT item_id, [AAG ORDER NUMBER] FROM dbo.SRC_Many"


def test_streaming_while_rows_are_unread_needs_mars(deployed: SandboxTarget, board: BoardMetadata,
                                                    source_rows: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_opus.updates import operations

    # 150 source rows in chunks of 60: the first 100-row INSERT is sent while 30 rows are unread.
    monkeypatch.setattr(operations, "CHUNK", 60)
    # Before: reading chunk by chunk and inserting between them, on a connection without MARS.
    server = DocumentedServer(deployed)
    lazy = SqlServerOverDouble(DSN, connection=server, configure_session=True, mars=True)
    with pytest.raises(ScriptError, match="Connection is busy with results for another command"):
        UpdateOperations(lazy, board).stage_updates_from_query(source_rows, "update_items")
    # After: open_target asks for MARS in the DSN, and the chunks interleave with the inserts.
    server = DocumentedServer(deployed)
    monkeypatch.setattr(_odbc, "connect", lambda dsn, **kw: server.connected(dsn))
    target = SqlServerOverDouble(DSN, configure_session=True)
    assert server.mars and target.mars
    assert UpdateOperations(target, board).stage_updates_from_query(source_rows, "update_items").rows_staged == 150
    # A DSN that turns MARS off is respected: the source is read to its end before the first insert.
    server = DocumentedServer(deployed)
    target = SqlServerOverDouble(DSN + ";MARS_Connection=no", configure_session=True)
    assert not server.mars and not target.mars
    assert UpdateOperations(target, board).stage_updates_from_query(source_rows, "update_items").rows_staged == 150


def test_the_dsn_gets_mars_unless_it_says_otherwise() -> None:
    assert with_mars(DSN).endswith(";MARS_Connection=yes") and mars_setting(with_mars(DSN)) is True
    assert with_mars(DSN + ";MARS_Connection=no") == DSN + ";MARS_Connection=no"
    assert mars_setting(DSN + ";MultipleActiveResultSets=True") is True and mars_setting(DSN) is None


# -- point 2: one update_fields text on both paths and every target -------------------------------------

SRC_DDL = ("CREATE TABLE dbo.SRC_Json (run INT NOT NULL, item_id BIGINT NOT NULL, [AAG ORDER NUMBER] NVARCHAR(50), "
           "[ORDER QTY] INT, [CUSTOMER EX FACTORY DATE] DATE, [FINAL FOB (USD)] DECIMAL(12,4), [NOTES] NVARCHAR(MAX))")
SRC_COLUMNS = ["AAG ORDER NUMBER", "ORDER QTY", "CUSTOMER EX FACTORY DATE", "FINAL FOB (USD)", "NOTES"]
SRC_QUERY = "SELECT item_id, " + ", ".join(f"[{c}]" for c in SRC_COLUMNS) + " FROM dbo.SRC_Json WHERE run = {run}"
JSON_TEXT = st.one_of(st.none(), st.sampled_from(["a/b", "\\/", "\\", '"/"', "x\x01/y", "</script>"]),
                      st.text(st.characters(codec="latin-1", exclude_characters="\x00"), max_size=12))
JSON_ROWS = st.lists(st.fixed_dictionaries({
    "AAG ORDER NUMBER": JSON_TEXT,
    "ORDER QTY": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    "CUSTOMER EX FACTORY DATE": st.one_of(st.none(), st.dates()),
    "FINAL FOB (USD)": st.one_of(st.none(), st.decimals(min_value=-(10**7), max_value=10**7, places=4,
                                                        allow_nan=False, allow_infinity=False)),
    "NOTES": JSON_TEXT,
}), min_size=1, max_size=6)
RUN = iter(range(1, 10**6))


def test_the_doubles_for_json_writes_sql_servers_forms(memory: SandboxTarget) -> None:
    """What made the paths differ: FOR JSON's own text is not json.dumps's (so it is normalised)."""
    cursor = DocumentedServer(memory).cursor()
    cursor.execute(JSON_FORMS_PROBE)
    assert cursor.fetchall() == [('{"d":"12.5000","b":true,"t":"a\\/b"}',)]
    assert JsonForms.read('{"d":"12.5000","b":true,"t":"a\\/b"}') == JsonForms(True, True, "\\/")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=JSON_ROWS)
def test_both_paths_write_the_same_update_fields_on_the_double(rows: list[dict[str, Any]], deployed: SandboxTarget,
                                                             board: BoardMetadata) -> None:
    if deployed.catalog().table("dbo.SRC_Json") is None:
        deployed.execute(SRC_DDL)
    run = next(RUN)
    deployed.executemany("INSERT INTO dbo.SRC_Json VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(run, 10**9 + run * 10 + n, *(r[c] for c in SRC_COLUMNS)) for n, r in enumerate(rows)])
    ops, server = sqlserver_ops(deployed, board, describe=True)
    query = SRC_QUERY.format(run=run)
    fast = ops.stage_updates_from_query(query, "update_items")
    assert fast.method == SET_BASED, fast.streamed_because
    assert any("REPLACE(" in s.sql and "FOR JSON" in s.sql for s in server.sent)  # FOR JSON's '\/' undone
    server.describe = False
    slow = ops.stage_updates_from_query(query, "update_items")
    assert slow.method == STREAMED
    read = f"SELECT stg_monday_item_id, update_fields FROM {ITEMS} WHERE update_batch_id = ? ORDER BY 1"
    assert deployed.execute(read, [fast.batch_id]) == deployed.execute(read, [slow.batch_id])


# -- point 10: the catalog keeps the scale of datetime2/time; the DDL check counts positions ---------------


def test_the_catalog_keeps_a_datetime2_scale_and_staging_respects_it() -> None:
    from pytest_opus.targets.sqlserver_catalog import reported_type

    assert reported_type("datetime2", 8, 27, 7) == ("datetime2", None, None, None)  # the default: as the sandbox
    assert reported_type("datetime2", 6, 19, 0) == ("datetime2", None, None, 0)
    assert reported_type("time", 5, 12, 3) == ("time", None, None, 3)
    convert = column_converter(Column("c", 1, "datetime2", scale=0))
    assert convert("2024-01-02T03:04:05") == datetime(2024, 1, 2, 3, 4, 5)
    assert convert("2024-01-02T03:04:05.5") is None  # SQL Server would round it to the second
    assert column_converter(Column("c", 1, "datetime2", scale=3))(datetime(2024, 1, 2, 0, 0, 0, 123000)) is not None
    assert column_converter(Column("c", 1, "datetime2"))(datetime(2024, 1, 2, 0, 0, 0, 123456)) is not None


def test_the_ddl_check_compares_positions_among_current_columns() -> None:
    """ORDINAL_POSITION is SQL Server's column_id: it keeps the gap of a dropped column."""
    script = (ROOT / "sql" / "validate_ddl_changes.sql").read_text()
    compared = re.findall(r"ORDINAL_POSITION\s*(?:=|<>)\s*e\.ord|e\.ord\s*=\s*\w+\.ORDINAL_POSITION", script)
    assert compared == []
    assert script.count("earlier.ORDINAL_POSITION <= col.ORDINAL_POSITION") == 2
