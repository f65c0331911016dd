"""A fast path for a batch that is one INSERT of literal rows (issue 14: the sandbox baseline's sample data).

`sql/baseline/030_sample_data.sql` is 1.3 MB of `INSERT INTO dbo.X (columns) VALUES (...), (...), ...`, one
statement per batch. The general path parses such a statement with sqlglot twice (the compile checks and
the run), rewrites every one of its ~200,000 literal nodes, copies the tree and renders it again: seconds
for what SQLite inserts in milliseconds. Here a batch of exactly that shape is recognized from sqlglot's
tokens (the tokens sqlglot's own parser reads, so each literal means what the general path makes of it),
and runs as the general path's own translation of the statement reduced to its first row, with that row's
literals made `?` markers, executed once per row (`executemany`) inside a savepoint.

Why that writes what the general path writes:

- The conversions are the general path's. `Engine.write_plan` chooses each column's conversion from the
  type of the column's values over *all* the rows of a VALUES list (`writes._source_types`: the type of
  highest precedence among them, the longest string, the digits that hold every number). The scan notes
  each column's literal types over all the rows, and the statement reduced to its first row is planned
  with those types (`_sources`), so it gets the very conversions of the whole statement. A column whose
  rows the general path would first convert to their common type, one by one (text among numbers: a CAST
  around those rows), takes the general path. The markers are put in place of the first row's literals
  only after the plan is made, so the plan never sees a marker. `translate.rewrite` then renders the
  statement as it renders the whole one. The plan is kept in the translation cache under the first row's
  text and the rows' types.
- The values bound are the ones SQLite reads from the general path's SQL: a string's text (sqlglot's
  token, quotes unescaped, as its parser makes the literal), an integer as a Python int, a decimal as the
  double SQLite itself makes of its digits (asked of SQLite, `_resolve_reals`), NULL as None. A marker and a literal
  are alike to SQLite: no affinity until the column's, and the conversions read `typeof` before it.
- The rows run in their order, each inserted before the next is converted, as SQLite runs the general
  path's INSERT ... SELECT over VALUES: the first failing row fails with the same error, and the savepoint
  undoes the rows before it, so nothing of the statement is written, as nothing of a failed statement is.
  The error is read afterwards, the table as it was (`Engine.clashing_key` looks at the table).
- A default that is the statement's time (GETDATE(), ...) is computed once and bound to every row, as the
  general path names it once per statement (`translate._fill_time_defaults`; SQLite's column default in
  one statement gives every row the same 'now' too).
- An index compares a new key with the keys its search meets, which differ between one statement and one
  per row. Under SQL Server's collation (collation.py) only text the model does not vouch for can make a
  comparison refuse the statement, so an index on a character column takes only vouched text, in the new
  rows and in the table (`_compared_alike`); otherwise the batch takes the general path.
- What the general path checks of every literal (`translate.rewrite`: a '...' literal with a character
  outside code page 1252, a number of more than 15 significant digits) and what it checks before the batch
  runs (compile checks, the subset check: the column names, the table's schema) is not decided here: such a
  batch takes the general path, and so does anything else (an expression, DEFAULT, a #temp table or table
  variable, a table that is not a catalog table, a missing column, rows of another width, IDENTITY_INSERT,
  an IDENTITY column named, comments inside the statement, a float or binary literal).

`tests/unit/test_literal_rows.py` checks that both paths agree (the sample data, random rows and columns,
errors, the statements that fall back). `ENABLED` (environment variable OPUS_LITERAL_ROWS=0 turns it off)
switches the fast path off; `MIN_CHARS` keeps short batches on the general path, where it gains nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from .. import sqltypes
from ..catalog import Index, Table
from . import collation, dialect
from .compile_checks import MAX_INSERTED_ROWS
from .expression_types import in_code_page
from .parser import ParsedBatch, Sql
from .runtime import Frame, Row
from .sqlite_schema import quote
from .translate import REAL_DIGITS, NotInSubset, Translated, parse_statement, rewrite, significant_digits
from .writes import Source, common_source, number_literal_type, target_name, to_common

if TYPE_CHECKING:
    from .engine import Engine

#: the fast path on or off; tests switch it to compare both paths
ENABLED = os.environ.get("OPUS_LITERAL_ROWS", "1") != "0"
#: a batch shorter than this takes the general path (a statement of a few rows gains nothing here)
MIN_CHARS = 2000

_INT64 = dialect.INTEGER_RANGES["bigint"]
#: a cheap first look: blanks and comments, then INSERT (the tokens decide)
_START = re.compile(r"(?:\s|--[^\n]*\n|/\*.*?\*/)*INSERT\s", re.IGNORECASE | re.DOTALL)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]*\Z")
_NAMES = frozenset({TokenType.VAR, TokenType.IDENTIFIER})
_COMMENTS = attrgetter("comments")
#: the markers put in place of the first row's literals (`v`) and of time defaults (`t`): translate's
#: `:opusv_<name>` placeholders, which its rendering turns into `?` and lists in `Translated.variables`
_VALUE_MARK = "__lr"
_TIME_MARK = "__lrt"


@dataclass(frozen=True)
class RowsPlan:
    """The general path's translation of the statement reduced to its first row, with markers for values."""

    sql: str  # SQLite's text, one row of `?` markers (and one per time default)
    times: tuple[str, ...]  # the SQLite expressions of time defaults, computed once per statement
    times_first: bool  # whether the time markers come before the value markers in `sql`
    keys: tuple[Table, list[Index]] | None  # Engine.nullable_keys of the statement
    table: str  # the table as the statement names it, in lower case (Engine.note_failed_insert)
    identity: bool  # whether the table has an IDENTITY column


@dataclass
class LiteralInsert(Sql):
    """A batch's one statement, `INSERT ... VALUES` of literal rows, with its plan and its rows' values."""

    plan: RowsPlan = field(repr=False)
    rows: list[list[Any]] = field(repr=False)


@dataclass
class _Scanned:
    start: int  # where the statement begins in the batch (its INSERT)
    first_end: int  # one past the first row's closing parenthesis
    end: int  # one past the last row's closing parenthesis
    columns: int
    first: list[tuple[str, str | None]]  # the first row's literals: (kind, text), for checking sqlglot's tree
    rows: list[list[Any]]
    reals: list[tuple[int, int, str, bool]]  # (row, column, digits, negative) of each decimal literal
    types: list[set[str]]  # each column's literal types (writes.literal_type), strings by their longest


def recognize(engine: Engine, text: str, start_line: int) -> ParsedBatch | None:
    """The batch as one `LiteralInsert` when it is one INSERT of literal rows the fast path writes as the
    general path does; None for any other batch (which the general path runs, unchanged)."""
    if not ENABLED or len(text) < MIN_CHARS or not engine.driver.functions or engine.identity_insert is not None:
        return None
    if _START.match(text) is None:
        return None
    try:
        tokens = Dialect.get_or_raise("tsql").tokenize(text)
    except SqlglotError:
        return None
    scanned = _scan(tokens, text)
    if scanned is None:
        return None
    frame = Frame(line_offset=start_line - 1)
    try:
        plan = _plan(engine, text[scanned.start:scanned.first_end], scanned, frame)
        if plan is None or not _resolve_reals(engine, scanned):
            return None
    except Exception:  # whatever the first row's translation meets, the general path meets again, in its words
        return None
    line = text.count("\n", 0, scanned.start) + 1
    statement = LiteralInsert(line, text[scanned.start:scanned.end], plan, scanned.rows)
    return ParsedBatch([statement], text)


def run(engine: Engine, statement: LiteralInsert, frame: Frame) -> None:
    """Run the rows as the general path's `_run_dml` runs the statement: all of them or, on an error, none."""
    plan = statement.plan
    driver = engine.driver
    rows: list[Any] = statement.rows
    if plan.times:  # the statement's time, once for all its rows
        now = [driver.query(f"SELECT {expression}")[0][0] for expression in plan.times]
        rows = [now + row for row in rows] if plan.times_first else [row + now for row in rows]
    # one statement of many rows, run as one per row: undone whole when a row fails
    with engine.undone_on_error(True, plan.table if plan.identity else None, frame):
        cursor = driver.run_many(plan.sql, rows)
        written = max(cursor.rowcount, 0)
        if plan.keys is not None:
            engine.check_nullable_keys(*plan.keys)
    engine.note_insert(plan.identity, written, frame)  # (after executemany sqlite3's lastrowid is stale)
    engine.rowcount = written


# -- recognizing the shape ------------------------------------------------------------------------------------
def _scan(tokens: list[Token], text: str) -> _Scanned | None:
    """`INSERT [INTO] name [. name] (name, ...) VALUES (literal, ...), ... [;]` and nothing else, every row as
    wide as the column list; a literal is '...', N'...', an integer or decimal with an optional sign, or NULL."""
    t = TokenType
    try:
        if tokens[0].token_type != t.INSERT:
            return None
        if not _outside(tokens, text):
            return None
        i = 2 if tokens[1].token_type == t.INTO else 1
        if tokens[i].token_type not in _NAMES:
            return None
        i += 1
        if tokens[i].token_type == t.DOT:
            if tokens[i + 1].token_type not in _NAMES:
                return None
            i += 2
        if tokens[i].token_type != t.L_PAREN:
            return None
        columns = 0
        while True:
            if tokens[i + 1].token_type not in _NAMES:
                return None
            columns += 1
            kind = tokens[i + 2].token_type
            i += 2
            if kind == t.R_PAREN:
                break
            if kind != t.COMMA:
                return None
        if tokens[i + 1].token_type != t.VALUES:
            return None
        i += 2
        return _rows(tokens, i, text, columns)
    except IndexError:
        return None


def _outside(tokens: list[Token], text: str) -> bool:
    """Whether every comment stands outside the statement: before its INSERT or after its last token (the
    general path's statement text leaves those out). sqlglot hangs a comment on the token before it."""
    last = tokens[-1]
    if tokens[0].comments and text[tokens[0].end + 1:tokens[1].start].strip():
        return False  # a comment after INSERT
    if last.comments and text[tokens[-2].end + 1:last.start].strip():
        return False
    return not any(map(_COMMENTS, islice(tokens, 1, len(tokens) - 1)))


def _rows(tokens: list[Token], i: int, text: str, columns: int) -> _Scanned | None:
    t = TokenType
    string, national, number, null = t.STRING, t.NATIONAL_STRING, t.NUMBER, t.NULL
    dash, plus, comma, l_paren, r_paren = t.DASH, t.PLUS, t.COMMA, t.L_PAREN, t.R_PAREN
    rows: list[list[Any]] = []
    reals: list[tuple[int, int, str, bool]] = []
    first: list[tuple[str, str | None]] = []
    # per column: the longest '...' and N'...' literal (0: none), the number literals' types
    longest = [0] * columns
    longest_national = [0] * columns
    numbers: list[set[str]] = [set() for _ in range(columns)]
    first_end = 0
    count = len(tokens)
    while True:
        if tokens[i].token_type != l_paren:
            return None
        row: list[Any] = []
        while True:
            i += 1
            token = tokens[i]
            kind = token.token_type
            value: Any
            if kind == string or kind == national:
                value = token.text
                if kind == national and text[token.start] != "N":
                    return None  # n'...': sqlglot reads it, SQL Server does not
                if not value.isascii() and not _plain_text(value, kind == string):
                    return None
                if "\x00" in value:
                    return None
                shown = "s" if kind == string else "n"
                k = len(row)
                if k < columns:
                    if kind == string:
                        longest[k] = max(longest[k], len(value), 1)
                    else:
                        longest_national[k] = max(longest_national[k], sqltypes.utf16_length(value), 1)
            elif kind == null:
                value = None
                shown = "null"
            else:
                negative = False
                shown = "number"
                if kind == dash or kind == plus:
                    negative = kind == dash
                    shown = "-" if negative else "+"
                    i += 1
                    token = tokens[i]
                    kind = token.token_type
                if kind != number:
                    return None
                digits = token.text
                if digits.isascii() and digits.isdigit():
                    value = -int(digits) if negative else int(digits)
                    if len(digits) > 18 and not _INT64[0] <= value <= _INT64[1]:
                        return None  # beyond SQLite's integers: the general path refuses it
                    typed = "int" if len(digits) < 10 else number_literal_type(digits)
                elif _DECIMAL.match(digits) and significant_digits(digits) <= REAL_DIGITS:
                    reals.append((len(rows), len(row), digits, negative))
                    value = None  # (SQLite's double of the digits, filled in by _resolve_reals)
                    typed = number_literal_type(digits)
                else:
                    return None  # a float (1e5), or more digits than the general path takes
                if len(row) < columns and typed is not None:
                    numbers[len(row)].add(typed)
            if not rows:
                first.append((shown, value if shown in ("s", "n") else None if shown == "null" else token.text))
            row.append(value)
            i += 1
            kind = tokens[i].token_type
            if kind == r_paren:
                break
            if kind != comma:
                return None
        if len(row) != columns:
            return None
        if not rows:
            first_end = tokens[i].end + 1
        rows.append(row)
        if len(rows) > MAX_INSERTED_ROWS:
            return None  # the general path's compile checks give SQL Server's error 10738
        end = tokens[i].end + 1
        i += 1
        if i == count or (i == count - 1 and tokens[i].token_type == t.SEMICOLON):
            types = [{*found, *([f"varchar({n})"] if n else []), *([f"nvarchar({m})"] if m else [])}
                     for found, n, m in zip(numbers, longest, longest_national, strict=True)]
            return _Scanned(tokens[0].start, first_end, end, columns, first, rows, reals, types)
        if tokens[i].token_type != comma:
            return None
        i += 1


def _plain_text(value: str, varchar: bool) -> bool:
    """Text beyond ASCII that the general path writes as it is: nothing it refuses ('...' outside code page
    1252), nothing SQLite cannot take (a lone surrogate)."""
    if varchar and not in_code_page(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _resolve_reals(engine: Engine, scanned: _Scanned) -> bool:
    """Put in each decimal literal's value: the double SQLite makes of its digits (as it reads the literal in
    the general path's SQL), negated for a minus sign. False when SQLite does not read one as a double."""
    texts = sorted({digits for _row, _column, digits, _negative in scanned.reals})
    found: dict[str, float] = {}
    for start in range(0, len(texts), 500):
        chunk = texts[start:start + 500]
        rows: list[Row] = engine.driver.query("VALUES " + ", ".join(f"('{d}', {d})" for d in chunk))
        found.update((str(digits), value) for digits, value in rows)
    if not all(isinstance(found.get(d), float) for d in texts):
        return False
    rows_ = scanned.rows
    for row, column, digits, negative in scanned.reals:
        rows_[row][column] = -found[digits] if negative else found[digits]
    return True


# -- the general path's translation of the first row ----------------------------------------------------------
def _plan(engine: Engine, one_row: str, scanned: _Scanned, frame: Frame) -> RowsPlan | None:
    """The plan of `one_row` (the statement up to its first row's end), kept in the translation cache as any
    translation is; None when the statement is not what the scan took it for, or writes where the fast path
    does not go."""
    tree = parse_statement(one_row)
    name = _target(tree, scanned)
    if name is None:
        return None
    table = engine.written_table(name)
    if table is None:  # not a catalog table (a view, a table created later): the general path names the error
        return None
    if name.lower() in engine._identity_gaps:  # the general path refuses that INSERT (Engine._run_dml)
        return None
    names = [identifier.name for identifier in tree.this.expressions]
    if not _compared_alike(engine, table, names, scanned.rows):
        return None
    sources = _sources(scanned.types, names)
    if sources is None:
        return None
    # (the plan depends on every row's types, not only on the first row's text)
    key = engine._translation_key("literal-rows", f"{one_row}\n{[sorted(t) for t in scanned.types]}", frame)
    cached = engine._cached(key)
    if isinstance(cached, RowsPlan):
        return cached
    version = engine.ddl_version
    made = _translate(engine, tree, table, name, scanned.columns, frame, sources)
    if made is None:
        return None
    plan, translated = made
    engine._remember(key, plan, translated, version)
    return plan


def _compared_alike(engine: Engine, table: Table, names: list[str], rows: list[list[Any]]) -> bool:
    """Whether the keys of the table's indexes on character columns compare alike whichever of them SQLite
    compares. An index compares a new key with the keys its B-tree search meets, and those differ between
    one statement of many rows and one statement per row; under SQL Server's collation (collation.py) only
    text with a character the model does not vouch for can make a comparison refuse the statement. So every
    such key, new or already in the table, must be text the model vouches for."""
    collated = {column.name.lower() for index in table.indexes for name in index.columns
                if (column := table.column(name)) is not None and column.data_type in sqltypes.STRINGS}
    if not collated:
        return True
    positions = [i for i, name in enumerate(names) if name.lower() in collated]
    for row in rows:
        for i in positions:
            value = row[i]
            if isinstance(value, str) and not (value.isascii() and value.isprintable()) \
                    and not all(map(collation.vouched, value)):
                return False
    named = {name.lower() for name in names}
    for column in table.columns:
        lowered = column.name.lower()
        if lowered not in collated:
            continue
        if lowered not in named and column.default is not None:
            return False  # a default's text, compared with the table's keys
        beyond = engine.driver.query(f"SELECT 1 FROM {quote(table.name)} WHERE {quote(column.name)} "
                                     "GLOB '*[^ -~]*' LIMIT 1")
        if beyond:  # a key of the table beyond printable ASCII
            return False
    return True


def _sources(types: list[set[str]], names: list[str]) -> list[Source | None] | None:
    """The type of each column's values over all the rows, as the general path finds it (writes._source_types:
    the type of highest precedence among the rows, with the longest length and the digits that hold every
    value); None when a row's value would first be converted to that type (text among numbers: a CAST of the
    row in the general path, which one translation for every row cannot hold), or the statement refused."""
    found: list[Source | None] = []
    for column, texts in zip(names, types, strict=True):
        known = [Source(sqltypes.read_type(t).name, t) for t in sorted(texts)]
        if not known:
            found.append(None)  # NULL in every row
            continue
        if len(known) == 1:
            found.append(known[0])
            continue
        try:
            common = common_source(known, column)
            if any(to_common(w, common, column) is not None for w in known):
                return None
        except NotInSubset:
            return None
        found.append(common)
    return found


def _translate(engine: Engine, tree: exp.Expression, table: Table, name: str, columns: int,
               frame: Frame, sources: list[Source | None]) -> tuple[RowsPlan, Translated] | None:
    """The general path's translation (`Engine._translate_dml`) of the one-row statement, its literals made
    markers between the write plan and the rendering; the plan is made for the types of all the rows."""
    schema = tree.this
    named: set[str] = set()
    for identifier in schema.expressions:
        column = table.column(identifier.name)
        if column is None or column.identity or column.name.lower() in named:
            return None  # 207, 544, a column named twice: the general path's errors
        named.add(column.name.lower())
    plan = engine.write_plan(tree, frame, sources=sources)  # the whole statement's conversions, for every row
    values = tree.find(exp.Values)
    if values is None:
        return None
    row = values.expressions[0]
    row.set("expressions", [_marker(_VALUE_MARK, k) for k in range(columns)])
    # the columns whose default is the statement's time, named with one value for every row (see the module's
    # docstring); translate._fill_time_defaults names them so in INSERT ... SELECT, SQLite's default otherwise
    times = [(column, expression) for column, expression in engine.time_defaults(schema.this.name)
             if column.lower() not in named]
    source = tree.expression
    for k, (time_column, _expression) in enumerate(times):
        schema.append("expressions", exp.to_identifier(time_column, quoted=True))
        (source if isinstance(source, exp.Select) else row).append("expressions", _marker(_TIME_MARK, k))
    translated = rewrite(tree, engine.answers(frame, defer=True))
    if translated.catalog_views or translated.runtime_values or translated.deferred or translated.assignments:
        return None
    value_names = [f"{_VALUE_MARK}{k}" for k in range(columns)]
    time_names = [f"{_TIME_MARK}{k}" for k in range(len(times))]
    if translated.variables == value_names + time_names:
        times_first = False
    elif translated.variables == time_names + value_names:
        times_first = True
    else:
        return None
    sql = plan.finish(translated.sql) if plan else translated.sql
    identity = any(c.identity for c in table.columns)
    return RowsPlan(sql, tuple(e for _c, e in times), times_first, engine.nullable_keys(tree), name.lower(),
                    identity), translated


def _marker(mark: str, k: int) -> exp.Expression:
    return exp.Placeholder(this=f"opusv_{mark}{k}")


def _target(tree: exp.Expression, scanned: _Scanned) -> str | None:
    """The name of the table the statement writes, as written, after checking that sqlglot read the statement
    as the scan did; None otherwise."""
    if not isinstance(tree, exp.Insert) or _set_args(tree) - {"this", "expression"}:
        return None
    schema, values = tree.this, tree.expression
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table) \
            or _set_args(schema) - {"this", "expressions"}:
        return None
    table_node = schema.this
    if _set_args(table_node) - {"this", "db"} or not isinstance(table_node.this, exp.Identifier):
        return None
    if table_node.this.args.get("temporary") or table_node.name.startswith(("#", "@")):
        return None  # a #temp table
    schema_name = table_node.args.get("db")
    if schema_name is not None and schema_name.name.lower() != "dbo":
        return None
    names = schema.expressions
    if len(names) != scanned.columns or not all(isinstance(n, exp.Identifier) for n in names):
        return None
    if not isinstance(values, exp.Values) or _set_args(values) - {"expressions"} or len(values.expressions) != 1:
        return None
    row = values.expressions[0]
    if not isinstance(row, exp.Tuple) or len(row.expressions) != scanned.columns:
        return None
    if not all(_read_as(node, kind, written)
               for node, (kind, written) in zip(row.expressions, scanned.first, strict=True)):
        return None
    return target_name(table_node)


def _set_args(node: exp.Expression) -> set[str]:
    return {k for k, v in node.args.items() if v is not None and v is not False and v != []}


def _read_as(node: exp.Expression, kind: str, written: Any) -> bool:
    """Whether sqlglot made of a literal of the first row what the scan did."""
    if kind == "s":
        return isinstance(node, exp.Literal) and node.is_string and node.this == written
    if kind == "n":
        return isinstance(node, exp.National) and node.this == written
    if kind == "null":
        return isinstance(node, exp.Null)
    if kind == "-":
        if not isinstance(node, exp.Neg):
            return False
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string and node.this == written
