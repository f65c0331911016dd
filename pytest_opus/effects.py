"""What T-SQL scripts do to the schema, read from their text alone, and the two checks built on that.

`script_effects` walks every GO batch and every statement of a script (both branches of IF/ELSE,
BEGIN ... END blocks, TRY and CATCH) and records the schema changes in script order: tables,
columns, indexes, views and procedures created; tables, views, procedures, indexes, columns and
constraints dropped. `effects_catalog` replays such records to get the `Catalog` a database would
have after the scripts ran, in the form targets report it, so `expectations.compare` can judge a
script before anything is deployed.

Nothing here executes SQL. The project's T-SQL parser cuts batches into statements, sqlglot parses
each DDL statement, and `tsql.ddl` turns the trees into the same column and table models the
sandbox stores, so a type or default is read exactly as the sandbox would read it. Dynamic SQL
(`EXEC sp_executesql`, `EXEC (...)`) is text built at run time: it is recorded as `NotAnalysed`
with its line, never guessed at. A procedure's body runs when the procedure is called, not when the
script runs, so its changes are not the script's: they are kept on the `ProcedureCreated` record.
Two statements that change no schema are kept apart, in `Effects.actions`, for the confirmation rule
(`confirm`): `TRUNCATE TABLE`, which removes every row, and procedure calls, so that a script that
creates a procedure and then runs it is judged by what the body does.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from sqlglot import exp

from pytest_opus.batches import split_batches
from pytest_opus.cache import cache_dir, owned_privately, prune_cache
from pytest_opus.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Index,
    Parameter,
    Procedure,
    Table,
    View,
    key,
    split_name,
)
from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.expectations import ObjectResult, compare, load_expectations
from pytest_opus.expectations.model import Location
from pytest_opus.ledger import LEDGER_TABLES
from pytest_opus.tsql import ddl, dialect
from pytest_opus.tsql.parser import (
    Block,
    CreateProcedure,
    Declare,
    Exec,
    ExecDynamic,
    If,
    SetVariable,
    Skipped,
    Sql,
    Statement,
    TryCatch,
    While,
    parse_batch,
    unquote,
)
from pytest_opus.tsql.sqlite_schema import ColumnModel, TableModel
from pytest_opus.tsql.translate import NotInSubset, SyntaxProblem, parse_statement
from pytest_opus.tsql.translation_store import runner_fingerprint

DEPLOY_SCRIPT = "deploy_opus_update_boards.sql"
ROLLBACK_SCRIPT = "rollback_opus_update_boards.sql"
BASELINE_DIR = "baseline"
SCHEMA = "dbo"
#: the catalog view a rollback must read before dynamic SQL can count as dropping default constraints
DEFAULT_CONSTRAINTS_VIEW = "sys.default_constraints"

_C = TypeVar("_C")
#: the ledger's tables (lower-case keys): created by deploy, kept by every rollback
LEDGER_KEYS = frozenset(key(*split_name(name)) for name in LEDGER_TABLES)
_DDL_START = re.compile(r"^\s*(CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)
_SELECT_INTO = re.compile(r"^\s*(SELECT|WITH)\b.*\bINTO\b", re.IGNORECASE | re.DOTALL)


# -- the records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputColumn:
    """One column a SELECT produces (for a view or SELECT INTO), with what is known of its type."""

    name: str
    source: tuple[str, str] | None = None  # (qualified table, column) of a plain column reference
    type: str | None = None  # the type a CAST states, e.g. "datetime2"


@dataclass(frozen=True)
class TableCreated:
    where: Location
    name: str  # schema-qualified
    model: TableModel


@dataclass(frozen=True)
class ColumnAdded:
    where: Location
    table: str
    column: ColumnModel

    @property
    def type(self) -> str:
        return self.column.tsql_type

    @property
    def nullable(self) -> bool:
        return not self.column.not_null

    @property
    def default(self) -> str | None:
        """The default as SQL Server reports it, e.g. `('CREATE')`."""
        return dialect.default_to_tsql(self.column.default)

    @property
    def constraint_name(self) -> str | None:
        """The default constraint's name; None when unnamed (the server then makes one up)."""
        return self.column.default_name


@dataclass(frozen=True)
class IndexCreated:
    where: Location
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class ViewCreated:
    where: Location
    name: str
    columns: tuple[OutputColumn, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class ProcedureCreated:
    where: Location
    name: str
    parameters: tuple[Parameter, ...]
    #: what the body does each time the procedure runs (not when the script creates it), in order
    body: tuple[Change | Action, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class ProcedureCalled:
    """`EXEC name ...`: it changes whatever the procedure's body changes, which is known only when
    the same script created the procedure."""

    where: Location
    name: str  # schema-qualified


@dataclass(frozen=True)
class TableTruncated:
    """`TRUNCATE TABLE`: the schema stays, every row goes."""

    where: Location
    table: str


@dataclass(frozen=True)
class SelectInto:
    """`SELECT ... INTO table`: a table whose columns come from a query."""

    where: Location
    table: str
    columns: tuple[OutputColumn, ...]


DroppedKind = Literal["table", "view", "procedure", "index"]


@dataclass(frozen=True)
class Dropped:
    where: Location
    kind: DroppedKind
    name: str  # schema-qualified for tables, views and procedures; the bare name for an index
    table: str | None = None  # an index's table, when the statement names it


@dataclass(frozen=True)
class ColumnDropped:
    where: Location
    table: str
    column: str


@dataclass(frozen=True)
class ConstraintDropped:
    where: Location
    table: str
    name: str


@dataclass(frozen=True)
class NotAnalysed:
    """A statement whose schema effect cannot be read from the text.

    kind: `dynamic` (EXEC sp_executesql, EXEC (...)), `unsupported` (a construct this reader does
    not model, e.g. CREATE TRIGGER or ALTER COLUMN), `unreadable` (sqlglot could not parse it).
    `reads` lists the tables and catalog views (lower case, schema-qualified) read by statements of
    the same batch: for dynamic SQL, the evidence of what the generated statements are built from.
    """

    where: Location
    kind: Literal["dynamic", "unsupported", "unreadable"]
    detail: str
    reads: frozenset[str] = frozenset()


Change = (TableCreated | ColumnAdded | IndexCreated | ViewCreated | ProcedureCreated | SelectInto
          | Dropped | ColumnDropped | ConstraintDropped | NotAnalysed)
#: statements that change no schema but decide whether a script needs --confirm
Action = TableTruncated | ProcedureCalled


@dataclass(frozen=True)
class Effects:
    """Every schema change of one script, in the order the script makes them."""

    source: str
    changes: tuple[Change, ...] = ()
    actions: tuple[Action, ...] = ()  # truncations and procedure calls, in script order

    def _only(self, kind: type[_C]) -> list[_C]:
        return [c for c in self.changes if isinstance(c, kind)]

    @property
    def tables_created(self) -> list[TableCreated]:
        return self._only(TableCreated)

    @property
    def columns_added(self) -> list[ColumnAdded]:
        return self._only(ColumnAdded)

    @property
    def indexes_created(self) -> list[IndexCreated]:
        return self._only(IndexCreated)

    @property
    def views_created(self) -> list[ViewCreated]:
        return self._only(ViewCreated)

    @property
    def procedures_created(self) -> list[ProcedureCreated]:
        return self._only(ProcedureCreated)

    @property
    def drops(self) -> list[Dropped | ColumnDropped | ConstraintDropped]:
        return [c for c in self.changes if isinstance(c, Dropped | ColumnDropped | ConstraintDropped)]

    @property
    def not_analysed(self) -> list[NotAnalysed]:
        return self._only(NotAnalysed)

    @property
    def dynamic(self) -> list[NotAnalysed]:
        return [c for c in self.not_analysed if c.kind == "dynamic"]


# -- reading a script ------------------------------------------------------------------------------


def script_effects(text: str, source: str) -> Effects:
    """The schema changes of a T-SQL script, read statically. `source` names it in locations.

    A syntax error the parser cannot get past raises ScriptError (with file and line); constructs
    outside the embedded runner's subset are not errors here, they become `NotAnalysed` records.
    """
    found: list[Change | Action] = []
    for batch in split_batches(text, source=source):
        offset = batch.start_line - 1
        refused: list[UnsupportedConstruct] = []
        parsed = parse_batch(batch.text, source=source, line_offset=offset, collect=refused)
        reader = _BatchReader(source, offset, _by_line(refused))
        reader.walk(parsed.statements)
        found.extend(reader.finish(parsed.statements))
    return Effects(source, tuple(c for c in found if not isinstance(c, Action)),
                   tuple(c for c in found if isinstance(c, Action)))



def _by_line(refused: Iterable[UnsupportedConstruct]) -> dict[int, str]:
    """The constructs the parser left out, by file line."""
    return {problem.line: problem.construct for problem in refused if problem.line is not None}


def file_effects(path: str | Path, source: str | None = None) -> Effects:
    """`script_effects` of a file; locations name it as given (relative to the working directory).

    The result is cached by the file's content, the name it is given and the reader's own sources
    (`_reader_fingerprint`), next to the sandbox's baseline template (`OPUS_CACHE_DIR`, default
    ~/.cache/pytest-opus): reading the 1.3 MB sample-data script takes about 1.6 s and tells nothing
    new until it changes. A missing, unreadable or foreign cache file just means reading the script.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    return cached_script_effects(text, source or display_path(path))


def cached_script_effects(text: str, source: str) -> Effects:
    """`script_effects`, kept in the cache directory by the text, its name and the reader (see `file_effects`)."""
    if len(text) < _CACHE_FROM_CHARS:
        return script_effects(text, source)
    digest = hashlib.sha256(_reader_fingerprint().encode())
    digest.update(source.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    cached = _cache_dir() / f"effects-{digest.hexdigest()[:32]}.pickle"
    found = _read_cached(cached)
    if found is not None:
        return found
    effects = script_effects(text, source)
    _write_cached(cached, effects)
    return effects


#: Scripts shorter than this are read every time (reading them costs less than the cache's upkeep): a
#: deploy script of a few kilobytes takes about 50 ms to read, its cached result under 1 ms to load.
_CACHE_FROM_CHARS = 1024
#: Static-check results kept (one per script and version of it; each a few kilobytes): enough for every script
#: of a project and a few edits of each, so that a day's pruning does not make them be read again.
_EFFECTS_KEPT = 200


def _cache_dir() -> Path:
    return cache_dir()


@functools.lru_cache(maxsize=1)
def _reader_fingerprint() -> str:
    """The runner's fingerprint (its sources, the package, sqlglot, SQLite and Python versions) and the sources
    of the rest of what the static reader runs: a change to any of them is a different reader, whose results
    are not the cached ones."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(runner_fingerprint().encode())
    files = [package / "effects.py", *sorted((package / "expectations").glob("*.py"))]
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _read_cached(path: Path) -> Effects | None:
    """A cached result, only from a file this user owns and nobody else may write (it is unpickled)."""
    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not owned_privately(status):
                return None
            found = pickle.load(handle)
    except Exception:  # absent, truncated, or from an incompatible build: read the script
        return None
    return found if isinstance(found, Effects) else None


def _write_cached(path: Path, effects: Effects) -> None:
    """Written atomically (a parallel run never reads half a file); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".writing")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(effects, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        return
    prune_cache(path.parent, "effects-*.pickle", keep=_EFFECTS_KEPT)


def display_path(path: str | Path) -> str:
    """A path as a reader would type it: relative to the working directory where possible."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class _BatchReader:
    def __init__(self, source: str, offset: int, refused: dict[int, str]) -> None:
        self.source = source
        self.offset = offset
        self.refused = refused  # file line -> the construct the parser left out there
        self.changes: list[Change | Action] = []

    def where(self, statement: Statement) -> Location:
        return Location(self.source, statement.line + self.offset)

    def walk(self, statements: Iterable[Statement | None]) -> None:
        for statement in statements:
            if statement is None:
                continue
            if isinstance(statement, Block):
                self.walk(statement.body)
            elif isinstance(statement, If):
                self.walk([statement.then, statement.otherwise])
            elif isinstance(statement, While):
                self.walk([statement.body])
            elif isinstance(statement, TryCatch):
                self.walk(statement.body)
                self.walk(statement.handler)
            elif isinstance(statement, CreateProcedure):
                self.procedure(statement)
            elif isinstance(statement, ExecDynamic):
                self.not_analysed(statement, "dynamic", f"EXEC ({statement.expression})")
            elif isinstance(statement, Exec) and _last_part(statement.procedure) == "sp_executesql":
                self.not_analysed(statement, "dynamic", f"EXEC {statement.procedure}")
            elif isinstance(statement, Exec):
                self.changes.append(ProcedureCalled(self.where(statement), _qualify(statement.procedure)))
            elif isinstance(statement, Skipped):
                construct = self.refused.get(statement.line + self.offset, _first_words(statement.text))
                self.not_analysed(statement, "unsupported", construct)
            elif isinstance(statement, Sql):
                self.sql(statement)

    def finish(self, statements: Sequence[Statement]) -> list[Change | Action]:
        """The batch's changes; dynamic SQL gets the tables the batch reads as evidence."""
        if not any(isinstance(c, NotAnalysed) and c.kind == "dynamic" for c in self.changes):
            return self.changes
        reads = frozenset(_batch_reads(statements))
        return [replace(c, reads=reads) if isinstance(c, NotAnalysed) and c.kind == "dynamic" else c
                for c in self.changes]

    def not_analysed(self, statement: Statement, kind: Literal["dynamic", "unsupported", "unreadable"],
                     detail: str) -> None:
        self.changes.append(NotAnalysed(self.where(statement), kind, detail))

    def procedure(self, statement: CreateProcedure) -> None:
        schema, name = split_name(statement.name)
        parameters = tuple(
            Parameter(p.name, ordinal, *dialect.parse_type(p.type), is_output=p.output)
            for ordinal, p in enumerate(statement.parameters, start=1)
        )
        body = _BatchReader(self.source, self.offset, self.refused)
        body.walk(statement.body)
        self.changes.append(ProcedureCreated(self.where(statement), f"{schema}.{name}", parameters,
                                             tuple(body.finish(statement.body))))

    def sql(self, statement: Sql) -> None:
        is_ddl = _DDL_START.match(statement.text) is not None
        if not is_ddl and _SELECT_INTO.match(statement.text) is None:
            return  # data statements and SET options change no schema
        text = statement.text
        inline: list[ddl.InlineIndex] = []
        try:
            # read as the runner reads it (statements.classify): SSMS's storage clauses (ON [PRIMARY], index
            # WITH options) taken out, inline indexes apart
            text, inline = ddl.storage_options(text)
            tree = parse_statement(text)
        except (SyntaxProblem, NotInSubset) as problem:
            if is_ddl:  # sqlglot fails (unreadable) or keeps it as an opaque command (unsupported)
                kind: Literal["unsupported", "unreadable"] = (
                    "unreadable" if isinstance(problem, SyntaxProblem) else "unsupported")
                self.not_analysed(statement, kind, f"{_first_words(statement.text)}: {problem}")
            return
        try:
            self.tree(statement, tree)
        except (SyntaxProblem, NotInSubset) as problem:
            self.not_analysed(statement, "unsupported", f"{_first_words(statement.text)}: {problem}")
            return
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if inline and isinstance(tree, exp.Create) and isinstance(target, exp.Table) and not _is_temporary(target):
            self.changes.extend(IndexCreated(self.where(statement), index.name, _qualified(target), index.columns,
                                             index.unique) for index in inline)

    def tree(self, statement: Sql, tree: exp.Expression) -> None:
        where = self.where(statement)
        if isinstance(tree, exp.Select):
            into = tree.args.get("into")
            if into is not None and isinstance(into.this, exp.Table) and not _is_temporary(into.this):
                self.changes.append(SelectInto(where, _qualified(into.this), _output_columns(tree)))
            return
        if isinstance(tree, exp.Create):
            self.create(statement, tree)
        elif isinstance(tree, exp.Alter):
            self.alter(statement, tree)
        elif isinstance(tree, exp.Drop):
            self.drop(statement, tree)
        elif isinstance(tree, exp.TruncateTable):
            self.changes.extend(TableTruncated(where, _qualified(t)) for t in tree.expressions
                                if isinstance(t, exp.Table) and not _is_temporary(t))
        else:
            self.not_analysed(statement, "unsupported", _first_words(statement.text))

    def create(self, statement: Sql, tree: exp.Create) -> None:
        where = self.where(statement)
        kind = str(tree.args.get("kind") or "").upper()
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if kind == "TABLE":
            if isinstance(target, exp.Table) and _is_temporary(target):
                return  # a #temp table lives for the session only
            model = ddl.table_model(tree)
            self.changes.append(TableCreated(where, _qualified(target), model))
        elif kind == "INDEX":
            spec = ddl.index_spec(tree)
            self.changes.append(IndexCreated(where, spec.name, _qualify(spec.table), spec.columns, spec.unique))
        elif kind == "VIEW" and isinstance(target, exp.Table) and tree.expression is not None:
            columns = _output_columns(tree.expression)
            if isinstance(tree.this, exp.Schema) and tree.this.expressions:  # CREATE VIEW v (a, b) AS ...
                names = [c.name for c in tree.this.expressions]
                columns = tuple(replace(c, name=n) for c, n in zip(columns, names, strict=False))
            self.changes.append(ViewCreated(where, _qualified(target), columns))
        else:
            self.not_analysed(statement, "unsupported", f"CREATE {kind}")

    def alter(self, statement: Sql, tree: exp.Alter) -> None:
        where = self.where(statement)
        if str(tree.args.get("kind") or "").upper() != "TABLE" or not isinstance(tree.this, exp.Table):
            self.not_analysed(statement, "unsupported", _first_words(statement.text))
            return
        table = _qualified(tree.this)
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                self.changes.append(ColumnAdded(where, table, ddl.column_model(action)))
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
                self.changes.extend(ColumnDropped(where, table, t.name) for t in _drop_names(action))
            elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "CONSTRAINT":
                self.changes.extend(ConstraintDropped(where, table, t.name) for t in _drop_names(action))
            else:
                self.not_analysed(statement, "unsupported", f"ALTER TABLE {action.sql(dialect='tsql')}")

    def drop(self, statement: Sql, tree: exp.Drop) -> None:
        where = self.where(statement)
        kind = str(tree.args.get("kind") or "").upper()
        kinds: dict[str, DroppedKind] = {"TABLE": "table", "VIEW": "view", "PROCEDURE": "procedure",
                                         "PROC": "procedure", "INDEX": "index"}
        if kind not in kinds:
            self.not_analysed(statement, "unsupported", f"DROP {kind}")
            return
        for target in _drop_names(tree):
            if not isinstance(target, exp.Table) or _is_temporary(target):
                continue
            if kinds[kind] != "index":
                self.changes.append(Dropped(where, kinds[kind], _qualified(target)))
                continue
            on = tree.args.get("cluster")
            if isinstance(on, exp.OnProperty) and isinstance(on.this, exp.Table):  # DROP INDEX ix ON t
                table: str | None = _qualified(on.this)
            elif target.db:  # the older spelling, DROP INDEX [schema.]table.ix
                table = f"{target.catalog or SCHEMA}.{target.db}"
            else:
                table = None
            self.changes.append(Dropped(where, "index", target.name, table))


def _drop_names(drop: exp.Drop) -> list[exp.Expression]:
    return [t for t in (drop.args.get("tables") or drop.expressions or [drop.this]) if t is not None]


def _is_temporary(table: exp.Table) -> bool:
    return table.name.startswith("#") or bool(isinstance(table.this, exp.Identifier)
                                              and table.this.args.get("temporary"))


def _qualified(table: exp.Table) -> str:
    return f"{table.db or SCHEMA}.{table.name}"


def _qualify(name: str) -> str:
    schema, bare = split_name(name)
    return f"{schema}.{bare}"


def _last_part(name: str) -> str:
    return unquote(name.split(".")[-1]).lower()


def _first_words(text: str, count: int = 3) -> str:
    return " ".join(text.split()[:count])


def _output_columns(query: exp.Expression) -> tuple[OutputColumn, ...]:
    """The columns a query produces, in order, with the source of each plain column reference."""
    if not isinstance(query, exp.Select):  # a UNION and the like: names only
        return tuple(OutputColumn(name) for name in query.named_selects) if isinstance(query, exp.Query) else ()
    sources: dict[str, str] = {}
    from_clause = query.args.get("from_") or query.args.get("from")
    relations = [from_clause.this] if from_clause is not None else []
    relations += [join.this for join in query.args.get("joins") or []]
    for relation in relations:
        if isinstance(relation, exp.Table):
            sources[relation.alias_or_name.lower()] = _qualified(relation)
    only = next(iter(sources.values())) if len(sources) == 1 else None
    columns: list[OutputColumn] = []
    for projection in query.expressions:
        inner = projection.unalias()
        if isinstance(inner, exp.Star):
            columns.append(OutputColumn("*", (only, "*") if only else None))
        elif isinstance(inner, exp.Column):
            table = sources.get(inner.table.lower()) if inner.table else only
            column = "*" if isinstance(inner.this, exp.Star) else inner.name
            columns.append(OutputColumn(projection.alias_or_name if column != "*" else "*",
                                        (table, column) if table else None))
        elif isinstance(inner, exp.Cast):
            columns.append(OutputColumn(projection.alias_or_name, type=inner.to.sql(dialect="tsql").lower()))
        else:
            columns.append(OutputColumn(projection.alias_or_name))
    return tuple(columns)


def _batch_reads(statements: Iterable[Statement | None]) -> set[str]:
    """Tables and catalog views the batch's statements read (lower-case `schema.name`)."""
    found: set[str] = set()
    for statement in statements:
        texts: list[str] = []
        if isinstance(statement, Block):
            found |= _batch_reads(statement.body)
        elif isinstance(statement, If):
            texts.append(f"SELECT 1 WHERE {statement.condition}")
            found |= _batch_reads([statement.then, statement.otherwise])
        elif isinstance(statement, While):
            texts.append(f"SELECT 1 WHERE {statement.condition}")
            found |= _batch_reads([statement.body])
        elif isinstance(statement, TryCatch):
            found |= _batch_reads([*statement.body, *statement.handler])
        elif isinstance(statement, Declare):
            texts += [f"SELECT {expr}" for _, _, expr in statement.items if expr]
        elif isinstance(statement, SetVariable):
            texts.append(f"SELECT {statement.expression}")
        elif isinstance(statement, Sql):
            texts.append(statement.text)
        for text in texts:
            try:
                tree = parse_statement(text)
            except (SyntaxProblem, NotInSubset):
                continue
            found |= {f"{(t.db or SCHEMA).lower()}.{t.name.lower()}" for t in tree.find_all(exp.Table)}
    return found


# -- replaying effects into a catalog --------------------------------------------------------------


@dataclass
class _TableState:
    schema: str
    name: str
    columns: list[Column]
    indexes: list[Index] = field(default_factory=list)
    checks: list[CheckConstraint] = field(default_factory=list)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    def table(self) -> Table:
        columns = tuple(replace(c, ordinal=i) for i, c in enumerate(self.columns, start=1))
        indexes = tuple(sorted(self.indexes, key=lambda i: (not i.primary_key, i.name.lower())))
        return Table(self.schema, self.name, columns, indexes, tuple(self.checks))


def _column(model: ColumnModel, ordinal: int) -> Column:
    """A column model as targets report it: lower-case type, -1 for MAX, the default's T-SQL text."""
    data_type, length, precision, scale = dialect.parse_type(model.tsql_type)
    return Column(
        model.name, ordinal, data_type, length, precision, scale,
        nullable=not (model.not_null or model.identity or model.pk_name is not None),
        default=dialect.default_to_tsql(model.default),
        default_name=model.default_name,
        identity=model.identity,
    )


def _table_state(qualified: str, model: TableModel) -> _TableState:
    schema, name = split_name(qualified)
    state = _TableState(schema, name, [_column(c, i) for i, c in enumerate(model.columns, start=1)])
    inline_key = next((c for c in model.columns if c.pk_name is not None or c.identity), None)
    if model.primary_key is not None:
        pk_name, pk_columns = model.primary_key
        state.indexes.append(Index(pk_name or f"PK__{name}", tuple(pk_columns), True, True))
    elif inline_key is not None:
        # an unnamed key gets a server-made name (PK__table__hex) that a reading cannot know
        state.indexes.append(Index(inline_key.pk_name or f"PK__{name}", (inline_key.name,), True, True))
    for n, (uq_name, uq_columns) in enumerate(model.uniques):
        state.indexes.append(Index(uq_name or f"UQ__{name}__{n}", tuple(uq_columns), True, False))
    state.indexes += [Index(f"UQ__{name}__{c.name}", (c.name,), True, False) for c in model.columns if c.unique]
    state.checks += [CheckConstraint(ck or f"CK__{name}__{i}", text) for i, (ck, text) in enumerate(model.checks)]
    for c in model.columns:
        state.checks += [CheckConstraint(ck or f"CK__{name}__{c.name}", text) for ck, text in c.checks]
    return state


def _state_from(table: Table) -> _TableState:
    return _TableState(table.schema, table.name, list(table.columns), list(table.indexes), list(table.checks))


class _Replay:
    """The catalog under construction; `apply` plays one change the way the server would."""

    def __init__(self, base: Catalog | None) -> None:
        self.tables: dict[str, _TableState] = {}
        self.views: dict[str, View] = {}
        self.procedures: dict[str, Procedure] = {}
        if base is not None:
            self.tables = {k: _state_from(t) for k, t in base.tables.items()}
            self.views = dict(base.views)
            self.procedures = dict(base.procedures)

    def table(self, qualified: str) -> _TableState | None:
        return self.tables.get(key(*split_name(qualified)))

    def output_columns(self, columns: Sequence[OutputColumn]) -> tuple[Column, ...]:
        result: list[Column] = []
        for out in columns:
            source = self.table(out.source[0]) if out.source else None
            if out.source and out.source[1] == "*" and source is not None:
                result += [replace(c, default=None, default_name=None, identity=False) for c in source.columns]
                continue
            column = source.column(out.source[1]) if source is not None and out.source else None
            if column is not None:
                result.append(Column(out.name, 0, column.data_type, column.max_length, column.precision,
                                     column.scale))
            elif out.type is not None:
                result.append(Column(out.name, 0, *dialect.parse_type(out.type)))
            else:  # an expression: its type is the server's inference (the sandbox reports none either)
                result.append(Column(out.name, 0, ""))
        return tuple(replace(c, ordinal=i) for i, c in enumerate(result, start=1))

    def apply(self, change: Change) -> None:
        # Creating what exists keeps the existing object (a guarded CREATE skips it; an unguarded one
        # would fail); views and procedures are replaced, as CREATE OR ALTER does.
        if isinstance(change, TableCreated):
            self.tables.setdefault(key(*split_name(change.name)), _table_state(change.name, change.model))
        elif isinstance(change, SelectInto):
            schema, name = split_name(change.table)
            columns = [replace(c, nullable=True) for c in self.output_columns(change.columns)]
            self.tables.setdefault(key(schema, name), _TableState(schema, name, columns))
        elif isinstance(change, ColumnAdded):
            table = self.table(change.table)
            if table is not None and table.column(change.column.name) is None:
                table.columns.append(_column(change.column, len(table.columns) + 1))
        elif isinstance(change, IndexCreated):
            table = self.table(change.table)
            if table is not None and not any(i.name.lower() == change.name.lower() for i in table.indexes):
                table.indexes.append(Index(change.name, change.columns, change.unique, False))
        elif isinstance(change, ViewCreated):
            schema, name = split_name(change.name)
            self.views[key(schema, name)] = View(schema, name, self.output_columns(change.columns))
        elif isinstance(change, ProcedureCreated):
            schema, name = split_name(change.name)
            self.procedures[key(schema, name)] = Procedure(schema, name, change.parameters)
        elif isinstance(change, Dropped):
            self.drop(change)
        elif isinstance(change, ColumnDropped):
            table = self.table(change.table)
            if table is not None:
                table.columns = [c for c in table.columns if c.name.lower() != change.column.lower()]
        elif isinstance(change, ConstraintDropped):
            table = self.table(change.table)
            if table is not None:
                self.drop_constraint(table, change.name.lower())
        # NotAnalysed: nothing is known, so nothing is applied

    def drop(self, change: Dropped) -> None:
        k = key(*split_name(change.name))
        if change.kind == "table":
            self.tables.pop(k, None)
        elif change.kind == "view":
            self.views.pop(k, None)
        elif change.kind == "procedure":
            self.procedures.pop(k, None)
        else:
            owner = self.table(change.table) if change.table else None
            candidates = [owner] if owner is not None else list(self.tables.values())
            for table in candidates:
                table.indexes = [i for i in table.indexes if i.name.lower() != change.name.lower()]

    @staticmethod
    def drop_constraint(table: _TableState, lowered: str) -> None:
        table.columns = [replace(c, default=None, default_name=None)
                         if c.default_name and c.default_name.lower() == lowered else c
                         for c in table.columns]
        table.checks = [c for c in table.checks if c.name.lower() != lowered]
        table.indexes = [i for i in table.indexes if not (i.name.lower() == lowered and (i.primary_key or i.unique))]

    def catalog(self) -> Catalog:
        return Catalog.build([t.table() for t in self.tables.values()], self.views.values(),
                             self.procedures.values())


def effects_catalog(*effects: Effects, base: Catalog | None = None) -> Catalog:
    """The catalog after applying `effects` in order (baseline scripts first, then deploy) to `base`
    (an empty database when None), with types and defaults reported as targets report them.

    An unnamed default has no name here (`default_name` None): the server would invent one.
    """
    replay = _Replay(base)
    for script in effects:
        for change in script.changes:
            replay.apply(change)
    return replay.catalog()


# -- the checks ------------------------------------------------------------------------------------


def baseline_scripts(sql_dir: str | Path) -> list[Path]:
    """The baseline scripts in the order they run (name order)."""
    return sorted((Path(sql_dir) / BASELINE_DIR).glob("*.sql"), key=lambda p: p.name)


def _schema_dir(expectations_dir: str | Path) -> Path:
    directory = Path(expectations_dir)
    return directory / "schema" if (directory / "schema").is_dir() else directory


def deployed_catalog(sql_dir: str | Path, *, deploy_script: str | Path | None = None) -> Catalog:
    """The catalog the baseline scripts plus the deploy script would produce, read statically."""
    deploy = Path(deploy_script) if deploy_script is not None else Path(sql_dir) / DEPLOY_SCRIPT
    scripts = [*baseline_scripts(sql_dir), deploy]
    return effects_catalog(*(file_effects(path) for path in scripts))


def check_deploy_against_expectations(sql_dir: str | Path, expectations_dir: str | Path, *,
                                      deploy_script: str | Path | None = None) -> list[ObjectResult]:
    """Compare what the baseline and deploy scripts would build with the schema expectations.

    `expectations_dir` is the expectations root (its `schema/` is used) or the schema directory
    itself. Findings mean the script and the YAML disagree; nothing touches a database.
    """
    deploy = Path(deploy_script) if deploy_script is not None else Path(sql_dir) / DEPLOY_SCRIPT
    catalog = deployed_catalog(sql_dir, deploy_script=deploy)
    return compare(load_expectations(_schema_dir(expectations_dir)), catalog,
                   deploy_script=display_path(deploy))


def check_rollback_reverses_deploy(sql_dir: str | Path, *, deploy_script: str | Path | None = None,
                                   rollback_script: str | Path | None = None) -> list[str]:
    """Problems, as `file:line: ...` sentences, where the rollback script does not undo the deploy.

    Everything deploy creates must be dropped: tables, views, procedures; indexes and columns it adds
    to tables it did not create (those go with the table). An index must be dropped before a column
    it covers, and a column's default constraint before the column, either by name or by a dynamic
    SQL block that reads sys.default_constraints. The rollback must not drop what deploy did not add.
    """
    deploy = file_effects(Path(deploy_script) if deploy_script is not None else Path(sql_dir) / DEPLOY_SCRIPT)
    rollback = file_effects(
        Path(rollback_script) if rollback_script is not None else Path(sql_dir) / ROLLBACK_SCRIPT)
    return rollback_problems(deploy, rollback)


def rollback_problems(deploy: Effects, rollback: Effects) -> list[str]:
    """`check_rollback_reverses_deploy` on effects already read (from files or strings)."""
    return _RollbackCheck(deploy, rollback).problems()


def _lower(name: str) -> str:
    return key(*split_name(name))


@dataclass
class _RollbackCheck:
    deploy: Effects
    rollback: Effects

    def position(self, wanted: object) -> tuple[int, Change] | None:
        """The first rollback change equal (by kind and lower-cased names) to `wanted`, and its index."""
        for index, change in enumerate(self.rollback.changes):
            if _same_target(change, wanted):
                return index, change
        return None

    def problems(self) -> list[str]:
        found: list[str] = []
        rb = self.rollback.source
        for item in self.deploy.not_analysed:
            found.append(f"{item.where}: {item.kind} SQL ({item.detail}) is not analysed, so whatever it "
                         f"adds is not checked against {rb}")
        created_tables = {_lower(c.name) for c in self.deploy.tables_created}
        created_tables |= {_lower(c.table) for c in self.deploy.changes if isinstance(c, SelectInto)}
        for change in self.deploy.changes:
            if isinstance(change, TableCreated | SelectInto):
                name = change.name if isinstance(change, TableCreated) else change.table
                if _lower(name) not in LEDGER_KEYS:  # the ledger is the record: no rollback drops it
                    found += self.must_drop(change.where, "table", name)
            elif isinstance(change, ViewCreated):
                found += self.must_drop(change.where, "view", change.name)
            elif isinstance(change, ProcedureCreated):
                found += self.must_drop(change.where, "procedure", change.name)
            elif isinstance(change, IndexCreated) and _lower(change.table) not in created_tables:
                found += self.must_drop(change.where, "index", change.name, change.table)
            elif isinstance(change, ColumnAdded) and _lower(change.table) not in created_tables:
                found += self.column(change)
        found += self.extra_drops(created_tables)
        return found

    def must_drop(self, where: Location, kind: DroppedKind, name: str, table: str | None = None) -> list[str]:
        if self.position(Dropped(where, kind, name, table)) is not None:
            return []
        what = f"index {name} on {table}" if kind == "index" else f"{kind} {name}"
        return [f"{where}: {what} is created here, but {self.rollback.source} never drops it"]

    def column(self, added: ColumnAdded) -> list[str]:
        rb = self.rollback.source
        label = f"column {added.table}.{added.column.name}"
        dropped = self.position(ColumnDropped(added.where, added.table, added.column.name))
        if dropped is None:
            return [f"{added.where}: {label} is added here, but {rb} never drops it"]
        at, drop = dropped
        found: list[str] = []
        for index in self.deploy.indexes_created:
            if _lower(index.table) != _lower(added.table):
                continue
            if added.column.name.lower() not in {c.lower() for c in index.columns}:
                continue
            index_drop = self.position(Dropped(index.where, "index", index.name, index.table))
            if index_drop is not None and index_drop[0] > at:
                found.append(f"{added.where}: {label} is dropped at {drop.where} before index {index.name} "
                             f"(dropped at {index_drop[1].where}); SQL Server refuses to drop a column an "
                             "index uses")
        if added.column.default is not None:
            found += self.default(added, label, at, drop)
        return found

    def default(self, added: ColumnAdded, label: str, at: int, drop: Change) -> list[str]:
        name = added.constraint_name
        by_name = self.position(ConstraintDropped(added.where, added.table, name)) if name else None
        dynamic = next((i for i, c in enumerate(self.rollback.changes)
                        if isinstance(c, NotAnalysed) and c.kind == "dynamic"
                        and DEFAULT_CONSTRAINTS_VIEW in c.reads), None)
        handled = [i for i in (by_name[0] if by_name else None, dynamic) if i is not None]
        constraint = f"default constraint {name}" if name else "an unnamed default constraint"
        if not handled:
            return [f"{added.where}: {label} has {constraint}; {self.rollback.source} must drop it before the "
                    f"column, by name or with dynamic SQL that reads {DEFAULT_CONSTRAINTS_VIEW}"]
        if min(handled) > at:
            return [f"{added.where}: {label} is dropped at {drop.where} before its {constraint}; "
                    "SQL Server refuses to drop a column that has a default"]
        return []

    def extra_drops(self, created_tables: set[str]) -> list[str]:
        """Rollback drops of tables, views, procedures and columns that deploy does not add."""
        created = {("table", t) for t in created_tables}
        created |= {("view", _lower(c.name)) for c in self.deploy.views_created}
        created |= {("procedure", _lower(c.name)) for c in self.deploy.procedures_created}
        added = {(_lower(c.table), c.column.name.lower()) for c in self.deploy.columns_added}
        found: list[str] = []
        for change in self.rollback.changes:
            if isinstance(change, Dropped) and change.kind != "index" and (
                    (change.kind, _lower(change.name)) not in created):
                found.append(f"{change.where}: drops {change.kind} {change.name}, which "
                             f"{self.deploy.source} does not create")
            elif isinstance(change, ColumnDropped) and (
                    (_lower(change.table), change.column.lower()) not in added):
                found.append(f"{change.where}: drops column {change.table}.{change.column}, which "
                             f"{self.deploy.source} does not add")
        return found


def _same_target(change: Change, wanted: object) -> bool:
    if isinstance(wanted, Dropped) and isinstance(change, Dropped):
        if change.kind != wanted.kind:
            return False
        if wanted.kind != "index":
            return _lower(change.name) == _lower(wanted.name)
        same_table = change.table is None or wanted.table is None or _lower(change.table) == _lower(wanted.table)
        return change.name.lower() == wanted.name.lower() and same_table
    if isinstance(wanted, ColumnDropped) and isinstance(change, ColumnDropped):
        return _lower(change.table) == _lower(wanted.table) and change.column.lower() == wanted.column.lower()
    if isinstance(wanted, ConstraintDropped) and isinstance(change, ConstraintDropped):
        return _lower(change.table) == _lower(wanted.table) and change.name.lower() == wanted.name.lower()
    return False
