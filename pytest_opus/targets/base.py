"""The one small base every target subclasses, and the results scripts produce."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Self

from ..catalog import Catalog, Column
from ..errors import ScriptError
from .locking import DEFAULT_LOCK_WAIT_SECONDS, check_wait

Row = tuple[Any, ...]
#: Per `?` of a statement, the column its value meets (bound as that column's type), or None.
ParamTypes = Sequence[Column | None]


@dataclass(frozen=True)
class Message:
    """Something the server said while a batch ran: PRINT output, or an informational/warning note."""

    text: str
    kind: str = "print"  # "print" (the script's own output), "info" or "warning" (the server's)
    line: int | None = None


@dataclass(frozen=True)
class ResultColumn:
    """A column a query returns: its name, and its declared type when the target can tell it."""

    name: str
    type: Column | None  # the source column's type (name, length, precision, scale, nullability)
    untyped_because: str = ""  # why a column that has a declared type is given none


@dataclass
class ResultSet:
    columns: tuple[str, ...]
    rows: list[Row]


@dataclass
class BatchResult:
    """One GO batch: its position, what it said and returned, and how long it took."""

    number: int  # 1-based
    start_line: int
    messages: list[Message] = field(default_factory=list)
    result_sets: list[ResultSet] = field(default_factory=list)
    rowcount: int = -1
    seconds: float = 0.0
    error: ScriptError | None = None


@dataclass
class ScriptResult:
    """A whole script run: its batches, and the error that stopped it (if any; then all was rolled back)."""

    source: str
    batches: list[BatchResult] = field(default_factory=list)
    error: ScriptError | None = None
    seconds: float = 0.0
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def messages(self) -> list[Message]:
        return [m for b in self.batches for m in b.messages]

    @property
    def result_sets(self) -> list[ResultSet]:
        return [r for b in self.batches for r in b.result_sets]

    def summary(self) -> str:
        if self.error is None:
            return f"{self.source}: {len(self.batches)} batch(es) committed in {self.seconds:.2f}s"
        return f"{self.source}: FAILED and rolled back: {self.error.describe()}"


MessageSink = Callable[[Message], None]
#: told of each batch of a script as soon as it has run: (the script's source, the batch)
BatchSink = Callable[[str, "BatchResult"], None]


class Target(ABC):
    """A database the phases run against: a connection plus a way of running T-SQL on it.

    `execute_script` runs a whole script atomically (all GO batches in one transaction; the first
    error rolls everything back). `execute`/`executemany`/`stream` run single T-SQL statements with
    `?` parameters for library code such as UpdateOperations. `catalog` reads the schema in a fixed,
    small number of queries.
    """

    #: what kind of target this is, for reports: "sandbox", "sqlserver", "odbc-sqlite"
    kind: str = "abstract"
    #: True when the database outlives the run (a DSN or a file the user named)
    persistent: bool = False
    #: when set, each batch of a script is handed over as soon as it has run, and its rows are then let
    #: go (the ScriptResult keeps the result sets' columns, not their rows), so a script returning
    #: millions of rows in many batches is shown as it runs without being held in memory
    batch_sink: BatchSink | None = None

    def _hand_over(self, source: str, batch: BatchResult) -> None:
        """Give `batch` to the batch sink, if one is set, and keep only its result sets' columns."""
        if self.batch_sink is not None:
            self.batch_sink(source, batch)
            batch.result_sets = [ResultSet(r.columns, []) for r in batch.result_sets]

    def __init__(self, display_name: str) -> None:
        self.display_name = display_name  # masked: safe to print
        self.catalog_queries = 0  # how many queries catalog() has sent, for the fixed-count guarantee
        # statements sent by execute/executemany/stream, so callers can show a count does not grow with rows
        self.statements = 0

    # -- scripts -------------------------------------------------------------------------------
    @abstractmethod
    def execute_script(
        self, text: str, *, source: str = "<script>", on_message: MessageSink | None = None
    ) -> ScriptResult: ...

    def run_script_file(self, path: str, *, on_message: MessageSink | None = None) -> ScriptResult:
        from pathlib import Path

        file = Path(path)
        started = time.perf_counter()
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            result = ScriptResult(source=str(path))
            result.error = ScriptError(
                "script file not found (check the path; scripts live under sql/)", source=str(path)
            )
            return result
        result = self.execute_script(text, source=str(path), on_message=on_message)
        result.seconds = result.seconds or time.perf_counter() - started
        return result

    def deployment_lock(
        self, wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS, holder: str = ""
    ) -> AbstractContextManager[None]:
        """Hold this target's deployment lock inside the block: one deployment at a time.

        Wrap every script run that changes the target: `with target.deployment_lock(wait, holder):
        target.execute_script(...)`. Waits up to `wait_seconds` (0 or more; ConfigError otherwise)
        for another deployment to finish, then raises DeploymentLocked naming the lock, what holds
        it and how to proceed; DeploymentLockError when the lock cannot be taken for another reason.
        `holder` says what this run is doing (e.g. "opus-sql run sql/deploy.sql"), for the message
        another run gets while this one holds the lock, where the target can publish it. The lock is
        released when the block ends, whether it raises or not, and when the process dies. Nested
        blocks on the same target hold it once.

        This base has nothing to lock: a target no other process can reach (an in-memory sandbox)
        needs no lock. SQL Server and SQLite file targets override it.
        """
        check_wait(wait_seconds)
        return nullcontext()

    # -- statements ----------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one T-SQL statement with `?` parameters; return its rows (empty when none)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one parameterised T-SQL statement for many parameter rows."""

    @abstractmethod
    def stream(self, sql: str, params: Sequence[Any] = (), chunk: int = 5000) -> Iterator[list[Row]]:
        """Run a query and yield its rows in chunks, never holding the whole result."""

    # The typed forms: `types` gives, per `?`, the column the value meets (its type and length), or
    # None to let the driver choose. A target whose driver binds by the value alone (the sandbox,
    # SQLite) runs the plain form; SQL Server binds each marker as that type (`SqlServerTarget`).
    def execute_typed(self, sql: str, params: Sequence[Any], types: ParamTypes) -> list[Row]:
        """`execute`, each parameter bound as the type of the column it meets."""
        return self.execute(sql, params)

    def executemany_typed(self, sql: str, rows: Sequence[Sequence[Any]], types: ParamTypes) -> None:
        """`executemany`, each parameter bound as the type of the column it meets."""
        self.executemany(sql, rows)

    def stream_typed(
        self, sql: str, params: Sequence[Any], types: ParamTypes, chunk: int = 5000
    ) -> Iterator[list[Row]]:
        """`stream`, each parameter bound as the type of the column it meets."""
        return self.stream(sql, params, chunk)

    @abstractmethod
    def columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[str, ...]:
        """The column names a query returns (runs it with no rows fetched)."""

    def describe_query(self, sql: str, params: Sequence[Any] = ()) -> tuple[ResultColumn, ...] | None:
        """The columns a query returns with their declared types, without running it; None when the
        target cannot tell. Advisory: callers that get None (or a column without a type) must still
        work, only without what the types would have allowed."""
        return None

    def check_values(
        self, sql: str, params: Sequence[Any], columns: Sequence[ResultColumn]
    ) -> tuple[ResultColumn, ...]:
        """`columns` (from describe_query) with the type taken from any column whose values the
        declared type does not allow. A database that enforces its
        types (SQL Server) holds none: nothing is read. A target that does not (SQLite) reads the
        query's values to find out."""
        return tuple(columns)

    @contextmanager
    @abstractmethod
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""

    @property
    @abstractmethod
    def rowcount(self) -> int:
        """Rows affected by the last statement."""

    # -- schema --------------------------------------------------------------------------------
    @abstractmethod
    def catalog(self) -> Catalog: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.display_name}>"
