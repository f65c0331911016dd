"""End to end: a batch staged from a query, validated and processed in dry run; each stage's rate, the
peak memory, and each stage side by side with the plain SQL it stands on.

    python bench/speed.py [--quick | --rows N]
    python bench/speed.py --deploy-scaling [--groups N]

A benchmark, not a test: it prints figures and ends with one line of JSON; nothing fails when a goal
is missed (issue 14: 1,000,000 rows in under 60 s and 300 MB; validation and processing at least
half as fast as their plain SQL, a ratio of 0.5). `--quick` runs 50,000 rows; the default is
1,000,000. The batch runs in a fresh process started through a small launcher (see bench/run.py:
Linux carries a parent's peak RSS over into a forked child), so the peak is the batch's own.

The plain-SQL floor of each stage runs through Python's sqlite3 on the same file, in the same run,
inside a transaction that is rolled back afterwards:
- staging: not repeated here; bench/run.py measures it (within a few percent of a raw executemany);
- validation: one UPDATE setting every row of the batch VALID with its `validation_errors`, and one
  SELECT counting the batch's rows by status (what validation must at least write and read), run on
  the rows as staged, just before validation (in the batch's own process, on a second connection, rolled
  back): the same rows in the same state as validation meets them. (Run after processing, as before,
  it rewrote rows already holding those values, which costs SQLite about a third less);
- processing: one SELECT of the batch's VALID rows joined to the snapshot, each row's JSON decoded,
  and an executemany INSERT of as many audit rows as processing wrote.
The ratios are plain seconds over pytest-opus seconds: 1.0 means as fast as the plain SQL.

`--deploy-scaling` measures instead how deploy time grows with the schema (issue 14: linear in the number
of objects): one script of N groups, each a table (primary key, default), an index on it, a view and a
procedure that read it, and one row inserted, run on a new sandbox file at 1x, 10x and 100x N groups
(N = 10 unless `--groups`). It prints the seconds and milliseconds per group at each size, and
`deploy_growth`: the time per group at 100x over the time per group at 1x (1.0 = linear; the square of
the schema would make it about 100).

`--startup` measures the main run against pytest's own start-up (issue 14: `pytest --opus-deploy` at most
2.5 times `pytest --co -q` in an empty directory, and a first run on a new machine within twice a cached
one). It runs both side by side, alternating, `--rounds` times (default 5), in this project's directory
with the cache directory as it is, and prints the median of each and `deploy_over_collect`; then one run
with an empty cache directory (a new machine: the baseline template built, every statement translated)
over the median cached run: `first_over_cached`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run as bench  # noqa: E402  (bench/run.py: the sandbox, the source table and the board)

from pytest_opus.targets.sandbox import SandboxTarget  # noqa: E402
from pytest_opus.updates import UpdateOperations  # noqa: E402

GOALS = {"e2e_seconds": 60.0, "e2e_peak_rss_mb": 300.0, "validate_over_plain_sql": 0.5, "process_over_plain_sql": 0.5}
STAGING = "STG_MON_CustMasterSchedule"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def child(path: str, rows: int) -> dict[str, Any]:
    """Stage, validate and process `rows` rows on the sandbox file at `path`; figures as a dict."""
    target = SandboxTarget(path)
    ops = UpdateOperations(target, bench.big_board(), user_id="bench")
    figures: dict[str, Any] = {"rows": rows}
    started = time.perf_counter()
    staged = ops.stage_updates_from_query(bench.query(rows), "update_items", source_table="dbo.BENCH_Source")
    figures["stage_seconds"] = time.perf_counter() - started
    assert staged.rows_staged == rows, staged
    figures["stage_method"] = staged.method
    figures["validate_plain_sql_seconds"] = plain_validation(path, staged.batch_id)
    mark = time.perf_counter()
    validated = ops.validate_staged_updates(staged.batch_id)
    figures["validate_seconds"] = time.perf_counter() - mark
    assert validated.valid == rows, validated
    mark = time.perf_counter()
    processed = ops.process_staged_updates(staged.batch_id)
    figures["process_seconds"] = time.perf_counter() - mark
    # the three stages: the plain SQL measured between them is not part of the batch's time
    figures["e2e_seconds"] = time.perf_counter() - started - figures["validate_plain_sql_seconds"]
    figures["audit_rows"] = processed.audit_rows
    figures["mutations"] = processed.plan.mutation_count
    figures["batch_id"] = staged.batch_id
    figures["e2e_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    target.close()
    return figures


def plain_validation(path: str | Path, batch: str) -> float:
    """Seconds of the plain SQL validation stands on, on the batch as staged, rolled back afterwards."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        mark = time.perf_counter()
        db.execute(
            f"UPDATE {STAGING} SET validation_status = 'VALID', validation_errors = '[]' WHERE update_batch_id = ?",
            [batch],
        )
        db.execute(f"SELECT validation_status, COUNT(*) FROM {STAGING} WHERE update_batch_id = ? "
                   "GROUP BY validation_status", [batch]).fetchall()
        seconds = time.perf_counter() - mark
        db.execute("ROLLBACK")
    finally:
        db.close()
    return seconds


def plain(path: Path, figures: dict[str, Any]) -> dict[str, float]:
    """The plain-SQL floor of each stage on the same file, rolled back afterwards (validation's was
    measured in the batch's process, before validation: see the module docstring)."""
    db = sqlite3.connect(path, isolation_level=None)
    batch = figures["batch_id"]
    seconds: dict[str, float] = {"validate": figures["validate_plain_sql_seconds"]}
    try:
        db.execute("BEGIN")
        mark = time.perf_counter()
        cursor = db.execute(
            f"SELECT t.stg_id, t.stg_monday_item_id, t.update_fields, s.[AAG ORDER NUMBER], s.[ORDER STATUS], "
            f"s.[ORDER QTY] FROM {STAGING} AS t LEFT JOIN MON_CustMasterSchedule AS s ON s.[Item ID] = "
            "t.stg_monday_item_id WHERE t.update_batch_id = ? AND t.validation_status = 'VALID' ORDER BY t.stg_id",
            [batch],
        )
        per_row = max(1, figures["audit_rows"] // max(1, figures["rows"]))
        insert = (
            "INSERT INTO MON_UpdateAudit (batch_id, update_operation, monday_item_id, monday_board_id, column_id, "
            "old_value, new_value, user_id, source_system) VALUES (?, 'UPDATE_ITEMS', ?, 1, ?, NULL, ?, 'bench', "
            "'OPUS_DRY_RUN')"
        )
        while chunk := cursor.fetchmany(5000):
            audit = []
            for row in chunk:
                fields = json.loads(row[2])
                for name in list(fields)[:per_row]:
                    audit.append((batch, row[1], name, str(fields[name])))
            db.executemany(insert, audit)
        seconds["process"] = time.perf_counter() - mark
        db.execute("ROLLBACK")
    finally:
        db.close()
    return seconds


def deploy_script(groups: int) -> str:
    """A deploy script of `groups` groups of objects (see the module's docstring)."""
    parts = []
    for i in range(groups):
        parts.append(
            f"CREATE TABLE dbo.BENCH_T{i} (id INT NOT NULL PRIMARY KEY, name NVARCHAR(50) NULL, "
            f"qty DECIMAL(10,2) NOT NULL CONSTRAINT DF_BENCH_T{i}_qty DEFAULT 0)\nGO\n"
            f"CREATE INDEX IX_BENCH_T{i}_name ON dbo.BENCH_T{i} (name)\nGO\n"
            f"CREATE VIEW dbo.BENCH_V{i} AS SELECT id, name FROM dbo.BENCH_T{i} WHERE qty > 0\nGO\n"
            f"CREATE PROCEDURE dbo.BENCH_P{i} @id INT AS SELECT name FROM dbo.BENCH_T{i} WHERE id = @id\nGO\n"
            f"INSERT INTO dbo.BENCH_T{i} (id, name, qty) VALUES (1, N'a', 1.5)\nGO\n"
        )
    return "".join(parts)


def deploy_scaling(base: int) -> dict[str, Any]:
    """Seconds to deploy 1x, 10x and 100x `base` groups of objects, each on a new sandbox file."""
    result: dict[str, Any] = {"deploy_groups_1x": base, "deploy_objects_per_group": 4}
    per_group: dict[str, float] = {}
    for factor in (1, 10, 100):
        groups = base * factor
        text = deploy_script(groups)
        with tempfile.TemporaryDirectory(prefix="opus-deploy-") as tmp:
            target = SandboxTarget(str(Path(tmp) / "deploy.sqlite"))
            started = time.perf_counter()
            outcome = target.execute_script(text, source="deploy_scaling.sql")
            seconds = time.perf_counter() - started
            target.close()
        if not outcome.ok:
            raise SystemExit(f"the {groups:,}-group deploy failed: {outcome.summary()}")
        per_group[f"{factor}x"] = seconds / groups
        result[f"deploy_seconds_{factor}x"] = round(seconds, 2)
        result[f"deploy_ms_per_group_{factor}x"] = round(1000 * seconds / groups, 2)
        say(f"  {factor:>3}x: {groups:,} groups ({4 * groups:,} objects, {groups:,} rows) in {seconds:.2f}s = "
            f"{1000 * seconds / groups:.1f} ms per group")
    result["deploy_growth"] = round(per_group["100x"] / per_group["1x"], 2)
    return result


_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def measure(rows: int) -> dict[str, Any]:
    """Build a sandbox with `rows` source rows, run the batch in a fresh process, then the plain SQL."""
    with tempfile.TemporaryDirectory(prefix="opus-speed-") as tmp:
        say("building a deployed sandbox ...")
        path = bench.build_sandbox(Path(tmp))
        target = SandboxTarget(path)
        bench.make_source(target, rows)
        target.close()
        say(f"  dbo.BENCH_Source: {rows:,} rows; staging, validating and processing them in a fresh process ...")
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, sys.executable, __file__, "--child", str(path), str(rows)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the {rows:,}-row run failed:\n{done.stderr}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        say("  the same work as plain SQL through sqlite3, side by side ...")
        floor = plain(path, figures)
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, Any] = {
        "e2e_rows": rows,
        "e2e_seconds": round(figures["e2e_seconds"], 1),
        "e2e_peak_rss_mb": round(figures["e2e_peak_rss_mb"], 1),
        "stage_method": figures["stage_method"],
        "audit_rows": figures["audit_rows"],
    }
    for stage in ("stage", "validate", "process"):
        seconds = figures[f"{stage}_seconds"]
        result[f"{stage}_seconds"] = round(seconds, 2)
        result[f"{stage}_rows_per_s"] = round(rows / seconds)
        if stage in floor:
            result[f"{stage}_plain_sql_seconds"] = round(floor[stage], 2)
            result[f"{stage}_over_plain_sql"] = round(floor[stage] / seconds, 3)
    return result


def goals_met(result: dict[str, Any]) -> dict[str, bool]:
    met = {
        "e2e_seconds": result["e2e_seconds"] < GOALS["e2e_seconds"],
        "e2e_peak_rss_mb": result["e2e_peak_rss_mb"] < GOALS["e2e_peak_rss_mb"],
    }
    for key in ("validate_over_plain_sql", "process_over_plain_sql"):
        if key in result:
            met[key] = result[key] >= GOALS[key]
    if result["e2e_rows"] < 1_000_000:
        met = {f"{k} (at {result['e2e_rows']:,} rows)": v for k, v in met.items()}
    return met


def _timed(command: list[str], cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def startup(rounds: int) -> dict[str, Any]:
    """`pytest --opus-deploy` in this project against `pytest --co -q` in an empty directory, warm and cold."""
    project = HERE.parent
    deploy = [sys.executable, "-m", "pytest", "--opus-deploy", "-q", "-p", "no:cacheprovider"]
    collect = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
    deploys: list[float] = []
    collects: list[float] = []
    with tempfile.TemporaryDirectory(prefix="opus-empty-") as empty:
        _timed(deploy, project)  # the cache directory warmed (template, translations) as a user's is
        for n in range(rounds):
            collects.append(_timed(collect, Path(empty), ok=(5,)))  # 5: no tests, as expected
            deploys.append(_timed(deploy, project))
            say(f"  round {n + 1}: pytest --co -q {collects[-1]:.2f}s, pytest --opus-deploy {deploys[-1]:.2f}s")
    with tempfile.TemporaryDirectory(prefix="opus-new-machine-") as cache:
        first = _timed(deploy, project, {**os.environ, "OPUS_CACHE_DIR": cache})
        say(f"  with an empty cache directory (a new machine): {first:.2f}s")
    deploy_median, collect_median = statistics.median(deploys), statistics.median(collects)
    return {
        "startup_rounds": rounds,
        "deploy_seconds": round(deploy_median, 2),
        "collect_only_seconds": round(collect_median, 2),
        "deploy_over_collect": round(deploy_median / collect_median, 2),
        "first_run_seconds": round(first, 2),
        "first_over_cached": round(first / deploy_median, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="50,000 rows instead of 1,000,000")
    size.add_argument("--rows", type=int, help="the batch size (default 1,000,000)")
    size.add_argument("--deploy-scaling", action="store_true",
                      help="deploy time at 1x, 10x and 100x a schema of --groups groups of objects instead")
    size.add_argument("--startup", action="store_true",
                      help="pytest --opus-deploy against pytest --co -q, warm and with an empty cache, instead")
    parser.add_argument("--groups", type=int, default=10, help="the 1x size of --deploy-scaling (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="the rounds of --startup (default 5)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    if args.deploy_scaling:
        say(f"deploying 1x, 10x and 100x {args.groups:,} groups of objects, each on a new sandbox file ...")
        scaling = deploy_scaling(args.groups)
        say(f"  time per group at 100x over 1x: {scaling['deploy_growth']} (1.0 = linear)")
        print(json.dumps(scaling), flush=True)
        return
    if args.startup:
        say(f"pytest --opus-deploy against pytest --co -q in an empty directory, {args.rounds} rounds ...")
        figures = startup(args.rounds)
        say(f"  medians: {figures['deploy_seconds']}s over {figures['collect_only_seconds']}s = "
            f"{figures['deploy_over_collect']} (goal 2.5); first run {figures['first_over_cached']} times a cached "
            "one (goal 2)")
        figures["goals_met"] = {"deploy_over_collect": figures["deploy_over_collect"] <= 2.5,
                                "first_over_cached": figures["first_over_cached"] <= 2.0}
        print(json.dumps(figures), flush=True)
        return
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    result = measure(rows)
    for stage in ("stage", "validate", "process"):
        ratio = result.get(f"{stage}_over_plain_sql")
        versus = f"; plain SQL {result[f'{stage}_plain_sql_seconds']:.2f}s, ratio {ratio}" if ratio is not None else ""
        say(f"  {stage}: {result[f'{stage}_seconds']:.2f}s = {result[f'{stage}_rows_per_s']:,} rows/s{versus}")
    say(f"  end to end {rows:,} rows: {result['e2e_seconds']}s, peak RSS {result['e2e_peak_rss_mb']} MB")
    result["goals_met"] = goals_met(result)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
