"""Masking DSN passwords and redacting secret values from text."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_opus.secrets import mask_dsn, redact, secret_values

MASKS: list[tuple[str, str, str | None]] = [
    # (case id, dsn, masked)
    ("PWD", "Driver={ODBC Driver 18 for SQL Server};Server=s;UID=u;PWD=hunter2", None),
    ("Password", "Server=s;Password=hunter2;Encrypt=yes", "Server=s;Password=***;Encrypt=yes"),
    ("lower case key", "server=s;pwd=hunter2", "server=s;pwd=***"),
    ("mixed case key", "Server=s;PassWord=hunter2;UID=u", "Server=s;PassWord=***;UID=u"),
    ("spaces around =", "Server=s; PWD = hunter2 ;UID=u", "Server=s; PWD = ***;UID=u"),
    ("key first", "PWD=hunter2;Server=s", "PWD=***;Server=s"),
    ("braces", "Server=s;PWD={hunter2};UID=u", "Server=s;PWD=***;UID=u"),
    ("braces with ; and }} escape", "Server=s;PWD={a;b}}c};UID=u", "Server=s;PWD=***;UID=u"),
    ("braces with = and {", "Server=s;PWD={x=1{;y};UID=u", "Server=s;PWD=***;UID=u"),
    ("unclosed brace masks to the end", "Server=s;PWD={a;UID=u", "Server=s;PWD=***"),
    ("junk after the brace is masked too", "PWD={a}b;UID=u", "PWD=***;UID=u"),
    ("empty value", "Server=s;PWD=;UID=u", "Server=s;PWD=***;UID=u"),
    ("two secrets", "PWD=a;Password=b", "PWD=***;Password=***"),
    ("key that only ends in PWD", "OldPWD=keep;PWD=x", "OldPWD=keep;PWD=***"),
    ("other keys untouched", "Driver={X};Server=tcp:s,1433;UID=sa;Database=OPUS", None),
    ("url", "mssql://sa:hunter2@db.example/OPUS", "mssql://sa:***@db.example/OPUS"),
    (
        "url with driver",
        "mssql+pyodbc://sa:hunter2@db:1433/OPUS?x=1",
        "mssql+pyodbc://sa:***@db:1433/OPUS?x=1",
    ),
    ("url password with @ and :", "mssql://sa:p@ss:w@db/OPUS", "mssql://sa:***@db/OPUS"),
    ("url without password", "mssql://sa@db/OPUS", "mssql://sa@db/OPUS"),
    ("url with port only", "mssql://db:1433/OPUS", "mssql://db:1433/OPUS"),
]


@pytest.mark.parametrize(("dsn", "masked"), [c[1:] for c in MASKS], ids=[c[0] for c in MASKS])
def test_mask_dsn(dsn: str, masked: str | None) -> None:
    if masked is None:  # only the PWD value changes, or nothing at all
        masked = dsn.replace("hunter2", "***")
    assert mask_dsn(dsn) == masked


SECRETS: list[tuple[str, str, list[str]]] = [
    ("plain", "Server=s;PWD=hunter2;UID=u", ["hunter2"]),
    ("trailing spaces trimmed", "PWD = hunter2 ;UID=u", ["hunter2"]),
    ("braced: as written and unescaped", "PWD={a;b}}c};UID=u", ["{a;b}}c}", "a;b}c"]),
    ("two keys", "PWD=one;Password=two", ["one", "two"]),
    ("none", "Server=s;UID=u", []),
    ("empty", "PWD=;UID=u", []),
    ("empty braces", "PWD={};UID=u", []),
    ("url: as written and decoded", "mssql://sa:p%40ss@db/x", ["p%40ss", "p@ss"]),
    ("url plain", "mssql://sa:secret@db/x", ["secret"]),
]


@pytest.mark.parametrize(("dsn", "values"), [c[1:] for c in SECRETS], ids=[c[0] for c in SECRETS])
def test_secret_values(dsn: str, values: list[str]) -> None:
    assert secret_values(dsn) == values


REDACTIONS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("every occurrence", "pw hunter2, again hunter2", ("hunter2",), "pw ***, again ***"),
    ("longest first", "abcdef and abc", ("abc", "abcdef"), "*** and ***"),
    ("empty secret ignored", "abc", ("",), "abc"),
    ("no secrets", "abc", (), "abc"),
    ("regex characters are literal", "a.*b and axxb", (".*",), "a***b and axxb"),
]


@pytest.mark.parametrize(
    ("text", "secrets", "expected"), [c[1:] for c in REDACTIONS], ids=[c[0] for c in REDACTIONS]
)
def test_redact(text: str, secrets: tuple[str, ...], expected: str) -> None:
    assert redact(text, *secrets) == expected


def test_redact_an_error_that_echoes_the_unescaped_password() -> None:
    dsn = "Server=s;PWD={a;b}}c}"
    error = "login failed for password 'a;b}c' in Server=s;PWD={a;b}}c}"
    assert "a;b" not in redact(error, *secret_values(dsn))


_FRAME = "Driver={X};Server=s;UID=u;PWD=***"


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=4))
def test_braced_password_never_survives(password: str) -> None:
    dsn = f"Driver={{X}};Server=s;UID=u;PWD={{{password.replace('}', '}}')}}}"
    masked = mask_dsn(dsn)
    assert masked == _FRAME
    assert "Server=s" in masked
    assume(password not in _FRAME)  # e.g. "rver" is in the frame itself, not a leak
    assert password not in masked
    assert password in secret_values(dsn)
