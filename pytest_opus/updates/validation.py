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
    """One generated check: the SQL condition under which a row breaks it, and the reason it records."""

    condition: str
    reason: str


@dataclass(frozen=True)
class ValidationSql:
    """The statements validating one operation's batches, and every reason they can record."""

    mark: str  # UPDATE: validation_errors = ',"reason",...' per row
    settle: str  # UPDATE: validation_status from validation_errors, which becomes a JSON array
    counts: str  # SELECT: the batch's row counts by status and per reason
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


def build_validation_sql(
    operation: OperationRules, checks: Sequence[ColumnCheck], table: StagingTable, board_id: int
) -> ValidationSql:
    """The validation statements of `operation` on `table`, generated from its column checks."""
    item = bracket(table.item_id_column)
    source = table.sql_name
    in_batch = f"update_batch_id = ? AND ISNULL(validation_status, '') <> '{ROLLED_BACK}'"
    rules = [
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
    for column in table.table.columns:
        folded = column.name.casefold()
        if folded in skip:
            continue
        check = mapped.get(folded)
        present = contains(FIELDS, json_key(column.name))
        if check is None:
            rules.append(Rule(present, f"{column.name}: not a column of board {board_id}"))
        elif check.read_only:
            rules.append(Rule(present, f"{column.name}: read-only ({check.column_type}); monday computes it"))
        elif not check.allowed:
            rules.append(Rule(present, f"{column.name}: may not be changed by {operation.name}"))
        else:
            rules.extend(_column_rules(check, column))
    pieces = [
        f"CASE WHEN {r.condition} THEN {sql_literal(',' + json.dumps(r.reason, ensure_ascii=False))} ELSE N'' END"
        for r in rules
    ]
    mark = f"UPDATE {source} SET validation_errors = {_concat(pieces)} WHERE {in_batch}"
    parameters.append("batch")
    settle = (
        f"UPDATE {source} SET "
        f"validation_status = CASE WHEN validation_errors = N'' THEN '{VALID}' ELSE '{INVALID}' END, "
        "validation_errors = CONCAT(N'[', SUBSTRING(validation_errors, 2, 2147483647), N']') "
        f"WHERE {in_batch}"
    )
    reasons = tuple(dict.fromkeys(r.reason for r in rules))
    counted = [
        "COUNT(*)",
        f"SUM(CASE WHEN validation_status = '{VALID}' THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN validation_status = '{INVALID}' THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN validation_status = '{ROLLED_BACK}' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN validation_errors = N'[]' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN validation_errors IS NULL THEN 1 ELSE 0 END)",
        *(
            f"SUM(CASE WHEN {contains(ERRORS, json.dumps(r, ensure_ascii=False))} THEN 1 ELSE 0 END)"
            for r in reasons
        ),
    ]
    counts = f"SELECT {', '.join(counted)} FROM {source} WHERE update_batch_id = ?"
    return ValidationSql(mark, settle, counts, reasons, tuple(parameters))


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
    if check.required:
        rules.append(Rule(f"{col} IS NULL AND (NOT ({present}) OR {is_null})", f"{name}: required"))
    # The JSON has a value the typed column could not take (staging decided it did not fit). A NUL
    # character is the one reason a text value is kept out whatever its length: say so, and what to do.
    unfit = f"{col} IS NULL AND {present} AND NOT ({is_null})"
    if column.data_type in TEXT_SQL:
        nul = contains(FIELDS, NUL_IN_JSON)
        rules.append(Rule(f"{unfit} AND {nul}", f"{name}: {NUL_REASON}"))
        unfit = f"{unfit} AND NOT ({nul})"
    rules.append(Rule(unfit, f"{name}: value does not fit {type_text}"))
    kind, rule = check.column_type, check.rule
    if kind == "name":
        rules.append(Rule(f"{present} AND {is_null}", f"{name}: a name cannot be cleared"))
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
