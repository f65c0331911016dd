"""The dry-run mutation plan: grouping, aliases, variables, schema validation, refusals, encoding."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_opus.errors import OpusError
from pytest_opus.updates.board import BoardMetadata
from pytest_opus.updates.graphql import (
    GraphQLDocumentError,
    change_columns_document,
    monday_schema,
    monday_schema_sdl,
    validate_document,
)
from pytest_opus.updates.plan import (
    MUTATION_COMPLEXITY_ESTIMATE,
    QUERY_COMPLEXITY_LIMIT,
    MutationPlan,
    PlanError,
    PlannedUpdate,
    build_compensating_plan,
    build_plan,
)

FIRST_ITEM = 9_000_000_000



def _updates(count: int, **columns: object) -> list[PlannedUpdate]:
    fields = columns or {"ORDER STATUS": "SHIPPED", "ORDER QTY": 10}
    return [PlannedUpdate(FIRST_ITEM + n, dict(fields), staging_row_id=n + 1) for n in range(count)]


def _assert_valid_against_monday(plan: MutationPlan) -> None:
    """Every request parses, validates against the schema, and its variables coerce to their types."""
    schema = monday_schema()
    for request in plan.requests:
        document = parse(request.query)
        assert validate(schema, document) == []
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        coerced = get_variable_values(schema, operation.variable_definitions or (), request.variables)
        assert not isinstance(coerced, list), coerced  # a list is graphql-core's list of errors


@pytest.mark.parametrize(
    ("count", "per_request", "sizes"),
    [(1, 25, [1]), (25, 25, [25]), (26, 25, [25, 1]), (60, 25, [25, 25, 10]), (7, 3, [3, 3, 1]), (5, 1, [1] * 5)],
)
def test_requests_are_grouped(board: BoardMetadata, count: int, per_request: int, sizes: list[int]) -> None:
    plan = build_plan(board, _updates(count), per_request=per_request)
    assert [len(r.mutations) for r in plan.requests] == sizes
    assert plan.request_count == len(sizes)
    assert plan.mutation_count == count
    assert [m.item_id for m in plan.mutations()] == [FIRST_ITEM + n for n in range(count)]  # order kept
    _assert_valid_against_monday(plan)


def test_aliases_are_distinct_and_name_their_mutations(board: BoardMetadata) -> None:
    plan = build_plan(board, _updates(30), per_request=25)
    for request in plan.requests:
        assert len(set(request.aliases)) == len(request.aliases) == len(request.mutations)
        assert tuple(m.alias for m in request.mutations) == request.aliases
        for n, alias in enumerate(request.aliases):
            assert f"  {alias}: change_multiple_column_values(board_id: $b, item_id: $i{n}, column_values: $c{n})" in (
                request.query
            )


def test_variables_are_typed_as_monday_s_schema(board: BoardMetadata) -> None:
    request = build_plan(board, _updates(2)).requests[0]
    assert request.query.startswith("mutation OpusChangeItems($b: ID!, $i0: ID, $c0: JSON!, $i1: ID, $c1: JSON!)")
    assert "complexity { before query after reset_in_x_seconds }" in request.query
    assert request.variables["b"] == "8446553051"
    assert request.variables["i0"] == str(FIRST_ITEM)
    assert json.loads(request.variables["c0"]) == {"numbers3": "10", "status_1": {"label": "SHIPPED"}}


def test_the_sdl_declares_monday_s_argument_types() -> None:
    mutation = monday_schema().mutation_type
    assert mutation is not None
    args = {name: str(arg.type) for name, arg in mutation.fields["change_multiple_column_values"].args.items()}
    assert args == {"item_id": "ID", "board_id": "ID!", "column_values": "JSON!", "create_labels_if_missing": "Boolean"}
    assert str(mutation.fields["create_subitem"].args["parent_item_id"].type) == "ID!"
    assert {"change_simple_column_value", "create_item", "move_item_to_group", "complexity"} <= set(mutation.fields)
    assert "scalar JSON" in monday_schema_sdl()


def test_subitems_go_to_the_subitems_board_with_its_column_ids(board: BoardMetadata) -> None:
    updates = [PlannedUpdate(123, {"Name": "XL", "Shipped Qty": 12, "ORDER LINE STATUS": "shipped"}, 1)]
    plan = build_plan(board, updates, subitems=True)
    request = plan.requests[0]
    assert plan.board_id == 8446553064 and plan.subitems
    assert request.variables["b"] == "8446553064"
    assert request.query.startswith("mutation OpusChangeSubitems(")
    assert json.loads(request.variables["c0"]) == {
        "name": "XL",
        "numeric_mkq2b2cd": "12",
        "status": {"label": "SHIPPED"},
    }
    _assert_valid_against_monday(plan)
    with pytest.raises(PlanError, match=r"\[ORDER STATUS\] is not mapped to a column of board 8446553064"):
        build_plan(board, [PlannedUpdate(1, {"ORDER STATUS": "SHIPPED"})], subitems=True)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"DDP US (USD)": Decimal("12.5")}, r"\[DDP US \(USD\)\] \(monday column formula_mkq1m3no\) is read-only"),
        ({"TOTAL QTY SHIPPED": 5}, r"\[TOTAL QTY SHIPPED\] .* is read-only: monday computes mirror columns"),
        ({"Item ID": 5}, r"\[Item ID\] .* is read-only"),
        ({"NOTE": "x"}, r"\[NOTE\] is not mapped .* \(did you mean 'NOTES'\?\)"),
        ({"ORDER STATUS": "Done"}, r"\[ORDER STATUS\] label 'Done' is not one of"),
        ({"ORDER QTY": 10_000_001}, r"\[ORDER QTY\] 10000001 is above the maximum 10000000"),
        ({"ORDER QTY": 1.5e300}, r"\[ORDER QTY\] 1.5e\+300 needs more than 38 digits"),
        ({"CUSTOMER IN DC DATE": "2025-02-30"}, r"\[CUSTOMER IN DC DATE\] not a valid date"),
        ({"NOTES": "x" * 2001}, r"\[NOTES\] text is 2001 characters long"),
        ({"ORDER STATUS": "SHIPPED", "order status": "SHIPPED"}, "the same column is given twice"),
    ],
)
def test_refusals_name_the_row_and_column(board: BoardMetadata, columns: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=r"^staging row 7 \(item 42\): " + message):
        build_plan(board, [PlannedUpdate(42, columns, staging_row_id=7)])


@pytest.mark.parametrize("item_id", [0, -1, True, "123", 1.0, None])
def test_item_ids_must_be_positive_integers(board: BoardMetadata, item_id: object) -> None:
    with pytest.raises(PlanError, match="item id must be a positive whole number"):
        build_plan(board, [PlannedUpdate(item_id, {"ORDER QTY": 1})])  # type: ignore[arg-type]


def test_an_item_is_planned_once(board: BoardMetadata) -> None:
    updates = [PlannedUpdate(5, {"ORDER QTY": 1}, 1), PlannedUpdate(5, {"ORDER QTY": 2}, 2)]
    with pytest.raises(PlanError, match="item 5 is already planned from staging row 1"):
        build_plan(board, updates)


def test_name_cannot_be_cleared(board: BoardMetadata) -> None:
    with pytest.raises(PlanError, match=r"\[Name\] a name column cannot be cleared"):
        build_plan(board, [PlannedUpdate(5, {"Name": None})], subitems=True)


def test_null_clears_and_empty_updates_are_skipped(board: BoardMetadata) -> None:
    plan = build_plan(board, [PlannedUpdate(5, {"NOTES": None}, 1), PlannedUpdate(6, {}, 2)])
    assert json.loads(plan.requests[0].variables["c0"]) == {"long_text": None}
    assert plan.skipped_rows == (2,)
    assert plan.mutation_count == 1
    empty = build_plan(board, [])
    assert (empty.mutation_count, empty.request_count, empty.estimated_complexity) == (0, 0, 0)


def test_operation_rules_and_their_opt_out(board: BoardMetadata) -> None:
    assert build_plan(board, [PlannedUpdate(5, {"ORDER STATUS": "shipped"})]).requests[0].variables["c0"] == (
        '{"status_1":{"label":"SHIPPED"}}'
    )
    with pytest.raises(PlanError, match="writes subitems"):
        build_plan(board, _updates(1), operation="update_subitems")
    with pytest.raises(OpusError, match="no operation type 'update_itemz'"):
        build_plan(board, _updates(1), operation="update_itemz")
    # A compensating plan restores old values even where today's rules would refuse them ...
    old = [PlannedUpdate(5, {"ORDER STATUS": "ARCHIVED", "ORDER QTY": 99_999_999}, 1)]
    plan = build_compensating_plan(board, old)
    assert plan.purpose == "compensating"
    assert json.loads(plan.requests[0].variables["c0"]) == {"numbers3": "99999999", "status_1": {"label": "ARCHIVED"}}
    # ... but never writes a read-only column or an invalid value for the type.
    with pytest.raises(PlanError, match="read-only"):
        build_compensating_plan(board, [PlannedUpdate(5, {"DDP US (USD)": 1})])
    with pytest.raises(PlanError, match="not a valid date"):
        build_compensating_plan(board, [PlannedUpdate(5, {"CUSTOMER IN DC DATE": "2025-13-01"})])


def test_complexity_estimate(board: BoardMetadata) -> None:
    plan = build_plan(board, _updates(30), per_request=25)
    assert [r.estimated_complexity for r in plan.requests] == [25 * MUTATION_COMPLEXITY_ESTIMATE, 5 * 10_000]
    assert plan.estimated_complexity == 30 * MUTATION_COMPLEXITY_ESTIMATE
    most = QUERY_COMPLEXITY_LIMIT // MUTATION_COMPLEXITY_ESTIMATE
    build_plan(board, _updates(1), per_request=most)
    with pytest.raises(PlanError, match=f"over monday's 5,000,000 per request; use at most {most}"):
        build_plan(board, _updates(1), per_request=most + 1)


@pytest.mark.parametrize("per_request", [0, -1, 2.5, True])
def test_per_request_must_be_a_positive_integer(board: BoardMetadata, per_request: object) -> None:
    with pytest.raises(PlanError, match="per_request"):
        build_plan(board, _updates(1), per_request=per_request)  # type: ignore[arg-type]


def test_to_dict_and_summary(board: BoardMetadata) -> None:
    plan = build_plan(board, [*_updates(3), PlannedUpdate(1, {}, 99)], per_request=2)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["mutation_count"] == 3 and data["request_count"] == 2 and data["skipped_rows"] == [99]
    assert data["estimated_complexity"] == 30_000 and data["complexity_per_mutation_estimate"] == 10_000
    assert data["columns_changed"] == {"status_1": 3, "numbers3": 3}
    assert data["requests"][0]["aliases"] == ["item_0", "item_1"]
    assert data["requests"][1]["items"] == [{"alias": "item_0", "item_id": FIRST_ITEM + 2, "staging_row_id": 3}]
    assert "requests" not in plan.to_dict(include_requests=False)
    summary = plan.summary()
    assert "update plan for board 8446553051 (Customer Master Schedule): 3 mutation(s) in 2 request(s)" in summary
    assert "estimated complexity 30,000 points (10,000 per mutation, an estimate" in summary
    assert "1 update(s) had nothing to change" in summary


def test_each_document_shape_is_built_and_validated_once(board: BoardMetadata) -> None:
    change_columns_document.cache_clear()
    build_plan(board, _updates(130), per_request=25)
    build_plan(board, _updates(55), per_request=25)
    info = change_columns_document.cache_info()
    assert info.misses == 2  # two shapes: 25 mutations, and the 5 left over (both plans end with 5)
    assert info.hits == (6 - 2) + 3  # 6 requests then 3 requests, all but the first of each shape cached


def test_a_bad_document_raises() -> None:
    with pytest.raises(GraphQLDocumentError, match="fails monday's schema"):
        validate_document("mutation { change_multiple_column_values(board_id: 1) { id } }")
    with pytest.raises(GraphQLDocumentError, match="does not parse"):
        validate_document("mutation {")
    with pytest.raises(GraphQLDocumentError, match="variables do not fit"):
        validate_document(change_columns_document(1, False), {"b": None, "i0": "1", "c0": "{}"})


# -- hypothesis: arbitrary values come out of the plan exactly as the column type encodes them ----------

TEXT = st.one_of(
    st.text(),
    st.sampled_from(["'; DROP TABLE x; --", '"', "\\", "\x00", "日本語", "😀" * 60, "$b", "}) { id }"]),
)


@settings(max_examples=200)
@given(
    text=st.one_of(st.none(), TEXT.filter(lambda t: len(t.encode("utf-16-le")) // 2 <= 50)),  # monday counts UTF-16
    notes=st.one_of(st.none(), TEXT),
    qty=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000_000)),
    fob=st.one_of(st.none(), st.decimals(min_value=0, max_value=100_000, places=4)),
    day=st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))),
)
def test_arbitrary_values_survive_the_plan(
    board: BoardMetadata,
    text: str | None,
    notes: str | None,
    qty: int | None,
    fob: Decimal | None,
    day: date | None,
) -> None:
    columns = {"PO NUMBER": text, "NOTES": notes, "ORDER QTY": qty, "FINAL FOB (USD)": fob, "CUSTOMER IN DC DATE": day}
    plan = build_plan(board, [PlannedUpdate(77, columns, 1)])
    [request] = plan.requests
    _assert_valid_against_monday(plan)
    sent = json.loads(request.variables["c0"])
    assert sent["text_mkq1c3de"] == text
    assert sent["long_text"] == (None if notes is None else {"text": notes})
    assert sent["numbers3"] == (None if qty is None else str(qty))
    assert sent["numbers_mkq1k1lm"] == (None if fob is None else ("0" if not fob else format(fob.normalize(), "f")))
    assert sent["date_mkq1i9jk"] == (None if day is None else {"date": day.isoformat()})
    # the document text never carries a value: only variables do
    assert request.query == change_columns_document(1, False)
