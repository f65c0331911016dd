"""Meaning-level comparison of T-SQL types, default definitions and check expressions.

The catalog reports what SQL Server stores (`nvarchar` with length -1, `((0))`, `(getutcdate())`);
expectations are written the way people write DDL (`NVARCHAR(MAX)`, `0`, `utc_now`). This module
turns both into one canonical form. Expressions are parsed with sqlglot rather than compared as text,
so redundant parentheses, bracket quoting, spacing and letter case do not count as differences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

import sqlglot
from sqlglot import exp

from pytest_opus.catalog import Column, Parameter
from pytest_opus.sqltypes import ALIASES, LENGTH_LIMITS, MAX_FRACTIONAL_SECONDS, TIME_TYPES, SqlType

# The declared type itself lives in pytest_opus/sqltypes.py, SQL Server's type vocabulary; its parser and
# error are re-exported here because the expectations' public API has always offered them.
from pytest_opus.sqltypes import InvalidType as InvalidType
from pytest_opus.sqltypes import parse_type as parse_type


def type_of(item: Column | Parameter) -> SqlType:
    """The normalised type of a catalog column or parameter (never raises: user types pass through)."""
    name = item.data_type.lower().strip()
    name = ALIASES.get(name, name)
    if name in LENGTH_LIMITS:
        return SqlType(name, item.max_length)
    if name == "decimal":
        return SqlType(name, precision=item.precision, scale=item.scale if item.scale is not None else 0)
    if name in TIME_TYPES:
        # Targets report the fractional precision in `scale` when they know it; 7 is the default.
        return SqlType(name, scale=None if item.scale in (None, MAX_FRACTIONAL_SECONDS) else item.scale)
    return SqlType(name)


TypeDifference = Literal["type", "length", "precision"]


def type_difference(expected: SqlType, actual: SqlType) -> TypeDifference | None:
    """Which aspect of a type differs, or None when the types mean the same."""
    if expected.name != actual.name:
        return "type"
    if expected.length != actual.length:
        return "length"
    if expected.name in TIME_TYPES:
        # Only a stated, non-default precision on both sides can be compared.
        if expected.scale is not None and actual.scale is not None and expected.scale != actual.scale:
            return "precision"
        return None
    if (expected.precision, expected.scale) != (actual.precision, actual.scale):
        return "precision"
    return None


# ---------------------------------------------------------------------------------------------
# Expressions: defaults and check constraints


@dataclass(frozen=True)
class DefaultValue:
    """The meaning of a default definition: a string value, a number, or a canonical expression."""

    kind: Literal["string", "number", "expression"]
    value: str

    def same_meaning(self, other: DefaultValue) -> bool:
        if self == other:
            return True
        # ('0') and ((0)) store the same value once SQL Server converts to the column's type.
        pair = {self.kind, other.kind}
        if pair == {"string", "number"}:
            text = self.value if self.kind == "string" else other.value
            number = other.value if self.kind == "string" else self.value
            return _number_text(text) == number
        return False


def _number_text(text: str) -> str | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return format(value.normalize(), "f")


def _is_atomic(node: exp.Expression) -> bool:
    """True when parentheses around `node` can never change what an expression means."""
    if isinstance(node, (exp.Binary, exp.Connector, exp.Predicate, exp.Not)):
        return False
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal)
    return isinstance(node, (exp.Literal, exp.Null, exp.Boolean, exp.Column, exp.Identifier,
                             exp.National, exp.Func, exp.Paren, exp.Var))


def _in_to_or(node: exp.Expression) -> exp.Expression:
    # SQL Server stores `x IN ('A','B')` as `x='A' OR x='B'`; rewrite so both spellings compare equal.
    if isinstance(node, exp.In) and node.expressions and not node.args.get("query"):
        result: exp.Expression | None = None
        for item in node.expressions:
            test = exp.EQ(this=node.this.copy(), expression=item.copy())
            result = test if result is None else exp.Or(this=result, expression=test)
        if result is not None:
            return result
    return node


def parse_expression(text: str, *, canonical: bool = True) -> exp.Expression | None:
    """One scalar T-SQL expression as a sqlglot tree, or None when `text` is not one.

    Outer parentheses are always dropped. `canonical` also removes parentheses around single
    values, quotes every identifier and spells `IN (...)` as SQL Server stores it (ORed equalities),
    so two texts with the same meaning render identically.
    """
    try:
        tree = sqlglot.parse_one(f"SELECT {text}", read="tsql")
    # sqlglot reports malformed input through several exception types (ParseError, TokenError and,
    # for some garbage, ValueError/IndexError); any of them just means "compare as text instead".
    except Exception:
        return None
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1:
        return None
    if any(value for name, value in tree.args.items() if name != "expressions"):
        return None  # text such as "1 FROM t" is not a single expression
    node = tree.expressions[0]
    if isinstance(node, exp.Alias):
        return None
    while isinstance(node, exp.Paren):
        node = node.this
    if not canonical:
        return node
    node = node.transform(_in_to_or)
    changed = True
    while changed:
        changed = False
        for paren in list(node.find_all(exp.Paren)):
            if paren.parent is not None and _is_atomic(paren.this):
                paren.replace(paren.this)
                changed = True
    for ident in node.find_all(exp.Identifier):
        ident.set("quoted", True)  # [a] and a name the same column
    return node


def _strip_outer_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text


def _closes_at_end(text: str) -> bool:
    """True when the '(' at position 0 is closed by the ')' at the very end (quotes respected)."""
    depth = 0
    quoted = False
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


_STRING_RE = re.compile(r"^N?'((?:[^']|'')*)'$", re.IGNORECASE | re.DOTALL)


def _fallback_default(text: str) -> DefaultValue:
    inner = _strip_outer_parens(text)
    match = _STRING_RE.match(inner)
    if match:
        return DefaultValue("string", match[1].replace("''", "'").casefold())
    number = _number_text(inner)
    if number is not None:
        return DefaultValue("number", number)
    return DefaultValue("expression", " ".join(inner.split()).casefold())


def normalize_default(text: str) -> DefaultValue:
    """`('CREATE')`, `(N'CREATE')` and `'create'` -> string create; `((0))` -> number 0."""
    node = parse_expression(text)
    if node is None:
        return _fallback_default(text)
    if isinstance(node, exp.Literal) and node.is_string:
        return DefaultValue("string", str(node.this).casefold())
    if isinstance(node, exp.National):
        return DefaultValue("string", str(node.this).casefold())
    if isinstance(node, exp.Literal) or (isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)):
        literal = node if isinstance(node, exp.Literal) else node.this
        number = _number_text(str(literal.this))
        if number is not None:
            if isinstance(node, exp.Neg) and number != "0":
                number = "-" + number
            return DefaultValue("number", number)
    return DefaultValue("expression", node.sql(dialect="tsql", comments=False).casefold())


def normalize_expression(text: str) -> str:
    """Canonical text of a check-constraint (or any scalar) expression, for equality tests."""
    node = parse_expression(text)
    if node is None:
        return " ".join(_strip_outer_parens(text).split()).casefold()
    return node.sql(dialect="tsql", comments=False).casefold()


# What the special default spellings accept, computed through the same normaliser as the catalog.
UTC_NOW_FUNCTIONS = ("getutcdate()", "sysutcdatetime()")
NOW_FUNCTIONS = ("getdate()", "sysdatetime()", "current_timestamp")
_UTC_NOW = frozenset(normalize_default(f"({f})") for f in UTC_NOW_FUNCTIONS)
_NOW = frozenset(normalize_default(f"({f})") for f in NOW_FUNCTIONS)

DefaultKind = Literal["none", "utc_now", "now", "value"]
# A bare word (no quotes, parentheses or digits-only) is a string value: `default: CREATE`. The two
# keywords below are the exceptions, because nobody means them as text.
_SQL_TEXT_RE = re.compile(
    r"^\s*(?:\(|N?'|[A-Za-z_][A-Za-z0-9_]*\s*\(|(?:current_timestamp|null)\s*$)", re.IGNORECASE
)


@dataclass(frozen=True)
class ExpectedDefault:
    """What an expectation says about a column's default (a missing `default:` key is not checked)."""

    kind: DefaultKind
    written: str  # as the YAML author wrote it, for messages
    value: DefaultValue | None = None
    sql_text: bool = False  # written as T-SQL (quoted, parenthesised, a call) rather than a bare word

    def matches(self, actual: str | None) -> bool:
        if self.kind == "none":
            return actual is None
        if actual is None:
            return False
        meaning = normalize_default(actual)
        if self.kind == "utc_now":
            return meaning in _UTC_NOW
        if self.kind == "now":
            return meaning in _NOW
        assert self.value is not None
        return self.value.same_meaning(meaning)

    def describe(self) -> str:
        if self.kind == "none":
            return "no default"
        if self.kind == "utc_now":
            return "utc_now (" + " or ".join(UTC_NOW_FUNCTIONS) + ")"
        if self.kind == "now":
            return "now (" + " or ".join(NOW_FUNCTIONS) + ")"
        if self.sql_text:
            return self.written
        if self.value is not None and self.value.kind == "string":
            return "'" + self.written.replace("'", "''") + "'"
        return self.written


def expected_default(raw: object) -> ExpectedDefault:
    """Read a YAML `default:` value (None, a number or a string); raises ValueError if unusable."""
    if raw is None:
        return ExpectedDefault("none", "none")
    if isinstance(raw, bool):
        raise ValueError("a default cannot be true/false; write 1 or 0 for a bit column")
    if isinstance(raw, int | float | Decimal):
        number = _number_text(str(raw))
        if number is None:
            raise ValueError(f"default {raw} is not a finite number")
        return ExpectedDefault("value", str(raw), DefaultValue("number", number), sql_text=True)
    if not isinstance(raw, str):
        raise ValueError(f"default must be a word, a number or T-SQL text, not {type(raw).__name__}"
                         " (quote it)")
    text = raw.strip()
    if not text:
        raise ValueError("default is empty; write `none` for 'must have no default'")
    word = text.lower()
    if word in ("none", "utc_now", "now"):
        return ExpectedDefault(word, word)  # type: ignore[arg-type]  # narrowed by the test above
    if _SQL_TEXT_RE.match(text) or _number_text(text) is not None:
        return ExpectedDefault("value", text, normalize_default(text), sql_text=True)
    return ExpectedDefault("value", text, DefaultValue("string", text.casefold()))
