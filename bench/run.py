"""Benchmarks of UpdateOperations on the sandbox: staging speed, validation statements, planning, peak memory.

    python bench/run.py [--quick] [--scale N]

Builds a deployed sandbox in a temporary directory, prints each figure as it is measured, and ends
with one line of JSON. Goals (issue 4): staging >= 200,000 rows/s, planning >= 100,000 updates/s,
the same number of validation statements for 1,000 and 100,000 rows, a 1,000,000-row batch staged
from a query under 300 MB peak memory. `--quick` uses smaller batches (validation on 20,000 rows
instead of 100,000, reported under the same key) and skips the 1,000,000-row runs.

`--scale N` adds an end-to-end run of N rows (bench/speed.py: staged, validated and processed in dry
run in a fresh process) with the keys e2e_rows, e2e_seconds, e2e_peak_rss_mb and each stage's
seconds, rate and ratio to the plain SQL it stands on (validate_over_plain_sql, process_over_plain_sql;
1.0 = as fast as the plain SQL).

Staging is measured both ways a query can be staged: set-based (one INSERT ... SELECT, the way a
query of typed columns is staged; `stage_rows_per_s`, the goal) and streamed (row by row through
Python, the way a query the target cannot describe is staged; `stage_rows_per_s_streamed`, shown
for comparison). Each run checks that the method it measures is the one that ran.

The board's max_batch_size (10,000 for update_items) is raised to 2,000,000 here, with
dataclasses.replace, so that batches this large can be staged at all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runs from a checkout even where the package is not installed

from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox  # noqa: E402
from pytest_opus.updates import BoardMetadata, PlannedUpdate, UpdateOperations, build_plan, load_board  # noqa: E402
from pytest_opus.updates.operations import SET_BASED, STREAMED, StageResult  # noqa: E402

BOARD = ROOT / "expectations" / "boards" / "customer_master_schedule.yaml"
FIRST_ITEM = 9_000_000_000
LABELS = ("RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD")
COLUMNS = "item_id, [AAG ORDER NUMBER], [ORDER STATUS], [ORDER QTY], [CUSTOMER EX FACTORY DATE], [FINAL FOB (USD)]"
GOALS = {"stage_rows_per_s": 200_000, "plan_updates_per_s": 100_000, "peak_rss_mb_1m": 300}


def say(text: str) -> None:
    print(text, flush=True)


def big_board() -> BoardMetadata:
    board = load_board(BOARD)
    op = board.operation("update_items")
    return dataclasses.replace(
        board, operations={**board.operations, "update_items": dataclasses.replace(op, max_batch_size=2_000_000)}
    )


def build_sandbox(directory: Path) -> Path:
    path = create_sandbox(directory / "bench.sqlite", ROOT / "sql" / "baseline")
    target = SandboxTarget(path)
    try:
        result = target.run_script_file(str(ROOT / "sql" / "deploy_opus_update_boards.sql"))
        if not result.ok:
            raise SystemExit(result.summary())
    finally:
        target.close()
    return path


def source_row(n: int) -> tuple[Any, ...]:
    return (
        FIRST_ITEM + n,
        f"AAGHO25-{n:07d}",
        LABELS[n % len(LABELS)],
        1 + n % 5000,
        f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
        Decimal(n % 100_000) / 100,
    )


def make_source(target: SandboxTarget, rows: int) -> None:
    """dbo.BENCH_Source: the table the batches are staged from (one row per update)."""
    target.execute(
        "CREATE TABLE dbo.BENCH_Source (item_id BIGINT NOT NULL, [AAG ORDER NUMBER] NVARCHAR(50), "
        "[ORDER STATUS] NVARCHAR(50), [ORDER QTY] BIGINT, [CUSTOMER EX FACTORY DATE] DATE, "
        "[FINAL FOB (USD)] DECIMAL(18,4))"
    )
    insert = "INSERT INTO dbo.BENCH_Source VALUES (?, ?, ?, ?, ?, ?)"
    with target.transaction():
        for start in range(0, rows, 10_000):
            target.executemany(insert, [source_row(n) for n in range(start, min(rows, start + 10_000))])


def query(rows: int, offset: int = 0) -> str:
    return (
        f"SELECT {COLUMNS} FROM dbo.BENCH_Source "
        f"WHERE item_id >= {FIRST_ITEM + offset} AND item_id < {FIRST_ITEM + offset + rows}"
    )


@contextmanager
def streaming(target: SandboxTarget) -> Iterator[None]:
    """Stage row by row, as for a query the target cannot describe (a CASE, a temp table, ...)."""
    target.describe_query = lambda sql, params=(): None  # type: ignore[method-assign]
    try:
        yield
    finally:
        del target.describe_query


def stage(ops: UpdateOperations, sql: str, method: str) -> StageResult:
    """Stage from `sql` by `method`, and check that this is the method that ran."""
    with streaming(ops.target) if method == STREAMED else nullcontext():  # type: ignore[arg-type]
        result = ops.stage_updates_from_query(sql, "update_items", source_table="dbo.BENCH_Source")
    if result.method != method:
        raise SystemExit(f"expected {method} staging, got {result.method}: {result.streamed_because}")
    return result


def measure_staging(ops: UpdateOperations, rows: int, runs: int, method: str) -> float:
    best = 0.0
    for run in range(runs):
        started = time.perf_counter()
        result = stage(ops, query(rows), method)
        seconds = time.perf_counter() - started
        assert result.rows_staged == rows
        rate = rows / seconds
        best = max(best, rate)
        say(f"  {method}: stage {rows:,} rows from a query, run {run + 1}: {seconds:.2f}s = {rate:,.0f} rows/s")
    return best


def measure_validation(ops: UpdateOperations, target: SandboxTarget, rows: int, offset: int) -> tuple[str, int, float]:
    staged = ops.stage_updates_from_query(query(rows, offset), "update_items")
    before = target.statements
    started = time.perf_counter()
    result = ops.validate_staged_updates(staged.batch_id)
    seconds = time.perf_counter() - started
    statements = target.statements - before
    assert result.valid == rows, result
    say(
        f"  validate {rows:,} rows: {statements} statements ({result.statements} counted by UpdateOperations), "
        f"{seconds:.2f}s"
    )
    return staged.batch_id, statements, seconds


def measure_planning(board: BoardMetadata, target: SandboxTarget, rows: int, offset: int) -> float:
    """build_plan alone, on the updates a batch of `rows` source rows makes (read once, beforehand)."""
    names = ["AAG ORDER NUMBER", "ORDER STATUS", "ORDER QTY", "CUSTOMER EX FACTORY DATE", "FINAL FOB (USD)"]
    updates: list[PlannedUpdate] = []
    for chunk in target.stream(query(rows, offset)):
        for row in chunk:
            updates.append(PlannedUpdate(row[0], dict(zip(names, row[1:], strict=True)), len(updates) + 1))
    best = 0.0
    for run in range(3):
        started = time.perf_counter()
        plan = build_plan(board, updates, per_request=25, operation="update_items")
        seconds = time.perf_counter() - started
        best = max(best, rows / seconds)
        say(
            f"  build_plan {rows:,} updates, run {run + 1}: {seconds:.2f}s = {rows / seconds:,.0f} updates/s "
            f"({plan.request_count:,} requests)"
        )
    return best


def measure_processing(ops: UpdateOperations, batch_id: str, rows: int) -> float:
    started = time.perf_counter()
    result = ops.process_staged_updates(batch_id)
    seconds = time.perf_counter() - started
    say(
        f"  process_staged_updates {rows:,} rows (read, compare, plan, {result.audit_rows:,} audit rows): "
        f"{seconds:.2f}s = {rows / seconds:,.0f} updates/s"
    )
    return rows / seconds


#: Starts a command from a small Python process. Linux carries a process's peak RSS over into a
#: child it forks (getrusage's ru_maxrss survives fork and exec), so a child of this benchmark would
#: report this process's peak; a grandchild of a small process reports only its own.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def peak_rss_child(path: Path, rows: int, method: str) -> dict[str, Any]:
    """Stage `rows` rows in a fresh process, so nothing measured earlier counts towards its peak."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, __file__, "--child-stage", str(path), str(rows), method],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {rows:,}-row staging run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child_stage(path: str, rows: int, method: str) -> None:
    target = SandboxTarget(path)
    ops = UpdateOperations(target, big_board(), user_id="bench")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = stage(ops, query(rows), method)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(
        json.dumps(
            {
                "rows": result.rows_staged,
                "seconds": seconds,
                "peak_rss_mb": peak,
                "rss_before_mb": before,
                "vm_hwm_mb": _vm_hwm(),
            }
        )
    )


def _vm_hwm() -> float | None:
    """The kernel's own peak RSS of this process (Linux), as a cross-check of getrusage."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(row for row in status if row.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes; finishes in under a minute")
    parser.add_argument("--scale", type=int, metavar="N",
                        help="also run N rows end to end (bench/speed.py): adds the e2e_* keys and the ratios")
    parser.add_argument("--child-stage", nargs=3, metavar=("DB", "ROWS", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_stage:
        child_stage(args.child_stage[0], int(args.child_stage[1]), args.child_stage[2])
        return

    quick = args.quick
    stage_rows = 50_000 if quick else 200_000
    big = 20_000 if quick else 100_000
    million = 1_000_000
    figures: dict[str, Any] = {"quick": quick}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="opus-bench-") as tmp:
        say("building a deployed sandbox ...")
        path = build_sandbox(Path(tmp))
        target = SandboxTarget(path)
        board = big_board()
        say("  update_items max_batch_size raised to 2,000,000 for the benchmark (dataclasses.replace)")
        source_rows = max(stage_rows, 1_000 + big) if quick else million
        make_source(target, source_rows)
        say(f"  dbo.BENCH_Source: {source_rows:,} rows")
        ops = UpdateOperations(target, board, user_id="bench")

        say("staging (stage_updates_from_query, 5 business columns + item id):")
        figures["stage_rows_per_s"] = round(measure_staging(ops, stage_rows, 2 if quick else 3, SET_BASED))
        streamed_rows = stage_rows // 2 if quick else stage_rows
        figures["stage_rows_per_s_streamed"] = round(measure_staging(ops, streamed_rows, 2, STREAMED))

        say("validation (statements sent per validate_staged_updates call):")
        _, figures["validate_statements_1k"], _ = measure_validation(ops, target, 1_000, offset=0)
        batch, figures["validate_statements_100k"], seconds = measure_validation(ops, target, big, offset=1_000)
        figures["validate_100k_rows"] = big
        figures["validate_seconds_100k"] = round(seconds, 2)
        if quick:
            say(f"  --quick: validate_statements_100k was measured on {big:,} rows, not 100,000")

        say("planning:")
        figures["plan_updates_per_s"] = round(measure_planning(board, target, big, offset=1_000))
        figures["process_updates_per_s"] = round(measure_processing(ops, batch, big))
        target.close()

        if not quick:
            for method, suffix in ((SET_BASED, ""), (STREAMED, "_streamed")):
                say(f"memory: staging {million:,} rows from a query in a fresh process, {method} ...")
                child = peak_rss_child(path, million, method)
                figures[f"peak_rss_mb_1m{suffix}"] = round(child["peak_rss_mb"], 1)
                figures[f"stage_1m_rows_per_s{suffix}"] = round(child["rows"] / child["seconds"])
                hwm = f", VmHWM {child['vm_hwm_mb']:.1f} MB" if child.get("vm_hwm_mb") else ""
                say(
                    f"  {child['rows']:,} rows in {child['seconds']:.1f}s; peak RSS {child['peak_rss_mb']:.1f} MB "
                    f"({child['rss_before_mb']:.1f} MB before staging{hwm})"
                )

    if args.scale:
        import speed  # bench/speed.py, next to this file (its directory is on sys.path when run as a script)

        say(f"end to end: {args.scale:,} rows staged, validated and processed (bench/speed.py) ...")
        e2e = speed.measure(args.scale)
        figures.update(e2e)
    met = {
        "stage_rows_per_s": figures["stage_rows_per_s"] >= GOALS["stage_rows_per_s"],
        "plan_updates_per_s": figures["plan_updates_per_s"] >= GOALS["plan_updates_per_s"],
        "validate_statements_equal": figures["validate_statements_1k"] == figures["validate_statements_100k"],
    }
    for key in ("peak_rss_mb_1m", "peak_rss_mb_1m_streamed"):
        if key in figures:
            met[key] = figures[key] < GOALS["peak_rss_mb_1m"]
    if args.scale:
        met.update(speed.goals_met(figures))
    figures["goals_met"] = met
    figures["seconds"] = round(time.perf_counter() - started, 1)
    say("goals: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in met.items()))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
