"""opus-sql: the DBA's command that runs one T-SQL script, atomically, on a named database, a DSN or a sandbox.

    opus-sql --script sql/deploy_opus_update_boards.sql --database dms

It mirrors the seed plan's `python tools/execute_ddl.py --script FILE --database NAME`. Exit status:
0 the script ran and was committed; 1 the script failed (everything it did was rolled back);
2 a usage or configuration problem (nothing was run); 3 an internal error (a bug in pytest-opus);
130 interrupted (Ctrl-C).
Expected problems are reported as one line on stderr, never as a traceback, and the password of
any DSN involved is redacted from everything printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import stat
import sys
import traceback
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import confirm
from .batches import split_batches
from .databases import (
    TARGET_ENV,
    ResolvedDatabase,
    find_project_root,
    open_database,
    resolve_target,
    target_from_environment,
)
from .errors import ConfigError, DeploymentLocked, OpusError, ScriptError
from .ledger import run_recorded
from .secrets import redact, secret_values
from .status import read_status
from .targets.base import BatchResult, Message, ResultSet, ScriptResult
from .targets.locking import DEFAULT_LOCK_WAIT_SECONDS, LOCK_WAIT_ENV, check_wait

PROG = "opus-sql"

EXIT_OK = 0
EXIT_SCRIPT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_LOCKED = 4


def requires_confirmation(text: str, source: str = "<script>") -> confirm.Confirmation:
    """Why the script must not run without --confirm; false when nothing asks for it.

    What the script does decides, wherever it stands in the file: any drop of a table, view,
    procedure, index, column or constraint, a TRUNCATE, dynamic SQL, or a statement whose effects
    cannot be read (the rule and its exceptions: `confirm` and docs/dba.md). The
    `-- opus: confirm-required` directive in the leading comments asks for it too.
    """
    return confirm.confirmation(text, source)


class Console:
    """Where the command's output goes: every line redacted, and flushed at once (scripts can run long).

    Writing never raises: if the terminal or pipe goes away mid-script, output stops but the script's
    transaction is still decided by the script alone, not by a failed print.
    """

    def __init__(self, out: TextIO, err: TextIO, secrets: Sequence[str] = (), *, quiet: bool = False) -> None:
        self.out = out
        self.err = err
        self.secrets = list(secrets)
        self.quiet = quiet
        self._broken: set[int] = set()

    def forget(self, *secrets: str) -> None:
        """Add secrets to redact (as soon as they are known, before anything could echo them)."""
        self.secrets.extend(s for s in secrets if s)

    def _write(self, stream: TextIO, line: str) -> None:
        if id(stream) in self._broken:
            return
        text = redact(line, *self.secrets) + "\n"
        try:
            try:
                stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(stream, "encoding", None) or "ascii"
                stream.write(text.encode(encoding, errors="replace").decode(encoding))
            stream.flush()
        except (OSError, ValueError):  # closed pipe or closed stream
            self._broken.add(id(stream))

    def say(self, line: str) -> None:
        """Progress output: suppressed by --quiet."""
        if not self.quiet:
            self._write(self.out, line)

    def result(self, line: str) -> None:
        """The final line: printed even with --quiet."""
        self._write(self.out, line)

    def error(self, line: str) -> None:
        self._write(self.err, f"{PROG}: error: {line}")

    def trace(self, line: str) -> None:
        """Debug output on stderr (OPUS_DEBUG), redacted like everything else."""
        self._write(self.err, line)

    def message(self, message: Message) -> None:
        """A message from the script, as it arrives (the target calls this while the batch runs)."""
        prefix = {"warning": "warning: ", "info": "info: "}.get(message.kind, "")
        for line in message.text.splitlines() or [""]:
            self.say(f"{prefix}{line}")


class _UsageError(Exception):
    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse without SystemExit and multi-line usage dumps: errors become one line."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {PROG} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _UsageError(message or "", status)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run one T-SQL script on a database in a single transaction: all of it is "
        "committed, or (at the first error) none of it.",
        epilog="Exit status: 0 committed, 1 the script failed and was rolled back, 2 usage or "
        "configuration error (nothing was run), 3 internal error. See docs/dba.md.",
    )
    parser.add_argument("--script", required=True, metavar="FILE",
                        help="the T-SQL script to run (GO separates batches)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database", metavar="NAME",
        help="a named database: env OPUS_DB_<NAME>, [tool.opus.databases] in pyproject.toml, or 'dms' "
        "(a local sandbox .opus/dms.sqlite, built from sql/baseline/ on first use)",
    )
    where.add_argument(
        "--dsn", metavar="DSN",
        help="an ODBC connection string (prefer a named database: a password given here is visible "
        "to other users of this machine in the process list)",
    )
    where.add_argument("--db", metavar="PATH",
                       help="a sandbox database file (built from sql/baseline/ when it does not exist yet)")
    parser.add_argument("--confirm", action="store_true",
                        help="required by scripts that drop, truncate or run dynamic SQL, such as the rollback "
                        "(see docs/dba.md, Confirmation)")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the final line (and errors): no messages, tables or batch lines")
    parser.add_argument("--run", type=int, metavar="N", dest="scope_run",
                        help="rollback: remove only what deploy run N created; restore: put back the "
                        "backups of rollback run N (run numbers: opus-sql status)")
    _lock_wait_option(parser)
    return parser


def _lock_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lock-wait", type=float, metavar="SECONDS", default=None,
                        help="how long to wait for another deployment on the same database to finish "
                        f"(default: env {LOCK_WAIT_ENV}, else {DEFAULT_LOCK_WAIT_SECONDS:g})")


def build_approve_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} approve",
        description="Record the project lead's approval of a Phase 0 sign-off: in the target database "
        "(dbo.OPUS_Approval) and in the sign-off's JSON and HTML.",
        epilog="Exit status: 0 recorded, 2 refused or a usage/configuration error. See docs/dba.md.",
    )
    parser.add_argument("--by", required=True, metavar="NAME", help="who approves")
    parser.add_argument("--note", required=True, metavar="TEXT", help="the approval's comment")
    parser.add_argument("--report", metavar="JSON", default=None,
                        help="the sign-off JSON (default: reports/opus-phase0.json in the project)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database", metavar="NAME", help="the database the sign-off is for (named)")
    where.add_argument("--dsn", metavar="DSN", help="the database the sign-off is for (ODBC connection string)")
    where.add_argument("--db", metavar="PATH", help="the database the sign-off is for (sandbox file)")
    parser.add_argument("--accept-no-go", action="store_true", help="approve although the decision is NO-GO")
    parser.add_argument("--rehearsal", action="store_true",
                        help="approve a rehearsal on a disposable sandbox (no database to record it in)")
    parser.add_argument("--quiet", action="store_true", help="print only the final line")
    return parser


def build_status_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} status",
        description="Show what is deployed on a database and by which script, the scripts' checksums "
        "against sql/ now, and drift of the live schema from the expectations. Changes nothing.",
        epilog="Exit status: 0 no drift and no changed script, 1 drift or a changed script, 2 usage or "
        "configuration error. See docs/dba.md.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database", metavar="NAME", help="a named database (as for opus-sql --script)")
    where.add_argument("--dsn", metavar="DSN", help="an ODBC connection string")
    where.add_argument("--db", metavar="PATH", help="a sandbox database file")
    parser.add_argument("--quiet", action="store_true", help="print only the final line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `opus-sql` with `argv` (default: the command line); return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    console = Console(sys.stdout, sys.stderr, _secrets_in(arguments))
    # sqlglot logs a warning when it falls back to an opaque command; the runner then reports the
    # construct itself, so the warning would only be a second, less clear line on stderr.
    sqlglot_log = logging.getLogger("sqlglot")
    saved_level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)
    try:
        return _main(arguments, console)
    finally:
        sqlglot_log.setLevel(saved_level)


def _main(arguments: list[str], console: Console) -> int:
    command = arguments[0] if arguments and arguments[0] in SUBCOMMANDS else None
    try:
        if command is not None:
            options = SUBCOMMANDS[command][0]().parse_args(arguments[1:])
        else:
            options = build_parser().parse_args(arguments)
    except _UsageError as stop:
        if str(stop):
            (console.error if stop.status else console.result)(str(stop).rstrip())
        return stop.status
    console.quiet = options.quiet
    try:
        return SUBCOMMANDS[command][1](options, console) if command is not None else _run(options, console)
    except ConfigError as error:
        console.error(str(error))
        return EXIT_USAGE
    except DeploymentLocked as error:
        console.error(str(error))
        return EXIT_LOCKED
    except OpusError as error:
        console.error(str(error))
        return EXIT_SCRIPT_FAILED
    except KeyboardInterrupt:
        console.error("interrupted by the user")
        return EXIT_INTERRUPTED
    except sqlite3.DatabaseError as error:  # a sandbox file damaged in a way its header does not show
        console.error(f"the sandbox database failed: {error}; if the file is damaged, restore it from a good copy, "
                      "or delete it to have it built again from sql/baseline/")
        return EXIT_SCRIPT_FAILED
    except Exception as error:  # a bug: still one redacted line, the traceback only on request
        console.error(f"internal error: {type(error).__name__}: {error} (please report it; "
                      "set OPUS_DEBUG=1 to see the traceback)")
        if os.environ.get("OPUS_DEBUG"):
            for line in traceback.format_exc().splitlines():
                console.trace(line)
        return EXIT_INTERNAL


def _run(options: argparse.Namespace, console: Console) -> int:
    script = Path(options.script)
    text = read_script(script)
    database = _database(options)
    assert database is not None
    console.forget(*database.secrets)

    needed = requires_confirmation(text, source=str(script))
    if needed and not options.confirm:
        console.error(
            f"{script} must not run by accident ({needed.summary()}); nothing was run. "
            f"To run it on {database.display}, add --confirm"
        )
        return EXIT_USAGE

    lock_wait = lock_wait_seconds(options.lock_wait)
    target = open_database(database, notify=console.say)
    streamed = _stream_batches(target, str(script), console)
    try:
        where = f"database {database.name!r}: " if options.database is not None else "from "
        console.say(f"running {script} on {target.display_name} ({where}{database.origin})")
        recorded = run_recorded(
            target, text, source=str(script), data=script.read_bytes(), on_message=console.message,
            scope_run_id=options.scope_run, lock_wait=lock_wait,
            holder=f"{PROG} --script {script} (pid {os.getpid()})")
        result = recorded.result
        if not streamed:
            _report(result, console)
        if recorded.run_id is not None:
            console.say(f"ledger: recorded as run {recorded.run_id} ({'committed' if result.ok else 'failed'})")
        if recorded.record_error is not None:
            console.say(f"warning: the outcome could not be recorded in the ledger: {recorded.record_error}")
    finally:
        target.close()

    if result.error is not None:
        console.error(f"{result.error.describe().removesuffix('.')}; {_what_was_kept(result.error, target)}")
        return EXIT_SCRIPT_FAILED
    batches = len(result.batches)
    console.result(f"OK: {script}: {batches} batch{'es' if batches != 1 else ''} committed on "
                   f"{target.display_name} in {result.seconds:.2f}s")
    return EXIT_OK


def _what_was_kept(error: ScriptError, target: Any) -> str:
    """The end of the failure line: what happened to the script's changes.

    A script that ran a COMMIT or ROLLBACK of its own ended the runner's transaction: what it did
    before (and what ran after, outside any transaction) may be committed, so "rolled back" would lie.
    """
    from .targets.sandbox import SandboxTarget

    may_be_kept = ("the script ended the transaction itself (a COMMIT or ROLLBACK without BEGIN TRANSACTION), "
                   "so what it did may have been committed: check the database (opus-sql status) before running "
                   "it again")
    if isinstance(target, SandboxTarget):
        ended = target.script_ended_transaction
    elif "ended the script's transaction" in error.message:  # SQL Server's runner says so itself
        ended = True
    elif "committed or rolled back the deployment transaction" in error.message:  # cannot tell which
        return ("if a batch ran COMMIT or ROLLBACK without BEGIN TRANSACTION, what the script did may have been "
                "committed: check the database (opus-sql status); otherwise the script's transaction was rolled back")
    else:
        ended = False
    if ended:
        return may_be_kept
    kept = "the script's transaction was rolled back: nothing it did was kept"
    if "disk is full" in error.message:
        kept += "; free space on the disk that holds the database (or raise its quota), then run it again"
    return kept


def _stream_batches(target: Any, source: str, console: Console) -> bool:
    """Have `target` hand each batch of `source` to the console as soon as it has run (tables and the
    batch line), keeping no rows; False when the target cannot, and the batches are shown at the end."""
    from .targets.base import Target

    if not isinstance(target, Target):
        return False

    def show(batch_source: str, batch: BatchResult) -> None:
        if batch_source == source:  # not the ledger's own statements
            _report_batch(batch, console)

    target.batch_sink = show
    return True


def _status(options: argparse.Namespace, console: Console) -> int:
    database = _database(options)
    assert database is not None
    console.forget(*database.secrets)
    root = find_project_root() or Path.cwd()
    target = open_database(database, notify=console.say)
    try:
        status = read_status(target, root / "sql", root / "expectations")
    finally:
        target.close()
    lines = status.lines()
    for line in lines[:-1]:
        console.say(line)
    console.result(lines[-1])
    return EXIT_OK if not status.problems else EXIT_SCRIPT_FAILED


def _approve(options: argparse.Namespace, console: Console) -> int:
    from .approval import approve, check_approvable, check_target, load_sign_off, write_approval

    root = find_project_root() or Path.cwd()
    json_path = Path(options.report) if options.report else root / "reports" / "opus-phase0.json"
    data = load_sign_off(json_path)
    check_approvable(data, accept_no_go=options.accept_no_go, rehearsal=options.rehearsal)
    named = any(getattr(options, k) is not None for k in ("database", "dsn", "db"))
    # The environment (OPUS_DATABASE, OPUS_DSN, OPUS_DB) stands in for a database the command line
    # does not name only where the sign-off is for a database; a rehearsal has none to record in.
    database = _database(options, required=False) if named or data.get("scope") == "target" else None
    if data.get("scope") == "target" and database is None:
        raise ConfigError(f"the sign-off is for {data.get('target')}: name that database (--database, --dsn or "
                          "--db) so the approval is recorded in it")
    target = None
    if database is not None:
        console.forget(*database.secrets)
        check_target(data, database.display)  # before opening: a wrong name must not build a sandbox file
        target = open_database(database, notify=console.say)
    try:
        approval = approve(data, by=options.by, note=options.note, target=target)
    finally:
        if target is not None:
            target.close()
    html = root / data["report"] if data.get("report") else None
    write_approval(data, approval, json_path, html)
    where = f"{target.display_name} and " if target is not None else ""
    console.result(f"OK: approved by {approval.by} ({approval.decision}, sign-off {approval.signoff_id}, "
                   f"SHA-256 {approval.signoff_sha256[:12]}); recorded in {where}{json_path}")
    return EXIT_OK


def lock_wait_seconds(given: float | None) -> float:
    """--lock-wait, else the environment variable, else the default; a clear error for a bad value."""
    if given is None:
        raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
        if not raw:
            return DEFAULT_LOCK_WAIT_SECONDS
        try:
            given = float(raw)
        except ValueError:
            raise ConfigError(f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds (e.g. 30)") from None
    return check_wait(given)


#: opus-sql's subcommands: parser, handler (the default, without one, runs a script)
SUBCOMMANDS = {"status": (build_status_parser, _status), "approve": (build_approve_parser, _approve)}


#: the largest script opus-sql reads; the Phase 0 scripts are well under 1 MB
MAX_SCRIPT_BYTES = 64 * 1024 * 1024


def read_script(path: Path) -> str:
    """The script's text; ConfigError when it cannot be read or holds no SQL at all.

    Only a regular file of at most MAX_SCRIPT_BYTES is read: a device such as /dev/zero would never
    end and a FIFO would wait for a writer forever, so both are refused before they are opened.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"script file not found: {path} (the Phase 0 scripts live under sql/)") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path} is a directory; --script takes one .sql file") from None
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise ConfigError(f"{path} is {kind}, not a file; save the script to a .sql file and give its path")
    size = path.stat().st_size
    if size > MAX_SCRIPT_BYTES:
        raise ConfigError(f"{path} is {size / 2**20:.0f} MB; opus-sql runs scripts up to "
                          f"{MAX_SCRIPT_BYTES // 2**20} MB: split it into several scripts (or load data with bcp)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; --script takes one .sql file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 "
                          "(SSMS: File > Save As > Save with Encoding)") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"{path}:{line} holds a NUL byte: it is not a text script (a binary file, or saved "
                          "as UTF-16?); save it as UTF-8")
    try:
        empty = not split_batches(text, source=str(path))
    except ScriptError:
        empty = False  # malformed, not empty: the run reports it with its line
    if empty:
        raise ConfigError(f"{path} holds no SQL (it is empty, or only comments and GO lines); nothing was run")
    return text


def _database(options: argparse.Namespace, *, required: bool = True) -> ResolvedDatabase | None:
    """The database the options name, else the one the environment names (the same rules as the
    pytest plugin's: databases.py); ConfigError when `required` and neither names one."""
    for kind in TARGET_ENV:
        value = getattr(options, kind, None)
        if value is not None:
            return resolve_target(kind, value, origin=f"--{kind}")
    from_env = target_from_environment()
    if from_env is not None:
        kind, value, origin = from_env
        return resolve_target(kind, value, origin=origin)
    if not required:
        return None
    raise ConfigError(
        "name the database: --database NAME (e.g. --database dms, the local sandbox), --dsn DSN or --db PATH "
        f"(or set one of {', '.join(TARGET_ENV.values())})"
    )


def _secrets_in(arguments: Sequence[str]) -> list[str]:
    """Every password found in any argument (a DSN may come as `--dsn X` or `--dsn=X`)."""
    found: list[str] = []
    for argument in arguments:
        found += secret_values(argument)
        if argument.startswith("--"):
            found += secret_values(argument.partition("=")[2])
    return found


# -- reporting -----------------------------------------------------------------------------------
def _report(result: ScriptResult, console: Console) -> None:
    for batch in result.batches:
        _report_batch(batch, console)


def _report_batch(batch: BatchResult, console: Console) -> None:
    if not console.quiet:
        for result_set in batch.result_sets:
            for line in table_lines(result_set):
                console.say(line)
    console.say(batch_line(batch))


def batch_line(batch: BatchResult) -> str:
    """One line per batch: its number, where it starts, what it returned or changed, and its time."""
    parts: list[str] = []
    returned = sum(len(r.rows) for r in batch.result_sets)
    if batch.result_sets:
        parts.append(f"{returned} row{'s' if returned != 1 else ''} returned")
    if batch.rowcount >= 0 and not batch.result_sets:
        parts.append(f"{batch.rowcount} row{'s' if batch.rowcount != 1 else ''} affected")
    if batch.error is not None:
        parts.append("FAILED")
    parts.append(f"{batch.seconds:.2f}s")
    return f"batch {batch.number} (line {batch.start_line}): {', '.join(parts)}"


def format_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):  # BIT, shown as SSMS and sqlcmd show it
        return "1" if value else "0"
    if isinstance(value, bytes):
        return "0x" + value.hex().upper()
    return " ".join(str(value).splitlines())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal)  # bool too: a BIT, shown as 1/0


def format_table(result_set: ResultSet) -> list[str]:
    """A result set as aligned text: header, rule, rows (numbers right-aligned), then a row count."""
    return list(table_lines(result_set))


def table_lines(result_set: ResultSet) -> Iterator[str]:
    """The lines of format_table, one at a time: the cells are formatted twice (once for the widths)
    rather than held, so a large result set costs its rows and one line, not a copy as text."""
    headers = [name or "(no column name)" for name in result_set.columns]
    widths = [len(h) for h in headers]
    numeric = [bool(result_set.rows)] * len(headers)
    for row in result_set.rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(format_cell(value)))
            numeric[i] = numeric[i] and (value is None or _is_number(value))

    def render(values: Sequence[str], align: Sequence[bool]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, align, strict=True)).rstrip()

    yield render(headers, [False] * len(headers))
    yield "  ".join("-" * w for w in widths)
    for row in result_set.rows:
        yield render([format_cell(v) for v in row], numeric)
    count = len(result_set.rows)
    yield f"({count} row{'s' if count != 1 else ''})"


if __name__ == "__main__":
    sys.exit(main())
