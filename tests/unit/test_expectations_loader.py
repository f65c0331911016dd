"""The expectation loader: the model it builds, and `file:line` problems for every kind of mistake."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_opus.errors import OpusError
from pytest_opus.expectations import (
    ExpectationError,
    Expectations,
    load_expectation_file,
    load_expectations,
    loader,
    parse_expectations,
    parse_type,
)

REPO = Path(__file__).resolve().parents[2]


def parse(text: str) -> Expectations:
    return parse_expectations(textwrap.dedent(text), "t.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(ExpectationError) as caught:
        parse(text)
    return [str(p) for p in caught.value.problems]


FULL = """\
    description: every feature once
    tables:
      MON_UpdateAudit:
        mode: exact
        columns:
          audit_id: {type: INT, identity: true, nullable: false}
          batch_id: {type: varchar(50), nullable: false, default: none}
          stamp: {type: datetime2, default: utc_now}
          amount: {type: decimal, default: 0}
          note: nvarchar(max)
        primary_key: {name: PK_MON_UpdateAudit, columns: [audit_id]}
        indexes:
          IX_batch: [batch_id]
          IX_stamp: {columns: [stamp, batch_id], unique: true}
        checks:
          CK_amount: amount >= 0
          CK_exists:
      stage.STG:
        absent_columns: [old_column]
    views:
      dbo.VW:
        columns: [a, {name: b, type: int}]
    procedures:
      "[dbo].[SP]":
        parameters:
          - {name: batch_id, type: varchar(50)}
          - {name: "@out", type: int, output: true}
    absent:
      tables: [dbo.Gone]
      views: [Gone_View]
"""


def test_full_document_builds_the_model() -> None:
    result = parse(FULL)
    assert len(result) == 6
    audit, staging = result.tables
    assert (audit.schema, audit.name, audit.mode) == ("dbo", "MON_UpdateAudit", "exact")
    assert [c.name for c in audit.columns] == ["audit_id", "batch_id", "stamp", "amount", "note"]
    audit_id, batch_id, stamp, amount, note = audit.columns
    assert audit_id.type == parse_type("int") and audit_id.identity and audit_id.nullable is False
    assert batch_id.default is not None and batch_id.default.kind == "none"
    assert stamp.default is not None and stamp.default.kind == "utc_now" and stamp.nullable is None
    assert amount.type.text == "decimal(18,0)"
    assert note.type.text == "nvarchar(max)" and note.default is None and note.nullable is None
    assert audit.primary_key is not None and audit.primary_key.name == "PK_MON_UpdateAudit"
    assert [(i.name, i.columns, i.unique) for i in audit.indexes] == [
        ("IX_batch", ("batch_id",), None), ("IX_stamp", ("stamp", "batch_id"), True)]
    assert [(c.name, c.definition) for c in audit.checks] == [("CK_amount", "amount >= 0"),
                                                              ("CK_exists", None)]
    assert audit.where.file == "t.yaml" and audit.where.line == 3
    assert (staging.schema, staging.mode, staging.absent_columns) == ("stage", "contains", ("old_column",))
    view = result.views[0]
    assert view.columns is not None and [c.name for c in view.columns] == ["a", "b"]
    procedure = result.procedures[0]
    assert (procedure.schema, procedure.name) == ("dbo", "SP")
    assert procedure.parameters is not None
    assert [(p.name, p.output) for p in procedure.parameters] == [("@batch_id", None), ("@out", True)]
    assert [(a.kind, a.qualified) for a in result.absent] == [("table", "dbo.Gone"), ("view", "dbo.Gone_View")]


def test_object_with_no_body_only_has_to_exist() -> None:
    result = parse("views:\n  dbo.V:\nprocedures:\n  dbo.P:\n")
    assert result.views[0].columns is None and result.procedures[0].parameters is None


BAD_DOCUMENTS = [
    ("unknown key with suggestion", """\
        tables:
          T:
            columns:
              c: {type: int, nulable: true}
     """, "t.yaml:4: table dbo.T: column c: unknown key 'nulable' (did you mean 'nullable'?)"),
    ("unknown top-level key", "tabels: {}\n", "t.yaml:1: the file: unknown key 'tabels' (did you mean 'tables'?)"),
    ("unknown type with suggestion", """\
        tables:
          T:
            columns:
              c: nvarchr(50)
     """, "t.yaml:4: table dbo.T: column c: type: unknown type 'nvarchr' (did you mean 'nvarchar'?)"),
    ("duplicate column ignoring case", """\
        tables:
          T:
            columns:
              batch_id: int
              Batch_ID: int
     """, "t.yaml:5: table dbo.T: duplicate column 'Batch_ID' (first at line 4)"),
    ("duplicate column, same spelling", """\
        tables:
          T:
            columns:
              batch_id: int
              batch_id: bigint
     """, "t.yaml:5: table dbo.T: columns: duplicate column 'batch_id' (first at line 4)"),
    ("unquoted comma in a flow mapping", """\
        tables:
          T:
            columns:
              c: {type: decimal(18,4)}
     """, "t.yaml:4: table dbo.T: column c: type: cannot read type 'decimal(18' (write it like varchar(50) or "
          "decimal(18,4)); inside {...} quote a type with a comma: \"decimal(18,...)\""),
    ("duplicate YAML key", """\
        tables:
          T:
            mode: exact
            mode: contains
     """, "t.yaml:4: table dbo.T: duplicate key 'mode' (first at line 3)"),
    ("duplicate object in one file", """\
        tables:
          dbo.T: {}
        views:
          T: {}
     """, "t.yaml:4: duplicate object dbo.T (view); first described at t.yaml:2"),
    ("list where mapping expected", """\
        tables:
          - T
     """, "t.yaml:2: tables must be a mapping (key: value), found a list"),
    ("mapping where list expected", """\
        views:
          V:
            columns: {a: 1}
     """, "t.yaml:3: view dbo.V: columns must be a list, found a mapping"),
    ("bad mode", """\
        tables:
          T: {mode: exactly}
     """, "t.yaml:2: table dbo.T: mode must be contains or exact, not 'exactly' (did you mean 'exact'?)"),
    ("flag that is not a boolean", """\
        tables:
          T:
            columns:
              c: {type: int, nullable: maybe}
     """, "t.yaml:4: table dbo.T: column c: nullable must be true or false, found 'maybe'"),
    ("missing type", """\
        tables:
          T:
            columns:
              c: {nullable: true}
     """, "t.yaml:4: table dbo.T: column c: missing required key 'type'"),
    ("boolean default", """\
        tables:
          T:
            columns:
              c: {type: bit, default: true}
     """, "t.yaml:4: table dbo.T: column c: a default cannot be true/false; write 1 or 0 for a bit column"),
    ("date default", """\
        tables:
          T:
            columns:
              c: {type: date, default: 2020-01-01}
     """, "t.yaml:4: table dbo.T: column c: default must be a word, a number or T-SQL text, not date"),
    ("exact index on undeclared column", """\
        tables:
          T:
            mode: exact
            columns: {batch_id: int}
            indexes: {IX: [bach_id]}
     """, "t.yaml:5: table dbo.T: index IX names column 'bach_id', which is not among the table's columns"
          " (did you mean 'batch_id'?)"),
    ("column both expected and absent", """\
        tables:
          T:
            columns: {c: int}
            absent_columns: [c]
     """, "t.yaml:4: table dbo.T: column 'c' is both expected and absent"),
    ("bad object name", "tables:\n  a.b.c: {}\n", "t.yaml:2: table name: 'a.b.c' is not a valid name"),
    ("parameter without type", """\
        procedures:
          P:
            parameters:
              - {name: x}
     """, "t.yaml:4: procedure dbo.P: parameter: missing required key 'type'"),
    ("invalid YAML", "tables: [\n", "t.yaml:2: invalid YAML:"),
    ("not a mapping at the top", "- a\n- b\n", "t.yaml:1: the file must be a mapping (key: value), found a list"),
    ("empty file", "# nothing\n", "t.yaml: the file is empty"),
    ("unknown tag", "tables:\n  T:\n    columns:\n      c: {type: int, nullable: !weird x}\n",
     "t.yaml:4: table dbo.T: column c: nullable: could not determine a constructor for the tag '!weird'"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in BAD_DOCUMENTS],
                         ids=[name for name, _, _ in BAD_DOCUMENTS])
def test_each_mistake_is_reported_with_file_and_line(text: str, message: str) -> None:
    found = problems(text)
    assert any(p.startswith(message) for p in found), found


def test_all_problems_are_reported_at_once() -> None:
    found = problems("""\
        tables:
          T:
            columns:
              a: {type: strng}
              b: {type: int, identity: yes please}
            colums: {}
    """)
    assert len(found) == 3
    assert [p.split(":")[1] for p in found] == ["4", "5", "6"]


def test_error_is_an_opus_error_with_one_problem_per_line() -> None:
    with pytest.raises(OpusError) as caught:
        parse("tables: {T: {mode: x}}\nviews: []\n")
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid schema expectations (2 problems):"
    assert all(line.startswith("  t.yaml:") for line in lines[1:])


def test_directory_loads_sorted_and_merged(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("views:\n  V: {}\n")
    (tmp_path / "a.yaml").write_text("tables:\n  T: {}\n")
    (tmp_path / "notes.txt").write_text("not an expectation")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.yaml").write_text("tables:\n  Elsewhere: {}\n")
    result = load_expectations(tmp_path)
    assert list(result.names()) == ["dbo.T", "dbo.V"]
    assert [Path(s).name for s in result.sources] == ["a.yaml", "b.yaml"]


def test_duplicate_object_across_files_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tables:\n  T: {}\n")
    (tmp_path / "b.yaml").write_text("absent:\n  tables: [dbo.t]\n")
    with pytest.raises(ExpectationError) as caught:
        load_expectations(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'b.yaml'}:2: duplicate object dbo.t (absent table); first described at "
        f"{tmp_path / 'a.yaml'}:2"]


def test_problems_from_several_files_are_collected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tables:\n  T: {mode: bad}\n")
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe bad bytes")
    with pytest.raises(ExpectationError) as caught:
        load_expectations(tmp_path)
    files = [Path(p.file).name for p in caught.value.problems]
    assert files == ["a.yaml", "b.yaml"]
    assert "not UTF-8" in caught.value.problems[1].message


def test_empty_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(ExpectationError, match=r"no \*\.yaml expectation files"):
        load_expectations(tmp_path)
    with pytest.raises(ExpectationError, match="directory not found"):
        load_expectations(tmp_path / "missing")


def test_single_file_loader(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("procedures:\n  P: {parameters: []}\n")
    assert load_expectation_file(path).procedures[0].parameters == ()


@pytest.mark.parametrize("folder", ["schema", "after_rollback"])
def test_shipped_expectations_load(folder: str) -> None:
    result = load_expectations(REPO / "expectations" / folder)
    assert len(result) == 5


def test_shipped_schema_describes_phase0() -> None:
    result = load_expectations(REPO / "expectations" / "schema")
    tables = {t.name: t for t in result.tables}
    audit = tables["MON_UpdateAudit"]
    assert audit.mode == "exact" and len(audit.columns) == 15
    assert len(audit.indexes) == 4
    for name in ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems"):
        assert tables[name].mode == "contains"
        assert len(tables[name].columns) == 9  # 7 update columns + stg_id + stg_status
    view = result.views[0]
    assert view.columns is not None and len(view.columns) == 9
    procedure = result.procedures[0]
    assert procedure.parameters is not None
    assert [p.name for p in procedure.parameters] == ["@batch_id", "@rollback_reason"]


# -- hypothesis: whatever the input, a model or an ExpectationError -------------------------------

KEYWORDS = sorted({*loader.TOP_KEYS, *loader.TABLE_KEYS, *loader.COLUMN_KEYS, *loader.INDEX_KEYS,
                   *loader.VIEW_KEYS, *loader.PARAMETER_KEYS, *loader.ABSENT_KEYS, *loader.PRIMARY_KEY_KEYS,
                   "dbo.T", "V", "c", "exact", "contains"})
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(["int", "varchar(50)", "nvarchar(max)", "decimal(18,4)", "utc_now", "none",
                              "('x')", "((0))", "@p", "a.b.c", "exact"]))
keys = st.sampled_from(KEYWORDS) | st.text(max_size=8) | st.integers()
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=40,
)


def outcome(text: str) -> None:
    try:
        result = parse_expectations(text, "fuzz.yaml")
    except ExpectationError as error:
        assert error.problems
        assert all(p.file == "fuzz.yaml" for p in error.problems)
        return
    assert isinstance(result, Expectations)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_arbitrary_yaml_documents_never_crash_the_loader(document: object) -> None:
    outcome(yaml.safe_dump(document))


shaped = st.fixed_dictionaries({}, optional={
    "tables": st.dictionaries(st.sampled_from(["T", "dbo.T", "s.U"]), st.fixed_dictionaries({}, optional={
        "mode": scalars,
        "columns": st.dictionaries(st.sampled_from(["a", "A", "b"]), scalars | st.dictionaries(keys, scalars)),
        "primary_key": documents,
        "indexes": st.dictionaries(st.text(max_size=4), documents),
        "checks": st.dictionaries(st.text(max_size=4), scalars),
        "absent_columns": documents,
    })),
    "views": st.dictionaries(st.sampled_from(["V", "T"]), documents),
    "procedures": st.dictionaries(st.sampled_from(["P"]), st.fixed_dictionaries({}, optional={
        "parameters": st.lists(st.dictionaries(keys, scalars, max_size=4), max_size=3)})),
    "absent": documents,
})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(shaped)
def test_nearly_valid_documents_never_crash_the_loader(document: dict[str, object]) -> None:
    outcome(yaml.safe_dump(document))


@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    outcome(text)


@settings(max_examples=50)
@given(st.binary(max_size=100))
def test_arbitrary_files_never_crash_the_directory_loader(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "x.yaml").write_bytes(content)
        try:
            load_expectations(folder)
        except ExpectationError as error:
            assert error.problems


def test_the_documented_example_loads() -> None:
    text = (REPO / "docs" / "expectations.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    result = parse_expectations(example, "docs/expectations.md")
    assert [t.name for t in result.tables] == ["MON_UpdateAudit"]
    assert len(result) == 4


# -- issue 13: YAML tags, and the C parser giving the same answers -------------------------------


@pytest.mark.parametrize("value", ["!custom nvarchar(50)", "!!int nvarchar(50)", "!!binary aGVsbG8="])
def test_a_yaml_tag_on_a_type_is_refused_with_its_line(value: str) -> None:
    text = f"tables:\n  dbo.T:\n    columns:\n      c: {{type: {value}}}\n"
    found = problems(text)
    assert any(p.startswith("t.yaml:4: table dbo.T: column c: type: the YAML tag") for p in found), found


def test_a_plain_str_tag_is_only_text() -> None:
    expectations = parse("tables:\n  dbo.T:\n    columns:\n      c: {type: !!str nvarchar(50)}\n")
    assert str(expectations.tables[0].columns[0].type) == "nvarchar(50)"


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml: pip install pyyaml "
                    "from a wheel, or install libyaml-dev and reinstall it")
@pytest.mark.parametrize("text", [t for _, t, _ in BAD_DOCUMENTS], ids=[n for n, _, _ in BAD_DOCUMENTS])
def test_the_c_parser_reports_exactly_what_the_python_parser_does(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader uses libyaml where it can (a large file loads many times faster); every message,
    file:line included, must be the same as with PyYAML's own parser."""
    from pytest_opus.expectations import loader

    assert loader._LOADER is yaml.CSafeLoader
    with_c = problems(text)
    monkeypatch.setattr(loader, "_LOADER", yaml.SafeLoader)
    assert problems(text) == with_c
