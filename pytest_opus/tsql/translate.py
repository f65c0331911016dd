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

from . import arithmetic, collation, dialect
from .expression_types import (
    CHARACTER_TYPES,
    COMPARISONS,
    cast_type,
    collate_strings,
    common_type,
    concatenates,
    full_type,
    in_code_page,
    is_numeric,
    is_stringy,
    is_unicode,
    is_variable,
    tsql_type,
    value_bounds,
    variable_name,
)
from .runtime import TsqlError

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
    #: a SELECT assigning a variable from an expression that reads an assigned variable (`SELECT @s = @s
    #: + x FROM t`): SQL Server accumulates row by row, which the runner does not (engine.dml refuses it
    #: over more than one row)
    accumulates: bool = False


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
    #: a table variable's name (without @) -> the #temp table that holds it (error 1087 when undeclared)
    table_variable: Callable[[str], str] = lambda name: "#tv_" + name
    #: a table name -> {lower-case column name: full type, 'decimal(18,4)'}; None when there is no such table
    table_column_types: Callable[[str], dict[str, str] | None] = lambda table: None


def table_name(table: exp.Table) -> tuple[str | None, str]:
    schema = table.args.get("db")
    return (schema.name if schema is not None else None), table.name


def table_variables(tree: exp.Expression, answers: Answers | None) -> exp.Expression:
    """Each table variable (`FROM @t`, `INSERT INTO @t`) replaced, in place, by the #temp table that holds
    it (engine.declare_table), so that the rest of the runner treats it as a #temp table."""
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Parameter) and not isinstance(table.this.this, exp.Parameter):
            name = variable_name(table.this)
            held = (answers or Answers(lambda n: None, lambda n, a: None, lambda n: None)).table_variable(name)
            table.set("this", exp.Identifier(this=held.lstrip("#"), temporary=True))
    return tree


def rewrite(tree: exp.Expression, answers: Answers | None) -> Translated:
    """Rewrite a parsed T-SQL statement or expression in place and render it for SQLite.

    With `answers` None (static checking), catalog functions are left as placeholders.
    """
    tree = table_variables(tree, answers)
    catalog_views: set[str] = set()
    assignments: list[str] = []
    runtime_values: list[str] = []
    unchecked: list[str] = []
    checked: list[str] = []
    assignment_types: list[str | None] = []
    read: set[str] = set()  # the variables the assigned expressions read

    if isinstance(tree, exp.Select):
        for projection in list(tree.expressions):
            if isinstance(projection, exp.EQ) and is_variable(projection.this):
                assignments.append(variable_name(projection.this))
                read.update(variable_name(node) for node in projection.expression.find_all(exp.Parameter)
                            if is_variable(node))
                assignment_types.append(tsql_type(projection.expression, answers))
                projection.replace(projection.expression)  # linked to the tree: variables in it are rewritten
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
        if isinstance(node, exp.Coalesce) and node.args.get("is_null") and answers is not None:
            _isnull_typed(node, answers)  # changed in place, so its operands are still visited
            return node
        if isinstance(node, exp.ConcatWs):
            return _concat_ws(node, visit)
        if isinstance(node, exp.Coalesce) and not node.args.get("is_null") and answers is not None:
            _coalesce_typed(node, answers)  # changed in place, so its operands are still visited
            return node
        if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
            return _string_agg_ordered(node, visit, answers)
        if isinstance(node, exp.Round):
            return _round(node, visit, answers)
        if isinstance(node, exp.Abs) and tsql_type(node.this, answers) in arithmetic.INTEGERS:
            return _abs(node, visit, answers, unchecked, checked)
        if _functions(answers) and isinstance(node, _COLLATED_FUNCTIONS):
            return _collated_function(node, visit)
        if answers is not None and isinstance(node, _COLLATED_FUNCTIONS):  # the ODBC target, a view
            return _plain_collated_function(node, visit)
        if isinstance(node, exp.Concat):
            # CONCAT treats NULL as an empty string (and SQLite before 3.44 has no concat())
            parts = [exp.Coalesce(this=e.transform(visit, copy=False), expressions=[exp.Literal.string("")])
                     for e in node.expressions]
            joined: exp.Expression = parts[0]
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=False)
            return exp.Paren(this=joined)
        if isinstance(node, COMPARISONS | exp.In | exp.Between) or (isinstance(node, exp.Case) and node.this):
            _collate_comparison(node, answers)
            return node  # changed in place, so its operands are still visited
        if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like):
            return _like(node.this, node.expression, visit, answers)
        if isinstance(node, exp.Like):
            return _like(node, None, visit, answers)
        if isinstance(node, exp.Ordered | exp.Min | exp.Max) and _functions(answers):
            _collate_order(node, answers)
            return node
        if isinstance(node, exp.Group):  # computed text groups under the default collation too
            for i, term in enumerate(node.expressions):
                if not isinstance(term, exp.Column | exp.Collate) and is_stringy(term, answers):
                    node.expressions[i] = exp.Collate(this=term, expression=exp.var(collation.DEFAULT))
            return node
        if isinstance(node, exp.Lateral):
            raise NotInSubset("CROSS APPLY / OUTER APPLY")
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and node.this.args.get("for_"):
            return _json_object(node.this, lambda e: e.transform(visit, copy=False), answers)
        if isinstance(node, exp.Collate) and node.expression.name.upper() not in _SQLITE_COLLATIONS:
            try:
                name = collation.sqlite_collation(node.expression.name, answers is None or answers.functions)
            except LookupError as refusal:
                raise NotInSubset(str(refusal)) from None
            return exp.Collate(this=node.this.transform(visit, copy=False), expression=exp.var(name))
        if isinstance(node, exp.Left):  # SQLite has no LEFT()/RIGHT() (LEFT is a join keyword there)
            return exp.Substring(this=node.this.transform(visit, copy=False), start=exp.Literal.number(1),
                                 length=node.expression.transform(visit, copy=False))
        if isinstance(node, exp.Right):
            count = node.expression.transform(visit, copy=False)
            return exp.Substring(this=node.this.transform(visit, copy=False), start=exp.Neg(this=count.copy()),
                                 length=count)
        if isinstance(node, exp.CurrentSchema):  # SCHEMA_NAME()
            return exp.Literal.string("dbo")
        if isinstance(node, exp.Literal) and node.is_string and not in_code_page(node.this):
            raise NotInSubset("a '...' literal with characters outside code page 1252 (SQL Server reads it as "
                              "varchar: a best-fit character or '?' for each; write N'...')")
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
            compatibility = f"sys.{name.lower()}" in dialect.COMPATIBILITY_VIEWS  # sysobjects, syscolumns
            if (schema is None or schema.lower() == "dbo") and not compatibility:
                node.set("db", None)
                return node
            qualified = f"{(schema or 'sys').lower() if not compatibility else 'sys'}.{name.lower()}"
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
            if fname in dialect.RUNNER_FUNCTIONS or fname == "DB_NAME":  # DB_NAME(): the target's own name
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
                      assignment_types, accumulates=bool(read & set(assignments)))


#: string functions whose answer follows the collation or Unicode: the sandbox's own (collation.py)
_COLLATED_FUNCTIONS = (exp.Upper, exp.Lower, exp.StrPosition, exp.Replace)


def _string_agg_ordered(node: exp.GroupConcat, visit: Callable[[exp.Expression], exp.Expression],
                        answers: Answers | None) -> exp.Expression:
    """STRING_AGG(v, sep) WITHIN GROUP (ORDER BY k [DESC], ...): the sandbox's aggregate
    (collation.ordered_aggregate), text keys in SQL Server's order. Refused where it cannot run."""
    order = node.this
    keys = [o if isinstance(o, exp.Ordered) else exp.Ordered(this=o) for o in order.expressions]
    if answers is None:  # a static check: decided when it runs
        return node
    if not _functions(answers) or any(isinstance(k.this, exp.Collate) for k in keys) or node.args.get("distinct"):
        raise NotInSubset("STRING_AGG ... WITHIN GROUP (ORDER BY ...) on the ODBC SQLite target or with a "
                          "COLLATE in its ORDER BY (SQLite's aggregates cannot order there)")
    directions = "".join("d" if k.args.get("desc") else "a" for k in keys)
    separator = node.args.get("separator")
    return exp.Anonymous(this="tsql_string_agg_ordered", expressions=[
        order.this.transform(visit, copy=False),
        separator.transform(visit, copy=False) if separator is not None else exp.Literal.string(","),
        exp.Literal.string(directions), *(k.this.transform(visit, copy=False) for k in keys)])


def _case_sensitive(node: exp.Expression) -> bool:
    """Whether the operand has a COLLATE of a binary or case-sensitive collation (T-SQL's name or ours)."""
    return isinstance(node, exp.Collate) and node.expression.name.lower().endswith(
        ("_bin", "_bin2", "_cs_as", "rtrim", "tsql_cs_as", "tsql_bin"))


def _collated_function(node: exp.Expression, visit: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """UPPER/LOWER over all of Unicode, CHARINDEX and REPLACE under the collation (case-insensitive by
    default; case-sensitive when an argument has a binary or _CS_ COLLATE). SQLite's are ASCII-only or
    case-sensitive."""
    def arg(name: str) -> exp.Expression:
        return node.args[name].transform(visit, copy=False)

    if isinstance(node, exp.Upper | exp.Lower):
        return exp.Anonymous(this="tsql_case", expressions=[arg("this"), exp.Literal.number(
            int(isinstance(node, exp.Upper)))])
    names = ("substr", "this") if isinstance(node, exp.StrPosition) else ("this", "expression", "replacement")
    sensitive = any(_case_sensitive(node.args[n]) for n in names)
    flag = exp.Literal.number(int(sensitive))
    if isinstance(node, exp.StrPosition):
        return exp.Anonymous(this="tsql_charindex", expressions=[arg("substr"), arg("this"), flag])
    return exp.Anonymous(this="tsql_replace", expressions=[arg("this"), arg("expression"), arg("replacement"), flag])


#: text that SQLite's upper()/lower() change as SQL Server's UPPER/LOWER do: ASCII (SQLite leaves other
#: letters as they are; a replace() per Latin-1 letter would nest deeper than the ODBC driver's SQLite
#: parser takes); a GLOB pattern matching a text with a character beyond it
_ASCII = "".join(chr(c) for c in range(1, 0x80))
_BEYOND_ASCII = "*[^" + chr(1) + "-" + chr(0x7F) + "]*"
#: text the collation model searches case-insensitively without refusing (collation._VOUCHED's ASCII part)
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
_BEYOND_PRINTABLE = "*[^ -~]*"
_PLAIN_FUNCTIONS = ("{function} on the ODBC SQLite target of text with {what} (SQLite's {sqlite} "
                    "{differs}; run it on the sandbox or SQL Server)")


def _plain_collated_function(node: exp.Expression,
                             visit: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """UPPER/LOWER, CHARINDEX and REPLACE where the runner's functions are missing (the ODBC target, a view,
    which SQLite stores as its own SQL): SQLite's upper(), lower(), instr() and replace(), which fold ASCII
    letters only and search case-sensitively, used where they give the sandbox's (SQL Server's) answer.

    - UPPER/LOWER: text of ASCII characters only.
    - CHARINDEX and REPLACE with a binary or _CS_ COLLATE: a search by code point, as SQLite's.
    - CHARINDEX under the default collation: printable ASCII text, searched as lower(haystack) for
      lower(needle) (an empty needle is 0, as in SQL Server; SQLite's instr() says 1).
    - REPLACE under the default collation: printable ASCII text where a case-insensitive search finds
      what a case-sensitive one does (each match replaced by CHAR(1) gives the same text both ways).

    A literal outside these is refused here, before the statement runs; a value known only when it runs
    (a column, a variable, a parameter) is checked by the statement itself, and refused then.
    """
    def literal_text(value: exp.Expression) -> str | None:
        while isinstance(value, exp.Paren | exp.Collate):
            value = value.this
        if isinstance(value, exp.National) or (isinstance(value, exp.Literal) and value.is_string):
            return str(value.this)
        return None

    # read before any argument is translated (translating changes the tree in place)
    names = [n for n in ("this", "substr", "expression", "replacement") if node.args.get(n) is not None]
    literals = {n: literal_text(node.args[n]) for n in names}
    printable = {n: _printable_replace(node.args[n]) for n in names}
    sensitive = any(_case_sensitive(node.args[n]) for n in names)
    translated: dict[str, exp.Expression] = {}

    def arg(name: str) -> exp.Expression:
        """The argument translated (once), as a new copy for each place it is written."""
        if name not in translated:
            translated[name] = node.args[name].transform(visit, copy=False)
        return translated[name].copy()

    def literal(name: str) -> str | None:
        return literals[name]

    def guarded(result: exp.Expression, names: tuple[str, ...], allowed: str, beyond: str, function: str,
                what: str, sqlite: str, differs: str) -> exp.Expression:
        refusal = _PLAIN_FUNCTIONS.format(function=function, what=what, sqlite=sqlite, differs=differs)
        checks: list[exp.Expression] = []
        for name in names:
            text = literal(name)
            if text is not None:
                if not set(text) <= set(allowed):
                    raise NotInSubset(refusal)
                continue
            if allowed == _PRINTABLE_ASCII and printable[name]:
                continue  # its value is printable ASCII already (or it was refused): not checked again
            checks.append(exp.Glob(this=arg(name), expression=exp.Literal.string(beyond)))
        if not checks:
            return result
        condition = checks[0]
        for check in checks[1:]:
            condition = exp.Or(this=condition, expression=check)
        return exp.Case(ifs=[exp.If(this=condition, true=arithmetic.raise_sql(arithmetic.REFUSED + refusal))],
                        default=result)

    if isinstance(node, exp.Upper | exp.Lower):
        function = "UPPER" if isinstance(node, exp.Upper) else "LOWER"
        call = exp.Anonymous(this=function.lower(), expressions=[arg("this")])
        return guarded(call, ("this",), _ASCII, _BEYOND_ASCII, function, "characters beyond ASCII",
                       "upper() and lower()", "change ASCII letters only")
    if isinstance(node, exp.StrPosition):
        needle, haystack = arg("substr"), arg("this")
        if sensitive:
            return exp.Anonymous(this="instr", expressions=[haystack, needle])
        found = exp.Anonymous(this="instr", expressions=[exp.Anonymous(this="lower", expressions=[haystack]),
                                                         exp.Anonymous(this="lower", expressions=[needle.copy()])])
        empty = exp.EQ(this=needle.copy(), expression=exp.Literal.string(""))
        result = exp.Case(ifs=[exp.If(this=empty, true=exp.Literal.number(0))], default=found)
        return guarded(result, ("substr", "this"), _PRINTABLE_ASCII, _BEYOND_PRINTABLE, "CHARINDEX",
                       "characters beyond printable ASCII", "instr()", "is case-sensitive")
    text, find, replacement = arg("this"), arg("expression"), arg("replacement")
    call = exp.Anonymous(this="replace", expressions=[text, find, replacement])
    if sensitive:
        return call

    def lower(e: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this="lower", expressions=[e.copy()])

    # The case-sensitive search finds exactly what the case-insensitive one does when replacing each match
    # by a character the (printable) text cannot hold gives the same text, compared by code point.
    mark = exp.Anonymous(this="char", expressions=[exp.Literal.number(1)])
    sensitive_marks = lower(exp.Anonymous(this="replace", expressions=[text.copy(), find.copy(), mark.copy()]))
    folded_marks = exp.Anonymous(this="replace", expressions=[lower(text), lower(find), mark])
    agrees = exp.or_(
        exp.EQ(this=find.copy(), expression=exp.Literal.string("")),
        exp.EQ(this=exp.Anonymous(this="hex", expressions=[sensitive_marks]),
               expression=exp.Anonymous(this="hex", expressions=[folded_marks])),
    )
    refusal = _PLAIN_FUNCTIONS.format(function="REPLACE", what="a match in another letter case",
                                      sqlite="replace()", differs="is case-sensitive")
    to_find = literal("expression")
    checked: exp.Expression = call
    if to_find is None or to_find.lower() != to_find.upper():  # text to find without letters: any case matches
        checked = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Paren(this=agrees)),
                                       true=arithmetic.raise_sql(arithmetic.REFUSED + refusal))], default=call)
    replaced = guarded(checked, ("this", "expression"), _PRINTABLE_ASCII, _BEYOND_PRINTABLE, "REPLACE",
                       "characters beyond printable ASCII", "replace()", "is case-sensitive")
    if len(replaced.sql(dialect=SandboxSQLite)) > arithmetic.PLAIN_BUDGET:
        raise NotInSubset("REPLACE nested so deeply on the ODBC SQLite target that its plain SQLite checks would "
                          f"exceed {arithmetic.PLAIN_BUDGET:,} characters of SQL (search for text without letters, "
                          "or run it on the sandbox or SQL Server)")
    return replaced


def _printable_replace(node: exp.Expression) -> bool:
    """Whether the value of `node` is printable ASCII (or NULL) whenever its plain translation does not refuse:
    a REPLACE under the default collation whose replacement is a printable ASCII literal."""
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Replace) or any(_case_sensitive(node.args[n]) for n in ("this", "expression",
                                                                                      "replacement")):
        return False
    replacement = node.args["replacement"]
    return (isinstance(replacement, exp.National) or (isinstance(replacement, exp.Literal) and replacement.is_string)) \
        and all(" " <= c <= "~" for c in str(replacement.this))


def _concat_ws(node: exp.ConcatWs, visit: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """CONCAT_WS(sep, a, b, ...): the separator between the arguments that are not NULL, '' when all are.
    Each present argument is written with the separator before it, and the first separator cut off."""
    separator, *values = (e.transform(visit, copy=False) for e in node.expressions)
    separator = exp.Coalesce(this=separator, expressions=[exp.Literal.string("")])
    joined: exp.Expression | None = None
    for value in values:
        part = exp.Coalesce(this=exp.DPipe(this=separator.copy(), expression=value, safe=False),
                            expressions=[exp.Literal.string("")])
        joined = part if joined is None else exp.DPipe(this=joined, expression=part, safe=False)
    if joined is None:
        return exp.Literal.string("")
    start = exp.Add(this=exp.Length(this=separator.copy()), expression=exp.Literal.number(1))
    return exp.Substring(this=exp.Paren(this=joined), start=start)


def _coalesce_typed(node: exp.Coalesce, answers: Answers) -> None:
    """COALESCE's result has the type of highest precedence among its arguments (as CASE): a text
    argument is converted to a numeric result type, with SQL Server's error 245 for one that is not a
    number. A decimal result needs its precision and scale, which the runner does not derive: refused."""
    arguments = [node.this, *node.expressions]
    common = common_type(arguments, answers)
    if common is None or common in CHARACTER_TYPES or common not in (*arithmetic.INTEGERS, "float", "real", "decimal",
                                                                   "money"):
        return
    texts = [a for a in arguments if tsql_type(a, answers) in CHARACTER_TYPES]
    if not texts:
        return
    if common not in (*arithmetic.INTEGERS, "float"):
        raise NotInSubset(f"COALESCE of text and {common} arguments (the {common} result's precision and scale)")
    converted = [exp.Cast(this=a, to=exp.DataType.build(common)) if a in texts else a for a in arguments]
    node.set("this", converted[0])
    node.set("expressions", converted[1:])


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
    if operator == "/" and _functions(answers) and "decimal" in (left_type, right_type) \
            and {left_type, right_type} <= {"decimal", *arithmetic.INTEGERS}:
        left_full, right_full = _decimal_operand(node.this, answers), _decimal_operand(node.expression, answers)
        if left_full and right_full:  # to the quotient's scale (else SQLite's division: a known difference)
            checked.append("arithmetic (/)")
            return exp.Anonymous(this="tsql_decimal_divide", expressions=[
                exp.Literal.string(left_full), exp.Literal.string(right_full),
                node.this.transform(visit, copy=False), node.expression.transform(visit, copy=False)])
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


def _decimal_operand(node: exp.Expression, answers: Answers | None) -> str | None:
    """The full type an operand of decimal division has there: an integer constant counts by its digits
    (SQL Server's 1.0 / 3 divides by a decimal(1,0)), other integers by their type's precision."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit():
        return f"decimal({len(str(node.this).lstrip('0')) or 1},0)"
    return full_type(node, answers)


def _round(node: exp.Round, visit: Callable[[exp.Expression], exp.Expression],
           answers: Answers | None) -> exp.Expression:
    """ROUND in the argument's own type (the runner's tsql_round: negative lengths, the truncating third
    argument, error 8115 when the rounded value does not fit); SQLite's round() where it agrees: a
    length that is a literal of 0 or more, no third argument."""
    value, length, function = node.this, node.args.get("decimals"), node.args.get("truncate")
    type_name = full_type(value, answers)
    if type_name is not None and dialect.parse_type(type_name)[0] not in (*arithmetic.NUMBERS, "numeric"):
        type_name = None
    if _functions(answers) and type_name is not None and length is not None:
        return exp.Anonymous(this="tsql_round", expressions=[
            exp.Literal.string(type_name), value.transform(visit, copy=False), length.transform(visit, copy=False),
            function.transform(visit, copy=False) if function is not None else exp.Literal.number(0)])
    simple = isinstance(length, exp.Literal) and not length.is_string and str(length.this).isdigit()
    if answers is not None and (function is not None or not simple):  # (a static check: decided when it runs)
        raise NotInSubset("ROUND with a negative or computed length or a third argument, of a value whose type "
                          "the runner cannot tell or on the ODBC SQLite target (CAST the value to its type)")
    node.set("this", value.transform(visit, copy=False))
    return node


def _abs(node: exp.Abs, visit: Callable[[exp.Expression], exp.Expression], answers: Answers | None,
         unchecked: list[str], checked: list[str]) -> exp.Expression:
    """ABS of an integer in its own type: of the type's smallest value, error 8115 (written as 0 - x in
    that type, which the runner checks as any subtraction)."""
    kind = tsql_type(node.this, answers)
    zero = exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build(str(kind)))
    negated = _arithmetic("-", exp.Sub(this=zero, expression=node.this.copy()), visit, answers, unchecked, checked)
    value = node.this.copy().transform(visit, copy=False)
    return exp.Case(ifs=[exp.If(this=exp.LT(this=value.copy(), expression=exp.Literal.number(0)), true=negated)],
                    default=value)


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
    target = cast_type(to)  # (VARCHAR without a length is varchar(30))
    name, length, _precision, _scale = dialect.parse_type(target)
    source = tsql_type(value, answers)
    source_full = full_type(value, answers)
    value = value.transform(visit, copy=False)
    if name in arithmetic.STRINGS and source in (*arithmetic.EXACT, "numeric"):
        return _decimal_text(value, source, source_full, name, length, answers)
    if name in ("date", "time", "datetime", "datetime2", "smalldatetime"):
        from .writes import VALUE, date_time  # (writes.py imports this module)

        template = date_time(VALUE, name, source)
        return exp.Var(this="(" + template.replace(VALUE, value.sql(dialect=SandboxSQLite, identify=True)) + ")")
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
    cast: exp.Expression = exp.Cast(this=value, to=exp.DataType.build(target, dialect="sqlite"))
    if name in ("char", "nchar") and length not in (None, -1):  # char(n) pads with blanks to n
        cast = exp.DPipe(this=cast, expression=exp.Literal.string(" " * length), safe=False)
    if name in ("char", "varchar", "nchar", "nvarchar") and length not in (None, -1):
        return exp.Anonymous(this="SUBSTR", expressions=[cast, exp.Literal.number(1), exp.Literal.number(length)])
    return cast


def _isnull_typed(node: exp.Coalesce, answers: Answers) -> None:
    """ISNULL(a, b) has a's type: b is converted to it (ISNULL(@varchar5, 'longer text') is 'longe', as in
    SQL Server), through the CAST rules. Where the runner cannot tell a's full type, b is left as it is."""
    first = full_type(node.this, answers)
    replacements = node.expressions
    if first is None or len(replacements) != 1 or isinstance(replacements[0], exp.Null):
        return
    if dialect.parse_type(first)[0] not in dialect.SUPPORTED_TYPES or full_type(replacements[0], answers) == first:
        return
    node.set("expressions", [exp.Cast(this=replacements[0], to=exp.DataType.build(first, dialect="tsql"))])


def _decimal_text(value: exp.Expression, source: str, source_full: str | None, name: str,
                  length: int | None, answers: Answers | None) -> exp.Expression:
    """A decimal converted to text as SQL Server writes it: every digit of its scale (CAST(2.50 AS
    VARCHAR) is '2.50'), error 8115 when the text is longer than the type. Refused for money (two
    decimals, rounded) and for a decimal whose scale the runner cannot tell."""
    scale = dialect.parse_type(source_full)[3] if source_full and "(" in source_full else None
    if source in ("decimal", "numeric") and scale is None and source_full is None and answers is None:
        return value  # a static check: the scale shows when the statement runs (checked then)
    if source not in ("decimal", "numeric") or scale is None:
        what = source if source not in ("decimal", "numeric") else "a decimal whose scale the sandbox cannot tell"
        raise NotInSubset(f"CAST of {what} to {name} (SQL Server writes the digits of its scale: CAST the value "
                          "to decimal(p,s) first)")
    sql = value.sql(dialect=SandboxSQLite, identify=True)
    text = f"printf('%.{scale}f', {sql})"
    if length not in (None, -1):
        too_long = arithmetic.raise_sql(arithmetic.overflow("numeric", name).text).sql(dialect=SandboxSQLite)
        text = f"CASE WHEN length({text}) > {length} THEN {too_long} ELSE {text} END"
    return exp.Var(this=f"(CASE WHEN ({sql}) IS NULL THEN NULL ELSE {text} END)")  # (SQL as it is)


# -- collation: comparisons, ORDER BY, LIKE (collation.py) ---------------------------------------
#: the SQLite collations the translator itself writes (a COLLATE of these is left as it is)
_SQLITE_COLLATIONS = {collation.DEFAULT, collation.ORDER, collation.CASE_SENSITIVE, collation.BINARY,
                      collation.BINARY_FIRST}
_ORDERING = exp.GT | exp.GTE | exp.LT | exp.LTE | exp.Between
_ODBC_TEXT = ("comparison of text with {what} on the ODBC SQLite target (an ODBC connection has only "
              "SQLite's NOCASE, which folds ASCII letters only and counts trailing blanks; run it on the "
              "sandbox or SQL Server)")


def _functions(answers: Answers | None) -> bool:
    """Whether the statement runs on a connection with the runner's collations and functions."""
    return answers is not None and answers.functions


def _collate_comparison(node: exp.Expression, answers: Answers | None) -> None:
    """Strings compare under SQL Server's default collation (NOCASE, replaced on the sandbox by
    collation.py); `<`, `>`, `BETWEEN` of strings by its order (TSQL_ORDER). On the ODBC target a
    literal or variable that NOCASE would compare otherwise than SQL Server is refused."""
    operands = [node.args.get("this"), node.args.get("expression"), node.args.get("low"), node.args.get("high"),
                *(node.expressions if isinstance(node, exp.In) else [])]
    present = [o for o in operands if o is not None]
    explicit = any(isinstance(o, exp.Collate) for o in present)  # a COLLATE decides (SQLite: the left one first)
    if isinstance(node, _ORDERING) and _functions(answers) and not explicit \
            and any(is_stringy(o, answers) for o in present) and not any(_not_text(o, answers) for o in present):
        node.set("this", exp.Collate(this=node.this, expression=exp.var(collation.ORDER)))
    elif not explicit:
        collate_strings(node, answers)
    if answers is not None and not answers.functions and not _binary(present):
        for operand in present:
            _odbc_text_check(_constant_text(operand, answers))


def _sqlite_like_agrees(pattern: str, escape: str, sensitive: bool) -> bool:
    """Whether SQLite's own LIKE (faster: no Python call per row) gives SQL Server's answer for this
    literal pattern: no class, a final % (the value's trailing blanks then never matter), and ASCII
    letters only under the default collation (SQLite folds those) or no letters under a binary one."""
    if escape:
        pattern = re.sub(re.escape(escape) + ".", "x", pattern, flags=re.S)  # an escaped character is literal
    if "[" in pattern or not pattern.endswith("%"):
        return False
    if sensitive:
        return not any(c.isalpha() for c in pattern)
    return pattern.isascii() and pattern.isprintable()


def _as_glob(pattern: str, escape: str) -> tuple[str, str] | None:
    """A LIKE pattern as SQLite's GLOB pattern (binary, case-sensitive, built into every SQLite) and how
    it ends: "open" (an unescaped %: the value's trailing blanks never matter), "char" (a character other
    than a blank), "other" (_ or a blank). None when it has a [...] class."""
    out: list[str] = []
    i = 0
    end = "other"
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape and i + 1 < len(pattern):
            literal = pattern[i + 1]
            out.append(f"[{literal}]" if literal in "*?[" else literal)
            end = "other" if literal == " " else "char"
            i += 2
            continue
        if ch == "[":
            return None
        out.append({"%": "*", "_": "?", "*": "[*]", "?": "[?]"}.get(ch, ch))
        end = "open" if ch == "%" else "other" if ch in "_ " else "char"
        i += 1
    return "".join(out), end


def _glob_like(value: exp.Expression, glob: str, end: str, unicode: bool | None) -> exp.Expression | None:
    """`value GLOB glob` with SQL Server's rule for the value's trailing blanks (significant for
    Unicode text, ignored otherwise); None where GLOB cannot give that answer."""
    if end == "open" or unicode:
        return exp.Glob(this=value, expression=exp.Literal.string(glob))
    if end == "char" and unicode is False:  # the match ends on a non-blank: the blanks after it are the value's
        trimmed = exp.Anonymous(this="RTRIM", expressions=[value, exp.Literal.string(" ")])
        return exp.Glob(this=trimmed, expression=exp.Literal.string(glob))
    return None


def _not_text(node: exp.Expression, answers: Answers | None) -> bool:
    """Known to be of a type other than text (a date or a number converts the string it meets)."""
    known = tsql_type(node, answers)
    return is_numeric(node, answers) or (known is not None and known not in CHARACTER_TYPES)


def _binary(operands: list[exp.Expression]) -> bool:
    names = [o.expression.name for o in operands if isinstance(o, exp.Collate)]
    return any(n.upper() in (collation.BINARY, "BINARY") or n.lower().endswith("_bin2") for n in names)


def _constant_text(node: exp.Expression, answers: Answers) -> str | None:
    """The text of a string literal or a string variable, else None."""
    while isinstance(node, exp.Paren | exp.Collate):
        node = node.this
    if isinstance(node, exp.Literal | exp.National) and isinstance(node.this, str) and (
            isinstance(node, exp.National) or node.is_string):
        return node.this
    if is_variable(node) or (isinstance(node, exp.Placeholder) and str(node.this).startswith("opusv_")):
        name = variable_name(node) if is_variable(node) else str(node.this)[len("opusv_"):]
        try:
            value = answers.variable_value(name)
        except TsqlError:  # a parameter of library code, bound row by row: not known here
            return None
        return value if isinstance(value, str) else None
    return None


def _odbc_text_check(text: str | None) -> None:
    if text is None:
        return
    if text.endswith(" "):
        raise NotInSubset(_ODBC_TEXT.format(what="trailing blanks"))
    if not (text.isascii() and text.isprintable()):
        raise NotInSubset(_ODBC_TEXT.format(what="characters beyond printable ASCII"))


def _collate_order(node: exp.Ordered | exp.Min | exp.Max, answers: Answers | None) -> None:
    """ORDER BY, MIN and MAX of text in SQL Server's order (collation.ORDER) unless a COLLATE decides."""
    target = node.this
    if isinstance(target, exp.Collate) or is_numeric(target, answers) or (
            isinstance(target, exp.Literal) and not target.is_string):
        return
    node.set("this", exp.Collate(this=target, expression=exp.var(collation.ORDER)))


def _like(node: exp.Like, escape: exp.Expression | None, visit: Callable[[exp.Expression], exp.Expression],
          answers: Answers | None) -> exp.Expression:
    """T-SQL's LIKE: on the sandbox collation.py's tsql_like (classes, ranges, Unicode case, trailing
    blanks of the value significant for Unicode text only); SQLite's LIKE or GLOB where it gives the
    same answer (the ODBC target has nothing else)."""
    value, pattern = node.this, node.expression
    sensitive = _case_sensitive(value) or _case_sensitive(pattern)
    if isinstance(value, exp.Collate):
        value = value.this
    if isinstance(pattern, exp.Collate):
        pattern = pattern.this
    unicode = is_unicode([value, pattern, escape], answers)
    value = value.transform(visit, copy=False)
    pattern = pattern.transform(visit, copy=False)
    escape = escape.transform(visit, copy=False) if escape is not None else None
    literal = _literal_text(node.expression) if isinstance(node.expression, exp.Literal | exp.National) else None
    escape_char = _literal_text(escape) if escape is not None else ""
    simple_escape = len(escape_char) == int(escape is not None)
    negate = bool(node.args.get("negate"))
    if answers is not None and literal is not None and sensitive and simple_escape:
        globbed = _as_glob(literal, escape_char)
        matched = _glob_like(value, *globbed, unicode) if globbed is not None else None
        if matched is not None:
            return exp.Not(this=matched) if negate else matched
    if _functions(answers) and not (literal is not None and simple_escape
                                    and _sqlite_like_agrees(literal, escape_char, sensitive)):
        flags = (collation.LIKE_SENSITIVE if sensitive else 0) | (collation.LIKE_UNICODE if unicode else 0) | (
            collation.LIKE_TYPES_UNKNOWN if unicode is None else 0)
        call: exp.Expression = exp.Anonymous(this="tsql_like", expressions=[
            value, pattern, escape if escape is not None else exp.Null(), exp.Literal.number(flags)])
        return exp.Not(this=call) if negate else call
    if answers is None or _functions(answers):  # a static check, a view (stored as SQLite text), or agreeing
        plain: exp.Expression = exp.Like(this=value, expression=pattern)
        if escape is not None:
            plain = exp.Escape(this=plain, expression=escape)
        return exp.Not(this=plain) if negate else plain
    text = _constant_text(node.expression, answers)
    if text is None:  # computed from columns: SQLite's LIKE (documented as a difference of the ODBC target)
        text = "%"
    if "[" in text:
        raise NotInSubset("LIKE with a [...] character class on the ODBC SQLite target (SQLite's LIKE has none)")
    if sensitive and any(c.isalpha() for c in text):
        raise NotInSubset("case-sensitive LIKE of letters with a pattern that is not a literal on the ODBC "
                          "SQLite target (write the pattern as a literal: it then runs as SQLite's GLOB)")
    if text.endswith(" ") or not (text.isascii() and text.isprintable()):
        raise NotInSubset("LIKE with a pattern of trailing blanks or characters beyond printable ASCII on the "
                          "ODBC SQLite target")
    if not text.endswith("%") and not unicode:  # SQL Server ignores the trailing blanks of a varchar value
        if unicode is None or text.endswith("_"):
            raise NotInSubset("LIKE whose pattern does not end in % over text the ODBC SQLite target cannot tell "
                              "is Unicode (nvarchar: the value's trailing blanks count) or not (varchar: they are "
                              "ignored), or ending in _ over varchar; CAST the value or write the pattern as N'...'")
        value = exp.Anonymous(this="RTRIM", expressions=[value, exp.Literal.string(" ")])
    like: exp.Expression = exp.Like(this=value, expression=pattern)
    if escape is not None:
        like = exp.Escape(this=like, expression=escape)
    return exp.Not(this=like) if negate else like


_FOR_JSON_OPTIONS = {"PATH", "WITHOUT_ARRAY_WRAPPER", "INCLUDE_NULL_VALUES"}
_JSON_OBJECT_KEYS = 63  # SQLite's default limit of 127 function arguments, in key/value pairs


def _json_object(select: exp.Select, visit: Callable[[exp.Expression], exp.Expression],
                 answers: Answers | None, nested: bool = False) -> exp.Expression:
    """`(SELECT a AS [k], ... FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)` -> `json_object('k', a, ...)`.

    One object per outer row, NULLs kept, no FROM: the one form of FOR JSON whose meaning SQLite's
    json_object has exactly (keys in order, text as JSON strings, numbers as numbers). Each value is
    written as SQL Server writes its type (_json_value): a bit as true/false, a decimal with all the
    digits of its scale; a slash is escaped with a backslash in the whole text, as SQL Server escapes it.
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
        if isinstance(value, exp.Subquery) and isinstance(value.this, exp.Select) and value.this.args.get("for_"):
            # a FOR JSON in a value is an object in the object (json_object keeps it one); escaped once, below
            arguments += [exp.Literal.string(key), _json_object(value.this, visit, answers, nested=True)]
            continue
        arguments += [exp.Literal.string(key), _json_value(value, visit(value.copy()), answers)]
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
    if nested:
        return joined
    # '/' stands only inside JSON strings (keys and text): SQL Server writes it as \/ (once for nested objects)
    return exp.Anonymous(this="replace", expressions=[joined, exp.Literal.string("/"), exp.Literal.string("\\/")])


#: the types whose values FOR JSON writes as SQLite's json_object does (numbers as numbers, text as strings)
_JSON_AS_IS = {*dialect.INTEGER_TYPES, "char", "varchar", "nchar", "nvarchar", "text", "ntext", "date",
               "uniqueidentifier"} - {"bit"}


def _json_value(tsql: exp.Expression, value: exp.Expression, answers: Answers | None) -> exp.Expression:
    """A FOR JSON value as SQL Server writes it: a bit as true/false, a decimal(p,s) with its s decimals
    (12.5000); other types as json_object writes them, or refused where SQL Server's JSON text differs
    (float, money, dates with a time, binary) or the type is not known."""
    if isinstance(tsql, exp.Null):
        return value
    if any(s.args.get("for_") for s in tsql.find_all(exp.Select)):
        raise NotInSubset("FOR JSON inside an expression of a FOR JSON value")
    type_text = full_type(tsql, answers) or tsql_type(tsql, answers)
    name, _length, _precision, scale = dialect.parse_type(type_text) if type_text else (None, None, None, None)
    if answers is None and (type_text is None or name in dialect.EXACT_NUMERIC_TYPES):
        return value  # a static check: the type shows when the statement runs (checked then)
    if name in dialect.EXACT_NUMERIC_TYPES and "(" not in (type_text or ""):
        raise NotInSubset("FOR JSON of a decimal whose scale the sandbox cannot tell (CAST it to decimal(p,s))")
    if name == "bit":
        sql = value.sql(dialect=SandboxSQLite, identify=True)
        return exp.Var(this=f"(CASE WHEN ({sql}) IS NULL THEN NULL WHEN ({sql}) <> 0 THEN json('true') "
                            "ELSE json('false') END)")
    if name in dialect.EXACT_NUMERIC_TYPES:
        sql = value.sql(dialect=SandboxSQLite, identify=True)
        return exp.Var(this=f"(CASE WHEN ({sql}) IS NULL THEN NULL ELSE json(printf('%.{scale or 0}f', {sql})) END)")
    if name in _JSON_AS_IS:
        return value
    what = f"a {type_text} value" if type_text and type_text != arithmetic.BY_VALUE else \
        "a value whose type the sandbox cannot tell (CAST it)"
    raise NotInSubset(f"FOR JSON of {what}: SQL Server's JSON text for it is not the sandbox's")


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
