"""Every --opus-* option, declared once with its ini twin and environment variable, resolved once."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .databases import TARGET_FLAGS, ResolvedDatabase, resolve_target
from .errors import ConfigError
from .targets.locking import check_wait


@dataclass(frozen=True)
class Option:
    flag: str  # command line, e.g. --opus-dsn
    ini: str  # ini/pyproject [tool.pytest.ini_options] key
    env: str | None  # environment variable, or None
    default: Any
    help: str
    is_flag: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("--opus-deploy", "opus_deploy", "OPUS_DEPLOY", False,
           "deploy sql/deploy_opus_update_boards.sql to a persistent target (a DSN or --opus-db file); "
           "the default disposable sandbox is always deployed", is_flag=True),
    Option("--opus-database", "opus_database", "OPUS_DATABASE", None,
           "a named database, as for opus-sql --database: env OPUS_DB_<NAME>, [tool.opus.databases] in "
           "pyproject.toml, or 'dms' (the local sandbox .opus/dms.sqlite)"),
    Option("--opus-dsn", "opus_dsn", "OPUS_DSN", None,
           "ODBC connection string of the target database (SQL Server, or an SQLite ODBC source)"),
    Option("--opus-db", "opus_db", "OPUS_DB", None,
           "path of a persistent sandbox database file (created from sql/baseline/ when missing); "
           "write --opus-db=PATH, with '='"),
    Option("--opus-sql", "opus_sql", "OPUS_SQL", "sql",
           "directory holding the DBA's scripts and baseline/ (default: sql)"),
    Option("--opus-expectations", "opus_expectations", "OPUS_EXPECTATIONS", "expectations",
           "directory of YAML expectations: schema/, boards/, phase0.yaml (default: expectations)"),
    Option("--opus-report", "opus_report", "OPUS_REPORT", "reports/opus-phase0.html",
           "where to write the Phase 0 sign-off report (default: reports/opus-phase0.html)"),
    Option("--opus-no-rollback", "opus_no_rollback", "OPUS_NO_ROLLBACK", False,
           "after a failure, do not run the rollback script on a persistent target", is_flag=True),
    Option("--opus-lock-wait", "opus_lock_wait", "OPUS_LOCK_WAIT", "30",
           "seconds to wait for another deployment on the same target to finish (default: 30)"),
)

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class OpusConfig:
    """The resolved settings of one run, and where each value came from."""

    deploy: bool = False
    #: the persistent target (a named database, a DSN or a sandbox file); None: a disposable sandbox
    target: ResolvedDatabase | None = None
    sql: Path = Path("sql")
    expectations: Path = Path("expectations")
    report: Path = Path("reports/opus-phase0.html")
    no_rollback: bool = False
    lock_wait: float = 30.0
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def persistent(self) -> bool:
        """A DSN, a named database or a named file outlives the run; the default sandbox does not."""
        return self.target is not None

    @property
    def dsn(self) -> str | None:
        """The target's ODBC connection string (credentials included: never print it)."""
        return self.target.dsn if self.target is not None else None

    @property
    def db(self) -> Path | None:
        """The target's sandbox file, when the target is one."""
        return self.target.path if self.target is not None else None

    @property
    def may_deploy(self) -> bool:
        return self.deploy or not self.persistent

    @property
    def target_display(self) -> str:
        if self.target is None:
            return "disposable sandbox (SQLite, new for this run)"
        if self.target.kind == "sandbox":
            return f"sandbox file {self.target.path}"
        return self.target.display

    def __repr__(self) -> str:  # never show the DSN itself: it may hold a password
        return f"OpusConfig(target={self.target_display!r}, deploy={self.deploy}, sql={str(self.sql)!r})"

    def header_lines(self) -> list[str]:
        deploy = ("yes (disposable sandbox)" if not self.persistent else
                  "yes (--opus-deploy)" if self.deploy else "no: validating the target as it is")
        source = self.target.origin if self.target is not None else "default"
        lines = [f"opus target: {self.target_display} [{source}]", f"opus deploy: {deploy}"]
        for name in ("sql", "expectations", "report"):
            lines.append(f"opus {name}: {getattr(self, name)} [{self.sources.get(name, 'default')}]")
        return lines


def resolve(get_option: Any, get_ini: Any, root: Path, environ: Any = os.environ) -> OpusConfig:
    """Resolve each option: command line, then environment, then ini, then the default."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        key = opt.dest.removeprefix("opus_")
        cli = get_option(opt.dest)
        ini = get_ini(opt.ini)
        env = environ.get(opt.env) if opt.env else None
        if cli not in (None, False):
            value, source = cli, "command line"
        elif env not in (None, ""):
            value, source = (env.strip().lower() in _TRUE) if opt.is_flag else env, f"env {opt.env}"
        elif ini not in (None, "", False, []):
            value, source = (str(ini).strip().lower() in _TRUE) if opt.is_flag else ini, f"ini {opt.ini}"
        else:
            value, source = opt.default, "default"
        values[key] = value
        sources[key] = source
    for k in ("sql", "expectations", "report"):
        try:
            p = Path(str(values[k])).expanduser()
        except RuntimeError as error:  # ~user that does not exist
            raise ConfigError(f"--opus-{k} {values[k]!r} ({sources[k]}): {error}") from None
        values[k] = p if p.is_absolute() else root / p
    try:
        lock_wait = check_wait(float(str(values["lock_wait"]).strip()))
    except (ValueError, ConfigError):
        raise ConfigError(f"--opus-lock-wait {values['lock_wait']!r} ({sources['lock_wait']}): give a number of "
                          "seconds, 0 or more (e.g. 30)") from None
    target = _target(values, sources, root, values["sql"] / "baseline", environ)
    return OpusConfig(
        deploy=bool(values["deploy"]), target=target, sql=values["sql"],
        expectations=values["expectations"], report=values["report"],
        no_rollback=bool(values["no_rollback"]), lock_wait=lock_wait, sources=sources,
    )


def _rank(source: str) -> int:
    return 0 if source == "command line" else 1 if source.startswith("env ") else 2


def _target(
    values: dict[str, Any], sources: dict[str, str], root: Path, baseline: Path, environ: Any
) -> ResolvedDatabase | None:
    """The one target the options name: the most specific source wins (command line, environment, ini);
    two targets from the same source are an error, since neither would be the obvious choice."""
    given = [(kind, sources[kind]) for kind in TARGET_FLAGS if values[kind] not in (None, "")]
    if not given:
        return None
    best = min(_rank(source) for _, source in given)
    chosen = [(kind, source) for kind, source in given if _rank(source) == best]
    if len(chosen) > 1:
        named = " and ".join(f"{TARGET_FLAGS[kind][1]} ({source})" for kind, source in chosen)
        raise ConfigError(f"{named} both name the target database: give only one of --opus-database, "
                          "--opus-dsn and --opus-db")
    kind, source = chosen[0]
    value = str(values[kind])
    origin = f"{TARGET_FLAGS[kind][1]} ({source})" if source == "command line" else source
    resolved = resolve_target(kind, value, origin=origin, cwd=root, environ=environ, baseline_dir=baseline)
    if kind == "database":  # say both: how the name was given, and what it resolved to
        resolved = replace(resolved, origin=f"{origin}: {resolved.origin}")
    return resolved


#: options whose value is a path: given as a separate argument, pytest takes it for a test path
PATH_FLAGS = ("--opus-db", "--opus-sql", "--opus-expectations", "--opus-report")


def split_path_option(
    arguments: list[str], rootpath: Path, inipath: Path | None, invocation_dir: Path
) -> str | None:
    """Why `--opus-db PATH` (with a space) was misread here, or None when all is well.

    pytest chooses its root directory (which all relative paths, the expectations included, are
    read from) before any plugin's options are known, so it takes an existing PATH given as a
    separate argument for a test path, and a PATH outside the project moves the root away from the
    project's ini file. `--opus-db=PATH` is one argument and cannot be misread. A separate PATH
    that left the root where it belongs (the ini file's directory, holding the current directory)
    did no harm and is accepted.
    """
    root_intact = inipath is not None and rootpath == inipath.parent and invocation_dir.is_relative_to(rootpath)
    if root_intact:
        return None
    for flag, value in itertools.pairwise(arguments):
        if flag not in PATH_FLAGS or value.startswith("-"):
            continue
        try:
            exists = Path(value).expanduser().exists()
        except (OSError, RuntimeError, ValueError):
            exists = False
        if exists:
            return (f"write {flag}={value} (with '=', one argument): given as '{flag} {value}', pytest took "
                    f"{value} for a test path when it chose its root directory ({rootpath}), before it knew "
                    f"{flag}, so sql/ and expectations/ would be looked for in the wrong place")
    return None
