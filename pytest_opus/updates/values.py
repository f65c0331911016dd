"""Monday column types: which values each accepts (`check_value`) and how each is written (`encode_value`).

One converter per column type does both jobs, so a value that passes `check_value` always encodes,
and the encoding is exactly what the check approved. The converters are hand-written because the
value formats are monday's own (MONDAY.md, "Column values"); no library knows them.

The rules are also exported as data (`ValueRule`, `COLUMN_TYPES` and the constants below) so the
database side can generate the same checks in set-based SQL:

- text lengths are counted in UTF-16 code units, as monday (JavaScript) and SQL Server
  (`DATALENGTH(x) / 2` on NVARCHAR) count them, not in Python code points;
- status and dropdown labels match case-insensitively with surrounding blanks ignored, as under
  SQL Server's default collation; the label is sent spelled as the board metadata spells it;
- numbers written as text must match `NUMBER_TEXT_PATTERN` (no exponent, no thousands separator)
  and every number must fit SQL Server's widest DECIMAL (`NUMBER_MAX_DIGITS` digits in all).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from typing import Any, NamedTuple

from ..errors import OpusError
from ..sqltypes import DECIMALS, INTEGERS, STRINGS, WHOLE_NUMBERS, utf16_length
from ..suggest import did_you_mean

#: monday's long-text column keeps at most this many characters.
LONG_TEXT_MAX_LENGTH = 2000
#: The most characters one staged value may have. monday keeps about 64 KB of column values per item
#: in all (developer.monday.com, "Text": "no fixed character limit, but each item has an approximate
#: 64KB total column value capacity"), so a longer value can never be written: staging refuses it
#: before copying it (issue 13), where a value merely over its column's own limit is staged and
#: reported by validation with the rest of its row.
VALUE_MAX_CHARACTERS = 65_536
#: SQL Server's widest DECIMAL has 38 digits; a number with more could not be checked or stored there.
NUMBER_MAX_DIGITS = 38
#: The longest address SMTP allows (RFC 5321 path limit less the angle brackets).
EMAIL_MAX_LENGTH = 254
#: A date as monday takes it: four-digit year, two-digit month and day (ASCII digits only).
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A number given as text: optional sign, digits, optional fraction. No exponent, blanks or separators.
NUMBER_TEXT_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
#: Deliberately loose: one @, no blanks, a dot in the domain. monday itself checks no more than that.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
#: Only web links; a `javascript:` or `file:` URL on a board is a hazard for whoever clicks it.
URL_PATTERN = re.compile(r"https?://[^\s]+", re.IGNORECASE)
PHONE_PATTERN = re.compile(r"\+?[0-9]{4,15}")
COUNTRY_CODE_PATTERN = re.compile(r"[A-Z]{2}")
HOUR_PATTERN = re.compile(r"([0-9]{1,2}):([0-9]{2})")

#: Column types that `column_values` cannot write (MONDAY.md); `subtasks` is the subitems column.
READ_ONLY_TYPES = frozenset(
    {
        "formula", "mirror", "auto_number", "creation_log", "last_updated", "item_id",
        "progress", "time_tracking", "vote", "subtasks", "file",
    }
)  # fmt: skip

# Decimal arithmetic beyond the default 28 digits, so normalising a 38-digit number never rounds it.
_DECIMAL = Context(prec=NUMBER_MAX_DIGITS + 10)
_NUMBER_LIMIT = 10**NUMBER_MAX_DIGITS


@dataclass(frozen=True)
class ValueRule:
    """Per-column limits from board metadata; which fields apply depends on the column type.

    `labels` (status, dropdown), `min`/`max` (numbers, rating), `max_length` (text-like types, in
    UTF-16 code units), `min_date`/`max_date` (date, timeline, week). `None` means no limit.
    """

    labels: tuple[str, ...] | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = None
    min_date: date | None = None
    max_date: date | None = None
    # casefolded, stripped label -> label as written; built once because every status value looks here
    _label_index: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.labels is not None:
            self._label_index.update({_label_key(label): label for label in self.labels})
            # The exact spelling too: most values arrive spelled right and skip the casefold.
            self._label_index.update({label: label for label in self.labels})

    def canonical_label(self, label: str) -> str | None:
        """The label as the metadata spells it, or None when it is not one of `labels`."""
        found = self._label_index.get(label)
        return found if found is not None else self._label_index.get(_label_key(label))

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in RULE_FIELDS)


#: The names of `ValueRule`'s limits, in the order the docs list them.
RULE_FIELDS = ("labels", "min", "max", "max_length", "min_date", "max_date")

NO_RULE = ValueRule()


class InvalidValue(OpusError):
    """A value a column cannot take; `reasons` says why, one sentence each."""

    def __init__(self, column_type: str, value: object, reasons: Sequence[str]) -> None:
        self.column_type = column_type
        self.value = value
        self.reasons = tuple(reasons)
        super().__init__(f"{column_type} value {_show(value)}: " + "; ".join(self.reasons))


class UnknownColumnType(OpusError, KeyError):
    """A column type that is not in monday's list (MONDAY.md)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class ValueRejected(Exception):
    """Raised by a `ColumnType.convert` with its reasons; cheaper than `InvalidValue`, which formats
    a message. Public so that a loop over many values (the planner) can call converters directly."""

    def __init__(self, *reasons: str) -> None:
        super().__init__(*reasons)
        self.reasons = reasons


Converter = Callable[[Any, ValueRule], Any]


def audit_as_text(text: str) -> Any:
    """An audit text that is the value itself (text, numbers, labels, links, checkboxes)."""
    return text


def _audit_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _audit_field(read: Callable[[dict[str, Any]], Any]) -> Callable[[str], Any]:
    """A decoder for an audit text that is monday's JSON object for the column (people, tags, ...)."""

    def decode(text: str) -> Any:
        data = _audit_json(text)
        return read(data) if isinstance(data, dict) else data

    return decode


def _audit_date(text: str) -> Any:
    return text.split(" ", 1)[0] if " " in text else text  # a time of day is not restored: staging writes days


#: The staging SQL types set-based validation can check, per kind of monday value.
NUMERIC_SQL = frozenset({*INTEGERS, *DECIMALS, "money"})
INTEGER_SQL = frozenset(WHOLE_NUMBERS)
TEXT_SQL = frozenset(STRINGS)
DATE_SQL = frozenset({"date", "datetime", "datetime2", "smalldatetime"})


@dataclass(frozen=True)
class ColumnType:
    """What pytest-opus knows of one monday column type: the one entry a new type needs.

    A writable type has all three of: `convert` (a staged value to monday's payload), `sql_types`
    (the staging column types whose values set-based validation checks for it, in validation.py's
    value rules) or an explicit `sql_types=None` "no set-based rule" (then any non-NULL value is
    refused set-based, never silently accepted), and `audit` (an audit row's text back to a value
    `convert` takes, for rollback). tests/unit/test_values.py fails for a writable type without them.
    """

    name: str
    writable: bool
    rule_fields: frozenset[str] = frozenset()  # which ValueRule limits make sense for this type
    convert: Converter | None = None  # value -> the JSON-ready payload; raises ValueRejected
    clearable: bool = True  # False only for `name`: an item cannot lose its name
    built_in: ValueRule = NO_RULE  # limits monday itself imposes, applied whatever the metadata says
    sql_types: frozenset[str] | None = None  # None: no set-based rule (non-NULL values refused set-based)
    audit: Callable[[str], Any] | None = None  # audit text -> a value `convert` takes


# -- helpers ---------------------------------------------------------------------------------------


def _label_key(label: str) -> str:
    return label.strip().casefold()


def _show(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text_of(value: object) -> str:
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueRejected("contains an unpaired surrogate (not valid Unicode text)") from None
        return value
    # Integers and decimals read from typed staging columns into a text column are fine as text;
    # floats are not, because their text form ("1e+16", "0.30000000000000004") is rarely what was meant.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    raise ValueRejected(f"expected text, got {type(value).__name__} {_show(value)}")


def _check_length(text: str, limit: int | None) -> None:
    if limit is not None:
        length = utf16_length(text)
        if length > limit:
            raise ValueRejected(f"text is {length} characters long, more than the {limit} allowed")


def _decimal_of(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueRejected(f"expected a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueRejected(f"not a finite number: {value!r}")
        # repr() is the shortest text that reads back as this float: 0.1 stays "0.1", not the
        # 55-digit binary expansion Decimal(0.1) would give.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        if not NUMBER_TEXT_PATTERN.fullmatch(value):
            raise ValueRejected(f"not a number (digits, optional sign and decimal point): {_show(value)}")
        number = Decimal(value)
    else:
        raise ValueRejected(f"expected a number, got {type(value).__name__} {_show(value)}")
    if not number.is_finite():
        raise ValueRejected(f"not a finite number: {_show(value)}")
    return number


def decimal_digits(number: Decimal) -> int:
    """Digits the number needs as a DECIMAL(p, s): integer digits plus fraction digits."""
    return _digits_of(number.normalize(_DECIMAL))


def _digits_of(normalized: Decimal) -> int:
    _, digits, exponent = normalized.as_tuple()
    assert isinstance(exponent, int)  # finite numbers only
    if exponent >= 0:
        return len(digits) + exponent
    return max(len(digits) + exponent, 0) + -exponent


def plain_number(number: Decimal) -> str:
    """The number as monday wants it: shortest plain text, no exponent, no trailing zeros, no '-0'."""
    if not number:
        return "0"
    return format(number.normalize(_DECIMAL), "f")


def _check_range(number: Decimal, rule: ValueRule) -> None:
    if rule.min is not None and number < rule.min:
        raise ValueRejected(f"{_show_number(number)} is below the minimum {plain_number(rule.min)}")
    if rule.max is not None and number > rule.max:
        raise ValueRejected(f"{_show_number(number)} is above the maximum {plain_number(rule.max)}")


def _show_number(number: Decimal) -> str:
    return plain_number(number) if decimal_digits(number) <= NUMBER_MAX_DIGITS else str(number)


def _date_of(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueRejected(f"expected a date without a time, got {_show(value)}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        if DATE_PATTERN.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueRejected(f"not a valid date (YYYY-MM-DD): {_show(value)}")
    raise ValueRejected(f"expected a date (YYYY-MM-DD), got {type(value).__name__} {_show(value)}")


def _check_date_range(day: date, rule: ValueRule) -> None:
    if rule.min_date is not None and day < rule.min_date:
        raise ValueRejected(f"date {day.isoformat()} is before {rule.min_date.isoformat()}")
    if rule.max_date is not None and day > rule.max_date:
        raise ValueRejected(f"date {day.isoformat()} is after {rule.max_date.isoformat()}")


def _positive_ids(value: object, what: str) -> list[int]:
    items: Iterable[object]
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ValueRejected(f"expected {what} id(s), got {_show(value)}")
    ids = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ValueRejected(f"{what} ids must be positive integers, got {_show(item)}")
        ids.append(item)
    return ids


def _pair(value: object, first: str, second: str) -> tuple[object, object]:
    if isinstance(value, Mapping):
        if first not in value or second not in value:
            raise ValueRejected(f"expected keys {first!r} and {second!r}, got {_show(value)}")
        return value[first], value[second]
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    raise ValueRejected(f"expected ({first}, {second}), got {_show(value)}")


def _labels_of(value: object) -> list[str]:
    if isinstance(value, str):
        # monday's own simple form for dropdowns is comma-separated labels.
        parts: Sequence[object] = value.split(",")
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        raise ValueRejected(f"expected labels (text or a list of text), got {_show(value)}")
    labels = []
    for part in parts:
        text = _text_of(part).strip()
        if not text:
            raise ValueRejected(f"empty label in {_show(value)}")
        labels.append(text)
    return labels


def _match_label(label: str, rule: ValueRule) -> str:
    if rule.labels is None:
        return label
    canonical = rule.canonical_label(label)
    if canonical is None:
        raise ValueRejected(f"label {_show(label)} is not one of: {', '.join(rule.labels)}")
    return canonical


# -- one converter per writable type ---------------------------------------------------------------


def _convert_text(value: object, rule: ValueRule) -> str:
    text = _text_of(value)
    _check_length(text, rule.max_length)
    return text


def _convert_name(value: object, rule: ValueRule) -> str:
    text = _convert_text(value, rule)
    if not text.strip():
        raise ValueRejected("an item name cannot be blank")
    return text


def _convert_long_text(value: object, rule: ValueRule) -> dict[str, str]:
    return {"text": _convert_text(value, rule)}


def _convert_numbers(value: object, rule: ValueRule) -> str:
    if type(value) is int:
        # Fast path for the commonest case: integers need no Decimal round trip to print plainly.
        if not -_NUMBER_LIMIT < value < _NUMBER_LIMIT:
            raise ValueRejected(f"{_show(value)} has more than {NUMBER_MAX_DIGITS} digits")
        if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
            _check_range(Decimal(value), rule)
        return str(value)
    number = _decimal_of(value)
    if not number:
        if rule.min is not None or rule.max is not None:
            _check_range(number, rule)
        return "0"  # also turns -0 into 0
    normalized = number.normalize(_DECIMAL)
    text = str(normalized)
    if "E" in text:
        # Exponent form (whole numbers ending in zeros, or tiny fractions): count digits the slow way.
        digits = _digits_of(normalized)
        text = format(normalized, "f") if digits <= NUMBER_MAX_DIGITS else text
    else:
        # Plain form, the common case and cheaper than as_tuple(): integer digits (none for "0.x")
        # plus fraction digits.
        whole, _, fraction = text.lstrip("-").partition(".")
        digits = (0 if whole == "0" else len(whole)) + len(fraction)
    if digits > NUMBER_MAX_DIGITS:
        raise ValueRejected(f"{_show(value)} needs more than {NUMBER_MAX_DIGITS} digits")
    if rule.min is not None or rule.max is not None:
        _check_range(normalized, rule)
    return text


def _convert_rating(value: object, rule: ValueRule) -> dict[str, int]:
    # Any whole number a numeric staging column holds: 3, Decimal('3') or "3" (how a DECIMAL(p,0)
    # reads back from update_fields, depending on how it was staged), 3.0.
    if type(value) is not int:
        try:
            number = _decimal_of(value)
        except ValueRejected:
            number = None
        if number is None or number != number.to_integral_value():
            raise ValueRejected(f"a rating is a whole number from 0, got {_show(value)}")
        value = int(number)
    if value < 0:
        raise ValueRejected(f"a rating is a whole number from 0, got {_show(value)}")
    _check_range(Decimal(value), rule)
    return {"rating": value}


def _convert_status(value: object, rule: ValueRule) -> dict[str, str]:
    if rule.labels is not None and type(value) is str:
        exact = rule._label_index.get(value)
        if exact is not None:
            return {"label": exact}
    if not isinstance(value, str):
        # A number could mean a label's index or its text; monday's index is not the position, so
        # guessing would set the wrong status. Labels only.
        raise ValueRejected(f"expected a status label (text), got {type(value).__name__} {_show(value)}")
    label = _text_of(value).strip()
    if not label:
        raise ValueRejected("a status label cannot be blank (send NULL to clear the status)")
    return {"label": _match_label(label, rule)}


def _convert_dropdown(value: object, rule: ValueRule) -> dict[str, list[str]]:
    return {"labels": [_match_label(label, rule) for label in _labels_of(value)]}


def _convert_date(value: object, rule: ValueRule) -> dict[str, str]:
    if type(value) is date:  # the common case: a DATE column read from staging
        _check_date_range(value, rule)
        return {"date": value.isoformat()}
    if isinstance(value, datetime):
        # A point in time: monday stores the time in UTC; a naive datetime is taken to be UTC already.
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        _check_date_range(moment.date(), rule)
        return {"date": moment.date().isoformat(), "time": moment.strftime("%H:%M:%S")}
    day = _date_of(value)
    _check_date_range(day, rule)
    return {"date": day.isoformat()}


def _convert_timeline(value: object, rule: ValueRule) -> dict[str, str]:
    start, end = (_date_of(v) for v in _pair(value, "from", "to"))
    if end < start:
        raise ValueRejected(f"timeline ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    _check_date_range(start, rule)
    _check_date_range(end, rule)
    return {"from": start.isoformat(), "to": end.isoformat()}


def _convert_week(value: object, rule: ValueRule) -> dict[str, dict[str, str]]:
    start, end = (_date_of(v) for v in _pair(value, "startDate", "endDate"))
    if (end - start).days != 6:
        raise ValueRejected(f"a week spans 7 days, got {start.isoformat()} to {end.isoformat()}")
    _check_date_range(start, rule)
    _check_date_range(end, rule)
    return {"week": {"startDate": start.isoformat(), "endDate": end.isoformat()}}


def _convert_email(value: object, rule: ValueRule) -> dict[str, str]:
    address = _text_of(value)
    if not EMAIL_PATTERN.fullmatch(address):
        raise ValueRejected(f"not an email address: {_show(address)}")
    _check_length(address, rule.max_length)
    return {"email": address, "text": address}


def _convert_link(value: object, rule: ValueRule) -> dict[str, str]:
    if isinstance(value, Mapping):
        url, label = _text_of(value.get("url")), _text_of(value.get("text", value.get("url")))
    else:
        url = label = _text_of(value)
    if not URL_PATTERN.fullmatch(url):
        raise ValueRejected(f"not an http(s) link: {_show(url)}")
    _check_length(url, rule.max_length)
    return {"url": url, "text": label}


def _convert_phone(value: object, rule: ValueRule) -> dict[str, str]:
    number, country = (_text_of(v) for v in _pair(value, "phone", "countryShortName"))
    if not PHONE_PATTERN.fullmatch(number):
        raise ValueRejected(f"not a phone number (digits, optional leading +): {_show(number)}")
    if not COUNTRY_CODE_PATTERN.fullmatch(country):
        raise ValueRejected(f"not a two-letter country code: {_show(country)}")
    return {"phone": number, "countryShortName": country}


def _convert_country(value: object, rule: ValueRule) -> dict[str, str]:
    code, name = (_text_of(v) for v in _pair(value, "countryCode", "countryName"))
    if not COUNTRY_CODE_PATTERN.fullmatch(code):
        raise ValueRejected(f"not a two-letter country code: {_show(code)}")
    if not name.strip():
        raise ValueRejected("the country name cannot be blank")
    return {"countryCode": code, "countryName": name}


def _convert_hour(value: object, rule: ValueRule) -> dict[str, int]:
    if isinstance(value, time):
        return {"hour": value.hour, "minute": value.minute}
    match = HOUR_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueRejected(f"not a time of day (HH:MM): {_show(value)}")
    return {"hour": int(match[1]), "minute": int(match[2])}


def _convert_people(value: object, rule: ValueRule) -> dict[str, list[dict[str, object]]]:
    return {"personsAndTeams": [{"id": i, "kind": "person"} for i in _positive_ids(value, "person")]}


def _convert_tags(value: object, rule: ValueRule) -> dict[str, list[int]]:
    return {"tag_ids": _positive_ids(value, "tag")}


def _convert_board_relation(value: object, rule: ValueRule) -> dict[str, list[int]]:
    return {"item_ids": _positive_ids(value, "item")}


def _convert_dependency(value: object, rule: ValueRule) -> dict[str, list[str]]:
    # monday's documented form for dependencies gives the ids as strings, unlike board_relation.
    return {"item_ids": [str(i) for i in _positive_ids(value, "item")]}


def _convert_location(value: object, rule: ValueRule) -> dict[str, str]:
    if not isinstance(value, Mapping) or "lat" not in value or "lng" not in value:
        raise ValueRejected(f"expected a mapping with 'lat' and 'lng', got {_show(value)}")
    lat, lng = _decimal_of(value["lat"]), _decimal_of(value["lng"])
    if not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise ValueRejected(f"latitude/longitude out of range: {lat}, {lng}")
    address = _text_of(value.get("address", ""))
    return {"lat": plain_number(lat), "lng": plain_number(lng), "address": address}


def _convert_checkbox(value: object, rule: ValueRule) -> dict[str, str] | None:
    if isinstance(value, bool):
        checked = value
    elif isinstance(value, int) and value in (0, 1):  # SQL Server BIT arrives as 0/1
        checked = bool(value)
    elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
        checked = value.strip().lower() == "true"
    else:
        raise ValueRejected(f"expected true/false, got {_show(value)}")
    # monday unchecks a checkbox by clearing it; there is no "false" value to send.
    return {"checked": "true"} if checked else None


_TEXT_RULES = frozenset({"max_length"})
_NUMBER_RULES = frozenset({"min", "max"})
_LABEL_RULES = frozenset({"labels"})
_DATE_RULES = frozenset({"min_date", "max_date"})

COLUMN_TYPES: Mapping[str, ColumnType] = {
    spec.name: spec
    for spec in (
        ColumnType("text", True, _TEXT_RULES, _convert_text, sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("long_text", True, _TEXT_RULES, _convert_long_text,
                   built_in=ValueRule(max_length=LONG_TEXT_MAX_LENGTH), sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("name", True, _TEXT_RULES, _convert_name, clearable=False, sql_types=TEXT_SQL,
                   audit=audit_as_text),
        ColumnType("numbers", True, _NUMBER_RULES, _convert_numbers, sql_types=NUMERIC_SQL, audit=audit_as_text),
        ColumnType("rating", True, _NUMBER_RULES, _convert_rating, sql_types=NUMERIC_SQL,
                   audit=_audit_field(lambda d: d.get("rating"))),
        ColumnType("status", True, _LABEL_RULES, _convert_status, sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("dropdown", True, _LABEL_RULES, _convert_dropdown, sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("date", True, _DATE_RULES, _convert_date, sql_types=DATE_SQL, audit=_audit_date),
        ColumnType("timeline", True, _DATE_RULES, _convert_timeline, audit=_audit_json),
        ColumnType("week", True, _DATE_RULES, _convert_week, audit=_audit_field(lambda d: d.get("week"))),
        ColumnType("email", True, _TEXT_RULES, _convert_email,
                   built_in=ValueRule(max_length=EMAIL_MAX_LENGTH), sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("link", True, _TEXT_RULES, _convert_link, sql_types=TEXT_SQL, audit=audit_as_text),
        ColumnType("phone", True, frozenset(), _convert_phone, audit=_audit_json),
        ColumnType("country", True, frozenset(), _convert_country, audit=_audit_json),
        ColumnType("hour", True, frozenset(), _convert_hour,
                   audit=_audit_field(lambda d: f"{int(d.get('hour', 0)):02d}:{int(d.get('minute', 0)):02d}")),
        ColumnType("people", True, frozenset(), _convert_people,
                   audit=_audit_field(lambda d: [int(p["id"]) for p in d.get("personsAndTeams", [])])),
        ColumnType("tags", True, frozenset(), _convert_tags, audit=_audit_field(lambda d: d.get("tag_ids"))),
        ColumnType("board_relation", True, frozenset(), _convert_board_relation,
                   audit=_audit_field(lambda d: [int(i) for i in d.get("item_ids", [])])),
        ColumnType("dependency", True, frozenset(), _convert_dependency,
                   audit=_audit_field(lambda d: [int(i) for i in d.get("item_ids", [])])),
        ColumnType("location", True, frozenset(), _convert_location, audit=_audit_json),
        ColumnType("checkbox", True, frozenset(), _convert_checkbox, sql_types=TEXT_SQL | INTEGER_SQL,
                   audit=audit_as_text),
        *(ColumnType(name, False) for name in sorted(READ_ONLY_TYPES)),
    )
}  # fmt: skip


# -- public API ------------------------------------------------------------------------------------


def column_type(name: str) -> ColumnType:
    """The `ColumnType` called `name`; an unknown name raises `UnknownColumnType` with a did-you-mean."""
    spec = COLUMN_TYPES.get(name)
    if spec is None:
        raise UnknownColumnType(f"unknown monday column type {name!r}{did_you_mean(name, COLUMN_TYPES)}")
    return spec


def effective_rule(type_name: str, rule: ValueRule | None = None) -> ValueRule:
    """The metadata's rule tightened by monday's own limits for the type (e.g. long text <= 2,000)."""
    built_in = column_type(type_name).built_in
    rule = rule or NO_RULE
    if built_in.max_length is None:
        return rule
    limit = built_in.max_length if rule.max_length is None else min(built_in.max_length, rule.max_length)
    if limit == rule.max_length:
        return rule
    return ValueRule(rule.labels, rule.min, rule.max, limit, rule.min_date, rule.max_date)


def read_only_reason(type_name: str) -> str:
    return f"read-only: monday computes {type_name} columns and column_values cannot write them"


def cannot_clear_reason(type_name: str) -> str:
    return f"a {type_name} column cannot be cleared (NULL is not allowed)"


def check_value(type_name: str, value: object, rule: ValueRule | None = None) -> list[str]:
    """Why `value` cannot be written to a column of this type under `rule`; empty when it can.

    `None` (SQL NULL) clears the column, which every writable type except `name` allows.
    """
    spec = column_type(type_name)
    if not spec.writable:
        return [read_only_reason(type_name)]
    if value is None:
        return [] if spec.clearable else [cannot_clear_reason(type_name)]
    assert spec.convert is not None
    try:
        spec.convert(value, effective_rule(type_name, rule))
    except ValueRejected as reject:
        return list(reject.reasons)
    return []


def encode_value(type_name: str, value: object, rule: ValueRule | None = None) -> Any:
    """The JSON-ready value for `column_values`; `None` clears. Raises `InvalidValue` with the reasons."""
    return value_encoder(type_name, rule)(value)


def value_encoder(type_name: str, rule: ValueRule | None = None) -> Callable[[object], Any]:
    """`encode_value` with the type and rule bound once, for encoding many values of one column."""
    if not column_type(type_name).writable:
        reason = read_only_reason(type_name)

        def refuse(value: object) -> Any:
            raise InvalidValue(type_name, value, [reason])

        return refuse
    convert, bound, clearable = value_converter(type_name, rule)

    def encode(value: object) -> Any:
        if value is None:
            if clearable:
                return None
            raise InvalidValue(type_name, value, [cannot_clear_reason(type_name)])
        try:
            return convert(value, bound)
        except ValueRejected as reject:
            raise InvalidValue(type_name, value, reject.reasons) from None

    return encode


class ValueConverter(NamedTuple):
    """The raw parts of an encoder: call `convert(value, rule)` for non-NULL values; it raises
    `ValueRejected`. NULL clears when `clearable`. For loops where a wrapper call per value counts."""

    convert: Converter
    rule: ValueRule
    clearable: bool


def value_converter(type_name: str, rule: ValueRule | None = None) -> ValueConverter:
    """The converter of a writable type with its effective rule; a read-only type raises InvalidValue."""
    spec = column_type(type_name)
    if not spec.writable:
        raise InvalidValue(type_name, None, [read_only_reason(type_name)])
    assert spec.convert is not None
    return ValueConverter(spec.convert, effective_rule(type_name, rule), spec.clearable)


# Compact separators keep requests small; sorted keys make the same change always the same text.
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _one_shot_encoder() -> Callable[[Any], str] | None:
    """The C encoder `json.dumps` would build on every call, built once.

    Planning encodes one `column_values` per item; rebuilding the encoder each time was a third of
    the planning time. The private constructor's signature may change between Python versions, so
    it is tried on a sample first and `json`'s public path is used when anything differs.
    """
    try:
        from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]

        # markers=None skips the cycle check: encoded values are trees we built ourselves.
        make = c_make_encoder(None, _JSON.default, c_encode_basestring, None, ":", ",", True, False, False)

        def encode(value: Any) -> str:
            return "".join(make(value, 0))

        sample = {"b": None, "a": {"text": "é\"'"}, "n": "1.5", "l": [1, "2"], "t": True}
        if encode(sample) != _JSON.encode(sample):
            return None
        return encode
    except Exception:  # any surprise here only costs speed
        return None


_FAST_JSON = _one_shot_encoder()


def column_values_json(mapping: Mapping[str, Any]) -> str:
    """The `column_values` argument: the JSON text of {column id: encoded value}, encoded once."""
    data = mapping if type(mapping) is dict else dict(mapping)
    try:
        if _FAST_JSON is not None:
            return _FAST_JSON(data)
        return _JSON.encode(data)
    except (TypeError, ValueError, RecursionError) as exc:
        reason = f"not JSON-encodable ({exc}); encode the values first"
        raise InvalidValue("column_values", mapping, [reason]) from None


def parse_decimal(text: object) -> Decimal | None:
    """A metadata number (int, float or numeric text) as a Decimal; None when it is not one."""
    if isinstance(text, bool):
        return None
    try:
        number = Decimal(repr(text)) if isinstance(text, float) else Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
