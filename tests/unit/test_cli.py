"""opus-sql and its named databases: the seed's command sequence, every bad input, and secrets kept out."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_opus import cli
from pytest_opus.confirm import destructive_changes
from pytest_opus.databases import ResolvedDatabase, env_var, find_project_root, open_database, resolve_database
from pytest_opus.errors import ConfigError
from pytest_opus.targets.base import BatchResult, Message, ResultSet
from pytest_opus.targets.sandbox import SandboxTarget, baseline_template

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = "sql/deploy_opus_update_boards.sql"
VALIDATE = "sql/validate_ddl_changes.sql"
ROLLBACK = "sql/rollback_opus_update_boards.sql"
DMS = Path(".opus") / "dms.sqlite"
SECRET = "s3cr3t!"
MINIMAL_PYPROJECT = '[project]\nname = "opus-dba-sandbox"\nversion = "0"\n'


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def one_clear_line(self) -> str:
        """The single stderr line an expected error must produce (and no traceback anywhere)."""
        assert "Traceback" not in self.text, self.text
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("opus-sql: error: ")
        return lines[0]


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("opus-sql")
    found = str(script) if script.exists() else shutil.which("opus-sql")
    return [found] if found else [sys.executable, "-m", "pytest_opus.cli"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox template cache of these tests' own, holding a copy of the session's template (built at most
    once per session, tests/conftest.py), so each project's first use is a copy."""
    path = tmp_path_factory.mktemp("opus-cache")
    template = baseline_template(ROOT / "sql" / "baseline")
    shutil.copyfile(template, path / template.name)
    return path


@pytest.fixture
def project(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh checkout-like directory (sql/, expectations/ and a minimal pyproject.toml) as the current directory."""
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "sql", root / "sql")
    shutil.copytree(ROOT / "expectations", root / "expectations")
    (root / "pyproject.toml").write_text(MINIMAL_PYPROJECT)
    for key in list(os.environ):
        if key.startswith("OPUS_DB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OPUS_CACHE_DIR", str(cache_dir))
    monkeypatch.chdir(root)
    return root


@pytest.fixture(params=["main", "console-script"])
def opus_sql(request: pytest.FixtureRequest, project: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """Runs opus-sql in the project: in process through main(), or as the installed command."""

    def run(*args: str) -> Outcome:
        if request.param == "main":
            capsys.readouterr()
            code = cli.main(list(args))
            captured = capsys.readouterr()
            return Outcome(code, captured.out, captured.err)
        done = subprocess.run([*console_script(), *args], cwd=project, capture_output=True, text=True,
                              env=os.environ.copy(), timeout=300)
        return Outcome(done.returncode, done.stdout, done.stderr)

    return run


def catalog_of(path: Path) -> Any:
    with SandboxTarget(path) as target:
        return target.catalog()


# -- the seed's sequence -------------------------------------------------------------------------


def test_seed_sequence_deploy_validate_rollback(opus_sql: Any, project: Path) -> None:
    assert not (project / DMS).exists()
    deploy = opus_sql("--script", DEPLOY, "--database", "dms")
    assert deploy.code == 0, deploy.text
    assert "created the sandbox" in deploy.out and (project / DMS).exists()
    assert "Added dbo.STG_MON_CustMasterSchedule.update_operation" in deploy.out
    assert "batch 1 (line 1)" in deploy.out
    assert deploy.out.rstrip().splitlines()[-1].startswith(f"OK: {DEPLOY}: 11 batches committed")
    assert "ledger: recorded as run 1 (committed)" in deploy.out
    assert deploy.err == ""

    validate = opus_sql("--script", VALIDATE, "--database", "dms")
    assert validate.code == 0, validate.text
    header = next(line for line in validate.out.splitlines() if line.startswith("check_name"))
    assert header.split() == ["check_name", "passed", "detail"]
    assert "(48 rows)" in validate.out and "48 rows returned" in validate.out

    refused = opus_sql("--script", ROLLBACK, "--database", "dms")
    assert refused.code == 2 and "--confirm" in refused.one_clear_line()
    assert catalog_of(project / DMS).table("dbo.MON_UpdateAudit") is not None

    rollback = opus_sql("--script", ROLLBACK, "--database", "dms", "--confirm")
    assert rollback.code == 0, rollback.text
    assert "rollback complete" in rollback.out

    after = opus_sql("--script", VALIDATE, "--database", "dms")
    assert after.code == 1
    line = after.one_clear_line()
    assert f"{VALIDATE}:" in line and "(batch 1)" in line and "checks failed" in line
    assert "missing" in after.out  # the checks table still shows what is missing
    assert "recorded as run 4 (failed)" in after.out

    status = opus_sql("status", "--database", "dms")
    assert status.code == 0, status.text  # rolled back completely: matches expectations/after_rollback/
    assert "rollback_opus_update_boards.sql: run 3" in status.out
    assert status.out.rstrip().splitlines()[-1] == "OK: no drift, no changed script"


def test_a_copy_of_the_rollback_saved_from_ssms_still_needs_confirm(opus_sql: Any, project: Path) -> None:
    """Issue 9: a `/* */` header or a SET/GO line first must not let the rollback run unasked."""
    assert opus_sql("--script", DEPLOY, "--database", "dms", "--quiet").code == 0
    rollback = (project / ROLLBACK).read_text(encoding="utf-8-sig")
    body = "\n".join(line for line in rollback.splitlines() if "confirm-required" not in line.lower())
    text = "/****** Script for the OPUS rollback, saved from SSMS ******/\nSET NOCOUNT ON;\nGO\n" + body + "\n"
    (project / "ssms_rollback.sql").write_text(text)
    before = catalog_of(project / DMS)

    refused = opus_sql("--script", "ssms_rollback.sql", "--database", "dms")

    assert refused.code == 2, refused.text
    line = refused.one_clear_line()
    first = destructive_changes(text, "ssms_rollback.sql")[0]
    assert line.startswith(f"opus-sql: error: ssms_rollback.sql must not run by accident ({first}; ")
    assert "nothing was run" in line and line.endswith("add --confirm")
    assert catalog_of(project / DMS) == before

    confirmed = opus_sql("--script", "ssms_rollback.sql", "--database", "dms", "--confirm", "--quiet")
    assert confirmed.code == 0, confirmed.text
    assert catalog_of(project / DMS).table("dbo.MON_UpdateAudit") is None


def test_second_deploy_changes_nothing_and_says_so(opus_sql: Any, project: Path) -> None:
    assert opus_sql("--script", DEPLOY, "--database", "dms").code == 0
    before = catalog_of(project / DMS)
    again = opus_sql("--script", DEPLOY, "--database", "dms")
    assert again.code == 0 and "created the sandbox" not in again.out
    assert catalog_of(project / DMS) == before


def test_quiet_prints_only_the_final_line(opus_sql: Any) -> None:
    outcome = opus_sql("--script", DEPLOY, "--database", "dms", "--quiet")
    assert outcome.code == 0
    assert outcome.out.strip().splitlines() == [outcome.out.strip()]
    assert outcome.out.startswith("OK: ")


def test_db_path_runs_on_an_existing_sandbox_file(opus_sql: Any, project: Path, tmp_path: Path) -> None:
    assert opus_sql("--script", DEPLOY, "--database", "dms").code == 0
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(project / DMS, copy)
    outcome = opus_sql("--script", VALIDATE, "--db", str(copy))
    assert outcome.code == 0, outcome.text
    assert f"sandbox {copy}" in outcome.out


def test_db_path_that_does_not_exist_is_built_from_the_baseline(opus_sql: Any, project: Path) -> None:
    """The same rule as pytest's --opus-db=PATH and a named sandbox: first use builds the file, and says so."""
    outcome = opus_sql("--script", DEPLOY, "--db", "scratch/new.sqlite")
    assert outcome.code == 0, outcome.text
    assert f"created the sandbox {project / 'scratch' / 'new.sqlite'} from" in outcome.out
    assert "first use of this file (--db)" in outcome.out
    assert catalog_of(project / "scratch" / "new.sqlite").table("dbo.MON_UpdateAudit") is not None


def test_the_environment_names_the_database_when_the_command_line_does_not(
    opus_sql: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPUS_DATABASE, OPUS_DSN and OPUS_DB: the same variables the pytest plugin reads."""
    monkeypatch.setenv("OPUS_DATABASE", "dms")
    outcome = opus_sql("--script", DEPLOY, "--quiet")
    assert outcome.code == 0, outcome.text
    assert (project / DMS).exists()
    monkeypatch.setenv("OPUS_DB", "other.sqlite")
    both = opus_sql("--script", VALIDATE)
    assert both.code == 2
    assert "OPUS_DATABASE and OPUS_DB" in both.one_clear_line()
    monkeypatch.delenv("OPUS_DATABASE")
    monkeypatch.delenv("OPUS_DB")
    nothing = opus_sql("--script", VALIDATE)
    assert nothing.code == 2
    assert "name the database: --database NAME" in nothing.one_clear_line()


# -- bad input: one clear line, a non-zero exit, no traceback, nothing changed ------------------

BAD_SCRIPTS = {
    "empty.sql": "",
    "comments.sql": "-- nothing to see here\n\n   \nGO\n-- still nothing\n",
    "syntax.sql": "CREATE TABLE dbo.opus_probe (id INT NOT NULL);\nGO\nSELECT 1 +\n",
    "unsupported.sql": "CREATE TABLE dbo.opus_probe (id INT NOT NULL);\nGO\n"
                       "BACKUP DATABASE dms TO DISK = N'dms.bak';\n",
    "fails_late.sql": "CREATE TABLE dbo.opus_probe (id INT NOT NULL);\nGO\nALTER TABLE dbo.STG_MON_CustMasterSchedule "
                      "ADD probe INT NULL;\nGO\nINSERT INTO dbo.no_such_table (id) VALUES (1);\n",
}

BAD_INPUTS = [
    # (id, arguments, exit status, words the one line must contain)
    ("missing-file", ["--script", "sql/no_such_script.sql", "--database", "dms"], 2, ["not found", "no_such_script"]),
    ("empty-script", ["--script", "comments.sql", "--database", "dms"], 2, ["holds no SQL"]),
    # --confirm: a script the reader cannot parse also asks for it (its effects cannot be read)
    ("syntax-error", ["--script", "syntax.sql", "--database", "dms", "--confirm"], 1,
     ["syntax.sql:3", "(batch 2)", "rolled back"]),
    ("unsupported-unconfirmed", ["--script", "unsupported.sql", "--database", "dms"], 2,
     ["unsupported.sql must not run by accident", "line 3: its effects could not be read", "BACKUP",
      "nothing was run", "--confirm"]),
    ("unsupported", ["--script", "unsupported.sql", "--database", "dms", "--confirm"], 1,
     ["not supported by the sandbox: ", "unsupported.sql:3", "run it against SQL Server (--opus-dsn)"]),
    ("fails-late", ["--script", "fails_late.sql", "--database", "dms"], 1,
     ["fails_late.sql:5", "(batch 3)", "no_such_table"]),
    ("unknown-database", ["--script", DEPLOY, "--database", "dsm"], 2,
     ["unknown database 'dsm'", "did you mean 'dms'?", "[tool.opus.databases]", "OPUS_DB_DSM"]),
    ("dsn-without-driver", ["--script", DEPLOY, "--dsn", f"Driver={{NoSuchDriver}};Server=x;UID=u;PWD={SECRET}"], 2,
     ["PWD=***"]),
    ("rollback-unconfirmed", ["--script", ROLLBACK, "--database", "dms"], 2,
     ["must not run by accident (", "line ", "nothing was run", "--confirm"]),
    ("no-script", ["--database", "dms"], 2, ["--script"]),
    ("two-databases", ["--script", DEPLOY, "--database", "dms", "--db", "x.sqlite"], 2, ["not allowed with"]),
    ("empty-db-file", ["--script", DEPLOY, "--db", "empty.sql"], 2, ["empty file (0 bytes)", "delete it"]),
    ("script-is-a-directory", ["--script", "sql", "--database", "dms"], 2, ["is a directory"]),
]


@pytest.mark.parametrize(("arguments", "status", "words"), [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input(opus_sql: Any, project: Path, arguments: list[str], status: int, words: list[str]) -> None:
    assert opus_sql("--script", DEPLOY, "--database", "dms", "--quiet").code == 0
    for name, text in BAD_SCRIPTS.items():
        (project / name).write_text(text)
    before = catalog_of(project / DMS)

    outcome = opus_sql(*arguments)

    assert outcome.code == status, outcome.text
    line = outcome.one_clear_line()
    for word in words:
        assert word in line
    assert SECRET not in outcome.text
    assert catalog_of(project / DMS) == before


@pytest.mark.requires_system("libsqliteodbc")  # the repository's conftest.py: a skip naming it, a failure in CI
def test_password_never_printed_even_when_the_dsn_works(opus_sql: Any, project: Path) -> None:
    """A DSN to the SQLite ODBC driver carrying a password: success and failure output both hide it."""
    assert opus_sql("--script", DEPLOY, "--database", "dms", "--quiet").code == 0
    dsn = f"Driver=SQLite3;Database={project / DMS};PWD={SECRET}"

    ok = opus_sql("--script", VALIDATE, "--dsn", dsn)
    assert ok.code == 0, ok.text
    assert "odbc-sqlite" in ok.out and "PWD=***" in ok.out and SECRET not in ok.text

    (project / "echo.sql").write_text(f"PRINT N'{SECRET}';\nSELECT * FROM [{SECRET}];\n")
    failed = opus_sql("--script", "echo.sql", f"--dsn={dsn}")
    assert failed.code == 1
    assert "Invalid object name '***'" in failed.one_clear_line()
    assert SECRET not in failed.text and "***" in failed.text


def test_help_is_not_an_error(opus_sql: Any) -> None:
    outcome = opus_sql("--help")
    assert outcome.code == 0 and "--database" in outcome.out and outcome.err == ""


# -- named databases -----------------------------------------------------------------------------


def write_databases(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(MINIMAL_PYPROJECT + "\n[tool.opus.databases]\n" + body)


def test_dms_without_configuration_is_the_local_sandbox(project: Path) -> None:
    database = resolve_database("dms", environ={})
    assert database.kind == "sandbox" and database.path == project / DMS
    assert database.baseline_dir == project / "sql" / "baseline"
    assert "default" in database.origin


def test_project_root_is_found_from_a_subdirectory(project: Path) -> None:
    sub = project / "sql" / "baseline"
    assert find_project_root(sub) == project
    assert resolve_database("dms", cwd=sub, environ={}).path == project / DMS


def test_a_dsn_entry_takes_credentials_from_the_environment(project: Path) -> None:
    write_databases(project, 'dms = { dsn = "Driver={ODBC Driver 18 for SQL Server};Server=sql01;Database=dms;'
                             'Encrypt=yes", uid_env = "OPUS_DMS_UID", pwd_env = "OPUS_DMS_PWD" }\n')
    database = resolve_database("DMS", environ={"OPUS_DMS_UID": "deployer", "OPUS_DMS_PWD": "p;w}d"})
    assert database.kind == "dsn" and database.name == "dms"
    assert database.dsn is not None and database.dsn.endswith(";UID=deployer;PWD={p;w}}d}")
    assert database.display.endswith("UID=deployer;PWD=***") and "p;w" not in repr(database)
    assert "p;w}d" in database.secrets
    with pytest.raises(ConfigError, match="OPUS_DMS_PWD, which is not set"):
        resolve_database("dms", environ={"OPUS_DMS_UID": "deployer"})


def test_a_password_in_pyproject_is_refused(project: Path) -> None:
    write_databases(project, 'dms = { dsn = "Driver={ODBC Driver 18 for SQL Server};Server=sql01;PWD=hunter2" }\n')
    with pytest.raises(ConfigError, match="holds a password") as caught:
        resolve_database("dms", environ={})
    assert "hunter2" not in str(caught.value) and "pwd_env" in str(caught.value)


def test_the_environment_overrides_pyproject(project: Path) -> None:
    write_databases(project, 'dms = { sandbox = "elsewhere.sqlite" }\n')
    assert resolve_database("dms", environ={}).path == project / "elsewhere.sqlite"
    dsn = f"Driver=SQLite3;Database=x.sqlite;PWD={SECRET}"
    database = resolve_database("dms", environ={env_var("dms"): dsn})
    assert database.kind == "dsn" and database.origin == "environment variable OPUS_DB_DMS"
    assert SECRET not in database.display and database.dsn == dsn


def test_an_environment_variable_alone_names_a_database(project: Path) -> None:
    database = resolve_database("reporting", environ={"OPUS_DB_REPORTING": "DSN=reporting"})
    assert database.display == "DSN=reporting"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('dms = { sandbx = "x.sqlite" }\n', "unknown key 'sandbx' (did you mean 'sandbox'?)"),
        ('dms = { dsn = "DSN=x", sandbox = "x.sqlite" }\n', "exactly one of"),
        ('dms = { sandbox = "" }\n', "non-empty string"),
        ('dms = "DSN=x"\n', "expected a table"),
        ('dms = { sandbox = "x.sqlite", pwd_env = "P" }\n', "a sandbox has no credentials"),
        ("dms = { dsn = \n", "not valid TOML"),
    ],
)
def test_configuration_mistakes_are_named(project: Path, body: str, message: str) -> None:
    write_databases(project, body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        resolve_database("dms", environ={})


def test_unknown_names_get_a_suggestion_and_the_list_of_sources(project: Path) -> None:
    write_databases(project, 'warehouse = { sandbox = "wh.sqlite" }\n')
    with pytest.raises(ConfigError) as caught:
        resolve_database("warehose", environ={"OPUS_DB_REPORTING": "DSN=r", "OPUS_DB_X_PWD": "nope"})
    text = str(caught.value)
    assert "did you mean 'warehouse'?" in text
    assert "dms, reporting, warehouse" in text and "x_pwd" not in text
    assert str(project / "pyproject.toml") in text
    with pytest.raises(ConfigError, match="not a database name"):
        resolve_database("../etc", environ={})


def test_a_configured_sandbox_is_built_on_first_use(project: Path) -> None:
    write_databases(project, 'scratch = { sandbox = "dbs/scratch.sqlite" }\n')
    notes: list[str] = []
    database = resolve_database("scratch", environ={})
    with open_database(database, notify=notes.append) as target:
        assert target.catalog().table("dbo.STG_MON_CustMasterSchedule") is not None
    assert len(notes) == 1 and "created the sandbox" in notes[0]
    with open_database(database, notify=notes.append):
        pass
    assert len(notes) == 1


def test_resolved_database_repr_hides_the_dsn() -> None:
    database = ResolvedDatabase("x", "dsn", "DSN=x;PWD=***", "--dsn", dsn=f"DSN=x;PWD={SECRET}")
    assert SECRET not in repr(database) and SECRET not in str(database)


# -- the pieces of the output --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-- opus: confirm-required\nSELECT 1;\n", True),
        ("\ufeff\n-- Roll back\n--   OPUS: Confirm-Required\nGO\n", True),
        ("/* Script saved from SSMS\n   -- opus: confirm-required\n*/\nSELECT 1;\n", True),
        ("SELECT 1;\n-- opus: confirm-required\n", False),  # only the leading comments count
        ("PRINT '-- opus: confirm-required';\n", False),
        ("-- opus: confirm-required-ish\n", False),
        ("", False),
        ("/* SSMS header */\nSET NOCOUNT ON;\nGO\nDROP TABLE dbo.t;\n", True),  # what it does counts too
    ],
)
def test_confirm_directive(text: str, expected: bool) -> None:
    assert bool(cli.requires_confirmation(text)) is expected


def test_result_sets_are_aligned_tables() -> None:
    table = ResultSet(("check_name", "passed", "detail"),
                      [("column a", True, "found int"), ("longer check name", False, None), ("c", 10, "x\ny")])
    lines = cli.format_table(table)
    assert lines[0] == "check_name         passed  detail"
    assert lines[1] == "-----------------  ------  ---------"
    assert lines[2] == "column a                1  found int"
    assert lines[3] == "longer check name       0  NULL"
    assert lines[4] == "c                      10  x y"
    assert lines[-1] == "(3 rows)"
    assert cli.format_table(ResultSet(("",), []))[-1] == "(0 rows)"


def test_batch_line() -> None:
    batch = BatchResult(number=2, start_line=15, rowcount=3, seconds=0.5)
    assert cli.batch_line(batch) == "batch 2 (line 15): 3 rows affected, 0.50s"
    batch.result_sets = [ResultSet(("a",), [(1,)])]
    assert cli.batch_line(batch) == "batch 2 (line 15): 1 row returned, 0.50s"


class RecordingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))


def test_console_flushes_every_line_redacts_and_survives_a_closed_pipe() -> None:
    out, err = RecordingStream(), RecordingStream()
    console = cli.Console(out, err, [SECRET])
    console.message(Message(f"two\nlines {SECRET}"))
    console.message(Message("careful", kind="warning"))
    assert out.getvalue() == "two\nlines ***\nwarning: careful\n"
    assert out.flushed_at == [4, 14, 31]
    out.close()
    console.say("after the pipe closed")  # must not raise into the runner
    console.error("still reported")
    assert err.getvalue() == "opus-sql: error: still reported\n"


def test_messages_are_printed_while_the_script_runs(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message reaches stdout before the script has finished (the target calls back mid-run)."""
    seen: list[str] = []
    real = cli.Console.message

    def spy(self: cli.Console, message: Message) -> None:
        real(self, message)
        seen.append(self.out.getvalue() if isinstance(self.out, io.StringIO) else "")

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(cli.Console, "message", spy)
    (project / "two.sql").write_text("PRINT 'first';\nGO\nPRINT 'second';\n")
    assert cli.main(["--script", "two.sql", "--database", "dms"]) == 0
    assert seen[0].endswith("first\n") and "batch 1" not in seen[0]
    assert "OK: two.sql" in out.getvalue()



def test_a_second_deployment_waits_then_names_the_holder(opus_sql: Any, project: Path) -> None:
    """Issue 9: one deployment at a time; the second run stops with status 4, naming the lock and its holder."""
    from pytest_opus.targets.locking import FileLock

    assert opus_sql("--script", DEPLOY, "--database", "dms", "--quiet").code == 0
    before = catalog_of(project / DMS)
    lock = FileLock((project / DMS).resolve())
    with lock.held(0, "a test holding the deployment"):
        second = opus_sql("--script", ROLLBACK, "--database", "dms", "--confirm", "--lock-wait", "0.2")
    assert second.code == 4, second.text
    line = second.one_clear_line()
    assert "deployment lock" in line and "a test holding the deployment" in line and f"pid {os.getpid()}" in line
    assert catalog_of(project / DMS) == before  # nothing was run
    bad = opus_sql("--script", DEPLOY, "--database", "dms", "--lock-wait", "-1")
    assert bad.code == 2 and "0 or more" in bad.one_clear_line()


def test_each_batch_is_shown_as_soon_as_it_has_run(opus_sql: Any, project: Path) -> None:
    """Issue 13: a batch's table and its batch line come before the next batch's messages, not at the end."""
    (project / "three.sql").write_text("SELECT 41 + 1 AS answer\nGO\nPRINT 'second batch'\nGO 2\n")
    outcome = opus_sql("--script", "three.sql", "--database", "dms")
    assert outcome.code == 0, outcome.text
    lines = outcome.out.splitlines()
    order = [next(i for i, line in enumerate(lines) if line.startswith(prefix))
             for prefix in ("answer", "batch 1 (line 1): 1 row returned", "second batch", "batch 2 (line 3)")]
    assert order == sorted(order), outcome.out
    assert [line for line in lines if line == "second batch"] == ["second batch"] * 2
    assert lines.count("(1 row)") == 1  # shown once: streamed, not printed again at the end


def test_streamed_batches_keep_no_rows(project: Path) -> None:
    """What was shown is let go: the script's result keeps the columns, not the rows."""
    from pytest_opus.databases import resolve_database

    target = open_database(resolve_database("dms"))
    assert isinstance(target, SandboxTarget)
    shown: list[int] = []
    target.batch_sink = lambda source, batch: shown.append(sum(len(r.rows) for r in batch.result_sets))
    try:
        result = target.execute_script("SELECT TOP 5 [Item ID] FROM dbo.MON_CustMasterSchedule\nGO 3\n")
    finally:
        target.close()
    assert result.ok and shown == [5, 5, 5]
    assert [len(r.rows) for r in result.result_sets] == [0, 0, 0]
    assert all(r.columns == ("Item ID",) for r in result.result_sets)
