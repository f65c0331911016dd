"""UpdateOperations: stage updates, validate them set-based, plan them dry-run, audit them, roll a batch back."""

from __future__ import annotations

import dataclasses
import getpass
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from ..catalog import Catalog, Column
from ..errors import OpusError, ScriptError
from ..targets.base import ParamTypes, ResultColumn, Row, Target
from .board import BoardMetadata, OperationRules, StagedBoard
from .plan import (
    DEFAULT_PER_REQUEST,
    EncodedUpdate,
    MutationPlan,
    PlanError,
    PlannedMutation,
    PlannedRequest,
    PlannedUpdate,
    build_compensating_plan,
    column_resolver,
    plan_encoded,
    row_label,
)
from .report import BatchReport, BatchSummary
from .staging import (
    BATCH_ID_TYPE,
    JSON_FORMS_PROBE,
    NOT_SINGLE_SELECT,
    ROLLED_BACK,
    VALID,
    BatchConstants,
    JsonForms,
    MultiRowInsert,
    SourceLayout,
    StagingError,
    StagingTable,
    bracket,
    check_batch_id,
    check_source_table,
    metadata_problem,
    new_batch_id,
    qualified,
    single_select,
    staging_table,
)
from .validation import NO_STATUS, ValidationSql, binary, build_validation_sql, compatibility_problems, status_is
from .values import COLUMN_TYPES, ValueRejected, cannot_clear_reason, value_converter
from .values import column_type as column_type_entry

AUDIT_TABLE = "dbo.MON_UpdateAudit"
ROLLBACK_PROCEDURE = "dbo.SP_RollbackBatch"
SUMMARY_VIEW = "dbo.VW_UpdateOperationSummary"
#: `source_system` of audit rows written by a dry run; the deploy script's default marks live rows.
DRY_RUN_SOURCE = "OPUS_DRY_RUN"
LIVE_SOURCE = "OPUS_UPDATE_BOARDS"
#: Rows per fetch from a source query and per `executemany` call.
CHUNK = 5000
ROLLBACK_REASON_MAX_LENGTH = 500
USER_ID_MAX_LENGTH = 100


class BatchError(OpusError):
    """A batch id that names no batch, or a batch not in the state the call needs."""


class UnknownBatch(BatchError):
    """No staged row and no audit row carries the batch id."""


class BatchStateError(BatchError):
    """The batch exists but cannot take this step (not validated, already processed, rolled back)."""


class LiveClient(Protocol):
    """What a live run needs from a monday.com client (Phase 1): send one planned request."""

    def send(self, request: PlannedRequest) -> object: ...


NO_ROWS = "the query returned no rows; nothing staged"
#: How a batch was staged: by one INSERT ... SELECT inside the database, or row by row through Python.
SET_BASED, STREAMED = "set-based", "streamed"


@dataclass(frozen=True)
class StageResult:
    batch_id: str
    update_type: str
    table: str
    rows_staged: int
    seconds: float
    method: str = STREAMED  # SET_BASED or STREAMED
    #: why a query's rows were streamed rather than staged set-based ("" when set-based or from records)
    streamed_because: str = ""


@dataclass(frozen=True)
class ValidationResult:
    """A validation run: rows judged VALID / INVALID, and how many rows each reason rejected."""

    batch_id: str
    staged: int
    valid: int
    invalid: int
    reasons: dict[str, int]
    statements: int  # statements the validation sent; the same for 10 rows or 1,000,000
    rolled_back: int = 0  # rows left untouched because the batch was rolled back


@dataclass(frozen=True)
class ProcessResult:
    batch_id: str
    plan: MutationPlan
    audit_rows: int
    dry_run: bool
    unchanged_fields: int = 0  # fields left out because the snapshot already holds the new value


@dataclass(frozen=True)
class RollbackResult:
    """What SP_RollbackBatch marked, and the plan that would put the old values back on monday.

    `compensating_plan` is None when no audit row was rolled back by this call (nothing to undo).
    `not_restorable` counts audit rows whose old value is unknown (no snapshot of that item or
    column when the batch was processed) or cannot be sent back; they are left out of the plan.
    """

    batch_id: str
    audit_rows: int
    item_rows: int
    subitem_rows: int
    compensating_plan: MutationPlan | None
    not_restorable: int = 0


class _BatchState(NamedTuple):
    operation: str | None
    subitems: bool
    rows: int
    not_validated: int
    rolled_back: int
    audit_rows: int
    active_audit_rows: int

    @property
    def exists(self) -> bool:
        return self.rows > 0 or self.audit_rows > 0


class UpdateOperations:
    """Stage, validate, dry-run plan, audit and roll back batches of monday.com updates for one board.

    Construction checks the board metadata against the database once (staging tables and their
    update columns, every mapped column, the snapshot tables, the audit table, procedure and view)
    and raises ConfigError listing every mismatch. Every method that changes the database does so in
    one transaction: after any error the database is as it was.
    """

    def __init__(
        self,
        target: Target,
        board: BoardMetadata,
        *,
        user_id: str | None = None,
        per_request: int = DEFAULT_PER_REQUEST,
    ) -> None:
        if isinstance(per_request, bool) or not isinstance(per_request, int) or per_request < 1:
            raise PlanError(f"per_request must be a positive whole number, got {per_request!r}")
        self.target = target
        self.board = board
        self.per_request = per_request
        self.user_id = user_id if user_id is not None else _login_name()
        if self.user_id is not None:
            self.user_id = self.user_id[:USER_ID_MAX_LENGTH]
        #: statements this object has sent; ValidationResult.statements is measured with it
        self.statements = 0
        self._forms: JsonForms | None = None
        catalog = target.catalog()
        self._tables: dict[bool, StagingTable] = {}
        self._snapshot_columns: dict[bool, frozenset[str]] = {}
        self._validation: dict[str, ValidationSql] = {}
        problems = self._check_database(catalog)
        if problems:
            raise metadata_problem(board.source, problems)

    # -- set-up ----------------------------------------------------------------------------------
    def _check_database(self, catalog: Catalog) -> list[str]:
        problems: list[str] = []
        for name, what in ((AUDIT_TABLE, "table"), (ROLLBACK_PROCEDURE, "procedure"), (SUMMARY_VIEW, "view")):
            found = getattr(catalog, what)(name)
            if found is None:
                problems.append(f"{what} {name} does not exist: deploy sql/deploy_opus_update_boards.sql first")
        boards: list[tuple[bool, StagedBoard]] = [(False, self.board.items)]
        if self.board.subitems is not None:
            boards.append((True, self.board.subitems))
        for subitems, staged in boards:
            table, found = staging_table(staged, catalog, self.board.source)
            problems.extend(found)
            if table is not None:
                self._tables[subitems] = table
            problems.extend(self._check_snapshot(staged, catalog, subitems))
        for op in self.board.operations.values():
            table = self._tables.get(op.subitems)
            if table is not None:
                where = {c.staging_column: c.declared_at for c in self.board.board_for(op.subitems).columns.values()}
                problems.extend(compatibility_problems(self.board.column_checks(op.name), table, where))
        return list(dict.fromkeys(problems))

    def _check_snapshot(self, staged: StagedBoard, catalog: Catalog, subitems: bool) -> list[str]:
        snapshot = staged.snapshot
        if snapshot is None:
            return []
        table = catalog.table(snapshot.table)
        if table is None:
            return [f"{self.board.source}: snapshot table {snapshot.table} does not exist in the database"]
        if table.column(snapshot.key_column) is None:
            return [f"{self.board.source}: snapshot key [{snapshot.key_column}] is not a column of {snapshot.table}"]
        self._snapshot_columns[subitems] = frozenset(c.name.casefold() for c in table.columns)
        return []

    def _operation(self, update_type: str) -> tuple[OperationRules, StagingTable]:
        op = self.board.operation(update_type)  # ConfigError naming the known ones, with a did-you-mean
        return op, self._tables[op.subitems]

    def _validation_sql(self, op: OperationRules) -> ValidationSql:
        sql = self._validation.get(op.name)
        if sql is None:
            table = self._tables[op.subitems]
            board_id = self.board.board_for(op.subitems).board_id
            checks = self.board.column_checks(op.name)
            sql = self._validation[op.name] = build_validation_sql(op, checks, table, board_id)
        return sql

    def _json_forms(self) -> JsonForms:
        """How the database's FOR JSON writes decimals, bits and '/', asked once (JSON_FORMS_PROBE).
        A database that cannot answer gets no set-based `update_fields` (the query is streamed)."""
        if self._forms is None:
            try:
                rows = self.target.execute(JSON_FORMS_PROBE)  # once per instance, not counted in `statements`
                self._forms = JsonForms.read(rows[0][0] if rows else None)
            except OpusError:
                self._forms = JsonForms()
        return self._forms

    # -- statements ------------------------------------------------------------------------------
    # Every parameter the library binds is bound as the column it meets (see Target.execute_typed);
    # only a caller's own query parameters are left to the driver (None).
    def _execute(self, sql: str, params: Sequence[Any], types: ParamTypes) -> list[Row]:
        self.statements += 1
        return self.target.execute_typed(sql, params, types)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]], types: ParamTypes) -> None:
        self.statements += 1
        self.target.executemany_typed(sql, rows, types)

    def _stream(self, sql: str, params: Sequence[Any], types: ParamTypes) -> Iterator[list[Row]]:
        self.statements += 1
        return self.target.stream_typed(sql, params, types, CHUNK)

    def _state(self, batch_id: str) -> _BatchState:
        """Where a batch is and how far it got, in one query."""
        if not isinstance(batch_id, str):
            raise UnknownBatch(f"a batch id is text (StageResult.batch_id), got {batch_id!r}")
        # Statuses and sources are compared by code point, as the workflow writes them (validation.py):
        # under the default collation each comparison is a call into Python on the sandbox. The batch's
        # operation is read as its lowest and highest value rather than grouped (no sort of the batch);
        # when they differ the rows are grouped by operation, case-insensitively, as before.
        rows = self._execute(self._state_sql(grouped=False), [batch_id] * (len(self._tables) + 1),
                             [BATCH_ID_TYPE] * (len(self._tables) + 1))
        rows = [r for r in rows if r[3]]
        if any(r[1] != r[2] for r in rows):
            rows = self._execute(self._state_sql(grouped=True), [batch_id] * (len(self._tables) + 1),
                                 [BATCH_ID_TYPE] * (len(self._tables) + 1))
        staged = [r for r in rows if r[0] in (0, 1)]
        audit = [r for r in rows if r[0] == 2]
        operations = {str(v).lower() for r in rows for v in r[1:3] if v is not None}
        if len({r[0] for r in staged}) > 1 or len(operations) > 1:
            raise BatchStateError(
                f"batch {batch_id} mixes operations or tables ({', '.join(sorted(operations))}); "
                "UpdateOperations stages one operation per batch and cannot handle it"
            )
        side = bool(staged[0][0]) if staged else False
        operation = next(iter(operations), None)
        if operation is not None and not staged and operation in self.board.operations:
            side = self.board.operations[operation].subitems
        return _BatchState(
            operation=operation,
            subitems=side,
            rows=sum(int(r[3]) for r in staged),
            not_validated=sum(int(r[4] or 0) for r in staged),
            rolled_back=sum(int(r[5] or 0) for r in staged),
            audit_rows=sum(int(r[3]) for r in audit),
            active_audit_rows=sum(int(r[4] or 0) for r in audit),
        )

    def _state_sql(self, *, grouped: bool) -> str:
        """The batch's rows per side: (side, operation, operation, rows, a, b), a and b as `_state` reads them."""
        if grouped:
            operation, group = "update_operation, update_operation", " GROUP BY update_operation"
        else:
            operation, group = f"MIN({binary('update_operation')}), MAX({binary('update_operation')})", ""
        parts = []
        for subitems, table in self._tables.items():
            parts.append(
                f"SELECT {int(subitems)} AS side, {operation}, COUNT(*) AS n, "
                "SUM(CASE WHEN validation_errors IS NULL "
                f"AND {binary(NO_STATUS)} <> '{ROLLED_BACK}' THEN 1 ELSE 0 END) AS a, "
                f"SUM(CASE WHEN {status_is('validation_status', ROLLED_BACK)} THEN 1 ELSE 0 END) AS b "
                f"FROM {table.sql_name} WHERE update_batch_id = ?{group}"
            )
        parts.append(
            f"SELECT 2 AS side, {operation}, COUNT(*) AS n, "
            "SUM(CASE WHEN rollback_timestamp IS NULL THEN 1 ELSE 0 END) AS a, "
            f"SUM(CASE WHEN {status_is('source_system', DRY_RUN_SOURCE)} THEN 1 ELSE 0 END) AS b "
            f"FROM {qualified(AUDIT_TABLE)} WHERE batch_id = ?{group}"
        )
        return " UNION ALL ".join(parts)

    def _existing(self, batch_id: str) -> tuple[_BatchState, OperationRules]:
        state = self._state(batch_id)
        if not state.exists or state.operation is None:
            raise UnknownBatch(
                f"no batch {batch_id!r}: no staged row and no audit row carries it; "
                "use the batch_id a stage_updates call returned"
            )
        return state, self.board.operation(state.operation)

    # -- staging ---------------------------------------------------------------------------------
    def stage_updates(
        self,
        records: Iterable[Mapping[str, Any]],
        update_type: str,
        *,
        source_table: str | None = None,
        source_query: str | None = None,
        batch_id: str | None = None,
    ) -> StageResult:
        """Stage one update per record as a new batch; keys are staging column names (and `item_id`).

        Records may differ in the columns they update. All or nothing: any problem raises
        StagingError (or ConfigError for an unknown update type) and nothing is staged.
        """
        op, table = self._operation(update_type)
        constants = self._constants(op, batch_id, source_table, source_query)

        def chunks() -> Iterator[tuple[SourceLayout, list[Sequence[Any]]]]:
            layouts: dict[tuple[str, ...], SourceLayout] = {}
            pending: dict[tuple[str, ...], list[Sequence[Any]]] = {}
            for number, record in enumerate(records, start=1):
                if not isinstance(record, Mapping):
                    raise StagingError(
                        f"record {number} is a {type(record).__name__}; records are mappings of staging column "
                        "names to values (nothing staged)"
                    )
                keys = tuple(record)
                layout = layouts.get(keys)
                if layout is None:
                    if not all(isinstance(k, str) for k in keys):
                        raise StagingError(f"record {number}: column names must be text, got {keys!r}")
                    layout = layouts[keys] = SourceLayout(table, keys, constants, f"record {number}")
                    pending[keys] = []
                rows = pending[keys]
                rows.append(tuple(record.values()))
                if len(rows) >= CHUNK:
                    yield layout, rows
                    pending[keys] = []
            for keys, rows in pending.items():
                if rows:
                    yield layouts[keys], rows

        return self._stage(op, table, constants, chunks(), "no records were given; nothing staged")

    def stage_updates_from_query(
        self,
        sql: str,
        update_type: str,
        source_table: str | None = None,
        batch_id: str | None = None,
        *,
        params: Sequence[Any] = (),
    ) -> StageResult:
        """Stage one update per row of a query: set-based (one INSERT ... SELECT inside the database)
        where the query's declared types make that give the same rows, else read in chunks of 5,000
        (never the whole result) and converted row by row (`StageResult.method`, `streamed_because`).

        The query's column names are staging column names, plus the item id (as `item_id` or the
        board's item id column). It runs on the same connection as the inserts, so it must not read
        the staging table it writes to (refused). All or nothing, as `stage_updates`.
        """
        op, table = self._operation(update_type)
        bare = table.table.name
        if re.search(rf"(?<![\w@#$]){re.escape(bare)}(?![\w@#$])", sql, re.IGNORECASE):
            raise StagingError(
                f"the query reads {table.name}, the table this batch is staged into; rows written while it "
                "is read could be read again. Copy the rows to another table first, or pass them to "
                "stage_updates (nothing staged)"
            )
        constants = self._constants(op, batch_id, source_table, sql)
        described, reason = None, NOT_SINGLE_SELECT
        if single_select(sql):
            try:
                described = self.target.describe_query(sql, params) or None
                reason = "" if described else "the target cannot describe the query's column types"
            except OpusError as exc:  # only an optimisation failed: run the query to learn its columns
                reason = f"the target could not describe the query ({exc})"
        try:
            names = (
                tuple(c.name for c in described) if described is not None else self.target.columns_of(sql, params)
            )
        except OpusError:
            raise
        except Exception as exc:  # a driver error the target did not translate: still the user's query
            raise StagingError(f"the source query cannot run: {exc} (nothing staged)") from None
        layout = SourceLayout(table, names, constants, "source query")
        if described is not None:
            statement, reason = layout.insert_select(sql, described, op.max_batch_size + 1, self._json_forms())
            if statement is not None:
                result, reason = self._stage_set_based(op, layout, constants, statement, sql, params, described)
                if result is not None:
                    return result

        def chunks() -> Iterator[tuple[SourceLayout, list[Sequence[Any]]]]:
            for rows in self._stream(sql, params, [None] * len(params)):
                yield layout, list(rows)

        result = self._stage(op, table, constants, chunks(), NO_ROWS)
        return dataclasses.replace(result, streamed_because=reason)

    def _stage_set_based(
        self,
        op: OperationRules,
        layout: SourceLayout,
        constants: BatchConstants,
        statement: str,
        sql: str,
        params: Sequence[Any],
        described: Sequence[ResultColumn],
    ) -> tuple[StageResult | None, str]:
        """One INSERT ... SELECT reading at most max_batch_size + 1 rows, then a count of what it wrote
        (not the driver's row count, which a trigger or NOCOUNT can change); too many or none undo it.

        Then a database that does not enforce its declared types is asked whether the query's values
        obey them (`check_values`; after the INSERT, so that it reads only a source the batch size
        allows). If they do not, the rows are deleted again and (None, why) returned: stream instead.
        """
        started = time.perf_counter()
        table = layout.table
        with self.target.transaction():
            try:
                self._execute(
                    statement, [*layout.shared_values, *params], [*layout.shared_types, *[None] * len(params)]
                )
            except ScriptError:
                # The sandbox refuses to convert a value its column's type does not allow (SQLite
                # stored it anyway; a conversion error or "not supported"): if that is why, the rows
                # are streamed instead, nothing having been written. Any other error is the query's.
                checked = self.target.check_values(sql, params, described)
                still, reason = layout.insert_select(sql, checked, op.max_batch_size + 1, self._json_forms())
                if still is None:
                    return None, reason
                raise
            count = f"SELECT COUNT(*) FROM {table.sql_name} WHERE update_batch_id = ?"
            staged = int(self._execute(count, [constants.batch_id], [BATCH_ID_TYPE])[0][0])
            if staged > op.max_batch_size:
                raise self._too_many(op)
            if staged == 0:
                raise StagingError(NO_ROWS)
            try:
                checked = self.target.check_values(sql, params, described)
                still, reason = layout.insert_select(sql, checked, op.max_batch_size + 1, self._json_forms())
            except OpusError as exc:
                still, reason = None, f"the target could not check the query's values ({exc})"
            if still is None:
                self._execute(
                    f"DELETE FROM {table.sql_name} WHERE update_batch_id = ?", [constants.batch_id], [BATCH_ID_TYPE]
                )
                return None, reason
        seconds = time.perf_counter() - started
        return StageResult(constants.batch_id, op.name, table.name, staged, seconds, method=SET_BASED), ""

    @staticmethod
    def _too_many(op: OperationRules) -> StagingError:
        return StagingError(
            f"the source has more than {op.max_batch_size} rows, the max_batch_size of {op.name} "
            f"({op.declared_at}); split it into smaller batches (nothing staged)"
        )

    def _constants(
        self, op: OperationRules, batch_id: str | None, source_table: str | None, source_query: str | None
    ) -> BatchConstants:
        batch = new_batch_id() if batch_id is None else check_batch_id(batch_id)
        if source_query is not None and not isinstance(source_query, str):
            raise StagingError(f"source_query is the SQL text the updates came from, got {type(source_query).__name__}")
        state = self._state(batch)
        if state.exists:
            raise StagingError(
                f"batch id {batch!r} is already used ({state.rows} staged row(s), {state.audit_rows} audit row(s)); "
                "a batch is staged once: omit batch_id to get a new one"
            )
        return BatchConstants(op.name.upper(), batch, check_source_table(source_table), source_query)

    def _stage(
        self,
        op: OperationRules,
        table: StagingTable,
        constants: BatchConstants,
        chunks: Iterator[tuple[SourceLayout, list[Sequence[Any]]]],
        empty: str,
    ) -> StageResult:
        started = time.perf_counter()
        staged = 0
        pending: dict[SourceLayout, list[list[Any]]] = {}
        with self.target.transaction():
            for layout, rows in chunks:
                first = staged + 1
                staged += len(rows)
                if staged > op.max_batch_size:
                    raise self._too_many(op)
                # Rows wait until they fill whole statements, so every INSERT but the last has one text.
                waiting = pending.setdefault(layout, [])
                waiting.extend(layout.rows(rows, first))
                whole = len(waiting) // layout.rows_per_statement * layout.rows_per_statement
                if whole:
                    self._insert(layout, waiting[:whole])
                    del waiting[:whole]
            for layout, waiting in pending.items():
                if waiting:
                    self._insert(layout, waiting)
            if staged == 0:
                raise StagingError(empty)
        return StageResult(constants.batch_id, op.name, table.name, staged, time.perf_counter() - started)

    def _insert(self, layout: SourceLayout, rows: list[list[Any]]) -> None:
        for sql, params in layout.statements(rows):
            self._executemany(sql, params, layout.insert.param_types(sql))

    # -- validation ------------------------------------------------------------------------------
    def validate_staged_updates(self, batch_id: str) -> ValidationResult:
        """Check every staged row of the batch against the operation's rules, in four statements.

        Writes `validation_errors` (a JSON array of reasons, `[]` when none) and `validation_status`
        (VALID / INVALID). Rows of a rolled-back batch are left untouched. A processed batch is
        refused: its audit rows record what its valid rows were.
        """
        start = self.statements
        state, op = self._existing(batch_id)
        if state.audit_rows:
            raise BatchStateError(
                f"batch {batch_id} is already processed ({state.audit_rows} audit row(s)); validating it again "
                "could disagree with its audit trail. Roll it back and stage a new batch"
            )
        sql = self._validation_sql(op)
        with self.target.transaction():
            self._execute(
                sql.mark,
                sql.mark_params(batch_id, state.rows - state.rolled_back),
                [BATCH_ID_TYPE if p == "batch" else None for p in sql.mark_parameters],
            )
            self._execute(sql.settle, [batch_id], [BATCH_ID_TYPE])
        counts = self._counts(sql, batch_id)
        return ValidationResult(
            batch_id=batch_id,
            staged=counts.staged,
            valid=counts.valid,
            invalid=counts.invalid,
            reasons=counts.reasons,
            statements=self.statements - start,
            rolled_back=counts.rolled_back,
        )

    def _counts(self, sql: ValidationSql, batch_id: str) -> _Counts:
        rows = {row[0]: row[1:] for row in self._execute(sql.counts, [batch_id] * 2, [BATCH_ID_TYPE] * 2)}
        staged, valid, invalid, rolled_back, without_errors, pending = (int(v or 0) for v in rows[0][:6])
        reasons = {r: int(n) for r, n in zip(sql.reasons, rows[1][6:], strict=True) if n}
        ordered = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
        return _Counts(staged, valid, invalid, rolled_back, without_errors, pending, ordered)

    # -- processing ------------------------------------------------------------------------------
    def process_staged_updates(
        self, batch_id: str, dry_run: bool = True, client: LiveClient | None = None
    ) -> ProcessResult:
        """Plan the batch's VALID rows as monday mutations and write their audit rows.

        Fields whose new value equals the snapshot's are left out (when the metadata names a
        snapshot). Dry-run audit rows are marked `source_system = 'OPUS_DRY_RUN'`. Nothing is sent
        and no network connection is opened; `dry_run=False` needs a live client passed explicitly.
        """
        if not dry_run and client is None:
            raise PlanError(
                "Phase 0 is dry-run only: process_staged_updates(dry_run=False) sends to monday.com and needs "
                "a live client passed explicitly (client=...); none is part of Phase 0"
            )
        state, op = self._existing(batch_id)
        if state.audit_rows:
            raise BatchStateError(
                f"batch {batch_id} is already processed ({state.audit_rows} audit row(s)); "
                "roll it back or stage a new batch"
            )
        if state.rows and state.rolled_back == state.rows:
            raise BatchStateError(f"batch {batch_id} was rolled back; stage a new batch")
        if state.not_validated:
            raise BatchStateError(
                f"batch {batch_id} has {state.not_validated} row(s) not validated; run validate_staged_updates first"
            )
        planner = _Planner(self, op)
        source = DRY_RUN_SOURCE if dry_run else LIVE_SOURCE
        board_id = self.board.board_for(op.subitems).board_id
        shared = (batch_id, op.name.upper(), board_id, self.user_id, source)
        pending: list[tuple[Any, ...]] = []
        written = 0

        def flush() -> None:
            nonlocal written
            for sql, params in _AUDIT_INSERT.statements(shared, pending):
                self._executemany(sql, params, _AUDIT_INSERT.param_types(sql))
            written += len(pending)
            pending.clear()

        def audit(mutation: PlannedMutation, notes: dict[str, tuple[str | None, str | None]]) -> None:
            # The audit trail is built from each mutation as it is planned, so it cannot list a change
            # the plan does not make; rows go out CHUNK at a time, in the one transaction below.
            item_id = mutation.item_id
            for column_id in mutation.column_ids:
                old, new = notes.get(column_id, (None, None))
                pending.append((item_id, column_id, old, new))
            if len(pending) >= CHUNK:
                flush()

        with self.target.transaction():  # a PlanError part-way leaves no audit row behind
            plan = plan_encoded(
                self.board,
                planner.encoded(batch_id),
                per_request=self.per_request,
                subitems=op.subitems,
                on_mutation=audit,
            )
            if pending:
                flush()
        if not dry_run and client is not None:
            for request in plan.requests:
                client.send(request)
        return ProcessResult(batch_id, plan, written, dry_run, planner.unchanged)

    # -- rollback --------------------------------------------------------------------------------
    def rollback_batch(self, batch_id: str, reason: str) -> RollbackResult:
        """Run SP_RollbackBatch: mark the batch's audit and staged rows rolled back, in one transaction.

        A second call changes nothing and returns zero counts. The compensating plan (the old values,
        as mutations) is returned, never sent: Phase 0 has no live client.
        """
        if not isinstance(reason, str) or not reason.strip() or len(reason) > ROLLBACK_REASON_MAX_LENGTH:
            raise BatchError(
                f"a rollback needs a reason of 1 to {ROLLBACK_REASON_MAX_LENGTH} characters (it is kept in the "
                f"audit trail), got {reason!r}"
            )
        state, op = self._existing(batch_id)
        plan, not_restorable = (None, 0)
        if state.active_audit_rows:
            plan, not_restorable = self._compensating_plan(batch_id, op)
        # The procedure runs BEGIN/COMMIT TRANSACTION of its own. Inside the target's transaction() it
        # starts at @@TRANCOUNT 1 and ends there; called on its own on SQL Server (autocommit off, so
        # implicit transactions) its BEGIN would open two and the call end in error 266.
        with self.target.transaction():
            rows = self._execute(
                f"EXEC {ROLLBACK_PROCEDURE} @batch_id = ?, @rollback_reason = ?",
                [batch_id, reason],
                [BATCH_ID_TYPE, _ROLLBACK_REASON_TYPE],
            )
        if not rows:
            raise BatchError(f"{ROLLBACK_PROCEDURE} returned no counts for batch {batch_id}; check the procedure")
        _batch, audit_rows, item_rows, subitem_rows = rows[-1]
        return RollbackResult(
            batch_id,
            int(audit_rows),
            int(item_rows),
            int(subitem_rows),
            plan if int(audit_rows) else None,
            not_restorable if int(audit_rows) else 0,
        )

    def _compensating_plan(self, batch_id: str, op: OperationRules) -> tuple[MutationPlan, int]:
        staged = self.board.board_for(op.subitems)
        by_id = {c.column_id: c for c in staged.columns.values()}
        snapshot = staged.snapshot
        snapshot_columns = self._snapshot_columns.get(op.subitems, frozenset())
        if snapshot is not None:
            known = f"s.{bracket(snapshot.key_column)}"
            join = f"LEFT JOIN {qualified(snapshot.table)} AS s ON s.{bracket(snapshot.key_column)} = a.monday_item_id "
        else:
            known, join = "NULL", ""
        rows = self._execute(
            f"SELECT a.monday_item_id, a.column_id, a.old_value, {known} "
            f"FROM {qualified(AUDIT_TABLE)} AS a {join}"
            "WHERE a.batch_id = ? AND a.rollback_timestamp IS NULL ORDER BY a.audit_id",
            [batch_id],
            [BATCH_ID_TYPE],
        )
        originals: dict[int, dict[str, Any]] = {}
        not_restorable = 0
        for item_id, column_id, old_text, in_snapshot in rows:
            column = by_id.get(column_id)
            if column is None or in_snapshot is None or column.staging_column.casefold() not in snapshot_columns:
                not_restorable += 1  # the old value was never known, so there is nothing to put back
                continue
            value = value_from_audit(column.column_type, old_text)
            convert, rule, clearable = value_converter(column.column_type)
            try:
                if value is None and not clearable:
                    raise ValueRejected("cannot be cleared")
                if value is not None:
                    convert(value, rule)
            except ValueRejected:
                not_restorable += 1
                continue
            originals.setdefault(int(item_id), {})[column.staging_column] = value
        plan = build_compensating_plan(
            self.board,
            [PlannedUpdate(item, columns) for item, columns in originals.items()],
            per_request=self.per_request,
            subitems=op.subitems,
        )
        return plan, not_restorable

    # -- reading ---------------------------------------------------------------------------------
    def batch_summary(self, batch_id: str) -> tuple[BatchSummary, ...]:
        """The batch's rows of VW_UpdateOperationSummary (none before it is processed)."""
        self._existing(batch_id)
        rows = self._execute(
            "SELECT batch_id, update_operation, monday_board_id, total_updates, active_updates, "
            "rolled_back_updates, batch_start_time, batch_end_time, error_count "
            f"FROM {qualified(SUMMARY_VIEW)} WHERE batch_id = ? ORDER BY update_operation, monday_board_id",
            [batch_id],
            [BATCH_ID_TYPE],
        )
        return tuple(
            BatchSummary(
                str(r[0]),
                str(r[1]),
                None if r[2] is None else int(r[2]),
                int(r[3]),
                int(r[4] or 0),
                int(r[5] or 0),
                r[6],
                r[7],
                int(r[8] or 0),
            )
            for r in rows
        )

    def report(self, batch_id: str) -> BatchReport:
        """The batch in numbers, from the database (so it works in any later session)."""
        state, op = self._existing(batch_id)
        counts = self._counts(self._validation_sql(op), batch_id)
        mutations, dry_run_rows = 0, 0
        if state.audit_rows:
            row = self._execute(
                "SELECT COUNT(DISTINCT monday_item_id), "
                f"SUM(CASE WHEN {status_is('source_system', DRY_RUN_SOURCE)} THEN 1 ELSE 0 END) "
                f"FROM {qualified(AUDIT_TABLE)} WHERE batch_id = ?",
                [batch_id],
                [BATCH_ID_TYPE],
            )[0]
            mutations, dry_run_rows = int(row[0] or 0), int(row[1] or 0)
        validated_valid = counts.without_errors
        validated_invalid = counts.staged - counts.without_errors - counts.pending
        rate = None
        if counts.staged and not counts.pending:
            rate = validated_valid / counts.staged
        return BatchReport(
            batch_id=batch_id,
            operation=op.name,
            staged=counts.staged,
            valid=validated_valid,
            invalid=validated_invalid,
            pending=counts.pending,
            rolled_back=counts.rolled_back,
            reasons_grouped=counts.reasons,
            planned_mutations=mutations,
            planned_requests=-(-mutations // self.per_request),
            audit_rows=state.audit_rows,
            active_audit_rows=state.active_audit_rows,
            dry_run_audit_rows=dry_run_rows,
            success_rate=rate,
        )


class _Counts(NamedTuple):
    staged: int
    valid: int  # validation_status VALID
    invalid: int  # validation_status INVALID
    rolled_back: int
    without_errors: int  # validated with no reason (validation_errors = '[]'), whatever the status now
    pending: int  # never validated
    reasons: dict[str, int]


#: MON_UpdateAudit's columns as the deploy script creates them (docs/updates.md): what the audit
#: insert binds its values as.
_AUDIT_TYPES = {
    "batch_id": BATCH_ID_TYPE,
    "update_operation": Column("update_operation", 0, "varchar", max_length=50),
    "monday_item_id": Column("monday_item_id", 0, "bigint"),
    "monday_board_id": Column("monday_board_id", 0, "bigint"),
    "column_id": Column("column_id", 0, "varchar", max_length=100),
    "old_value": Column("old_value", 0, "nvarchar", max_length=-1),
    "new_value": Column("new_value", 0, "nvarchar", max_length=-1),
    "user_id": Column("user_id", 0, "varchar", max_length=USER_ID_MAX_LENGTH),
    "source_system": Column("source_system", 0, "varchar", max_length=50),
}
_ROLLBACK_REASON_TYPE = Column("@rollback_reason", 0, "nvarchar", max_length=ROLLBACK_REASON_MAX_LENGTH)
_AUDIT_INSERT = MultiRowInsert(
    qualified(AUDIT_TABLE),
    ["monday_item_id", "column_id", "old_value", "new_value"],
    ["batch_id", "update_operation", "monday_board_id", "user_id", "source_system"],
    types=_AUDIT_TYPES,
)

_MISSING = object()


class _ColumnPlan(NamedTuple):
    column_id: str
    convert: Any
    rule: Any
    clearable: bool
    column_type: str
    plain: Any  # the converter without the operation's rules, for old values
    snapshot_index: int | None  # position of its old value in a row read by _Planner


#: One decoder for every row (json.loads with parse_float builds a new decoder per call).
_FIELDS_DECODER = json.JSONDecoder(parse_float=Decimal)


def load_fields(text: str) -> dict[str, Any]:
    """`update_fields` as values. JSON numbers with a fraction read as exact Decimals: the database
    writes a DECIMAL(18,4) as 12.3400 (staged set-based), which a float could not hold for 18 digits."""
    fields: dict[str, Any] = _FIELDS_DECODER.decode(text)
    return fields


class _Planner:
    """Reads a batch's VALID rows with their snapshot values, a chunk at a time, and encodes each
    value once: the encoded value is compared with the snapshot's, kept for the audit trail and
    handed to the plan (`plan_encoded`) as it is, not converted again."""

    def __init__(self, operations: UpdateOperations, op: OperationRules) -> None:
        self.operations = operations
        self.op = op
        self.board = operations.board.board_for(op.subitems)
        self.table = operations._tables[op.subitems]
        self.unchanged = 0
        snapshot = self.board.snapshot
        snapshot_columns = operations._snapshot_columns.get(op.subitems, frozenset())
        select = ["t.stg_id", f"t.{bracket(self.table.item_id_column)}", "t.update_fields"]
        join = ""
        self.snapshot_index: dict[str, int] = {}
        if snapshot is not None:
            select.append(f"s.{bracket(snapshot.key_column)}")
            item = bracket(self.table.item_id_column)
            join = f" LEFT JOIN {qualified(snapshot.table)} AS s ON s.{bracket(snapshot.key_column)} = t.{item}"
        for name in op.allowed_columns:
            if snapshot is not None and name.casefold() in snapshot_columns:
                self.snapshot_index[name.casefold()] = len(select)
                select.append(f"s.{bracket(name)}")
        # The same resolver build_plan uses: the same errors for an unmapped, read-only or not allowed column.
        self.resolve = column_resolver(operations.board, self.board, op)
        self.columns: dict[str, _ColumnPlan] = {}
        # Read CHUNK rows per query (keyset on stg_id), each query read to its end before the audit
        # rows of its chunk are written: no cursor stays open across writes (SQL Server without MARS).
        self.sql = (
            f"SELECT TOP {CHUNK} {', '.join(select)} FROM {self.table.sql_name} AS t{join} "
            f"WHERE t.update_batch_id = ? AND {status_is('t.validation_status', VALID)} AND t.stg_id > ? "
            "ORDER BY t.stg_id"
        )
        self.has_snapshot = snapshot is not None

    def _spec(self, name: str) -> _ColumnPlan:
        spec = self.columns.get(name)
        if spec is None:
            column_id, convert, rule, clearable, column_type = self.resolve(name)
            spec = _ColumnPlan(
                column_id, convert, rule, clearable, column_type, value_converter(column_type),
                self.snapshot_index.get(name.casefold()),
            )
            self.columns[name] = spec
        return spec

    def encoded(self, batch_id: str) -> Iterator[EncodedUpdate]:
        """Each VALID row as (item id, stg_id, {column id: encoded value}, {column id: (old, new) audit text}),
        leaving out columns whose new value equals the snapshot's."""
        loads = load_fields
        last = 0
        while True:
            rows = self.operations._execute(self.sql, [batch_id, last], [BATCH_ID_TYPE, None])
            if not rows:
                return
            last = rows[-1][0]
            for row in rows:
                yield self._encode_row(row, loads(row[2]) if row[2] else {})
            if len(rows) < CHUNK:
                return

    def _encode_row(self, row: Row, fields: dict[str, Any]) -> EncodedUpdate:
        stg_id, item_id = row[0], row[1]
        in_snapshot = self.has_snapshot and row[3] is not None
        values: dict[str, Any] = {}
        notes: dict[str, tuple[str | None, str | None]] = {}
        seen: set[str] = set()
        name = ""
        try:
            for name, value in fields.items():
                spec = self._spec(name)
                if spec.column_id in seen:
                    raise PlanError("the same column is given twice (names differing only in case)")
                seen.add(spec.column_id)
                new = self._encode(spec, value, stg_id, item_id, name)
                old_text = None
                if in_snapshot and spec.snapshot_index is not None:
                    raw = row[spec.snapshot_index]
                    old = _encode_old(spec, raw)
                    if old == new:
                        self.unchanged += 1
                        continue
                    old_text = audit_text(old) if old is not _MISSING else (None if raw is None else str(raw))
                values[spec.column_id] = new
                notes[spec.column_id] = (old_text, audit_text(new))
        except ValueRejected as exc:
            raise PlanError(f"{row_label(stg_id, item_id)}: [{name}] {'; '.join(exc.reasons)}") from None
        except PlanError as exc:
            if str(exc).startswith(row_label(stg_id, item_id)):
                raise
            raise PlanError(f"{row_label(stg_id, item_id)}: {exc}") from None
        return item_id, stg_id, values, notes

    @staticmethod
    def _encode(spec: _ColumnPlan, value: Any, stg_id: int, item_id: Any, name: str) -> Any:
        if value is None:
            if spec.clearable:
                return None
            raise ValueRejected(cannot_clear_reason(spec.column_type))
        try:
            return spec.convert(value, spec.rule)
        except ValueRejected as exc:
            raise PlanError(
                f"staging row {stg_id} (item {item_id}): [{name}] {'; '.join(exc.reasons)}; the row is VALID, so "
                "the set-based validation and the value rules disagree (on the sandbox: text with characters "
                "outside the BMP near a length limit, see docs/updates.md, Limits); nothing was written"
            ) from None


def _encode_old(spec: _ColumnPlan, value: Any) -> Any:
    """The snapshot's value encoded as the plan would send it, or _MISSING when it cannot be."""
    if value is None:
        return None
    try:
        return spec.convert(value, spec.rule)
    except ValueRejected:
        pass
    try:  # a value today's rules refuse (a retired label) is still the board's value
        return spec.plain.convert(value, spec.plain.rule)
    except ValueRejected:
        return _MISSING


def audit_text(encoded: Any) -> str | None:
    """An encoded column value as the audit trail keeps it: the plain value where there is one.

    A status keeps its label, a date its day, long text its text, an email its address; values with
    no single plain form (phone, location, ...) keep their JSON. `value_from_audit` reads them back.
    """
    if encoded is None:
        return None
    if isinstance(encoded, str):
        return encoded
    if isinstance(encoded, dict):
        for key in ("label", "email", "url"):
            if key in encoded:
                return str(encoded[key])
        if set(encoded) == {"text"}:
            return str(encoded["text"])
        if "date" in encoded and set(encoded) <= {"date", "time"}:
            return " ".join(str(encoded[k]) for k in ("date", "time") if k in encoded)
        if set(encoded) == {"labels"}:
            return ", ".join(encoded["labels"])
        if encoded == {"checked": "true"}:
            return "true"
    return json.dumps(encoded, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def value_from_audit(column_type: str, text: str | None) -> Any:
    """An audit text back as a value the column's converter takes (for the compensating plan): the
    type's own decoder (`ColumnType.audit`, values.py); text as it is for a type without one."""
    if text is None:
        return None
    decode = column_type_entry(column_type).audit if column_type in COLUMN_TYPES else None
    return text if decode is None else decode(text)


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers; the audit column is nullable
        return None
