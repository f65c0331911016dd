"""pytest hook implementations for pytest-opus; each hook delegates to a library module."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

import pytest

from . import fixtures, options, phases
from .run import OpusRun

_started = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opus", "OPUS Update Boards Phase 0")
    for opt in options.OPTIONS:
        env = f" (env {opt.env})" if opt.env else ""
        if opt.is_flag:
            group.addoption(opt.flag, action="store_true", default=False, dest=opt.dest, help=opt.help + env)
            parser.addini(opt.ini, opt.help, type="bool", default=False)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.dest, help=opt.help + env)
            parser.addini(opt.ini, opt.help, default=None)


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads its --html option
def pytest_configure(config: pytest.Config) -> None:
    for name in phases.PHASES:
        config.addinivalue_line("markers", f"{name}: {phases.MARKER_HELP[name]}")
    from .errors import ConfigError

    misread = options.split_path_option(list(config.invocation_params.args), Path(str(config.rootpath)),
                                        config.inipath, Path(str(config.invocation_params.dir)))
    if misread is not None:
        raise pytest.UsageError(misread)
    try:
        resolved = options.resolve(config.getoption, config.getini, Path(str(config.rootpath)))
    except ConfigError as error:
        if not config.option.help:
            raise pytest.UsageError(str(error)) from None
        resolved = options.OpusConfig()  # `pytest --help` works whatever the settings say
    workdir = Path(str(config.rootpath)) / ".opus" / "runs"
    from .criteria import Evidence  # only declared evidence keys can be written (a typo fails its test)

    config.stash[fixtures.run_key] = OpusRun(resolved, workdir, evidence=Evidence())
    if _runs_phase_suite(config):
        try:  # say so now, before any test runs, rather than fail when the report is written
            resolved.report.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise pytest.UsageError(
                f"cannot write the Phase 0 report to {resolved.report} ({error.strerror}); "
                "choose another place with --opus-report PATH") from None
    if _runs_phase_suite(config) and hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        # Every run writes its run report, self-contained so it can be mailed or archived; only a
        # complete Phase 0 run then becomes the sign-off report (copied at the end of the session).
        from .signoff import run_report_path

        config.option.htmlpath = str(run_report_path(resolved.report))
        config.option.self_contained_html = True
    config.pluginmanager.register(fixtures, "opus-fixtures")
    if config.pluginmanager.hasplugin("html"):
        from .report import html_hooks

        config.pluginmanager.register(html_hooks, "opus-html")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return config.stash[fixtures.run_key].config.header_lines()


def pytest_sessionstart(session: pytest.Session) -> None:
    run = session.config.stash[fixtures.run_key]
    if not run.config.persistent:  # a fresh disposable sandbox file for every run
        tmp = session.config._tmp_path_factory.mktemp("opus")  # type: ignore[attr-defined]
        run.workdir = Path(tmp)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "opus_schema_object" not in metafunc.fixturenames:
        return
    from .errors import OpusError

    run = metafunc.config.stash[fixtures.run_key]
    try:
        expectations = run.expectations()
    except OpusError as error:  # a bad YAML file stops the run before any database is touched
        raise pytest.UsageError(str(error)) from None
    from .catalog import Catalog
    from .expectations import compare

    labels = [r.label for r in compare(expectations, Catalog())]  # names only; no database yet
    metafunc.parametrize("opus_schema_object", labels, ids=[phases.safe_id(label) for label in labels],
                         scope="function")


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    """Sign off before pytest-html and junitxml write their files (they show the decision); after
    they have, a complete run's HTML report becomes the sign-off report."""
    config = session.config
    run = config.stash[fixtures.run_key]
    html = getattr(config.option, "htmlpath", None) if config.pluginmanager.hasplugin("html") else None
    if _runs_phase_suite(config) and any((run.ledger.passed, run.ledger.failures, run.ledger.skipped)):
        from .signoff import sign_off

        data = sign_off(run, Path(str(config.rootpath)), str(Path(html).resolve()) if html else None)
        complete = data["scenario"] != "incomplete"
        if complete and data["decision"] != "GO" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a NO-GO is a failed gate
        from .report.junit import record_decision

        record_decision(config, data)
    yield
    if (run.sign_off is not None and run.sign_off["sign_off"] and html and Path(html).is_file()
            and Path(html).resolve() != run.config.report.resolve()):
        import shutil

        try:
            shutil.copyfile(html, run.config.report)
        except OSError as error:  # the run report stays; say why the sign-off copy is missing
            run.sign_off["recording_error"] = f"cannot write {run.config.report}: {error.strerror}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    run = terminalreporter.config.stash[fixtures.run_key]
    if run._schema_results:
        terminalreporter.section("opus schema")
        for result in run._schema_results.values():
            terminalreporter.line(result.summary())
            for note in result.notes:  # a passing test prints nothing, so notes are shown here
                terminalreporter.line(f"  note: {note.text}")
    if run.sign_off is not None:
        from .report import terminal_lines

        terminalreporter.section("OPUS Phase 0 sign-off")
        for line in terminal_lines(run.sign_off):
            terminalreporter.line(line)
        terminalreporter.line(f"summary: {run.sign_off['json']}")
        if run.sign_off.get("index"):
            terminalreporter.line(f"history: {run.sign_off['index']}")
        report = run.sign_off["report"]
        terminalreporter.line(f"report: {report}" if report else "report: not written (pytest-html is disabled)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: phases.sort_key(_phase(item)))  # stable: file order within a phase


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        phase = _phase(item)
        if phase is not None:
            ledger = item.config.stash[fixtures.run_key].ledger
            ledger.deselected[phase] = ledger.deselected.get(phase, 0) + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    ledger = session.config.stash[fixtures.run_key].ledger
    for item in session.items:
        phase = _phase(item)
        if phase is not None:
            ledger.selected[phase] = ledger.selected.get(phase, 0) + 1


def pytest_runtest_setup(item: pytest.Item) -> None:
    phase = _phase(item)
    if phase is None:
        return
    item.stash[_started] = time.perf_counter()
    run = item.config.stash[fixtures.run_key]
    run.current_phase = phase
    reason = run.ledger.blocker(phase)
    if reason:
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    phase = _phase(item)
    if phase is None:
        return report
    if report.when == "call" and item.config.pluginmanager.hasplugin("opus-html"):
        from .report import html_hooks

        html_hooks.attach_extras(item, report)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        seconds = time.perf_counter() - item.stash.get(_started, time.perf_counter())
        item.config.stash[fixtures.run_key].ledger.record(phase, item.nodeid, report.outcome, seconds)
    elif report.when == "teardown" and report.failed:
        item.config.stash[fixtures.run_key].ledger.record(phase, item.nodeid, "failed", 0.0)
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(fixtures.run_key, None)
    if run is not None:
        run.close()


def _runs_phase_suite(config: pytest.Config) -> bool:
    """Only a run of the Phase 0 suite (tests/phase0, the default testpaths) writes the sign-off."""
    if config.option.help or getattr(config.option, "collectonly", False):
        return False
    return any("phase0" in Path(str(a).split("::")[0]).parts for a in config.args)


def _phase(item: pytest.Item) -> str | None:
    return phases.phase_of({m.name for m in item.iter_markers()})
