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
from pytest_opus.suggest import did_you_mean

# Types whose argument is a length in characters (bytes for the binary ones), and their limits.
LENGTH_TYPES: dict[str, int] = {
    "char": 8000,
    "varchar": 8000,
    "binary": 8000,
    "varbinary": 8000,
    "nchar": 4000,
    "nvarchar": 4000,
}
MAX_TYPES = frozenset({"varchar", "nvarchar", "varbinary"})
# Types whose optional argument is the fractional-seconds precision (0..7, default 7).
TIME_TYPES = frozenset({"datetime2", "datetimeoffset", "time"})
PLAIN_TYPES = frozenset({
    "bigint", "int", "smallint", "tinyint", "bit", "money", "smallmoney", "real", "float",
    "date", "datetime", "smalldatetime", "uniqueidentifier", "text", "ntext", "image", "xml",
    "sql_variant", "timestamp", "hierarchyid", "geography", "geometry",
})
# Spellings SQL Server accepts for the same type; the catalog always reports the right-hand name.
ALIASES: dict[str, str] = {
    "integer": "int",
    "dec": "decimal",
    "numeric": "decimal",  # functionally identical in SQL Server; compared as one type
    "rowversion": "timestamp",
    "double precision": "float",
}
KNOWN_TYPES: tuple[str, ...] = tuple(
    sorted({*LENGTH_TYPES, *TIME_TYPES, *PLAIN_TYPES, "decimal", "sysname", *ALIASES})
)

_TYPE_RE = re.compile(
    r"""^\s*\[?(?P<name>[a-z_][a-z0-9_ ]*?)\]?\s*
        (?:\(\s*(?P<first>max|-?\d+)\s*(?:,\s*(?P<second>-?\d+)\s*)?\))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


class InvalidType(ValueError):
    """A type name or argument that SQL Server would not accept; the message says why."""


@dataclass(frozen=True)
class SqlType:
    """A normalised T-SQL type: lower-case base name plus only the arguments that matter.

    `length` is -1 for MAX. For the time types `scale` is the fractional-seconds precision, or
    None for the default (7) and for targets that do not report it.
    """

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def text(self) -> str:
        if self.name in LENGTH_TYPES and self.length is not None:
            return f"{self.name}({'max' if self.length == -1 else self.length})"
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.name in TIME_TYPES and self.scale is not None:
            return f"{self.name}({self.scale})"
        return self.name

    def __str__(self) -> str:
        return self.text


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    return did_you_mean(word, choices)


def parse_type(text: str) -> SqlType:
    """`NVARCHAR(MAX)` / `nvarchar(-1)` / `decimal` -> SqlType; raises InvalidType with a reason."""
    match = _TYPE_RE.match(text)
    if not match:
        raise InvalidType(f"cannot read type '{text}' (write it like varchar(50) or decimal(18,4))")
    name = " ".join(match["name"].lower().split())
    name = ALIASES.get(name, name)
    first, second = match["first"], match["second"]
    if name == "sysname":  # SQL Server's built-in alias
        if first is not None:
            raise InvalidType("sysname takes no arguments")
        return SqlType("nvarchar", 128)
    if name in LENGTH_TYPES:
        if second is not None:
            raise InvalidType(f"{name} takes one length, not two")
        if first is None:
            return SqlType(name, 1)  # SQL Server's rule for a length-less char/varchar in DDL
        if first.lower() in ("max", "-1"):
            if name not in MAX_TYPES:
                raise InvalidType(f"{name} cannot be max (only {', '.join(sorted(MAX_TYPES))} can)")
            return SqlType(name, -1)
        length = int(first)
        if not 1 <= length <= LENGTH_TYPES[name]:
            raise InvalidType(f"{name} length must be 1..{LENGTH_TYPES[name]} or max, not {length}")
        return SqlType(name, length)
    if name == "decimal":
        if first is not None and first.lower() == "max":
            raise InvalidType("decimal takes (precision, scale), not max")
        precision = 18 if first is None else int(first)
        scale = 0 if second is None else int(second)
        if not 1 <= precision <= 38:
            raise InvalidType(f"decimal precision must be 1..38, not {precision}")
        if not 0 <= scale <= precision:
            raise InvalidType(f"decimal scale must be 0..{precision}, not {scale}")
        return SqlType("decimal", precision=precision, scale=scale)
    if name in TIME_TYPES:
        if second is not None or (first is not None and first.lower() == "max"):
            raise InvalidType(f"{name} takes one fractional-seconds precision (0..7)")
        if first is None:
            return SqlType(name)
        digits = int(first)
        if not 0 <= digits <= 7:
            raise InvalidType(f"{name} precision must be 0..7, not {digits}")
        return SqlType(name, scale=None if digits == 7 else digits)
    if name == "float":
        if second is not None or (first is not None and first.lower() == "max"):
            raise InvalidType("float takes one argument: the mantissa bits (1..53)")
        if first is None:
            return SqlType("float")
        bits = int(first)
        if not 1 <= bits <= 53:
            raise InvalidType(f"float bits must be 1..53, not {bits}")
        return SqlType("real" if bits <= 24 else "float")  # how SQL Server stores float(n)
    if name in PLAIN_TYPES:
        if first is not None:
            raise InvalidType(f"{name} takes no arguments")
        return SqlType(name)
    raise InvalidType(f"unknown type '{name}'{_suggest(name, KNOWN_TYPES)}")


def type_of(item: Column | Parameter) -> SqlType:
    """The normalised type of a catalog column or parameter (never raises: user types pass through)."""
    name = item.data_type.lower().strip()
    name = ALIASES.get(name, name)
    if name in LENGTH_TYPES:
        return SqlType(name, item.max_length)
    if name == "decimal":
        return SqlType(name, precision=item.precision, scale=item.scale if item.scale is not None else 0)
    if name in TIME_TYPES:
        # Targets report the fractional precision in `scale` when they know it; 7 is the default.
        return SqlType(name, scale=None if item.scale in (None, 7) else item.scale)
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
