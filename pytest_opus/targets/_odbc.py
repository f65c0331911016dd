"""The one place pyodbc is imported: loading it lazily, connecting, and reading ODBC diagnostics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import ConfigError
from ..secrets import mask_dsn, redact, secret_values

INSTALL_PYODBC = "pip install pyodbc (or: pip install 'pytest-opus[odbc]')"
INSTALL_UNIXODBC = "apt-get install unixodbc (macOS: brew install unixodbc)"
INSTALL_SQLSERVER_DRIVER = (
    "install Microsoft's ODBC Driver 18 for SQL Server (Debian/Ubuntu: apt-get install msodbcsql18 "
    "from Microsoft's package repository; see https://learn.microsoft.com/sql/connect/odbc/linux-mac/"
    "installing-the-microsoft-odbc-driver-for-sql-server) and name it in the DSN as "
    "Driver={ODBC Driver 18 for SQL Server}"
)

_pyodbc: ModuleType | None = None


def load_pyodbc() -> ModuleType:
    """pyodbc, imported on first use so that the sandbox works on machines without unixODBC."""
    global _pyodbc
    if _pyodbc is None:
        try:
            import pyodbc
        except ModuleNotFoundError as exc:
            if exc.name != "pyodbc":
                raise
            raise ConfigError(
                f"a DSN target needs pyodbc, which is not installed: {INSTALL_PYODBC}"
            ) from None
        except ImportError as exc:
            # pyodbc's wheel links against libodbc.so.2; without unixODBC the import itself fails.
            raise ConfigError(
                f"pyodbc is installed but cannot load the ODBC driver manager ({exc}): "
                f"{INSTALL_UNIXODBC}, then the database's ODBC driver (for SQL Server: msodbcsql18)"
            ) from None
        _pyodbc = pyodbc
    return _pyodbc


@dataclass(frozen=True)
class Diagnostic:
    """One ODBC diagnostic record: SQLSTATE, the server's native message number, and its text."""

    state: str
    native: int
    text: str  # without the [vendor][driver][server] prefixes

    @property
    def is_info(self) -> bool:
        # Class 01 is "success with warning": PRINT output and informational messages, not failures.
        return self.state.startswith("01")


# Drivers prefix every message with their chain of components, e.g.
# "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]" or "[unixODBC][Driver Manager]".
# A run of brackets followed by "." is a quoted name such as [dbo].[t] and is kept.
_VENDOR_PREFIX = re.compile(r"^\s*(?:\[[^\[\]]*\])+(?!\.)")

# pyodbc formats an exception's text as "[STATE] message (native) (SQLFunction)", and on platforms
# where it reads more than one record, appends "; [STATE] message (native)" for each further one.
_ERROR_RECORD = re.compile(
    r"\[(?P<state>[0-9A-Z]{5})\]\s(?P<text>.*?)\s\((?P<native>-?\d+)\)(?:\s\(SQL\w+\))?"
    r"(?=;\s\[[0-9A-Z]{5}\]\s|\s*\Z)",
    re.DOTALL,
)
# pyodbc's cursor.messages entries are ("[STATE] (native)", "message").
_MESSAGE_CLASS = re.compile(r"\[(?P<state>[0-9A-Z]{5})\]\s*\((?P<native>-?\d+)\)")


def strip_vendor_prefix(text: str) -> str:
    """The server's own words: `text` without the driver's leading [component] tags."""
    return _VENDOR_PREFIX.sub("", text, count=1).strip()


def parse_error_text(text: str) -> list[Diagnostic]:
    """The diagnostic records in a pyodbc exception's message; one catch-all record if unparseable."""
    records = [
        Diagnostic(m["state"], int(m["native"]), strip_vendor_prefix(m["text"]))
        for m in _ERROR_RECORD.finditer(text)
    ]
    return records or [Diagnostic("HY000", 0, strip_vendor_prefix(text))]


_SQLSTATE = re.compile(r"[0-9A-Z]{5}")


def error_records(exc: BaseException) -> list[Diagnostic]:
    """The diagnostic records carried by a pyodbc.Error.

    Driver errors carry (sqlstate, message); errors pyodbc raises itself (a wrong parameter count,
    say) carry (message, sqlstate). The message is whichever argument is not a bare SQLSTATE.
    """
    texts = [a for a in exc.args if isinstance(a, str) and not _SQLSTATE.fullmatch(a)]
    return parse_error_text(texts[0] if texts else str(exc))


def parse_message(entry: tuple[Any, Any]) -> Diagnostic:
    """One entry of pyodbc's `cursor.messages` as a Diagnostic."""
    klass, text = entry
    if isinstance(text, bytes):  # pyodbc hands back raw bytes when the text does not decode
        text = text.decode("utf-16-le", errors="replace")
    match = _MESSAGE_CLASS.search(str(klass))
    state, native = (match["state"], int(match["native"])) if match else ("01000", 0)
    return Diagnostic(state, native, strip_vendor_prefix(str(text)))


def connect(dsn: str, *, autocommit: bool = False, timeout: int = 30) -> Any:
    """An open pyodbc connection for `dsn`; ConfigError with the masked DSN and a remedy otherwise.

    `timeout` is the login timeout in seconds. The connection's text never reaches the message
    unredacted, and the original exception is not chained, since its text is not redacted.
    """
    pyodbc = load_pyodbc()
    try:
        return pyodbc.connect(dsn, autocommit=autocommit, timeout=timeout)
    except pyodbc.Error as exc:
        reason = redact("; ".join(r.text for r in error_records(exc)), *secret_values(dsn))
        raise ConfigError(_connect_failure(mask_dsn(dsn), reason, exc, pyodbc)) from None
    except Exception as exc:  # anything else (an undecodable DSN, say) must not carry the DSN out either
        reason = redact(f"{type(exc).__name__}: {exc}", *secret_values(dsn))
        raise ConfigError(f"cannot connect to {mask_dsn(dsn)}: {reason}") from None


#: What to change when ODBC Driver 18 refuses the server's certificate (it encrypts and verifies by default).
CERTIFICATE_REMEDY = (
    "ODBC Driver 18 encrypts every connection and verifies the server's TLS certificate unless told "
    "otherwise (Driver 17 did not). Keep Encrypt=yes and either make the certificate trusted here: install "
    "the certificate of the CA that issued it (Debian/Ubuntu: copy it to /usr/local/share/ca-certificates/ "
    "and run update-ca-certificates), and if the certificate names the server differently from Server=, "
    "add HostNameInCertificate=<that name>; or, for a server with a self-signed certificate (SQL Server's "
    "own when none is configured, a test or CI container), add TrustServerCertificate=yes to the DSN, which "
    "keeps the connection encrypted but does not check whose certificate it is. See docs/dba.md, "
    "\"Connecting to SQL Server\""
)


def is_certificate_failure(records: list[Diagnostic]) -> bool:
    """Whether a failed connect is the driver refusing the server's TLS certificate.

    Driver 18 reports it as SQLSTATE 08001 from its "SSL Provider", with OpenSSL's reason on Linux
    ("[error:0A000086:SSL routines::certificate verify failed:self-signed certificate]") and
    Windows' on Windows ("The certificate chain was issued by an authority that is not trusted.",
    "The target principal name is incorrect.").
    """
    return any(
        r.state == "08001" and ("ssl provider" in r.text.lower() or "certificate" in r.text.lower())
        for r in records
    )


def _connect_failure(masked: str, reason: str, exc: BaseException, pyodbc: ModuleType) -> str:
    state = exc.args[0] if exc.args else ""
    lowered = reason.lower()
    if is_certificate_failure(error_records(exc)):
        return f"cannot connect to {masked}: the server's TLS certificate was refused ({reason}). {CERTIFICATE_REMEDY}."
    # unixODBC says "Can't open lib" for a Driver= it has no entry or file for, and IM002 when
    # neither a Driver= nor a known DSN= names one.
    if "can't open lib" in lowered or state == "IM002":
        installed = ", ".join(pyodbc.drivers()) or "none"
        return (
            f"cannot connect to {masked}: the ODBC driver or data source it names is not installed "
            f"({reason}). Installed ODBC drivers: {installed}. To reach SQL Server, "
            f"{INSTALL_SQLSERVER_DRIVER}."
        )
    return (
        f"cannot connect to {masked}: {reason}. Check the server name and port, that the server "
        "accepts connections, and the credentials (UID/PWD or Trusted_Connection)."
    )
