"""The schema expectations as plain frozen values, as the loader builds them from YAML."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pytest_opus.expectations.sqltypes import ExpectedDefault, SqlType

Mode = Literal["contains", "exact"]
ObjectKind = Literal["table", "view", "procedure"]


@dataclass(frozen=True)
class Location:
    """Where something was written: file and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOWHERE = Location("<built in code>", 0)


class _SchemaObject:
    """Gives every object expectation its `schema.name` display name."""

    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class ColumnSpec:
    """One expected table column. None in `nullable`, `default` or `identity` means "not checked"."""

    name: str
    type: SqlType
    nullable: bool | None = None
    default: ExpectedDefault | None = None
    identity: bool | None = None
    where: Location = NOWHERE


@dataclass(frozen=True)
class PrimaryKeySpec:
    columns: tuple[str, ...]
    name: str | None = None  # None: any constraint name is accepted
    where: Location = NOWHERE


@dataclass(frozen=True)
class IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool | None = None  # None: not checked
    where: Location = NOWHERE


@dataclass(frozen=True)
class CheckSpec:
    name: str
    definition: str | None = None  # None: the constraint must exist, its text is not checked
    where: Location = NOWHERE


@dataclass(frozen=True)
class TableSpec(_SchemaObject):
    schema: str
    name: str
    mode: Mode = "contains"
    columns: tuple[ColumnSpec, ...] = ()
    primary_key: PrimaryKeySpec | None = None
    indexes: tuple[IndexSpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    absent_columns: tuple[str, ...] = ()
    where: Location = NOWHERE


@dataclass(frozen=True)
class ViewColumnSpec:
    name: str
    type: SqlType | None = None  # None: any type


@dataclass(frozen=True)
class ViewSpec(_SchemaObject):
    schema: str
    name: str
    columns: tuple[ViewColumnSpec, ...] | None = None  # None: existence only
    where: Location = NOWHERE


@dataclass(frozen=True)
class ParameterSpec:
    name: str  # always with the leading @
    type: SqlType
    output: bool | None = None  # None: not checked


@dataclass(frozen=True)
class ProcedureSpec(_SchemaObject):
    schema: str
    name: str
    parameters: tuple[ParameterSpec, ...] | None = None  # None: existence only
    where: Location = NOWHERE


@dataclass(frozen=True)
class AbsentSpec(_SchemaObject):
    """An object that must not exist (after a rollback)."""

    kind: ObjectKind
    schema: str
    name: str
    where: Location = NOWHERE


@dataclass(frozen=True)
class Expectations:
    """Everything one expectations directory says, in file order."""

    tables: tuple[TableSpec, ...] = ()
    views: tuple[ViewSpec, ...] = ()
    procedures: tuple[ProcedureSpec, ...] = ()
    absent: tuple[AbsentSpec, ...] = ()
    sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.tables) + len(self.views) + len(self.procedures) + len(self.absent)

    def names(self) -> Iterator[str]:
        """Qualified names of every expected object, in the order `compare` reports them."""
        for group in (self.tables, self.views, self.procedures, self.absent):
            for spec in group:
                yield spec.qualified
