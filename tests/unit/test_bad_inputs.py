"""The catalogue of bad inputs and faults (issue 13): each one gives its exit status and one clear line
naming what was wrong, never a traceback, and leaves the database's catalog and rows as they were.

Each case runs `opus-sql` (or pytest with the plugin) on a deployed sandbox `dms` in a fresh project
directory. "As they were" allows one thing: the ledger's row recording a failed attempt (that is the
ledger's job); every other row of every table, and the catalog, must be identical.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_opus import cli
from pytest_opus.errors import ConfigError, OpusError
from pytest_opus.targets.locking import FileLock
from pytest_opus.targets.sandbox import SandboxTarget, baseline_template
from pytest_opus.updates import UpdateOperations, load_board
from pytest_opus.updates.staging import StagingError
from pytest_opus.updates.validation import NUL_REASON
from pytest_opus.updates.values import VALUE_MAX_CHARACTERS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = "sql/deploy_opus_update_boards.sql"
VALIDATE = "sql/validate_ddl_changes.sql"
ROLLBACK = "sql/rollback_opus_update_boards.sql"
DMS = Path(".opus") / "dms.sqlite"
SECRET = "n0t-f0r-y0ur-eyes"
PYPROJECT = '[project]\nname = "opus-bad-inputs"\nversion = "0"\n'
#: the ledger's table of runs: a failed attempt is recorded there, by design
LEDGER_RUNS = "OPUS_DeploymentRun"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    status: int
    words: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)  # written into the project first
    env: dict[str, str] = field(default_factory=dict)
    pyproject: str = ""  # appended to the project's pyproject.toml
    fault: str | None = None  # a name in FAULTS


def case(id: str, args: list[str], status: int, words: list[str], **extra: Any) -> Case:
    return Case(id, tuple(args), status, tuple(words), **extra)


def script(text: str | bytes) -> dict[str, Any]:
    """The case's script file p.sql, holding `text`."""
    return {"files": {"p.sql": text}}


DMS_ARGS = ["--database", "dms"]
RUN_P = ["--script", "p.sql", *DMS_ARGS]

CASES = [
    # -- the script file --------------------------------------------------------------------------
    case("script-missing", ["--script", "nope.sql", *DMS_ARGS], 2, ["script file not found", "nope.sql"]),
    case("script-is-a-directory", ["--script", "sql", *DMS_ARGS], 2, ["is a directory"]),
    case("script-empty", RUN_P, 2, ["holds no SQL"], **script("")),
    case("script-only-comments", RUN_P, 2, ["holds no SQL"], **script("-- a note\n/* another */\n")),
    case("script-only-go-lines", RUN_P, 2, ["holds no SQL"], **script("GO\n\nGO\n")),
    case("script-is-a-fifo", RUN_P, 2, ["FIFO", "save the script to a .sql file"], fault="fifo"),
    case("script-dev-zero", ["--script", "/dev/zero", *DMS_ARGS], 2, ["/dev/zero is a device", "not a file"]),
    case("script-dev-null", ["--script", "/dev/null", *DMS_ARGS], 2, ["/dev/null is a device"]),
    case("script-latin-1", RUN_P, 2, ["not UTF-8", "Save with Encoding"], **script(b"SELECT 'caf\xe9'\n")),
    case("script-utf-16", RUN_P, 2, ["not UTF-8"], **script("SELECT 1\n".encode("utf-16"))),
    case("script-binary", RUN_P, 2, ["not UTF-8"], **script(b"\x89PNG\r\n\x1a\n\x00\x00")),
    case("script-nul-byte", RUN_P, 2, ["p.sql:2 holds a NUL byte"], **script("SELECT 1\nSELECT '\x00'\n")),
    case("script-too-large", RUN_P, 2, ["65 MB", "up to 64 MB", "split it"], fault="huge-script"),
    # -- what the script does: it fails, and everything it did is rolled back ----------------------
    # --confirm: a script the reader cannot parse also asks for it (its effects cannot be read)
    case("syntax-error", [*RUN_P, "--confirm"], 1, ["p.sql:3", "(batch 2)", "rolled back"],
         **script("CREATE TABLE dbo.bad_a (id INT)\nGO\nSELECT 1 +\n")),
    case("unknown-table", RUN_P, 1, ["no_such_table", "rolled back"],
         **script("INSERT INTO dbo.no_such_table (id) VALUES (1)\n")),
    case("misspelt-column", RUN_P, 1, ["Invalid column name 'NOTEZ'", "nothing it did was kept"],
         **script("UPDATE dbo.STG_MON_CustMasterSchedule SET NOTES = NOTEZ\n")),
    case("fails-in-a-late-batch", RUN_P, 1, ["p.sql:5", "(batch 3)", "no_such_table"],
         **script("CREATE TABLE dbo.bad_b (id INT)\nGO\nALTER TABLE dbo.STG_MON_CustMasterSchedule ADD probe INT NULL\n"
                  "GO\nINSERT INTO dbo.no_such_table (id) VALUES (1)\n")),
    case("divide-by-zero", RUN_P, 1, ["Divide by zero", "rolled back"],
         **script("CREATE TABLE dbo.bad_c (id INT)\nGO\nSELECT 1 / 0\n")),
    case("int-overflow", RUN_P, 1, ["Arithmetic overflow"], **script("SELECT 2147483647 + 1\n")),
    case("conversion-failed", RUN_P, 1, ["Conversion failed", "'abc'"], **script("SELECT CAST('abc' AS INT)\n")),
    case("string-truncated", RUN_P, 1, ["would be truncated", "column 'a'"],
         **script("CREATE TABLE dbo.bad_d (a VARCHAR(3))\nINSERT INTO dbo.bad_d VALUES ('abcdef')\n")),
    case("duplicate-key", RUN_P, 1, ["p.sql:3", "rolled back"],
         **script("CREATE TABLE dbo.bad_e (a INT NOT NULL, CONSTRAINT PK_bad_e PRIMARY KEY (a))\n"
                  "INSERT INTO dbo.bad_e VALUES (1)\nINSERT INTO dbo.bad_e VALUES (1)\n")),
    case("null-into-not-null", RUN_P, 1, ["p.sql:2", "rolled back"],
         **script("CREATE TABLE dbo.bad_f (a INT NOT NULL)\nINSERT INTO dbo.bad_f VALUES (NULL)\n")),
    case("raiserror", RUN_P, 1, ["stop here", "rolled back"],
         **script("CREATE TABLE dbo.bad_g (id INT)\nRAISERROR('stop here', 16, 1)\n")),
    case("throw", RUN_P, 1, ["custom failure"], **script("THROW 50001, 'custom failure', 1\n")),
    case("object-already-exists", RUN_P, 1, ["already an object named 'STG_MON_CustMasterSchedule'"],
         **script("CREATE TABLE dbo.STG_MON_CustMasterSchedule (a INT)\n")),
    case("unterminated-string", [*RUN_P, "--confirm"], 1, ["p.sql:1", "rolled back"], **script("SELECT 'abc\n")),
    case("unsupported-construct", [*RUN_P, "--confirm"], 1, ["not supported by the sandbox: ", "(--opus-dsn)"],
         **script("CREATE TABLE dbo.bad_h (id INT)\nGO\nBACKUP DATABASE dms TO DISK = N'dms.bak'\n")),
    case("script-commits-itself", RUN_P, 1, ["ended the transaction itself", "may have been committed",
                                              "opus-sql status"], **script("PRINT 'x'\nCOMMIT\nGO\nSELECT 1\n")),
    case("script-rolls-back-itself", RUN_P, 1, ["ended the transaction itself"],
         **script("CREATE TABLE dbo.bad_i (id INT)\nROLLBACK\n")),
    case("begin-without-commit", RUN_P, 1, ["unbalanced", "nothing it did was kept"],
         **script("BEGIN TRANSACTION\nCREATE TABLE dbo.bad_j (id INT)\n")),
    # -- scripts that must not run by accident ------------------------------------------------------
    case("drop-unconfirmed", RUN_P, 2, ["must not run by accident", "drops table dbo.MON_UpdateAudit", "--confirm"],
         **script("DROP TABLE dbo.MON_UpdateAudit\n")),
    case("truncate-unconfirmed", RUN_P, 2, ["truncates table dbo.MON_UpdateAudit", "nothing was run"],
         **script("TRUNCATE TABLE dbo.MON_UpdateAudit\n")),
    case("dynamic-sql-unconfirmed", RUN_P, 2, ["dynamic SQL", "--confirm"], **script("EXEC('SELECT 1')\n")),
    case("bad-go-count", RUN_P, 2, ["GO count must be a positive integer", "nothing was run"],
         **script("SELECT 1\nGO 0\n")),
    case("rollback-unconfirmed", ["--script", ROLLBACK, *DMS_ARGS], 2, ["must not run by accident", "--confirm"]),
    # -- which database -----------------------------------------------------------------------------
    case("unknown-database", ["--script", VALIDATE, "--database", "dsm"], 2,
         ["unknown database 'dsm'", "did you mean 'dms'?", "OPUS_DB_DSM"]),
    case("not-a-database-name", ["--script", VALIDATE, "--database", "dms;drop"], 2, ["not a database name"]),
    case("two-targets", ["--script", VALIDATE, "--database", "dms", "--db", "x.sqlite"], 2, ["not allowed with"]),
    case("no-target", ["--script", VALIDATE], 2, ["name the database", "OPUS_DATABASE"]),
    case("environment-names-two-targets", ["--script", VALIDATE], 2, ["OPUS_DATABASE and OPUS_DB", "unset all but one"],
         env={"OPUS_DATABASE": "dms", "OPUS_DB": "other.sqlite"}),
    case("environment-unknown-database", ["--script", VALIDATE], 2, ["unknown database 'nope'"],
         env={"OPUS_DATABASE": "nope"}),
    case("db-is-a-directory", ["--script", VALIDATE, "--db", "sql"], 2, ["is a directory"]),
    case("db-empty-file", ["--script", VALIDATE, "--db", "empty.sqlite"], 2, ["empty file (0 bytes)", "delete it"],
         files={"empty.sqlite": b""}),
    case("db-text-file", ["--script", VALIDATE, "--db", DEPLOY], 2, ["not an SQLite database file"]),
    case("db-device", ["--script", VALIDATE, "--db", "/dev/null"], 2, ["not a regular file"]),
    case("db-cut-short", ["--script", VALIDATE, "--db", "short.sqlite"], 2, ["is damaged", "header says"],
         fault="short-copy"),
    case("db-nul-in-path", ["--script", VALIDATE, "--db", "a\x00b.sqlite"], 2, ["not a file name"]),
    case("dsn-empty", ["--script", VALIDATE, "--dsn", " "], 2, ["DSN (--dsn) is empty"]),
    case("dsn-without-driver", ["--script", VALIDATE, "--dsn", f"Driver={{NoSuchDriver}};Server=x;UID=u;PWD={SECRET}"],
         2, ["PWD=***"]),
    case("dsn-on-a-machine-without-pyodbc", ["--script", VALIDATE, "--dsn", f"Driver={{X}};Server=x;PWD={SECRET}"], 2,
         ["PWD=***", "needs pyodbc", "pip install pyodbc"], fault="no-pyodbc"),
    case("dsn-on-a-machine-without-unixodbc", ["--script", VALIDATE, "--dsn", f"Driver={{X}};Server=x;PWD={SECRET}"],
         2, ["PWD=***", "libodbc.so.2", "apt-get install unixodbc"], fault="no-unixodbc"),
    case("pyproject-not-toml", ["--script", VALIDATE, *DMS_ARGS], 2, ["not valid TOML"], pyproject="[tool.opus\n"),
    case("pyproject-databases-not-a-table", ["--script", VALIDATE, *DMS_ARGS], 2, ["must be a table"],
         pyproject="[tool.opus]\ndatabases = 3\n"),
    case("pyproject-entry-not-a-table", ["--script", VALIDATE, *DMS_ARGS], 2, ["expected a table"],
         pyproject='[tool.opus.databases]\ndms = "x"\n'),
    case("pyproject-password", ["--script", VALIDATE, *DMS_ARGS], 2, ["holds a password", "pwd_env"],
         pyproject=f'[tool.opus.databases]\ndms = {{ dsn = "Driver={{X}};Server=s;PWD={SECRET}" }}\n'),
    case("pyproject-unknown-key", ["--script", VALIDATE, *DMS_ARGS], 2, ["unknown key 'sandbx'", "did you mean"],
         pyproject='[tool.opus.databases]\ndms = { sandbx = "x.sqlite" }\n'),
    case("pyproject-dsn-and-sandbox", ["--script", VALIDATE, *DMS_ARGS], 2, ["exactly one of dsn"],
         pyproject='[tool.opus.databases]\ndms = { dsn = "Driver={X}", sandbox = "x.sqlite" }\n'),
    case("pyproject-pwd-env-unset", ["--script", VALIDATE, *DMS_ARGS], 2, ["OPUS_H7_UNSET_PWD", "not set"],
         pyproject='[tool.opus.databases]\ndms = { dsn = "Driver={X};Server=s", pwd_env = "OPUS_H7_UNSET_PWD" }\n'),
    case("pyproject-sandbox-with-credentials", ["--script", VALIDATE, *DMS_ARGS], 2, ["no credentials"],
         pyproject='[tool.opus.databases]\ndms = { sandbox = "x.sqlite", uid_env = "U" }\n'),
    case("pyproject-sandbox-not-sqlite", ["--script", VALIDATE, *DMS_ARGS], 2, ["not an SQLite database file"],
         pyproject='[tool.opus.databases]\ndms = { sandbox = "sql/deploy_opus_update_boards.sql" }\n'),
    # -- options --------------------------------------------------------------------------------------
    case("lock-wait-negative", ["--script", VALIDATE, *DMS_ARGS, "--lock-wait", "-1"], 2, ["0 or more"]),
    case("lock-wait-not-a-number", ["--script", VALIDATE, *DMS_ARGS, "--lock-wait", "soon"], 2,
         ["invalid float value"]),
    case("lock-wait-environment", ["--script", VALIDATE, *DMS_ARGS], 2, ["OPUS_LOCK_WAIT='soon'", "not a number"],
         env={"OPUS_LOCK_WAIT": "soon"}),
    case("run-not-a-number", ["--script", VALIDATE, *DMS_ARGS, "--run", "x"], 2, ["invalid int value"]),
    case("unknown-option", ["--script", VALIDATE, *DMS_ARGS, "--frobnicate"], 2, ["unrecognized arguments"]),
    case("no-script", DMS_ARGS, 2, ["--script"]),
    case("status-unknown-database", ["status", "--database", "dsm"], 2, ["unknown database 'dsm'"]),
    case("approve-without-sign-off", ["approve", "--by", "lead", "--note", "ok", "--report", "none.json"], 2,
         ["no sign-off at none.json"]),
    case("approve-without-by", ["approve", "--note", "ok"], 2, ["--by"]),
    case("approve-in-another-database", ["approve", "--by", "lead", "--note", "ok", "--report", "so.json", *DMS_ARGS],
         2, ["the sign-off is for sandbox file /elsewhere/prod.sqlite", "would be recorded in sandbox",
             "dms.sqlite", "nothing was recorded"],
         files={"so.json": json.dumps({"decision": "GO", "scenario": "success", "criteria": [], "sign_off": True,
                                       "scope": "target", "target": "sandbox file /elsewhere/prod.sqlite",
                                       "id": "opus-phase0-20261203T000000Z"})}),
    # -- faults ---------------------------------------------------------------------------------------
    case("disk-full", RUN_P, 1, ["database or disk is full", "nothing it did was kept", "free space"],
         fault="disk-full",
         **script("CREATE TABLE dbo.bad_k (a NVARCHAR(MAX))\nGO\nINSERT INTO dbo.bad_k VALUES (N'" + "x" * 3000
                  + "')\nGO 200\n")),
    case("interrupted", RUN_P, 130, ["interrupted by the user"], fault="interrupt",
         **script("CREATE TABLE dbo.bad_l (id INT)\nPRINT 'created'\n")),
    case("deployment-locked", [*RUN_P, "--lock-wait", "0.2"], 4, ["deployment lock", "a test holding it", "held by"],
         fault="lock", **script("CREATE TABLE dbo.bad_m (id INT)\n")),
]


# -- fault injection ----------------------------------------------------------------------------------


def _fifo(project: Path, patch: pytest.MonkeyPatch) -> None:
    os.mkfifo(project / "p.sql")


def _huge_script(project: Path, patch: pytest.MonkeyPatch) -> None:
    with (project / "p.sql").open("wb") as handle:  # sparse: 65 MB on paper, nothing on disk
        handle.truncate(65 * 2**20)


def _short_copy(project: Path, patch: pytest.MonkeyPatch) -> None:
    (project / "short.sqlite").write_bytes((project / DMS).read_bytes()[:8192])


def _disk_full(project: Path, patch: pytest.MonkeyPatch) -> None:
    """Every sandbox connection may grow its file by a few pages only: SQLite then reports a full disk."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real(*args, **kwargs)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages + 8}")
        return connection

    patch.setattr(sqlite3, "connect", connect)


def _interrupt(project: Path, patch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the script runs (at its PRINT, after it created a table)."""

    def interrupted(self: cli.Console, message: Any) -> None:
        raise KeyboardInterrupt

    patch.setattr(cli.Console, "message", interrupted)


def _no_pyodbc(project: Path, patch: pytest.MonkeyPatch) -> None:
    """A machine where pyodbc is not installed (the package's runtime dependencies only)."""
    from pytest_opus.targets import _odbc

    patch.setattr(_odbc, "_pyodbc", None)
    patch.setitem(sys.modules, "pyodbc", None)  # `import pyodbc` then fails as if it were not installed


class _NoDriverManager:
    """An import hook failing `import pyodbc` the way pyodbc's wheel does without unixODBC."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pyodbc":
            raise ImportError("libodbc.so.2: cannot open shared object file: No such file or directory")
        return None


def _no_unixodbc(project: Path, patch: pytest.MonkeyPatch) -> None:
    from pytest_opus.targets import _odbc

    patch.setattr(_odbc, "_pyodbc", None)
    patch.delitem(sys.modules, "pyodbc", raising=False)
    patch.setattr(sys, "meta_path", [_NoDriverManager(), *sys.meta_path])


FAULTS: dict[str, Callable[[Path, pytest.MonkeyPatch], None]] = {
    "no-pyodbc": _no_pyodbc, "no-unixodbc": _no_unixodbc,
    "fifo": _fifo, "huge-script": _huge_script, "short-copy": _short_copy, "disk-full": _disk_full,
    "interrupt": _interrupt,
}


# -- the project and its database -----------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed_dms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dms sandbox with Phase 0 deployed through opus-sql (so its ledger has a run), built once."""
    root = tmp_path_factory.mktemp("dms-template")
    cache = tmp_path_factory.mktemp("opus-cache")
    template = baseline_template(ROOT / "sql" / "baseline")  # the session's, built at most once (tests/conftest.py)
    shutil.copyfile(template, cache / template.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPUS_CACHE_DIR", str(cache))
        patch.chdir(root)
        shutil.copytree(ROOT / "sql", root / "sql")
        (root / "pyproject.toml").write_text(PYPROJECT)
        assert cli.main(["--script", DEPLOY, "--database", "dms", "--quiet"]) == 0
    return root / DMS


@pytest.fixture
def project(tmp_path: Path, deployed_dms: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "sql", root / "sql")
    shutil.copytree(ROOT / "expectations", root / "expectations")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / DMS).parent.mkdir()
    shutil.copyfile(deployed_dms, root / DMS)
    for key in list(os.environ):
        if key.startswith("OPUS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OPUS_CACHE_DIR", str(deployed_dms.parent.parent / "cache"))
    monkeypatch.chdir(root)
    return root


def snapshot(path: Path) -> tuple[Any, dict[str, list[str]]]:
    """The catalog, and every table's rows (sorted), but for the ledger's record of attempts."""
    with SandboxTarget(path) as target:
        catalog = target.catalog()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [n for (n,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {name: sorted(repr(r) for r in connection.execute(f'SELECT * FROM "{name}"')
                             if LEDGER_RUNS not in repr(r[:1]))  # its IDENTITY counter in sqlite_sequence
                for name in names if not name.endswith(LEDGER_RUNS)}
    finally:
        connection.close()
    return catalog, rows


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    def one_clear_line(self) -> str:
        text = self.out + self.err
        assert "Traceback" not in text and "internal error" not in text, text
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("opus-sql: error: "), lines[0]
        return lines[0]


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_input_or_fault(bad: Case, project: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    for name, content in bad.files.items():
        path = project / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if bad.pyproject:
        with (project / "pyproject.toml").open("a") as handle:
            handle.write(bad.pyproject)
    for key, value in bad.env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(project / DMS)
    lock = FileLock((project / DMS).resolve())

    with monkeypatch.context() as patch:
        if bad.fault in FAULTS:
            FAULTS[bad.fault](project, patch)
        capsys.readouterr()
        if bad.fault == "lock":
            with lock.held(0, "a test holding it"):
                status = cli.main(list(bad.args))
        else:
            status = cli.main(list(bad.args))
        captured = capsys.readouterr()

    outcome = Outcome(status, captured.out, captured.err)
    assert outcome.status == bad.status, outcome
    line = outcome.one_clear_line()
    for word in bad.words:
        assert word in line, line
    assert SECRET not in outcome.out + outcome.err
    assert snapshot(project / DMS) == before


def test_the_catalogue_is_large_enough() -> None:
    """Issue 13 asks for at least 60 kinds of bad input and fault, each its own case."""
    ids = [c.id for c in CASES] + [c[0] for c in PLUGIN_CASES] + [c[0] for c in LIBRARY_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


@pytest.mark.parametrize("name", ["script-is-a-fifo", "script-dev-zero", "db-cut-short"])
def test_the_installed_command_answers_the_same(name: str, project: Path) -> None:
    """A few cases through the real console script: a separate process, no traceback, the same line."""
    bad = next(c for c in CASES if c.id == name)
    if bad.fault in FAULTS:
        FAULTS[bad.fault](project, pytest.MonkeyPatch())
    command = Path(sys.executable).with_name("opus-sql")
    runner = [str(command)] if command.exists() else [sys.executable, "-m", "pytest_opus.cli"]
    done = subprocess.run([*runner, *bad.args], cwd=project, capture_output=True, text=True, timeout=120)
    outcome = Outcome(done.returncode, done.stdout, done.stderr)
    assert outcome.status == bad.status, outcome
    line = outcome.one_clear_line()
    assert all(word in line for word in bad.words), line


# -- the same through pytest: the plugin resolves targets with the same rules -----------------------

PYTEST_PYPROJECT = PYPROJECT + '[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n'
USES_TARGET = "def test_uses_the_target(opus_target):\n    pass\n"

PLUGIN_CASES = [
    # (id, arguments (PATH = a deployed sandbox outside the project, EMPTY = an empty file), env,
    #  exit status, words in the output)
    ("pytest-opus-db-with-a-space", ["--opus-db", "PATH"], {}, 4, ["write --opus-db=", "with '='"]),
    ("pytest-opus-db-empty-file", ["--opus-db=EMPTY"], {}, 1, ["cannot open the target", "empty file (0 bytes)"]),
    ("pytest-two-targets", ["--opus-db=PATH", "--opus-database=dms"], {}, 4, ["both name the target database"]),
    ("pytest-unknown-database", ["--opus-database=dsm"], {}, 4, ["unknown database 'dsm'", "did you mean 'dms'?"]),
    ("pytest-environment-two-targets", [], {"OPUS_DATABASE": "dms", "OPUS_DB": "PATH"}, 4,
     ["both name the target database", "env OPUS_DATABASE"]),
    ("pytest-lock-wait", ["--opus-lock-wait=soon"], {}, 4, ["--opus-lock-wait", "0 or more"]),
    ("pytest-db-not-sqlite", ["--opus-db=pyproject.toml"], {}, 1, ["not an SQLite database file"]),
    ("pytest-concurrent-run", ["--opus-db=PATH", "--opus-lock-wait=0.2"], {}, 1,
     ["deployment lock", "another pytest run holding it"]),
]


@pytest.mark.parametrize(("name", "arguments", "env", "status", "words"), PLUGIN_CASES,
                         ids=[c[0] for c in PLUGIN_CASES])
def test_bad_input_through_pytest(
    pytester: pytest.Pytester, deployed_dms: Path, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch, name: str, arguments: list[str], env: dict[str, str], status: int,
    words: list[str],
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    path = outside / "dms-copy.sqlite"
    shutil.copyfile(deployed_dms, path)
    empty = outside / "empty.sqlite"
    empty.write_bytes(b"")
    pytester.makefile(".toml", pyproject=PYTEST_PYPROJECT)
    pytester.makepyfile(test_target=USES_TARGET)
    for key in list(os.environ):
        if key.startswith("OPUS_"):
            monkeypatch.delenv(key)

    def fill(text: str) -> str:
        return text.replace("PATH", str(path)).replace("EMPTY", str(empty))

    for key, value in env.items():
        monkeypatch.setenv(key, fill(value))
    before = snapshot(path)
    lock = FileLock(path.resolve())
    args = [fill(a) for a in arguments]
    if name == "pytest-concurrent-run":
        with lock.held(0, "another pytest run holding it"):
            result = pytester.runpytest_subprocess(*args)
    else:
        result = pytester.runpytest_subprocess(*args)

    text = result.stdout.str() + result.stderr.str()
    assert result.ret == status, text
    assert "Traceback" not in text
    for word in words:
        assert word in text, text
    assert snapshot(path) == before
    assert empty.read_bytes() == b""


def test_pytest_uses_a_named_database(pytester: pytest.Pytester, deployed_dms: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--opus-database NAME: the same [tool.opus.databases] table as opus-sql --database NAME."""
    shutil.copyfile(deployed_dms, pytester.path / "scratch.sqlite")
    databases = '[tool.opus.databases]\nscratch = { sandbox = "scratch.sqlite" }\n'
    pytester.makefile(".toml", pyproject=PYTEST_PYPROJECT + databases)
    pytester.makepyfile(test_target="def test_kind(opus_target, opus_config):\n"
                                    "    assert opus_config.persistent and opus_target.kind == 'sandbox'\n"
                                    "    assert opus_target.catalog().table('dbo.MON_UpdateAudit') is not None\n")
    for key in list(os.environ):
        if key.startswith("OPUS_"):
            monkeypatch.delenv(key)
    result = pytester.runpytest_subprocess("--opus-database=scratch")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["opus target: sandbox file *scratch.sqlite [[]--opus-database (command line): *"])


# -- a fresh machine: a missing system component is a skip naming the package, a failure under CI=true ---


@pytest.mark.parametrize(("ci", "outcome", "word"), [("", "skipped", "SKIPPED"), ("true", "errors", "CI=true")])
def test_a_missing_system_component(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str,
                                    outcome: str, word: str) -> None:
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyfile(test_needs='import pytest\n\n@pytest.mark.requires_system("chromium")\n'
                                   'def test_report_in_a_browser():\n    pass\n')
    monkeypatch.setenv("PATH", str(pytester.path))  # no browser on it
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(**{outcome: 1})
    text = result.stdout.str()
    assert word in text and "needs chromium" in text and "apt-get install chromium" in text


# -- the same through the library (board metadata, UpdateOperations): no command reads these ----------
#
# Each case is a function of the project directory that must raise; "exit status" is the kind of error
# (a ConfigError is a usage mistake, a StagingError a refused source), never an internal one.

BOARD = ROOT / "expectations" / "boards" / "customer_master_schedule.yaml"
STAGING = "STG_MON_CustMasterSchedule"


def _board_with(project: Path, old: str, new: str) -> str:
    text = BOARD.read_text(encoding="utf-8")
    assert old in text
    (project / "board.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return f"loaded board {load_board(project / 'board.yaml').board_id}"


def _stage(project: Path, value: Any) -> str:
    """Stage two updates (the second sets NOTES to `value`) and validate them; the INVALID row's reasons."""
    with SandboxTarget(project / DMS) as target:
        items = target.execute(
            "SELECT TOP 2 [Item ID], [AAG ORDER NUMBER] FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]")
        ops = UpdateOperations(target, load_board(BOARD), user_id="catalogue")
        staged = ops.stage_updates([{"item_id": items[0][0], "AAG ORDER NUMBER": items[0][1], "CUSTOMER": "ok"},
                                    {"item_id": items[1][0], "AAG ORDER NUMBER": items[1][1], "NOTES": value}],
                                   "update_items", source_table="catalogue")
        result = ops.validate_staged_updates(staged.batch_id)
        rows = target.execute(f"SELECT validation_errors FROM dbo.{STAGING} WHERE update_batch_id = ? "
                              "AND validation_status = 'INVALID'", [staged.batch_id])
    return f"{result.valid} valid, {result.invalid} invalid: {[r[0] for r in rows]}"


LIBRARY_CASES = [
    # (id, what is done, the error raised (None: the input is staged and validation rejects it), words in
    #  the message (or validation's reasons), tables whose new rows are allowed)
    ("board-id-27-digits", lambda p: _board_with(p, "board_id: 8446553051", "board_id: 123456789012345678901234567"),
     ConfigError, ["board.yaml:5", "board_id must be from 1 to 9,223,372,036,854,775,807", "monday ids are 64-bit"],
     ()),
    ("board-subitems-id-too-large", lambda p: _board_with(p, "board_id: 8446553064", "board_id: 18446744073709551616"),
     ConfigError, ["subitems board_id must be from 1 to 9,223,372,036,854,775,807"], ()),
    ("board-batch-size-too-large", lambda p: _board_with(p, "max_batch_size: 10000", "max_batch_size: 1" + "0" * 30),
     ConfigError, ["max_batch_size must be from 1 to 2,147,483,647"], ()),
    ("value-larger-than-monday-takes", lambda p: _stage(p, "x" * (VALUE_MAX_CHARACTERS + 1)), StagingError,
     ["row 2", "[NOTES]", f"{VALUE_MAX_CHARACTERS + 1:,} characters", "64 KB", "Shorten the value",
      "nothing staged"], ()),
    ("value-with-a-nul-character", lambda p: _stage(p, "before\x00after"), None,
     ["1 valid, 1 invalid", "NOTES: " + NUL_REASON.split(";")[0], "remove it", "REPLACE("], (STAGING,)),
]


@pytest.mark.parametrize(("name", "action", "error", "words", "grown"), LIBRARY_CASES,
                         ids=[c[0] for c in LIBRARY_CASES])
def test_bad_input_through_the_library(project: Path, name: str, action: Callable[[Path], str | None],
                                       error: type[Exception] | None, words: list[str], grown: tuple[str, ...]) -> None:
    catalog, rows = snapshot(project / DMS)
    if error is None:
        message = action(project) or ""
    else:
        with pytest.raises(OpusError) as raised:
            action(project)
        assert isinstance(raised.value, error), repr(raised.value)
        message = str(raised.value)
    assert "Traceback" not in message and "internal error" not in message
    for word in words:
        assert word in message, message
    after_catalog, after_rows = snapshot(project / DMS)
    assert after_catalog == catalog
    for table, before in rows.items():
        if table == "sqlite_sequence":  # the IDENTITY counters: only those of the tables allowed to grow move
            def others(counters: list[str]) -> list[str]:
                return [c for c in counters if not any(f"'{g}'" in c for g in grown)]

            assert others(after_rows[table]) == others(before)
        elif not any(table.endswith(g) for g in grown):
            assert after_rows[table] == before, table
        else:  # the staged batch only; the row with the bad value INVALID, so it never reaches monday
            new = [r for r in after_rows[table] if r not in before]
            assert new and all("'catalogue'" in r for r in new), new
            bad = [r for r in new if "before" in r]  # the value's text, in the row's update_fields
            assert name != "value-with-a-nul-character" or (bad and all("'INVALID'" in r for r in bad)), new
