"""Single T-SQL statements to SQLite: sqlglot parses and transpiles, this module adjusts the tree.

The adjustments are the places where sqlglot's T-SQL to SQLite transpile is not enough for the
sandbox: variables become bound parameters, `dbo.` is dropped (SQLite has one schema), catalog views
become snapshot tables, catalog functions are answered by the runner, and functions outside the
subset are refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from . import dialect

_MARKER = re.compile(r":opusv_(\w+)")


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
    statement = parsed[0]
    if isinstance(statement, exp.Command):
        raise NotInSubset(f"{statement.this} statement")
    return statement


def parse_expression(text: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, read="tsql", into=exp.Condition)  # type: ignore[arg-type]
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


@dataclass
class Answers:
    """What the engine supplies while a tree is rewritten (catalog functions, system variables)."""

    system_variable: Callable[[str], Any]
    runner_function: Callable[[str, list[Any]], Any]
    variable_value: Callable[[str], Any]
    variable_type: Callable[[str], str] = lambda name: "sql_variant"


_STRING_FUNCTIONS = {"QUOTENAME", "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "REPLACE", "SUBSTRING",
                     "SUBSTR", "LEFT", "RIGHT", "ERROR_MESSAGE", "ERROR_PROCEDURE", "OBJECT_NAME",
                     "SCHEMA_NAME", "DB_NAME", "SUSER_SNAME", "FORMAT", "STR"}


def _is_stringy(node: exp.Expression, answers: Answers | None) -> bool:
    """Whether T-SQL would type this expression as a string (so `+` means concatenation)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, exp.National | exp.Concat | exp.DPipe | exp.GroupConcat | exp.Upper | exp.Lower
                  | exp.Trim | exp.Substring | exp.Left | exp.Right):
        return True
    if isinstance(node, exp.Cast):
        return node.to.this in exp.DataType.TEXT_TYPES or node.to.is_type(*exp.DataType.TEXT_TYPES)
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _STRING_FUNCTIONS
    if isinstance(node, exp.Add):
        return _is_stringy(node.this, answers) or _is_stringy(node.expression, answers)
    if _is_variable(node) and answers is not None:
        name = dialect.parse_type(answers.variable_type(_variable_name(node)))[0]
        return name in ("char", "varchar", "nchar", "nvarchar", "text", "ntext")
    return False


def table_name(table: exp.Table) -> tuple[str | None, str]:
    schema = table.args.get("db")
    return (schema.name if schema is not None else None), table.name


def rewrite(tree: exp.Expression, answers: Answers | None) -> Translated:
    """Rewrite a parsed T-SQL statement or expression in place and render it for SQLite.

    With `answers` None (static checking), catalog functions are left as placeholders.
    """
    catalog_views: set[str] = set()
    assignments: list[str] = []

    if isinstance(tree, exp.Select):
        for i, projection in enumerate(tree.expressions):
            if isinstance(projection, exp.EQ) and _is_variable(projection.this):
                assignments.append(_variable_name(projection.this))
                tree.expressions[i] = projection.expression
        if assignments and len(assignments) != len(tree.expressions):
            raise SyntaxProblem("a SELECT that assigns variables cannot also return columns")

    def visit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Add) and (_is_stringy(node.this, answers) or _is_stringy(node.expression, answers)):
            # T-SQL's + on strings concatenates; in SQLite + is always arithmetic
            left = node.this.transform(visit, copy=False)
            right = node.expression.transform(visit, copy=False)
            return exp.DPipe(this=left, expression=right, safe=False)
        if isinstance(node, exp.Concat):
            # CONCAT treats NULL as an empty string (and SQLite before 3.44 has no concat())
            parts = [exp.Coalesce(this=e.transform(visit, copy=False), expressions=[exp.Literal.string("")])
                     for e in node.expressions]
            joined: exp.Expression = parts[0]
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=False)
            return exp.Paren(this=joined)
        if isinstance(node, exp.National):  # SQLite has no N'...' literals; its strings are Unicode
            return exp.Literal.string(node.this)
        if isinstance(node, exp.Parameter):
            inner = node.this
            if isinstance(inner, exp.Parameter):  # @@NAME
                name = inner.name.upper()
                if name not in dialect.SYSTEM_VARIABLES:
                    raise NotInSubset(f"@@{name}")
                if answers is None:
                    return exp.Null()
                return _literal(answers.system_variable(name))
            return exp.Placeholder(this=f"opusv_{_variable_name(node)}")
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
            return _runner_call("OBJECT_ID", [node.this, node.expression], answers)
        if isinstance(node, exp.CurrentTimestamp):  # GETDATE()
            return _sqlite("strftime('%Y-%m-%d %H:%M:%f','now','localtime')")
        if isinstance(node, exp.Uuid):  # NEWID()
            return _sqlite(dialect.FUNCTION_REWRITES["NEWID"])
        if isinstance(node, exp.Length) and not node.args.get("binary"):
            # T-SQL LEN ignores trailing blanks
            inner = node.this.transform(visit, copy=False)  # replaced nodes' children are not visited
            return exp.Length(this=exp.Anonymous(this="RTRIM", expressions=[inner]))
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast) and not node.args.get("safe"):
            return _cast(node.this.transform(visit, copy=False), node.to)
        if isinstance(node, exp.TryCast) or (isinstance(node, exp.Convert) and node.args.get("safe")):
            raise NotInSubset("TRY_CAST/TRY_CONVERT (SQLite's CAST never fails, so the result would differ)")
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).upper()
            args = list(node.expressions)
            if fname in dialect.RUNNER_FUNCTIONS:
                return _runner_call(fname, args, answers)
            if fname in dialect.FUNCTION_REWRITES:
                template = dialect.FUNCTION_REWRITES[fname]
                rendered = [a.transform(visit, copy=False).sql(dialect="sqlite") for a in args]
                return _sqlite(template.format(*rendered))
            if fname not in dialect.SQLITE_FUNCTIONS:
                raise NotInSubset(f"function {fname}()")
        return node

    tree = tree.transform(visit, copy=False)
    sql = tree.sql(dialect="sqlite")
    variables: list[str] = []

    def marker(m: re.Match[str]) -> str:
        variables.append(m.group(1))
        return "?"

    sql = _MARKER.sub(marker, sql)
    return Translated(sql, variables, catalog_views, assignments)


def _cast(value: exp.Expression, to: exp.DataType) -> exp.Expression:
    """CAST to a T-SQL type, in SQLite terms: storage class, plus truncation for char(n)/varchar(n)."""
    name, length, _precision, _scale = dialect.parse_type(to.sql(dialect="tsql").replace(" ", ""))
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


def snapshot_table(view: str) -> str:
    return "opus_" + view.replace(".", "_")


def _is_variable(node: exp.Expression) -> bool:
    return isinstance(node, exp.Parameter) and not isinstance(node.this, exp.Parameter)


def _variable_name(node: exp.Expression) -> str:
    return node.this.name.lower() if isinstance(node.this, exp.Expression) else str(node.this).lower()


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _sqlite(text: str) -> exp.Expression:
    return exp.Paren(this=sqlglot.parse_one(text, read="sqlite"))


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
    if _is_variable(node):
        return answers.variable_value(_variable_name(node))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_number(node.this.this)
    raise NotInSubset("catalog functions with computed arguments (use a literal or a variable)")


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
