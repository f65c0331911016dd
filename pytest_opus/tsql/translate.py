"""Single T-SQL statements to SQLite: sqlglot parses and transpiles, this module adjusts the tree.

The adjustments are the places where sqlglot's T-SQL to SQLite transpile is not enough for the
sandbox: variables become bound parameters, `dbo.` is dropped (SQLite has one schema), catalog views
become snapshot tables, catalog functions are answered by the runner, functions outside the subset
are refused by name, and arithmetic and CAST/CONVERT go through SQL Server's rules (arithmetic.py)
wherever SQLite's own could give another answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError

from .. import sqltypes
from . import arithmetic, collation, dialect, functions
from .expression_types import (
    CHARACTER_TYPES,
    COMPARISONS,
    NUMERIC_TYPES,
    bare,
    cast_type,
    collate_strings,
    common_type,
    concatenates,
    decimal_operand,
    full_type,
    in_code_page,
    is_numeric,
    is_star,
    is_stringy,
    is_unicode,
    is_variable,
    tsql_type,
    unalias,
    value_bounds,
    variable_name,
)
from .parser import expand_compound_assignments
from .runtime import TsqlError

_MARKER = re.compile(r":opus([vd])_(\w+)")


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
    text = expand_compound_assignments(text)  # SELECT @v += x, which sqlglot cannot read
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
    #: @@NAME and catalog functions the runner answered while translating, written into the SQL as literals: a
    #: translation holding one is never kept (the answer may change before the statement runs again)
    runtime_values: list[str] = field(default_factory=list)
    #: arithmetic and CASTs left to SQLite unchecked: translated without answers, of operands whose
    #: type only the running statement shows (a view refuses them: SQLite stores its SQL)
    unchecked: list[str] = field(default_factory=list)
    #: arithmetic and CASTs written with SQL Server's checks (arithmetic.py)
    checked: list[str] = field(default_factory=list)
    #: the T-SQL type of each value a SELECT assigns (the variable converts it: engine.dml)
    assignment_types: list[str | None] = field(default_factory=list)
    #: a SELECT assigning a variable from an expression that reads an assigned variable (`SELECT @s = @s
    #: + x FROM t`): SQL Server accumulates row by row, which the runner does not (engine.dml refuses it
    #: over more than one row, except in the form `accumulation` describes)
    accumulates: bool = False
    #: `SELECT @v = <left> + <right> FROM ...` where <left> reads @v and no column, and <right> reads columns
    #: but not @v (`@v + name`, `ISNULL(@v + ',', '') + name`): the T-SQL text of <left>, which the engine
    #: evaluates before each row to concatenate that row's <right>, the SELECT's only column (engine.dml)
    accumulation: str | None = None
    #: runtime values left as `?` markers, answered when the statement runs (`Answers.defer`): each is
    #: (@@NAME or function name, its arguments as ("value", constant) or ("variable", name)); in `variables`
    #: they appear as "@@<index in this list>"
    deferred: list[tuple[str, tuple[tuple[str, Any], ...]]] = field(default_factory=list)


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
    #: leave the runtime values of `DEFERRED` as markers the engine binds when the statement runs, so that
    #: the translation can be kept (`Translated.deferred`); else they are answered now, as literals
    defer: bool = False


#: The runtime values a translation may leave to be answered when it runs: whole numbers or NULL answered from
#: the session and the catalog, hot in deploy scripts (`IF OBJECT_ID(...) IS NULL`, `IF @@ROWCOUNT = 0`).
DEFERRED = frozenset({"@@ROWCOUNT", "@@TRANCOUNT", "@@ERROR", "@@SPID", "OBJECT_ID", "COL_LENGTH", "SCHEMA_ID",
                      "XACT_STATE"})


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
    deferred: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
    unchecked: list[str] = []
    checked: list[str] = []
    assignment_types: list[str | None] = []
    read: set[str] = set()  # the variables the assigned expressions read

    accumulation: str | None = None
    if isinstance(tree, exp.Select):
        if len(tree.expressions) == 1 and isinstance(tree.expressions[0], exp.EQ) \
                and is_variable(tree.expressions[0].this):
            split = _accumulated(tree.expressions[0].expression, variable_name(tree.expressions[0].this), answers)
            if split is not None:
                accumulation, right = split
                tree.expressions[0].set("expression", right)
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
        if isinstance(node, exp.Window) and isinstance(node.this, exp.Sum | exp.Avg):
            return _window_aggregate(node, visit, answers)
        if isinstance(node, exp.Neg) and not _constant_number(node.this):
            negated = _negate(node, visit, answers, unchecked, checked)
            if negated is not None:
                return negated
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
            parts = [exp.Coalesce(this=_concat_text(e, answers).transform(visit, copy=False),
                                  expressions=[exp.Literal.string("")]) for e in node.expressions]
            joined: exp.Expression = parts[0]
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=False)
            return exp.Paren(this=joined)
        if isinstance(node, exp.Case) or (isinstance(node, exp.If) and not isinstance(node.parent, exp.Case)):
            _results_typed(node, answers)  # in place; a simple CASE is also a comparison (below)
        if isinstance(node, exp.EQ) and isinstance(node.parent, exp.Update) and node.arg_key == "expressions":
            return node  # UPDATE's SET column = value is an assignment (writes.py converts it), not a comparison
        if isinstance(node, COMPARISONS | exp.In | exp.Between) or (isinstance(node, exp.Case) and node.this):
            _compare_as_numbers(node, answers)
            _compare_as_dates(node, answers)
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
                if _needs_default_collation(term, answers):
                    node.expressions[i] = exp.Collate(this=term, expression=exp.var(collation.DEFAULT))
            return node
        if isinstance(node, exp.Select) and node.args.get("distinct") is not None:
            _collate_projections(node, answers)
            return node
        if isinstance(node, exp.Union | exp.Except | exp.Intersect) and node.args.get("distinct"):
            blanks = not isinstance(node, exp.Union)
            for branch in _set_branches(node):
                _collate_projections(branch, answers, refuse_blanks=blanks)
            if isinstance(node, exp.Union) and not any(c.table for o in node.args.get("order") or [] for c in
                                                       (o.find_all(exp.Column) if isinstance(o, exp.Expression)
                                                        else [])):
                return _distinct_union(node, visit)
            return node
        if isinstance(node, exp.LimitOptions) and (node.args.get("percent") or node.args.get("with_ties")):
            raise NotInSubset("TOP ... PERCENT" if node.args.get("percent") else "TOP ... WITH TIES")
        if isinstance(node, exp.Values) and isinstance(node.args.get("alias"), exp.TableAlias) \
                and node.args["alias"].columns:
            return _named_values(node, visit, answers)
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
        if isinstance(node, exp.Left | exp.Right | exp.Substring):  # (SQLite has no LEFT()/RIGHT())
            return _cut(node, visit, answers)
        if isinstance(node, exp.Unicode):
            return _first_unicode(node.this.transform(visit, copy=False), answers)
        if isinstance(node, exp.CurrentSchema):  # SCHEMA_NAME()
            return exp.Literal.string("dbo")
        if isinstance(node, exp.Literal) and not node.is_string:
            _exact_literal(node)
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
                if answers is not None and answers.defer and f"@@{name}" in DEFERRED:
                    return _deferred(deferred, f"@@{name}", ())
                runtime_values.append(f"@@{name}")
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
            return _runner_call("OBJECT_ID", [node.this, node.expression], answers, runtime_values, deferred)
        if isinstance(node, exp.CurrentTimestamp):  # GETDATE(), CURRENT_TIMESTAMP
            return _datetime_now("strftime('%Y-%m-%d %H:%M:%f','now','localtime')", _functions(answers))
        if isinstance(node, exp.Uuid):  # NEWID()
            return _sqlite(dialect.FUNCTION_REWRITES["NEWID"])
        if isinstance(node, exp.Length) and not node.args.get("binary"):
            # T-SQL LEN ignores trailing blanks
            _text_argument(node, "LEN", answers)
            single = _single_units(node.this, answers)
            inner = node.this.transform(visit, copy=False)  # replaced nodes' children are not visited
            counted = exp.Length(this=exp.Anonymous(this="RTRIM", expressions=[inner.copy()]))
            if single:  # varchar: one code unit per character, SQLite's count is SQL Server's
                return _measured(inner, counted)
            if _functions(answers):  # in UTF-16 code units (collation.text_length) where a character needs two
                def length(text: exp.Expression) -> exp.Expression:
                    plain = exp.Length(this=exp.Anonymous(this="RTRIM", expressions=[text.copy()]))
                    return _measured(text, exp.Case(ifs=[exp.If(this=_astral(text), true=_runner_call_node(
                        "tsql_len", text.copy()))], default=plain))

                return _bound_once(inner, "opus_l", length)
            return _measured(inner, _beyond_bmp(inner, "LEN", counted))
        if functions.handles(node):  # DATEADD, DATEDIFF, CEILING, REPLICATE, ... computed as SQL Server does
            return functions.translate(node, visit, answers, lambda n: tsql_type(n, answers),
                                       lambda n: full_type(n, answers))
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
        if isinstance(node, exp.Anonymous) and node.meta.get(_RUNNER_CALL):
            return node  # a SQLite function the translator wrote itself (typeof of a guard), not the script's
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).upper()
            args = list(node.expressions)
            if fname == "SCOPE_IDENTITY":  # the engine keeps it per scope (Engine.note_insert)
                runtime_values.append("SCOPE_IDENTITY()")
                return exp.Null() if answers is None else _literal(answers.system_variable("SCOPE_IDENTITY"))
            if fname in dialect.RUNNER_FUNCTIONS or fname == "DB_NAME":  # DB_NAME(): the target's own name
                return _runner_call(fname, args, answers, runtime_values, deferred)
            if fname == "GETUTCDATE" and not args:
                return _datetime_now(dialect.FUNCTION_REWRITES[fname], _functions(answers))
            if fname in dialect.FUNCTION_REWRITES:
                template = dialect.FUNCTION_REWRITES[fname]
                rendered = [a.transform(visit, copy=False).sql(dialect=SandboxSQLite, identify=True) for a in args]
                return _sqlite(template.format(*rendered))
            if fname not in dialect.SQLITE_FUNCTIONS:
                raise NotInSubset(f"function {fname}()")
        elif (isinstance(node, exp.Func) and not isinstance(node, exp.Connector | exp.Collate)  # AND/OR are Funcs
              and type(node).__name__ not in dialect.SQLGLOT_FUNCTIONS):
            # sqlglot knows the function, but SQLite has no equivalent with the same meaning
            if isinstance(node, exp.TimeToStr):  # sqlglot reads DATENAME and FORMAT alike
                raise NotInSubset("DATENAME or FORMAT (their text depends on the session's language)")
            raise NotInSubset(f"function {_tsql_name(node)}()")
        return node

    if isinstance(tree, exp.Update):
        _update_from(tree)
    if isinstance(tree, exp.Delete) and not isinstance(tree.this, exp.Expression) \
            and len(tree.args.get("tables") or []) == 1:  # DELETE t WHERE ... (FROM is optional in T-SQL)
        tree.set("this", tree.args["tables"][0])
        tree.set("tables", None)
    if isinstance(tree, exp.Delete) and (tree.args.get("tables") or tree.this.args.get("joins")):
        raise NotInSubset("DELETE with FROM ... JOIN (write DELETE FROM t WHERE EXISTS (...))")
    for replaced in reversed(list(tree.find_all(exp.Replace))):  # inner ones first: each level cuts its result
        _cut_at_8000_bytes(replaced, answers)
    for operation in tree.find_all(exp.Union, exp.Except, exp.Intersect):
        _one_kind_per_column(operation, answers)
    for compared in list(tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between,
                                       exp.Case)):
        # before anything is translated: a derived table's computed column is typed by its T-SQL expression
        if not isinstance(compared, exp.Case) or compared.this:
            _compare_as_dates(cast(exp.Expression, compared), answers)
    tree = tree.transform(visit, copy=False)
    if isinstance(tree, exp.Insert) and answers is not None:
        _fill_time_defaults(tree, answers)  # after the rewrite: what it adds is SQLite already
    try:
        sql = tree.sql(dialect=SandboxSQLite, identify=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:  # sqlglot would drop or change something: never run that silently
        raise NotInSubset(_first_line(str(error)).rstrip(".")) from None
    variables: list[str] = []

    def marker(m: re.Match[str]) -> str:
        variables.append(m.group(2) if m.group(1) == "v" else f"@@{m.group(2)}")
        return "?"

    sql = _MARKER.sub(marker, sql)
    return Translated(sql, variables, catalog_views, assignments, runtime_values, unchecked, checked,
                      assignment_types, accumulates=bool(read & set(assignments)) or accumulation is not None,
                      accumulation=accumulation, deferred=deferred)


def _accumulated(expression: exp.Expression, name: str, answers: Answers | None) -> tuple[str, exp.Expression] | None:
    """An assignment that concatenates row by row, split as Translated.accumulation says: (the T-SQL text of
    the part that reads the variable, the part read from each row); None for any other form."""
    terms: list[exp.Expression] = []

    def flatten(node: exp.Expression) -> bool:
        if isinstance(node, exp.Add):
            return concatenates(node, answers) and flatten(node.this) and flatten(node.expression)
        terms.append(node)
        return True

    def reads_variable(node: exp.Expression) -> bool:
        return any(is_variable(p) and variable_name(p) == name for p in node.find_all(exp.Parameter))

    if not isinstance(expression, exp.Add) or not flatten(expression):
        return None
    split = 0
    while split < len(terms) and terms[split].find(exp.Column, exp.Select) is None:
        split += 1
    left, right = terms[:split], terms[split:]
    if not left or not right or not any(reads_variable(t) for t in left) or any(reads_variable(t) for t in right):
        return None
    joined_left, joined_right = left[0], right[0]
    for term in left[1:]:
        joined_left = exp.Add(this=joined_left, expression=term)
    for term in right[1:]:
        joined_right = exp.Add(this=joined_right, expression=term)
    return joined_left.sql(dialect="tsql"), joined_right


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
        text = arg("this")
        call = exp.Anonymous(this="tsql_case", expressions=[text, exp.Literal.number(int(isinstance(node, exp.Upper)))])
        # SQLite's upper()/lower(), in C, give the same answer for ASCII text (GLOB stops at a NUL: instr checks)
        native = exp.Anonymous(this="upper" if isinstance(node, exp.Upper) else "lower", expressions=[text.copy()])
        return _native_unless(text, _BEYOND_ASCII, call, native)
    names = ("substr", "this") if isinstance(node, exp.StrPosition) else ("this", "expression", "replacement")
    sensitive = any(_case_sensitive(node.args[n]) for n in names)
    flag = exp.Literal.number(int(sensitive))
    if isinstance(node, exp.StrPosition):
        needle_given = node.args["substr"]
        binary = _binary([node.args[n] for n in names])
        needle, haystack = arg("substr"), arg("this")
        call = exp.Anonymous(this="tsql_charindex", expressions=[needle, haystack, flag])
        one = _one_character(needle_given)
        if not binary or one is None or not _read_once(haystack):
            return call
        # a search by code point (a binary COLLATE) for one constant character: SQLite's instr(), in C, counts
        # code points, SQL Server UTF-16 code units: the same where no character beyond U+FFFF comes before
        # the match (GLOB reads up to the first NUL; past it, only a search for NUL itself is vouched for)
        beyond = exp.Glob(this=haystack.copy(), expression=_astral_pattern())
        guard = exp.or_(exp.NEQ(this=exp.Anonymous(this="typeof", expressions=[haystack.copy()]),
                                expression=exp.Literal.string("text")), beyond)
        if one != "\0":
            guard = exp.or_(guard, _holds_nul(haystack))
        native = exp.Anonymous(this="instr", expressions=[haystack.copy(), needle.copy()])
        return exp.Case(ifs=[exp.If(this=guard, true=call)], default=native)
    search = node.args["expression"]
    literal = _literal_text(search) if isinstance(search, exp.Literal | exp.National) else None
    text, replacement = arg("this"), arg("replacement")
    call = exp.Anonymous(this="tsql_replace", expressions=[text, arg("expression"), replacement, flag])
    given = node.args["replacement"]
    if literal and (isinstance(given, exp.National) or (isinstance(given, exp.Literal) and given.is_string)) \
            and _binary([node.args[n] for n in names]) and _read_once(text):
        # a search by code point (a binary COLLATE) for a literal, of a literal: SQLite's replace(), in C, for a
        # text (tsql_replace's str() renders numbers and bytes its own way) without a NUL
        native = exp.Anonymous(this="replace", expressions=[text.copy(), exp.Literal.string(literal),
                                                             replacement.copy()])
        not_text = exp.NEQ(this=exp.Anonymous(this="typeof", expressions=[text.copy()]),
                           expression=exp.Literal.string("text"))
        return exp.Case(ifs=[exp.If(this=exp.or_(not_text, _holds_nul(text)), true=call)], default=native)
    if sensitive or not literal or any(not (" " <= ch <= "~") or ch.isalpha() for ch in literal):
        return call
    # a search for printable ASCII without letters in printable ASCII text: the collation finds exactly what a
    # search by code point finds (collation._VOUCHED), so SQLite's replace(), in C, gives tsql_replace's answer
    native = exp.Anonymous(this="replace", expressions=[text.copy(), exp.Literal.string(literal), replacement.copy()])
    return _native_unless(text, _BEYOND_PRINTABLE, call, native)


def _one_character(node: exp.Expression) -> str | None:
    """The character a CHARINDEX needle is when it is one constant character (N'x', 'x', NCHAR(n), CHAR(n) of
    a number below 128), else None."""
    node = bare(node)
    if isinstance(node, exp.National) or (isinstance(node, exp.Literal) and node.is_string):
        text = str(node.this)
        return text if len(text) == 1 and text != "\0" else None
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in ("NCHAR", "CHAR") and len(node.expressions) == 1:
        number = node.expressions[0]
        if isinstance(number, exp.Literal) and not number.is_string and number.this.isdigit() \
                and int(number.this) < 128:
            return chr(int(number.this))
    return None


def _read_once(text: exp.Expression) -> bool:
    """Whether the (translated) text is a column, a variable or a literal: cheap to name several times in a
    guarded expression (SQLite evaluates each copy; a computed text would be computed each time)."""
    return isinstance(bare(text), exp.Column | exp.Placeholder | exp.Literal)


def _native_unless(text: exp.Expression, beyond: str, call: exp.Expression, native: exp.Expression) -> exp.Expression:
    """`native` (SQLite's own function, in C) where `text` holds only the characters it answers exactly, else
    `call` (the runner's model): `beyond` is a GLOB pattern matching a text with another character; GLOB stops
    at a NUL, which instr() finds."""
    outside = exp.or_(exp.Glob(this=text.copy(), expression=exp.Literal.string(beyond)), _holds_nul(text))
    return exp.Case(ifs=[exp.If(this=outside, true=call)], default=native)


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
        value = bare(value)
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


#: the types CONCAT writes as text otherwise than the sandbox stores them (style 0: float with six digits, money
#: with two decimals, datetime as 'Feb 10 2024  1:14PM')
_CONCAT_STYLED = ("float", "real", "money", "smallmoney", "datetime", "smalldatetime")
_CONCAT_UNKNOWN = ("CONCAT of a value whose type the sandbox cannot tell, holding a number with a fraction (SQL Server "
                   "writes it by its type: a decimal with every digit of its scale, a float in six digits): CAST it "
                   "to the text you mean")


def _concat_text(argument: exp.Expression, answers: Answers | None, function: str = "CONCAT") -> exp.Expression:
    """A CONCAT argument as the text SQL Server makes of it: a decimal with every digit of its scale (CONCAT(2.50,
    'x') is '2.50x'), through the CAST to text (_decimal_text, which refuses a decimal of unknown scale); a float,
    money or datetime (written in style 0) is refused; a value whose type the runner cannot tell is refused when
    it holds a number with a fraction. Other values (text, integers, date, datetime2) are written as stored."""
    kind = tsql_type(argument, answers)
    if kind in ("decimal", "numeric"):
        text = exp.Cast(to=exp.DataType.build("VARCHAR(MAX)", dialect="tsql"))
        argument.replace(text)  # in the tree first: a column's type is found through the query around it
        text.set("this", argument)
        return text
    if kind in _CONCAT_STYLED:
        raise NotInSubset(f"{function} of a {kind} value (SQL Server writes it in style 0, which the sandbox does "
                          "not): CAST it to the text you mean, or to decimal(p,s)")
    if (kind is None or kind == arithmetic.BY_VALUE) and answers is not None and not isinstance(argument, exp.Null):
        real = exp.EQ(this=_runner_call_node("typeof", argument.copy()), expression=exp.Literal.string("real"))
        return exp.Case(ifs=[exp.If(this=real, true=_refuse_sql(_CONCAT_UNKNOWN.replace("CONCAT", function)))],
                        default=argument)
    return argument


def _named_values(node: exp.Values, visit: Callable[[exp.Expression], exp.Expression],
                  answers: Answers | None) -> exp.Expression:
    """`(VALUES (1, 'a'), (2, 'b')) AS v(x, y)`, a table value constructor with named columns, as SQLite's
    `(SELECT column1 AS x, column2 AS y FROM (VALUES ...)) AS v` (SQLite names a VALUES list's columns column1,
    column2, ...). A column holding text and values of another type is refused: SQL Server converts them to the
    type of highest precedence (error 245 for text that is no number), which the sandbox does not model here."""
    alias = node.args["alias"]
    names = [c.name for c in alias.columns]
    rows = [row.expressions if isinstance(row, exp.Tuple) else [row] for row in node.expressions]
    if any(len(row) != len(names) for row in rows):
        raise SyntaxProblem(f"the VALUES list of {alias.name} has rows of other lengths than its {len(names)} "
                            "column names")
    for i, name in enumerate(names):
        kinds = {tsql_type(row[i], answers) for row in rows if not isinstance(row[i], exp.Null)}
        if kinds & set(CHARACTER_TYPES) and kinds - set(CHARACTER_TYPES):
            raise NotInSubset(f"VALUES with text and values of other types in one column ({alias.name}.{name}): "
                              "SQL Server converts them to the type of highest precedence; CAST them to one type")
    node.set("alias", None)
    values = node.transform(visit, copy=False)
    select = exp.select(*(exp.alias_(exp.column(f"column{i + 1}", quoted=True), name, quoted=True)
                          for i, name in enumerate(names))).from_(exp.Subquery(this=values))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=alias.this.copy()))


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


def _results_typed(node: exp.Case | exp.If, answers: Answers | None) -> None:
    """CASE and IIF return the type of highest precedence among their results (data type precedence), as SQL
    Server does: a text result is converted to it when it is a number (CASE WHEN 1 = 0 THEN 1 ELSE 'a' END is
    error 245, 'a' converted to int) or a date or time (to its stored form); a date of another type too. Refused
    where the conversion needs a precision and scale (decimal, money) or is from a number to a date."""
    if isinstance(node, exp.Case):
        keys: list[tuple[exp.Expression, str]] = [(i, "true") for i in node.args.get("ifs") or []]
        keys.append((node, "default"))
    else:
        keys = [(node, "true"), (node, "false")]
    results = [(owner, key, owner.args.get(key)) for owner, key in keys]
    present = [(owner, key, r) for owner, key, r in results if isinstance(r, exp.Expression) and
               not isinstance(r, exp.Null)]
    common = common_type([r for _, _, r in present], answers)
    if common is None or common in CHARACTER_TYPES:
        return
    what = "CASE" if isinstance(node, exp.Case) else "IIF"
    for owner, key, result in present:
        kind = tsql_type(result, answers)
        if kind == common:
            continue
        if common in _DATE_TYPES and kind in (*CHARACTER_TYPES, *_DATE_TYPES):
            pass
        elif common in _DATE_TYPES:
            raise NotInSubset(f"{what} of a {common} result and a {kind} result (SQL Server converts the {kind} "
                              f"to {common}): CAST the result to the type you mean")
        elif kind not in CHARACTER_TYPES:
            continue  # numbers of other types: the value is the same
        elif common not in _COMPARED_AS_NUMBERS:
            raise NotInSubset(f"{what} of text and {common} results (SQL Server converts the text to the {common} "
                              "result's precision and scale, which the sandbox does not model): CAST the results "
                              "to the type you mean")
        converted = exp.Cast(to=exp.DataType.build(common, dialect="tsql"))
        result.replace(converted)  # in the tree first: a column's type is found through the query around it
        converted.set("this", result)
        owner.set(key, converted)


def _coalesce_typed(node: exp.Coalesce, answers: Answers) -> None:
    """COALESCE's result has the type of highest precedence among its arguments (as CASE): a text
    argument is converted to a numeric result type, with SQL Server's error 245 for one that is not a
    number. A decimal result needs its precision and scale, which the runner does not derive: refused."""
    arguments = [node.this, *node.expressions]
    common = common_type(arguments, answers)
    if common is None:
        _coalesce_unknown(node, arguments, answers)
        return
    if common in CHARACTER_TYPES or common not in (*arithmetic.INTEGERS, "float", "real", "decimal", "money"):
        return
    texts = [a for a in arguments if tsql_type(a, answers) in CHARACTER_TYPES]
    if not texts:
        return
    if common not in (*arithmetic.INTEGERS, "float"):
        raise NotInSubset(f"COALESCE of text and {common} arguments (the {common} result's precision and scale)")
    converted = [exp.Cast(this=a, to=exp.DataType.build(common)) if a in texts else a for a in arguments]
    node.set("this", converted[0])
    node.set("expressions", converted[1:])


_COALESCE_UNKNOWN = ("COALESCE of an argument whose type the sandbox cannot tell, {what} (SQL Server converts every "
                     "argument to the type of highest precedence among them): CAST the argument to its type")


def _coalesce_unknown(node: exp.Coalesce, arguments: list[exp.Expression], answers: Answers) -> None:
    """COALESCE where an argument's type is unknown: the types the others have decide what its value may be.
    With text arguments only (known), a number in it is refused when the statement meets it; with numbers only,
    a text; text and numbers together, or no argument of a known type, are refused (the result's type is the
    unknown argument's, or a conversion the sandbox cannot choose)."""
    if any(isinstance(a, exp.Placeholder) and not str(a.this).startswith("opusv_") for a in arguments):
        return  # the runner's own markers (writes.py wraps a written value in a COALESCE of them)
    present = [a for a in arguments if not isinstance(a, exp.Null)]
    types = [tsql_type(a, answers) for a in present]
    known = {t for t in types if t is not None and t != arithmetic.BY_VALUE}
    unknown = [a for a, t in zip(present, types, strict=True) if t is None or t == arithmetic.BY_VALUE]
    if len(present) < 2 or not unknown:
        return
    refused: tuple[str, ...]
    if known and known <= set(CHARACTER_TYPES):
        refused, what = ("integer", "real"), "holding a number among text arguments"
    elif known and known <= {*arithmetic.INTEGERS, "bit", "decimal", "money", "smallmoney", "float", "real"}:
        refused, what = ("text",), "holding text among numeric arguments"
    else:
        raise NotInSubset(_COALESCE_UNKNOWN.format(what="with no argument of a known type" if not known else
                                                   "among arguments of other kinds"))
    def guard(argument: exp.Expression) -> exp.Expression:
        if not any(argument is u for u in unknown):
            return argument
        kind = exp.In(this=_runner_call_node("typeof", argument.copy()),
                      expressions=[exp.Literal.string(k) for k in refused])
        return exp.Case(ifs=[exp.If(this=kind, true=_refuse_sql(_COALESCE_UNKNOWN.format(what=what)))],
                        default=argument)

    node.set("this", guard(node.this))
    node.set("expressions", [guard(e) for e in node.expressions])


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
    if operator == "/" and answers is not None and "decimal" in (left_type, right_type) \
            and not {left_type, right_type} & {"float", "real"}:
        # decimal division where an operand's full type is unknown: the quotient's scale is at least 6, so a
        # quotient with at most 6 decimals is SQL Server's whatever the types; another one is refused
        divided = _arithmetic_checked(operator, node, visit, answers, unchecked, checked, left_type, right_type)
        rounded = exp.Anonymous(this="round", expressions=[divided.copy(), exp.Literal.number(6)])
        # (SQLite divides in doubles: 0.3 / 3 is 0.09999999999999999, whose 6 decimals are the exact 0.1)
        off = exp.Abs(this=exp.Sub(this=rounded.copy(), expression=divided.copy()))
        bound = exp.Mul(this=exp.Literal.number("1e-9"), expression=exp.Anonymous(this="max", expressions=[
            exp.Literal.number(1), exp.Abs(this=divided.copy())]))
        return exp.Case(ifs=[exp.If(this=exp.GT(this=off, expression=bound), true=_refuse_sql(_LOOSE_DIVISION))],
                        default=rounded)
    return _arithmetic_checked(operator, node, visit, answers, unchecked, checked, left_type, right_type)


_LOOSE_DIVISION = ("decimal division of an operand whose precision and scale the sandbox cannot tell, with a quotient "
                   "of more than 6 decimals (SQL Server gives it to the result type's scale): CAST the operands to "
                   "decimal(p,s)")


def _arithmetic_checked(operator: str, node: exp.Expression, visit: Callable[[exp.Expression], exp.Expression],
                        answers: Answers | None, unchecked: list[str], checked: list[str], left_type: str | None,
                        right_type: str | None) -> exp.Expression:
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
    # a new node: its operands are translated already (visiting them again would refuse the runner's functions)
    return type(node)(**{**node.args, "this": left, "expression": right})


def _decimal_operand(node: exp.Expression, answers: Answers | None) -> str | None:
    """The full type an operand of decimal division has there: an integer constant counts by its digits
    (SQL Server's 1.0 / 3 divides by a decimal(1,0)), other integers by their type's precision."""
    operand = decimal_operand(node, answers)
    return f"decimal({operand[0]},{operand[1]})" if operand is not None else full_type(node, answers)


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


def _constant_number(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


def _negate(node: exp.Neg, visit: Callable[[exp.Expression], exp.Expression], answers: Answers | None,
            unchecked: list[str], checked: list[str]) -> exp.Expression | None:
    """Unary minus of an integer in its own type: of the type's smallest value, error 8115 (SQL Server's
    -@i for @i = -2147483648; SQLite would give 2147483648). Written as 0 - x in that type, checked as any
    subtraction; of a value whose type the runner cannot tell, as 0 - x with the int 0 (the runtime check
    then refuses a value whose answer depends on its type). None where SQLite's minus is SQL Server's."""
    kind = tsql_type(node.this, answers)
    if kind not in (*arithmetic.INTEGERS, None, arithmetic.BY_VALUE):
        return None
    if answers is None and kind in (None, arithmetic.BY_VALUE):
        # a view (stored as SQLite's SQL) or a static check: SQLite's minus, refused at the smallest value of
        # an integer type, where the type decides between the value and error 8115
        value = node.this.transform(visit, copy=False)
        smallest = [exp.Literal.number(low) for low in (-(2**15), -(2**31), -(2**63))]
        return exp.Case(ifs=[exp.If(this=exp.In(this=value.copy(), expressions=smallest), true=_refuse_sql(
            "unary minus of the smallest value of an integer type, whose type the sandbox cannot tell (SQL Server: "
            "error 8115 for that type): CAST the value to its type"))], default=exp.Neg(this=value))
    zero: exp.Expression = exp.Literal.number(0)
    if kind in arithmetic.INTEGERS:
        zero = exp.Cast(this=zero, to=exp.DataType.build(str(kind)))
    return _arithmetic("-", exp.Sub(this=zero, expression=node.this), visit, answers, unchecked, checked)


def _window_aggregate(node: exp.Window, visit: Callable[[exp.Expression], exp.Expression],
                      answers: Answers | None) -> exp.Expression:
    """SUM(...) OVER (...) and AVG(...) OVER (...) as their plain aggregates: an int total out of range is
    error 8115, AVG of integers an integer (truncated, as SQL Server divides); of a value whose type the
    runner cannot tell, a total beyond the int range or a fractional AVG of integer values is refused."""
    function = node.this
    argument = tsql_type(function.this, answers)
    for key in ("partition_by", "order", "spec"):
        part = node.args.get(key)
        if isinstance(part, list):
            node.set(key, [p.transform(visit, copy=False) for p in part])
        elif isinstance(part, exp.Expression):
            node.set(key, part.transform(visit, copy=False))
    function.set("this", function.this.transform(visit, copy=False))
    return _typed_total(node, isinstance(function, exp.Avg), argument)


def _typed_total(total: exp.Expression, average: bool, argument: str | None) -> exp.Expression:
    """A translated SUM or AVG (plain or windowed) given SQL Server's result for its argument's type."""
    if argument in arithmetic.INTEGERS:
        if average:
            return exp.Cast(this=total, to=exp.DataType.build("INTEGER"))
        return arithmetic.plain_sum(total, "bigint" if argument == "bigint" else "int")
    if argument in ("float", "real"):  # SQL Server's SUM of floats is a float: beyond its range, error 8115
        return arithmetic.plain_float_result(total, "float")
    if argument is not None and argument != arithmetic.BY_VALUE:
        return total
    # the argument's type is unknown: SQLite's answer stands where every integer type would give it
    value = total.copy()
    if average:
        whole = exp.Cast(this=value.copy(), to=exp.DataType.build("INTEGER"))
        real = exp.EQ(this=_runner_call_node("typeof", value.copy()), expression=exp.Literal.string("real"))
        differs = exp.and_(real,
                           exp.NEQ(this=value.copy(), expression=whole.copy()))
        what = ("AVG of a value whose type the sandbox cannot tell, with a fraction (SQL Server's AVG of integers "
                "is an integer): CAST the value to its type")
        if isinstance(total, exp.Avg):  # integer values (SQLite's SUM of them is an integer): an integer average
            integers = exp.EQ(this=_runner_call_node("typeof", exp.Sum(this=total.this.copy())),
                              expression=exp.Literal.string("integer"))
            return exp.Case(ifs=[exp.If(this=exp.and_(integers.copy(), differs), true=_refuse_sql(what)),
                                 exp.If(this=integers, true=whole)], default=total)
    else:
        low, high = arithmetic.RANGES["int"]
        differs = exp.and_(exp.EQ(this=_runner_call_node("typeof", value.copy()),
                                  expression=exp.Literal.string("integer")),
                           exp.Not(this=exp.Between(this=value.copy(), low=exp.Literal.number(low),
                                                    high=exp.Literal.number(high))))
        what = ("SUM of a value whose type the sandbox cannot tell, beyond the int range (SQL Server: error 8115 "
                "for int, the total for bigint): CAST the value to its type")
    return exp.Case(ifs=[exp.If(this=differs, true=_refuse_sql(what))], default=total)


def _aggregate(node: exp.Sum | exp.Avg, visit: Callable[[exp.Expression], exp.Expression],
               answers: Answers | None) -> exp.Expression:
    """SUM and AVG of integers as SQL Server computes them: an int total out of range is error 8115,
    and AVG of integers is an integer (SQLite's AVG is always a float)."""
    argument = tsql_type(node.this, answers)
    node.set("this", node.this.transform(visit, copy=False))
    return _typed_total(node, isinstance(node, exp.Avg), argument)


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
    # nvarchar (or unknown) to code page 1252; not sqlglot's own CAST(x AS TEXT) around LEN's argument
    if name in ("char", "varchar") and source not in sqltypes.CHARACTER and to.this != exp.DataType.Type.TEXT:
        from .writes import code_page_checked  # (writes.py imports this module)

        cast = exp.Var(this="(" + code_page_checked(value.sql(dialect=SandboxSQLite, identify=True),
                                                    cast.sql(dialect=SandboxSQLite, identify=True)) + ")")
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
    if len(replacements) != 1 or isinstance(replacements[0], exp.Null) or isinstance(node.this, exp.Null):
        return  # (ISNULL(NULL, b) is b)
    if first is None:
        base = tsql_type(node.this, answers)
        if base in (*arithmetic.INTEGERS, "bit", "float", "real"):
            first = base  # a type without a length, precision or scale: b converted to it exactly
        elif not _unchanged_as(replacements[0], "numeric value" if base is None and is_numeric(node.this, answers)
                               else base):
            # a's length, precision or scale (or its type) is unknown: b is returned only when a is NULL, and
            # then its conversion could differ (SQLite's ifnull is lazy: the refusal runs only then)
            node.set("expressions", [_refuse_sql(
                "ISNULL(a, b) returning b where the sandbox cannot tell a's full type (b is converted to it: "
                "truncated, rounded or error 245); CAST a to its type")])
            return
        else:
            return
    if dialect.parse_type(first)[0] not in dialect.SUPPORTED_TYPES or full_type(replacements[0], answers) == first:
        return
    node.set("expressions", [exp.Cast(this=replacements[0], to=exp.DataType.build(first, dialect="tsql"))])


def _unchanged_as(value: exp.Expression, base: str | None) -> bool:
    """Whether SQL Server's conversion of `value` (a literal) to any type of the `base` family gives it back as
    the sandbox returns it: a text of at most one ASCII character to any character type, 0 to a decimal."""
    while isinstance(value, exp.Paren):
        value = value.this
    if base in CHARACTER_TYPES:
        text = value.this if isinstance(value, exp.National) or (isinstance(value, exp.Literal) and value.is_string) \
            else None
        return isinstance(text, str) and len(text) <= 1 and text.isascii()
    if base in ("decimal", "numeric", "money", "smallmoney", "numeric value"):
        return _zero(value)
    return False


def _cut_at_8000_bytes(node: exp.Replace, answers: Answers | None) -> None:
    """REPLACE of a text that is not varchar(max) or nvarchar(max) cuts its result at 8,000 bytes (REPLACE's
    page): 8,000 characters of char/varchar, 4,000 UTF-16 code units of nchar/nvarchar. Written as LEFT of the
    REPLACE, in place, where the text's type is known and the result can be longer than that; a text of a type
    the runner cannot tell is left as it is (docs/embedded-runner.md, Known differences)."""
    if answers is None:  # a static check: nothing to refuse here
        return
    result = full_type(node, answers)  # nvarchar(4000) or varchar(8000) where it is cut (expression_types)
    if result is None or "max" in result:
        return
    limit = int(result.partition("(")[2].rstrip(")"))
    declared = full_type(bare(node.this), answers)  # a character type here: REPLACE's result is typed by it
    length = sqltypes.read_type(declared).length if declared is not None else None
    search, replacement = node.args.get("expression"), node.args.get("replacement")
    found, put = (_literal_text(search) or None), _literal_text(replacement) if replacement is not None else None
    if length is not None and found is not None and put is not None:
        longest = length + (length // len(found)) * max(len(put) - len(found), 0)  # every match replaced
        if longest <= limit:
            return  # never past the cut (most REPLACEs: a short text, or no longer replacement)
    cut = exp.Left(this=node.copy(), expression=exp.Literal.number(limit))
    node.replace(cut)


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
    too_long = arithmetic.raise_sql(arithmetic.overflow("numeric", name).text).sql(dialect=SandboxSQLite)

    def written(decimal: exp.Expression) -> exp.Expression:
        sql = f"({decimal.sql(dialect=SandboxSQLite, identify=True)})"
        text = f"printf('%.{scale}f', {sql})"
        if length not in (None, -1):
            text = f"CASE WHEN length({text}) > {length} THEN {too_long} ELSE {text} END"
        return exp.Var(this=f"CASE WHEN {sql} IS NULL THEN NULL ELSE {text} END")

    # the value computed once (a conversion of it is a call of the runner's function), then written
    return _bound_once(value, "opus_d", written)


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
    if any(o.meta.get(_RUNNER_CALL) for o in present):
        return  # a guard the translator wrote (typeof(x) = 'text'): compared as SQLite compares, no call per row
    explicit = any(isinstance(o, exp.Collate) for o in present)  # a COLLATE decides (SQLite: the left one first)
    if isinstance(node, _ORDERING) and _functions(answers) and not explicit \
            and any(is_stringy(o, answers) for o in present) and not any(_not_text(o, answers) for o in present):
        node.set("this", exp.Collate(this=node.this, expression=exp.var(collation.ORDER)))
    elif not explicit:
        collate_strings(node, answers)
    if answers is not None and not answers.functions and not _binary(present):
        for operand in present:
            _odbc_text_check(_constant_text(operand, answers))


#: the meta key marking a SQLite function call the translator wrote (the visitor lets it through)
_RUNNER_CALL = "opus_runner_call"


def _runner_call_node(name: str, *arguments: exp.Expression) -> exp.Expression:
    call = exp.Anonymous(this=name, expressions=list(arguments))
    call.meta[_RUNNER_CALL] = True
    return call


def _refuse_sql(construct: str) -> exp.Expression:
    """SQL that refuses the statement when SQLite evaluates it (marked: the visitor lets it through)."""
    raised = arithmetic.raise_sql(arithmetic.REFUSED + construct)
    raised.meta[_RUNNER_CALL] = True
    return raised


#: the types a string compared with them is converted to by a plain CAST (no precision or scale to choose)
_COMPARED_AS_NUMBERS = (*arithmetic.INTEGERS, "bit", "float", "real")
_TEXT_MEETS_NUMBER = ("comparison of a number with a value whose type the sandbox cannot tell, holding text "
                      "(SQL Server converts the text to the number's type, error 245 when it is not a number; "
                      "SQLite compares it as text): CAST the value to its type")


#: one operand of a comparison: (argument key, index in a list argument or None, the operand)
_Operand = tuple[str, int | None, exp.Expression]


def _compared_operands(node: exp.Expression) -> tuple[list[_Operand], Callable[[_Operand, exp.Expression], None]]:
    """The operands a comparison (=, <, IN, BETWEEN, a simple CASE) compares with each other, and a function
    that puts a replacement in an operand's place. `x IN (SELECT y ...)` compares x with the subquery's one
    column; `CASE x WHEN v THEN ...` compares x with each v."""
    keys = [k for k in ("this", "expression", "low", "high") if isinstance(node.args.get(k), exp.Expression)]
    operands: list[_Operand] = [(k, None, node.args[k]) for k in keys]
    select: exp.Expression | None = None
    projection: exp.Expression | None = None
    if isinstance(node, exp.In):
        query = node.args.get("query")
        if query is not None:
            select = query.this if isinstance(query, exp.Subquery) else query
            if not isinstance(select, exp.Select) or len(select.expressions) != 1:
                return [], lambda operand, replacement: None
            projection = select.expressions[0]
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            operands += [("query", None, inner)]
        operands += [("expressions", i, e) for i, e in enumerate(node.expressions)]
    if isinstance(node, exp.Case):
        operands = [(k, None, o) for k, _, o in operands if k == "this"]
        operands += [("ifs", i, w.this) for i, w in enumerate(node.args.get("ifs") or [])]

    def put(operand: _Operand, replacement: exp.Expression) -> None:
        key, index, _ = operand
        if key == "query":  # the subquery's column (its alias kept)
            if isinstance(projection, exp.Alias):
                projection.set("this", replacement)
            elif select is not None:
                select.set("expressions", [replacement])
        elif index is None:
            node.set(key, replacement)
        elif key == "ifs":
            node.args["ifs"][index].set("this", replacement)
        else:  # (set again as a list: the replacement gets its parent, and is translated in turn)
            listed = list(node.expressions)
            listed[index] = replacement
            node.set("expressions", listed)

    return operands, put


def _compare_as_numbers(node: exp.Expression, answers: Answers | None) -> None:
    """A string compared with a number is converted to the number's type, as SQL Server's data type
    precedence has it (`varchar_col = 24` compares CAST(varchar_col AS INT) = 24: '024' equals, 'abc' is
    error 245); SQLite would compare text. Where the number's type is decimal or money (the precision and
    scale of the conversion) the comparison is refused; an operand whose type the runner cannot tell is
    refused when the statement meets a text value in it."""
    operands, put = _compared_operands(node)
    if len(operands) < 2:
        return
    # a NULL literal is typeless here: `varchar_col IN (NULL)` converts nothing (tsql_type calls it int); a
    # COLLATE'd text meeting a number is converted too (`'12' COLLATE Latin1_General_BIN2 = 12` is true)
    types = [None if isinstance(o, exp.Null) else tsql_type(o, answers) for _, _, o in operands]
    numbers = [t for t in types if t in arithmetic.NUMBERS]
    if not numbers:
        return
    target = numbers[0]
    for other in numbers[1:]:
        target = arithmetic.higher(target, other)
    for operand, kind in zip(operands, types, strict=True):
        replacement: exp.Expression | None = None
        if kind in CHARACTER_TYPES:
            if target not in _COMPARED_AS_NUMBERS:
                raise NotInSubset(f"comparison of text with a {target} value (SQL Server converts the text to the "
                                  f"{target}'s type, with a precision and scale the sandbox does not model): CAST "
                                  "the text to the type you mean")
            replacement = exp.Cast(this=operand[2], to=exp.DataType.build(target, dialect="tsql"))
        elif (kind is None or kind == arithmetic.BY_VALUE) and not isinstance(operand[2], exp.Null | exp.Subquery):
            text = exp.EQ(this=_runner_call_node("typeof", operand[2].copy()), expression=exp.Literal.string("text"))
            replacement = exp.Case(ifs=[exp.If(this=text, true=_refuse_sql(_TEXT_MEETS_NUMBER))], default=operand[2])
        if replacement is not None:
            put(operand, replacement)


#: the date and time types a comparison converts the other operands to (datetimeoffset is refused as a type)
_DATE_TYPES = ("datetime2", "datetime", "smalldatetime", "date", "time")
_TEXT_MEETS_DATE = ("comparison of a {target} value with a value whose type the sandbox cannot tell, holding text "
                    "that is not in the {target}'s stored form (SQL Server converts the text to {target} first; "
                    "SQLite would compare the texts): CAST the value to {target}")


_DATES_COMPARED = "opus_dates_compared"


def _compare_as_dates(node: exp.Expression, answers: Answers | None) -> None:
    """A date or time compared with text, or with a date or time of another type: the other operand is
    converted to the type of highest precedence (data type precedence), as SQL Server does. The sandbox
    stores each type in one text form ('2024-02-10 00:00:00.0000000' for datetime2), so `d = '2024-02-10'`
    compares CAST('2024-02-10' AS DATETIME2) = d, which finds midnight as SQL Server does. A number met by a
    date (SQL Server counts days from 1900-01-01 for datetime, error 206 for the others) and a time met by a
    date are refused; an operand whose type the runner cannot tell is refused when it holds text that the
    conversion would change."""
    if node.meta.get(_DATES_COMPARED):  # (done before the tree was translated: see rewrite)
        return
    node.meta[_DATES_COMPARED] = True
    operands, put = _compared_operands(node)
    if len(operands) < 2 or any(isinstance(o, exp.Collate) for _, _, o in operands):
        return
    types = [tsql_type(o, answers) for _, _, o in operands]
    dates = [t for t in types if t in _DATE_TYPES]
    if not dates:
        return
    target = dates[0]
    for other in dates[1:]:
        target = arithmetic.higher(target, other)
    if "time" in dates and target != "time":
        raise NotInSubset(f"comparison of a time with a {target} value (SQL Server: error 402 for date, a conversion "
                          "to 1900-01-01 for the others): CAST both to the type you mean")
    for operand, kind in zip(operands, types, strict=True):
        value = operand[2]
        if kind == target or isinstance(value, exp.Null | exp.Subquery):
            continue
        if kind in CHARACTER_TYPES or kind in _DATE_TYPES:
            put(operand, exp.Cast(this=value, to=exp.DataType.build(target, dialect="tsql")))
        elif kind is None or kind == arithmetic.BY_VALUE:
            converted = exp.Cast(this=value.copy(), to=exp.DataType.build(target, dialect="tsql"))
            changed = exp.and_(exp.EQ(this=_runner_call_node("typeof", value.copy()),
                                      expression=exp.Literal.string("text")),
                               # (IS NOT: a comparison this pass leaves alone, where <> would be converted again)
                               exp.NullSafeNEQ(this=converted, expression=value.copy()))
            put(operand, exp.Case(ifs=[exp.If(this=changed, true=_refuse_sql(_TEXT_MEETS_DATE.format(
                target=target)))], default=value))
        else:
            raise NotInSubset(f"comparison of a {target} value with a {kind} value (SQL Server converts a number "
                              "to datetime as days since 1900-01-01, and refuses it for the other date types with "
                              "error 206): CAST the value to the type you mean")


def _needs_default_collation(term: exp.Expression, answers: Answers | None) -> bool:
    """Whether a GROUP BY term or a DISTINCT / UNION column needs an explicit COLLATE to compare under SQL
    Server's default collation: everything but a COLLATE, a number or a date, and a column of a stored table
    (stored COLLATE NOCASE: see sqlite_schema). A literal, UPPER(x), CONCAT(...), CASE, a derived table's or a
    view's column would compare binary in SQLite ('a' and 'A' two values); on a value that is not text the
    collation does nothing."""
    inner = term.this if isinstance(term, exp.Alias) else term
    if isinstance(inner, exp.Collate) or is_star(inner):
        return False
    if (isinstance(inner, exp.Literal) and not inner.is_string) or isinstance(inner, exp.Null):
        return False
    kind = tsql_type(inner, answers)
    if kind is not None and kind != arithmetic.BY_VALUE and kind not in CHARACTER_TYPES:
        return False
    if isinstance(inner, exp.Column) and isinstance(inner.this, exp.Identifier) and answers is not None \
            and full_type(inner, answers) is not None:
        return False  # a stored table's column: its own collation
    return True


def _collate_projections(select: exp.Select, answers: Answers | None, refuse_blanks: bool = False) -> None:
    """The columns of a DISTINCT or of a UNION / EXCEPT / INTERSECT branch under the default collation.
    `refuse_blanks` (EXCEPT, INTERSECT): a text of blanks only is refused when the statement meets it (SQLite's
    EXCEPT and INTERSECT fail, "database disk image is malformed", when the collation makes '' equal to ' ')."""
    for i, projection in enumerate(select.expressions):
        if not _needs_default_collation(projection, answers):
            continue
        if isinstance(projection, exp.EQ) and is_variable(projection.this):
            continue  # SELECT @v = ... (not a column)
        value = unalias(projection).copy()
        if refuse_blanks:
            text = exp.EQ(this=_runner_call_node("typeof", value.copy()), expression=exp.Literal.string("text"))
            blank = exp.and_(text,
                             exp.EQ(this=exp.Length(this=exp.Anonymous(this="rtrim", expressions=[
                                 value.copy(), exp.Literal.string(" ")])), expression=exp.Literal.number(0)))
            value = exp.Case(ifs=[exp.If(this=blank, true=_refuse_sql(
                "EXCEPT or INTERSECT of text that is empty or blanks only (SQLite's set operations fail on it under "
                "the sandbox's collation)"))], default=value)
        collated = exp.Collate(this=value, expression=exp.var(collation.DEFAULT))
        if isinstance(projection, exp.Alias):
            projection.set("this", collated)
        else:
            select.expressions[i] = collated


def _distinct_union(node: exp.Union, visit: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """`a UNION b [ORDER BY ...]` as `SELECT DISTINCT * FROM (a UNION ALL b) [ORDER BY ...]`: the same rows, and
    SQLite's UNION fails ("database disk image is malformed") when the collation makes '' equal to ' ', where
    its DISTINCT does not."""
    node.set("distinct", False)
    moved = {k: node.args.get(k) for k in ("order", "limit", "offset")}
    for key in moved:
        node.set(key, None)
    translated = node.transform(visit, copy=False)  # a UNION ALL now: its branches translated as usual
    wrapper = exp.select(exp.Star()).from_(exp.Subquery(this=translated, alias=exp.TableAlias(
        this=exp.to_identifier("opus_union")))).distinct()
    for key, part in moved.items():
        if isinstance(part, exp.Expression):
            wrapper.set(key, part.transform(visit, copy=False))
    return wrapper


def _value_kind(node: exp.Expression, answers: Answers | None) -> str | None:
    """'text', 'number' or 'date' for a value whose type the runner can tell; None otherwise (NULL too)."""
    if isinstance(bare(node), exp.Null):
        return None
    kind = tsql_type(node, answers)
    if kind in CHARACTER_TYPES:
        return "text"
    if kind in NUMERIC_TYPES or kind == "bit":
        return "number"
    if kind in sqltypes.DATE_TIME:
        return "date"
    return None


def _one_kind_per_column(node: exp.Expression, answers: Answers | None) -> None:
    """A UNION, EXCEPT or INTERSECT gives each column the type of highest precedence among its queries and
    converts the other queries' values to it ("Set Operators"): text among numbers is converted to the
    number's type (error 245 for text that is no number), text among dates to the date's. SQLite keeps each
    value as it is, so a column mixing those kinds is refused (an INSERT's source is left to its write plan,
    writes.py, which converts each query's values to the common type or refuses)."""
    source = node.parent.parent if isinstance(node.parent, exp.Subquery) else node.parent
    if isinstance(source, exp.Insert):
        return  # an INSERT's source: its write plan converts each query's values first, or refuses (writes.py)
    branches = _set_branches(node)
    if len(branches) < 2 or any(is_star(p) for b in branches for p in b.expressions):
        return
    width = min(len(b.expressions) for b in branches)
    for i in range(width):
        kinds = {k for b in branches if (k := _value_kind(unalias(b.expressions[i]), answers)) is not None}
        if len(kinds) > 1:
            raise NotInSubset(f"a UNION, EXCEPT or INTERSECT whose column {i + 1} holds {' and '.join(sorted(kinds))} "
                              "values (SQL Server converts every query's value to the type of highest precedence, "
                              "error 245 for text that is no number): CAST them to one type")


def _set_branches(node: exp.Expression) -> list[exp.Select]:
    if isinstance(node, exp.Select):
        return [node]
    if isinstance(node, exp.Union | exp.Except | exp.Intersect):
        return [*_set_branches(node.this), *_set_branches(node.expression)]
    if isinstance(node, exp.Subquery):
        return _set_branches(node.this)
    return []


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
    node = bare(node)
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
    same answer. Without the runner's functions (the ODBC target, a view: SQLite stores its SQL) SQLite's
    LIKE or GLOB with checks that refuse, when the statement runs, a value whose answer could differ."""
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

    def negated(result: exp.Expression) -> exp.Expression:
        return exp.Not(this=exp.Paren(this=result)) if negate else result

    if literal and set(literal) == {"%"} and escape_char != "%":  # matches every value that is not NULL, whatever
        return negated(exp.Not(this=exp.Is(this=value, expression=exp.Null())))  # its characters or collation
    if literal is not None and sensitive and simple_escape:
        globbed = _as_glob(literal, escape_char)
        matched = _glob_like(value, *globbed, unicode) if globbed is not None else None
        if matched is not None:
            return negated(matched)
    plain: exp.Expression = exp.Like(this=value, expression=pattern)
    if escape is not None:
        plain = exp.Escape(this=plain, expression=escape)
    if _functions(answers):
        flags = (collation.LIKE_SENSITIVE if sensitive else 0) | (collation.LIKE_UNICODE if unicode else 0) | (
            collation.LIKE_TYPES_UNKNOWN if unicode is None else 0)
        call: exp.Expression = exp.Anonymous(this="tsql_like", expressions=[
            value.copy(), pattern.copy(), escape.copy() if escape is not None else exp.Null(),
            exp.Literal.number(flags)])
        if not (literal is not None and simple_escape and _sqlite_like_agrees(literal, escape_char, sensitive)):
            return negated(call)
        if sensitive:  # no letters in the pattern: SQLite's LIKE compares every character by code point
            return negated(plain)
        # SQLite's LIKE, in C, for printable ASCII values; the collation model (tsql_like, which refuses what it
        # does not vouch for) for any other value: SQLite folds ASCII letters only
        return negated(_native_unless(value, _BEYOND_PRINTABLE, call, plain))
    text = literal
    if answers is not None and text is None:
        text = _constant_text(node.expression, answers)
    return negated(_plain_like(plain, value, pattern, escape, text, escape_char, sensitive, unicode,
                               static=answers is not None))


_PLAIN_LIKE = ("LIKE {what} on the ODBC SQLite target or in a view (SQLite's own LIKE: it folds ASCII letters only, "
               "has no [...] classes and counts the value's trailing blanks; run it on the sandbox or SQL Server, "
               "or apply the LIKE in the query that reads the view)")


def _plain_like(plain: exp.Expression, value: exp.Expression, pattern: exp.Expression, escape: exp.Expression | None,
                text: str | None, escape_char: str, sensitive: bool, unicode: bool | None,
                static: bool) -> exp.Expression:
    """SQLite's own LIKE (`plain`) where it gives SQL Server's answer, with checks made when the statement
    runs that refuse a value or pattern where it could not: text beyond printable ASCII under the default
    collation, a value with trailing blanks under a pattern that does not end in %, a pattern with a [...]
    class. A pattern known before the statement runs is refused at once where `static` (the ODBC target);
    in a view or a static check the refusal waits for a row (the view is stored as SQLite's SQL)."""
    def refuse(what: str) -> exp.Expression:
        construct = _PLAIN_LIKE.format(what=what)
        if static:
            raise NotInSubset(construct)
        return _refuse_sql(construct)

    checks: list[tuple[exp.Expression, str]] = []
    if text is not None:
        unescaped = re.sub(re.escape(escape_char) + ".", "x", text, flags=re.S) if escape_char else text
        if "[" in unescaped:
            return refuse("with a [...] character class")
        if sensitive and any(c.isalpha() for c in unescaped):
            return refuse("case-sensitive, of letters, with a pattern that is not a literal")
        if not sensitive and not (text.isascii() and text.isprintable()):
            return refuse("with a pattern of characters beyond printable ASCII")
        open_end = unescaped.endswith("%")
    else:
        if escape is not None and not escape_char:
            return refuse("with a computed ESCAPE character")
        checks.append((exp.Glob(this=pattern.copy(), expression=exp.Literal.string("*[[]*")),
                       "with a [...] character class"))
        if sensitive:
            checks.append((exp.Glob(this=pattern.copy(), expression=exp.Literal.string("*[A-Za-z]*")),
                           "case-sensitive, of letters, with a pattern that is not a literal"))
        else:
            checks.append((exp.Glob(this=pattern.copy(), expression=exp.Literal.string(_BEYOND_PRINTABLE)),
                           "with a pattern of characters beyond printable ASCII"))
        open_end = False
    checks.append((_holds_nul(value), "of a value holding a NUL character (SQLite's LIKE stops at it)"))
    if not sensitive:
        checks.append((exp.Glob(this=value.copy(), expression=exp.Literal.string(_BEYOND_PRINTABLE)),
                       "of a value with characters beyond printable ASCII"))
    if text is not None and not open_end and unicode is False and not unescaped.endswith(("_", " ")):
        # varchar: the match ends on a character, the blanks after it are the value's: compared without them
        like = plain.find(exp.Like)
        assert like is not None
        like.set("this", exp.Anonymous(this="RTRIM", expressions=[like.this, exp.Literal.string(" ")]))
        open_end = True
    if not open_end and not unicode:  # varchar ignores the value's trailing blanks, SQLite counts them
        blanks: exp.Expression = exp.Glob(this=value.copy(), expression=exp.Literal.string("* "))
        if text is None:
            blanks = exp.And(this=blanks, expression=exp.Not(this=exp.Glob(this=pattern.copy(),
                                                                           expression=exp.Literal.string("*%"))))
        checks.append((blanks, "of a value with trailing blanks under a pattern that does not end in % (SQL Server "
                               "ignores them in varchar text, counts them in nvarchar)"))
    if not checks:
        return plain
    return exp.Case(ifs=[exp.If(this=check, true=_refuse_sql(_PLAIN_LIKE.format(what=what))) for check, what in checks],
                    default=plain)


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


_NUL_TEXT = ("LEN, LEFT, RIGHT or SUBSTRING of text containing a NUL character (SQLite measures and cuts text at "
             "it; SQL Server counts it as a character)")


def _holds_nul(text: exp.Expression) -> exp.Expression:
    """Whether a (translated) text holds a NUL character: instr() sees the whole value, where SQLite's length(),
    substr(), LIKE and GLOB stop at the NUL."""
    nul = exp.Anonymous(this="char", expressions=[exp.Literal.number(0)])
    return exp.GT(this=exp.Anonymous(this="instr", expressions=[text.copy(), nul]), expression=exp.Literal.number(0))


def _measured(text: exp.Expression, result: exp.Expression) -> exp.Expression:
    """`result` (a length or part of `text`, translated) refused when `text` holds a NUL character."""
    return exp.Case(ifs=[exp.If(this=_holds_nul(text), true=_refuse_sql(_NUL_TEXT))], default=result)


def _astral_pattern() -> exp.Expression:
    """A copy of `_astral_glob()` (trees are changed in place where they are used)."""
    return _astral_glob().copy()


@functools.cache
def _astral_glob() -> exp.Expression:
    """A GLOB pattern: a character beyond U+FFFF anywhere in the text. Built with char() rather than written
    as a literal: the SQLite ODBC driver miscounts the `?` markers after a literal holding such characters."""
    return cast(exp.Expression, sqlglot.parse_one("'*[' || char(65536) || '-' || char(1114111) || ']*'",
                                                  read=SandboxSQLite))


_BEYOND_BMP_TEXT = ("{function} of text with a character beyond U+FFFF on the ODBC SQLite target or in a view (SQL "
                    "Server counts UTF-16 code units, SQLite characters; run it on the sandbox or SQL Server)")


def _astral(text: exp.Expression) -> exp.Expression:
    """Whether `text` holds a character beyond U+FFFF: `text GLOB _astral_glob()`, which matches each character
    against the class (the larger part of LEN's cost on a long text), tried only when the text is not plain
    ASCII. Text whose UTF-8 bytes are as many as its characters is ASCII, and a NUL makes them differ (length()
    stops at it), so the answer is the GLOB's for every value: NULL, a number (its text is ASCII), a blob (the
    GLOB then decides)."""
    def call(name: str, argument: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this=name, expressions=[argument])

    bytes_ = call("length", exp.Cast(this=text.copy(), to=exp.DataType.build("BLOB")))
    ascii_text = exp.And(this=exp.EQ(this=call("typeof", text.copy()), expression=exp.Literal.string("text")),
                         expression=exp.EQ(this=bytes_, expression=call("length", text.copy())))
    return exp.And(this=exp.Not(this=exp.Paren(this=ascii_text)),
                   expression=exp.Glob(this=text.copy(), expression=_astral_pattern()))


#: A call of an aggregate or window function in SQLite text. Such a value cannot be computed inside a subquery
#: of its own (SQLite: "misuse of aggregate"); a scalar max(a, b) matching too only costs the binding.
_AGGREGATE_CALL = re.compile(r"\b(?:sum|total|avg|min|max|count|group_concat|string_agg|json_group_array"
                             r"|json_group_object|tsql_string_agg\w*)\s*\(|\bover\s*\(", re.IGNORECASE)


def _bound_once(value: exp.Expression, name: str,
                body: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """`body(value)`, with a computed `value` evaluated once per row: SQLite evaluates an expression each time
    it is written, and a guarded conversion or measure writes its operand three to five times. The value is
    bound as `name` in a one-row subquery, `(SELECT body(name) FROM (SELECT value AS name))`; a column, literal
    or marker (cheaper read again than bound), and a value holding an aggregate or window function (which a
    subquery of its own cannot compute), are written in place."""
    if isinstance(value, exp.Column | exp.Literal | exp.Null | exp.Placeholder | exp.Parameter):
        return body(value)
    sql = value.sql(dialect=SandboxSQLite, identify=True)
    if _AGGREGATE_CALL.search(sql):
        return body(value)
    inner = body(exp.column(name)).sql(dialect=SandboxSQLite, identify=True)
    return exp.Var(this=f"(SELECT {inner} FROM (SELECT {sql} AS {name}))")


def _beyond_bmp(text: exp.Expression, function: str, result: exp.Expression) -> exp.Expression:
    """`result` (plain SQLite, counting characters) refused when `text` holds a character beyond U+FFFF, which
    SQL Server counts as two code units."""
    beyond = _astral(text)
    return exp.Case(ifs=[exp.If(this=beyond, true=_refuse_sql(_BEYOND_BMP_TEXT.format(function=function)))],
                    default=result)


def _cut(node: exp.Left | exp.Right | exp.Substring, visit: Callable[[exp.Expression], exp.Expression],
         answers: Answers | None) -> exp.Expression:
    """SUBSTRING, LEFT and RIGHT as SQL Server computes them: positions before the first character count
    (SUBSTRING('abcd', 0, 2) is 'a', where SQLite counts a start below 1 from the end), a negative length is
    error 537 (536 for RIGHT), and positions are UTF-16 code units (collation.cut_text). Without the runner's
    functions: SQLite's substr() given the positions that lie in the text, with text beyond U+FFFF refused."""
    function = "SUBSTRING" if isinstance(node, exp.Substring) else "LEFT" if isinstance(node, exp.Left) else "RIGHT"
    _text_argument(node, function, answers)
    single = _single_units(node.this, answers)
    text = node.this.transform(visit, copy=False)
    if function == "SUBSTRING":
        start = node.args.get("start")
        length = node.args.get("length")
        if start is None or length is None:
            raise SyntaxProblem("SUBSTRING takes three arguments: SUBSTRING(expression, start, length)")
        start = start.transform(visit, copy=False)
    else:
        start, length = exp.Null(), node.expression
    length = length.transform(visit, copy=False)
    if _functions(answers) and not single:
        return _measured(text, _runner_call_node("tsql_cut", text.copy(), start, length,
                                                 exp.Literal.string(function)))
    error = collation.RIGHT_LENGTH if function == "RIGHT" else collation.LEFT_OR_SUBSTRING_LENGTH
    negative = exp.LT(this=length.copy(), expression=exp.Literal.number(0))
    cut: exp.Expression
    if function == "LEFT":
        cut = exp.Substring(this=text.copy(), start=exp.Literal.number(1), length=length.copy())
    elif function == "RIGHT":
        cut = exp.Substring(this=text.copy(), start=exp.Neg(this=length.copy()), length=length.copy())
    else:  # the positions max(start, 1) .. start + length - 1
        first = exp.Anonymous(this="max", expressions=[start.copy(), exp.Literal.number(1)])
        count = exp.Anonymous(this="max", expressions=[
            exp.Sub(this=exp.Add(this=start.copy(), expression=length.copy()), expression=first.copy()),
            exp.Literal.number(0)])
        cut = exp.Substring(this=text.copy(), start=first, length=count)
    checked = exp.Case(ifs=[exp.If(this=negative, true=arithmetic.raise_sql(f"Msg {error[0]}: {error[1]}"))],
                       default=cut if single else _beyond_bmp(text, function, cut))
    return _measured(text, checked)


def _text_argument(node: exp.Expression, function: str, answers: Answers | None) -> None:
    """The text argument of LEN, LEFT, RIGHT or SUBSTRING (`node.this`, inside sqlglot's CAST(x AS TEXT) where it
    wrote one) made the text SQL Server converts a number to (as CONCAT's arguments: a decimal with its scale; a
    float, money or datetime refused), in place."""
    owner = node
    if isinstance(owner.this, exp.Cast) and owner.this.to.this == exp.DataType.Type.TEXT:
        owner = owner.this
    argument = owner.this
    made = _concat_text(argument, answers, function)
    if made is not argument and made.parent is None:
        owner.set("this", made)


def _single_units(text: exp.Expression, answers: Answers | None) -> bool:
    """Whether the (untranslated) text is known to be char, varchar or text, whose code page 1252 characters are
    one UTF-16 code unit each: SQLite's counts are SQL Server's there, without the runner's functions."""
    while isinstance(text, exp.Cast) and text.to.this == exp.DataType.Type.TEXT:  # sqlglot's CAST(x AS TEXT)
        text = text.this  # (T-SQL's LEN(x), LEFT(x, n) are read with one around x)
    return tsql_type(text, answers) in ("char", "varchar", "text")


def _first_unicode(text: exp.Expression, answers: Answers | None) -> exp.Expression:
    """UNICODE: the first UTF-16 code unit (the high surrogate of a character beyond U+FFFF, as SQL Server gives
    it under a collation without _SC); without the runner's functions, SQLite's unicode(), refused beyond U+FFFF."""
    if _functions(answers):
        return _runner_call_node("tsql_unicode", text)
    point = exp.Anonymous(this="unicode", expressions=[text])
    return exp.Case(ifs=[exp.If(this=exp.GT(this=point.copy(), expression=exp.Literal.number(0xFFFF)),
                                true=_refuse_sql(_BEYOND_BMP_TEXT.format(function="UNICODE")))], default=point)


#: the significant digits a SQLite REAL holds exactly (a double: 15)
REAL_DIGITS = 15
_BIGINT = dialect.INTEGER_RANGES["bigint"]


def significant_digits(text: str) -> int:
    """The significant digits of a number literal written without an exponent ('0012.50' has three)."""
    whole, _, fraction = text.partition(".")
    if whole.lstrip("0"):
        return len((whole.lstrip("0") + fraction.rstrip("0")).lstrip("0"))
    return len(fraction.strip("0"))


def _exact_literal(node: exp.Literal) -> None:
    """A number literal of more than 15 significant digits is numeric(p,s) in SQL Server (an integer beyond the
    int range too), exact to 38 digits; SQLite reads it as a double, keeping 15. Refused, except an integer in
    the bigint range (SQLite's integers hold it exactly) that is not an operand of arithmetic (where SQLite's
    integer result would overflow to a double: 9223372036854775807 + 1)."""
    text = str(node.this).lower()
    if "e" in text:
        return  # a float literal: a double in both
    whole, _, fraction = text.partition(".")
    digits = significant_digits(text)
    if digits <= REAL_DIGITS:
        return
    outer = cast(exp.Expression | None, node.parent)
    negated = False
    while isinstance(outer, exp.Paren | exp.Neg):
        negated ^= isinstance(outer, exp.Neg)
        outer = cast(exp.Expression | None, outer.parent)
    value = int(whole) * (-1 if negated else 1) if not fraction.strip("0") else None
    if value is not None and _BIGINT[0] <= value <= _BIGINT[1] and not isinstance(outer, tuple(_OPERATORS)):
        return
    raise NotInSubset(f"the number {text} in an expression, a decimal with more than {REAL_DIGITS} significant "
                      f"digits ({digits}: SQL Server keeps up to 38, SQLite's doubles {REAL_DIGITS}): CAST it to "
                      "BIGINT (an integer) or to FLOAT if that is what you mean")


def _zero(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string and str(node.this).strip() in ("0", "0.0")


def _datetime_now(clock: str, functions_here: bool) -> exp.Expression:
    """GETDATE(), GETUTCDATE(), CURRENT_TIMESTAMP: a datetime, the clock's milliseconds rounded to 1/300 s as
    SQL Server's datetime keeps them (.000, .003, .007): by the sandbox's function where the connection has it
    (a short call: the conversion's SQL, repeated wherever a derived table's column is read, grows with every
    reference SQLite's flattener copies), else through the conversion a datetime column makes."""
    if functions_here:
        return exp.Anonymous(this="tsql_datetime_ticks", expressions=[sqlglot.parse_one(clock, read=SandboxSQLite)])
    from .writes import VALUE, date_time  # (writes.py imports this module)

    return exp.Var(this="(" + date_time(VALUE, "datetime", "datetime2").replace(VALUE, clock) + ")")


def _sqlite(text: str) -> exp.Expression:
    return exp.Paren(this=sqlglot.parse_one(text, read=SandboxSQLite))


def _runner_call(name: str, args: list[exp.Expression | None], answers: Answers | None, runtime_values: list[str],
                 deferred: list[tuple[str, tuple[tuple[str, Any], ...]]]) -> exp.Expression:
    """A catalog or session function the runner answers: a marker bound when the statement runs (`DEFERRED`),
    else its answer now, as a literal (recorded in `runtime_values`; None for a static check)."""
    given = [a for a in args if a is not None]
    if answers is not None and answers.defer and name in DEFERRED:
        return _deferred(deferred, name, tuple(_argument(a) for a in given))
    runtime_values.append(f"{name}()")
    if answers is None:
        return exp.Null()
    return _literal(answers.runner_function(name, [_constant(a, answers) for a in given]))


def _deferred(deferred: list[tuple[str, tuple[tuple[str, Any], ...]]], name: str,
              arguments: tuple[tuple[str, Any], ...]) -> exp.Expression:
    deferred.append((name, arguments))
    return exp.Placeholder(this=f"opusd_{len(deferred) - 1}")


def _argument(node: exp.Expression) -> tuple[str, Any]:
    """A catalog function's argument as the engine reads it when the statement runs: a constant, or a variable
    by name (its value then); `_constant`'s rules."""
    if isinstance(node, exp.Placeholder) and str(node.this).startswith("opusv_"):
        return "variable", str(node.this)[len("opusv_"):]
    if is_variable(node):
        return "variable", variable_name(node)
    return "value", _constant(node, Answers(lambda n: None, lambda n, a: None, lambda n: None))


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
