"""The dry-run plan: the exact monday.com requests a batch of updates would send, and what they cost.

Each updated item becomes one aliased `change_multiple_column_values` mutation; mutations are
grouped `per_request` to a request (monday's own tools send 20 to 50). Column values are encoded by
`values.py` and checked again here, so a plan can never carry a value its column type refuses.

A plan's requests are kept in a temporary file as they are planned (`PlannedRequests`), not in memory:
a request is built when it is read (`plan.requests[i]`, or iterating), the same request every time.
Up to `SPOOL_IN_MEMORY` bytes of them stay in memory; a larger plan goes to a temporary file that
has no name and is gone when the plan is (about 0.2 KB per mutation on disk, where a plan of
PlannedRequest objects took 0.7 KB of memory per mutation). The counts (`mutation_count`,
`column_counts`, ...) are kept as the plan is built, so reading them reads no request.

Complexity is an estimate: monday publishes no cost for `change_multiple_column_values`. Its
developer guide ("Development best practices") says each `create_item` uses 10,000 points; we assume
the same per mutation, so a request costs `mutations x 10,000` (the `complexity` selection itself
adds nothing measurable). Phase 1 should replace the figure with the `complexity.query` monday returns.
"""

from __future__ import annotations

import gc
import marshal
import tempfile
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

from ..errors import OpusError
from ..suggest import did_you_mean
from .board import UPDATE_ITEMS, UPDATE_SUBITEMS, BoardMetadata, OperationRules, StagedBoard
from .graphql import BOARD_VARIABLE, aliases, change_columns_document, variable_names
from .values import (
    Converter,
    ValueRejected,
    ValueRule,
    cannot_clear_reason,
    column_values_json,
    read_only_reason,
    value_converter,
)

#: Assumed points per mutation: monday documents 10,000 for create_item, and nothing for this mutation.
MUTATION_COMPLEXITY_ESTIMATE = 10_000
#: monday refuses a single query above 5,000,000 complexity points.
QUERY_COMPLEXITY_LIMIT = 5_000_000
DEFAULT_PER_REQUEST = 25


class PlanError(OpusError):
    """An update that cannot be planned: names the item, the staging row and the column at fault."""


@dataclass(frozen=True, slots=True)
class PlannedUpdate:
    """One item's change as staged: the monday item id and {staging column: new value}."""

    item_id: int
    columns: Mapping[str, object]
    staging_row_id: int | None = None


class PlannedMutation(NamedTuple):
    """One aliased mutation of a request. A NamedTuple rather than a dataclass: a plan holds one per
    update, and building 100,000 frozen dataclasses would cost more than planning them."""

    alias: str
    item_id: int
    staging_row_id: int | None
    column_values: str  # the JSON text sent as the `column_values` variable
    column_ids: tuple[str, ...]


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request to monday: a validated document, its variables, and what it contains."""

    query: str
    variables: dict[str, Any]
    aliases: tuple[str, ...]
    mutations: tuple[PlannedMutation, ...]
    estimated_complexity: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "variables": self.variables,
            "aliases": list(self.aliases),
            "items": [
                {"alias": m.alias, "item_id": m.item_id, "staging_row_id": m.staging_row_id} for m in self.mutations
            ],
            "estimated_complexity": self.estimated_complexity,
        }


@dataclass(frozen=True)
class MutationPlan:
    """Everything a batch would send to monday, request by request; nothing here touches a network."""

    board_id: int
    board_name: str
    subitems: bool
    purpose: str  # "update", or "compensating" for the plan that restores old values
    per_request: int
    requests: Sequence[PlannedRequest]  # PlannedRequests: read from a temporary file when asked
    skipped_rows: tuple[int | None, ...] = ()  # staging rows with nothing to change (no columns left)
    mutation_cost: int = MUTATION_COMPLEXITY_ESTIMATE
    _counts: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def mutation_count(self) -> int:
        if isinstance(self.requests, PlannedRequests):
            return self.requests.mutation_count
        return sum(len(r.mutations) for r in self.requests)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    @property
    def estimated_complexity(self) -> int:
        if isinstance(self.requests, PlannedRequests):
            return self.requests.mutation_count * self.mutation_cost
        return sum(r.estimated_complexity for r in self.requests)

    def mutations(self) -> Iterable[PlannedMutation]:
        for request in self.requests:
            yield from request.mutations

    def column_counts(self) -> dict[str, int]:
        """How many mutations change each monday column id, most changed first."""
        if not self._counts:
            if isinstance(self.requests, PlannedRequests):
                counter = self.requests.column_counts
            else:
                counter = Counter(cid for m in self.mutations() for cid in m.column_ids)
            self._counts.update(dict(counter.most_common()))
        return dict(self._counts)

    def to_dict(self, *, include_requests: bool = True) -> dict[str, Any]:
        """JSON-ready: the figures, and (unless switched off) every request with its variables."""
        data: dict[str, Any] = {
            "board_id": self.board_id,
            "board_name": self.board_name,
            "subitems": self.subitems,
            "purpose": self.purpose,
            "mutation_count": self.mutation_count,
            "request_count": self.request_count,
            "per_request": self.per_request,
            "estimated_complexity": self.estimated_complexity,
            "complexity_per_mutation_estimate": self.mutation_cost,
            "skipped_rows": list(self.skipped_rows),
            "columns_changed": self.column_counts(),
        }
        if include_requests:
            data["requests"] = [r.to_dict() for r in self.requests]
        return data

    def summary(self) -> str:
        """A few lines for a terminal or report: what would be sent, to which board, at what cost."""
        board = f"{'subitems board' if self.subitems else 'board'} {self.board_id} ({self.board_name})"
        lines = [
            f"{self.purpose} plan for {board}: {self.mutation_count} mutation(s) in {self.request_count} "
            f"request(s) of up to {self.per_request}",
            f"estimated complexity {self.estimated_complexity:,} points "
            f"({self.mutation_cost:,} per mutation, an estimate; monday's limit is "
            f"{QUERY_COMPLEXITY_LIMIT:,} per request)",
        ]
        if self.skipped_rows:
            lines.append(f"{len(self.skipped_rows)} update(s) had nothing to change and were left out")
        counts = self.column_counts()
        if counts:
            lines.append("columns changed: " + ", ".join(f"{cid} x{n}" for cid, n in counts.items()))
        return "\n".join(lines)


def build_plan(
    board: BoardMetadata,
    updates: Iterable[PlannedUpdate],
    *,
    per_request: int = DEFAULT_PER_REQUEST,
    subitems: bool = False,
    operation: str | None = None,
    apply_rules: bool = True,
    mutation_cost: int = MUTATION_COMPLEXITY_ESTIMATE,
    purpose: str = "update",
) -> MutationPlan:
    """Plan `updates` as aliased `change_multiple_column_values` mutations, `per_request` per request.

    Subitems go to the subitems board with its column ids. With `apply_rules`, the value rules and
    allowed columns of `operation` apply (by default `update_subitems` or `update_items`, when the
    board defines it); otherwise only the column types' own checks do. A read-only or unmapped
    column, an invalid value, a bad or repeated item id raise PlanError naming the row and column.
    """
    _check_per_request(per_request, mutation_cost)
    target = board.board_for(subitems)
    rules = _operation_rules(board, subitems, operation) if apply_rules else None
    resolve = column_resolver(board, target, rules)
    with _gc_paused():
        requests, skipped = _plan_mutations(
            _encode_updates(updates, resolve), PlannedRequests(per_request, target.board_id, subitems, mutation_cost),
            None,
        )
    return _plan(board, target, subitems, purpose, per_request, requests, skipped, mutation_cost)


#: An update whose values are already encoded: (item id, staging row id, {monday column id: encoded
#: value}, a note of the caller's handed back with the mutation made from it).
EncodedUpdate = tuple[int, int | None, dict[str, Any], Any]
#: Told of each mutation as it is planned, with the note of the update it was made from.
MutationSink = Callable[[PlannedMutation, Any], None]


def plan_encoded(
    board: BoardMetadata,
    updates: Iterable[EncodedUpdate],
    *,
    per_request: int = DEFAULT_PER_REQUEST,
    subitems: bool = False,
    mutation_cost: int = MUTATION_COMPLEXITY_ESTIMATE,
    purpose: str = "update",
    on_mutation: MutationSink | None = None,
) -> MutationPlan:
    """`build_plan` for updates whose values a caller has already encoded (with the converters
    `column_resolver` hands out), so that no value is converted twice; `on_mutation` is told of each
    mutation as soon as it is made (process_staged_updates writes its audit rows from it, in chunks,
    while the plan is built). Item ids, repeated items and request grouping are checked as in build_plan.
    """
    _check_per_request(per_request, mutation_cost)
    target = board.board_for(subitems)
    with _gc_paused():
        requests, skipped = _plan_mutations(
            updates, PlannedRequests(per_request, target.board_id, subitems, mutation_cost), on_mutation
        )
    return _plan(board, target, subitems, purpose, per_request, requests, skipped, mutation_cost)


def _check_per_request(per_request: int, mutation_cost: int) -> None:
    if isinstance(per_request, bool) or not isinstance(per_request, int) or per_request < 1:
        raise PlanError(f"per_request must be a positive whole number, got {per_request!r}")
    if per_request * mutation_cost > QUERY_COMPLEXITY_LIMIT:
        raise PlanError(
            f"{per_request} mutations per request would cost about {per_request * mutation_cost:,} points, "
            f"over monday's {QUERY_COMPLEXITY_LIMIT:,} per request; use at most "
            f"{QUERY_COMPLEXITY_LIMIT // mutation_cost}"
        )


def _plan(
    board: BoardMetadata,
    target: StagedBoard,
    subitems: bool,
    purpose: str,
    per_request: int,
    requests: PlannedRequests,
    skipped: list[int | None],
    mutation_cost: int,
) -> MutationPlan:
    return MutationPlan(
        board_id=target.board_id,
        board_name=board.name,
        subitems=subitems,
        purpose=purpose,
        per_request=per_request,
        requests=requests,
        skipped_rows=tuple(skipped),
        mutation_cost=mutation_cost,
    )


def _encode_updates(updates: Iterable[PlannedUpdate], resolve: Callable[[str], _Resolved]) -> Iterator[EncodedUpdate]:
    """Each update's column values encoded (converted and checked) by their column's converter."""
    resolved: dict[str, _Resolved] = {}
    for update in updates:
        item_id = update.item_id
        if type(item_id) is not int or item_id <= 0:
            raise PlanError(f"{_row(update)}: item id must be a positive whole number, got {item_id!r}")
        columns = update.columns
        values: dict[str, Any] = {}
        name = ""
        try:
            for name, value in columns.items():
                entry = resolved.get(name)
                if entry is None:
                    entry = resolved[name] = resolve(name)
                # Converters are called directly (no wrapper per value): this is the planner's hot loop.
                if value is not None:
                    values[entry[0]] = entry[1](value, entry[2])
                elif entry[3]:
                    values[entry[0]] = None
                else:
                    raise ValueRejected(cannot_clear_reason(entry[4]))
        except ValueRejected as exc:
            raise PlanError(f"{_row(update)}: [{name}] {'; '.join(exc.reasons)}") from None
        except PlanError as exc:
            raise PlanError(f"{_row(update)}: {exc}") from None
        if len(values) != len(columns):
            raise PlanError(f"{_row(update)}: the same column is given twice (names differing only in case)")
        yield item_id, update.staging_row_id, values, None


def _plan_mutations(
    updates: Iterable[EncodedUpdate], requests: PlannedRequests, on_mutation: MutationSink | None
) -> tuple[PlannedRequests, list[int | None]]:
    """Each update's encoded values as JSON text in an aliased mutation; the part that scales with rows."""
    seen: dict[int, int | None] = {}
    skipped: list[int | None] = []
    names = aliases(requests.per_request)
    to_json = column_values_json
    new_mutation = tuple.__new__
    add = requests.add

    for item_id, staging_row_id, values, note in updates:
        if type(item_id) is not int or item_id <= 0:
            raise PlanError(
                f"{row_label(staging_row_id, item_id)}: item id must be a positive whole number, got {item_id!r}"
            )
        if item_id in seen:
            raise PlanError(
                f"{row_label(staging_row_id, item_id)}: item {item_id} is already planned from staging row "
                f"{seen[item_id]}; one mutation per item, or the later change would race the earlier"
            )
        seen[item_id] = staging_row_id
        if not values:
            skipped.append(staging_row_id)
            continue
        # tuple.__new__ directly: NamedTuple's generated __new__ is a Python-level call per item.
        mutation = new_mutation(
            PlannedMutation, (names[requests.pending], item_id, staging_row_id, to_json(values), tuple(values))
        )
        add(mutation)
        if on_mutation is not None:
            on_mutation(mutation, note)

    requests.close()
    return requests, skipped


#: Bytes of planned requests kept in memory; beyond, they go to a temporary file (see the module docstring).
SPOOL_IN_MEMORY = 8 * 2**20


class PlannedRequests(Sequence[PlannedRequest]):
    """A plan's requests, kept in a temporary file as they are planned and built again when read.

    Reads as a sequence (`len`, `[i]`, slices, iteration); each read builds equal PlannedRequest
    objects. Two of these are equal when their requests are. The file (in memory up to
    SPOOL_IN_MEMORY bytes) has no name on disk and is closed with the plan.
    """

    def __init__(self, per_request: int, board_id: int, subitems: bool, mutation_cost: int) -> None:
        self.per_request = per_request
        self.board_id = board_id
        self.subitems = subitems
        self.mutation_cost = mutation_cost
        self.mutation_count = 0
        self.column_counts: Counter[str] = Counter()
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # closed with the plan
        self._offsets = array("q", [0])
        self._chunk: list[tuple[int, int | None, str, tuple[str, ...]]] = []
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Mutations of the request being filled (the next one's position in it)."""
        return len(self._chunk)

    def add(self, mutation: PlannedMutation) -> None:
        self._chunk.append((mutation.item_id, mutation.staging_row_id, mutation.column_values, mutation.column_ids))
        self.mutation_count += 1
        self.column_counts.update(mutation.column_ids)
        if len(self._chunk) == self.per_request:
            self._write()

    def close(self) -> None:
        """The last, partial request is written; nothing is added after."""
        if self._chunk:
            self._write()

    def _write(self) -> None:
        change_columns_document(len(self._chunk), self.subitems)  # built and validated once per shape, now
        data = marshal.dumps(self._chunk)
        with self._lock:
            self._file.seek(self._offsets[-1])
            self._file.write(data)
            self._offsets.append(self._offsets[-1] + len(data))
        self._chunk = []

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> PlannedRequest: ...

    @overload
    def __getitem__(self, index: slice) -> list[PlannedRequest]: ...

    def __getitem__(self, index: int | slice) -> PlannedRequest | list[PlannedRequest]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(f"request {index} of a plan of {count}")
        with self._lock:
            self._file.seek(self._offsets[index])
            data = self._file.read(self._offsets[index + 1] - self._offsets[index])
        return self._request(marshal.loads(data))

    def __iter__(self) -> Iterator[PlannedRequest]:
        for index in range(len(self)):
            yield self[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PlannedRequests({len(self)} requests, {self.mutation_count} mutations)"

    def _request(self, stored: list[tuple[int, int | None, str, tuple[str, ...]]]) -> PlannedRequest:
        names = aliases(self.per_request)
        new_mutation = tuple.__new__
        chunk = tuple(
            new_mutation(PlannedMutation, (names[i], item, row, values, tuple(ids)))
            for i, (item, row, values, ids) in enumerate(stored)
        )
        return _request(chunk, self.board_id, self.subitems, self.mutation_cost, names)


def _request(
    chunk: tuple[PlannedMutation, ...], board: int, subitems: bool, mutation_cost: int, names: tuple[str, ...]
) -> PlannedRequest:
    """One request of consecutive mutations, with their shared document."""
    count = len(chunk)
    variables: dict[str, Any] = {BOARD_VARIABLE: str(board)}
    for (item_var, values_var), mutation in zip(variable_names(count), chunk, strict=True):
        # IDs go as strings, GraphQL's own form of ID; no client can round a string.
        variables[item_var] = str(mutation.item_id)
        variables[values_var] = mutation.column_values
    return PlannedRequest(
        query=change_columns_document(count, subitems),
        variables=variables,
        aliases=names[:count],
        mutations=chunk,
        estimated_complexity=count * mutation_cost,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is built.

    Planning allocates a few objects per update and keeps them all; the collector would re-scan the
    growing heap again and again (about 12% of planning time at 100,000 updates) to find no cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_compensating_plan(
    board: BoardMetadata,
    originals: Iterable[PlannedUpdate],
    *,
    per_request: int = DEFAULT_PER_REQUEST,
    subitems: bool = False,
) -> MutationPlan:
    """The plan that puts old values back (e.g. after `rollback_batch`): `build_plan` on the old values.

    Operation rules do not apply: an old value is restored as it was, even if today's rules would
    refuse it (a label since retired, a date outside today's range). Column types still check it.
    """
    return build_plan(
        board,
        originals,
        per_request=per_request,
        subitems=subitems,
        apply_rules=False,
        purpose="compensating",
    )


def _row(update: PlannedUpdate) -> str:
    return row_label(update.staging_row_id, update.item_id)


def row_label(staging_row_id: int | None, item_id: object) -> str:
    """How an error names the update at fault: its staging row (when it has one) and its item."""
    row = f"staging row {staging_row_id}" if staging_row_id is not None else "update"
    return f"{row} (item {item_id})"


def _operation_rules(board: BoardMetadata, subitems: bool, operation: str | None) -> OperationRules | None:
    if operation is None:
        default = UPDATE_SUBITEMS if subitems else UPDATE_ITEMS
        return board.operations.get(default)
    rules = board.operation(operation)
    if rules.subitems != subitems:
        side = "subitems" if rules.subitems else "items"
        raise PlanError(f"operation {operation!r} writes {side}; call build_plan with subitems={rules.subitems}")
    return rules


_Resolved = tuple[str, Converter, ValueRule, bool, str]  # column id, convert, rule, clearable, type


def column_resolver(
    board: BoardMetadata, target: StagedBoard, rules: OperationRules | None
) -> Callable[[str], _Resolved]:
    """Staging column name -> how to send it; raises PlanError for a column that cannot be sent."""

    def resolve(name: str) -> _Resolved:
        col = target.find_column(name)
        if col is None:
            raise PlanError(
                f"[{name}] is not mapped to a column of board {target.board_id} in {board.source}"
                f"{did_you_mean(name, target.columns)}"
            )
        if col.read_only:
            raise PlanError(f"[{name}] (monday column {col.column_id}) is {read_only_reason(col.column_type)}")
        rule: ValueRule | None = None
        if rules is not None:
            if not rules.allows(name):
                raise PlanError(f"[{name}] may not be changed by {rules.name} ({rules.declared_at})")
            rule = rules.rule_for(name)
        convert, bound, clearable = value_converter(col.column_type, rule)
        return col.column_id, convert, bound, clearable, col.column_type

    return resolve
