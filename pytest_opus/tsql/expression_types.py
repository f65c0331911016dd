"""What T-SQL type an expression has, as far as the runner can tell, and what follows from it.

SQLite decides `+` and string comparison differently from SQL Server: its `+` is always arithmetic
and it compares text case-sensitively unless told otherwise. T-SQL's `+` concatenates when both
sides are strings (a number on either side makes it arithmetic, by type precedence), and the
default collation ignores case. So the runner needs to know which expressions are strings: literals,
string functions, CASTs, declared variables, and catalog columns whose name has one character type
in every table. Anything it cannot tell is treated as not a string.

`tsql_type` goes further for arithmetic and CAST, which SQL Server computes in the operands' types
(arithmetic.py): it types literals, variables, CASTs, functions and operators as SQL Server does,
and a column from the table the statement reads it from. None means the runner cannot tell.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from sqlglot import exp

from .. import sqltypes
from . import arithmetic, dialect, functions

if TYPE_CHECKING:
    from .translate import Answers

CHARACTER_TYPES = set(sqltypes.STRINGS)
NUMERIC_TYPES = {*sqltypes.WHOLE_NUMBERS, *sqltypes.DECIMALS, *sqltypes.APPROXIMATE, "money"}
_STRING_FUNCTIONS = {"QUOTENAME", "NCHAR", "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "REPLACE", "SUBSTRING",
                     "ERROR_MESSAGE", "ERROR_PROCEDURE", "OBJECT_NAME", "SCHEMA_NAME", "DB_NAME",
                     "SUSER_SNAME", "USER_NAME", "ORIGINAL_LOGIN", "HOST_NAME"}
_STRING_NODES = (exp.National, exp.Concat, exp.DPipe, exp.GroupConcat, exp.Upper, exp.Lower, exp.Trim,
                 exp.Substring, exp.Left, exp.Right, exp.Replace, exp.Chr, exp.CurrentUser, exp.CurrentSchema)
_NUMERIC_NODES = (exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Count, exp.Sum, exp.Avg, exp.Length,
                  exp.Abs, exp.Round, exp.Sign, exp.StrPosition, exp.Unicode, exp.ObjectId)
_NUMERIC_FUNCTIONS = {"OBJECT_ID", "COL_LENGTH", "ERROR_NUMBER", "ERROR_LINE", "ERROR_SEVERITY", "ERROR_STATE",
                      "XACT_STATE", "SCHEMA_ID", "SCOPE_IDENTITY", "ISJSON"}


def type_of(node: exp.Expression, answers: Answers | None) -> str | None:
    """The base T-SQL type name of a variable, column or CAST, when known."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast | exp.Convert):
        to = node.to if isinstance(node, exp.Cast) else node.this
        return dialect.parse_type(to.sql(dialect="tsql").replace(" ", ""))[0] if isinstance(to, exp.DataType) else None
    if answers is None:
        return None
    if is_variable(node):
        return dialect.parse_type(answers.variable_type(variable_name(node)))[0]
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        return answers.column_type(node.name)
    return None


def is_stringy(node: exp.Expression, answers: Answers | None) -> bool:
    """Whether T-SQL types this expression as a string."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, _STRING_NODES):
        return True
    if functions.handles(node):
        return functions.result_type(node, lambda n: tsql_type(n, answers)) in CHARACTER_TYPES
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _STRING_FUNCTIONS
    if isinstance(node, exp.Add):
        return concatenates(node, answers)
    if isinstance(node, exp.Coalesce):  # ISNULL / COALESCE take the type of their first argument
        return is_stringy(node.this, answers)
    return type_of(node, answers) in CHARACTER_TYPES


def is_numeric(node: exp.Expression, answers: Answers | None) -> bool:
    """Whether T-SQL types this expression as a number."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return not node.is_string
    if isinstance(node, _NUMERIC_NODES):
        return True
    if functions.handles(node):
        return functions.result_type(node, lambda n: tsql_type(n, answers)) in NUMERIC_TYPES
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _NUMERIC_FUNCTIONS
    if isinstance(node, exp.Add):
        return not concatenates(node, answers)
    if isinstance(node, exp.Coalesce):
        return is_numeric(node.this, answers)
    return type_of(node, answers) in NUMERIC_TYPES


def concatenates(node: exp.Add, answers: Answers | None) -> bool:
    """T-SQL's `+` joins strings when one side is a string and neither is a number (a number wins by
    type precedence: '1' + 1 is 2)."""
    sides = (node.this, node.expression)
    return any(is_stringy(s, answers) for s in sides) and not any(is_numeric(s, answers) for s in sides)


def is_variable(node: exp.Expression) -> bool:
    return isinstance(node, exp.Parameter) and not isinstance(node.this, exp.Parameter)


def variable_name(node: exp.Expression) -> str:
    return node.this.name.lower() if isinstance(node.this, exp.Expression) else str(node.this).lower()


COMPARISONS = exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE


def collate_strings(node: exp.Expression, answers: Answers | None) -> None:
    """Compare strings without case, as SQL Server's default collation does.

    Character columns are stored COLLATE NOCASE, which covers comparisons with a column; a literal or
    variable on its own would compare in SQLite's binary collation. An explicit COLLATE on one operand
    decides the comparison (for IN, BETWEEN and a simple CASE, only on the left operand), and on a
    literal or variable it changes no type affinity.
    """
    left = node.args.get("this")
    if isinstance(node, exp.In | exp.Case):
        others = node.expressions if isinstance(node, exp.In) else [i.this for i in node.args.get("ifs") or []]
        stringy = left is not None and any(is_stringy(e, answers) for e in [left, *others])
        candidates = [("this", left)] if stringy else []
    elif isinstance(node, exp.Between):
        candidates = [("this", left)] if left is not None and is_stringy(left, answers) else []
    else:
        candidates = [(k, node.args.get(k)) for k in ("this", "expression")]
        candidates = [(k, e) for k, e in candidates if e is not None and is_stringy(e, answers)]
    for key, operand in candidates:
        if operand is None or isinstance(operand, exp.Column | exp.Collate | exp.Subquery):
            continue
        node.set(key, exp.Collate(this=operand, expression=exp.var("NOCASE")))
        return


# -- T-SQL types, as SQL Server gives them -------------------------------------------------------
#: expressions whose type does not depend on their arguments
_FIXED_TYPES: dict[type[exp.Expression], str] = {
    exp.Length: "int", exp.StrPosition: "int", exp.Unicode: "int", exp.ObjectId: "int",
    exp.RowNumber: "bigint", exp.Rank: "bigint", exp.DenseRank: "bigint", exp.CurrentTimestamp: "datetime",
    exp.JSONExtractScalar: "nvarchar", exp.Uuid: "uniqueidentifier", exp.CurrentUser: "nvarchar",
    exp.CurrentSchema: "nvarchar", exp.Chr: "char", exp.National: "nvarchar", exp.Null: "int",
}
#: expressions of their (first) argument's type
_ARGUMENT_TYPED = (exp.Abs, exp.Sign, exp.Round, exp.Min, exp.Max, exp.Upper, exp.Lower, exp.Trim,
                   exp.Substring, exp.Replace, exp.Left, exp.Right, exp.Nullif, exp.Neg, exp.Paren)
#: functions the runner answers or rewrites, by name (SQL Server's documented return types)
_FUNCTION_TYPES = {
    "ERROR_NUMBER": "int", "ERROR_LINE": "int", "ERROR_SEVERITY": "int", "ERROR_STATE": "int",
    "XACT_STATE": "smallint", "OBJECT_ID": "int", "COL_LENGTH": "smallint", "SCHEMA_ID": "int",
    "SCOPE_IDENTITY": "decimal", "ISJSON": "int", "ERROR_MESSAGE": "nvarchar", "ERROR_PROCEDURE": "nvarchar",
    "OBJECT_NAME": "nvarchar", "SCHEMA_NAME": "nvarchar", "DB_NAME": "nvarchar", "SUSER_SNAME": "nvarchar",
    "SUSER_NAME": "nvarchar", "USER_NAME": "nvarchar", "ORIGINAL_LOGIN": "nvarchar", "HOST_NAME": "nvarchar",
    "QUOTENAME": "nvarchar", "NCHAR": "nchar", "GETUTCDATE": "datetime", "SYSDATETIME": "datetime2",
    "SYSUTCDATETIME": "datetime2",
}
#: @@ values (@@IDENTITY is numeric(38,0))
_SYSTEM_TYPES = {"ROWCOUNT": "int", "TRANCOUNT": "int", "ERROR": "int", "IDENTITY": "decimal",
                 "SPID": "smallint", "VERSION": "nvarchar", "SERVERNAME": "nvarchar"}
_SUM_TYPES = {"tinyint": "int", "smallint": "int", "int": "int", "bigint": "bigint", "decimal": "decimal",
              "money": "money", "smallmoney": "money", "float": "float", "real": "float"}
_ARITHMETIC = (exp.Sub, exp.Mul, exp.Div, exp.Mod)


def tsql_type(node: exp.Expression, answers: Answers | None) -> str | None:
    """The base type SQL Server gives this (untranslated) expression, or None when the runner cannot
    tell. `arithmetic.BY_VALUE` for a parameter bound from Python, whose type is its value's."""
    kind = type(node)
    if kind in _FIXED_TYPES:
        return _FIXED_TYPES[kind]
    if isinstance(node, exp.Literal):
        return _literal_type(node)
    if isinstance(node, exp.Cast | exp.Convert):
        to = node.to if isinstance(node, exp.Cast) else node.this
        return dialect.parse_type(to.sql(dialect="tsql").replace(" ", ""))[0] if isinstance(to, exp.DataType) else None
    if isinstance(node, _ARGUMENT_TYPED):
        return tsql_type(node.this, answers)
    if isinstance(node, exp.Collate):  # COLLATE changes a text's collation, not its type (of text only: Msg 447)
        operand = tsql_type(node.this, answers)
        return operand if operand in CHARACTER_TYPES else None
    if isinstance(node, exp.Parameter):
        if isinstance(node.this, exp.Parameter):
            return _SYSTEM_TYPES.get(node.this.name.upper())
        if answers is None:
            return None
        declared = answers.variable_type(variable_name(node))
        return arithmetic.BY_VALUE if declared == "sql_variant" else dialect.parse_type(declared)[0]
    if isinstance(node, exp.Column):
        return _column_type(node, answers) if isinstance(node.this, exp.Identifier) else None
    if isinstance(node, exp.Add):
        if concatenates(node, answers):
            return _common_type([node.this, node.expression], answers)
        return _operation_type(node, answers)
    if isinstance(node, _ARITHMETIC):
        return _operation_type(node, answers)
    if isinstance(node, exp.Count):
        return "bigint" if node.args.get("big_int") else "int"
    if isinstance(node, exp.Sum | exp.Avg):
        argument = tsql_type(node.this, answers)
        return _SUM_TYPES.get(argument) if argument else None
    if isinstance(node, exp.Window):
        return tsql_type(node.this, answers)
    if isinstance(node, exp.Coalesce):
        if node.args.get("is_null"):  # ISNULL takes its first argument's type
            return tsql_type(node.this, answers)
        return _common_type([node.this, *node.expressions], answers)
    if isinstance(node, exp.Case):
        return _common_type([i.args["true"] for i in node.args.get("ifs") or []] + [node.args.get("default")], answers)
    if isinstance(node, exp.If):
        return _common_type([node.args.get("true"), node.args.get("false")], answers)
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
        return tsql_type(unalias(node.this.expressions[0]), answers)
    if functions.handles(node):
        return functions.result_type(node, lambda n: tsql_type(n, answers))
    if isinstance(node, exp.Anonymous):
        return _FUNCTION_TYPES.get(str(node.this).upper())
    return None


#: integer expressions whose values lie in a known range (LEN, CHARINDEX, UNICODE, COUNT)
_BOUNDED = (exp.Length, exp.StrPosition, exp.Unicode, exp.Count)


def value_bounds(node: exp.Expression) -> tuple[int, int] | None:
    """The least and greatest value of an integer expression, where known without running it."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        inner = value_bounds(node.this)
        return (-inner[1], -inner[0]) if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string and _literal_type(node) == "int":
        return int(node.this), int(node.this)
    if isinstance(node, _BOUNDED) and not node.args.get("big_int"):
        return 0, dialect.INTEGER_RANGES["int"][1]
    if isinstance(node, exp.Case) and node.this is None:  # CASE WHEN ... THEN 0 ELSE 1 END: its results' bounds
        results = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        found = [value_bounds(r) for r in results if r is not None and not isinstance(r, exp.Null)]
        if found and all(b is not None for b in found):
            return min(b[0] for b in found if b), max(b[1] for b in found if b)
        return None
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):  # in the int range whatever the operands: a sum of counts
        left, right = value_bounds(node.this), value_bounds(node.expression)
        if left is None or right is None:
            return None
        if isinstance(node, exp.Mul):
            corners = [a * b for a in left for b in right]
            low, high = min(corners), max(corners)
        else:
            low, high = (left[0] + right[0], left[1] + right[1]) if isinstance(node, exp.Add) else (
                left[0] - right[1], left[1] - right[0])
        int_low, int_high = dialect.INTEGER_RANGES["int"]
        return (low, high) if int_low <= low and high <= int_high else None
    return None


def _literal_type(node: exp.Literal) -> str:
    if node.is_string:
        return "varchar"
    text = str(node.this).lower()
    if "e" in text:
        return "float"
    if "." in text:
        return "decimal"
    low, high = dialect.INTEGER_RANGES["int"]
    return "int" if low <= int(text) <= high else "decimal"  # a larger integer constant is numeric


def _operation_type(node: exp.Expression, answers: Answers | None) -> str | None:
    left, right = tsql_type(node.this, answers), tsql_type(node.expression, answers)
    if left is None or right is None or arithmetic.BY_VALUE in (left, right):
        return None
    return arithmetic.higher(left, right)


def _common_type(nodes: list[exp.Expression | None], answers: Answers | None) -> str | None:
    """The type of CASE, COALESCE, IIF: the highest precedence among the results (NULLs aside)."""
    types = [tsql_type(n, answers) for n in nodes if n is not None and not isinstance(n, exp.Null)]
    if not types or any(t is None or t == arithmetic.BY_VALUE for t in types):
        return None
    found = types[0]
    for other in types[1:]:
        found = arithmetic.higher(found, other)  # type: ignore[arg-type]
    return found


common_type = _common_type


def is_star(node: exp.Expression) -> bool:
    """`*` or `t.*` in a select list."""
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))


def unalias(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.Alias) else node


def bare(node: exp.Expression) -> exp.Expression:
    """The expression inside its parentheses and COLLATE clauses (which change neither value nor type)."""
    while isinstance(node, exp.Paren | exp.Collate):
        node = node.this
    return node


# -- columns: the table a statement reads them from ----------------------------------------------
#: a source's columns: name -> base type (None: the column is there, its type unknown); None for a
#: source whose columns the runner cannot list (a #temp table, a catalog view, a VALUES list)
Columns = dict[str, str | None] | None


def _column_type(column: exp.Column, answers: Answers | None) -> str | None:
    """The column's type in the table (or derived table) it comes from, searching outward through
    enclosing queries for a correlated reference. None when that source is not a catalog table."""
    if answers is None:
        return None
    name = column.name.lower()
    qualifier = column.table.lower() if column.table else None
    child: exp.Expression = column
    scope = cast(exp.Expression | None, column.parent)
    while scope is not None:
        # a query sees its own sources, except from inside one of them (a derived table sees only
        # the queries around the one it belongs to)
        if isinstance(scope, exp.Select | exp.Update | exp.Delete) and child.arg_key not in _SOURCE_KEYS:
            sources = _sources(scope, answers)
            if qualifier is not None:
                if qualifier in sources:
                    columns = sources[qualifier]
                    return columns.get(name) if columns is not None else None
            else:
                hits = [c[name] for c in sources.values() if c is not None and name in c]
                if len(hits) == 1:
                    return hits[0]
                if hits or any(c is None for c in sources.values()):
                    return None
        child, scope = scope, cast(exp.Expression | None, scope.parent)
    return answers.column_type(column.name)


_SOURCE_KEYS = {"from", "from_", "joins"}
_TYPING: set[int] = set()  # derived tables being typed (a guard against a reference cycle)


def _sources(scope: exp.Expression, answers: Answers) -> dict[str, Columns]:
    """alias -> {column: base type} of each table a query reads; None for one the runner cannot type."""
    nodes: list[exp.Expression] = []
    if isinstance(scope, exp.Update | exp.Delete) and scope.this is not None:
        nodes.append(scope.this)
    source = scope.args.get("from_") or scope.args.get("from")
    if source is not None:
        nodes.append(source.this)
    nodes += [j.this for j in scope.args.get("joins") or []]
    if isinstance(scope, exp.Update) and isinstance(scope.this, exp.Table):
        nodes += [j.this for j in scope.this.args.get("joins") or []]
    found: dict[str, Columns] = {}
    for node in nodes:
        alias = node.alias_or_name.lower()
        if isinstance(node, exp.Table):
            found[alias] = _table_columns(node, answers)
        elif isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select | exp.SetOperation):
            found[alias] = _derived_columns(node.this, answers)
        else:
            found[alias] = None
    return found


def _table_columns(table: exp.Table, answers: Answers) -> Columns:
    schema = table.args.get("db")
    temp = temp_table_name(table)
    if temp is not None:  # a #temp table (a table variable's too): its declared types, from SQLite's temp schema
        return answers.table_columns(temp)  # type: ignore[return-value]
    if schema is not None and schema.name.lower() != "dbo":  # a catalog view, or its snapshot in temp
        return dialect.catalog_view_columns(  # type: ignore[return-value]
            table.name if schema.name.lower() == "temp" else f"{schema.name}.{table.name}")
    cte = _cte(table)
    if cte is not None:
        return _derived_columns(cte, answers) if isinstance(cte, exp.Select | exp.SetOperation) else None
    return answers.table_columns(table.name)  # type: ignore[return-value]


def temp_table_name(table: exp.Table) -> str | None:
    """`#t` for a #temp table, as written (`#t`) or as translated (`temp.#t`); None for other tables."""
    if isinstance(table.this, exp.Identifier) and table.this.args.get("temporary"):
        return "#" + table.name
    schema = table.args.get("db")
    if schema is not None and schema.name.lower() == "temp" and table.name.startswith("#"):
        return table.name
    return None


def _cte(table: exp.Table) -> exp.Expression | None:
    root = table.root()
    held = getattr(_LAST_CTES, "entry", None)
    if held is None or held[0] is not root:  # a statement's CTEs, found once (not once per column read)
        ctes: dict[str, exp.CTE] = {}
        for cte in root.find_all(exp.CTE):
            ctes.setdefault(cte.alias_or_name.lower(), cte)
        held = _LAST_CTES.entry = (root, ctes)
    found = held[1].get(table.name.lower())
    return found.this if found is not None else None


#: The CTEs of the statement last typed, by name, per thread: translation never adds or removes a CTE,
#: and the nodes are read when asked (`.this`), so a CTE translated since is seen as it is now.
_LAST_CTES = threading.local()


def _derived_columns(query: exp.Select | exp.SetOperation, answers: Answers) -> Columns:
    """The columns of a derived table or CTE. A UNION's are named by its first query, and each has
    the highest precedence type of its column in every query (data type precedence)."""
    if id(query) in _TYPING:
        return None
    _TYPING.add(id(query))
    try:
        branches = _branches(query)
        if not branches:
            return None
        names = [p.alias_or_name for p in branches[0].expressions]
        if not all(names) or any(len(b.expressions) != len(names) for b in branches) or any(
                isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for b in branches for p in b.expressions):
            return None
        return {name.lower(): _common_type([unalias(b.expressions[i]) for b in branches], answers)
                for i, name in enumerate(names)}
    finally:
        _TYPING.discard(id(query))


def _branches(query: exp.Expression) -> list[exp.Select]:
    if isinstance(query, exp.Select):
        return [query]
    if isinstance(query, exp.SetOperation):
        left, right = _branches(query.this), _branches(query.expression)
        return [*left, *right] if left and right else []
    return []


# -- full types: the length, precision and scale too ---------------------------------------------
CAST_LENGTH = sqltypes.CAST_LENGTH


def full_type(node: exp.Expression, answers: Answers | None) -> str | None:
    """The full T-SQL type of an (untranslated) expression ('decimal(18,4)', 'varchar(5)') where the runner
    knows it without running it: a CAST, a literal, a variable, a catalog table's column, ISNULL of one of
    those; None otherwise."""
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    if isinstance(node, exp.Cast | exp.Convert):
        to = node.to if isinstance(node, exp.Cast) else node.this
        return cast_type(to) if isinstance(to, exp.DataType) else None
    if isinstance(node, exp.Literal):
        return literal_full_type(node)
    if isinstance(node, exp.National):
        return f"nvarchar({max(sqltypes.utf16_length(node.this), 1)})"
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Parameter):  # @@IDENTITY is numeric(38,0)
        return "decimal(38,0)" if node.this.name.upper() == "IDENTITY" else None
    if isinstance(node, exp.Parameter) and not isinstance(node.this, exp.Parameter) and answers is not None:
        declared = answers.variable_type(variable_name(node))
        return None if declared == "sql_variant" else declared.replace(" ", "").lower()
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) and answers is not None:
        return _column_full_type(node, answers)
    if isinstance(node, exp.Coalesce) and node.args.get("is_null"):
        return full_type(node.this, answers)
    if isinstance(node, exp.Anonymous):
        return _FUNCTION_FULL_TYPES.get(str(node.this).upper())
    if isinstance(node, exp.Upper | exp.Lower):  # the argument's type, length included
        return full_type(node.this, answers)
    if isinstance(node, exp.Replace):  # varchar(8000) / nvarchar(4000), or the MAX type of a MAX text
        inner = full_type(bare(node.this), answers)
        base = inner.partition("(")[0] if inner else None
        if inner is None or base not in CHARACTER_TYPES or "max" in inner:
            return inner if inner is not None and "max" in inner else None
        return "nvarchar(4000)" if base in sqltypes.UNICODE else "varchar(8000)"
    if isinstance(node, _ARITHMETIC) or (isinstance(node, exp.Add) and not concatenates(node, answers)):
        return _decimal_result(node, answers)
    return None


#: the precision of each integer type as a decimal operand (data type precedence converts it to decimal(p,0))
_INTEGER_PRECISION = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}


def decimal_operand(node: exp.Expression, answers: Answers | None) -> tuple[int, int] | None:
    """(precision, scale) of an operand of decimal arithmetic: a decimal's own, an integer constant's digits
    (SQL Server types the constant 3 as decimal(1,0) there: 1.0 / 3 is 0.333333), an integer type's precision
    (int is decimal(10,0)); None for other types or where the runner cannot tell."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit():
        return len(str(node.this).lstrip("0")) or 1, 0
    found = full_type(node, answers)
    if found is None:
        return None
    name, _length, precision, scale = dialect.parse_type(found)
    if name in _INTEGER_PRECISION:
        return _INTEGER_PRECISION[name], 0
    if name in ("decimal", "numeric") and "(" in found:
        return (precision or 18), (scale or 0)
    return None


def _decimal_result(node: exp.Expression, answers: Answers | None) -> str | None:
    """The decimal(p,s) of `a + b`, `a - b`, `a * b`, `a / b` with a decimal operand and a decimal or integer
    other, by SQL Server's rules ("Precision, scale, and length"): + and -: s = max(s1, s2), p = s + max(p1 - s1,
    p2 - s2) + 1; *: p = p1 + p2 + 1, s = s1 + s2; /: s = max(6, s1 + p2 + 1), p = p1 - s1 + s2 + s. None where
    p would pass 38 (SQL Server then cuts the scale by rules the runner does not model), for % and for other
    types."""
    if isinstance(node, exp.Mod):
        return None
    kinds = {tsql_type(node.this, answers), tsql_type(node.expression, answers)}
    if "decimal" not in kinds and "numeric" not in kinds:
        return None
    left, right = decimal_operand(node.this, answers), decimal_operand(node.expression, answers)
    if left is None or right is None:
        return None
    (p1, s1), (p2, s2) = left, right
    if isinstance(node, exp.Mul):
        precision, scale = p1 + p2 + 1, s1 + s2
    elif isinstance(node, exp.Div):
        scale = max(6, s1 + p2 + 1)
        precision = p1 - s1 + s2 + scale
    else:
        scale = max(s1, s2)
        precision = scale + max(p1 - s1, p2 - s2) + 1
    return f"decimal({precision},{scale})" if precision <= 38 else None


#: the full types of the functions the runner answers that return text (SQL Server's documented types;
#: sysname is nvarchar(128))
_FUNCTION_FULL_TYPES = {
    "ERROR_MESSAGE": "nvarchar(4000)", "ERROR_PROCEDURE": "nvarchar(128)", "OBJECT_NAME": "nvarchar(128)",
    "SCHEMA_NAME": "nvarchar(128)", "DB_NAME": "nvarchar(128)", "SUSER_SNAME": "nvarchar(128)",
    "USER_NAME": "nvarchar(128)", "ORIGINAL_LOGIN": "nvarchar(128)", "HOST_NAME": "nvarchar(128)",
    "QUOTENAME": "nvarchar(258)", "SCOPE_IDENTITY": "decimal(38,0)",
}


def cast_type(to: exp.DataType) -> str:
    """The type a CAST names, in lower case: `VARCHAR` without a length is varchar(30), as in SQL Server."""
    text = to.sql(dialect="tsql").replace(" ", "").lower()
    name, _length, _precision, scale = dialect.parse_type(text)
    if name in (*sqltypes.SHORT_STRINGS, "binary", "varbinary") and "(" not in text:
        return f"{name}({CAST_LENGTH})"
    if name in sqltypes.TIME_TYPES and scale is not None:  # (writes.date_time rounds to n; the CAST does not pass it)
        from .translate import NotInSubset  # (translate imports this module)

        raise NotInSubset(f"CAST to {text} (SQL Server rounds to its {scale} decimals; the sandbox's CAST keeps "
                          f"seven): CAST to {name}, or assign it to a {text} variable")
    return text


def literal_full_type(node: exp.Literal) -> str:
    """'abc' varchar(3), 12 int, 1.50 decimal(3,2), 3000000000 decimal(10,0), 1e5 float."""
    text = str(node.this)
    if node.is_string:
        return f"varchar({max(len(text), 1)})"
    if "e" in text.lower():
        return "float"
    if "." in text:
        whole, fraction = text.split(".", 1)
        return f"decimal({max(len(whole.lstrip('0')) + len(fraction), 1)},{len(fraction)})"
    low, high = dialect.INTEGER_RANGES["int"]
    return "int" if low <= int(text) <= high else f"decimal({len(text.lstrip('0')) or 1},0)"


def _column_full_type(column: exp.Column, answers: Answers) -> str | None:
    """A column's full type, from the catalog table a query around it reads (by alias or name)."""
    name = column.name.lower()
    qualifier = column.table.lower() if column.table else None
    scope = cast(exp.Expression | None, column.parent)
    while scope is not None:
        if isinstance(scope, exp.Select | exp.Update | exp.Delete):
            tables = [t for t in scope.find_all(exp.Table) if t.parent_select is scope or t.parent is scope]
            hits = []
            for table in tables:
                if qualifier is not None and table.alias_or_name.lower() != qualifier:
                    continue
                columns = answers.table_column_types(temp_table_name(table) or table.name)
                if columns is not None and name in columns:
                    hits.append(columns[name])
            if len(hits) == 1:
                return hits[0]
            if hits:
                return None
        scope = cast(exp.Expression | None, scope.parent)
    return None


# -- the code page of varchar ---------------------------------------------------------------------
#: the characters outside ASCII and Latin-1 that code page 1252 holds (0x80 to 0x9F), the code page of the
#: default collation SQL_Latin1_General_CP1_CI_AS; varchar, char and text hold only its characters
CP1252_EXTRA = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"


def in_code_page(text: str) -> bool:
    """Whether varchar (code page 1252) holds every character of `text` unchanged."""
    return all(ord(ch) < 0x80 or 0xA0 <= ord(ch) <= 0xFF or ch in CP1252_EXTRA for ch in text)


_UNICODE_TYPES = set(sqltypes.UNICODE)


def is_unicode(nodes: list[exp.Expression | None], answers: Answers | None) -> bool | None:
    """Whether text compared by LIKE is Unicode (by data type precedence, when any argument is nchar,
    nvarchar or ntext), False when every argument is known to be another type, None when the runner
    cannot tell (a parameter bound from Python, a computed expression)."""
    unknown = False
    for given in nodes:
        node = bare(given) if given is not None else None
        if node is None or isinstance(node, exp.Null):
            continue
        kind = tsql_type(node, answers)
        if kind in _UNICODE_TYPES:
            return True
        unknown = unknown or kind is None or kind == arithmetic.BY_VALUE
    return None if unknown else False
