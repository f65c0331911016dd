"""Compares expectations with a target's catalog: one result per expected object, made of findings.

A finding fails its object and carries a fix. A note does not fail it: the database means what the
expectation says under another name (an index created by an older script), and no fix is offered
because creating the expected object would duplicate the one already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pytest_opus.catalog import Catalog, Column, Index, Parameter, Table
from pytest_opus.expectations import fixes
from pytest_opus.expectations.model import (
    AbsentSpec,
    ColumnSpec,
    Expectations,
    IndexSpec,
    Location,
    ObjectKind,
    ParameterSpec,
    ProcedureSpec,
    TableSpec,
    ViewSpec,
)
from pytest_opus.expectations.sqltypes import normalize_expression, type_difference, type_of

FindingKind = Literal[
    "missing_object", "unexpected_object", "missing_column", "unexpected_column", "type", "length",
    "precision", "nullability", "default", "identity", "primary_key", "index", "check", "parameter",
    "view_column",
]
FINDING_KINDS: tuple[FindingKind, ...] = (
    "missing_object", "unexpected_object", "missing_column", "unexpected_column", "type", "length",
    "precision", "nullability", "default", "identity", "primary_key", "index", "check", "parameter",
    "view_column",
)
MISSING = "(missing)"
NOT_EXPECTED = "(not expected)"


@dataclass(frozen=True)
class Finding:
    """One difference between an expectation and the database, with a suggested (unexecuted) fix."""

    object: str
    kind: FindingKind
    column: str | None
    expected: str | None
    actual: str | None
    fix: str | None = None


NoteKind = Literal["index_name"]


@dataclass(frozen=True)
class Note:
    """A difference that does not fail its object, shown beside the results.

    It has no `fix` on purpose: whatever would reach the expected form is optional, and is written
    into `text` as advice (never a CREATE, which would duplicate what is there).
    """

    object: str
    kind: NoteKind
    expected: str
    actual: str
    text: str


@dataclass(frozen=True)
class ObjectResult:
    """The outcome for one expected object; `absent` marks an object that must not exist.

    `findings` fail the object; `notes` never do, so `ok` looks at findings only.
    """

    name: str
    kind: ObjectKind
    findings: list[Finding] = field(default_factory=list)
    absent: bool = False
    where: Location | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def label(self) -> str:
        return f"{self.name} (must be absent)" if self.absent else self.name

    def summary(self) -> str:
        """`dbo.MON_UpdateAudit: 2 findings`, `dbo.MON_UpdateAudit: ok, 1 note` or `dbo.X: ok`."""
        parts = [_count(len(self.findings), "finding") if self.findings else "ok"]
        if self.notes:
            parts.append(_count(len(self.notes), "note"))
        return f"{self.label}: " + ", ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def compare(expectations: Expectations, catalog: Catalog, *,
            deploy_script: str = fixes.DEPLOY_SCRIPT) -> list[ObjectResult]:
    """Check every expected object against `catalog`, in the order the expectations list them."""
    results = [_table(spec, catalog, deploy_script) for spec in expectations.tables]
    results += [_view(spec, catalog, deploy_script) for spec in expectations.views]
    results += [_procedure(spec, catalog, deploy_script) for spec in expectations.procedures]
    results += [_absent(spec, catalog) for spec in expectations.absent]
    return results


# -- tables ------------------------------------------------------------------------------------


def _describe_spec(spec: ColumnSpec) -> str:
    parts = [spec.type.text]
    if spec.identity:
        parts.append("IDENTITY")
    if spec.nullable is not None:
        parts.append("NULL" if spec.nullable else "NOT NULL")
    if spec.default is not None and spec.default.kind != "none":
        parts.append(f"DEFAULT {spec.default.describe()}")
    return " ".join(parts)


def _describe_column(column: Column) -> str:
    parts = [type_of(column).text]
    if column.identity:
        parts.append("IDENTITY")
    parts.append("NULL" if column.nullable else "NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    return " ".join(parts)


def _columns_text(name: str | None, columns: Sequence[str]) -> str:
    listed = f"({', '.join(columns)})"
    return f"{name} {listed}" if name else listed


def _same_columns(left: Sequence[str], right: Sequence[str]) -> bool:
    return [c.lower() for c in left] == [c.lower() for c in right]


def _table(spec: TableSpec, catalog: Catalog, script: str) -> ObjectResult:
    name = spec.qualified
    result = ObjectResult(name, "table", where=spec.where)
    table = catalog.table(name)
    if table is None:
        fix = (fixes.create_table(spec) if spec.mode == "exact" else
               f"-- {name} must exist before deployment (only part of it is described: mode contains); "
               f"restore it, then re-run {script}")
        result.findings.append(Finding(name, "missing_object", None, "table", MISSING, fix))
        return result
    for column_spec in spec.columns:
        result.findings.extend(_column(spec, table, column_spec))
    declared = {c.name.lower() for c in spec.columns}
    if spec.mode == "exact":
        for column in table.columns:
            if column.name.lower() not in declared:
                result.findings.append(Finding(name, "unexpected_column", column.name, NOT_EXPECTED,
                                               _describe_column(column),
                                               fixes.drop_column(spec.schema, spec.name, column)))
    for absent_name in spec.absent_columns:
        present = table.column(absent_name)
        if present is not None:
            result.findings.append(Finding(name, "unexpected_column", present.name, "(absent)",
                                           _describe_column(present),
                                           fixes.drop_column(spec.schema, spec.name, present)))
    result.findings.extend(_primary_key(spec, table))
    index_findings, index_notes = _indexes(spec, table)
    result.findings.extend(index_findings)
    result.notes.extend(index_notes)
    result.findings.extend(_checks(spec, table))
    return result


def _column(spec: TableSpec, table: Table, expected: ColumnSpec) -> list[Finding]:
    name = spec.qualified
    actual = table.column(expected.name)
    if actual is None:
        return [Finding(name, "missing_column", expected.name, _describe_spec(expected), MISSING,
                        fixes.add_column(spec.schema, spec.name, expected))]
    found: list[Finding] = []
    actual_type = type_of(actual)
    # The fix states the whole target definition: expected where checked, as found otherwise.
    target_nullable = expected.nullable if expected.nullable is not None else actual.nullable

    def alter() -> str:  # written only for a finding (sqlglot renders it: most columns have none)
        return fixes.alter_column(spec.schema, spec.name, actual.name, expected.type, target_nullable)

    difference = type_difference(expected.type, actual_type)
    if difference is not None:
        found.append(Finding(name, difference, actual.name, expected.type.text, actual_type.text, alter()))
    if expected.nullable is not None and expected.nullable != actual.nullable:
        found.append(Finding(name, "nullability", actual.name, "NULL" if expected.nullable else "NOT NULL",
                             "NULL" if actual.nullable else "NOT NULL", alter()))
    if expected.default is not None and not expected.default.matches(actual.default):
        found.append(Finding(name, "default", actual.name, expected.default.describe(),
                             actual.default if actual.default is not None else "no default",
                             fixes.add_default(spec.schema, spec.name, actual, expected.default,
                                               expected.type)))
    if expected.identity is not None and expected.identity != actual.identity:
        found.append(Finding(name, "identity", actual.name,
                             "IDENTITY" if expected.identity else "not IDENTITY",
                             "IDENTITY" if actual.identity else "not IDENTITY",
                             fixes.identity_note(spec.schema, spec.name, actual.name, expected.identity)))
    return found


def _primary_key(spec: TableSpec, table: Table) -> list[Finding]:
    expected = spec.primary_key
    if expected is None:
        return []
    actual = table.primary_key
    wanted = _columns_text(expected.name, expected.columns)
    if actual is None:
        return [Finding(spec.qualified, "primary_key", None, wanted, "(none)",
                        fixes.add_primary_key(spec.schema, spec.name, expected))]
    have = _columns_text(actual.name, actual.columns)
    if not _same_columns(expected.columns, actual.columns):
        return [Finding(spec.qualified, "primary_key", None, wanted, have,
                        fixes.add_primary_key(spec.schema, spec.name, expected, actual.name))]
    if expected.name is not None and expected.name.lower() != actual.name.lower():
        rename = (f"EXEC sp_rename N'{spec.schema}.{actual.name}', N'{expected.name}', N'OBJECT'")
        return [Finding(spec.qualified, "primary_key", None, wanted, have, rename)]
    return []


def _index_text(index: IndexSpec | Index) -> str:
    return ("UNIQUE " if index.unique else "") + _columns_text(index.name, index.columns)


def _same_meaning(expected: IndexSpec, actual: Index) -> bool:
    """Same key columns in the same order, and the same uniqueness where the expectation states it."""
    return (_same_columns(expected.columns, actual.columns)
            and (expected.unique is None or expected.unique == actual.unique))


def _stand_ins(spec: TableSpec, table: Table) -> dict[int, Index]:
    """Expected index (by position) -> the index that satisfies it: its namesake, else one of the same meaning.

    Namesakes are claimed first, so an index never stands in for another expectation while it is
    the one its own name promises. A primary key is a constraint checked on its own, never a stand-in.
    """
    matched: dict[int, Index] = {}
    for position, expected in enumerate(spec.indexes):
        actual = table.index(expected.name)
        if actual is not None and _same_meaning(expected, actual):
            matched[position] = actual
    claimed = {index.name.lower() for index in matched.values()}
    for position, expected in enumerate(spec.indexes):
        if position in matched:
            continue
        other = next((i for i in table.indexes if not i.primary_key and i.name.lower() not in claimed
                      and _same_meaning(expected, i)), None)
        if other is not None:
            matched[position] = other
            claimed.add(other.name.lower())
    return matched


def _indexes(spec: TableSpec, table: Table) -> tuple[list[Finding], list[Note]]:
    found: list[Finding] = []
    notes: list[Note] = []
    stand_ins = _stand_ins(spec, table)
    # actual index name -> the expectation it satisfies under another name
    standing_for = {i.name.lower(): spec.indexes[p] for p, i in stand_ins.items()
                    if i.name.lower() != spec.indexes[p].name.lower()}
    claimed = {i.name.lower() for i in stand_ins.values()}
    for position, expected in enumerate(spec.indexes):
        wanted = _index_text(expected)
        stand_in = stand_ins.get(position)
        if stand_in is not None:
            if stand_in.name.lower() != expected.name.lower():
                notes.append(_renamed_index_note(spec, table, expected, stand_in))
            continue
        actual = table.index(expected.name)
        if actual is None:
            # An index on the same columns in another order, or of other uniqueness, is a different
            # index (it serves other queries), so the fix adds the expected one; showing the near
            # one lets the DBA decide whether to drop it.
            near = next((i for i in table.indexes if not i.primary_key and i.name.lower() not in claimed
                         and sorted(c.lower() for c in i.columns) == sorted(c.lower() for c in expected.columns)),
                        None)
            shown = MISSING if near is None else f"{MISSING}; similar: {_index_text(near)}"
            found.append(Finding(spec.qualified, "index", None, wanted, shown,
                                 fixes.create_index(spec.schema, spec.name, expected)))
            continue
        if expected.unique is False:
            wanted = "non-unique " + wanted
        other = standing_for.get(actual.name.lower())
        if other is None:
            fix = fixes.create_index(spec.schema, spec.name, expected, replace=True)
        elif table.index(other.name) is None:
            # The index holding this name satisfies `other`: rebuilding it in place would lose that,
            # so it moves to the name `other` expects first.
            fix = ";\n".join([fixes.rename_index(spec.schema, spec.name, actual.name, other.name),
                              fixes.create_index(spec.schema, spec.name, expected)])
        else:
            fix = (f"-- {actual.name} stands in for {other.name}, whose name is taken too: rename both, "
                   f"then create {expected.name}")
        found.append(Finding(spec.qualified, "index", None, wanted, _index_text(actual), fix))
    return found, notes


def _renamed_index_note(spec: TableSpec, table: Table, expected: IndexSpec, actual: Index) -> Note:
    text = f"index {_index_text(expected)} is present as {_index_text(actual)}, so it counts as in place"
    holder = table.index(expected.name)
    if holder is None:
        rename = fixes.rename_index(spec.schema, spec.name, actual.name, expected.name)
        # Optional only: older scripts may refer to the old name (their rollback drops it by name).
        text += f". To use the expected name (optional; first check what refers to the old one): {rename}"
    else:
        text += f". The name {expected.name} is taken by {_index_text(holder)}"
    return Note(spec.qualified, "index_name", _index_text(expected), _index_text(actual), text)


def _checks(spec: TableSpec, table: Table) -> list[Finding]:
    found: list[Finding] = []
    for expected in spec.checks:
        actual = next((c for c in table.checks if c.name.lower() == expected.name.lower()), None)
        wanted = expected.name if expected.definition is None else f"{expected.name} {expected.definition}"
        if actual is None:
            found.append(Finding(spec.qualified, "check", None, wanted, MISSING,
                                 fixes.add_check(spec.schema, spec.name, expected)))
        elif expected.definition is not None and (
                normalize_expression(expected.definition) != normalize_expression(actual.definition)):
            found.append(Finding(spec.qualified, "check", None, wanted, f"{actual.name} {actual.definition}",
                                 fixes.add_check(spec.schema, spec.name, expected, replace=True)))
    return found


# -- views and procedures ------------------------------------------------------------------------


def _order_finding(name: str, kind: FindingKind, expected: list[str], actual: list[str],
                   fix: str) -> list[Finding]:
    """One finding when the names both sides share appear in a different order."""
    actual_lower = {n.lower() for n in actual}
    expected_lower = {n.lower() for n in expected}
    common_expected = [n for n in expected if n.lower() in actual_lower]
    common_actual = [n for n in actual if n.lower() in expected_lower]
    if _same_columns(common_expected, common_actual):
        return []
    return [Finding(name, kind, None, "order: " + ", ".join(common_expected),
                    "order: " + ", ".join(common_actual), fix)]


def _view(spec: ViewSpec, catalog: Catalog, script: str) -> ObjectResult:
    name = spec.qualified
    result = ObjectResult(name, "view", where=spec.where)
    fix = fixes.redeploy(f"view {name}", script)
    view = catalog.view(name)
    if view is None:
        result.findings.append(Finding(name, "missing_object", None, "view", MISSING, fix))
        return result
    if spec.columns is None:
        return result
    actual = sorted(view.columns, key=lambda c: c.ordinal)
    by_name = {c.name.lower(): (position, c) for position, c in enumerate(actual, start=1)}
    expected_names = {c.name.lower() for c in spec.columns}
    for position, expected in enumerate(spec.columns, start=1):
        match = by_name.get(expected.name.lower())
        if match is None:
            result.findings.append(Finding(name, "view_column", expected.name, f"position {position}",
                                           MISSING, fix))
            continue
        if expected.type is not None:
            actual_type = type_of(match[1])
            difference = type_difference(expected.type, actual_type)
            if difference is not None:
                result.findings.append(Finding(name, difference, match[1].name, expected.type.text,
                                               actual_type.text, fix))
    for position, column in enumerate(actual, start=1):
        if column.name.lower() not in expected_names:
            result.findings.append(Finding(name, "view_column", column.name, NOT_EXPECTED,
                                           f"position {position}", fix))
    result.findings.extend(_order_finding(name, "view_column", [c.name for c in spec.columns],
                                          [c.name for c in actual], fix))
    return result


def _describe_parameter(parameter: ParameterSpec | Parameter) -> str:
    sql_type = parameter.type if isinstance(parameter, ParameterSpec) else type_of(parameter)
    output = parameter.output if isinstance(parameter, ParameterSpec) else parameter.is_output
    return f"{parameter.name} {sql_type.text}" + (" OUTPUT" if output else "")


def _procedure(spec: ProcedureSpec, catalog: Catalog, script: str) -> ObjectResult:
    name = spec.qualified
    result = ObjectResult(name, "procedure", where=spec.where)
    fix = fixes.redeploy(f"procedure {name}", script)
    procedure = catalog.procedure(name)
    if procedure is None:
        result.findings.append(Finding(name, "missing_object", None, "procedure", MISSING, fix))
        return result
    if spec.parameters is None:
        return result
    actual = sorted(procedure.parameters, key=lambda p: p.ordinal)
    by_name = {p.name.lower(): p for p in actual}
    expected_names = {p.name.lower() for p in spec.parameters}
    # An unmatched actual parameter at the position of an unmatched expected one is reported as the
    # "actual" side of that finding (a rename), not a second time as unexpected.
    explained: set[str] = set()
    for position, expected in enumerate(spec.parameters):
        match = by_name.get(expected.name.lower())
        if match is None:
            partner = actual[position] if position < len(actual) else None
            if partner is not None and partner.name.lower() not in expected_names:
                explained.add(partner.name.lower())
                shown = _describe_parameter(partner)
            else:
                shown = MISSING
            result.findings.append(Finding(name, "parameter", expected.name, _describe_parameter(expected),
                                           shown, fix))
            continue
        actual_type = type_of(match)
        type_differs = type_difference(expected.type, actual_type) is not None
        output_differs = expected.output is not None and expected.output != match.is_output
        if type_differs or output_differs:
            result.findings.append(Finding(name, "parameter", match.name, _describe_parameter(expected),
                                           _describe_parameter(match), fix))
    for parameter in actual:
        if parameter.name.lower() not in expected_names and parameter.name.lower() not in explained:
            result.findings.append(Finding(name, "parameter", parameter.name, NOT_EXPECTED,
                                           _describe_parameter(parameter), fix))
    result.findings.extend(_order_finding(name, "parameter", [p.name for p in spec.parameters],
                                          [p.name for p in actual], fix))
    return result


def _absent(spec: AbsentSpec, catalog: Catalog) -> ObjectResult:
    name = spec.qualified
    result = ObjectResult(name, spec.kind, absent=True, where=spec.where)
    lookup = {"table": catalog.table, "view": catalog.view, "procedure": catalog.procedure}[spec.kind]
    if lookup(name) is not None:
        result.findings.append(Finding(name, "unexpected_object", None, "(absent)", f"{spec.kind} exists",
                                       fixes.drop_object(spec.kind, spec.schema, spec.name)))
    return result


# -- text output -------------------------------------------------------------------------------


HEADERS = ("object", "kind", "column", "expected", "actual")


def format_notes(notes: Iterable[Note]) -> str:
    """One `note: object: text` line per note (they pass, so they need no table of fixes)."""
    return "\n".join(f"note: {note.object}: {note.text}" for note in notes)


def format_findings(findings: Iterable[Finding], *, with_fixes: bool = True) -> str:
    """An aligned text table of findings (for failure messages), then the suggested T-SQL."""
    items = list(findings)
    if not items:
        return "no findings"
    rows = [HEADERS] + [(f.object, f.kind, f.column or "-", f.expected or "-", f.actual or "-")
                        for f in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    lines = [line(rows[0]), line(["-" * w for w in widths]), *(line(row) for row in rows[1:])]
    if with_fixes:
        seen: set[str] = set()
        suggested: list[str] = []
        for finding in items:
            if finding.fix and finding.fix not in seen:  # type and nullability share one ALTER COLUMN
                seen.add(finding.fix)
                statements = finding.fix.splitlines()
                if not statements[-1].startswith("--"):
                    statements[-1] += ";"  # so the block can be pasted into SSMS as it is
                suggested.extend(f"  {text}" for text in statements)
        if suggested:
            lines += ["", "suggested T-SQL (not executed; review before running):", *suggested]
    return "\n".join(lines)
