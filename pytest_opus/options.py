"""Every --opus-* option, declared once with its ini twin and environment variable, resolved once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .secrets import mask_dsn
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
    Option("--opus-dsn", "opus_dsn", "OPUS_DSN", None,
           "ODBC connection string of the target database (SQL Server, or an SQLite ODBC source)"),
    Option("--opus-db", "opus_db", "OPUS_DB", None,
           "path of a persistent sandbox database file (created from sql/baseline/ when missing)"),
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
    dsn: str | None = None
    db: Path | None = None
    sql: Path = Path("sql")
    expectations: Path = Path("expectations")
    report: Path = Path("reports/opus-phase0.html")
    no_rollback: bool = False
    lock_wait: float = 30.0
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def persistent(self) -> bool:
        """A DSN or a named file outlives the run; the default sandbox does not."""
        return self.dsn is not None or self.db is not None

    @property
    def may_deploy(self) -> bool:
        return self.deploy or not self.persistent

    @property
    def target_display(self) -> str:
        if self.dsn is not None:
            return mask_dsn(self.dsn)
        if self.db is not None:
            return f"sandbox file {self.db}"
        return "disposable sandbox (SQLite, new for this run)"

    def __repr__(self) -> str:  # never show the DSN itself: it may hold a password
        return f"OpusConfig(target={self.target_display!r}, deploy={self.deploy}, sql={str(self.sql)!r})"

    def header_lines(self) -> list[str]:
        deploy = ("yes (disposable sandbox)" if not self.persistent else
                  "yes (--opus-deploy)" if self.deploy else "no: validating the target as it is")
        source = (self.sources.get("dsn") if self.dsn is not None else
                  self.sources.get("db") if self.db is not None else "default")
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
    path_keys = ("db", "sql", "expectations", "report")
    for k in path_keys:
        if values[k] is not None:
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
    return OpusConfig(
        deploy=bool(values["deploy"]), dsn=values["dsn"], db=values["db"], sql=values["sql"],
        expectations=values["expectations"], report=values["report"],
        no_rollback=bool(values["no_rollback"]), lock_wait=lock_wait, sources=sources,
    )
