"""T-SQL DDL trees (from sqlglot) turned into the sandbox's table models and index statements.

Pure functions: no database access, so the same code serves execution and the static subset check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from . import dialect
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
    return text.lower()


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


def column_model(definition: exp.ColumnDef) -> ColumnModel:
    ttype = tsql_type(definition.args.get("kind"))
    base = dialect.parse_type(ttype)[0]
    col = ColumnModel(definition.name, dialect.storage_type(ttype), ttype,
                      nocase=base in dialect.CHARACTER_TYPES - {"binary", "varbinary"})
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
        else:
            raise NotInSubset(f"column constraint {constraint.sql(dialect='tsql')}")
    if col.identity and col.pk_name is None:
        raise NotInSubset("IDENTITY on a column that is not the PRIMARY KEY")
    if col.pk_name is not None and not col.identity:
        col.not_null = True
    if col.pk_name == "":
        col.pk_name = None if not col.identity else ""
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
            model.columns.append(column_model(item))
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

    kind: str  # add | drop-column | drop-constraint | alter-column
    name: str  # the column, or the constraint
    column: ColumnModel | None = None  # add: the new column
    if_exists: bool = False  # drop-*
    new_type: str = ""  # alter-column
    not_null: bool = False  # alter-column


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
    select = rewrite(create.expression, None)
    if select.runtime_values:  # answered when a statement runs, so a stored view cannot hold them
        raise NotInSubset(f"{select.runtime_values[0]} in a view")
    if select.unchecked:  # SQLite stores the view's SQL: no check can wait for the operands' types
        raise NotInSubset(f"{select.unchecked[0]} in a view on a value whose type the sandbox cannot tell "
                          "(CAST the operands to their types)")
    columns = tuple(c.name for c in target.expressions) if isinstance(target, exp.Schema) else ()
    return ViewDefinition(name, columns, select)
