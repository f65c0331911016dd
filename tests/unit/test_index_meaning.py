"""Indexes by meaning: the same key columns, order and uniqueness under another name is a note, not a finding.

Older scripts created the audit indexes under other names (`IX_MON_UpdateAudit_BatchId`). Such an
index satisfies the expectation; the schema phase shows the name difference and offers no fix that
would create a second, duplicate index.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlglot

from pytest_opus.catalog import Catalog, Column, Index, Table
from pytest_opus.effects import effects_catalog, file_effects, script_effects
from pytest_opus.expectations import (
    Finding,
    ObjectResult,
    compare,
    format_findings,
    format_notes,
    load_expectations,
    parse_expectations,
)
from pytest_opus.expectations.fixes import rename_index
from pytest_opus.targets.sandbox import SandboxTarget

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
SCHEMA = load_expectations(ROOT / "expectations" / "schema")
AUDIT = "dbo.MON_UpdateAudit"
RENAME_AUDIT_INDEX = ("DROP INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit;\n"
                      "CREATE INDEX IX_MON_UpdateAudit_BatchId ON dbo.MON_UpdateAudit (batch_id);\n")

EXPECTED = parse_expectations(textwrap.dedent("""\
    tables:
      dbo.T:
        columns:
          id: {type: int, nullable: false}
          a: int
          b: int
        primary_key: {name: PK_T, columns: [id]}
        indexes:
          IX_T_a: [a]
          IX_T_a_b: [a, b]
          UX_T_b: {columns: [b], unique: true}
"""), "t.yaml")


def table(*indexes: Index) -> Catalog:
    columns = (Column("id", 1, "int", nullable=False), Column("a", 2, "int"), Column("b", 3, "int"))
    pk = Index("PK_T", ("id",), unique=True, primary_key=True)
    return Catalog.build([Table("dbo", "T", columns, (pk, *indexes))])


CORRECT = (Index("IX_T_a", ("a",)), Index("IX_T_a_b", ("a", "b")), Index("UX_T_b", ("b",), unique=True))


def result_for(catalog: Catalog, expectations: object = EXPECTED, name: str = "dbo.T") -> ObjectResult:
    return next(r for r in compare(expectations, catalog) if r.name == name)  # type: ignore[arg-type]


def no_create(findings: list[Finding]) -> bool:
    return not any("CREATE" in (f.fix or "").upper() for f in findings)


def test_the_namesakes_pass_without_notes() -> None:
    result = result_for(table(*CORRECT))
    assert (result.ok, result.findings, result.notes, result.summary()) == (True, [], [], "dbo.T: ok")


def test_same_columns_under_another_name_is_a_passing_note_without_a_create() -> None:
    result = result_for(table(Index("IX_T_A_legacy", ("A",)), *CORRECT[1:]))
    assert result.ok and result.findings == []
    assert result.summary() == "dbo.T: ok, 1 note"
    [note] = result.notes
    assert (note.object, note.kind, note.expected, note.actual) == (
        "dbo.T", "index_name", "IX_T_a (a)", "IX_T_A_legacy (A)")
    # the only T-SQL offered is the optional rename, never a CREATE (that would duplicate the index)
    assert "CREATE" not in note.text.upper()
    assert note.text.endswith("EXEC sp_rename N'dbo.T.IX_T_A_legacy', N'IX_T_a', N'INDEX'")
    assert "optional" in note.text
    assert format_notes(result.notes) == f"note: dbo.T: {note.text}"


def test_unique_stated_matches_only_the_same_uniqueness_under_another_name() -> None:
    result = result_for(table(*CORRECT[:2], Index("UQ_legacy", ("b",), unique=True)))
    assert result.ok and [n.actual for n in result.notes] == ["UNIQUE UQ_legacy (b)"]


def test_another_column_order_under_another_name_is_a_finding_with_a_create() -> None:
    result = result_for(table(CORRECT[0], Index("IX_T_b_a", ("b", "a")), CORRECT[2]))
    assert not result.ok and result.notes == []
    [finding] = result.findings
    assert (finding.kind, finding.expected, finding.actual) == (
        "index", "IX_T_a_b (a, b)", "(missing); similar: IX_T_b_a (b, a)")
    # (b, a) serves other queries than (a, b): adding the expected index duplicates nothing
    assert finding.fix == "CREATE INDEX IX_T_a_b ON [dbo].[T]([a], [b])"


def test_another_column_order_under_the_same_name_is_rebuilt_in_place() -> None:
    result = result_for(table(CORRECT[0], Index("IX_T_a_b", ("b", "a")), CORRECT[2]))
    [finding] = result.findings
    assert (finding.expected, finding.actual) == ("IX_T_a_b (a, b)", "IX_T_a_b (b, a)")
    assert finding.fix is not None and "DROP_EXISTING=ON" in finding.fix


@pytest.mark.parametrize(("actual", "shown"), [
    (Index("UX_legacy", ("b",), unique=False), "(missing); similar: UX_legacy (b)"),
    (Index("UX_T_b", ("b",), unique=False), "UX_T_b (b)"),
], ids=["other name", "same name"])
def test_unique_expected_non_unique_found_is_a_finding(actual: Index, shown: str) -> None:
    result = result_for(table(*CORRECT[:2], actual))
    assert not result.ok and result.notes == []
    [finding] = result.findings
    assert (finding.kind, finding.expected, finding.actual) == ("index", "UNIQUE UX_T_b (b)", shown)
    assert finding.fix is not None and finding.fix.startswith("CREATE UNIQUE INDEX UX_T_b")


def test_non_unique_expected_unique_found_is_a_finding_but_unstated_uniqueness_is_not() -> None:
    stated = parse_expectations("tables:\n  T:\n    indexes:\n      IX_T_a: {columns: [a], unique: false}\n")
    unstated = parse_expectations("tables:\n  T:\n    indexes:\n      IX_T_a: [a]\n")
    found = table(Index("UQ_T_a", ("a",), unique=True))
    assert [f.actual for f in result_for(found, stated).findings] == ["(missing); similar: UNIQUE UQ_T_a (a)"]
    loose = result_for(found, unstated)
    assert loose.ok and [n.actual for n in loose.notes] == ["UNIQUE UQ_T_a (a)"]


def test_one_index_by_name_and_another_by_meaning() -> None:
    result = result_for(table(CORRECT[0], Index("IX_T_AB_old", ("a", "b")), Index("UQ_old", ("b",), unique=True)))
    assert result.ok and result.summary() == "dbo.T: ok, 2 notes"
    assert [(n.expected, n.actual) for n in result.notes] == [
        ("IX_T_a_b (a, b)", "IX_T_AB_old (a, b)"), ("UNIQUE UX_T_b (b)", "UNIQUE UQ_old (b)")]


def test_a_namesake_is_preferred_to_a_duplicate_under_another_name() -> None:
    result = result_for(table(*CORRECT, Index("IX_T_a_copy", ("a",))))
    assert (result.ok, result.notes) == (True, [])


def test_an_index_stands_in_for_one_expectation_only() -> None:
    expectations = parse_expectations("tables:\n  T:\n    indexes:\n      IX_1: [a]\n      IX_2: [a]\n")
    result = result_for(table(Index("IX_old", ("a",))), expectations)
    assert [n.expected for n in result.notes] == ["IX_1 (a)"]
    assert [(f.expected, f.actual) for f in result.findings] == [("IX_2 (a)", "(missing)")]


def test_the_primary_key_never_stands_in_for_an_index() -> None:
    expectations = parse_expectations("tables:\n  T:\n    indexes:\n      UX_T_id: {columns: [id], unique: true}\n")
    result = result_for(table(), expectations)
    assert [(f.kind, f.actual) for f in result.findings] == [("index", "(missing)")]


def test_a_name_held_by_the_stand_in_of_another_expectation_is_moved_not_rebuilt() -> None:
    # IX_T_a holds (a, b): it satisfies IX_T_a_b, so rebuilding it as (a) would lose that index.
    result = result_for(table(Index("IX_T_a", ("a", "b")), CORRECT[2]))
    assert [(n.expected, n.actual) for n in result.notes] == [("IX_T_a_b (a, b)", "IX_T_a (a, b)")]
    [finding] = result.findings
    assert finding.fix == ("EXEC sp_rename N'dbo.T.IX_T_a', N'IX_T_a_b', N'INDEX';\n"
                           "CREATE INDEX IX_T_a ON [dbo].[T]([a])")
    assert "CREATE" not in result.notes[0].text.upper()


def test_a_stand_in_whose_expected_name_is_taken_gets_no_rename() -> None:
    result = result_for(table(Index("IX_T_a", ("b",)), Index("IX_a_old", ("a",)), *CORRECT[1:]))
    assert result.ok
    [note] = result.notes
    assert "sp_rename" not in note.text and "The name IX_T_a is taken by IX_T_a (b)" in note.text


def test_rename_index_quotes_what_sp_rename_needs() -> None:
    assert rename_index("dbo", "T", "IX old", "IX_new") == "EXEC sp_rename N'dbo.T.[IX old]', N'IX_new', N'INDEX'"
    assert rename_index("dbo", "T", "IX", "it's") == "EXEC sp_rename N'dbo.T.IX', N'it''s', N'INDEX'"
    assert type(sqlglot.parse_one(rename_index("dbo", "T", "a", "b"), read="tsql")).__name__ == "Execute"


def test_findings_and_notes_keep_the_expectation_order() -> None:
    result = result_for(table(Index("IX_a_old", ("a",))))
    assert [f.expected for f in result.findings] == ["IX_T_a_b (a, b)", "UNIQUE UX_T_b (b)"]
    assert [n.expected for n in result.notes] == ["IX_T_a (a)"]


# -- the shipped expectations: the older scripts' index name, statically and on the sandbox -------


def older_with_upstream_name() -> str:
    text = (ROOT / "tests" / "data" / "older_deployment.sql").read_text(encoding="utf-8")
    renamed = text.replace("CREATE INDEX IX_MON_UpdateAudit_batch_id ON", "CREATE INDEX IX_MON_UpdateAudit_BatchId ON")
    assert renamed != text
    return renamed


def assert_audit_passes_with_one_note(results: list[ObjectResult]) -> None:
    findings = [f for r in results for f in r.findings]
    assert not findings, format_findings(findings)
    by_name = {r.name: r for r in results}
    assert by_name[AUDIT].summary() == "dbo.MON_UpdateAudit: ok, 1 note"
    [note] = by_name[AUDIT].notes
    assert (note.expected, note.actual) == ("IX_MON_UpdateAudit_batch_id (batch_id)",
                                            "IX_MON_UpdateAudit_BatchId (batch_id)")
    assert note.text.endswith("EXEC sp_rename N'dbo.MON_UpdateAudit.IX_MON_UpdateAudit_BatchId', "
                              "N'IX_MON_UpdateAudit_batch_id', N'INDEX'")
    assert [r.name for r in results if r.notes] == [AUDIT]


def test_static_effects_of_an_older_deployment_with_the_upstream_name() -> None:
    """No database: the effects reader's catalog is compared the same way."""
    baseline = [file_effects(p) for p in sorted((SQL / "baseline").glob("*.sql"))]
    catalog = effects_catalog(*baseline, script_effects(older_with_upstream_name(), "older_upstream.sql"))
    assert_audit_passes_with_one_note(compare(SCHEMA, catalog))


def test_sandbox_deployed_then_the_index_renamed_passes_with_one_note(baseline: SandboxTarget) -> None:
    deployed = baseline.run_script_file(str(SQL / "deploy_opus_update_boards.sql"))
    assert deployed.ok, deployed.summary()
    renamed = baseline.execute_script(RENAME_AUDIT_INDEX, source="rename_index.sql")
    assert renamed.ok, renamed.summary()
    audit = baseline.catalog().table(AUDIT)
    assert audit is not None and {i.name for i in audit.indexes} >= {"IX_MON_UpdateAudit_BatchId"}
    assert audit.index("IX_MON_UpdateAudit_batch_id") is None
    assert_audit_passes_with_one_note(compare(SCHEMA, baseline.catalog()))


def test_sandbox_older_deployment_with_the_upstream_name(baseline: SandboxTarget) -> None:
    result = baseline.execute_script(older_with_upstream_name(), source="older_upstream.sql")
    assert result.ok, result.summary()
    assert_audit_passes_with_one_note(compare(SCHEMA, baseline.catalog()))
