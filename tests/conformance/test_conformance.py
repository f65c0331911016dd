"""The conformance suite: every probe of tests/conformance/*.yaml on a fresh, empty sandbox (issue 10).

Each probe carries SQL Server's documented result and the page it comes from. `sandbox: same` means
the sandbox must give exactly that result: the last result set's rows, value and type (an int is not
'1'; a decimal keeps its scale where the sandbox returns one), the error number (and a substring of
its text), or the lines PRINT/RAISERROR wrote. `sandbox: refused` means the sandbox raises
UnsupportedConstruct. A probe with `known_difference` is a strict expected failure: it turns red
once the sandbox gives the right answer, so the list of differences stays true.
"""

from __future__ import annotations

import datetime
import importlib.util
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.base import ScriptResult
from pytest_opus.targets.sandbox import SandboxTarget


def _import_table() -> Any:
    # imported by path under its own name: "table" alone could be any module on sys.path
    spec = importlib.util.spec_from_file_location("opus_conformance_table", Path(__file__).with_name("table.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


table = _import_table()
PROBES = table.load()


def _param(probe: Any) -> Any:
    marks = []
    if probe.known_difference:
        marks.append(pytest.mark.xfail(strict=True, reason=f"known difference: {probe.known_difference}"))
    return pytest.param(probe, id=probe.id, marks=marks)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxTarget]:
    """An empty in-memory sandbox (no baseline) with the probe's setup run; a failing setup is an error."""
    probe = request.node.callspec.params["probe"]
    target = SandboxTarget()
    try:
        if probe.setup:
            result = target.execute_script(probe.setup, source=f"{probe.file}:{probe.id}:setup")
            if result.error is not None:
                raise RuntimeError(f"{probe.file}:{probe.line}: the setup of {probe.id!r} failed: "
                                   f"{result.error.describe()}")
        yield target
    finally:
        target.close()


# -- comparing values as SQL Server returns them ------------------------------------------------------
def same_value(actual: Any, expected: Any) -> bool:
    """True when `actual` (what the sandbox returned) is the value SQL Server returns, of the same kind."""
    if expected is None:
        return actual is None
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, Decimal):
        if isinstance(actual, Decimal):
            return actual == expected and actual.as_tuple().exponent == expected.as_tuple().exponent
        # the sandbox returns SQLite numbers: their value is all it can tell, not the scale
        return isinstance(actual, int | float) and not isinstance(actual, bool) and Decimal(repr(actual)) == expected
    if isinstance(expected, float):
        return isinstance(actual, float) and actual == expected
    if isinstance(expected, int):
        return type(actual) is int and actual == expected
    if isinstance(expected, datetime.datetime):
        if isinstance(actual, str):
            try:
                actual = datetime.datetime.fromisoformat(actual)
            except ValueError:
                return False
        return isinstance(actual, datetime.datetime) and actual == expected
    if isinstance(expected, datetime.date):
        if isinstance(actual, str):
            try:
                actual = datetime.date.fromisoformat(actual)
            except ValueError:
                return False
        return type(actual) is datetime.date and actual == expected
    raise AssertionError(f"no comparison for {expected!r}")  # table.load() admits no other kind


def same_rows(actual: list[tuple[Any, ...]], expected: list[list[Any]]) -> bool:
    return len(actual) == len(expected) and all(
        len(a) == len(e) and all(same_value(x, y) for x, y in zip(a, e, strict=True))
        for a, e in zip(actual, expected, strict=True)
    )


def _shown(result: ScriptResult) -> str:
    if result.error is not None:
        return f"{type(result.error).__name__} {result.error.number}: {result.error.describe()}"
    sets = result.result_sets
    rows = [list(r) for r in sets[-1].rows] if sets else "no result set"
    return f"rows {rows!r}, messages {[m.text for m in result.messages]!r}"


# -- the probes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("probe", [_param(p) for p in PROBES])
def test_probe(probe: Any, sandbox: SandboxTarget) -> None:
    result = sandbox.execute_script(probe.sql, source=f"{probe.file}:{probe.id}")
    context = (f"{probe.file}:{probe.line} {probe.id}: SQL Server gives {table.expected_text(probe)} "
               f"({probe.doc}); the sandbox gave {_shown(result)}")
    if probe.sandbox == "refused":
        assert isinstance(result.error, UnsupportedConstruct), context
        return
    assert not isinstance(result.error, UnsupportedConstruct), context
    if probe.error is not None:
        assert result.error is not None and result.error.number == probe.error, context
        if probe.message:
            assert probe.message in result.error.message, context
        return
    assert result.error is None, context
    if probe.messages is not None:
        printed = [m.text for m in result.messages if m.kind in ("print", "info")]
        assert printed == probe.messages, context
        return
    assert result.result_sets, context
    assert same_rows(result.result_sets[-1].rows, probe.rows), context


def test_the_suite_holds_the_probes_issue_10_asks_for() -> None:
    assert len(PROBES) >= 80, f"issue 10 asks for at least 80 probes; tests/conformance/*.yaml hold {len(PROBES)}"


def test_the_table_in_the_docs_is_up_to_date() -> None:
    document = table.DOC.read_text(encoding="utf-8")
    assert table.replace_table(document, table.render(PROBES)) == document, (
        f"the conformance table in docs/embedded-runner.md differs from tests/conformance/*.yaml; "
        f"regenerate it with `{table.REGENERATE}` from the project root"
    )


# -- the comparison and the format themselves ---------------------------------------------------------
@pytest.mark.parametrize(("actual", "expected", "same"), [
    (1, 1, True), ("1", 1, False), (1, "1", False), (True, 1, False), (1.0, 1, False), (1, 1.0, False),
    (1.5, 1.5, True), (None, 0, False), (0, None, False), (None, None, True),
    (Decimal("1.50"), Decimal("1.50"), True), (Decimal("1.5"), Decimal("1.50"), False),
    (1.5, Decimal("1.50"), True), (1.25, Decimal("1.50"), False), ("1.50", Decimal("1.50"), False),
    ("2024-01-31 10:00:00.000", datetime.datetime(2024, 1, 31, 10), True),
    ("2024-01-31 10:00:00.003", datetime.datetime(2024, 1, 31, 10), False),
    ("2024-01-31", datetime.date(2024, 1, 31), True), ("2024-01-31 00:00:00", datetime.date(2024, 1, 31), False),
])
def test_values_compare_by_kind_and_value(actual: Any, expected: Any, same: bool) -> None:
    assert same_value(actual, expected) is same


GOOD = """\
- id: one
  construct: "one"
  sql: SELECT 1
  sqlserver:
    rows: [[1]]
  doc: https://learn.microsoft.com/en-us/sql/t-sql/queries/select-transact-sql
  sandbox: same
"""


@pytest.mark.parametrize(("files", "complaint"), [
    ({"a.yaml": GOOD + "  extra: 1\n"}, "a.yaml: probe 'one': unknown key(s) extra"),
    ({"a.yaml": GOOD.replace("  doc: https://learn.microsoft.com/en-us/sql/t-sql/queries/select-transact-sql\n", "")},
     "a.yaml: probe 'one': missing doc"),
    ({"a.yaml": GOOD.replace("https://learn.microsoft.com/", "https://example.com/")}, "a.yaml: probe 'one': doc"),
    ({"a.yaml": GOOD, "b.yaml": GOOD}, "b.yaml:1: probe 'one' has the id of the probe at a.yaml:1"),
    ({"a.yaml": GOOD + "  sandbox: refused\n"}, "a.yaml: line 8: the key 'sandbox' is given twice"),
    ({"a.yaml": GOOD.replace("rows: [[1]]", "rows: [[1]]\n    error: 8115")}, "exactly one of rows, error"),
    ({"a.yaml": GOOD.replace("rows: [[1]]", "rows: [[true]]")}, "write a bit as 0 or 1"),
    ({"a.yaml": GOOD.replace("sandbox: same", "sandbox: maybe")}, "sandbox must be one of same, refused"),
    ({"a.yaml": GOOD.replace("id: one", "id: One Probe")}, "kebab-case"),
])
def test_a_malformed_probe_file_is_refused_naming_file_and_probe(tmp_path: Path, files: dict[str, str],
                                                                 complaint: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(table.ProbeError) as raised:
        table.load(tmp_path)
    assert complaint in str(raised.value)


def test_a_well_formed_file_loads_with_its_line_and_decimal_values(tmp_path: Path) -> None:
    text = GOOD + GOOD.replace("id: one", "id: two").replace("rows: [[1]]", "rows: [[!decimal \"1.50\"]]")
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    first, second = table.load(tmp_path)
    assert (first.id, first.line, first.rows) == ("one", 1, [[1]])
    assert (second.id, second.line) == ("two", 8)
    assert second.rows == [[Decimal("1.50")]] and second.rows[0][0].as_tuple().exponent == -2
