"""What SQL Server checks when a batch compiles, before any statement of it runs.

SQL Server compiles a whole batch first. A statement that reads or writes a table that exists then
has its column names resolved against that table as it is before the batch runs: a column that an
`ALTER TABLE ... ADD` earlier in the same batch would add is not there yet, and the batch fails with
Msg 207 ("Invalid column name 'x'.") before its first statement runs. A table that does not exist
yet is left alone (deferred name resolution): its statement is resolved when it runs. Some syntax
errors only show in a statement's tree: a comparison in a select list (`SELECT 1 > 0`; T-SQL has no
boolean values) is Msg 102 or 156 like any other syntax error.

The checks here are pure: the engine passes a lookup of the tables as they are when the batch
compiles (`TableColumns`), and the static subset check runs the syntax part without one. Only DML
(SELECT, INSERT, UPDATE, DELETE, and the queries inside conditions and assignments) is resolved, as
SQL Server resolves DML; DDL statements check their names when they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlglot import exp

from .parser import (
    CreateProcedure,
    Declare,
    DeclareTable,
    If,
    Print,
    Return,
    SetVariable,
    Sql,
    Statement,
    Use,
    While,
    child_statements,
)
from .translate import NotInSubset, SyntaxProblem, parse_expression, parse_statement

#: a table name as written (bare, or dbo.x) -> {lower-case column: type} of a table existing when the batch
#: compiles; None for anything else (no such table yet, a view, a #temp table): those are deferred
TableColumns = Callable[[str], dict[str, str] | None]


@dataclass
class CompileError(Exception):
    """A batch that SQL Server would not compile: its error number, message and line in the batch."""

    number: int
    message: str
    line: int

    def __str__(self) -> str:
        return self.message


#: the statements whose names SQL Server resolves when the batch compiles (DML), and how they begin
_DML = exp.Select | exp.SetOperation | exp.Insert | exp.Update | exp.Delete
_DML_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|\()", re.IGNORECASE)

#: predicates: T-SQL has no boolean values, so one standing where a value must is a syntax error.
#: (class, the token SQL Server names, whether it is a keyword: Msg 156 rather than 102)
_PREDICATES: list[tuple[type[exp.Expression], str, bool]] = [
    (exp.GTE, ">=", False), (exp.LTE, "<=", False), (exp.GT, ">", False), (exp.LT, "<", False),
    (exp.NEQ, "<>", False), (exp.EQ, "=", False), (exp.And, "AND", True), (exp.Or, "OR", True),
    (exp.Is, "IS", True), (exp.Like, "LIKE", True), (exp.In, "IN", True), (exp.Between, "BETWEEN", True),
    (exp.Not, "NOT", True), (exp.Exists, "EXISTS", True),
]


class Refused(Exception):
    """A construct the sandbox refuses before the batch runs (its name, and its line in the batch)."""

    def __init__(self, construct: str, line: int) -> None:
        super().__init__(construct)
        self.construct = construct
        self.line = line


def use_refusal(database: str, sandbox: str) -> str | None:
    """Why `USE database` is refused by a sandbox that is the database `sandbox`; None when it is accepted."""
    if database.lower() == sandbox.lower():
        return None
    return (f"USE {database} (the sandbox holds one database, {sandbox}; to rehearse scripts written for "
            f"{database} on a sandbox of that name, use --opus-database {database} with pytest or --database "
            f"{database} with opus-sql; scripts for another database run against SQL Server)")


def check_batch(statements: list[Statement], tables: TableColumns | None,
                parse: Callable[[str], exp.Expression] = parse_statement,
                parse_value: Callable[[str], exp.Expression] = parse_expression, *,
                database: str | None = None) -> None:
    """Raise CompileError for the first problem SQL Server's compilation of the batch would find, and
    Refused for a `USE` of another database than `database` (when given). The trees `parse` and
    `parse_value` give are only read (the engine passes its cached trees).

    With `tables` None only the syntax checks run (the static subset check has no database)."""
    for statement in statements:
        _check_use(statement, database, inside_procedure=False)
    _check_declarations(statements, {})
    for statement in statements:
        for line, text, tree, kind in _trees(statement, parse, parse_value):
            if kind == "value":  # the value of a DECLARE, SET, PRINT or RETURN
                _no_predicate(tree, line)
            _check_values(tree, line)
            if tables is not None:
                try:
                    _check_columns(tree, tables)
                except _Invalid as invalid:
                    raise CompileError(207, f"Invalid column name '{invalid.name}'.",
                                       line_of(text, invalid.name, line)) from None


def _trees(statement: Statement, parse: Callable[[str], exp.Expression],
           parse_value: Callable[[str], exp.Expression]) -> Iterator[tuple[int, str, exp.Expression, str]]:
    """(line in the batch, text, tree, kind: dml | value | condition) of every DML statement and expression
    the batch compiles, in order. Statements outside the subset are skipped here: the engine refuses
    them with their own message."""
    def expression(text: str | None) -> exp.Expression | None:
        if not text:
            return None
        try:
            return parse_value(text)
        except (SyntaxProblem, NotInSubset):
            return None

    tree: exp.Expression | None
    if isinstance(statement, Sql) and _DML_START.match(statement.text):
        try:
            tree = parse(statement.text)
        except (SyntaxProblem, NotInSubset):
            return
        if isinstance(tree, _DML) and not (isinstance(tree, exp.Select) and tree.args.get("into")):
            yield statement.line, statement.text, tree, "dml"
    elif isinstance(statement, Declare):
        for _name, _type, text in statement.items:
            tree = expression(text)
            if tree is not None:
                yield statement.line, text or "", tree, "value"
    elif isinstance(statement, SetVariable | Print | Return):
        tree = expression(statement.expression)
        if tree is not None:
            yield statement.line, statement.expression or "", tree, "value"
    elif isinstance(statement, If | While):
        tree = expression(statement.condition)
        if tree is not None:  # a condition is a predicate: only the queries inside it are checked
            yield statement.line, statement.condition, tree, "condition"
    for inner in child_statements(statement):
        yield from _trees(inner, parse, parse_value)


def _check_use(statement: Statement, database: str | None, *, inside_procedure: bool) -> None:
    if isinstance(statement, Use):
        if inside_procedure:
            raise CompileError(154, "a USE database statement is not allowed in a procedure, function or trigger.",
                               statement.line)
        refusal = use_refusal(statement.database, database) if database is not None else None
        if refusal is not None:
            raise Refused(refusal, statement.line)
    for inner in child_statements(statement):
        _check_use(inner, database, inside_procedure=inside_procedure or isinstance(statement, CreateProcedure))


def _check_declarations(statements: list[Statement], declared: dict[str, int]) -> None:
    """Msg 134: a variable (or table variable) declared twice in one batch or procedure body, wherever
    the two DECLAREs stand (a DECLARE is not a statement that runs: a loop repeating one is no error)."""
    for statement in statements:
        if isinstance(statement, CreateProcedure):  # a procedure's body is a scope of its own
            _check_declarations(statement.body, {})
            continue
        names = ([name for name, _type, _value in statement.items] if isinstance(statement, Declare)
                 else [statement.name] if isinstance(statement, DeclareTable) else [])
        for name in names:
            if name.lower() in declared:
                raise CompileError(134, f"The variable name '{name}' has already been declared. Variable names "
                                   "must be unique within a query batch or stored procedure.", statement.line)
            declared[name.lower()] = statement.line
        _check_declarations(child_statements(statement), declared)


# -- values where T-SQL takes no predicate -----------------------------------------------------------------
#: the most rows `INSERT ... VALUES` may list ("Table Value Constructor": more is error 10738; a derived table
#: `FROM (VALUES ...)` has no such limit)
MAX_INSERTED_ROWS = 1000


def _check_values(tree: exp.Expression, line: int) -> None:
    """A comparison or other predicate used as a value: in a select list, a SET or a PRINT; a table value
    constructor whose rows differ in width; an INSERT listing more rows than SQL Server takes."""
    for constructor in tree.find_all(exp.Values):
        widths = {len(row.expressions) if isinstance(row, exp.Tuple) else 1 for row in constructor.expressions}
        if len(widths) > 1:
            raise CompileError(10709, "The number of columns for each row in a table value constructor must be "
                               "the same.", line)
    for insert in tree.find_all(exp.Insert):
        values = insert.expression
        if isinstance(values, exp.Values) and len(values.expressions) > MAX_INSERTED_ROWS:
            raise CompileError(10738, "The number of row value expressions in the INSERT statement exceeds the "
                               f"maximum allowed number of {MAX_INSERTED_ROWS} row values.", line)
    for select in tree.find_all(exp.Select):
        if not (select.args.get("from_") or select.args.get("from")) and any(
                isinstance(p, exp.Star) for p in select.expressions):
            raise CompileError(263, "Must specify table to select from.", line)
        for projection in select.expressions:
            value = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(value, exp.EQ) and _is_variable(value.this):
                value = value.expression  # SELECT @a = expr: an assignment
            _no_predicate(value, line)
    for node in tree.find_all(exp.Update):
        for assignment in node.expressions:
            if isinstance(assignment, exp.EQ):
                _no_predicate(assignment.expression, line)


def _no_predicate(value: exp.Expression, line: int) -> None:
    while isinstance(value, exp.Paren):
        value = value.this
    for cls, token, keyword in _PREDICATES:
        if isinstance(value, cls):
            if keyword:
                raise CompileError(156, f"Incorrect syntax near the keyword '{token}'.", line)
            raise CompileError(102, f"Incorrect syntax near '{token}'.", line)


def _is_variable(node: exp.Expression) -> bool:
    return isinstance(node, exp.Parameter) and not isinstance(node.this, exp.Parameter)


# -- column names of existing tables ---------------------------------------------------------------------
class _Invalid(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _check_columns(tree: exp.Expression, tables: TableColumns) -> None:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: dict[str, dict[str, str] | None] = {}  # alias or name -> columns of an existing table
    certain = True  # every source of the statement is an existing table whose columns are known
    for table in tree.find_all(exp.Table):
        columns = _existing(table, ctes, tables)
        if columns is None:
            certain = False
        for key in {table.name.lower(), table.alias.lower()} - {""}:
            # a name that stands for two different sources (an alias reused in a subquery) is not checked
            found[key] = columns if found.get(key, columns) is columns else None
    known = {key: columns for key, columns in found.items() if columns is not None}
    if any(isinstance(n, exp.Subquery | exp.Values | exp.Unnest | exp.Lateral) and _is_source(n)
           for n in tree.find_all(exp.Subquery, exp.Values, exp.Unnest, exp.Lateral)):
        certain = False
    if not known:
        return
    aliases = {p.alias.lower() for s in tree.find_all(exp.Select) for p in s.expressions
               if isinstance(p, exp.Alias) and p.alias}
    if isinstance(tree, exp.Insert) and isinstance(tree.this, exp.Schema):
        target = tree.this.this
        columns = known.get(target.name.lower()) if isinstance(target, exp.Table) else None
        if columns is not None and _existing(target, ctes, tables) is not None:
            for identifier in tree.this.expressions:
                if identifier.name.lower() not in columns:
                    raise _Invalid(identifier.name)
    every = set().union(*known.values())
    for column in tree.find_all(exp.Column):
        name = column.name
        if not name or isinstance(column.this, exp.Star):
            continue
        qualifier = column.table.lower() if column.table else ""
        if qualifier:
            columns = known.get(qualifier)
            if columns is not None and name.lower() not in columns and not column.args.get("db"):
                raise _Invalid(name)
        elif certain and name.lower() not in every and name.lower() not in aliases:
            raise _Invalid(name)


def _existing(table: exp.Table, ctes: set[str], tables: TableColumns) -> dict[str, str] | None:
    if not isinstance(table.this, exp.Identifier) or table.this.args.get("temporary"):
        return None  # a table variable or a #temp table
    if table.args.get("catalog") is not None:
        return None
    schema = table.args.get("db")
    if schema is not None and schema.name.lower() != "dbo":
        return None  # a catalog view
    if schema is None and table.name.lower() in ctes:
        return None
    return tables(table.name)


def _is_source(node: exp.Expression) -> bool:
    """Whether a subquery or VALUES stands as a table (FROM, JOIN), not as a value."""
    parent = node.parent
    if isinstance(parent, exp.From | exp.Join):
        return True
    return isinstance(node, exp.Values) and not isinstance(parent, exp.Insert)


_WORD = re.compile(r"[\w@#$]+|\[(?:[^\]]|\]\])*\]")


def line_of(text: str, name: str, first_line: int) -> int:
    """The line (counted from `first_line`, the statement's) where `name` first stands as a whole word
    in a statement's text; the statement's own line when it cannot be found."""
    wanted = name.lower()
    for m in _WORD.finditer(text):
        word = m.group(0)
        if word.startswith("["):
            word = word[1:-1].replace("]]", "]")
        if word.lower() == wanted:
            return first_line + text.count("\n", 0, m.start())
    return first_line
