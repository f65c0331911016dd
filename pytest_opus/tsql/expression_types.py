"""What T-SQL type an expression has, as far as the runner can tell, and what follows from it.

SQLite decides `+` and string comparison differently from SQL Server: its `+` is always arithmetic
and it compares text case-sensitively unless told otherwise. T-SQL's `+` concatenates when both
sides are strings (a number on either side makes it arithmetic, by type precedence), and the
default collation ignores case. So the runner needs to know which expressions are strings: literals,
string functions, CASTs, declared variables, and catalog columns whose name has one character type
in every table. Anything it cannot tell is treated as not a string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from . import dialect

if TYPE_CHECKING:
    from .translate import Answers

CHARACTER_TYPES = {"char", "varchar", "nchar", "nvarchar", "text", "ntext"}
NUMERIC_TYPES = dialect.INTEGER_TYPES | dialect.EXACT_NUMERIC_TYPES | {"float", "real", "money"}
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
