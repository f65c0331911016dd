"""The Phase 0 decision as a test case in `--junitxml` output, so a NO-GO cannot look green in CI dashboards.

pytest has no public API to add a test case to its JUnit XML, so this feeds one synthetic report
(call and teardown, as a test would) to the junitxml plugin's own writer, which pytest keeps in
`config.stash[_pytest.junitxml.xml_key]`. Where that is not available the decision is written as a
suite property instead; nothing here may break a run.
"""

from __future__ import annotations

from typing import Any

import pytest

#: the synthetic test case: one per run, named after the sign-off
NODEID = "tests/phase0::phase0_sign_off"


def record_decision(config: pytest.Config, data: dict[str, Any]) -> None:
    """Add the decision to the JUnit XML of this run, if one is being written."""
    try:
        from _pytest.junitxml import xml_key
        from _pytest.reports import TestReport
    except ImportError:  # a pytest without these internals: nothing to add to
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    headline = decision_line(data)
    properties = [("decision", data["decision"]), ("scenario", data["scenario"]),
                  ("scope", data.get("scope", "")), ("target", data.get("target", ""))]
    passed = data["decision"] == "GO" or data["scenario"] == "incomplete"
    failed_criteria = "\n".join(f"FAIL {c['name']}: {c['evidence']}" for c in data["criteria"] if not c["passed"])
    location = ("tests/phase0", None, "phase0_sign_off")
    call = TestReport(NODEID, location, {}, "passed" if passed else "failed",
                      None if passed else f"{headline}\n{failed_criteria}", "call",
                      user_properties=properties)
    # junitxml writes a test case's properties from its teardown report
    teardown = TestReport(NODEID, location, {}, "passed", None, "teardown", user_properties=properties)
    xml.pytest_runtest_logreport(call)
    xml.pytest_runtest_logreport(teardown)
    xml.add_global_property("opus_phase0_decision", headline)


def decision_line(data: dict[str, Any]) -> str:
    from . import headline

    return headline(data)
