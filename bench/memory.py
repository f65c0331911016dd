"""Peak memory of large values and large results (issue 13): a script that prints numbers, not a test.

    python bench/memory.py [--limit-mb 300]

Each scenario runs in a process of its own, which reports its own peak (its maximum resident set
size, as the kernel counts it), so one scenario's peak is never another's. The goal for every scenario is a peak
under 300 MB:

- `value-statement`: one 100 MB NVARCHAR(MAX) value written through `Target.execute` with a
  parameter and read back by length (the sandbox checks the value against the column's type);
- `value-staged`: one 100 MB value staged as an update (NOTES) by UpdateOperations: refused before it
  is copied (longer than the 65,536 characters monday could ever take), nothing staged;
- `rows-one-select`: `opus-sql` running one SELECT that returns 300,000 rows, output to /dev/null;
- `rows-go-1000`: `opus-sql` running a 300-row SELECT with `GO 1000` (300,000 rows in 1,000 batches).

A scenario that needs more than --cap-mb of address space (default 3 GB) is stopped there and
reported as FAILED with its MemoryError, rather than allowed to exhaust the machine.

The last line is JSON: {scenario: {"peak_mb": ..., "seconds": ..., "ok": ...}}. The exit status is 1
when a scenario fails or goes over the limit, so the numbers can gate a pipeline if one wants.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runs from a checkout even where the package is not installed

VALUE_CHARACTERS = 100 * 2**20  # 100 MB of ASCII text
ROWS = 300_000
PYPROJECT = '[project]\nname = "opus-memory-bench"\nversion = "0"\n'


def _project(where: Path) -> Path:
    """A project directory with sql/ and a deployed `dms` sandbox (built by opus-sql itself)."""
    import shutil

    from pytest_opus import cli

    shutil.copytree(ROOT / "sql", where / "sql")
    (where / "pyproject.toml").write_text(PYPROJECT)
    os.chdir(where)
    with open(os.devnull, "w") as sink:
        saved = sys.stdout
        sys.stdout = sink
        try:
            status = cli.main(["--script", "sql/deploy_opus_update_boards.sql", "--database", "dms", "--quiet"])
        finally:
            sys.stdout = saved
    if status != 0:
        raise SystemExit(f"could not deploy the sandbox (opus-sql exit {status})")
    return where


def value_statement(where: Path) -> str:
    from pytest_opus.targets.sandbox import SandboxTarget

    project = _project(where)
    value = "x" * VALUE_CHARACTERS
    with SandboxTarget(project / ".opus" / "dms.sqlite") as target:
        target.execute("CREATE TABLE dbo.BENCH_Big (id INT NOT NULL, body NVARCHAR(MAX) NULL)")
        target.execute("INSERT INTO dbo.BENCH_Big (id, body) VALUES (?, ?)", (1, value))
        del value
        length = target.execute("SELECT LEN(body) FROM dbo.BENCH_Big WHERE id = 1")[0][0]
    return f"wrote and measured one value of {length:,} characters"


def value_staged(where: Path) -> str:
    from pytest_opus.targets.sandbox import SandboxTarget
    from pytest_opus.updates import UpdateOperations, load_board
    from pytest_opus.updates.staging import StagingError

    project = _project(where)
    board = load_board(ROOT / "expectations" / "boards" / "customer_master_schedule.yaml")
    with SandboxTarget(project / ".opus" / "dms.sqlite") as target:
        item, number = target.execute(
            "SELECT TOP 1 [Item ID], [AAG ORDER NUMBER] FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]")[0]
        ops = UpdateOperations(target, board, user_id="bench")
        try:
            staged = ops.stage_updates(
                [{"item_id": item, "AAG ORDER NUMBER": number, "NOTES": "x" * VALUE_CHARACTERS}],
                "update_items", source_table="bench")
        except StagingError as refused:  # the expected answer: longer than monday could ever take
            left = target.execute("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE source_table = 'bench'")
            return f"refused at staging ({str(refused)[:90]}...); rows staged: {left[0][0]}"
        result = ops.validate_staged_updates(staged.batch_id)
    return (f"staged 1 update with a {VALUE_CHARACTERS:,}-character value; valid {result.valid}, "
            f"invalid {result.invalid}")


def _opus_sql(where: Path, text: str) -> str:
    project = _project(where)
    (project / "bench.sql").write_text(text)
    from pytest_opus import cli

    with open(os.devnull, "w") as sink:
        saved = sys.stdout
        sys.stdout = sink
        try:
            status = cli.main(["--script", "bench.sql", "--database", "dms"])
        finally:
            sys.stdout = saved
    if status != 0:
        raise SystemExit(f"opus-sql exit {status}")
    return "opus-sql printed every row (to /dev/null)"


def rows_one_select(where: Path) -> str:
    # 300 items x 1,000 numbers from a cross join of the sample tables: one result set of 300,000 rows.
    return _opus_sql(where, (
        "SELECT TOP 300000 s.[Item ID], s.[AAG ORDER NUMBER], n.stg_id\n"
        "FROM dbo.MON_CustMasterSchedule AS s CROSS JOIN dbo.STG_MON_CustMasterSchedule_Subitems AS n\n"
    ))


def rows_go_1000(where: Path) -> str:
    return _opus_sql(where, "SELECT TOP 300 [Item ID], [AAG ORDER NUMBER] FROM dbo.MON_CustMasterSchedule\nGO 1000\n")


SCENARIOS = {
    "value-statement": value_statement,
    "value-staged": value_staged,
    "rows-one-select": rows_one_select,
    "rows-go-1000": rows_go_1000,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mb", type=float, default=300.0, help="the goal for each peak (default 300)")
    parser.add_argument("--cap-mb", type=float, default=3072.0,
                        help="address space each scenario may take before it is stopped with MemoryError, so a "
                        "runaway scenario cannot exhaust a shared machine (default 3072)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)  # the child's part
    options = parser.parse_args()

    if options.scenario:  # in the child: run one scenario in a scratch directory
        cap = int(options.cap_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        with tempfile.TemporaryDirectory(prefix="opus-memory-") as scratch:
            os.environ["OPUS_CACHE_DIR"] = os.environ.get("OPUS_CACHE_DIR") or str(Path(scratch) / "cache")
            print(SCENARIOS[options.scenario](Path(scratch)))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        print(json.dumps({"peak_mb": peak / 1024 if sys.platform != "darwin" else peak / 2**20}))
        return 0

    figures: dict[str, dict[str, object]] = {}
    failed = False
    for name in SCENARIOS:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--scenario", name, "--cap-mb", str(options.cap_mb)],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        lines = done.stdout.strip().splitlines()
        peak_mb = json.loads(lines[-1])["peak_mb"] if done.returncode == 0 and lines else None
        ok = peak_mb is not None and peak_mb < options.limit_mb
        failed = failed or not ok
        note = lines[0] if peak_mb is not None else (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        shown = f"{peak_mb:7.1f} MB" if peak_mb is not None else "      ? MB"
        verdict = "ok" if ok else "FAILED" if peak_mb is None else f"OVER {options.limit_mb:g} MB"
        print(f"{name:16} peak {shown}  {seconds:6.1f} s  {verdict}: {note}", flush=True)
        figures[name] = {"peak_mb": None if peak_mb is None else round(peak_mb, 1), "seconds": round(seconds, 1),
                         "ok": ok}
    print(json.dumps(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
