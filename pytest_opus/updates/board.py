"""Board metadata: which staging columns feed which monday columns, and the rules each operation obeys.

Read from `expectations/boards/*.yaml` (format in docs/boards.md). The loader walks PyYAML's node
tree rather than the constructed data so that every problem is reported as `file:line: message`,
all problems at once, and so that string fields keep their text exactly as written (YAML 1.1 would
otherwise turn a label `ON` into `True` or `2024-01-01` into a date).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import ConfigError
from ..sqltypes import INTEGER_RANGES
from ..suggest import did_you_mean
from .values import (
    COLUMN_TYPES,
    DATE_PATTERN,
    LONG_TEXT_MAX_LENGTH,
    RULE_FIELDS,
    ValueRule,
    check_value,
    column_type,
    effective_rule,
    parse_decimal,
    read_only_reason,
)

#: The operation types pytest-opus knows how to plan; metadata may define others for its own use.
UPDATE_ITEMS = "update_items"
UPDATE_SUBITEMS = "update_subitems"


class BoardMetadataError(ConfigError):
    """Board metadata that cannot be used; `problems` lists each as `file:line: message`."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        heading = f"{source}: {count} problem{'s' if count != 1 else ''} in board metadata"
        super().__init__("\n  ".join([heading, *self.problems]))


@dataclass(frozen=True)
class ColumnMap:
    """One staging column and the monday column it is written to."""

    staging_column: str
    column_id: str
    column_type: str
    read_only: bool
    declared_at: str  # "file:line", so later checks (e.g. against the live table) can point here


@dataclass(frozen=True)
class SnapshotTable:
    """A table mirroring the board's current values, used for old values and to skip unchanged ones.

    Its columns are named like the staging table's business columns; `key_column` holds the item id.
    """

    table: str
    key_column: str


@dataclass(frozen=True)
class StagedBoard:
    """A monday board (the main board or its subitems board) and the staging table that feeds it."""

    board_id: int
    staging_table: str
    item_id_column: str
    columns: Mapping[str, ColumnMap]  # staging column as written -> mapping, in file order
    snapshot: SnapshotTable | None = None
    parent_item_id_column: str | None = None  # subitems boards only
    # SQL Server compares column names case-insensitively, so lookups do too.
    _index: dict[str, ColumnMap] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({name.casefold(): col for name, col in self.columns.items()})

    def find_column(self, staging_column: str) -> ColumnMap | None:
        """The mapping of a staging column (any letter case), or None when it is not mapped."""
        return self._index.get(staging_column.casefold())

    def column(self, staging_column: str) -> ColumnMap:
        """The mapping of a staging column; an unmapped name raises ConfigError with a did-you-mean."""
        found = self.find_column(staging_column)
        if found is None:
            raise ConfigError(
                f"[{staging_column}] is not mapped to a column of board {self.board_id}"
                f"{did_you_mean(staging_column, self.columns)}"
            )
        return found

    @property
    def writable_columns(self) -> tuple[str, ...]:
        return tuple(name for name, col in self.columns.items() if not col.read_only)


@dataclass(frozen=True)
class OperationRules:
    """What one operation type (`update_items`, `update_subitems`, ...) may change, and how."""

    name: str
    subitems: bool  # True: the operation writes to the subitems board
    max_batch_size: int
    required_fields: tuple[str, ...]  # staging columns every update must carry, not NULL
    allowed_columns: tuple[str, ...]  # staging columns an update may change
    rules: Mapping[str, ValueRule]  # staging column -> limits beyond the column type's own
    declared_at: str
    _allowed: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _rules: dict[str, ValueRule] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", frozenset(c.casefold() for c in self.allowed_columns))
        self._rules.update({name.casefold(): rule for name, rule in self.rules.items()})

    def allows(self, staging_column: str) -> bool:
        return staging_column.casefold() in self._allowed

    def rule_for(self, staging_column: str) -> ValueRule | None:
        return self._rules.get(staging_column.casefold())


@dataclass(frozen=True)
class ColumnCheck:
    """Everything needed to check one column of one operation, e.g. to generate set-based SQL.

    `rule` already includes monday's own limits for the type (long text <= 2,000, email <= 254).
    """

    staging_column: str
    column_id: str
    column_type: str
    read_only: bool
    allowed: bool
    required: bool
    rule: ValueRule


@dataclass(frozen=True)
class BoardMetadata:
    """One board file: the board, its subitems board, and the rules per operation type."""

    key: str  # the file name without extension, e.g. "customer_master_schedule"
    name: str
    items: StagedBoard
    operations: Mapping[str, OperationRules]
    subitems: StagedBoard | None = None
    source: str = "<string>"

    @property
    def board_id(self) -> int:
        return self.items.board_id

    @property
    def staging_table(self) -> str:
        return self.items.staging_table

    @property
    def item_id_column(self) -> str:
        return self.items.item_id_column

    @property
    def snapshot(self) -> SnapshotTable | None:
        return self.items.snapshot

    @property
    def columns(self) -> Mapping[str, ColumnMap]:
        return self.items.columns

    def column(self, staging_column: str) -> ColumnMap:
        """A main-board column by staging name (any letter case); ConfigError with a did-you-mean."""
        return self.items.column(staging_column)

    def operation(self, name: str) -> OperationRules:
        """The rules of an operation type; an unknown name raises ConfigError naming the known ones."""
        found = self.operations.get(name)
        if found is None:
            known = ", ".join(self.operations) or "none"
            raise ConfigError(
                f"board {self.key!r} has no operation type {name!r}"
                f"{did_you_mean(name, self.operations)}; it defines: {known}"
            )
        return found

    def board_for(self, subitems: bool) -> StagedBoard:
        """The main board, or the subitems board (ConfigError when the metadata has none)."""
        if not subitems:
            return self.items
        if self.subitems is None:
            raise ConfigError(f"board {self.key!r} ({self.source}) declares no subitems board")
        return self.subitems

    def column_checks(self, operation: str) -> tuple[ColumnCheck, ...]:
        """One `ColumnCheck` per mapped column of the operation's board, in file order."""
        op = self.operation(operation)
        board = self.board_for(op.subitems)
        required = {c.casefold() for c in op.required_fields}
        return tuple(
            ColumnCheck(
                staging_column=name,
                column_id=col.column_id,
                column_type=col.column_type,
                read_only=col.read_only,
                allowed=op.allows(name),
                required=name.casefold() in required,
                rule=effective_rule(col.column_type, op.rule_for(name)),
            )
            for name, col in board.columns.items()
        )

    def check_fields(self, operation: str, fields: Mapping[str, object]) -> list[str]:
        """Why one staged update's fields break the operation's rules; empty when they do not.

        The per-row rules only: item id, duplicates and batch size concern the batch, not a row.
        """
        op = self.operation(operation)
        board = self.board_for(op.subitems)
        given = {name.casefold(): value for name, value in fields.items()}
        reasons = []
        for name in op.required_fields:
            if name.casefold() not in given:
                reasons.append(f"[{name}] is required")
            elif given[name.casefold()] is None:
                reasons.append(f"[{name}] is required and cannot be NULL")
        folded: set[str] = set()
        for name, value in fields.items():
            col = board.find_column(name)
            if name.casefold() in folded:
                reasons.append(f"[{name}] is given twice (column names ignore letter case)")
                continue
            folded.add(name.casefold())
            if col is None:
                reasons.append(f"[{name}] is not a mapped column{did_you_mean(name, board.columns)}")
            elif col.read_only:
                reasons.append(f"[{name}] is {read_only_reason(col.column_type)}")
            elif not op.allows(name):
                reasons.append(f"[{name}] may not be changed by {op.name}")
            else:
                for reason in check_value(col.column_type, value, op.rule_for(name)):
                    reasons.append(f"[{name}] {reason}")
        return reasons


# -- loading ---------------------------------------------------------------------------------------


def load_board(path: str | Path) -> BoardMetadata:
    """Read one board file; any problem raises BoardMetadataError listing every `file:line: message`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"board metadata file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read board metadata {path}: {exc}") from None
    key = (str(path), text)
    found = _LOADED.get(key)
    if found is None:
        found = parse_board(text, source=str(path), key=path.stem)
        if len(_LOADED) >= 64:
            _LOADED.clear()
        _LOADED[key] = found
    return found


#: Boards read in this process, by file name and content (a board is frozen): the phases read the same file
#: several times a run, and its YAML takes tens of milliseconds to read and check.
_LOADED: dict[tuple[str, str], BoardMetadata] = {}


def load_boards(directory: str | Path) -> dict[str, BoardMetadata]:
    """Every `*.yaml` / `*.yml` board in a directory, keyed by file name without extension."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"board metadata directory not found: {directory}")
    boards: dict[str, BoardMetadata] = {}
    problems: list[str] = []
    seen_ids: dict[int, str] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            board = load_board(path)
        except BoardMetadataError as exc:
            problems.extend(exc.problems)
            continue
        if board.key in boards:
            problems.append(f"{path}: board key {board.key!r} also comes from {boards[board.key].source}")
            continue
        for board_id in (board.board_id, board.subitems.board_id if board.subitems else None):
            if board_id is not None and board_id in seen_ids:
                problems.append(f"{path}: board id {board_id} is also declared in {seen_ids[board_id]}")
            elif board_id is not None:
                seen_ids[board_id] = str(path)
        boards[board.key] = board
    if problems:
        raise BoardMetadataError(str(directory), problems)
    return boards


def parse_board(text: str, *, source: str = "<string>", key: str | None = None) -> BoardMetadata:
    """Board metadata from YAML text; `source` names it in error messages."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        message = f"{source}{line}: not valid YAML: {exc.problem or exc}"
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            # The parser notices a mistake late (an unclosed brace shows on the next line); say where
            # the construct it was reading began, which is usually where the mistake is.
            message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        raise BoardMetadataError(source, [message]) from None
    except yaml.YAMLError as exc:
        raise BoardMetadataError(source, [f"{source}: not valid YAML: {exc}"]) from None
    if root is None:
        raise BoardMetadataError(source, [f"{source}:1: the file is empty"])
    board = reader.board(root, key or Path(source).stem)
    if reader.found or board is None:
        raise BoardMetadataError(source, reader.problems)
    return board


_BOARD_REQUIRED = ("board_id", "name", "staging_table", "item_id_column", "columns")
_BOARD_KEYS = {*_BOARD_REQUIRED, "snapshot", "subitems", "operations"}
_SUBITEM_REQUIRED = ("board_id", "staging_table", "item_id_column", "parent_item_id_column", "columns")
_SUBITEM_KEYS = {*_SUBITEM_REQUIRED, "snapshot"}
_COLUMN_KEYS = {"id", "type", "read_only"}
_SNAPSHOT_KEYS = {"table", "key"}
_OPERATION_KEYS = {"board", "max_batch_size", "required_fields", "allowed_columns", "rules"}
_OPERATION_NAME = re.compile(r"[a-z][a-z0-9_]*")
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
#: monday ids (boards, items) are 64-bit: SQL Server's BIGINT and the audit's board_id hold at most this.
ID_MAX = INTEGER_RANGES["bigint"][1]
#: Batch sizes and lengths are counted in SQL Server INT (TOP, COUNT(*), LEN): at most this.
COUNT_MAX = INTEGER_RANGES["int"][1]
_ID_HINT = " (monday ids are 64-bit at most: copy the number from the board's URL, /boards/<id>)"


class _Reader:
    """Turns the YAML node tree into metadata, collecting `file:line` problems instead of stopping."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[tuple[int, str]] = []  # (line, message), reported in line order
        # Columns declared with a mistake (already reported): later references to them stay quiet
        # instead of repeating the problem as "not a mapped column".
        self.broken: set[str] = set()

    # -- primitives ---------------------------------------------------------------------------------

    def at(self, node: Node) -> str:
        return f"{self.source}:{node.start_mark.line + 1}"

    def problem(self, node: Node, message: str) -> None:
        self.found.append((node.start_mark.line + 1, f"{self.at(node)}: {message}"))

    @property
    def problems(self) -> list[str]:
        return [message for _, message in sorted(self.found, key=lambda found: found[0])]

    def mapping(
        self, node: Node, where: str, *, allowed: set[str] | None = None, required: Iterable[str] = ()
    ) -> dict[str, tuple[ScalarNode, Node]] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{where} must be a mapping (key: value lines)")
            return None
        entries: dict[str, tuple[ScalarNode, Node]] = {}
        misspelt: set[str] = set()  # keys suggested for an unknown key; not reported again as missing
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not key_node.value.strip():
                self.problem(key_node, f"{where}: keys must be plain names")
                continue
            name = key_node.value
            if name in entries:
                self.problem(
                    key_node,
                    f"{where}: duplicate key {name!r} (first at line {entries[name][0].start_mark.line + 1})",
                )
                continue
            if allowed is not None and name not in allowed:
                hint = did_you_mean(name, sorted(allowed))
                self.problem(key_node, f"{where}: unknown key {name!r}{hint}")
                misspelt.update(k for k in allowed if hint.endswith(f"{k!r}?)"))
                continue
            entries[name] = (key_node, value_node)
        for name in required:
            if name not in entries and name not in misspelt:
                self.problem(node, f"{where}: missing required key {name!r}")
        return entries

    def text(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG or not node.value.strip():
            self.problem(node, f"{what} must be a non-empty text value")
            return None
        return node.value.strip()

    def integer(
        self, node: Node, what: str, *, minimum: int = 1, maximum: int = COUNT_MAX, hint: str = ""
    ) -> int | None:
        raw = node.value.strip() if isinstance(node, ScalarNode) else ""
        digits = raw.replace("_", "")
        if not isinstance(node, ScalarNode) or not re.fullmatch(r"[0-9]+", digits):
            self.problem(node, f"{what} must be a whole number, got {_shown(node)}")
            return None
        # Compared as text first, so a number of thousands of digits is not converted to find out.
        if len(digits.lstrip("0")) > len(str(maximum)) or int(digits) > maximum:
            shown = digits if len(digits) <= 40 else f"{digits[:20]}... ({len(digits)} digits)"
            self.problem(node, f"{what} must be from {minimum} to {maximum:,}, got {shown}{hint}")
            return None
        value = int(digits)
        if value < minimum:
            self.problem(node, f"{what} must be at least {minimum}, got {value}")
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL_TAG:
            self.problem(node, f"{what} must be true or false, got {_shown(node)}")
            return None
        return node.value.lower() in ("true", "yes", "on")

    def number(self, node: Node, what: str) -> Decimal | None:
        value = parse_decimal(node.value.strip()) if isinstance(node, ScalarNode) else None
        if value is None:
            self.problem(node, f"{what} must be a number, got {_shown(node)}")
        return value

    def day(self, node: Node, what: str) -> date | None:
        if isinstance(node, ScalarNode) and DATE_PATTERN.fullmatch(node.value.strip()):
            try:
                return date.fromisoformat(node.value.strip())
            except ValueError:
                pass
        self.problem(node, f"{what} must be a date YYYY-MM-DD, got {_shown(node)}")
        return None

    def text_list(self, node: Node, what: str) -> list[tuple[str, Node]]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, e.g. [A, B]")
            return []
        items = []
        for item in node.value:
            value = self.text(item, f"each entry of {what}")
            if value is not None:
                items.append((value, item))
        return items

    # -- sections -----------------------------------------------------------------------------------

    def board(self, root: Node, key: str) -> BoardMetadata | None:
        top = self.mapping(root, "board file", allowed=_BOARD_KEYS, required=_BOARD_REQUIRED)
        if top is None:
            return None
        name = self.text(top["name"][1], "name") if "name" in top else None
        items = self.staged_board(top, "board", subitems=False)
        subitems = None
        if "subitems" in top:
            sub_entries = self.mapping(
                top["subitems"][1], "subitems", allowed=_SUBITEM_KEYS, required=_SUBITEM_REQUIRED
            )
            subitems = self.staged_board(sub_entries, "subitems", subitems=True)
        if items is not None and subitems is not None and items.board_id == subitems.board_id:
            self.problem(top["subitems"][1], f"subitems board_id {subitems.board_id} is the main board's id")
        operations: dict[str, OperationRules] = {}
        if "operations" in top:
            ops_node = top["operations"][1]
            for op_name, (op_key, op_node) in (self.mapping(ops_node, "operations") or {}).items():
                op = self.operation(op_name, op_key, op_node, items, subitems, "subitems" in top)
                if op is not None:
                    operations[op_name] = op
        if self.found or name is None or items is None:
            return None
        return BoardMetadata(
            key=key, name=name, items=items, subitems=subitems, operations=operations, source=self.source
        )

    def staged_board(
        self, entries: dict[str, tuple[ScalarNode, Node]] | None, where: str, *, subitems: bool
    ) -> StagedBoard | None:
        if entries is None:
            return None
        board_id = (
            self.integer(entries["board_id"][1], f"{where} board_id", maximum=ID_MAX, hint=_ID_HINT)
            if "board_id" in entries
            else None
        )
        table = self.text(entries["staging_table"][1], "staging_table") if "staging_table" in entries else None
        item_col = self.text(entries["item_id_column"][1], "item_id_column") if "item_id_column" in entries else None
        parent_col = None
        if subitems and "parent_item_id_column" in entries:
            parent_col = self.text(entries["parent_item_id_column"][1], "parent_item_id_column")
        snapshot = self.snapshot(entries["snapshot"][1], where) if "snapshot" in entries else None
        columns = self.columns(entries["columns"][1], where) if "columns" in entries else None
        if columns is not None:
            column_nodes = {
                key.value.casefold(): key for key, _ in entries["columns"][1].value if isinstance(key, ScalarNode)
            }
            for reserved in (item_col, parent_col):
                if reserved is not None and reserved.casefold() in column_nodes:
                    self.problem(
                        column_nodes[reserved.casefold()],
                        f"[{reserved}] holds the monday item id; it cannot also be a mapped board column",
                    )
        if board_id is None or table is None or item_col is None or columns is None:
            return None
        if subitems and parent_col is None:
            return None
        return StagedBoard(
            board_id=board_id,
            staging_table=table,
            item_id_column=item_col,
            columns=columns,
            snapshot=snapshot,
            parent_item_id_column=parent_col,
        )

    def snapshot(self, node: Node, where: str) -> SnapshotTable | None:
        entries = self.mapping(node, f"{where} snapshot", allowed=_SNAPSHOT_KEYS, required=("table", "key"))
        if entries is None or "table" not in entries or "key" not in entries:
            return None
        table = self.text(entries["table"][1], "snapshot table")
        key = self.text(entries["key"][1], "snapshot key")
        return SnapshotTable(table, key) if table and key else None

    def columns(self, node: Node, where: str) -> dict[str, ColumnMap] | None:
        entries = self.mapping(node, f"{where} columns")
        if entries is None:
            return None
        if not entries:
            self.problem(node, f"{where} columns: map at least one staging column")
        columns: dict[str, ColumnMap] = {}
        folded: dict[str, str] = {}
        ids: dict[str, str] = {}
        for staging, (key_node, value_node) in entries.items():
            if staging.casefold() in folded:
                self.problem(
                    key_node,
                    f"[{staging}] is mapped twice (also as [{folded[staging.casefold()]}]; "
                    "column names ignore letter case)",
                )
                continue
            folded[staging.casefold()] = staging
            column = self.column(staging, key_node, value_node)
            if column is None:
                self.broken.add(staging.casefold())
                continue
            if column.column_id in ids:
                self.problem(
                    value_node,
                    f"[{staging}]: monday column {column.column_id!r} is already mapped from [{ids[column.column_id]}]",
                )
                continue
            ids[column.column_id] = staging
            columns[staging] = column
        return columns

    def column(self, staging: str, key_node: Node, node: Node) -> ColumnMap | None:
        entries = self.mapping(node, f"column [{staging}]", allowed=_COLUMN_KEYS, required=("id", "type"))
        if entries is None or "id" not in entries or "type" not in entries:
            return None
        column_id = self.text(entries["id"][1], f"[{staging}] id")
        type_name = self.text(entries["type"][1], f"[{staging}] type")
        if type_name is not None and type_name not in COLUMN_TYPES:
            self.problem(
                entries["type"][1],
                f"[{staging}]: unknown monday column type {type_name!r}{did_you_mean(type_name, COLUMN_TYPES)}",
            )
            type_name = None
        if column_id is None or type_name is None:
            return None
        always_read_only = not column_type(type_name).writable
        read_only = always_read_only
        if "read_only" in entries:
            flag = self.boolean(entries["read_only"][1], f"[{staging}] read_only")
            if flag is False and always_read_only:
                self.problem(
                    entries["read_only"][1],
                    f"[{staging}]: {read_only_reason(type_name)}; read_only: false is not possible",
                )
            read_only = bool(flag) or always_read_only
        return ColumnMap(staging, column_id, type_name, read_only, self.at(key_node))

    def operation(
        self,
        name: str,
        key_node: Node,
        node: Node,
        items: StagedBoard | None,
        subitems_board: StagedBoard | None,
        has_subitems: bool,
    ) -> OperationRules | None:
        where = f"operation {name}"
        if not _OPERATION_NAME.fullmatch(name):
            self.problem(key_node, f"{where}: names are lower case letters, digits and _")
        entries = self.mapping(node, where, allowed=_OPERATION_KEYS, required=("max_batch_size",))
        if entries is None:
            return None
        on_subitems = "subitem" in name
        if "board" in entries:
            target = self.text(entries["board"][1], f"{where} board")
            if target not in (None, "items", "subitems"):
                self.problem(entries["board"][1], f"{where}: board must be 'items' or 'subitems', got {target!r}")
            on_subitems = target == "subitems"
        if on_subitems and not has_subitems:
            self.problem(node, f"{where} writes subitems, but the file declares no subitems board")
            return None
        board = subitems_board if on_subitems else items
        max_batch = (
            self.integer(entries["max_batch_size"][1], f"{where} max_batch_size")
            if "max_batch_size" in entries
            else None
        )
        if board is None:
            return None  # the board section already reported its own problems
        allowed = (
            self.column_refs(entries["allowed_columns"][1], f"{where} allowed_columns", board)
            if "allowed_columns" in entries
            else [(c, None) for c in board.writable_columns]
        )
        allowed_names = {c.casefold() for c, _ in allowed}
        for col_name, col_node in allowed:
            col = board.column(col_name)
            if col.read_only and col_node is not None:
                self.problem(
                    col_node,
                    f"{where}: [{col_name}] is read-only ({col.column_type}); it cannot be an allowed column",
                )
        required = []
        if "required_fields" in entries:
            required = self.column_refs(entries["required_fields"][1], f"{where} required_fields", board)
            for col_name, col_node in required:
                if col_name.casefold() not in allowed_names:
                    self.problem(col_node or node, f"{where}: required field [{col_name}] is not in allowed_columns")
        rules = self.rules(entries["rules"][1], where, board, allowed_names) if "rules" in entries else {}
        if max_batch is None:
            return None
        return OperationRules(
            name=name,
            subitems=on_subitems,
            max_batch_size=max_batch,
            required_fields=tuple(c for c, _ in required),
            allowed_columns=tuple(c for c, _ in allowed),
            rules=rules,
            declared_at=self.at(key_node),
        )

    def column_refs(self, node: Node, what: str, board: StagedBoard) -> list[tuple[str, Node | None]]:
        refs: list[tuple[str, Node | None]] = []
        seen = set()
        for name, item in self.text_list(node, what):
            col = board.find_column(name)
            if col is None and name.casefold() in self.broken:
                continue
            if col is None:
                self.problem(item, f"{what}: [{name}] is not a mapped column{did_you_mean(name, board.columns)}")
            elif name.casefold() in seen:
                self.problem(item, f"{what}: [{name}] is listed twice")
            else:
                seen.add(name.casefold())
                refs.append((col.staging_column, item))
        return refs

    def rules(self, node: Node, where: str, board: StagedBoard, allowed: set[str]) -> dict[str, ValueRule]:
        rules: dict[str, ValueRule] = {}
        for name, (key_node, value_node) in (self.mapping(node, f"{where} rules") or {}).items():
            col = board.find_column(name)
            if col is None and name.casefold() in self.broken:
                continue
            if col is None:
                self.problem(
                    key_node,
                    f"{where} rules: [{name}] is not a mapped column{did_you_mean(name, board.columns)}",
                )
                continue
            if col.read_only:
                self.problem(
                    key_node,
                    f"{where} rules: [{name}] is read-only ({col.column_type}); a rule for it can never apply",
                )
                continue
            if name.casefold() not in allowed:
                self.problem(
                    key_node,
                    f"{where} rules: [{name}] is not in allowed_columns, so its rule would never apply",
                )
                continue
            rule = self.rule(col, value_node, f"{where} rules [{name}]")
            if rule is not None:
                rules[col.staging_column] = rule
        return rules

    def rule(self, col: ColumnMap, node: Node, where: str) -> ValueRule | None:
        entries = self.mapping(node, where, allowed=set(RULE_FIELDS))
        if entries is None:
            return None
        applicable = column_type(col.column_type).rule_fields
        values: dict[str, object] = {}
        for key, (key_node, value_node) in entries.items():
            if key not in applicable:
                fits = ", ".join(sorted(applicable)) or "none"
                self.problem(key_node, f"{where}: {key} does not apply to {col.column_type} columns (these do: {fits})")
            elif key == "labels":
                labels = self.text_list(value_node, f"{where} labels")
                folded: set[str] = set()
                for label, label_node in labels:
                    if label.casefold() in folded:
                        self.problem(label_node, f"{where}: label {label!r} is listed twice (labels ignore case)")
                    folded.add(label.casefold())
                if not labels:
                    self.problem(value_node, f"{where}: labels must list at least one label")
                values[key] = tuple(label for label, _ in labels)
            elif key in ("min", "max"):
                values[key] = self.number(value_node, f"{where} {key}")
            elif key == "max_length":
                limit = values[key] = self.integer(value_node, f"{where} max_length")
                if col.column_type == "long_text" and (limit or 0) > LONG_TEXT_MAX_LENGTH:
                    self.problem(
                        value_node,
                        f"{where}: monday's long text holds at most {LONG_TEXT_MAX_LENGTH} characters",
                    )
            else:
                values[key] = self.day(value_node, f"{where} {key}")
        low, high = values.get("min"), values.get("max")
        if isinstance(low, Decimal) and isinstance(high, Decimal) and low > high:
            self.problem(node, f"{where}: min {low} is greater than max {high}")
        first, last = values.get("min_date"), values.get("max_date")
        if isinstance(first, date) and isinstance(last, date) and first > last:
            self.problem(node, f"{where}: min_date {first} is after max_date {last}")
        return ValueRule(**values)  # type: ignore[arg-type]


def _shown(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
