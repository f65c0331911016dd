"""Phase 0, step 2: the live schema against expectations/schema (seed: "Schema validation: all objects
present and functional"). One test per expected object, plus the DBA's own validation script."""

from __future__ import annotations

import pytest

from pytest_opus.expectations import format_findings
from pytest_opus.options import OpusConfig
from pytest_opus.run import OpusRun
from pytest_opus.targets.base import Target

pytestmark = pytest.mark.schema


def test_schema_object(opus_run: OpusRun, opus_schema_object: str) -> None:
    result = opus_run.schema_results()[opus_schema_object]
    if not result.ok:
        pytest.fail(f"{result.summary()}\n{format_findings(result.findings)}", pytrace=False)


def test_dba_validation_script_passes(opus_target: Target, opus_run: OpusRun, opus_config: OpusConfig) -> None:
    opus_run.deployment()  # validate what this run deployed (or the target as it is)
    result = opus_target.run_script_file(str(opus_config.sql / "validate_ddl_changes.sql"))
    checks = result.result_sets[0].rows if result.result_sets else []
    failed = [f"{name}: {detail}" for name, passed, detail in checks if not passed]
    if not checks:
        pytest.fail(f"the validation script returned no checks: {result.summary()}", pytrace=False)
    if not result.ok or failed:
        pytest.fail("\n".join([result.summary(), *failed]), pytrace=False)
