"""The database catalog as plain values: what a target reports and what schema checks compare.

Every target (SQL Server through its system views, the sandbox through SQLite's catalog) answers
`Target.catalog()` with one `Catalog`. Values are reported the way SQL Server's
`INFORMATION_SCHEMA` reports them: lower-case type names, character length -1 for MAX, defaults as
their definition text (`('CREATE')`, `(getutcdate())`, `((0))`). Names compare case-insensitively,
as under SQL Server's default collation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .sqltypes import DECIMALS


def key(schema: str, name: str) -> str:
    """The case-insensitive lookup key of a schema-qualified object name."""
    return f"{schema.lower()}.{name.lower()}"


def split_name(qualified: str, default_schema: str = "dbo") -> tuple[str, str]:
    """`dbo.X`, `[dbo].[X]` or `X` -> (schema, name)."""
    parts = [p.strip().strip("[]\"") for p in qualified.split(".")]
    if len(parts) == 1:
        return default_schema, parts[0]
    return parts[-2], parts[-1]


@dataclass(frozen=True)
class Column:
    name: str
    ordinal: int
    data_type: str  # lower-case base type name: varchar, nvarchar, decimal, datetime2, bigint, ...
    max_length: int | None = None  # characters for character types; -1 for MAX; None otherwise
    precision: int | None = None  # decimal/numeric only
    scale: int | None = None  # decimal/numeric only
    nullable: bool = True
    default: str | None = None  # definition text as SQL Server reports it, e.g. "('CREATE')"
    default_name: str | None = None  # the default constraint's name, when the target knows it
    identity: bool = False

    @property
    def type_text(self) -> str:
        """The full type as written in T-SQL: `varchar(50)`, `nvarchar(max)`, `decimal(18,4)`."""
        if self.max_length is not None:
            return f"{self.data_type}({'max' if self.max_length == -1 else self.max_length})"
        if self.precision is not None and self.data_type in DECIMALS:
            return f"{self.data_type}({self.precision},{self.scale or 0})"
        return self.data_type


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    primary_key: bool = False


@dataclass(frozen=True)
class CheckConstraint:
    name: str
    definition: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    checks: tuple[CheckConstraint, ...] = ()

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def index(self, name: str) -> Index | None:
        lowered = name.lower()
        return next((i for i in self.indexes if i.name.lower() == lowered), None)

    @property
    def primary_key(self) -> Index | None:
        return next((i for i in self.indexes if i.primary_key), None)


@dataclass(frozen=True)
class View:
    schema: str
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Parameter:
    name: str  # with the leading @
    ordinal: int
    data_type: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    is_output: bool = False

    @property
    def type_text(self) -> str:
        return Column(self.name, self.ordinal, self.data_type, self.max_length, self.precision,
                      self.scale).type_text


@dataclass(frozen=True)
class Procedure:
    schema: str
    name: str
    parameters: tuple[Parameter, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Tables, views and procedures of one database, keyed case-insensitively by `schema.name`."""

    tables: Mapping[str, Table] = field(default_factory=dict)
    views: Mapping[str, View] = field(default_factory=dict)
    procedures: Mapping[str, Procedure] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        tables: Iterable[Table] = (),
        views: Iterable[View] = (),
        procedures: Iterable[Procedure] = (),
    ) -> Catalog:
        return cls(
            {key(t.schema, t.name): t for t in tables},
            {key(v.schema, v.name): v for v in views},
            {key(p.schema, p.name): p for p in procedures},
        )

    def table(self, qualified: str) -> Table | None:
        return self.tables.get(key(*split_name(qualified)))

    def view(self, qualified: str) -> View | None:
        return self.views.get(key(*split_name(qualified)))

    def procedure(self, qualified: str) -> Procedure | None:
        return self.procedures.get(key(*split_name(qualified)))

    def object_names(self) -> Iterator[str]:
        for group in (self.tables, self.views, self.procedures):
            for obj in group.values():
                yield f"{obj.schema}.{obj.name}"  # type: ignore[attr-defined]
