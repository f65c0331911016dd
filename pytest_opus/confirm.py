"""When a script must not run without `--confirm`: what it destroys, read from its text, or its directive.

The rule is about what a script does, not how it starts: a copy saved from SSMS begins with a
`/* ... */` header or a `SET`/`GO` line, and it drops just as much. So the statements are read with
the static effects reader (`effects.script_effects`), which walks every batch and both branches of
every IF, every BEGIN ... END, TRY and CATCH, and sees through comments and string literals.

A script needs confirmation when, anywhere, it:

- drops a table, view, procedure, index, column or constraint, or truncates a table (temporary
  `#tables` excepted: they vanish with the session anyway);
- runs dynamic SQL (`EXEC sp_executesql`, `EXEC (...)`), whose effects cannot be read beforehand;
- holds a statement the reader cannot model (another kind of DROP, `ALTER COLUMN`, `MERGE`, ...), or
  cannot be read at all (a syntax error): unknown effects are treated like destructive ones;
- runs (`EXEC`) a procedure created earlier in the same script whose body does any of the above.

Deliberately not counted, so that `--confirm` keeps meaning something:

- `DELETE` and `UPDATE`, with or without WHERE: they are data statements in the run's one
  transaction; how much they remove depends on the rows, not the text (`WHERE 1 = 1` deletes as much
  as no WHERE), and load scripts empty staging tables routinely.
- `CREATE PROCEDURE` whose body drops things: creating it drops nothing; the body runs when called.
- `CREATE OR ALTER` of a view or procedure: it replaces a definition, it removes no data.
- `EXEC` of a procedure the script does not create: its body is on the server, not in the script.

Besides, the `-- opus: confirm-required` directive in the leading comments (line comments or a
`/* */` block, before the first statement) asks for confirmation whatever the script does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .batches import _end_of_block_comment
from .catalog import key, split_name
from .effects import (
    Action,
    Change,
    ColumnDropped,
    ConstraintDropped,
    Dropped,
    NotAnalysed,
    ProcedureCalled,
    ProcedureCreated,
    TableTruncated,
    script_effects,
)
from .errors import OpusError

#: the directive that makes a script refuse to run without --confirm, on a line of a leading comment
CONFIRM_DIRECTIVE = re.compile(r"^[\s/*-]*opus:\s*confirm-required(?![\w-])", re.IGNORECASE | re.MULTILINE)
DIRECTIVE_TEXT = "-- opus: confirm-required"

#: how many reasons a refusal names before "and N more"
SHOWN_REASONS = 3

_NON_SPACE = re.compile(r"\S")
_GO_LINE = re.compile(r"go(?:[ \t]+\d+)?[ \t]*(?:--[^\n]*)?(?=\n|\r|\Z)", re.IGNORECASE)


@dataclass(frozen=True)
class Confirmation:
    """Why a script must not run without --confirm; false when nothing asks for it."""

    marked: bool = False  # the script carries the directive
    reasons: tuple[str, ...] = ()  # what it does, as `destructive_changes` words it, in script order

    def __bool__(self) -> bool:
        return self.marked or bool(self.reasons)

    def summary(self, shown: int = SHOWN_REASONS) -> str:
        """The reasons for a one-line refusal: the directive, then the first few statements."""
        parts = [f"it is marked '{DIRECTIVE_TEXT}'"] if self.marked else []
        parts += self.reasons[:shown]
        if len(self.reasons) > shown:
            parts.append(f"and {len(self.reasons) - shown} more")
        return "; ".join(parts)


def confirmation(text: str, source: str = "<script>") -> Confirmation:
    """Whether `text` needs --confirm, and why (see the module docstring for the rule)."""
    return Confirmation(has_confirm_directive(text), tuple(destructive_changes(text, source)))


def destructive_changes(text: str, source: str = "<script>") -> list[str]:
    """What the script does that needs --confirm, one sentence each in script order, e.g.
    `line 62: drops view dbo.VW_UpdateOperationSummary`; empty when it destroys nothing.

    A script the reader cannot parse gives one sentence, `its effects could not be read: ...`.
    """
    try:
        effects = script_effects(text, source)
    except OpusError as error:  # ScriptError, UnsupportedConstruct: refuse rather than guess
        return [f"its effects could not be read: {error}"]
    # A procedure is created in an earlier batch than any call of it, so line order is script order here.
    in_order = sorted([*effects.changes, *effects.actions], key=lambda c: c.where.line)
    return [f"line {line}: {action}" for line, action in _destructive(in_order, {}, set())]


def _destructive(changes: Iterable[Change | Action], procedures: Mapping[str, ProcedureCreated],
                 calling: set[str]) -> list[tuple[int, str]]:
    """(line, action) for each destructive change; `procedures` are those created so far."""
    known = dict(procedures)
    found: list[tuple[int, str]] = []
    for change in changes:
        if isinstance(change, ProcedureCreated):
            known[_key(change.name)] = change
            continue
        if isinstance(change, ProcedureCalled):
            action = _call(change, known, calling)
        else:
            action = _action(change)
        if action is not None:
            found.append((change.where.line, action))
    return found


def _call(change: ProcedureCalled, procedures: Mapping[str, ProcedureCreated], calling: set[str]) -> str | None:
    """A call of a procedure this script created counts by what the body destroys (its first such change)."""
    name = _key(change.name)
    created = procedures.get(name)
    if created is None or name in calling:  # not ours to read, or a recursive call already being read
        return None
    body = _destructive(created.body, procedures, calling | {name})
    if not body:
        return None
    line, action = body[0]
    more = f" (and {len(body) - 1} more)" if len(body) > 1 else ""
    return (f"runs procedure {change.name}, created at line {created.where.line}, whose body at line {line} "
            f"{action}{more}")


def _action(change: Change | Action) -> str | None:
    if isinstance(change, Dropped):
        on = f" on {change.table}" if change.kind == "index" and change.table else ""
        return f"drops {change.kind} {change.name}{on}"
    if isinstance(change, ColumnDropped):
        return f"drops column {change.table}.{change.column}"
    if isinstance(change, ConstraintDropped):
        return f"drops constraint {change.name} on {change.table}"
    if isinstance(change, TableTruncated):
        return f"truncates table {change.table}"
    if isinstance(change, NotAnalysed) and change.kind == "dynamic":
        return f"runs dynamic SQL ({change.detail}), whose effects cannot be read beforehand"
    if isinstance(change, NotAnalysed):
        return f"its effects could not be read: {change.detail}"
    return None


def _key(name: str) -> str:
    return key(*split_name(name))


def has_confirm_directive(text: str) -> bool:
    """Whether a comment before the first statement holds the directive on a line of its own.

    Line comments, `/* */` blocks (nested, as T-SQL nests them) and GO lines may come in any order
    before the first statement; the same words later in the script, or in a string, do not count.
    """
    return any(CONFIRM_DIRECTIVE.search(comment) for comment in leading_comments(text))


def leading_comments(text: str) -> list[str]:
    """The comments before the script's first statement, each with its `--` or `/* */` markers."""
    comments: list[str] = []
    pos = 0
    while True:
        start = _NON_SPACE.search(text, pos)
        if start is None:
            return comments
        pos = start.start()
        if text.startswith("\ufeff", pos):
            pos += 1
        elif text.startswith("--", pos):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            comments.append(text[pos:end])
            pos = end
        elif text.startswith("/*", pos):
            end = _end_of_block_comment(text, pos) or len(text)
            comments.append(text[pos:end])
            pos = end
        elif (go := _GO_LINE.match(text, pos)) is not None and _starts_line(text, pos):
            pos = go.end()
        else:
            return comments


def _starts_line(text: str, pos: int) -> bool:
    """Whether only blanks stand between the line's start and `pos` (a GO line must stand alone)."""
    return text[text.rfind("\n", 0, pos) + 1:pos].strip(" \t\r\ufeff") == ""
