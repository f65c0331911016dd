"""Column value checks and encoding: table-driven cases, then hypothesis over arbitrary values."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.errors import OpusError
from pytest_opus.updates.values import (
    COLUMN_TYPES,
    LONG_TEXT_MAX_LENGTH,
    NUMBER_MAX_DIGITS,
    READ_ONLY_TYPES,
    InvalidValue,
    UnknownColumnType,
    ValueRule,
    check_value,
    column_values_json,
    effective_rule,
    encode_value,
    utf16_length,
)

STATUS = ValueRule(labels=("RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD"))
QTY = ValueRule(min=Decimal(0), max=Decimal(10_000_000))
DATES = ValueRule(min_date=date(2000, 1, 1), max_date=date(2099, 12, 31))
INJECTION = "'; DROP TABLE x; --"
WIDE = Context(prec=200)  # wide enough to normalise any number the strategies produce without rounding

ENCODED = [
    # (type, value, rule, payload)
    ("text", "AAG-0001", None, "AAG-0001"),
    ("text", INJECTION, None, INJECTION),
    ("text", 'quote " and \\ backslash', None, 'quote " and \\ backslash'),
    ("text", "", None, ""),
    ("text", 42, None, "42"),
    ("text", Decimal("12.50"), None, "12.50"),
    ("text", "naïve 日本 😀", None, "naïve 日本 😀"),
    ("long_text", "line 1\nline 2", None, {"text": "line 1\nline 2"}),
    ("long_text", "x" * LONG_TEXT_MAX_LENGTH, None, {"text": "x" * LONG_TEXT_MAX_LENGTH}),
    ("name", "M", None, "M"),
    ("numbers", 42, None, "42"),
    ("numbers", -7, None, "-7"),
    ("numbers", Decimal("12.5000"), None, "12.5"),
    ("numbers", Decimal("-0.0000"), None, "0"),
    ("numbers", Decimal("1E+3"), None, "1000"),
    ("numbers", Decimal("0.00010"), None, "0.0001"),
    ("numbers", 0.1, None, "0.1"),
    ("numbers", 0.1 + 0.2, None, "0.30000000000000004"),
    ("numbers", 1e16, None, "10000000000000000"),
    ("numbers", "42.50", None, "42.5"),
    ("numbers", "-3", None, "-3"),
    ("numbers", ".5", None, "0.5"),
    ("numbers", 0, QTY, "0"),
    ("numbers", 10_000_000, QTY, "10000000"),
    ("numbers", 10**37, None, "1" + "0" * 37),
    ("rating", 4, ValueRule(max=Decimal(5)), {"rating": 4}),
    # a DECIMAL(p,0) staging column reads back as a number or as text, depending on how it was staged
    ("rating", Decimal("3"), None, {"rating": 3}),
    ("rating", "3", None, {"rating": 3}),
    ("rating", 3.0, None, {"rating": 3}),
    ("status", "SHIPPED", STATUS, {"label": "SHIPPED"}),
    ("status", " on hold ", STATUS, {"label": "ON HOLD"}),
    ("status", "Anything", None, {"label": "Anything"}),
    ("dropdown", "OCEAN, AIR", ValueRule(labels=("OCEAN", "AIR")), {"labels": ["OCEAN", "AIR"]}),
    ("dropdown", ["air"], ValueRule(labels=("OCEAN", "AIR")), {"labels": ["AIR"]}),
    ("date", date(2025, 3, 31), None, {"date": "2025-03-31"}),
    ("date", "2024-02-29", None, {"date": "2024-02-29"}),
    ("date", date(1, 1, 1), None, {"date": "0001-01-01"}),
    ("date", date(9999, 12, 31), None, {"date": "9999-12-31"}),
    ("date", datetime(2025, 1, 2, 3, 4, 5), None, {"date": "2025-01-02", "time": "03:04:05"}),
    (
        "date",
        datetime(2025, 1, 2, 1, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        None,
        {"date": "2025-01-01", "time": "23:00:00"},
    ),
    ("timeline", ("2025-01-01", date(2025, 2, 1)), None, {"from": "2025-01-01", "to": "2025-02-01"}),
    (
        "week",
        {"startDate": "2025-01-06", "endDate": "2025-01-12"},
        None,
        {"week": {"startDate": "2025-01-06", "endDate": "2025-01-12"}},
    ),
    ("email", "buyer@example.com", None, {"email": "buyer@example.com", "text": "buyer@example.com"}),
    ("link", "https://example.com/x", None, {"url": "https://example.com/x", "text": "https://example.com/x"}),
    (
        "phone",
        {"phone": "+12025550169", "countryShortName": "US"},
        None,
        {"phone": "+12025550169", "countryShortName": "US"},
    ),
    (
        "country",
        ("US", "United States"),
        None,
        {"countryCode": "US", "countryName": "United States"},
    ),
    ("hour", "16:42", None, {"hour": 16, "minute": 42}),
    ("hour", time(9, 5), None, {"hour": 9, "minute": 5}),
    ("people", 7, None, {"personsAndTeams": [{"id": 7, "kind": "person"}]}),
    ("tags", [1, 2], None, {"tag_ids": [1, 2]}),
    ("board_relation", [11, 12], None, {"item_ids": [11, 12]}),
    ("dependency", [11, 12], None, {"item_ids": ["11", "12"]}),
    ("location", {"lat": 40.7, "lng": -74, "address": "NYC"}, None, {"lat": "40.7", "lng": "-74", "address": "NYC"}),
    ("checkbox", True, None, {"checked": "true"}),
    ("checkbox", 1, None, {"checked": "true"}),
    ("checkbox", "false", None, None),
]


@pytest.mark.parametrize(("type_name", "value", "rule", "payload"), ENCODED)
def test_encode(type_name: str, value: object, rule: ValueRule | None, payload: object) -> None:
    assert check_value(type_name, value, rule) == []
    assert encode_value(type_name, value, rule) == payload


REJECTED = [
    # (type, value, rule, part of the reason)
    ("text", 1.5, None, "expected text"),
    ("text", True, None, "expected text"),
    ("text", "abc", ValueRule(max_length=2), "3 characters long, more than the 2"),
    ("text", "\ud800", None, "unpaired surrogate"),
    ("long_text", "x" * (LONG_TEXT_MAX_LENGTH + 1), None, "more than the 2000"),
    ("long_text", "😀" * 1001, None, "2002 characters long"),  # UTF-16: each emoji counts 2
    ("name", "  ", None, "cannot be blank"),
    ("name", None, None, "cannot be cleared"),
    ("numbers", float("nan"), None, "not a finite number"),
    ("numbers", float("inf"), None, "not a finite number"),
    ("numbers", Decimal("Infinity"), None, "not a finite number"),
    ("numbers", Decimal("sNaN"), None, "not a finite number"),
    ("numbers", True, None, "expected a number"),
    ("numbers", "1e5", None, "not a number"),
    ("numbers", "1,000", None, "not a number"),
    ("numbers", " 1", None, "not a number"),
    ("numbers", "١٢", None, "not a number"),  # Arabic-Indic digits: Decimal() would accept them
    ("numbers", "", None, "not a number"),
    ("numbers", 10**38, None, "more than 38 digits"),
    ("numbers", Decimal("1E+40"), None, "more than 38 digits"),
    ("numbers", Decimal("1E-40"), None, "more than 38 digits"),
    ("numbers", -1, QTY, "below the minimum 0"),
    ("numbers", Decimal("10000000.5"), QTY, "above the maximum 10000000"),
    ("numbers", 0, ValueRule(min=Decimal(1)), "below the minimum 1"),
    ("rating", -1, None, "whole number from 0"),
    ("rating", Decimal("2.5"), None, "whole number from 0"),
    ("rating", "two", None, "whole number from 0"),
    ("rating", True, None, "whole number from 0"),
    ("rating", 6, ValueRule(max=Decimal(5)), "above the maximum 5"),
    ("status", "Done", STATUS, "not one of: RECEIVED"),
    ("status", "", None, "cannot be blank"),
    ("status", 3, STATUS, "expected a status label"),
    ("dropdown", "A,,B", None, "empty label"),
    ("dropdown", "SEA", ValueRule(labels=("OCEAN",)), "not one of: OCEAN"),
    ("date", "2024-02-30", None, "not a valid date"),
    ("date", "2024-2-3", None, "not a valid date"),
    ("date", "20240203", None, "not a valid date"),
    ("date", "0000-01-01", None, "not a valid date"),
    ("date", "2024-01-01T00:00", None, "not a valid date"),
    ("date", 20240101, None, "expected a date"),
    ("date", date(1999, 12, 31), DATES, "before 2000-01-01"),
    ("date", date(2100, 1, 1), DATES, "after 2099-12-31"),
    ("timeline", ("2025-02-01", "2025-01-01"), None, "ends"),
    ("week", ("2025-01-06", "2025-01-10"), None, "spans 7 days"),
    ("email", "not-an-email", None, "not an email address"),
    ("email", "a@b", None, "not an email address"),
    ("email", "a b@example.com", None, "not an email address"),
    ("email", "a@" + "x" * 250 + ".com", None, "more than the 254"),
    ("link", "javascript:alert(1)", None, "not an http(s) link"),
    ("phone", "+12025550169", None, "expected (phone, countryShortName)"),
    ("country", ("USA", "United States"), None, "two-letter country code"),
    ("hour", "24:00", None, "not a time of day"),
    ("people", [0], None, "positive integers"),
    ("tags", "1,2", None, "expected tag id(s)"),
    ("location", {"lat": 91, "lng": 0}, None, "out of range"),
    ("checkbox", "yes", None, "expected true/false"),
]


@pytest.mark.parametrize(("type_name", "value", "rule", "reason"), REJECTED)
def test_reject(type_name: str, value: object, rule: ValueRule | None, reason: str) -> None:
    reasons = check_value(type_name, value, rule)
    assert reasons and reason in reasons[0], reasons
    with pytest.raises(InvalidValue) as caught:
        encode_value(type_name, value, rule)
    assert caught.value.reasons == tuple(reasons)
    assert isinstance(caught.value, OpusError)


@pytest.mark.parametrize("type_name", sorted(READ_ONLY_TYPES))
def test_read_only_types_refuse_every_value(type_name: str) -> None:
    for value in ("x", 1, None):
        [reason] = check_value(type_name, value)
        assert "read-only" in reason and type_name in reason
        with pytest.raises(InvalidValue, match="read-only"):
            encode_value(type_name, value)


@pytest.mark.parametrize("type_name", sorted(t for t, spec in COLUMN_TYPES.items() if spec.writable))
def test_null_clears_every_writable_type_but_name(type_name: str) -> None:
    if type_name == "name":
        assert check_value(type_name, None)
    else:
        assert check_value(type_name, None) == []
        assert encode_value(type_name, None) is None


def test_the_column_type_list_is_monday_s() -> None:
    writable = {t for t, spec in COLUMN_TYPES.items() if spec.writable}
    assert {"text", "long_text", "numbers", "status", "dropdown", "date", "email", "checkbox"} <= writable
    assert READ_ONLY_TYPES == {t for t, spec in COLUMN_TYPES.items() if not spec.writable}
    assert "formula" in READ_ONLY_TYPES and "mirror" in READ_ONLY_TYPES


def test_unknown_type_suggests_the_near_one() -> None:
    with pytest.raises(UnknownColumnType, match="did you mean 'status'"):
        check_value("stauts", "x")


def test_effective_rule_adds_monday_limits() -> None:
    assert effective_rule("long_text").max_length == LONG_TEXT_MAX_LENGTH
    assert effective_rule("long_text", ValueRule(max_length=500)).max_length == 500
    assert effective_rule("long_text", ValueRule(max_length=5000)).max_length == LONG_TEXT_MAX_LENGTH
    assert effective_rule("email").max_length == 254
    assert effective_rule("numbers", QTY) is QTY


def test_labels_keep_the_metadata_spelling() -> None:
    assert STATUS.canonical_label("shipped") == "SHIPPED"
    assert STATUS.canonical_label("  In Production ") == "IN PRODUCTION"
    assert STATUS.canonical_label("Done") is None


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("é") == 1
    assert utf16_length("😀") == 2


def test_column_values_json_is_compact_sorted_and_unescaped() -> None:
    text = column_values_json({"status_1": {"label": "SHIPPED"}, "long_text": None, "text": '日本 "q"'})
    assert text == '{"long_text":null,"status_1":{"label":"SHIPPED"},"text":"日本 \\"q\\""}'
    assert column_values_json({"b": 1, "a": 2}) == column_values_json({"a": 2, "b": 1})


def test_column_values_json_refuses_unencoded_values() -> None:
    with pytest.raises(InvalidValue, match="encode the values first"):
        column_values_json({"d": date(2025, 1, 1)})
    with pytest.raises(InvalidValue):
        column_values_json({"n": math.inf})


# -- hypothesis: whatever the value, it is either refused with reasons or survives encoding ------------

NASTY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1900, max_size=2100),
    st.sampled_from([INJECTION, "'", '"', "\\", "\x00", "\n\r\t", "", " ", "NULL", "null", "{}", "😀" * 1000]),
)


def _round_trip(type_name: str, value: object, rule: ValueRule | None = None) -> object:
    """Encode as the plan does (inside column_values JSON) and read it back."""
    payload = encode_value(type_name, value, rule)
    return json.loads(column_values_json({"col": payload}))["col"]


@given(NASTY_TEXT)
def test_text_is_refused_or_round_trips_exactly(value: str) -> None:
    reasons = check_value("text", value)
    if reasons:
        with pytest.raises(InvalidValue):
            encode_value("text", value)
    else:
        assert _round_trip("text", value) == value


@given(NASTY_TEXT)
def test_long_text_is_refused_or_round_trips_exactly(value: str) -> None:
    reasons = check_value("long_text", value)
    if utf16_length(value) > LONG_TEXT_MAX_LENGTH:
        assert reasons
    if not reasons:
        assert _round_trip("long_text", value) == {"text": value}


NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=4, min_value=-(10**14), max_value=10**14),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{0,10})?", fullmatch=True),
    st.text(max_size=12),
    st.none(),
)


@given(NUMBERS)
def test_numbers_are_refused_or_encode_exactly(value: object) -> None:
    reasons = check_value("numbers", value)
    if value is None:
        assert reasons == [] and _round_trip("numbers", value) is None
        return
    if reasons:
        with pytest.raises(InvalidValue):
            encode_value("numbers", value)
        return
    text = _round_trip("numbers", value)
    assert isinstance(text, str)
    expected = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    assert Decimal(text) == expected  # the same number ...
    assert "E" not in text and "e" not in text  # ... written plainly ...
    assert "." not in text or not text.endswith(("0", "."))  # ... with no trailing zeros ...
    assert text == ("0" if not expected else format(expected.normalize(WIDE), "f"))  # ... or float noise


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_only_numbers_wider_than_sql_server_decimal_are_refused(value: Decimal) -> None:
    refused = bool(check_value("numbers", value))
    _, digits, exponent = value.normalize(WIDE).as_tuple()
    assert isinstance(exponent, int)
    needed = len(digits) + exponent if exponent >= 0 else max(len(digits) + exponent, 0) - exponent
    assert refused == (bool(value) and needed > NUMBER_MAX_DIGITS)


@given(st.dates())
def test_every_calendar_date_encodes_as_iso(value: date) -> None:
    assert _round_trip("date", value) == {"date": value.isoformat()}
    assert _round_trip("date", value.isoformat()) == {"date": value.isoformat()}
    inside = DATES.min_date <= value <= DATES.max_date  # type: ignore[operator]
    assert (check_value("date", value, DATES) == []) == inside


@given(st.text(max_size=12))
def test_date_text_is_refused_or_a_real_date(value: str) -> None:
    if not check_value("date", value):
        assert date.fromisoformat(value).isoformat() == value


@given(st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-5))])))
def test_datetimes_are_sent_in_utc(value: datetime) -> None:
    payload = _round_trip("date", value)
    assert isinstance(payload, dict)
    moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if check_value("date", value) == []:
        assert payload == {"date": moment.date().isoformat(), "time": moment.strftime("%H:%M:%S")}


@given(st.one_of(NASTY_TEXT, st.sampled_from(["shipped", " SHIPPED", "On Hold", "CANCELLED "])))
def test_status_is_refused_or_one_of_the_labels(value: str) -> None:
    reasons = check_value("status", value, STATUS)
    if not reasons:
        assert _round_trip("status", value, STATUS)["label"] in STATUS.labels  # type: ignore[index, operator]
        assert value.strip().casefold() in {label.casefold() for label in STATUS.labels or ()}


@given(st.text())
def test_email_is_refused_or_sent_with_both_keys(value: str) -> None:
    if not check_value("email", value):
        assert _round_trip("email", value) == {"email": value, "text": value}
        assert "@" in value and " " not in value


# -- one complete entry per monday column type (issue 11, point 11) -------------------------------------


def _strictest_rule(spec: Any) -> Any:
    """The tightest ValueRule a type's metadata may give: every limit its rule fields allow."""
    limits: dict[str, Any] = {}
    if "labels" in spec.rule_fields:
        limits["labels"] = ("Open", "Done")
    if "min" in spec.rule_fields:
        limits.update(min=Decimal(0), max=Decimal(10))
    if "max_length" in spec.rule_fields:
        limits["max_length"] = 20
    if "min_date" in spec.rule_fields:
        limits.update(min_date=date(2000, 1, 1), max_date=date(2099, 12, 31))
    return ValueRule(**limits)


@pytest.mark.parametrize("name", sorted(n for n, spec in COLUMN_TYPES.items() if spec.writable))
def test_every_writable_type_has_a_converter_a_set_based_decision_and_an_audit_decoder(name: str) -> None:
    """A type added with a converter only fails here: without a set-based rule, validation in the
    database would accept what the row-by-row check refuses; without a decoder, rollback could not
    read its audit rows back."""
    from pytest_opus.catalog import Column
    from pytest_opus.updates.board import ColumnCheck
    from pytest_opus.updates.validation import UNCHECKED_TYPES, _column_rules

    spec = COLUMN_TYPES[name]
    assert spec.convert is not None and spec.audit is not None
    generic = {"required", "value does not fit", "a name cannot be cleared"}
    if spec.sql_types is None:
        assert name in UNCHECKED_TYPES  # the explicit "no set-based rule": non-NULL values are refused
        return
    sql_type = sorted(spec.sql_types)[0]
    column = Column("C", 1, sql_type, max_length=200 if sql_type in ("char", "varchar", "nchar", "nvarchar") else None,
                    precision=18 if sql_type in ("decimal", "numeric") else None,
                    scale=4 if sql_type in ("decimal", "numeric") else None)
    check = ColumnCheck("C", "c1", name, False, True, False, _strictest_rule(spec))
    reasons = [rule.reason.split(": ", 1)[1] for rule in _column_rules(check, column)]
    specific = [r for r in reasons if not any(r.startswith(g) for g in generic)]
    assert specific, f"set-based validation has no value rule for {name} (only {reasons})"


def test_audit_texts_come_back_as_values_the_converter_takes() -> None:
    from pytest_opus.updates.operations import value_from_audit

    assert value_from_audit("people", '{"personsAndTeams":[{"id":7,"kind":"person"}]}') == [7]
    assert value_from_audit("hour", '{"hour":9,"minute":5}') == "09:05"
    assert value_from_audit("date", "2025-01-02 10:00:00") == "2025-01-02"
    assert value_from_audit("text", "a {b}") == "a {b}" and value_from_audit("tags", "not json") == "not json"
    assert value_from_audit("numbers", None) is None
