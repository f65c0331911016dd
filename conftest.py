"""What every test run of this repository shares: the Phase 0 suite, the unit tests and the plugin tests.

Only runtime dependencies are imported here, so that `pytest --opus-deploy` works on a machine that
has installed nothing but the package. It holds the rule for tests that need a system component
(unixODBC, the SQLite ODBC driver, Chromium): mark them `@pytest.mark.requires_system("libsqliteodbc")`;
where the component is missing they are skipped with a reason naming the package to install, except
under CI=true, where a missing component fails the run (CI is meant to have everything).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

#: the system components tests may need: how to tell one is there, and what to install when it is not
COMPONENTS: dict[str, tuple[Callable[[], str | None], str]] = {}


def _component(name: str, install: str) -> Callable[[Callable[[], str | None]], Callable[[], str | None]]:
    def register(check: Callable[[], str | None]) -> Callable[[], str | None]:
        COMPONENTS[name] = (check, install)
        return check

    return register


@_component("unixodbc", "pip install pyodbc; apt-get install unixodbc (macOS: brew install unixodbc)")
def _unixodbc() -> str | None:
    """Why pyodbc cannot be used here, or None."""
    try:
        import pyodbc  # noqa: F401
    except ImportError as error:  # pyodbc missing, or libodbc.so.2 missing
        return str(error)
    return None


@_component("libsqliteodbc", "apt-get install libsqliteodbc (and unixodbc)")
def _sqlite_odbc() -> str | None:
    problem = _unixodbc()
    if problem is not None:
        return problem
    import pyodbc

    if not any("sqlite3" in driver.lower() for driver in pyodbc.drivers()):
        return "no SQLite3 ODBC driver is registered with unixODBC"
    return None


@_component("chromium", "apt-get install chromium (or set CHROMIUM to a Chromium or Chrome binary)")
def _chromium() -> str | None:
    names = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "chrome"]
    return None if any(name and shutil.which(name) for name in names) else "no Chromium or Chrome binary on PATH"


def in_ci() -> bool:
    """CI=true (or 1, yes): the run must not skip a test for want of a component."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_system(*names): the test needs these system components "
        f"({', '.join(COMPONENTS)}); skipped when one is missing, failed instead under CI=true",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires_system"):
        for name in marker.args:
            if name not in COMPONENTS:
                raise pytest.UsageError(f"requires_system({name!r}): unknown component; known: {', '.join(COMPONENTS)}")
            check, install = COMPONENTS[name]
            problem = check()
            if problem is None:
                continue
            reason = f"needs {name} ({problem}): {install}"
            if in_ci():
                pytest.fail(f"CI=true and this test {reason}", pytrace=False)
            pytest.skip(reason)
