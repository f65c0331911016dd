"""Which database: the one resolution of the target shared by `opus-sql` and the pytest plugin.

A target is named in one of three ways, the same for both entry points:

| opus-sql          | pytest                       | environment     | what it names                          |
|-------------------|------------------------------|-----------------|----------------------------------------|
| `--database NAME` | `--opus-database NAME`       | `OPUS_DATABASE` | a named database (below)               |
| `--dsn DSN`       | `--opus-dsn DSN`             | `OPUS_DSN`      | an ODBC connection string              |
| `--db PATH`       | `--opus-db=PATH`             | `OPUS_DB`       | a sandbox file                         |

A sandbox file, however it is named, follows one rule: a path that does not exist yet is built from
`sql/baseline/*.sql` on first use (and the command says so); an empty file or one that is not an
SQLite database is refused with the reason, never opened as an empty database.

Where a name comes from, first match wins:

1. the environment variable `OPUS_DB_<NAME>` holding an ODBC connection string;
2. `[tool.opus.databases]` in the project's pyproject.toml (found from the current directory
   upward), each entry either `{ dsn = "...", uid_env = "VAR", pwd_env = "VAR" }` or
   `{ sandbox = "path/relative/to/the/project.sqlite" }`;
3. the name `dms` (the plan's database) with nothing configured: the local sandbox `.opus/dms.sqlite`
   in the project root, built from `sql/baseline/` the first time it is used.

Credentials come only from the environment: a `dsn` in pyproject.toml that holds a password is
refused, since that file is committed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .secrets import mask_dsn, secret_values
from .suggest import did_you_mean
from .targets import open_target
from .targets.base import Target

#: the database the seed plan deploys to; it works without any configuration
DEFAULT_NAME = "dms"
#: where the default database's sandbox lives, relative to the project root
DEFAULT_SANDBOX = Path(".opus") / "dms.sqlite"
#: the scripts a new sandbox is built from, relative to the project root
BASELINE_DIR = Path("sql") / "baseline"
ENV_PREFIX = "OPUS_DB_"
#: the three ways of naming the target, each with the environment variable both entry points read
TARGET_ENV = {"database": "OPUS_DATABASE", "dsn": "OPUS_DSN", "db": "OPUS_DB"}
#: how each way is spelt on each entry point, for messages
TARGET_FLAGS = {
    "database": ("--database", "--opus-database"),
    "dsn": ("--dsn", "--opus-dsn"),
    "db": ("--db", "--opus-db"),
}

_ENTRY_KEYS = ("dsn", "uid_env", "pwd_env", "sandbox")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_PASSWORD_KEY = re.compile(r"(?:^|;)\s*(?:pwd|password)\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedDatabase:
    """A named database, resolved: what it is and where the name was found. Safe to print.

    `dsn` holds the full connection string, credentials included, so it is left out of repr and
    comparisons; print `display` instead.
    """

    name: str
    kind: str  # "dsn" or "sandbox"
    display: str  # the DSN with its password masked, or "sandbox <path>"
    origin: str  # how the name was resolved, e.g. "environment variable OPUS_DB_DMS"
    path: Path | None = None  # the sandbox file (kind "sandbox")
    baseline_dir: Path | None = None  # what a missing sandbox file is built from
    dsn: str | None = field(default=None, repr=False, compare=False)

    @property
    def secrets(self) -> list[str]:
        """The passwords this database's DSN holds, for redacting any text that might echo them."""
        return secret_values(self.dsn) if self.dsn else []


def env_var(name: str) -> str:
    """The environment variable that overrides database `name`: OPUS_DB_ + the name in upper case."""
    return ENV_PREFIX + _env_part(name)


def _env_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest directory from `start` (default: the current directory) upward holding pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return None


def configured_databases(root: Path | None) -> dict[str, Mapping[str, Any]]:
    """The `[tool.opus.databases]` table of `root`/pyproject.toml (empty when there is none)."""
    if root is None:
        return {}
    pyproject = root / "pyproject.toml"
    try:
        with pyproject.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{pyproject} is not valid TOML ({error}); fix it to use named databases") from None
    except OSError as error:
        raise ConfigError(f"cannot read {pyproject}: {error.strerror}") from None
    tool = document.get("tool", {})
    opus = tool.get("opus", {}) if isinstance(tool, dict) else None
    table = opus.get("databases", {}) if isinstance(opus, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.opus.databases] must be a table of named databases")
    return table


def resolve_database(
    name: str,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ResolvedDatabase:
    """Resolve `name` to a database; nothing is opened or created. ConfigError for an unknown name."""
    environ = os.environ if environ is None else environ
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a database name: use letters, digits, '_', '-' or '.'")
    root = find_project_root(cwd)
    base = root if root is not None else (cwd or Path.cwd()).resolve()
    pyproject = base / "pyproject.toml"

    variable = env_var(name)
    from_env = environ.get(variable, "").strip()
    if from_env:
        return ResolvedDatabase(name, "dsn", mask_dsn(from_env), f"environment variable {variable}",
                                dsn=from_env)

    configured = configured_databases(root)
    key = _match_name(name, configured)
    if key is not None:
        return _from_entry(key, configured[key], base, pyproject, environ)

    if name.lower() == DEFAULT_NAME:
        path = base / DEFAULT_SANDBOX
        return ResolvedDatabase(
            DEFAULT_NAME, "sandbox", f"sandbox {path}",
            f"no {env_var(name)} and no [tool.opus.databases] entry, so the default local sandbox",
            path=path, baseline_dir=base / BASELINE_DIR,
        )
    raise ConfigError(_unknown(name, configured, environ, pyproject if root is not None else None))


def resolve_target(
    kind: str,
    value: str,
    *,
    origin: str,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    baseline_dir: Path | None = None,
) -> ResolvedDatabase:
    """The target named by `kind` ("database", "dsn" or "db", see TARGET_ENV) and `value`.

    `origin` says where the value came from (e.g. "--db", "env OPUS_DSN"), for the output.
    `baseline_dir` is what a missing sandbox file is built from (default: sql/baseline/ of the
    project). Nothing is opened or created; ConfigError for a value that names nothing.
    """
    if kind == "database":
        return resolve_database(value, cwd=cwd, environ=environ)
    root = find_project_root(cwd)
    base = root if root is not None else (cwd or Path.cwd()).resolve()
    if kind == "dsn":
        if not value.strip():
            raise ConfigError(f"the DSN ({origin}) is empty: give an ODBC connection string such as "
                              "Driver={ODBC Driver 18 for SQL Server};Server=HOST;Database=NAME;Encrypt=yes")
        return ResolvedDatabase("dsn", "dsn", mask_dsn(value), origin, dsn=value)
    if kind != "db":
        raise ValueError(f"unknown kind of target {kind!r}")
    if not value.strip() or "\x00" in value:
        raise ConfigError(f"the sandbox path ({origin}) {value!r} is not a file name: give the path of a sandbox file")
    try:
        path = Path(value).expanduser()
    except RuntimeError as error:  # ~user that does not exist
        raise ConfigError(f"the sandbox path {value!r} ({origin}): {error}") from None
    path = path if path.is_absolute() else (cwd or Path.cwd()).resolve() / path
    return ResolvedDatabase(str(path), "sandbox", f"sandbox {path}", origin, path=path,
                            baseline_dir=baseline_dir if baseline_dir is not None else base / BASELINE_DIR)


def target_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, str, str] | None:
    """(kind, value, origin) of the target the environment names (OPUS_DATABASE, OPUS_DSN or OPUS_DB).

    None when none is set; ConfigError when more than one is, since neither would be the obvious choice.
    """
    environ = os.environ if environ is None else environ
    given = [(kind, environ[var], f"env {var}") for kind, var in TARGET_ENV.items() if environ.get(var, "").strip()]
    if len(given) > 1:
        names = " and ".join(origin.removeprefix("env ") for _, _, origin in given)
        raise ConfigError(f"the environment names more than one target ({names}): unset all but one, "
                          "or name the target on the command line")
    return given[0] if given else None


def open_database(database: ResolvedDatabase, *, notify: Callable[[str], None] | None = None) -> Target:
    """Open the target `database` describes; a sandbox file used for the first time is built first.

    `notify` is told (one line) when a sandbox was created.
    """
    if database.kind == "dsn":
        assert database.dsn is not None
        try:
            return _answer_to_name(open_target(dsn=database.dsn), database)
        except ConfigError as error:
            # Some reasons (pyodbc or unixODBC missing) are about this machine, not the DSN; say
            # which database could not be opened all the same.
            if database.display in str(error):
                raise
            raise ConfigError(f"cannot open {database.display} ({database.origin}): {error}") from None
    assert database.path is not None
    if not database.path.exists() and database.baseline_dir is not None:
        target = open_target(db_path=database.path, baseline_dir=database.baseline_dir)
        if notify is not None:
            named = database.name != str(database.path)
            first_use = (f"first use of database {database.name!r}" if named
                         else f"first use of this file ({database.origin})")
            notify(f"created the sandbox {database.path} from {database.baseline_dir}/*.sql ({first_use})")
        return _answer_to_name(target, database)
    return _answer_to_name(open_target(db_path=database.path), database)


def _answer_to_name(target: Target, database: ResolvedDatabase) -> Target:
    """A named database run by the embedded runner (a sandbox file, an SQLite ODBC source) answers to
    its name (`USE dms`, `DB_NAME()`), whatever its file is called.

    A sandbox file given by path (`--db PATH`, whose name is the path) keeps the file's stem, and a
    DSN given as such (`--dsn`) the runner's default name, as the embedded targets set them.
    """
    engine = getattr(target, "engine", None)
    named = database.name != (str(database.path) if database.kind == "sandbox" else "dsn")
    if engine is not None and named:
        engine.database = database.name
    return target


def _match_name(name: str, configured: Mapping[str, Any]) -> str | None:
    if name in configured:
        return name
    # Database names are case-insensitive on SQL Server; the same is true of these.
    folded = [key for key in configured if key.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _from_entry(
    name: str, entry: Any, base: Path, pyproject: Path, environ: Mapping[str, str]
) -> ResolvedDatabase:
    where = f"{pyproject} [tool.opus.databases] {name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table such as {{ dsn = \"...\" }} or {{ sandbox = \"...\" }}")
    for key in entry:
        if key not in _ENTRY_KEYS:
            hint = did_you_mean(key, _ENTRY_KEYS)
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(_ENTRY_KEYS)}")
    if ("dsn" in entry) == ("sandbox" in entry):
        raise ConfigError(f"{where}: give exactly one of dsn = \"...\" or sandbox = \"...\"")
    for key, value in entry.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string")

    if "sandbox" in entry:
        if "uid_env" in entry or "pwd_env" in entry:
            raise ConfigError(f"{where}: a sandbox has no credentials; remove uid_env/pwd_env")
        try:
            path = Path(entry["sandbox"]).expanduser()
        except RuntimeError as error:  # ~user that does not exist
            raise ConfigError(f"{where}: sandbox path {entry['sandbox']!r}: {error}") from None
        path = path if path.is_absolute() else base / path
        return ResolvedDatabase(name, "sandbox", f"sandbox {path}", where, path=path,
                                baseline_dir=base / BASELINE_DIR)

    dsn = entry["dsn"].strip().rstrip(";")
    if _PASSWORD_KEY.search(dsn) or secret_values(dsn):
        raise ConfigError(
            f"{where}: the dsn holds a password, and pyproject.toml is committed: remove PWD=... and set "
            f"pwd_env = \"OPUS_{_env_part(name)}_PWD\" (the name of an environment variable holding it) instead"
        )
    for key, attribute in (("uid_env", "UID"), ("pwd_env", "PWD")):
        if key not in entry:
            continue
        variable = entry[key]
        value = environ.get(variable)
        if value is None:
            raise ConfigError(f"{where} takes its {attribute} from the environment variable {variable}, "
                              f"which is not set: export {variable}=... and run again")
        dsn += f";{attribute}={_odbc_value(value)}"
    return ResolvedDatabase(name, "dsn", mask_dsn(dsn), where, dsn=dsn)


def _odbc_value(value: str) -> str:
    """`value` as an ODBC attribute value: braced (with `}` doubled) when it holds ; { } or spaces."""
    if any(c in value for c in ";{}= ") or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def _unknown(
    name: str, configured: Mapping[str, Any], environ: Mapping[str, str], pyproject: Path | None
) -> str:
    # Only variables that hold a connection string name a database (not, say, a stray OPUS_DB_X_PWD).
    from_env = [key[len(ENV_PREFIX):].lower() for key, value in environ.items()
                if key.startswith(ENV_PREFIX) and "=" in value]
    known = sorted({*configured, *from_env, DEFAULT_NAME})
    hint = did_you_mean(name, known, cutoff=0.5)
    where = f"[tool.opus.databases] in {pyproject}" if pyproject else "[tool.opus.databases] in pyproject.toml"
    return (
        f"unknown database {name!r}{hint}. Known: {', '.join(known)}. Names come from {where}, "
        f"or an environment variable {env_var(name)} holding a DSN; '{DEFAULT_NAME}' alone means the "
        f"local sandbox {DEFAULT_SANDBOX}"
    )
