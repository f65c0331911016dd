"""The four Phase 0 phases: their fixed order, a pure sort key, and the gating of later phases."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: the seed's execution order, after a pre-flight that changes nothing; a failed phase blocks every
#: phase after it (a failed pre-flight: nothing is deployed)
PHASES: tuple[str, ...] = ("preflight", "deploy", "schema", "workflow", "infrastructure")

MARKER_HELP = {
    "preflight": "Phase 0 step 0, before any change: scripts parse and agree with the YAML, the target is "
                 "reachable and writable, no conflicting objects",
    "deploy": "Phase 0 step 1: the deploy script ran, atomically and idempotently, breaking nothing",
    "schema": "Phase 0 step 2: the live schema matches expectations/schema and the DBA validation passes",
    "workflow": "Phase 0 step 3: UpdateOperations stages, validates, dry-runs and audits a mock batch",
    "infrastructure": "Phase 0 step 4: connection, tables, module, board metadata and audit trail all work",
}


#: the seed's time estimate for each step, in minutes ("Execution Sequence"; ~22 minutes in all); the
#: pre-flight is not a step of the seed's
SEED_MINUTES: dict[str, int | None] = {"preflight": None, "deploy": 5, "schema": 2, "workflow": 10,
                                       "infrastructure": 5}


def safe_id(label: str) -> str:
    """A test id for a label taken from YAML or the database: markup characters become `_`, so an
    object named `dbo.X<img onerror=...>` cannot put markup into the report or the terminal."""
    return re.sub(r"[^\w.\-\[\]() ,:/#@$]", "_", label)


def phase_of(marker_names: set[str]) -> str | None:
    return next((p for p in PHASES if p in marker_names), None)


def sort_key(phase: str | None) -> int:
    """Phase items run in phase order; anything else keeps its place after them."""
    return PHASES.index(phase) if phase in PHASES else len(PHASES)


@dataclass
class PhaseLedger:
    """What happened in each phase of this run: failures (by test id) and items run."""

    failures: dict[str, list[str]] = field(default_factory=dict)
    passed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: phase tests selected to run, and phase tests left out by -k/-m/--deselect
    selected: dict[str, int] = field(default_factory=dict)
    deselected: dict[str, int] = field(default_factory=dict)

    @property
    def whole_suite_selected(self) -> bool:
        """Every phase has tests and none of the suite's phase tests was deselected."""
        return all(self.selected.get(p, 0) > 0 for p in PHASES) and not any(self.deselected.values())

    def record(self, phase: str, nodeid: str, outcome: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds
        if outcome == "failed":
            if nodeid not in self.failures.setdefault(phase, []):
                self.failures[phase].append(nodeid)
        elif outcome == "passed":
            self.passed[phase] = self.passed.get(phase, 0) + 1
        else:
            self.skipped[phase] = self.skipped.get(phase, 0) + 1

    def blocker(self, phase: str) -> str | None:
        """Why `phase` may not run: the first failed test of an earlier phase, or None."""
        for earlier in PHASES[: PHASES.index(phase)]:
            failed = self.failures.get(earlier)
            if failed:
                return f"phase '{earlier}' failed ({failed[0]}), so phase '{phase}' is skipped"
        return None
