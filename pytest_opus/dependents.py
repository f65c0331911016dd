"""The views and procedures that use the staging tables, and whether the deployment broke them.

Adding seven columns to a table breaks two kinds of existing code: an `INSERT INTO table VALUES (...)`
or `INSERT INTO table SELECT ...` without a column list (it now has too few values), and a module
that no longer compiles against the new shape. `dependents` lists the modules that reference the
staging tables; `check_dependents` recompiles or queries each (inside a transaction that is rolled
back) and reads each module's text for inserts without a column list.

- SQL Server: `sys.sql_expression_dependencies` finds the referencing modules, `OBJECT_DEFINITION`
  gives their text, and `sp_refreshsqlmodule` recompiles each (a view, procedure, function or
  trigger) against the current schema; it is documented to fail when the module no longer binds.
- The embedded targets: views are SQLite views, queried with no rows (and broken when a `*` now
  returns a column twice, as SQL Server's refresh would refuse them); procedures are stored T-SQL
  (`__opus_routines`) and are read with the static subset check. Both are found by the table's name
  in their text.

Written by hand: no library reads T-SQL module text for this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import OpusError
from .targets.base import Target

STAGING_TABLES = ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems")
#: objects pytest-opus itself deploys: not "existing systems"
OWN_OBJECTS = frozenset({"sp_rollbackbatch", "vw_updateoperationsummary"})

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"N?'(?:[^']|'')*'")


@dataclass(frozen=True)
class Dependent:
    kind: str  # view | procedure | function | trigger
    name: str  # schema-qualified
    text: str


@dataclass
class DependentCheck:
    checked: list[Dependent] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # "<kind> <name>: <error>"
    inserts_without_columns: list[str] = field(default_factory=list)  # "<kind> <name>, line N: <statement>"

    @property
    def ok(self) -> bool:
        return not self.broken and not self.inserts_without_columns

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for d in self.checked:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        listed = ", ".join(f"{n} {k}(s)" for k, n in sorted(kinds.items())) or "no view or procedure"
        text = (f"{listed} using the staging tables checked: {len(self.broken)} broken, "
                f"{len(self.inserts_without_columns)} insert(s) without a column list")
        # name them: the lead reads this line in the report, without the test's output
        named = [b.split(":")[0] for b in self.broken] + [i.split(":")[0] for i in self.inserts_without_columns]
        return text + (f" ({'; '.join(named[:5])}{'; ...' if len(named) > 5 else ''})" if named else "")


def inserts_without_column_list(text: str, tables: tuple[str, ...] = STAGING_TABLES) -> list[tuple[int, str]]:
    """(line, statement start) of every INSERT into one of `tables` that lists no columns."""
    names = "|".join(re.escape(t) for t in tables)
    pattern = re.compile(
        rf"\bINSERT\s+(?:INTO\s+)?(?:\[?dbo\]?\s*\.\s*)?\[?(?:{names})\]?(?!\w)\s*"
        rf"(?:WITH\s*\([^)]*\)\s*)?(?!\()(\w+)", re.IGNORECASE)
    # blank out comments and strings (keeping line breaks) so a quoted INSERT is not read as one
    cleaned = _STRINGS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    cleaned = _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), cleaned)
    found = []
    for match in pattern.finditer(cleaned):
        if match.group(1).upper() in ("VALUES", "SELECT", "EXEC", "EXECUTE", "DEFAULT"):
            line = cleaned.count("\n", 0, match.start()) + 1
            found.append((line, " ".join(text[match.start():match.end()].split())))
    return found


def dependents(target: Target) -> list[Dependent]:
    """The modules that reference a staging table (pytest-opus's own objects left out)."""
    if target.kind == "sqlserver":
        rows = target.execute(
            "SELECT DISTINCT o.type, SCHEMA_NAME(o.schema_id) + '.' + o.name, OBJECT_DEFINITION(o.object_id) "
            "FROM sys.sql_expression_dependencies AS d JOIN sys.objects AS o ON o.object_id = d.referencing_id "
            "WHERE d.referenced_entity_name IN (?, ?)", STAGING_TABLES)
        kinds = {"V": "view", "P": "procedure", "FN": "function", "IF": "function", "TF": "function",
                 "TR": "trigger"}
        found = [Dependent(kinds.get(str(t).strip(), "module"), str(n), str(x or "")) for t, n, x in rows]
    else:
        found = _embedded_dependents(target)
    return [d for d in found if d.name.split(".")[-1].lower() not in OWN_OBJECTS]


def _embedded_dependents(target: Target) -> list[Dependent]:
    from .tsql.sqlite_schema import ROUTINES_TABLE

    driver = getattr(target, "driver", None)
    if driver is None:
        return []
    mentions = re.compile("|".join(re.escape(t) for t in STAGING_TABLES), re.IGNORECASE)
    views = driver.query("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
    found = [Dependent("view", f"dbo.{name}", sql or "") for name, sql in views if mentions.search(sql or "")]
    if driver.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [ROUTINES_TABLE]):
        for schema, name, definition in driver.query(f'SELECT schema_name, name, definition FROM "{ROUTINES_TABLE}"'):
            if mentions.search(definition or ""):
                found.append(Dependent("procedure", f"{schema}.{name}", definition))
    return found


def check_dependents(target: Target) -> DependentCheck:
    """Each dependent recompiled (or queried) against the current schema, and read for column-less inserts."""
    check = DependentCheck(checked=dependents(target))
    for dependent in check.checked:
        for line, statement in inserts_without_column_list(dependent.text):
            check.inserts_without_columns.append(f"{dependent.kind} {dependent.name}, line {line}: {statement}")
        try:
            _compile(target, dependent)
        except OpusError as error:
            check.broken.append(f"{dependent.kind} {dependent.name}: {error}")
    return check


class _Undo(Exception):
    pass


_RENAMED = re.compile(r"^(.*):\d+$")


def _repeated_columns(names: tuple[str, ...]) -> list[str]:
    """The column names a query returns more than once (case-insensitive, as SQL Server compares them),
    including those SQLite renamed to `name:N` because they repeat another."""
    lowered = {n.lower() for n in names}
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        renamed = _RENAMED.match(name)
        if renamed and renamed.group(1).lower() in lowered:
            repeated.append(renamed.group(1))
        elif name.lower() in seen:
            repeated.append(name)
        seen.add(name.lower())
    return repeated


def _compile(target: Target, dependent: Dependent) -> None:
    if target.kind == "sqlserver":
        try:
            with target.transaction():  # sp_refreshsqlmodule changes metadata: undone afterwards
                target.execute("EXEC sys.sp_refreshsqlmodule @name = ?", (dependent.name,))
                raise _Undo
        except _Undo:
            pass
    elif dependent.kind == "view":
        # SQLite expands a view's `*` when it is queried and renames a repeated column `name:N`; SQL
        # Server keeps the view's columns from its creation, and refreshing it then fails (error 4506)
        # when a `*` now brings a column a second time. Same verdict here: the view is broken.
        names = target.columns_of(f"SELECT TOP (0) * FROM {dependent.name}")
        repeated = _repeated_columns(names)
        if repeated:
            raise OpusError(
                f"column {repeated[0]!r} appears more than once in the view's columns (SQL Server refuses the "
                "view when it is refreshed, error 4506): a SELECT * in it now returns a column the deployment "
                "added; list the view's columns, or alias the other one")
    else:
        from .tsql.subset import check_subset, target_database

        problems = check_subset(dependent.text, dependent.name, database=target_database(target))
        if problems:
            raise OpusError("; ".join(str(p) for p in problems))
