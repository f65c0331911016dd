"""T-SQL DDL trees (from sqlglot) turned into the sandbox's table models and index statements.

Pure functions: no database access, so the same code serves execution and the static subset check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from . import dialect
from .parser import tokenize
from .sqlite_schema import ColumnModel, TableModel, quote
from .translate import NotInSubset, SyntaxProblem, Translated, rewrite, table_name


def object_name(table: exp.Expression) -> str:
    if not isinstance(table, exp.Table):
        raise SyntaxProblem("expected an object name")
    if isinstance(table.this, exp.Identifier) and table.this.args.get("temporary"):
        return "#" + table.name
    schema, name = table_name(table)
    if schema is not None and schema.lower() != "dbo":
        raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
    if table.args.get("catalog") is not None:
        raise NotInSubset("three-part names (database.schema.object)")
    return name


def tsql_type(kind: exp.DataType | None) -> str:
    if kind is None:
        raise SyntaxProblem("column without a type")
    text = kind.sql(dialect="tsql").replace(" ", "")
    name = dialect.parse_type(text)[0]
    if name not in dialect.SUPPORTED_TYPES:
        raise NotInSubset(f"type {text}")
    if text.lower() == "sysname":
        return SYSNAME
    return text.lower()


#: what a sysname column is: nvarchar(128), NOT NULL unless declared NULL
SYSNAME = "nvarchar(128)"


def default_sql(expression: exp.Expression) -> str:
    """A T-SQL default expression -> the SQLite default text (constant, or a mapped function)."""
    node = expression
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return exp.Literal.string(node.this).sql(dialect="sqlite") if node.is_string else str(node.this)
    if isinstance(node, exp.National):
        return exp.Literal.string(node.this).sql(dialect="sqlite")
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return f"-{node.this.this}"
    if isinstance(node, exp.Null):
        return "NULL"
    name = None
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
    elif isinstance(node, exp.CurrentTimestamp):
        name = "getdate"
    elif isinstance(node, exp.Uuid):
        name = "newid"
    if name == "getdate":
        return f"({dialect.DEFAULT_FUNCTIONS['getdate']})"
    if name in dialect.DEFAULT_FUNCTIONS:
        return f"({dialect.DEFAULT_FUNCTIONS[name]})"
    raise NotInSubset(f"default {expression.sql(dialect='tsql')}")


def column_model(definition: exp.ColumnDef, *, table_keys: bool = False) -> ColumnModel:
    """One column's model. An IDENTITY column must be the PRIMARY KEY (SQLite's AUTOINCREMENT is its rowid): in
    CREATE TABLE (`table_keys`) a table-level PRIMARY KEY may make it so, which table_model checks."""
    ttype = tsql_type(definition.args.get("kind"))
    base = dialect.parse_type(ttype)[0]
    col = ColumnModel(definition.name, dialect.storage_type(ttype), ttype,
                      nocase=base in dialect.CHARACTER_TYPES - {"binary", "varbinary"})
    kind_node = definition.args.get("kind")
    col.not_null = isinstance(kind_node, exp.DataType) and kind_node.sql(dialect="tsql").lower() == "sysname"
    for constraint in definition.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        cname = constraint.name or None
        if isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            start = kind.args.get("start")
            increment = kind.args.get("increment")
            if (start is not None and start.name != "1") or (increment is not None and increment.name != "1"):
                raise NotInSubset("IDENTITY with a seed or increment other than (1,1)")
            if base not in ("int", "bigint"):
                raise NotInSubset(f"IDENTITY on a {base} column")
            col.identity = True
        elif isinstance(kind, exp.NotNullColumnConstraint):
            col.not_null = not kind.args.get("allow_null")
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            col.pk_name = cname or ""
        elif isinstance(kind, exp.DefaultColumnConstraint):
            col.default = default_sql(kind.this)
            col.default_name = cname
        elif isinstance(kind, exp.CheckColumnConstraint):
            col.checks.append((cname, _check_sql(kind.this)))
        elif isinstance(kind, exp.UniqueColumnConstraint):
            col.unique = True
            col.unique_name = cname  # table_model keeps a named key as a table constraint (its name survives)
        else:
            raise NotInSubset(f"column constraint {constraint.sql(dialect='tsql')}")
    if col.identity and col.pk_name is None and not table_keys:
        raise NotInSubset("IDENTITY on a column that is not the PRIMARY KEY")
    if col.pk_name is not None and not col.identity:
        col.not_null = True  # a key column of another kind: table_model makes it the table's primary key
    return col


def table_model(create: exp.Create) -> TableModel:
    schema = create.this
    if not isinstance(schema, exp.Schema):
        raise NotInSubset("CREATE TABLE without a column list")
    model = TableModel(object_name(schema.this), [])
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            if model.column(item.name) is not None:
                raise SyntaxProblem(f"column name '{item.name}' is specified more than once")
            defined = column_model(item, table_keys=True)
            if defined.pk_name is not None and not defined.identity:  # `id INT PRIMARY KEY`: the table's key
                if model.primary_key is not None:
                    raise SyntaxProblem(f"cannot add multiple PRIMARY KEY constraints to table '{model.name}'")
                model.primary_key = (defined.pk_name or None, (defined.name,))
                defined.pk_name = None
            if defined.unique and defined.unique_name:
                model.uniques.append((defined.unique_name, (defined.name,)))
                defined.unique, defined.unique_name = False, None
            model.columns.append(defined)
            continue
        name = None
        inner: exp.Expression = item
        if isinstance(item, exp.Constraint):
            name = item.name
            if len(item.expressions) != 1:
                raise NotInSubset(f"table constraint {item.sql(dialect='tsql')}")
            inner = item.expressions[0]
        if isinstance(inner, exp.PrimaryKey):
            cols = tuple(_column_names(inner.expressions))
            target = model.column(cols[0]) if len(cols) == 1 else None
            if target is not None and target.identity:
                target.pk_name = name
            else:
                model.primary_key = (name, cols)
                for c in cols:
                    col = model.column(c)
                    if col is not None:
                        col.not_null = True
        elif isinstance(inner, exp.CheckColumnConstraint):
            model.checks.append((name, _check_sql(inner.this)))
        elif isinstance(inner, exp.UniqueColumnConstraint):
            cols = tuple(_column_names(inner.this.expressions if isinstance(inner.this, exp.Schema) else []))
            model.uniques.append((name, cols))
        else:
            raise NotInSubset(f"table constraint {item.sql(dialect='tsql')}")
    identities = [c for c in model.columns if c.identity]
    if len(identities) > 1:
        raise SyntaxProblem("multiple identity columns specified for the table")
    if identities and model.primary_key is not None:
        raise NotInSubset("an IDENTITY column that is not the table's only PRIMARY KEY column")
    if any(c.pk_name is None for c in identities):  # not the key by a column or a table PRIMARY KEY
        raise NotInSubset("IDENTITY on a column that is not the PRIMARY KEY")
    for col in identities:
        if col.pk_name == "":
            col.pk_name = None
    return model


def _column_names(expressions: list[exp.Expression]) -> list[str]:
    names = []
    for e in expressions:
        while isinstance(e, exp.Ordered):
            e = e.this
        names.append(e.name)
    return names


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool

    def sql(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        cols = ", ".join(quote(c) for c in self.columns)
        return f"CREATE {unique}INDEX {quote(self.name)} ON {quote(self.table)} ({cols})"


def index_spec(create: exp.Create) -> IndexSpec:
    index = create.this
    if not isinstance(index, exp.Index):
        raise SyntaxProblem("CREATE INDEX without an index")
    params = index.args.get("params")
    if params is not None and (params.args.get("include") or params.args.get("where")):
        raise NotInSubset("INCLUDE columns or filtered indexes")
    columns = params.args.get("columns") if params is not None else None
    if not columns:
        raise SyntaxProblem("CREATE INDEX needs a column list")
    table = index.args.get("table")
    if table is None:
        raise SyntaxProblem("CREATE INDEX needs ON table")
    return IndexSpec(index.name, object_name(table), tuple(_column_names(columns)),
                     bool(create.args.get("unique")))


def declared_type(text: str) -> str:
    """A variable's or parameter's declared type, checked against the subset."""
    name = dialect.parse_type(text)[0]
    if name not in dialect.SUPPORTED_TYPES:
        raise NotInSubset(f"type {text}")
    return text


def drop_targets(drop: exp.Drop) -> list[exp.Expression]:
    """What a DROP names; never empty (an empty list would make the statement a silent no-op)."""
    targets = [t for t in (drop.args.get("tables") or drop.expressions or [drop.this]) if t is not None]
    if not targets:
        raise SyntaxProblem("DROP without an object name")
    return targets


@dataclass(frozen=True)
class DropPlan:
    kind: str  # TABLE | VIEW | PROCEDURE
    names: list[str]
    if_exists: bool


def drop_plan(drop: exp.Drop) -> DropPlan:
    kind = str(drop.args.get("kind") or "").upper()
    kind = "PROCEDURE" if kind == "PROC" else kind
    if kind not in ("TABLE", "VIEW", "PROCEDURE"):
        raise NotInSubset(f"DROP {kind}")
    return DropPlan(kind, [object_name(t) for t in drop_targets(drop)], bool(drop.args.get("exists")))


@dataclass(frozen=True)
class TableAction:
    """One action of an ALTER TABLE."""

    #: add | drop-column | drop-constraint | alter-column | add-primary-key | add-unique | add-check | add-default
    kind: str
    name: str  # the column, or the constraint (add-default: the column)
    column: ColumnModel | None = None  # add: the new column
    if_exists: bool = False  # drop-*
    new_type: str = ""  # alter-column
    not_null: bool = False  # alter-column
    columns: tuple[str, ...] = ()  # add-primary-key, add-unique: the key's columns
    expression: str = ""  # add-check: the condition; add-default: the default, both in SQLite's terms
    constraint: str | None = None  # add-default: the constraint's name (None: SQL Server names it)


@dataclass(frozen=True)
class AlterTable:
    table: str
    actions: list[TableAction] = field(default_factory=list)


def alter_table(alter: exp.Alter) -> AlterTable:
    """The actions of an ALTER TABLE, checked against the subset."""
    if str(alter.args.get("kind") or "").upper() != "TABLE":
        raise NotInSubset(f"ALTER {alter.args.get('kind')}")
    plan = AlterTable(object_name(alter.this))
    for action in alter.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):
            col = column_model(action)
            if col.identity or col.pk_name is not None or col.unique:
                raise NotInSubset("adding an IDENTITY, PRIMARY KEY or UNIQUE column")
            plan.actions.append(TableAction("add", col.name, column=col))
        elif isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() in ("COLUMN", "CONSTRAINT"):
            kind = "drop-" + str(action.args.get("kind")).lower()
            plan.actions.extend(TableAction(kind, t.name, if_exists=bool(action.args.get("exists")))
                                for t in drop_targets(action))
        elif isinstance(action, exp.AddConstraint):
            plan.actions.extend(_added_constraint(item) for item in action.expressions)
        elif isinstance(action, exp.AlterColumn):
            dtype = action.args.get("dtype")
            if dtype is None or action.args.get("default") is not None:
                raise NotInSubset(f"ALTER COLUMN {action.sql(dialect='tsql')}")
            # without NULL / NOT NULL the column becomes nullable (SQL Server's ANSI_NULL_DFLT_ON default)
            plan.actions.append(TableAction("alter-column", action.name, new_type=tsql_type(dtype),
                                            not_null=action.args.get("allow_null") is False))
        else:
            raise NotInSubset(f"ALTER TABLE {action.sql(dialect='tsql')}")
    if not plan.actions:
        raise SyntaxProblem("ALTER TABLE without an action")
    return plan


def _added_constraint(item: exp.Expression) -> TableAction:
    """`ADD [CONSTRAINT name] PRIMARY KEY (cols) | UNIQUE (cols) | CHECK (condition)` of an ALTER TABLE."""
    name = ""
    inner = item
    if isinstance(item, exp.Constraint):
        name = item.name
        if len(item.expressions) != 1:
            raise NotInSubset(f"ALTER TABLE ADD {item.sql(dialect='tsql')}")
        inner = item.expressions[0]
    if isinstance(inner, exp.PrimaryKey):
        return TableAction("add-primary-key", name, columns=tuple(_column_names(inner.expressions)))
    if isinstance(inner, exp.UniqueColumnConstraint) and isinstance(inner.this, exp.Schema):
        return TableAction("add-unique", name, columns=tuple(_column_names(inner.this.expressions)))
    if isinstance(inner, exp.CheckColumnConstraint):
        return TableAction("add-check", name, expression=_check_sql(inner.this))
    raise NotInSubset(f"ALTER TABLE ADD {item.sql(dialect='tsql')}")


_ADD_DEFAULT = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?P<table>(?:(?:\[[^\]]+\]|\w+)\s*\.\s*)?(?:\[[^\]]+\]|\w+))\s+ADD\s+"
    r"(?:CONSTRAINT\s+(?P<name>\[[^\]]+\]|\w+)\s+)?DEFAULT\s+(?P<expression>.+?)\s+FOR\s+"
    r"(?P<column>\[[^\]]+\]|\w+)\s*(?P<values>WITH\s+VALUES\s*)?;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def add_default(text: str, parse: Callable[[str], exp.Expression]) -> AlterTable | None:
    """`ALTER TABLE t ADD [CONSTRAINT name] DEFAULT expr FOR column` (sqlglot reads it as an opaque
    command); None for any other statement."""
    m = _ADD_DEFAULT.match(text)
    if m is None:
        return None
    if m.group("values"):
        raise NotInSubset("ADD DEFAULT ... WITH VALUES")
    table = parse(f"SELECT 1 FROM {m.group('table')}").find(exp.Table)
    assert table is not None
    expression = parse(f"SELECT {m.group('expression')}")
    assert isinstance(expression, exp.Select)
    constraint = _unquoted(m.group("name")) if m.group("name") else None
    action = TableAction("add-default", _unquoted(m.group("column")), expression=default_sql(expression.expressions[0]),
                         constraint=constraint)
    return AlterTable(object_name(table), [action])


def _check_sql(condition: exp.Expression) -> str:
    """A CHECK constraint's condition in SQLite terms. SQLite stores it and the catalog reports it
    back, so it cannot carry SQL Server's arithmetic checks (arithmetic.py): such a CHECK is refused."""
    translated = rewrite(condition, None)
    needing = translated.checked + translated.unchecked
    if needing:
        raise NotInSubset(f"{needing[0]} in a CHECK constraint")
    return translated.sql


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    columns: tuple[str, ...]  # an explicit column list, if the view has one
    select: Translated  # the SELECT in SQLite's terms


def view_definition(create: exp.Create) -> ViewDefinition:
    target = create.this
    name = object_name(target.this if isinstance(target, exp.Schema) else target)
    if create.expression is None:
        raise SyntaxProblem("CREATE VIEW needs AS SELECT ...")
    _no_collated_functions(create.expression)
    select = rewrite(create.expression, None)
    if select.runtime_values:  # answered when a statement runs, so a stored view cannot hold them
        raise NotInSubset(f"{select.runtime_values[0]} in a view")
    if select.unchecked:  # SQLite stores the view's SQL: no check can wait for the operands' types
        raise NotInSubset(f"{select.unchecked[0]} in a view on a value whose type the sandbox cannot tell "
                          "(CAST the operands to their types)")
    columns = tuple(c.name for c in target.expressions) if isinstance(target, exp.Schema) else ()
    return ViewDefinition(name, columns, select)


#: the string functions whose answer follows the collation or Unicode (translate._COLLATED_FUNCTIONS)
_COLLATED = {exp.Upper: "UPPER", exp.Lower: "LOWER", exp.StrPosition: "CHARINDEX", exp.Replace: "REPLACE"}
_BINARY_SUFFIXES = ("_bin", "_bin2", "_cs_as")


def _no_collated_functions(select: exp.Expression) -> None:
    """A view is stored as SQLite's own SQL, where UPPER and LOWER change ASCII letters only and CHARINDEX
    and REPLACE search case-sensitively: refused in a view, unless a binary or _CS_ COLLATE on an argument
    of CHARINDEX/REPLACE asks for the case-sensitive search SQLite does."""
    for node in select.find_all(*_COLLATED):
        name = _COLLATED[type(node)]
        if name in ("CHARINDEX", "REPLACE") and any(
                isinstance(a, exp.Collate) and a.expression.name.lower().endswith(_BINARY_SUFFIXES)
                for a in node.args.values() if isinstance(a, exp.Expression)):
            continue
        raise NotInSubset(f"{name} in a view (the view is stored as SQLite's SQL, whose {name} "
                          f"{'changes ASCII letters only' if name in ('UPPER', 'LOWER') else 'is case-sensitive'}; "
                          f"apply {name} in the query that reads the view)")


# -- options SQL Server stores and the sandbox has no use for -------------------------------------------------
#: index options (`WITH (...)` after a key or index) that change how SQL Server stores or builds an index,
#: never what a statement returns: accepted and left out. A value in the set is the one value accepted.
HARMLESS_INDEX_OPTIONS: dict[str, set[str] | None] = {
    "PAD_INDEX": None, "FILLFACTOR": None, "STATISTICS_NORECOMPUTE": None, "SORT_IN_TEMPDB": None,
    "ONLINE": None, "ALLOW_ROW_LOCKS": None, "ALLOW_PAGE_LOCKS": None, "OPTIMIZE_FOR_SEQUENTIAL_KEY": None,
    "DATA_COMPRESSION": None, "MAXDOP": None, "STATISTICS_INCREMENTAL": None,
    "IGNORE_DUP_KEY": {"OFF"},  # ON turns duplicate-key errors into a warning
    "DROP_EXISTING": {"OFF"},  # ON replaces an existing index
}
#: the filegroups a script may name: the default one, where the sandbox keeps everything
_DEFAULT_FILEGROUPS = {"PRIMARY", "DEFAULT"}


@dataclass(frozen=True)
class InlineIndex:
    """`INDEX name [UNIQUE] [NONCLUSTERED] (columns)` inside CREATE TABLE (or after a column's type)."""

    name: str
    columns: tuple[str, ...]
    unique: bool


def _unquoted(text: str) -> str:
    if text[:1] in "[\"" and len(text) > 1:
        return text[1:-1].replace("]]", "]") if text[0] == "[" else text[1:-1].replace('""', '"')
    return text


def storage_options(text: str) -> tuple[str, list[InlineIndex]]:
    """CREATE TABLE / ALTER TABLE / CREATE INDEX text without what only tells SQL Server how to store
    it (the default filegroup, harmless index options, CLUSTERED on a primary key, NONCLUSTERED on a
    unique key or index), and the inline indexes of a CREATE TABLE taken out of it.

    What would change a result is refused by name: another filegroup or a partition scheme, an index
    option outside HARMLESS_INDEX_OPTIONS, a NONCLUSTERED primary key, a CLUSTERED unique key or inline
    index (the sandbox reports every primary key, and only a primary key, as CLUSTERED), INCLUDE
    columns and filtered inline indexes.
    """
    tokens = tokenize(text)
    words = [t.upper for t in tokens[:4]]
    if not words or words[0] not in ("CREATE", "ALTER"):
        return text, []
    creating_table = words[:2] == ["CREATE", "TABLE"]
    cuts: list[tuple[int, int]] = []  # (start, end) character ranges to leave out
    indexes: list[InlineIndex] = []
    depth = 0
    element_start = 0  # index of the first token of the current element of the column list
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        up = tok.upper
        before = tokens[i - 1].upper if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if up == "(":
            depth += 1
            if depth == 1:
                element_start = i + 1
        elif up == ")":
            depth -= 1
        elif up == "," and depth == 1:
            element_start = i + 1
        elif creating_table and depth == 1 and up == "INDEX" and after is not None:
            i = _inline_index(tokens, i, element_start, cuts, indexes)
            continue
        elif up in ("CLUSTERED", "NONCLUSTERED") and before in ("KEY", "UNIQUE"):
            if (before, up) == ("KEY", "NONCLUSTERED"):
                raise NotInSubset("a NONCLUSTERED primary key (the sandbox reports every primary key as CLUSTERED)")
            if (before, up) == ("UNIQUE", "CLUSTERED"):
                raise NotInSubset("a CLUSTERED unique key (the sandbox reports only primary keys as CLUSTERED)")
            cuts.append((tok.start, tok.end))
        elif up == "NONCLUSTERED" and words[0] == "CREATE" and after is not None and after.upper == "INDEX":
            cuts.append((tok.start, tok.end))
        elif up in ("ON", "TEXTIMAGE_ON", "FILESTREAM_ON") and (before == ")" or up != "ON") and after is not None:
            if up == "ON" and after.upper in ("DELETE", "UPDATE"):
                i += 1
                continue
            _filegroup(tokens, i)
            cuts.append((tok.start, after.end))
            i += 2
            continue
        elif up == "WITH" and before == ")" and after is not None and after.text == "(":
            close = _index_options(tokens, i + 1)
            cuts.append((tok.start, tokens[close].end))
            i = close + 1
            continue
        i += 1
    for start, end in sorted(cuts, reverse=True):
        text = text[:start] + " " + text[end:]
    return text, indexes


def _filegroup(tokens: list[Any], at: int) -> None:
    name = tokens[at + 1]
    if at + 2 < len(tokens) and tokens[at + 2].text == "(":
        raise NotInSubset(f"a partition scheme ({tokens[at].text} {name.text}(...))")
    if _unquoted(name.text).upper() not in _DEFAULT_FILEGROUPS:
        raise NotInSubset(f"filegroup {_unquoted(name.text)} ({tokens[at].text} {name.text}; the sandbox has only "
                          "the default filegroup, PRIMARY)")


def _index_options(tokens: list[Any], open_at: int) -> int:
    """Check `(name = value, ...)` from its `(`; the index of its `)`."""
    depth = 0
    option: list[str] = []
    for j in range(open_at, len(tokens)):
        up = tokens[j].upper
        if up == "(":
            depth += 1
            if depth == 1:
                continue
        elif up == ")":
            depth -= 1
        if depth == 0 or (depth == 1 and up == ","):
            if option:
                name = option[0]
                value = option[2] if len(option) > 2 and option[1] == "=" else ""
                allowed = HARMLESS_INDEX_OPTIONS.get(name, set())
                if name not in HARMLESS_INDEX_OPTIONS or (allowed is not None and value not in allowed):
                    raise NotInSubset(f"index option {' '.join(option)}")
            option = []
            if depth == 0:
                return j
            continue
        option.append(tokens[j].upper)
    raise SyntaxProblem("unbalanced parentheses in WITH (...)")


def _inline_index(tokens: list[Any], at: int, element_start: int, cuts: list[tuple[int, int]],
                  indexes: list[InlineIndex]) -> int:
    """An inline INDEX at tokens[at]; notes what to cut and the index; returns where to go on."""
    j = at + 1
    name = _unquoted(tokens[j].text)
    j += 1
    unique = False
    while j < len(tokens) and tokens[j].upper in ("UNIQUE", "CLUSTERED", "NONCLUSTERED"):
        if tokens[j].upper == "CLUSTERED":
            raise NotInSubset(f"a CLUSTERED inline index {name} (the sandbox reports only primary keys as CLUSTERED)")
        unique = unique or tokens[j].upper == "UNIQUE"
        j += 1
    own_element = at == element_start  # `INDEX ix (cols)` as an element; else after a column's type
    columns: list[str] = []
    if own_element:
        if j >= len(tokens) or tokens[j].text != "(":
            raise SyntaxProblem(f"INDEX {name} needs its columns in parentheses")
        depth = 0
        while j < len(tokens):
            up = tokens[j].upper
            if up == "(":
                depth += 1
            elif up == ")":
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and up != "," and up not in ("ASC", "DESC"):
                columns.append(_unquoted(tokens[j].text))
            j += 1
        j += 1
    else:
        columns.append(_unquoted(tokens[element_start].text))
    # what may follow: WITH (...) and ON [PRIMARY] (checked); INCLUDE and WHERE are refused
    while j < len(tokens) and tokens[j].upper in ("WITH", "ON", "INCLUDE", "WHERE"):
        if tokens[j].upper in ("INCLUDE", "WHERE"):
            raise NotInSubset(f"INCLUDE columns or filtered indexes (index {name})")
        if tokens[j].upper == "WITH":
            j = _index_options(tokens, j + 1) + 1
        else:
            _filegroup(tokens, j)
            j += 2
    end = tokens[j - 1].end
    start = tokens[at].start
    if own_element and at > 0 and tokens[at - 1].text == ",":
        start = tokens[at - 1].start  # the element goes with the comma before it
    elif own_element and j < len(tokens) and tokens[j].text == ",":
        end = tokens[j].end  # the first element: the comma after it
        j += 1
    cuts.append((start, end))
    indexes.append(InlineIndex(name, tuple(columns), unique))
    return j
