"""Set-based validation of a staged batch: T-SQL generated from board metadata, a fixed number of statements.

Every rule becomes one `CASE WHEN <broken> THEN ',"<reason>"' ELSE '' END`; one UPDATE concatenates
them into `validation_errors` for all rows of the batch at once, a second turns that into a JSON
array and sets `validation_status`. How many statements run does not depend on the row count.

The SQL is generated, not hand-written, because the rules live in the board YAML. It keeps to the
T-SQL the embedded runner supports (no TRY_CAST, no OPENJSON, no DATALENGTH) and is at least as
strict as the Python rules in `values.py`: a row that SQL marks VALID always plans; where a check
cannot be expressed exactly in that subset (Unicode blanks, several dropdown labels) the SQL rejects
more, never less (e.g. a name starting with a blank).

Every check for particular characters (the blanks) compares in a binary collation. Under SQL Server's
default collations (`SQL_Latin1_General_CP1_CI_AS`, `Latin1_General_CI_AS`) some characters, several
of the blanks among them, have no sort weight: they compare as nothing, so `x LIKE N'%<ch>%'` would
match every value, and `<ch> = N''` would hold. A binary collation compares code points.

Keys in `update_fields` are found by their text (`"column":`), which is exact for the compact JSON
`stage_updates` writes: inside a JSON string a quote is always escaped, so the text can only match a
key. `JSON_VALUE` is not used because on SQL Server, in lax mode, it returns NULL for any string
longer than 4,000 characters and so cannot tell a long value from a NULL one.

Plain rows (speed; the result is the same either way). Looking for every column's key in every row
costs one text search per column of the table per row (about 130 on the items table), which was most
of the time validation took. Most rows are *plain*: no column the operation refuses (unmapped,
read-only, not allowed) holds a value, and `update_fields` has exactly one key per allowed column
holding a value, and no other key. On a plain row a key is present exactly when its typed column is
not NULL, so the rules read the typed columns instead (`Rule.plain`; the rules about keys without a
typed value, and about refused columns, cannot be broken there). A row is plain when
`update_fields` is not NULL, the refused columns are NULL, every allowed column holding a value has
its key (a search for those few keys only), and the number of `":` in `update_fields` is the number
of those columns: a key always ends in `":` (compact JSON), and `":` anywhere else (inside a value,
where a quote is escaped, or a key holding `":`) only makes the count larger, so an equal count
proves there is no other key. A column with a default (it may hold a value no staging wrote) is
counted by its key instead. Any other row is checked by the full rules.
`build_validation_sql(..., plain_rows=False)` gives the full rules only; the tests check that both
give every row the same `validation_errors`.

Status values are compared by code point (`VALID`, `INVALID`, `ROLLED_BACK`, `PENDING`, as the
workflow and `SP_RollbackBatch` write them): under the default collation each comparison would be a
call into Python on the sandbox, several per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..catalog import Column
from .board import ColumnCheck, OperationRules
from .staging import INVALID, ROLLED_BACK, VALID, StagingTable, bracket, sql_literal
from .values import COLUMN_TYPES, EMAIL_MAX_LENGTH, INTEGER_SQL, TEXT_SQL, plain_number

#: The LIKE escape character used in every generated pattern.
LIKE_ESCAPE = "!"
#: Every character Python's `str.isspace()` (and so the `\\s` of the value rules) counts as a blank.
WHITESPACE = tuple(ch for ch in map(chr, range(0x3001)) if ch.isspace())
#: The collation of every comparison with particular characters (the sandbox runs it as SQLite's BINARY).
BINARY_COLLATION = "Latin1_General_BIN2"
#: SQL Server's CONCAT takes at most 254 arguments; longer lists are nested in groups of this size.
CONCAT_GROUP = 100

#: Which staging column types can hold each monday column type so that SQL can check its values
#: (`ColumnType.sql_types`, values.py: one entry per type).
_COMPATIBLE = {spec.name: spec.sql_types for spec in COLUMN_TYPES.values() if spec.writable and spec.sql_types}
#: Writable types with no set-based rule (`sql_types=None`): their values are structured (pairs, id
#: lists), which a scalar staging column cannot be checked as monday would, so any non-NULL value of
#: these is refused by set-based validation for now.
UNCHECKED_TYPES = frozenset(
    spec.name for spec in COLUMN_TYPES.values() if spec.writable and spec.sql_types is None
)


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern matching itself, with `!` escaping the pattern characters."""
    for ch in (LIKE_ESCAPE, "%", "_", "["):
        text = text.replace(ch, LIKE_ESCAPE + ch)
    return text


def contains(expression: str, text: str) -> str:
    """`expression LIKE '%text%'` with `text` matched literally."""
    return f"{expression} LIKE {sql_literal('%' + escape_like(text) + '%')} ESCAPE '{LIKE_ESCAPE}'"


def json_key(column: str) -> str:
    """How a column's key is written in `update_fields` (compact JSON): `"column":`."""
    return json.dumps(column, ensure_ascii=False) + ":"


def text_length(expression: str) -> str:
    """Characters in a text value, trailing blanks included (T-SQL's LEN ignores them).

    SQL Server counts UTF-16 code units under the usual (non-SC) collations, as monday does; the
    sandbox's SQLite counts code points, so there a character outside the BMP counts once.
    """
    return f"LEN(CONCAT({expression}, N'.')) - 1"


def binary(expression: str) -> str:
    """`expression` compared by code point (see the module docstring for why)."""
    return f"{expression} COLLATE {BINARY_COLLATION}"


#: `update_fields` as its keys are looked up: by code point. The keys are written exactly as the
#: columns are named, and under the default collation a character of no weight in a *value* could
#: make `"NOTES":` match text that is not that key (and the sandbox refuses such a comparison).
FIELDS = binary("update_fields")
#: How a NUL character is written in `update_fields` by both paths (json.dumps and FOR JSON).
NUL_IN_JSON = "\\u0000"
#: The reason given for a text value holding a NUL character (U+0000).
NUL_REASON = (
    "holds a NUL character (U+0000), which monday text cannot hold; remove it from the source value "
    "(e.g. REPLACE(value, NCHAR(0), N'')) and stage the update again"
)
#: `validation_errors` as reasons are counted in it: by code point, as the keys.
ERRORS = binary("validation_errors")
#: A row's status, '' when it has none.
NO_STATUS = "ISNULL(validation_status, '')"
#: How every key of `update_fields` ends (compact JSON): a plain row has as many of these as keys.
KEY_END = '":'


def blank_or_blank_first(expression: str) -> str:
    """True for an empty value or one starting with a blank (any `str.isspace()` character).

    Python's "blank" (`not text.strip()`) cannot be tested exactly in the runner's subset: removing
    each blank character takes 25 nested REPLACEs, deeper than SQLite's parser allows. Every blank
    value starts with a blank, so this check is stricter: it also refuses " M".
    """
    first = binary(f"SUBSTRING({expression}, 1, 1)")
    return f"({text_length(expression)} = 0 OR {first} IN {_in_list(WHITESPACE)})"


def has_blank(expression: str) -> str:
    """True for a value holding any blank character, wherever it is."""
    exact = binary(expression)
    return "(" + " OR ".join(contains(exact, ch) for ch in WHITESPACE) + ")"


def trimmed_upper(expression: str) -> str:
    """The value without leading/trailing spaces, upper-cased, compared by code point: under the
    default collation a label with a control character in it would equal the label without it."""
    return binary(f"UPPER(LTRIM(RTRIM({expression})))")


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(sql_literal(v) for v in values) + ")"


@dataclass(frozen=True)
class Rule:
    """One generated check: the SQL condition under which a row breaks it, and the reason it records.

    `plain` is the condition on a plain row (see the module docstring): None when it is `condition`
    itself, "" when the rule cannot be broken by a plain row.
    """

    condition: str
    reason: str
    plain: str | None = None


@dataclass(frozen=True)
class ValidationSql:
    """The statements validating one operation's batches, and every reason they can record."""

    mark: str  # UPDATE: validation_errors = ',"reason",...' per row
    settle: str  # UPDATE: validation_status from validation_errors, which becomes a JSON array
    counts: str  # SELECT: (0, the batch's row counts by status, ...) and (1, ..., the rows each reason rejected)
    reasons: tuple[str, ...]
    mark_parameters: tuple[str, ...]  # "batch" or "rows", in the order of the `?` in `mark`

    def mark_params(self, batch_id: str, rows: int) -> list[object]:
        return [batch_id if p == "batch" else rows for p in self.mark_parameters]


def compatibility_problems(checks: Sequence[ColumnCheck], table: StagingTable, where: dict[str, str]) -> list[str]:
    """Mapped columns whose staging type cannot hold their monday type in a way SQL can check."""
    problems = []
    for check in checks:
        if not check.allowed or check.read_only:
            continue
        column = table.column(check.staging_column)
        needed = _COMPATIBLE.get(check.column_type)
        if column is None or needed is None or column.data_type in needed:
            continue
        problems.append(
            f"{where.get(check.staging_column, '?')}: [{check.staging_column}] is a {check.column_type} column on "
            f"the board, but {table.name}.[{column.name}] is {column.type_text}; set-based validation needs one of "
            f"{', '.join(sorted(needed))}"
        )
    return problems


def status_is(expression: str, status: str) -> str:
    """`expression = '<status>'` by code point (see the module docstring)."""
    return f"{binary(expression)} = '{status}'"


def build_validation_sql(
    operation: OperationRules,
    checks: Sequence[ColumnCheck],
    table: StagingTable,
    board_id: int,
    *,
    plain_rows: bool = True,
) -> ValidationSql:
    """The validation statements of `operation` on `table`, generated from its column checks.

    With `plain_rows` (the default) a plain row is checked by the cheaper, equivalent form of each rule
    (see the module docstring); without, every row by the full rules (for the tests that compare them).
    """
    item = bracket(table.item_id_column)
    source = table.sql_name
    in_batch = f"update_batch_id = ? AND {binary(NO_STATUS)} <> '{ROLLED_BACK}'"
    common = [
        Rule(f"{item} IS NULL OR {item} <= 0", "item id: missing or not a positive whole number"),
        Rule(
            f"{item} IN (SELECT {item} FROM {source} WHERE {in_batch} GROUP BY {item} HAVING COUNT(*) > 1)",
            "item id: appears more than once in the batch",
        ),
        # The batch's size is counted once, before this statement, and passed in.
        Rule(f"? > {operation.max_batch_size}", f"batch: more than {operation.max_batch_size} rows (max_batch_size)"),
    ]
    parameters = ["batch", "rows"]
    mapped = {c.staging_column.casefold(): c for c in checks}
    skip = table.context_columns | table.reserved
    allowed: list[Column] = []  # business columns the operation may change
    refused: list[Column] = []  # business columns whose key is refused wherever it appears
    rules: list[Rule] = []  # the columns' rules (no parameters in them)
    for column in table.table.columns:
        folded = column.name.casefold()
        if folded in skip:
            continue
        check = mapped.get(folded)
        present = contains(FIELDS, json_key(column.name))
        # On a plain row these keys are absent (the row is plain only then); a column with a default may
        # hold a value without a key, so it keeps its search (plain=None).
        never = None if _may_hold_without_key(column) else ""
        if check is None:
            rules.append(Rule(present, f"{column.name}: not a column of board {board_id}", never))
        elif check.read_only:
            rules.append(Rule(present, f"{column.name}: read-only ({check.column_type}); monday computes it", never))
        elif not check.allowed:
            rules.append(Rule(present, f"{column.name}: may not be changed by {operation.name}", never))
        else:
            rules.extend(_column_rules(check, column))
            allowed.append(column)
            continue
        refused.append(column)
    column_errors = _concat([_piece(r.condition, r.reason) for r in rules]) if rules else "N''"
    if plain_rows and rules:
        plain = [(r.condition if r.plain is None else r.plain, r.reason) for r in rules if r.plain != ""]
        plain_errors = "N''"
        if plain:
            # A valid row (most rows) is told by the conditions alone, without building any text.
            broken = " OR ".join(f"({condition})" for condition, _ in plain)
            plain_pieces = _concat([_piece(condition, reason) for condition, reason in plain])
            plain_errors = f"CASE WHEN {broken} THEN {plain_pieces} ELSE N'' END"
        # (CAST: a CASE of texts is typed as such, so the runner does not check its type row by row)
        column_errors = (
            f"CAST(CASE WHEN {_plain_row(allowed, refused)} THEN {plain_errors} ELSE {column_errors} END "
            "AS NVARCHAR(MAX))"
        )
    errors = _concat([*(_piece(r.condition, r.reason) for r in common), column_errors])
    rules = common + rules
    mark = f"UPDATE {source} SET validation_errors = {errors} WHERE {in_batch}"
    parameters.append("batch")
    status = table.table.column("validation_status")
    status_type = status.type_text if status is not None else "varchar(20)"
    # The status is a CAST of constants: the runner then writes it without checking each value's length.
    settle = (
        f"UPDATE {source} SET validation_status = CAST(CASE WHEN {binary('validation_errors')} = N'' "
        f"THEN '{VALID}' ELSE '{INVALID}' END AS {status_type}), "
        f"validation_errors = CASE WHEN {binary('validation_errors')} = N'' THEN N'[]' "
        "ELSE CONCAT(N'[', SUBSTRING(validation_errors, 2, 2147483647), N']') END "
        f"WHERE {in_batch}"
    )
    reasons = tuple(dict.fromkeys(r.reason for r in rules))
    counted = [
        "COUNT(*)",
        f"SUM(CASE WHEN {status_is('validation_status', VALID)} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {status_is('validation_status', INVALID)} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {status_is('validation_status', ROLLED_BACK)} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {binary('validation_errors')} = N'[]' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN validation_errors IS NULL THEN 1 ELSE 0 END)",
    ]
    # Two rows in one statement: the counts over the batch, and the reasons over its rows that have one
    # (none when the whole batch is valid, so the reasons are not looked for in every row).
    by_reason = [
        f"SUM(CASE WHEN {contains(ERRORS, json.dumps(r, ensure_ascii=False))} THEN 1 ELSE 0 END)" for r in reasons
    ]
    none = "CAST(NULL AS INT)"
    counts = (
        f"SELECT 0 AS part, {', '.join(counted)}{''.join(', ' + none for _ in by_reason)} "
        f"FROM {source} WHERE update_batch_id = ? "
        f"UNION ALL SELECT 1, {', '.join(none for _ in counted)}{''.join(', ' + r for r in by_reason)} "
        f"FROM {source} WHERE update_batch_id = ? AND {binary('validation_errors')} <> N'[]'"
    )
    return ValidationSql(mark, settle, counts, reasons, tuple(parameters))


def _piece(condition: str, reason: str) -> str:
    return f"CASE WHEN {condition} THEN {sql_literal(',' + json.dumps(reason, ensure_ascii=False))} ELSE N'' END"


def _may_hold_without_key(column: Column) -> bool:
    """Whether a business column can hold a value that staging did not write (a default, an identity)."""
    return column.default is not None or column.identity


def _plain_row(allowed: Sequence[Column], refused: Sequence[Column]) -> str:
    """True for a plain row (see the module docstring) whose refused columns hold no value.

    A refused column holding a value makes the row invalid whatever else it holds: such (rare) rows are
    left to the full rules, so that only the allowed columns are counted here. LEN(update_fields) -
    LEN(update_fields without its `":`) is at least 2 per `":` (a blank left at the end by a removal
    only makes it larger), so it equals 2 per counted column only when there is no other key.
    """
    empty = [f"{bracket(c.name)} IS NULL" for c in refused if not _may_hold_without_key(c)]
    counted = []
    searched = []
    for column in [*allowed, *refused]:
        col = bracket(column.name)
        present = contains(FIELDS, json_key(column.name))
        if _may_hold_without_key(column):
            counted.append(f"CASE WHEN {present} THEN 1 ELSE 0 END")
        elif column in allowed:
            counted.append(f"CASE WHEN {col} IS NULL THEN 0 ELSE 1 END")
            searched.append(f"({col} IS NULL OR {present})")
    count = " + ".join(counted) if counted else "0"
    # (written so, not as a difference of the two LENs: the sandbox's translator cannot take that yet)
    marks = f"LEN(REPLACE({FIELDS}, {sql_literal(KEY_END)}, N'')) = LEN(update_fields) - {len(KEY_END)} * ({count})"
    return " AND ".join(["update_fields IS NOT NULL", *empty, marks, *searched])


def _concat(pieces: Sequence[str]) -> str:
    # The first argument is NVARCHAR(MAX) so SQL Server does not cut the result at 4,000 characters.
    groups = [
        "CONCAT(" + ", ".join(["CAST(N'' AS NVARCHAR(MAX))", *pieces[i : i + CONCAT_GROUP]]) + ")"
        for i in range(0, len(pieces), CONCAT_GROUP)
    ]
    return groups[0] if len(groups) == 1 else "CONCAT(" + ", ".join(groups) + ")"


def _column_rules(check: ColumnCheck, column: Column) -> list[Rule]:
    """The rules of one allowed column: presence, conversion, and its value against its monday type."""
    name, type_text = column.name, column.type_text
    col = bracket(name)
    present = contains(FIELDS, json_key(name))
    is_null = contains(FIELDS, json_key(name) + "null")
    rules = []
    # On a plain row a key is there exactly when the typed column holds a value (module docstring), so
    # a key without a value (JSON null, or a value the column could not take) cannot occur there.
    may_hold = _may_hold_without_key(column)
    plain_required = None if may_hold else f"{col} IS NULL"
    never = None if may_hold else ""
    if check.required:
        rules.append(Rule(f"{col} IS NULL AND (NOT ({present}) OR {is_null})", f"{name}: required", plain_required))
    # The JSON has a value the typed column could not take (staging decided it did not fit). A NUL
    # character is the one reason a text value is kept out whatever its length: say so, and what to do.
    unfit = f"{col} IS NULL AND {present} AND NOT ({is_null})"
    if column.data_type in TEXT_SQL:
        nul = contains(FIELDS, NUL_IN_JSON)
        rules.append(Rule(f"{unfit} AND {nul}", f"{name}: {NUL_REASON}", never))
        unfit = f"{unfit} AND NOT ({nul})"
    rules.append(Rule(unfit, f"{name}: value does not fit {type_text}", never))
    kind, rule = check.column_type, check.rule
    if kind == "name":
        rules.append(Rule(f"{present} AND {is_null}", f"{name}: a name cannot be cleared", never))
    if kind in UNCHECKED_TYPES:
        rules.append(Rule(f"{col} IS NOT NULL", f"{name}: {kind} values cannot be checked set-based yet"))
        return rules
    value_rules: list[Rule] = []
    if kind == "name" or (kind in ("status", "dropdown") and rule.labels is None):
        value_rules.append(Rule(blank_or_blank_first(col), f"{name}: blank, or starts with a blank"))
    if kind in ("status", "dropdown") and rule.labels is not None:
        labels = _in_list(label.strip().upper() for label in rule.labels)
        value_rules.append(Rule(f"{trimmed_upper(col)} NOT IN {labels}", f"{name}: not an allowed {kind} label"))
    if kind == "dropdown" and rule.labels is None:
        value_rules.append(Rule(contains(binary(col), ","), f"{name}: several dropdown labels cannot be checked yet"))
    if kind == "rating":
        value_rules.append(Rule(f"{col} < 0 OR {col} <> ROUND({col}, 0)", f"{name}: not a whole number from 0"))
    if kind in ("numbers", "rating"):
        if rule.min is not None:
            value_rules.append(Rule(f"{col} < {plain_number(rule.min)}", f"{name}: below {plain_number(rule.min)}"))
        if rule.max is not None:
            value_rules.append(Rule(f"{col} > {plain_number(rule.max)}", f"{name}: above {plain_number(rule.max)}"))
    if kind == "date":
        if rule.min_date is not None:
            day = rule.min_date.isoformat()
            value_rules.append(Rule(f"{col} < '{day}'", f"{name}: before {day}"))
        if rule.max_date is not None:
            day = rule.max_date.isoformat()
            value_rules.append(Rule(f"{col} > '{day}'", f"{name}: after {day}"))
    if kind == "email":
        # By code point: under the default collation a character of no weight next to '@' or '.'
        # would let a shape match text that does not have it (the patterns hold no letters).
        exact = binary(col)
        shape = " AND ".join(
            [
                f"{exact} LIKE N'_%@_%'",
                f"{exact} NOT LIKE N'%@%@%'",
                f"{exact} LIKE N'%@%.%'",
                f"{exact} NOT LIKE N'%@.%'",
                f"{exact} NOT LIKE N'%.'",
                f"{exact} NOT LIKE N'%@%..%'",
            ]
        )
        value_rules.append(Rule(f"NOT ({shape}) OR {has_blank(col)}", f"{name}: not an email address"))
    if kind == "link":
        lowered = binary(f"LOWER({col})")  # case-insensitive as the value rule, by code point otherwise
        shape = f"({lowered} LIKE N'http://_%' OR {lowered} LIKE N'https://_%')"
        value_rules.append(Rule(f"NOT {shape} OR {has_blank(col)}", f"{name}: not an http(s) link"))
    if kind == "checkbox":
        # As the value rules: 0/1 from a number column, the words true/false from a text column.
        broken = (
            f"{col} NOT IN (0, 1)"
            if column.data_type in INTEGER_SQL
            else (f"{trimmed_upper(col)} NOT IN (N'TRUE', N'FALSE')")
        )
        value_rules.append(Rule(broken, f"{name}: not true/false"))
    limit = rule.max_length
    if kind == "email":
        limit = min(limit or EMAIL_MAX_LENGTH, EMAIL_MAX_LENGTH)
    if limit is not None and kind in ("text", "long_text", "name", "email", "link"):
        value_rules.append(Rule(f"{text_length(col)} > {limit}", f"{name}: longer than {limit} characters"))
    rules.extend(Rule(f"{col} IS NOT NULL AND ({r.condition})", r.reason) for r in value_rules)
    return rules
