"""What a batch came to: the summary view's rows and the batch report with its success rate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class BatchSummary:
    """One row of `dbo.VW_UpdateOperationSummary`: a batch's audit rows for one operation and board."""

    batch_id: str
    update_operation: str
    monday_board_id: int | None
    total_updates: int
    active_updates: int
    rolled_back_updates: int
    batch_start_time: datetime | str | None  # the sandbox returns DATETIME2 as ISO text
    batch_end_time: datetime | str | None
    error_count: int


@dataclass(frozen=True)
class BatchReport:
    """A batch from staging to audit, in numbers.

    `valid` and `invalid` count rows by their validation result (`validation_errors` empty or not),
    so they stay meaningful after a rollback marks every row ROLLED_BACK. `success_rate` is
    valid / staged, and None when it would mislead: no staged rows, or rows not validated yet.
    `planned_mutations` is the number of items with audit rows (one mutation per item), and
    `planned_requests` those mutations grouped `per_request` to a request.
    """

    batch_id: str
    operation: str
    staged: int
    valid: int
    invalid: int
    pending: int  # staged rows never validated
    rolled_back: int
    reasons_grouped: dict[str, int] = field(default_factory=dict)  # reason -> rows, most frequent first
    planned_mutations: int = 0
    planned_requests: int = 0
    audit_rows: int = 0
    active_audit_rows: int = 0
    dry_run_audit_rows: int = 0
    success_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few lines for a terminal or a report."""
        rate = "n/a" if self.success_rate is None else f"{self.success_rate:.1%}"
        why = ""
        if self.success_rate is None:
            why = " (nothing staged)" if self.staged == 0 else f" ({self.pending} row(s) not validated yet)"
        lines = [
            f"batch {self.batch_id} ({self.operation}): {self.staged} staged, {self.valid} valid, "
            f"{self.invalid} invalid, {self.pending} not validated, {self.rolled_back} rolled back",
            f"success rate (valid / staged): {rate}{why}",
            f"planned: {self.planned_mutations} mutation(s) in {self.planned_requests} request(s); "
            f"audit rows: {self.audit_rows} ({self.active_audit_rows} active, "
            f"{self.dry_run_audit_rows} dry-run)",
        ]
        if self.reasons_grouped:
            lines.append("rejected because:")
            lines.extend(f"  {count:>6}  {reason}" for reason, count in self.reasons_grouped.items())
        return "\n".join(lines)
