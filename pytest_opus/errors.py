"""The exceptions pytest-opus raises; each message says what was wrong and how to fix it."""

from __future__ import annotations


class OpusError(Exception):
    """Base class: an error the user can act on (printed without a traceback)."""


class ConfigError(OpusError):
    """Bad settings: an unknown database name, a DSN without a driver, a missing file."""


class ScriptError(OpusError):
    """A T-SQL script failed; carries where (script, batch, line) and the database's message."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "<script>",
        batch: int | None = None,
        line: int | None = None,
        number: int | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.batch = batch
        self.line = line
        self.number = number
        super().__init__(self.describe())

    def where(self) -> str:
        """`file:line (batch n)`, as much of it as is known."""
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.batch is not None:
            where += f" (batch {self.batch})"
        return where

    def describe(self) -> str:
        return f"{self.where()}: {self.message}"


#: what every refusal ends with: where the script can run instead (opus-sql spells the option --dsn)
RUN_ON_SQL_SERVER = "run it against SQL Server (--opus-dsn)"


class UnsupportedConstruct(ScriptError):
    """T-SQL outside the subset the embedded runner implements, refused before it runs.

    Described as "not supported by the sandbox: <construct> at file:line, run it against SQL Server
    (--opus-dsn)": the place stands inside the sentence, so `describe` builds it from the source, line
    and batch as they are when it is shown (the runner sets the batch after the error is raised)."""

    def __init__(self, construct: str, *, source: str = "<script>", line: int | None = None) -> None:
        self.construct = construct
        super().__init__(f"not supported by the sandbox: {construct}, {RUN_ON_SQL_SERVER}", source=source, line=line)

    def describe(self) -> str:
        return f"not supported by the sandbox: {self.construct} at {self.where()}, {RUN_ON_SQL_SERVER}"


class DeploymentLockError(OpusError):
    """The deployment lock could not be taken: a server error, a deadlock, a lock file that cannot be opened."""


class DeploymentLocked(DeploymentLockError):
    """Another deployment holds the target's deployment lock and kept it for the whole wait.

    `lock` names the lock, `holder` says what holds it (as far as the target can tell); the message
    says both and how to proceed.
    """

    def __init__(self, message: str, *, lock: str, holder: str, waited: float) -> None:
        super().__init__(message)
        self.lock = lock
        self.holder = holder
        self.waited = waited
