"""The opus_ fixtures the Phase 0 suite uses; each is a thin view of the run's shared state."""

from __future__ import annotations

import pytest

from .catalog import Catalog
from .options import OpusConfig
from .run import Deployment, OpusRun
from .targets.base import Target

run_key = pytest.StashKey[OpusRun]()


def _run(request: pytest.FixtureRequest) -> OpusRun:
    return request.config.stash[run_key]


@pytest.fixture(scope="session")
def opus_config(request: pytest.FixtureRequest) -> OpusConfig:
    """The resolved --opus-* settings of this run (command line, then environment, then ini)."""
    return _run(request).config


@pytest.fixture(scope="session")
def opus_run(request: pytest.FixtureRequest) -> OpusRun:
    """The run's shared state: target, deployment, phase results."""
    return _run(request)


@pytest.fixture(scope="session")
def opus_target(request: pytest.FixtureRequest) -> Target:
    """The database under test: a disposable sandbox by default, or --opus-dsn / --opus-db.

    Opened on first use, after the run's deploy step (so `pytest -m workflow` alone still gets a
    deployed disposable sandbox); a connection problem fails the tests that need it, with the reason.
    """
    from .errors import OpusError

    run = _run(request)
    try:
        target = run.target()
        run.deployment()
    except OpusError as error:
        pytest.fail(f"cannot open the target: {error}", pytrace=False)
    return target


@pytest.fixture(scope="session")
def opus_target_before_deploy(request: pytest.FixtureRequest) -> Target:
    """The database under test, opened without deploying anything (for the pre-flight phase).

    A connection problem fails the tests that need it, with the reason.
    """
    from .errors import OpusError

    try:
        return _run(request).target()
    except OpusError as error:
        pytest.fail(f"cannot open the target: {error}", pytrace=False)


@pytest.fixture(scope="session")
def opus_deployment(request: pytest.FixtureRequest, opus_target: Target) -> Deployment:
    """The deploy step of this run (done once): catalog before and after, and the script's result.

    A disposable sandbox is always deployed. A persistent target is deployed only with --opus-deploy;
    otherwise `result` is None and the catalog is validated as it is.
    """
    return _run(request).deployment()


@pytest.fixture(scope="session")
def opus_catalog(opus_target: Target, opus_deployment: Deployment) -> Catalog:
    """The target's catalog after the deploy step (read in a fixed number of queries)."""
    return opus_deployment.after
