"""SQL Server's default collation, and the binary and case-sensitive ones a COLLATE asks for, on SQLite.

SQL Server's default collation `SQL_Latin1_General_CP1_CI_AS` compares text case-insensitively for
every letter (é = É), accent-sensitively (e <> é) and ignores trailing blanks in comparisons
('abc  ' = 'abc'): in `=`, `<>`, `IN`, `GROUP BY`, `DISTINCT` and unique keys. SQLite's NOCASE folds
ASCII letters only and counts trailing blanks. On a Python sqlite3 connection the runner replaces
NOCASE with SQL Server's rule (`register`): the tables keep `COLLATE NOCASE` in their stored DDL, so
a database file stays readable by any SQLite (an ODBC driver, the sqlite3 shell), and the sandbox
compares as SQL Server does.

What the model vouches for. Unicode collations on Windows have more rules than case: characters of
no weight (control characters, the soft hyphen, zero-width characters compare as nothing), width and
kana insensitivity (full-width 'Ａ' = 'A'), expansions ('æ' = 'ae', 'ß' = 'ss'), canonical
equivalence ('e' + U+0301 = 'é'). The sandbox does not model those. A comparison involving a character
outside `vouched()` (printable ASCII, and the letters and signs of Latin-1, Latin Extended-A, Greek
and Cyrillic whose case maps one to one) is still made, by Python's case folding; where SQL Server
could answer otherwise (`_equality_settled`), the engine then refuses the statement.

Order. Equality is exact under these rules, SQL Server's *order* (Windows sort rules: punctuation
before digits, hyphen and apostrophe ignored at first, accents weighed after the letters) is not a
code point order. `ORDER BY`, `<`, `>`, `BETWEEN`, `MIN` and `MAX` therefore use a second collation,
`TSQL_ORDER`: strings of letters, digits and blanks order as SQL Server orders them (letters
without accents first, then accents; case ignored); two different strings where punctuation or a
letter without a decomposition decides the order make the statement refused. The unique keys keep
NOCASE (any total order consistent with equality serves an index).

Binary collations (`*_BIN2`, `*_BIN`) compare code points, trailing blanks ignored: SQLite's own
RTRIM collation, on every connection. `Latin1_General_CS_AS` (case-sensitive) is `TSQL_CS_AS` on the
sandbox (lower case before upper case in ORDER BY, as in Windows collations).

LIKE (`tsql_like`): `%`, `_`, `[abc]`, `[a-f]`, `[^...]`, `ESCAPE`; case-insensitive under the default
collation, case-sensitive under a binary or _CS_ one. Trailing blanks of the value are significant when
an argument is Unicode (nchar, nvarchar, an N'' literal) and ignored otherwise, as Microsoft's LIKE page
says; those of the pattern always count (`'abc  ' LIKE 'abc'` is true, `N'abc  ' LIKE N'abc'` false,
`'abc' LIKE 'abc '` false). Where the translator cannot tell the types (`LIKE_TYPES_UNKNOWN`), a value
whose answer differs between the two rules makes the statement refused.

The string functions whose answer follows the collation are here too: CHARINDEX and REPLACE
(`tsql_charindex`, `tsql_replace`: case-insensitive under the default collation), UPPER and LOWER over
all of Unicode (`tsql_case`), and STRING_AGG ... WITHIN GROUP, whose text keys order as ORDER BY does.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from .. import sqltypes
from .arithmetic import Ambiguous, ServerError

#: SQLite collation names the translator writes
DEFAULT = "NOCASE"  # replaced on sqlite3 connections by SQL Server's default (see register)
ORDER = "TSQL_ORDER"
CASE_SENSITIVE = "TSQL_CS_AS"
BINARY = "RTRIM"  # SQLite's built-in: binary, trailing spaces ignored
BINARY_FIRST = "TSQL_BIN"  # *_BIN: the first character by code point, the rest byte by byte

#: The construct named when a value leaves what the model vouches for.
UNVOUCHED = ("comparison under SQL Server's collation of text with a character the sandbox does not model "
             "(control, zero-width, full-width, ligature or combining characters, other scripts): {chars}")
UNORDERED = ("ordering under SQL Server's collation of text that differs in punctuation, in accents of "
             "both strings, or in letters without a decomposition: {pair}")

#: The flags of tsql_like's fourth argument.
LIKE_SENSITIVE = 1  # a binary or _CS_ collation
LIKE_UNICODE = 2  # an argument is Unicode: the value's trailing blanks count
LIKE_TYPES_UNKNOWN = 4  # the translator could not tell whether an argument is Unicode
LIKE_AMBIGUOUS = ("LIKE of a value with trailing blanks where the sandbox cannot tell whether the text is Unicode "
                  "(nvarchar: the blanks count) or not (varchar: they are ignored): {value!r}; CAST the value "
                  "or write the pattern as N'...' or '...'")

_EXPANDING = set("ßÆæŒœĲĳŉÐðĐđÞþĸſς")


def _build_vouched() -> frozenset[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    blocks = [*range(0xA1, 0x180), *range(0x386, 0x3CF), *range(0x400, 0x460)]
    for code in blocks:
        ch = chr(code)
        if ch in _EXPANDING or code == 0xAD or not ch.isprintable():
            continue
        lower, upper = ch.lower(), ch.upper()
        if len(lower) != 1 or len(upper) != 1 or upper.lower() != lower or lower.upper() != upper:
            continue  # a case mapping that is not one to one (µ, ı, İ, ΐ): SQL Server's answer unknown
        chars.add(ch)
    return frozenset(chars)


_VOUCHED = _build_vouched()


def vouched(ch: str) -> bool:
    """Whether the model's answer for this character is SQL Server's (see the module docstring)."""
    return ch in _VOUCHED


def _readings(text: str) -> tuple[str, str, str, str]:
    """What SQL Server could make of a folded text with characters the model does not vouch for:
    as it is, without them (no sort weight), and with widths, ligatures, expansions and combining
    sequences folded (NFKC and full case folding)."""
    kept = "".join(c for c in text if c in _VOUCHED)
    folded = unicodedata.normalize("NFKC", text).casefold()
    return text, kept, folded, "".join(c for c in folded if c in _VOUCHED)


def _equality_settled(a: str, b: str) -> bool:
    """Whether equality is the same under every reading of the two texts: then it is SQL Server's
    answer whatever weight it gives the characters the model does not vouch for (`'âÁ' + CHAR(26)`
    is not `'RECEIVED'` in any reading)."""
    return all((x == y) == (a == b) for x, y in zip(_readings(a), _readings(b), strict=True))


#: ASCII punctuation and symbols with a weight of their own in Windows sorting: they come before
#: digits and letters. The hyphen and the apostrophe are left out: word sort ignores them at first.
_SYMBOLS = frozenset(c for c in map(chr, range(0x21, 0x7F)) if not c.isalnum() and c not in "-'")


def _first_difference(a: str, b: str) -> int:
    """The order two strings take from their first differing characters (what they shared before it
    weighs alike) when that is certain: the end of a string before anything but a hyphen or an
    apostrophe, a symbol before a digit or a letter; 0 when it is not certain from them alone."""
    if not a or not b:
        rest = a or b
        if rest in ("-", "'") or rest not in _VOUCHED:
            return 0
        return -1 if not a else 1
    if a in _SYMBOLS and b in _ORDERABLE and b != " ":
        return -1
    if b in _SYMBOLS and a in _ORDERABLE and a != " ":
        return 1
    return 0


def _build_orderable() -> dict[str, tuple[str, str]]:
    """Characters whose SQL Server order the model gives: char -> (letter, accents)."""
    table: dict[str, tuple[str, str]] = {}
    for ch in map(chr, [0x20, *range(0x30, 0x3A), *range(0x41, 0x5B), *range(0x61, 0x7B)]):
        table[ch] = (ch.lower(), "")
    for code in range(0xC0, 0x180):
        ch = chr(code)
        if ch not in _VOUCHED:
            continue
        parts = unicodedata.normalize("NFD", ch)
        if len(parts) > 1 and parts[0].isascii() and parts[0].isalpha():
            table[ch] = (parts[0].lower(), parts[1:])
    return table


_ORDERABLE = _build_orderable()


class Collations:
    """The collations and LIKE of one sqlite3 connection, and what they could not vouch for.

    SQLite gives a collation no way to fail a statement, so the first value outside the model is kept
    here; the engine takes it after each statement (`take`) and refuses the statement.
    """

    def __init__(self) -> None:
        self.refusal: str | None = None

    def take(self) -> str | None:
        refusal, self.refusal = self.refusal, None
        return refusal

    def _unvouched(self, *texts: str) -> None:
        if self.refusal is None:
            chars = sorted({c for t in texts for c in t if c not in _VOUCHED})
            self.refusal = UNVOUCHED.format(chars=", ".join(f"U+{ord(c):04X}" for c in chars[:5]))

    # -- the collations (SQLite calls them with two str, wants <0, 0, >0) --------------------------
    def default(self, a: str, b: str) -> int:
        if a == b:
            return 0
        a, b = a.rstrip(" "), b.rstrip(" ")
        fa, fb = a.lower(), b.lower()
        if not (a.isascii() and b.isascii() and a.isprintable() and b.isprintable()) and not (
            _VOUCHED.issuperset(a) and _VOUCHED.issuperset(b)
        ) and not _equality_settled(fa, fb):
            self._unvouched(a, b)
        return (fa > fb) - (fa < fb)

    def case_sensitive(self, a: str, b: str) -> int:
        if a == b:
            return 0
        a, b = a.rstrip(" "), b.rstrip(" ")
        if a == b:
            return 0
        if not (_VOUCHED.issuperset(a) and _VOUCHED.issuperset(b)):
            self._unvouched(a, b)
            return (a > b) - (a < b)
        by_letters = self._order(a, b)
        if by_letters:
            return by_letters
        # only case differs: Windows collations put the lower-case letter first
        for x, y in zip(a, b, strict=False):
            if x != y:
                return -1 if x.islower() else 1
        return (len(a) > len(b)) - (len(a) < len(b))

    def binary_first(self, a: str, b: str) -> int:
        a, b = a.rstrip(" "), b.rstrip(" ")
        if a == b:
            return 0
        if self.refusal is None and any(ord(c) > 0xFF for c in a[1:] + b[1:]):
            # beyond U+00FF the byte order of UTF-16 differs from the code point order
            self.refusal = "ordering under a _BIN collation of text beyond U+00FF (use a _BIN2 collation)"
        return (a > b) - (a < b)

    def order(self, a: str, b: str) -> int:
        if a == b:
            return 0
        equal = self.default(a, b)
        if equal == 0:
            return 0
        return self._order(a.rstrip(" "), b.rstrip(" ")) or equal

    def _order(self, a: str, b: str) -> int:
        """SQL Server's order of two strings unequal under the default rules; 0 when it cannot tell.

        What the two share from the start (case ignored) weighs alike in both, punctuation included:
        the order is decided by the rest, which must be letters, digits and blanks."""
        la, lb = a.lower(), b.lower()
        common = 0
        for x, y in zip(la, lb, strict=False):
            if x != y:
                break
            common += 1
        a, b = a[common:], b[common:]
        settled = _first_difference(a[:1], b[:1])
        if settled:
            return settled
        first_a, first_b = _ORDERABLE.get(a[:1], ("", "")), _ORDERABLE.get(b[:1], ("", ""))
        if (a[:1] in _ORDERABLE or not a) and (b[:1] in _ORDERABLE or not b) and first_a[0] != first_b[0]:
            return (first_a[0] > first_b[0]) - (first_a[0] < first_b[0])  # the first letters decide
        try:
            ka = [_ORDERABLE[c] for c in a]
            kb = [_ORDERABLE[c] for c in b]
        except KeyError:
            self._unordered(a, b)
            return 0
        pa, pb = "".join(k[0] for k in ka), "".join(k[0] for k in kb)
        if pa != pb:
            return (pa > pb) - (pa < pb)
        sa, sb = [k[1] for k in ka], [k[1] for k in kb]
        if sa == sb:
            return 0
        if not any(sa):
            return -1
        if not any(sb):
            return 1
        self._unordered(a, b)
        return 0

    def _unordered(self, a: str, b: str) -> None:
        if self.refusal is None:
            self.refusal = UNORDERED.format(pair=f"{a[:40]!r} and {b[:40]!r}")

    # -- LIKE --------------------------------------------------------------------------------------
    def like(self, value: Any, pattern: Any, escape: Any, flags: Any) -> int | None:
        """`value LIKE pattern [ESCAPE escape]` as SQL Server matches it; flags: LIKE_SENSITIVE under a
        binary or _CS_ collation, LIKE_UNICODE when the value's trailing blanks count, LIKE_TYPES_UNKNOWN
        when the translator could not tell (then a value whose answer differs is refused)."""
        if value is None or pattern is None:
            return None
        value, pattern = str(value), str(pattern)
        flags = int(flags)
        sensitive = bool(flags & LIKE_SENSITIVE)
        if not sensitive and not (_VOUCHED.issuperset(value) and _VOUCHED.issuperset(pattern)):
            self._unvouched(value, pattern)
        esc = None if escape is None else str(escape)
        try:
            regex = like_regex(pattern, esc, sensitive, bool(flags & LIKE_UNICODE))
            matched = regex.fullmatch(value) is not None
            if flags & LIKE_TYPES_UNKNOWN and value.endswith(" ") \
                    and (like_regex(pattern, esc, sensitive, True).fullmatch(value) is not None) != matched:
                raise ValueError(LIKE_AMBIGUOUS.format(value=value[-40:]))
        except ValueError as error:
            if self.refusal is None:
                self.refusal = str(error)
            return 0
        return 1 if matched else 0

    # -- string functions that follow the collation ------------------------------------------------
    def _folds(self, sensitive: Any, *texts: str) -> bool:
        """Whether to search case-insensitively; under the default collation, a text the model does not
        vouch for is refused (SQL Server could ignore or expand its characters)."""
        if sensitive:
            return False
        if not all(_VOUCHED.issuperset(t) for t in texts):
            self._unvouched(*texts)
        return True

    def charindex(self, needle: Any, haystack: Any, sensitive: Any) -> int | None:
        """CHARINDEX(needle, haystack): the 1-based position of the first match under the collation, 0
        when there is none (also for an empty needle)."""
        if needle is None or haystack is None:
            return None
        needle, haystack = str(needle), str(haystack)
        if not needle:
            return 0
        if self._folds(sensitive, needle, haystack):
            needle, haystack = needle.lower(), haystack.lower()  # one to one for every vouched character
        found = haystack.find(needle)
        return sqltypes.utf16_length(haystack[:found]) + 1 if found >= 0 else 0  # in UTF-16 code units

    def replace(self, text: Any, find: Any, replacement: Any, sensitive: Any) -> str | None:
        """REPLACE(text, find, replacement) matching `find` under the collation."""
        if text is None or find is None or replacement is None:
            return None
        text, find, replacement = str(text), str(find), str(replacement)
        if not find:
            return text
        if not self._folds(sensitive, text, find):
            return text.replace(find, replacement)
        return re.sub(re.escape(find), lambda _: replacement, text, flags=re.IGNORECASE)


def ordered_aggregate(state: Collations) -> type:
    """STRING_AGG(value, separator) WITHIN GROUP (ORDER BY keys) as an SQLite aggregate (SQLite before
    3.44 cannot order inside one): called with value, separator, the directions ('a'/'d' per key) and
    the keys; text keys in SQL Server's order (TSQL_ORDER, with its refusals), NULLs first ascending."""

    def compare(a: Any, b: Any) -> int:
        if a is None or b is None:
            return (a is not None) - (b is not None)
        if isinstance(a, str) and isinstance(b, str):
            return state.order(a, b)
        if isinstance(a, str) or isinstance(b, str):
            state.refusal = state.refusal or "STRING_AGG ordered by keys of mixed types"
            return 0
        return (a > b) - (a < b)

    class StringAggOrdered:
        def __init__(self) -> None:
            self.rows: list[tuple[tuple[Any, ...], str]] = []
            self.separator = ""
            self.directions = ""

        def step(self, value: Any, separator: Any, directions: str, *keys: Any) -> None:
            self.separator, self.directions = "" if separator is None else str(separator), directions
            if value is not None:
                self.rows.append((keys, str(value)))

        def finalize(self) -> str | None:
            if not self.rows:
                return None

            def by_keys(x: tuple[tuple[Any, ...], str], y: tuple[tuple[Any, ...], str]) -> int:
                for a, b, direction in zip(x[0], y[0], self.directions, strict=True):
                    found = compare(a, b)
                    if found:
                        return -found if direction == "d" else found
                return 0

            return self.separator.join(v for _, v in sorted(self.rows, key=functools.cmp_to_key(by_keys)))

    return StringAggOrdered


def change_case(text: Any, upper: Any) -> str | None:
    """UPPER/LOWER over all of Unicode, one character for one (SQL Server never expands: UPPER(N'ß') is ß)."""
    if text is None:
        return None
    out = []
    for ch in str(text):
        changed = ch.upper() if upper else ch.lower()
        out.append(changed if len(changed) == 1 else ch)
    return "".join(out)


# -- lengths and positions in UTF-16 code units -------------------------------------------------------
# SQL_Latin1_General_CP1_CI_AS is not a supplementary-character (_SC) collation: LEN, SUBSTRING, LEFT, RIGHT,
# CHARINDEX and UNICODE count UTF-16 code units, so a character beyond U+FFFF (an emoji) counts two. varchar
# (code page 1252) holds one code unit per character. Pages: learn.microsoft.com/en-us/sql/relational-databases/
# collations/collation-and-unicode-support ("Supplementary characters"), len-, substring-, left-, right-,
# unicode-transact-sql.
#: the errors of a negative length (sys.messages 537 and 536)
LEFT_OR_SUBSTRING_LENGTH = (537, "Invalid length parameter passed to the LEFT or SUBSTRING function.")
RIGHT_LENGTH = (536, "Invalid length parameter passed to the RIGHT function.")
_CUT_FUNCTIONS = ("SUBSTRING", "LEFT", "RIGHT")


def _text_argument(value: Any, function: str) -> str | bytes:
    """The text a string function works on: text as it is, binary as bytes, an integer as its digits (SQL Server
    converts it to varchar); another number is refused (its text would be its type's, which the sandbox does
    not keep: 2.50 is stored as 2.5)."""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Ambiguous(f"{function} of a {type(value).__name__} value that is not an integer (SQL Server converts it to "
                    "text by its type's rules): CAST it to the text you mean first")


def _units(text: str) -> list[int] | None:
    """The UTF-16 code units of a text holding a character beyond U+FFFF, None for one that has none."""
    if text.isascii() or sqltypes.utf16_length(text) == len(text):
        return None
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]


def _text_only(value: Any, function: str, binary: str) -> str:
    """`_text_argument` of a function that takes no binary value (`binary`: how it is refused)."""
    text = _text_argument(value, function)
    if isinstance(text, bytes):
        raise Ambiguous(f"{function} of a binary value{binary}")
    return text


def text_length(value: Any) -> int | None:
    """LEN: the code units of the text without its trailing blanks."""
    if value is None:
        return None
    text = _text_only(value, "LEN", " (SQL Server counts its bytes): use DATALENGTH")
    return sqltypes.utf16_length(text.rstrip(" "))


def cut_text(value: Any, start: Any, length: Any, function: str) -> str | bytes | None:
    """SUBSTRING(value, start, length), LEFT(value, length) and RIGHT(value, length) (`start` unused), in code
    units. SUBSTRING keeps the positions start .. start + length - 1 that lie in the text (SUBSTRING('abcd', 0, 2)
    is 'a'); a negative length is error 537 (LEFT, SUBSTRING) or 536 (RIGHT); NULL gives NULL. A cut through
    a character beyond U+FFFF is refused: SQL Server returns half of its surrogate pair."""
    if function not in _CUT_FUNCTIONS:
        raise ValueError(function)
    if value is None or length is None or (function == "SUBSTRING" and start is None):
        return None
    for number in (length, start) if function == "SUBSTRING" else (length,):
        if not isinstance(number, int) or isinstance(number, bool):
            raise Ambiguous(f"{function} with a start or length that is not an integer (SQL Server converts it to "
                            "int): CAST it to INT")
    if length < 0:
        raise ServerError(*(RIGHT_LENGTH if function == "RIGHT" else LEFT_OR_SUBSTRING_LENGTH))
    text = _text_argument(value, function)
    units = _units(text) if isinstance(text, str) else None
    size = len(units) if units is not None else len(text)
    if function == "SUBSTRING":
        begin = max(start, 1) - 1
        end = max(start + length - 1, begin)
    elif function == "LEFT":
        begin, end = 0, length
    else:
        begin, end = max(size - length, 0), size
    begin, end = min(begin, size), min(end, size)
    if units is None:
        return text[begin:end]
    if begin >= end:  # nothing kept: no character is cut (SUBSTRING(N'a😀', 3, 0) is '')
        return ""
    for edge in (begin, end):
        if 0 < edge < size and 0xDC00 <= units[edge] <= 0xDFFF:
            raise Ambiguous(f"{function} cutting a character beyond U+FFFF in half (SQL Server counts UTF-16 code "
                            "units under SQL_Latin1_General_CP1_CI_AS and returns half of its surrogate pair)")
    return b"".join(u.to_bytes(2, "little") for u in units[begin:end]).decode("utf-16-le")


def first_unicode(value: Any) -> int | None:
    """UNICODE: the first code unit (of a character beyond U+FFFF, its high surrogate); NULL for empty text."""
    if value is None:
        return None
    text = _text_only(value, "UNICODE", ": CAST it to NVARCHAR first")
    if not text:
        return None
    point = ord(text[0])
    return point if point <= 0xFFFF else 0xD800 + ((point - 0x10000) >> 10)


#: name registered on SQLite -> (number of arguments, the Python function); functions.register registers them
TEXT_FUNCTIONS: dict[str, tuple[int, Any]] = {
    "tsql_len": (1, text_length), "tsql_cut": (4, cut_text), "tsql_unicode": (1, first_unicode),
}


@functools.lru_cache(maxsize=512)
def like_regex(pattern: str, escape: str | None, sensitive: bool, unicode: bool = False) -> re.Pattern[str]:
    """A T-SQL LIKE pattern as a Python regular expression (whole-value match; trailing blanks of the
    value allowed unless `unicode`). Raises ValueError, naming the construct, for a range the model
    cannot order."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:  # an unclosed [ matches nothing in SQL Server (there is no closing class)
                out.append("(?!)")
                break
            out.append(_like_class(pattern[i + 1 : end], sensitive))
            i = end + 1
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    flags = re.DOTALL | (0 if sensitive else re.IGNORECASE)
    return re.compile("".join(out) + ("" if unicode else " *"), flags)


def _like_class(inner: str, sensitive: bool) -> str:
    negate = inner.startswith("^") and len(inner) > 1
    if negate:
        inner = inner[1:]
    parts: list[str] = []
    i = 0
    while i < len(inner):
        if i + 2 < len(inner) and inner[i + 1] == "-":
            low, high = inner[i], inner[i + 2]
            if not (_plain_range(low, high)):
                raise ValueError(f"LIKE with the range [{low}-{high}] (only ranges of ASCII letters or "
                                 "digits order alike in SQL Server's collation and the sandbox)")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            if not sensitive and low.isalpha():
                parts.append(f"{re.escape(low.swapcase())}-{re.escape(high.swapcase())}")
            i += 3
        else:
            parts.append(re.escape(inner[i]))
            i += 1
    return f"[{'^' if negate else ''}{''.join(parts)}]"


def _plain_range(low: str, high: str) -> bool:
    for kind in (str.isdigit, str.islower, str.isupper):
        if low.isascii() and high.isascii() and kind(low) and kind(high) and low <= high:
            return True
    return False


def register(connection: Any) -> Collations:
    """Register SQL Server's collations and `tsql_like` on a sqlite3 connection (NOCASE is replaced)."""
    state = Collations()
    connection.create_collation(DEFAULT, state.default)
    connection.create_collation(ORDER, state.order)
    connection.create_collation(CASE_SENSITIVE, state.case_sensitive)
    connection.create_collation(BINARY_FIRST, state.binary_first)
    connection.create_function("tsql_like", 4, state.like, deterministic=True)
    connection.create_function("tsql_charindex", 3, state.charindex, deterministic=True)
    connection.create_function("tsql_replace", 4, state.replace, deterministic=True)
    connection.create_function("tsql_case", 2, change_case, deterministic=True)
    connection.create_aggregate("tsql_string_agg_ordered", -1, ordered_aggregate(state))
    return state


_DEFAULT_NAMES = {"sql_latin1_general_cp1_ci_as", "latin1_general_ci_as", "latin1_general_100_ci_as",
                  "database_default"}
_CASE_SENSITIVE_NAMES = {"latin1_general_cs_as", "latin1_general_100_cs_as"}


def sqlite_collation(tsql_name: str, functions: bool) -> str:
    """The SQLite collation for a T-SQL COLLATE name; raises LookupError naming the construct when the
    sandbox cannot compare as asked (`functions`: whether the connection has the runner's collations)."""
    lowered = tsql_name.lower()
    if lowered.endswith("_bin2"):
        return BINARY
    if lowered in _DEFAULT_NAMES:
        return DEFAULT
    if functions and lowered.endswith("_bin"):
        return BINARY_FIRST
    if functions and lowered in _CASE_SENSITIVE_NAMES:
        return CASE_SENSITIVE
    where = "" if functions else " on the ODBC SQLite target (its driver cannot take the sandbox's collations)"
    raise LookupError(f"COLLATE {tsql_name}{where}")
