"""`--confirm` is required by what a script does (pytest_opus.confirm), whatever comes first in the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.confirm import (
    Confirmation,
    confirmation,
    destructive_changes,
    has_confirm_directive,
    leading_comments,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "sql" / "deploy_opus_update_boards.sql"
VALIDATE = ROOT / "sql" / "validate_ddl_changes.sql"
ROLLBACK = ROOT / "sql" / "rollback_opus_update_boards.sql"
VIEW_DROP = re.compile(r"^[ \t]*DROP VIEW dbo\.VW_UpdateOperationSummary\b", re.IGNORECASE | re.MULTILINE)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


def without_directive(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "confirm-required" not in line.lower())


def line_of(pattern: re.Pattern[str], text: str) -> int:
    found = pattern.search(text)
    assert found is not None, pattern.pattern
    return text.count("\n", 0, found.start()) + 1


# -- the shipped scripts ---------------------------------------------------------------------------


def test_the_rollback_script_needs_confirm_for_what_it_drops() -> None:
    text = read(ROLLBACK)
    reasons = destructive_changes(text, "rollback.sql")
    assert f"line {line_of(VIEW_DROP, text)}: drops view dbo.VW_UpdateOperationSummary" in reasons
    assert any(r.endswith(": drops table dbo.MON_UpdateAudit") for r in reasons)
    assert any(": drops column dbo.STG_MON_CustMasterSchedule." in r for r in reasons)
    assert confirmation(without_directive(text), "rollback.sql")


HEADERS = {
    "ssms-block-header": "/****** Object:  View [dbo].[VW_UpdateOperationSummary]    Script Date: 01/02/2025 ******/\n",
    "set-first": "SET NOCOUNT ON;\n",
    "go-first": "GO\n",
    "ssms-set-options": "SET ANSI_NULLS ON\nGO\nSET QUOTED_IDENTIFIER ON\nGO\n",
    "nothing": "",
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
def test_the_rollback_without_its_directive_still_needs_confirm_whatever_comes_first(header: str) -> None:
    text = header + without_directive(read(ROLLBACK))
    found = confirmation(text, "copy.sql")
    assert found and not found.marked  # decided by what it does, not by a marker
    assert f"line {line_of(VIEW_DROP, text)}: drops view dbo.VW_UpdateOperationSummary" in found.reasons


@pytest.mark.parametrize("path", [DEPLOY, VALIDATE], ids=["deploy", "validate"])
def test_deploy_and_validate_need_no_confirm(path: Path) -> None:
    """Deploy only creates and alters (CREATE OR ALTER of a view or procedure is not a drop); validate
    drops only its #temp table."""
    assert destructive_changes(read(path), path.name) == []
    assert not confirmation(read(path), path.name)


# -- the rule, statement by statement --------------------------------------------------------------


NEEDS_CONFIRM = [
    # (id, script, the sentence that must be among the reasons)
    ("if-branch-never-taken", "IF 1 = 0 DROP TABLE dbo.X;", "line 1: drops table dbo.X"),
    ("else-branch", "IF 1 = 1\n    PRINT N'kept';\nELSE\n    DROP VIEW dbo.V;", "line 4: drops view dbo.V"),
    ("catch-block", "BEGIN TRY\n    SELECT 1;\nEND TRY\nBEGIN CATCH\n    ALTER TABLE dbo.T DROP COLUMN c;\nEND CATCH",
     "line 5: drops column dbo.T.c"),
    ("while-body", "WHILE 1 = 0\nBEGIN\n    TRUNCATE TABLE dbo.T;\nEND", "line 3: truncates table dbo.T"),
    ("constraint", "ALTER TABLE dbo.T DROP CONSTRAINT DF_T_c;", "line 1: drops constraint DF_T_c on dbo.T"),
    ("index", "DROP INDEX IX_T_c ON dbo.T;", "line 1: drops index IX_T_c on dbo.T"),
    ("procedure", "DROP PROCEDURE IF EXISTS dbo.P;", "line 1: drops procedure dbo.P"),
    ("second-batch", "SELECT 1;\nGO\n\nDROP TABLE [dbo].[T];", "line 4: drops table dbo.T"),
    ("sp_executesql", "DECLARE @sql NVARCHAR(MAX) = N'SELECT 1';\nEXEC sp_executesql @sql;",
     "line 2: runs dynamic SQL (EXEC sp_executesql), whose effects cannot be read beforehand"),
    ("exec-string", "DECLARE @sql NVARCHAR(MAX) = N'SELECT 1';\nEXEC (@sql);",
     "line 2: runs dynamic SQL (EXEC (@sql)), whose effects cannot be read beforehand"),
    ("drop-outside-the-model", "DROP FUNCTION dbo.f;", "line 1: its effects could not be read: DROP FUNCTION"),
    ("alter-column", "ALTER TABLE dbo.T ALTER COLUMN c INT NULL;",
     "line 1: its effects could not be read: ALTER TABLE"),
    # T-SQL needs no semicolons: a drop right after a SET option or a SELECT is a statement of its own
    ("after-set-without-semicolon", "SET XACT_ABORT ON\nDROP VIEW dbo.V", "line 2: drops view dbo.V"),
    ("after-select-without-semicolon", "SELECT 1 AS one\n\n  TRUNCATE TABLE dbo.T", "line 3: truncates table dbo.T"),
    ("dynamic-after-set-without-semicolon", "SET NOCOUNT ON\nEXEC sp_executesql @sql",
     "line 2: runs dynamic SQL (EXEC sp_executesql), whose effects cannot be read beforehand"),
    ("unsupported-statement", "BACKUP DATABASE dms TO DISK = N'dms.bak';",
     "line 1: its effects could not be read: statement starting with 'BACKUP'"),
    ("procedure-created-then-run",
     "CREATE PROCEDURE dbo.P AS\nBEGIN\n    DROP TABLE dbo.T;\nEND\nGO\nEXEC dbo.P;",
     "line 6: runs procedure dbo.P, created at line 1, whose body at line 3 drops table dbo.T"),
    ("procedure-run-through-another",
     "CREATE PROCEDURE dbo.P AS TRUNCATE TABLE dbo.T;\nGO\nCREATE PROCEDURE dbo.Q AS EXEC P;\nGO\nEXEC [dbo].[Q];",
     "line 5: runs procedure dbo.Q, created at line 3, whose body at line 3 runs procedure dbo.P, created at "
     "line 1, whose body at line 1 truncates table dbo.T"),
]


@pytest.mark.parametrize(("script", "sentence"), [c[1:] for c in NEEDS_CONFIRM], ids=[c[0] for c in NEEDS_CONFIRM])
def test_needs_confirm(script: str, sentence: str) -> None:
    reasons = destructive_changes(script, "x.sql")
    assert any(r.startswith(sentence) for r in reasons), reasons
    assert confirmation(script, "x.sql")


NO_CONFIRM = {
    "drop-in-block-comment": "/* DROP TABLE dbo.T */\nSELECT 1;",
    "drop-in-line-comment": "SELECT 1; -- then DROP TABLE dbo.T\n",
    "drop-in-strings": "PRINT N'DROP TABLE dbo.T';\nSELECT 'TRUNCATE TABLE dbo.T' AS [DROP VIEW dbo.V];",
    "temp-tables": "CREATE TABLE #w (a INT);\nTRUNCATE TABLE #w;\nDROP TABLE #w;",
    # Decision: DELETE and UPDATE are data statements, with or without WHERE (see confirm.py)
    "delete-without-where": "DELETE FROM dbo.STG_MON_CustMasterSchedule;",
    "update-without-where": "UPDATE dbo.STG_MON_CustMasterSchedule SET update_operation = NULL;",
    # Decision: creating a procedure drops nothing; its body runs when called
    "procedure-that-drops-created-only": "CREATE OR ALTER PROCEDURE dbo.P AS\nBEGIN\n    DROP TABLE dbo.T;\nEND",
    "procedure-created-later-than-the-call": "EXEC dbo.P;\nGO\nCREATE PROCEDURE dbo.P AS DROP TABLE dbo.T;",
    "procedure-not-created-here": "EXEC dbo.SP_RollbackBatch @batch_id = 'b1', @reason = N'test';",
    "create-or-alter-view": "CREATE OR ALTER VIEW dbo.V AS SELECT 1 AS a;",
    "plain-ddl": "CREATE TABLE dbo.T (a INT NULL);\nALTER TABLE dbo.T ADD b INT NULL;\n"
                 "CREATE INDEX IX_T_b ON dbo.T (b);",
    "ddl-words-as-names": "SELECT create_date, [drop] FROM sys.objects WHERE name = N'DROP';",
}


@pytest.mark.parametrize("script", NO_CONFIRM.values(), ids=NO_CONFIRM.keys())
def test_needs_no_confirm(script: str) -> None:
    assert destructive_changes(script, "x.sql") == []
    assert not confirmation(script, "x.sql")


@pytest.mark.parametrize("script", ["IF (1 = \nBEGIN\n    DROP TABLE dbo.T", "SELECT 1;\nGO 0\nDROP TABLE dbo.T;"],
                         ids=["syntax-error", "bad-go-line"])
def test_a_script_whose_effects_cannot_be_read_needs_confirm(script: str) -> None:
    [reason] = destructive_changes(script, "x.sql")
    assert reason.startswith("its effects could not be read: x.sql:")


# -- any header before the drop --------------------------------------------------------------------

HARMLESS = st.sampled_from([
    "",
    "-- OPUS Update Boards rollback, saved from SSMS",
    "-- DROP TABLE dbo.NotReally",
    "/* header */",
    "/****** Object:  Table [dbo].[MON_UpdateAudit] ******/",
    "/* a /* nested */ DROP TABLE dbo.NotReally */",
    "/*\n * multi-line\n * header\n */",
    "SET NOCOUNT ON;",
    "SET XACT_ABORT ON",
    "SET ANSI_NULLS ON",
    "GO",
    "GO 2",
    "PRINT N'DROP TABLE dbo.NotReally';",
    "DECLARE @n INT = 1;",
    "SELECT 1 AS one;",
    "GO\nCREATE OR ALTER VIEW dbo.Harmless AS SELECT 1 AS a;\nGO",  # a view is alone in its batch
])
DESTRUCTIVE = st.sampled_from([
    ("DROP VIEW dbo.VW_UpdateOperationSummary;", "drops view dbo.VW_UpdateOperationSummary"),
    ("DROP TABLE IF EXISTS dbo.MON_UpdateAudit;", "drops table dbo.MON_UpdateAudit"),
    ("ALTER TABLE dbo.T DROP COLUMN update_batch_id;", "drops column dbo.T.update_batch_id"),
    ("TRUNCATE TABLE dbo.MON_UpdateAudit;", "truncates table dbo.MON_UpdateAudit"),
    ("EXEC sp_executesql @sql;", "runs dynamic SQL (EXEC sp_executesql), whose effects cannot be read beforehand"),
])


@given(st.lists(HARMLESS, max_size=8), DESTRUCTIVE)
def test_any_header_before_a_destructive_statement_still_needs_confirm(header: list[str],
                                                                       statement: tuple[str, str]) -> None:
    prefix = "".join(part + "\n" for part in header)
    text = prefix + statement[0] + "\n"
    assert not confirmation(prefix, "x.sql")  # the header alone needs no confirmation
    found = confirmation(text, "x.sql")
    assert found and not found.marked
    assert f"line {prefix.count(chr(10)) + 1}: {statement[1]}" in found.reasons


# -- the directive ---------------------------------------------------------------------------------

DIRECTIVE = {
    "line-comment": ("-- opus: confirm-required\nSELECT 1;", True),
    "after-other-comments-and-go": ("\ufeff-- Rollback\n\nGO\n--   OPUS: Confirm-Required\nSELECT 1;", True),
    "inside-a-block": ("/* Rollback, saved from SSMS\n   -- opus: confirm-required\n*/\nSELECT 1;", True),
    "starred-block-line": ("/*\n * opus: confirm-required\n */\nSELECT 1;", True),
    "one-line-block": ("/* opus: confirm-required */ SELECT 1;", True),
    "after-a-nested-block": ("/* a /* b */ c */\n-- opus: confirm-required\nSELECT 1;", True),
    "after-the-first-statement": ("SET NOCOUNT ON;\n-- opus: confirm-required\nSELECT 1;", False),
    "in-a-string": ("PRINT '-- opus: confirm-required';", False),
    "longer-word": ("-- opus: confirm-required-ish\nSELECT 1;", False),
    "in-a-sentence": ("-- this script is not opus: confirm-required\nSELECT 1;", False),
    "go-after-a-comment-on-its-line": ("/* x */ GO\n-- opus: confirm-required\nSELECT 1;", False),
}


@pytest.mark.parametrize(("text", "expected"), DIRECTIVE.values(), ids=DIRECTIVE.keys())
def test_the_directive_counts_anywhere_in_the_leading_comments(text: str, expected: bool) -> None:
    assert has_confirm_directive(text) is expected
    assert confirmation(text, "x.sql").marked is expected


def test_leading_comments_stop_at_the_first_statement() -> None:
    text = "\ufeff/* a /* nested */ still */ -- b\nGO\n  go 2 -- x\n/* c */ GO\n-- not leading\nSELECT 1;"
    assert leading_comments(text) == ["/* a /* nested */ still */", "-- b", "/* c */"]
    assert leading_comments("/* unterminated") == ["/* unterminated"]
    assert leading_comments("") == []


def test_the_summary_names_the_directive_and_the_first_reasons() -> None:
    reasons = tuple(f"line {n}: drops table dbo.T{n}" for n in range(1, 6))
    assert Confirmation(False, reasons).summary() == (
        "line 1: drops table dbo.T1; line 2: drops table dbo.T2; line 3: drops table dbo.T3; and 2 more")
    assert Confirmation(True, reasons[:1]).summary() == (
        "it is marked '-- opus: confirm-required'; line 1: drops table dbo.T1")
    assert not Confirmation() and Confirmation(True) and Confirmation(False, reasons)
