"""Single T-SQL statements to SQLite: sqlglot parses and transpiles, this module adjusts the tree.

The adjustments are the places where sqlglot's T-SQL to SQLite transpile is not enough for the
sandbox: variables become bound parameters, `dbo.` is dropped (SQLite has one schema), catalog views
become snapshot tables, catalog functions are answered by the runner, functions outside the subset
are refused by name, and arithmetic and CAST/CONVERT go through SQL Server's rules (arithmetic.py)
wherever SQLite's own could give another answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from . import arithmetic, dialect
from .expression_types import (
    COMPARISONS,
    collate_strings,
    concatenates,
    is_variable,
    tsql_type,
    value_bounds,
    variable_name,
)

_MARKER = re.compile(r":opusv_(\w+)")


class SandboxSQLite(SQLite):
    """SQLite as the runner writes it: identifiers in backticks. SQLite takes a double-quoted name
    that matches no column for a string literal, so a misspelt column would silently become text;
    a backticked name is always an identifier, and a wrong one is an error."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"', ("[", "]")]  # noqa: RUF012 - sqlglot's own class attribute style


class NotInSubset(Exception):
    """Raised with the construct's name; the engine turns it into UnsupportedConstruct with a line."""


class SyntaxProblem(Exception):
    """sqlglot could not parse the statement."""


def parse_statement(text: str) -> exp.Expression:
    try:
        parsed = [e for e in sqlglot.parse(text, read="tsql") if e is not None]
    except (ParseError, TokenError) as error:
        raise SyntaxProblem(_first_line(str(error))) from None
    if len(parsed) != 1:
        raise SyntaxProblem("expected one statement (end statements with ';')")
    statement = cast(exp.Expression, parsed[0])
    if isinstance(statement, exp.Command):
        raise NotInSubset(f"{statement.this} statement")
    return statement


def parse_expression(text: str) -> exp.Expression:
    try:
        return cast(exp.Expression, sqlglot.parse_one(text, read="tsql", into=exp.Condition))
    except (ParseError, TokenError):
        try:
            select = sqlglot.parse_one(f"SELECT {text}", read="tsql")
        except (ParseError, TokenError) as error:
            raise SyntaxProblem(_first_line(str(error))) from None
        if not isinstance(select, exp.Select) or len(select.expressions) != 1:
            raise SyntaxProblem(f"not a single expression: {text}") from None
        return select.expressions[0]


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else "syntax error"


@dataclass
class Translated:
    sql: str
    variables: list[str]  # lower-case variable names, in the order of the `?` they became
    catalog_views: set[str] = field(default_factory=set)
    assignments: list[str] = field(default_factory=list)  # SELECT @a = ..., @b = ... targets
    runtime_values: list[str] = field(default_factory=list)  # @@NAME and catalog functions the runner answered
    #: arithmetic and CASTs left to SQLite unchecked: translated without answers, of operands whose
    #: type only the running statement shows (a view refuses them: SQLite stores its SQL)
    unchecked: list[str] = field(default_factory=list)
    #: arithmetic and CASTs written with SQL Server's checks (arithmetic.py)
    checked: list[str] = field(default_factory=list)
    #: the T-SQL type of each value a SELECT assigns (the variable converts it: engine.dml)
    assignment_types: list[str | None] = field(default_factory=list)


@dataclass
class Answers:
    """What the engine supplies while a tree is rewritten (catalog functions, system variables)."""

    system_variable: Callable[[str], Any]
    runner_function: Callable[[str, list[Any]], Any]
    variable_value: Callable[[str], Any]
    variable_type: Callable[[str], str] = lambda name: "sql_variant"
    #: a column name -> its base type when every catalog table that has the column agrees on it
    column_type: Callable[[str], str | None] = lambda name: None
    #: a table name -> (column, SQLite expression) of its columns whose default is the time
    time_defaults: Callable[[str], list[tuple[str, str]]] = lambda table: []
    #: a table name -> {lower-case column name: base type}; None when the catalog has no such table
    table_columns: Callable[[str], dict[str, str] | None] = lambda table: None
    #: whether the connection has the runner's SQLite functions (arithmetic.register); without them
    #: the checks are written in plain SQLite, for operands of known types only
    functions: bool = False


def table_name(table: exp.Table) -> tuple[str | None, str]:
    schema = table.args.get("db")
    return (schema.name if schema is not None else None), table.name


def rewrite(tree: exp.Expression, answers: Answers | None) -> Translated:
    """Rewrite a parsed T-SQL statement or expression in place and render it for SQLite.

    With `answers` None (static checking), catalog functions are left as placeholders.
    """
    catalog_views: set[str] = set()
    assignments: list[str] = []
    runtime_values: list[str] = []
    unchecked: list[str] = []
    checked: list[str] = []
    assignment_types: list[str | None] = []

    if isinstance(tree, exp.Select):
        for i, projection in enumerate(tree.expressions):
            if isinstance(projection, exp.EQ) and is_variable(projection.this):
                assignments.append(variable_name(projection.this))
                assignment_types.append(tsql_type(projection.expression, answers))
                tree.expressions[i] = projection.expression
        if assignments and len(assignments) != len(tree.expressions):
            raise SyntaxProblem("a SELECT that assigns variables cannot also return columns")

    def visit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Add) and concatenates(node, answers):
            # T-SQL's + on strings concatenates; in SQLite + is always arithmetic
            left = node.this.transform(visit, copy=False)
            right = node.expression.transform(visit, copy=False)
            return exp.DPipe(this=left, expression=right, safe=False)
        operator = _OPERATORS.get(type(node))
        if operator is not None:
            return _arithmetic(operator, node, visit, answers, unchecked, checked)
        if isinstance(node, exp.Sum | exp.Avg) and not isinstance(node.parent, exp.Window):
            return _aggregate(node, visit, answers)
        if isinstance(node, exp.Concat):
            # CONCAT treats NULL as an empty string (and SQLite before 3.44 has no concat())
            parts = [exp.Coalesce(this=e.transform(visit, copy=False), expressions=[exp.Literal.string("")])
                     for e in node.expressions]
            joined: exp.Expression = parts[0]
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=False)
            return exp.Paren(this=joined)
        if isinstance(node, COMPARISONS | exp.In | exp.Between) or (isinstance(node, exp.Case) and node.this):
            collate_strings(node, answers)
            return node  # changed in place, so its operands are still visited
        if isinstance(node, exp.Like) and "[" in _literal_text(node.expression):
            raise NotInSubset("LIKE with a [...] character class (SQLite's LIKE has none)")
        if isinstance(node, exp.Lateral):
            raise NotInSubset("CROSS APPLY / OUTER APPLY")
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and node.this.args.get("for_"):
            return _json_object(node.this, lambda e: e.transform(visit, copy=False))
        if isinstance(node, exp.Collate) and _BINARY_COLLATION.search(node.expression.name):
            # A binary collation compares code points: SQLite's BINARY does the same.
            return exp.Collate(this=node.this.transform(visit, copy=False), expression=exp.var("BINARY"))
        if isinstance(node, exp.Left):  # SQLite has no LEFT()/RIGHT() (LEFT is a join keyword there)
            return exp.Substring(this=node.this.transform(visit, copy=False), start=exp.Literal.number(1),
                                 length=node.expression.transform(visit, copy=False))
        if isinstance(node, exp.Right):
            count = node.expression.transform(visit, copy=False)
            return exp.Substring(this=node.this.transform(visit, copy=False), start=exp.Neg(this=count.copy()),
                                 length=count)
        if isinstance(node, exp.CurrentSchema):  # SCHEMA_NAME()
            return exp.Literal.string("dbo")
        if isinstance(node, exp.National):  # SQLite has no N'...' literals; its strings are Unicode
            return exp.Literal.string(node.this)
        if isinstance(node, exp.Parameter):
            inner = node.this
            if isinstance(inner, exp.Parameter):  # @@NAME
                name = inner.name.upper()
                if name not in dialect.SYSTEM_VARIABLES:
                    raise NotInSubset(f"@@{name}")
                runtime_values.append(f"@@{name}")
                if name == "IDENTITY":  # the last identity value this connection inserted
                    return _sqlite(dialect.FUNCTION_REWRITES["SCOPE_IDENTITY"])
                if answers is None:
                    return exp.Null()
                return _literal(answers.system_variable(name))
            return exp.Placeholder(this=f"opusv_{variable_name(node)}")
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Identifier) and node.this.args.get("temporary"):
                new_temp = exp.Table(this=exp.to_identifier("#" + node.name, quoted=True),
                                     db=exp.to_identifier("temp"))
                if node.alias:
                    new_temp.set("alias", node.args.get("alias"))
                return new_temp
            schema, name = table_name(node)
            if node.args.get("catalog") is not None:
                raise NotInSubset("three-part names (database.schema.object)")
            if schema is None or schema.lower() == "dbo":
                node.set("db", None)
                return node
            qualified = f"{schema.lower()}.{name.lower()}"
            if qualified in dialect.CATALOG_VIEWS:
                catalog_views.add(qualified)
                new = exp.Table(this=exp.to_identifier(snapshot_table(qualified), quoted=True),
                                db=exp.to_identifier("temp"))
                if node.alias:
                    new.set("alias", node.args.get("alias"))
                return new
            raise NotInSubset(f"schema {schema}.{name} (the sandbox has only dbo and the catalog views)")
        if isinstance(node, exp.ObjectId):
            runtime_values.append("OBJECT_ID()")
            return _runner_call("OBJECT_ID", [node.this, node.expression], answers)
        if isinstance(node, exp.CurrentTimestamp):  # GETDATE()
            return _sqlite("strftime('%Y-%m-%d %H:%M:%f','now','localtime')")
        if isinstance(node, exp.Uuid):  # NEWID()
            return _sqlite(dialect.FUNCTION_REWRITES["NEWID"])
        if isinstance(node, exp.Length) and not node.args.get("binary"):
            # T-SQL LEN ignores trailing blanks
            inner = node.this.transform(visit, copy=False)  # replaced nodes' children are not visited
            return exp.Length(this=exp.Anonymous(this="RTRIM", expressions=[inner]))
        if isinstance(node, exp.TryCast) or (isinstance(node, exp.Cast | exp.Convert) and node.args.get("safe")):
            raise NotInSubset("TRY_CAST/TRY_CONVERT (SQLite's CAST never fails, so the result would differ)")
        if isinstance(node, exp.Cast):
            return _cast(node.this, node.to, visit, answers, unchecked, checked)
        if isinstance(node, exp.Convert):  # CONVERT(type, value): a CAST, unless it has a style
            if node.args.get("style") is not None:
                raise NotInSubset("CONVERT with a style argument (use CAST, or format the text yourself)")
            return _cast(node.expression, node.this, visit, answers, unchecked, checked)
        if isinstance(node, exp.CurrentUser):  # SUSER_SNAME(), SUSER_NAME()
            return exp.Literal.string("sandbox")
        if isinstance(node, exp.StrPosition) and node.args.get("position") is not None:
            raise NotInSubset("CHARINDEX with a start position")
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).upper()
            args = list(node.expressions)
            if fname in dialect.RUNNER_FUNCTIONS:
                runtime_values.append(f"{fname}()")
                return _runner_call(fname, args, answers)
            if fname in dialect.FUNCTION_REWRITES:
                template = dialect.FUNCTION_REWRITES[fname]
                rendered = [a.transform(visit, copy=False).sql(dialect=SandboxSQLite, identify=True) for a in args]
                return _sqlite(template.format(*rendered))
            if fname not in dialect.SQLITE_FUNCTIONS:
                raise NotInSubset(f"function {fname}()")
        elif (isinstance(node, exp.Func) and not isinstance(node, exp.Connector | exp.Collate)  # AND/OR are Funcs
              and type(node).__name__ not in dialect.SQLGLOT_FUNCTIONS):
            # sqlglot knows the function, but SQLite has no equivalent with the same meaning
            raise NotInSubset(f"function {_tsql_name(node)}()")
        return node

    if isinstance(tree, exp.Update):
        _update_from(tree)
    if isinstance(tree, exp.Delete) and (tree.args.get("tables") or tree.this.args.get("joins")):
        raise NotInSubset("DELETE with FROM ... JOIN (write DELETE FROM t WHERE EXISTS (...))")
    tree = tree.transform(visit, copy=False)
    if isinstance(tree, exp.Insert) and answers is not None:
        _fill_time_defaults(tree, answers)  # after the rewrite: what it adds is SQLite already
    try:
        sql = tree.sql(dialect=SandboxSQLite, identify=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:  # sqlglot would drop or change something: never run that silently
        raise NotInSubset(_first_line(str(error)).rstrip(".")) from None
    variables: list[str] = []

    def marker(m: re.Match[str]) -> str:
        variables.append(m.group(1))
        return "?"

    sql = _MARKER.sub(marker, sql)
    return Translated(sql, variables, catalog_views, assignments, runtime_values, unchecked, checked,
                      assignment_types)


def _literal_text(node: exp.Expression | None) -> str:
    return str(node.this) if isinstance(node, exp.Literal | exp.National) and isinstance(node.this, str) else ""


def _update_from(update: exp.Update) -> None:
    """T-SQL's `UPDATE a SET ... FROM T AS a JOIN S AS b ON c` -> SQLite's `UPDATE T AS a SET ... FROM S AS b
    WHERE c`. Left as it is, SQLite would read the T in FROM as a second, unrelated copy of the table
    and update every row. Also drops the table from `SET a.col =`, which SQLite does not accept."""
    for assignment in update.expressions:
        if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column):
            assignment.this.set("table", None)
    key = "from_" if "from_" in update.arg_types else "from"
    source = update.args.get(key)
    if source is None or not isinstance(update.this, exp.Table):
        return
    first = source.this
    joins = list(first.args.get("joins") or []) if isinstance(first, exp.Table) else []
    named = [t for t in [first, *(j.this for j in joins)] if isinstance(t, exp.Table)]
    target = update.this.name.lower()
    if not any(t.alias_or_name.lower() == target or t.name.lower() == target for t in named):
        return  # already SQLite's form: UPDATE T SET ... FROM S WHERE ...
    if first.alias_or_name.lower() != target and first.name.lower() != target:
        raise NotInSubset("UPDATE ... FROM that does not name the updated table first")
    new_target = first.copy()
    new_target.set("joins", None)
    update.set("this", new_target)
    if not joins:
        update.set(key, None)
        return
    join, rest = joins[0], joins[1:]
    if join.side or (join.kind and join.kind.upper() != "INNER") or join.args.get("on") is None:
        raise NotInSubset("UPDATE ... FROM with an outer join to the updated table")
    moved = join.this.copy()
    moved.set("joins", [j.copy() for j in rest] or None)
    update.set(key, exp.From(this=moved))
    where = update.args.get("where")
    condition = join.args["on"].copy()
    update.set("where", exp.Where(this=exp.and_(condition, where.this) if where is not None else condition))


def _fill_time_defaults(insert: exp.Insert, answers: Answers) -> None:
    """`INSERT INTO t (cols) SELECT ...` that leaves out a column defaulting to the time (GETDATE()):
    name it, with the same expression in the SELECT. SQL Server evaluates such a default once per
    statement; SQLite would evaluate it per row (about half a microsecond each, for 'localtime'),
    where in a SELECT list it computes the same value once. The rows get the same value either way."""
    schema, select = insert.this, insert.expression
    if not (isinstance(schema, exp.Schema) and isinstance(schema.this, exp.Table) and isinstance(select, exp.Select)):
        return
    if not schema.expressions or schema.this.args.get("db") is not None:  # temp tables live in `temp`
        return
    named = {c.name.lower() for c in schema.expressions}
    for column, expression in answers.time_defaults(schema.this.name):
        if column.lower() not in named:
            schema.append("expressions", exp.to_identifier(column, quoted=True))
            select.append("expressions", _sqlite(expression))


def _tsql_name(node: exp.Expression) -> str:
    return node.sql(dialect="tsql").split("(", 1)[0].strip().upper() or type(node).__name__


_OPERATORS: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def _arithmetic(operator: str, node: exp.Expression, visit: Callable[[exp.Expression], exp.Expression],
                answers: Answers | None, unchecked: list[str], checked: list[str]) -> exp.Expression:
    """`a op b` with SQL Server's result and errors: SQLite's own operator where it cannot differ (+ - *
    on decimals and floats), else the runner's SQLite function, or its plain-SQL form without one."""
    left_type, right_type = tsql_type(node.this, answers), tsql_type(node.expression, answers)
    try:
        needed = arithmetic.needs_check(operator, left_type, right_type, value_bounds(node.this),
                                        value_bounds(node.expression))
    except arithmetic.Ambiguous as refusal:
        raise NotInSubset(refusal.construct) from None
    left = node.this.transform(visit, copy=False)
    right = node.expression.transform(visit, copy=False)
    construct = f"arithmetic ({operator})"
    if needed and answers is not None and answers.functions:
        checked.append(construct)
        return arithmetic.function_operation(operator, left_type, right_type, left, right)
    if needed and (answers is not None or (_known(left_type) and _known(right_type))):
        try:
            plain = arithmetic.plain_operation(operator, left_type, right_type, left, right)
        except arithmetic.Ambiguous as refusal:
            raise NotInSubset(refusal.construct) from None
        checked.append(construct)
        return plain
    if needed:  # translated without answers (a static check, a view): the types show only when it runs
        unchecked.append(construct)
    node.set("this", left)
    node.set("expression", right)
    return node


def _aggregate(node: exp.Sum | exp.Avg, visit: Callable[[exp.Expression], exp.Expression],
               answers: Answers | None) -> exp.Expression:
    """SUM and AVG of integers as SQL Server computes them: an int total out of range is error 8115,
    and AVG of integers is an integer (SQLite's AVG is always a float)."""
    argument = tsql_type(node.this, answers)
    node.set("this", node.this.transform(visit, copy=False))
    if argument not in arithmetic.INTEGERS:
        return node
    if isinstance(node, exp.Avg):
        return exp.Cast(this=node, to=exp.DataType.build("INTEGER"))
    return arithmetic.plain_sum(node, "bigint" if argument == "bigint" else "int")


def _known(type_name: str | None) -> bool:
    return type_name is not None and type_name != arithmetic.BY_VALUE


def _cast(value: exp.Expression, to: exp.DataType, visit: Callable[[exp.Expression], exp.Expression],
          answers: Answers | None, unchecked: list[str], checked: list[str]) -> exp.Expression:
    """CAST to a T-SQL type: SQL Server's conversion (arithmetic.py) where SQLite's CAST could give
    another answer; else SQLite's storage class, plus truncation for char(n)/varchar(n)."""
    target = to.sql(dialect="tsql").replace(" ", "")
    name, length, _precision, _scale = dialect.parse_type(target)
    source = tsql_type(value, answers)
    value = value.transform(visit, copy=False)
    if name in dialect.SUPPORTED_TYPES and arithmetic.conversion_needs_check(source, target):
        if answers is not None or _known(source):
            checked.append(f"CAST to {target}")
        if answers is not None and answers.functions:
            return arithmetic.function_convert(source, target, value)
        if answers is not None or _known(source):
            try:
                return arithmetic.plain_convert(source, target, value)
            except arithmetic.Ambiguous as refusal:
                raise NotInSubset(refusal.construct) from None
        unchecked.append(f"CAST to {target}")
    if name in dialect.INTEGER_TYPES:
        target = "INTEGER"
    elif name in dialect.EXACT_NUMERIC_TYPES or name == "money":
        target = "NUMERIC"
    elif name in ("float", "real"):
        target = "REAL"
    elif name in dialect.SUPPORTED_TYPES:
        target = "TEXT"
    else:
        raise NotInSubset(f"CAST to {to.sql(dialect='tsql')}")
    cast = exp.Cast(this=value, to=exp.DataType.build(target, dialect="sqlite"))
    if name in ("char", "varchar", "nchar", "nvarchar") and length not in (None, -1):
        return exp.Anonymous(this="SUBSTR", expressions=[cast, exp.Literal.number(1), exp.Literal.number(length)])
    return cast


#: T-SQL binary collations (Latin1_General_BIN2, SQL_Latin1_General_CP437_BIN, ...)
_BINARY_COLLATION = re.compile(r"_BIN2?$", re.IGNORECASE)
_FOR_JSON_OPTIONS = {"PATH", "WITHOUT_ARRAY_WRAPPER", "INCLUDE_NULL_VALUES"}
_JSON_OBJECT_KEYS = 63  # SQLite's default limit of 127 function arguments, in key/value pairs


def _json_object(select: exp.Select, visit: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """`(SELECT a AS [k], ... FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)` -> `json_object('k', a, ...)`.

    One object per outer row, NULLs kept, no FROM: the one form of FOR JSON whose meaning SQLite's
    json_object has exactly (keys in order, text as JSON strings, numbers as numbers). SQL Server
    writes a bit as true/false, the sandbox as 0/1 (it stores bits as integers).
    """
    clause = select.args["for_"]
    if str(clause.args.get("kind", "")).upper() != "JSON":
        raise NotInSubset(f"FOR {clause.args.get('kind', '')}".strip())
    options = {str(o.this.name if isinstance(o, exp.QueryOption) else o).upper() for o in clause.expressions}
    others = {k for k, v in select.args.items() if v and k not in ("expressions", "for_")}
    if options != _FOR_JSON_OPTIONS or others:
        raise NotInSubset(
            "FOR JSON other than (SELECT expr AS [key], ... FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)"
        )
    arguments: list[exp.Expression] = []
    for projection in select.expressions:
        key = projection.alias_or_name
        if not key or "." in key or not isinstance(projection, exp.Alias | exp.Column):
            raise NotInSubset("FOR JSON PATH keys must be plain names (AS [key]); dotted keys nest objects")
        value = projection.this if isinstance(projection, exp.Alias) else projection
        arguments += [exp.Literal.string(key), visit(value)]
    # SQLite takes at most 127 arguments per function: an object of more keys is made of 63, and
    # json_insert adds the rest, 63 at a time (new keys go last, so the order is kept).
    joined: exp.Expression = exp.Anonymous(this="json_object", expressions=arguments[: 2 * _JSON_OBJECT_KEYS])
    for start in range(2 * _JSON_OBJECT_KEYS, len(arguments), 2 * _JSON_OBJECT_KEYS):
        pairs = arguments[start : start + 2 * _JSON_OBJECT_KEYS]
        paths: list[exp.Expression] = []
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            if '"' in key.name or "\\" in key.name:
                raise NotInSubset("FOR JSON PATH of more than 63 keys with a key containing \" or \\")
            paths += [exp.Literal.string(f'$."{key.name}"'), value]
        joined = exp.Anonymous(this="json_insert", expressions=[joined, *paths])
    return joined


def snapshot_table(view: str) -> str:
    return "opus_" + view.replace(".", "_")


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _sqlite(text: str) -> exp.Expression:
    return exp.Paren(this=sqlglot.parse_one(text, read=SandboxSQLite))


def _runner_call(name: str, args: list[exp.Expression | None], answers: Answers | None) -> exp.Expression:
    if answers is None:
        return exp.Null()
    values = [_constant(a, answers) for a in args if a is not None]
    return _literal(answers.runner_function(name, values))


def _constant(node: exp.Expression, answers: Answers) -> Any:
    """Catalog functions need constant arguments: literals, N'...' strings or variables."""
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else _number(node.this)
    if isinstance(node, exp.National):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Placeholder) and str(node.this).startswith("opusv_"):
        return answers.variable_value(str(node.this)[len("opusv_"):])
    if is_variable(node):
        return answers.variable_value(variable_name(node))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_number(node.this.this)
    raise NotInSubset("catalog functions with computed arguments (use a literal or a variable)")


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
