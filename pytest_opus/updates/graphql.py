"""The GraphQL documents a plan sends, and their offline validation against monday's schema (graphql-core).

Documents are built from string templates, not from an AST: a plan of 100,000 updates needs 4,000
documents and printing ASTs would dominate the time. Every document of a given shape (number of
mutations, items or subitems) has the same text and differs only in its variables, so each shape is
built and validated once and then reused.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from ..errors import ConfigError, OpusError

SCHEMA_RESOURCE = "monday_schema.graphql"

#: The alias of the n-th mutation in a request; positional, so a document's text depends only on its size.
ALIAS = "item_{}"
#: Variable names: the board id is shared by the request, item ids and column values are per mutation.
BOARD_VARIABLE = "b"
ITEM_VARIABLE = "i{}"
VALUES_VARIABLE = "c{}"

COMPLEXITY_SELECTION = "complexity { before query after reset_in_x_seconds }"


class GraphQLDocumentError(OpusError):
    """A planned document that monday's schema would reject; a bug in the planner, never in the data."""


@cache
def monday_schema_sdl() -> str:
    """The SDL text of the monday.com mutations pytest-opus uses (shipped as package data)."""
    try:
        return resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{SCHEMA_RESOURCE} is missing from the installed pytest_opus.updates package; "
            "reinstall pytest-opus (the file is package data)"
        ) from None


@cache
def monday_schema() -> GraphQLSchema:
    """The schema built from `monday_schema_sdl()`, once per process."""
    return build_schema(monday_schema_sdl())


def validate_document(query: str, variables: dict[str, Any] | None = None) -> None:
    """Raise GraphQLDocumentError unless `query` (and `variables`, when given) fit monday's schema."""
    schema = monday_schema()
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise GraphQLDocumentError(f"planned document does not parse: {exc.message}") from None
    errors = validate(schema, document)
    if errors:
        raise GraphQLDocumentError("planned document fails monday's schema: " + "; ".join(e.message for e in errors))
    if variables is None:
        return
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        raise GraphQLDocumentError(
            "planned variables do not fit the document: " + "; ".join(e.message for e in coerced)
        )


def operation_name(subitems: bool) -> str:
    return "OpusChangeSubitems" if subitems else "OpusChangeItems"


@cache
def change_columns_document(count: int, subitems: bool) -> str:
    """The document changing `count` items' column values; built and validated once per shape.

    Variables: `$b: ID!` (the board), then `$i<n>: ID` and `$c<n>: JSON!` per mutation, typed exactly
    as monday's `change_multiple_column_values` arguments. The request also selects `complexity`.
    """
    if count < 1:
        raise ValueError("a document needs at least one mutation")
    declarations = [f"${BOARD_VARIABLE}: ID!"]
    fields = []
    for n in range(count):
        item, values = ITEM_VARIABLE.format(n), VALUES_VARIABLE.format(n)
        declarations.append(f"${item}: ID, ${values}: JSON!")
        fields.append(
            f"  {ALIAS.format(n)}: change_multiple_column_values("
            f"board_id: ${BOARD_VARIABLE}, item_id: ${item}, column_values: ${values}) {{ id }}"
        )
    query = (
        f"mutation {operation_name(subitems)}({', '.join(declarations)}) {{\n"
        + "\n".join(fields)
        + f"\n  {COMPLEXITY_SELECTION}\n}}\n"
    )
    sample = {BOARD_VARIABLE: "1"}
    for n in range(count):
        sample[ITEM_VARIABLE.format(n)] = "1"
        sample[VALUES_VARIABLE.format(n)] = "{}"
    validate_document(query, sample)
    return query


@cache
def aliases(count: int) -> tuple[str, ...]:
    return tuple(ALIAS.format(n) for n in range(count))


@cache
def variable_names(count: int) -> tuple[tuple[str, str], ...]:
    """(item variable, column-values variable) per mutation position."""
    return tuple((ITEM_VARIABLE.format(n), VALUES_VARIABLE.format(n)) for n in range(count))
