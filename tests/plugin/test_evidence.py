"""The declared evidence API through pytester: a phase test that writes a misspelt key fails, naming it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PHASE_TEST = """
import pytest

@pytest.mark.schema
def test_records_a_figure(opus_run):
    opus_run.evidence["mismatch.planted"] = 8
    opus_run.evidence["mismatch.cuaght"] = 8

@pytest.mark.schema
def test_records_a_figure_of_another_kind(opus_run):
    opus_run.evidence.update({"schema.objects": "five"})
"""


def test_a_misspelt_evidence_key_fails_the_test_that_writes_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_phase=PHASE_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*EvidenceError: unknown evidence key 'mismatch.cuaght' written; did you mean 'mismatch.caught'?*",
        "*EvidenceError: evidence 'schema.objects' must be int (objects expected by expectations/schema/), "
        "got str 'five'*",
    ])
