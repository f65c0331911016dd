"""Keeps connection secrets out of output: masks passwords in DSNs and redacts known values from text."""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# An ODBC attribute whose value is a secret. The key must start the string or follow a `;`, so that
# keys which merely end in PWD are left alone. A value is either {braced} (where `}}` stands for `}`
# and `;` is literal) or runs to the next `;`. Whatever is malformed errs towards masking more: an
# unclosed brace runs to the end of the string, and junk after a closing brace is masked with it.
_ODBC_SECRET = re.compile(
    r"""
    (?P<key> (?: ^ | ; ) \s* (?: pwd | password | keystoresecret | keystoreprincipalid | accesstoken
                                  | clientsecret | sas ) \s* = \s* )
    (?P<value> \{ (?P<braced> [^}]* (?: \}\} [^}]* )* ) (?: \} | \Z ) [^;]* | [^;]* )
    """,
    re.IGNORECASE | re.VERBOSE,
)

# The password of a URL's user info (scheme://user:password@host). The password runs to the last `@`
# before the host, since an unencoded `@` in a password is a common mistake.
_URL_SECRET = re.compile(
    r"(?P<key> \b [a-z][a-z0-9+.\-]* :// [^:/@\s]* : ) (?P<value> [^/\s]* ) (?= @ )",
    re.IGNORECASE | re.VERBOSE,
)


def mask_dsn(dsn: str) -> str:
    """`dsn` with every password (ODBC PWD/Password attributes, URL user info) replaced by ***."""
    masked = _ODBC_SECRET.sub(lambda m: m.group("key") + MASK, dsn)
    return _URL_SECRET.sub(lambda m: m.group("key") + MASK, masked)


def secret_values(dsn: str) -> list[str]:
    """The passwords a DSN holds, both as written and as the driver sees them (unescaped/decoded).

    Both forms are returned because an error message may echo either one.
    """
    found: list[str] = []
    for match in _ODBC_SECRET.finditer(dsn):
        written = match.group("value").strip()
        braced = match.group("braced")
        plain = written if braced is None else braced.replace("}}", "}")
        if plain:  # an empty password has nothing to hide, and "{}" is no secret
            found += [written, plain]
    for match in _URL_SECRET.finditer(dsn):
        written = match.group("value")
        found += [written, unquote(written)]
    return [value for value in dict.fromkeys(found) if value]


def redact(text: str, *secrets: str) -> str:
    """`text` with every occurrence of each non-empty secret replaced by ***.

    Longer secrets go first so that a secret containing a shorter one is not left half-visible.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
