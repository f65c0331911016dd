"""What a single SQL statement of the subset is, decided from its text alone (no database).

The engine runs a statement by its `SqlStatement.kind`; the static subset check (subset.py) uses the
same classification, so both refuse exactly the same constructs. A few statements are recognised by
pattern before sqlglot sees them, because sqlglot's T-SQL dialect reads them as opaque commands
(SET options, DROP INDEX ... ON, TRUNCATE TABLE) or only in its CREATE form (ALTER VIEW).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from ..catalog import split_name
from .ddl import AlterTable, InlineIndex, add_default, alter_table, storage_options
from .parser import unquote
from .translate import NotInSubset, parse_statement

_SET_OPTION = re.compile(r"^\s*SET\s+(?P<name>\w+)\b(?P<rest>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
#: session options a script may set, with the values that change nothing the sandbox models: the ISO
#: settings SQL Server's connections use by default (SSMS scripts SET them ON). Their other value changes
#: answers the sandbox gives the ISO way (ANSI_NULLS OFF makes NULL = NULL true, QUOTED_IDENTIFIER OFF makes
#: "x" a string, ANSI_PADDING OFF trims stored blanks, ANSI_WARNINGS/ARITHABORT OFF turn errors into NULLs,
#: CONCAT_NULL_YIELDS_NULL OFF makes 'a' + NULL 'a', NUMERIC_ROUNDABORT ON makes rounding an error) and
#: is refused. XACT_ABORT OFF lets SQL Server go on after some errors; the sandbox stops the script there,
#: as the SQL Server target does when the driver reports the error ("Known differences").
HARMLESS_OPTIONS: dict[str, tuple[str, ...]] = {
    "NOCOUNT": ("ON", "OFF"), "XACT_ABORT": ("ON", "OFF"), "ANSI_NULLS": ("ON",), "QUOTED_IDENTIFIER": ("ON",),
    "ANSI_PADDING": ("ON",), "ANSI_WARNINGS": ("ON",), "ARITHABORT": ("ON",), "CONCAT_NULL_YIELDS_NULL": ("ON",),
    "NUMERIC_ROUNDABORT": ("OFF",),
}
#: SET IDENTITY_INSERT [schema.]table ON|OFF: a setting of the session, kept by the engine
_IDENTITY_INSERT = re.compile(r"^\s+(?P<table>(\[[^\]]+\]|\w+)(\.(\[[^\]]+\]|\w+))?)\s+(?P<state>ON|OFF)$",
                              re.IGNORECASE)
_DROP_INDEX = re.compile(
    r"^\s*DROP\s+INDEX\s+(?P<exists>IF\s+EXISTS\s+)?(?P<index>\[[^\]]+\]|\w+)\s+ON\s+(?P<table>[\w\[\]. ]+?)\s*;?\s*$",
    re.IGNORECASE,
)
_ALTER_VIEW = re.compile(r"^\s*ALTER\s+VIEW\b", re.IGNORECASE)
_TRUNCATE = re.compile(r"^\s*TRUNCATE\s+TABLE\s+(?P<table>[\w\[\]. ]+?)\s*;?\s*$", re.IGNORECASE)
#: statements that may carry storage options (filegroups, index options) and inline indexes
_STORED = re.compile(r"^\s*(CREATE\s+TABLE|ALTER\s+TABLE|CREATE\s+(UNIQUE\s+)?(NON)?CLUSTERED\s+INDEX|"
                     r"CREATE\s+(UNIQUE\s+)?INDEX)\b", re.IGNORECASE)

#: the kinds of statement the engine runs, and how sqlglot's tree tells them apart
_CREATE_KINDS = {"TABLE": "create-table", "VIEW": "create-view", "INDEX": "create-index"}
_DML = exp.Select | exp.SetOperation | exp.Insert | exp.Update | exp.Delete


@dataclass
class SqlStatement:
    """One SQL statement, classified.

    kind: option | identity-insert | drop-index | truncate | create-table | create-view | create-index |
          alter-table | drop | select-into | dml
    """

    kind: str
    tree: exp.Expression | None = None  # sqlglot's tree, for every kind but option/drop-index/truncate
    name: str = ""  # drop-index: the index; truncate, identity-insert: the table
    table: str = ""  # drop-index: the table as written
    if_exists: bool = False  # drop-index
    view_mode: str = ""  # create-view: CREATE | ALTER | CREATE OR ALTER
    on: bool = False  # identity-insert: ON (True) or OFF
    indexes: list[InlineIndex] = field(default_factory=list)  # create-table: its inline INDEX clauses
    plan: AlterTable | None = None  # alter-table: what it does


def classify(text: str, parse: Callable[[str], exp.Expression] = parse_statement) -> SqlStatement:
    """Classify one statement; raises NotInSubset or SyntaxProblem for what the subset lacks."""
    option = _SET_OPTION.match(text)  # SET @variable is a statement of its own (parser.SetVariable)
    if option:
        name = option.group("name").upper()
        identity_insert = _IDENTITY_INSERT.match(option.group("rest"))
        if name == "IDENTITY_INSERT" and identity_insert:
            schema, table = split_name(identity_insert.group("table"))
            if schema.lower() != "dbo":
                raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
            return SqlStatement("identity-insert", name=table, on=identity_insert.group("state").upper() == "ON")
        value = option.group("rest").strip().upper()
        if name not in HARMLESS_OPTIONS or value not in HARMLESS_OPTIONS[name]:
            shown = f"SET {name} {value}" if name in HARMLESS_OPTIONS and value in ("ON", "OFF") else f"SET {name}"
            raise NotInSubset(shown)
        return SqlStatement("option")
    drop_index = _DROP_INDEX.match(text)
    if drop_index:
        return SqlStatement("drop-index", name=unquote(drop_index.group("index")),
                            table=drop_index.group("table").strip(), if_exists=bool(drop_index.group("exists")))
    truncate = _TRUNCATE.match(text)
    if truncate:
        return SqlStatement("truncate", name=split_name(truncate.group("table").strip())[1])
    indexes: list[InlineIndex] = []
    if _STORED.match(text):
        text, indexes = storage_options(text)
        default = add_default(text, parse)
        if default is not None:
            return SqlStatement("alter-table", plan=default)
    is_alter_view = bool(_ALTER_VIEW.match(text))
    if is_alter_view:
        text = _ALTER_VIEW.sub("CREATE VIEW", text, count=1)
    tree = parse(text)
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        if kind not in _CREATE_KINDS:
            raise NotInSubset(f"CREATE {kind}")
        mode = "ALTER" if is_alter_view else "CREATE OR ALTER" if tree.args.get("replace") else "CREATE"
        return SqlStatement(_CREATE_KINDS[kind], tree, view_mode=mode, indexes=indexes)
    if isinstance(tree, exp.Alter):
        return SqlStatement("alter-table", tree, plan=alter_table(tree))
    if isinstance(tree, exp.Drop):
        return SqlStatement("drop", tree)
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        return SqlStatement("select-into", tree)
    if isinstance(tree, _DML):
        if isinstance(tree, exp.Insert | exp.Update | exp.Delete) and tree.args.get("returning") is not None:
            raise NotInSubset("OUTPUT clause")
        return SqlStatement("dml", tree)
    raise NotInSubset(f"{type(tree).__name__.upper()} statement")


@dataclass(frozen=True)
class ProcedureCall:
    """Whom an EXEC calls: a stored procedure of the script's (by bare name) or sp_executesql."""

    name: str
    dynamic: bool = False  # sp_executesql


def procedure_call(written: str) -> ProcedureCall:
    """`[dbo].[P]` -> P; `sp_executesql` -> dynamic SQL; other system procedures are outside the subset."""
    name = ".".join(unquote(p) for p in written.split("."))
    if name.lower() in ("sp_executesql", "sys.sp_executesql", "dbo.sp_executesql"):
        return ProcedureCall("sp_executesql", dynamic=True)
    if name.lower().startswith(("sp_", "sys.", "xp_")):
        raise NotInSubset(f"system procedure {name}")
    schema, bare = split_name(name)
    if schema.lower() != "dbo":
        raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
    return ProcedureCall(bare)
