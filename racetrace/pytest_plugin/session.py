"""The plugin at work: trace the session, check each test as it ends, report (pytest_summary).

Registered by `pytest_plugin` only when tracing is asked for (`--racetrace`, a `racetrace`
marker on a collected test, or `--racetrace-report`). Three roles:

- a plain pytest process, or an xdist worker: records runs (its own trace directory; a worker
  uses `DIR/<worker id>`), marks where each test phase begins and ends, and after the call and
  the teardown of each test analyzes the test's runs (pytest_attribution, pytest_verdict). A
  finding fails the call (or errors the teardown) with the race-detector report, or, in warn
  mode, rides along with the report as a `racetrace` section;
- the xdist controller: runs no test, so traces nothing; it empties the directory before the
  workers start, gathers what the workers flagged, and writes the session's JSON report over
  every worker's trace;
- all of them: a `racetrace` section in the terminal summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import Any

import pytest

from .settings import FAIL, OFF, Settings, SettingsError, TestSettings, settings_for_test
from .summary import SECTION, Flagged, RacetraceFailure, summarize, write_report

MAIN, WORKER, CONTROLLER = "main", "worker", "controller"


def _usage(message: str) -> pytest.UsageError:
    return pytest.UsageError(f"racetrace: {message}")


def _threshold(text: str | None) -> int | None:
    """`--racetrace-blocking-threshold` in ns (None: the analyzer's default)."""
    if text is None:
        return None
    from racetrace.analyzers.findings.timefmt import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _usage(f"--racetrace-blocking-threshold: {exc}") from None


class RacetraceSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        from racetrace.analyzers.findings.suppressions import SuppressionError, Suppressions
        from racetrace.analyzers.outputs.failon import FailOn, FailOnError
        from racetrace.tracer.targets import Target, TargetError

        self.config = config
        self.settings = settings
        try:
            self.fail_on = FailOn.parse(settings.fail_on)
        except FailOnError as exc:
            raise _usage(str(exc).replace("--fail-on", "--racetrace-fail-on", 1)) from None
        self.blocking_threshold_ns = _threshold(settings.blocking_threshold)
        try:
            self.suppressions = (Suppressions.from_file(settings.suppressions)
                                 if settings.suppressions else Suppressions.from_env())
        except SuppressionError as exc:
            raise _usage(f"--racetrace-suppressions: {exc}") from None
        for spec in settings.targets:
            try:
                Target.parse(spec)
            except TargetError as exc:
                raise _usage(f"--racetrace-target: {exc}") from None
        self.role = MAIN
        self.directory = settings.directory
        self.active = False  # recording in this process
        self.tracing: Any = None
        self.tail: Any = None
        self.attribution: Any = None
        self._tests: dict[str, TestSettings] = {}
        self._rules: dict[tuple[str, ...], Any] = {}
        self.flagged: list[Flagged] = []
        self.worker_dirs: list[str] = []
        self.problems: list[str] = []
        self.unchecked: list[str] = []  # tests whose check failed inside racetrace
        self._seen: set[tuple[str, str]] = set()  # (test, property) already in `flagged`
        self._warnings: dict[str, list[str]] = {}  # test -> reports of its warnings, for junit
        self.report_written: str | None = None

    # -- roles and switching on ----------------------------------------------------------------
    def settle_role(self) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):
            self.role = CONTROLLER
        elif hasattr(self.config, "workerinput"):
            self.role = WORKER
            worker = self.config.workerinput["workerid"]  # type: ignore[attr-defined]
            self.directory = os.path.join(self.settings.directory, worker)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.settle_role()
        if self.config.option.collectonly:
            return
        if self.role == CONTROLLER:
            if self.settings.enabled and not _recording_into(self.directory):
                # Before the workers start (xdist starts them last): they write below it.
                from .tail import erase

                erase(self.directory, recursive=True)
            return
        if self.settings.enabled:
            self.activate()

    def activate(self) -> None:
        """Start recording in this process (idempotent)."""
        if self.active or self.role == CONTROLLER or self.config.option.collectonly:
            return
        from .attribution import Attribution
        from .tail import TraceTail
        from .tracing import Tracing

        self.tracing = Tracing(self.directory, self.settings.targets)
        # A worker empties only its own folder; the controller emptied the whole tree.
        self.tracing.start(erase_recursive=self.role == MAIN)
        self.tail = TraceTail(self.directory, own_pid=os.getpid())
        self.attribution = Attribution()
        self.active = True
        if self.role == WORKER:
            self.config.workeroutput[SECTION] = {"dir": self.directory}  # type: ignore[attr-defined]

    # -- each test -------------------------------------------------------------------------
    def _settings_of(self, item: pytest.Item) -> tuple[TestSettings, str | None]:
        """The test's settings, and the marker's error if it has one (the test is then off)."""
        try:
            settings = settings_for_test(self.settings, list(item.iter_markers(SECTION)))
            self._check_marker(settings)
        except SettingsError as exc:
            self._tests[item.nodeid] = TestSettings(OFF)
            return self._tests[item.nodeid], f"racetrace: {item.nodeid}: {exc}"
        self._tests[item.nodeid] = settings
        return settings, None

    def _check_marker(self, settings: TestSettings) -> None:
        """What only the analyzers and the tracer can check: rules, fail-on, targets."""
        from racetrace.analyzers.findings.suppressions import SuppressionError
        from racetrace.analyzers.outputs.failon import FailOnError
        from racetrace.tracer.targets import Target, TargetError

        try:
            self._suppressions(settings.suppress)
            self._fail_on(settings.fail_on)
            for spec in settings.targets:
                Target.parse(spec)
        except SuppressionError as exc:
            raise SettingsError(f"@pytest.mark.racetrace: {exc}") from None
        except FailOnError as exc:
            message = str(exc).replace("--fail-on", "fail_on", 1)
            raise SettingsError(f"@pytest.mark.racetrace: {message}") from None
        except TargetError as exc:
            raise SettingsError(f"@pytest.mark.racetrace: targets: {exc}") from None

    def _phase(self, item: pytest.Item, phase: str) -> Generator[None, Any, Any]:
        if not self.active:
            return (yield)
        self.attribution.begin_phase(item.nodeid, phase)
        error = None
        try:
            if phase == "setup":
                settings, error = self._settings_of(item)
                if settings.targets and settings.mode != OFF:
                    self.tracing.add_targets(settings.targets)
            result = yield
        finally:
            self.attribution.end_phase()
        if error is not None:
            # After the setup proper, not instead of it: the teardown expects it to have run.
            pytest.fail(error, pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase(item, "teardown"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if self.active and call.when in ("call", "teardown"):
            try:
                self._check(item, report, final=call.when == "teardown")
            except Exception as exc:  # a racetrace bug must not take the test session down
                # Said in the summary, with the count, not amid the progress dots.
                self.unchecked.append(f"{item.nodeid} ({type(exc).__name__}: {exc})")
        if call.when == "teardown":
            self._tests.pop(item.nodeid, None)
        return report

    def _check(self, item: pytest.Item, report: pytest.TestReport, *, final: bool) -> None:
        from .verdict import analyze_snapshot, judge

        attribution = self.attribution
        found = self.tail.poll()
        attribution.add(found.runs, found.ends)
        settings = self._tests.get(item.nodeid) or TestSettings(OFF)
        if settings.mode == OFF or attribution.nodeid != item.nodeid:
            return
        if not attribution.current and not attribution.carried:
            return
        analysis = analyze_snapshot(attribution, self.tail.processes,
                                    suppressions=self._suppressions(settings.suppress),
                                    blocking_threshold_ns=self.blocking_threshold_ns)
        verdict = judge(attribution, analysis, fail_on=self._fail_on(settings.fail_on), final=final,
                        previously_seen=attribution.checked)
        attribution.checked = {r.run_id for r in analysis.trace.runs}
        if verdict is None:
            return
        count = len(verdict.findings)
        line = verdict.summary if count == 1 else f"{count} findings: {verdict.summary}"
        failing = settings.mode == FAIL
        text = verdict.text
        if failing:
            text += self._picture(item.nodeid, report.when or "call", analysis, verdict.findings)
        if failing and report.passed:
            report.outcome = "failed"
            report.longrepr = RacetraceFailure(  # type: ignore[assignment]
                text, f"racetrace: {line}", item.nodeid)
        else:
            report.sections.append((SECTION, text))
        verb = "failed" if failing else "warned"
        entry = (SECTION, f"{verb} ({report.when}): {line}")
        report.user_properties.append(entry)
        if not failing:
            # junitxml writes a test's properties from its teardown report, which copies the
            # item's: a warning found after the call phase reaches the XML that way.
            item.user_properties.append(entry)

    def _picture(self, nodeid: str, when: str, analysis: Any, findings: Any) -> str:
        """The failing test's timeline beside the report, when the report names a folder: a
        line for the failure's text saying where, or nothing."""
        from .picture import names_folder, write_picture

        folder = self.settings.report
        if folder is None or not names_folder(folder):
            return ""
        try:
            path = write_picture(folder, nodeid, when, analysis, findings)
        except Exception as exc:  # the picture is a courtesy: the verdict stands without it
            self._problem(f"cannot draw the timeline of {nodeid}: {type(exc).__name__}: {exc}")
            return ""
        return f"\nracetrace: the timeline: {path}"

    def _suppressions(self, extra: tuple[str, ...]) -> Any:
        if not extra:
            return self.suppressions
        rules = self._rules.get(extra)
        if rules is None:
            from racetrace.analyzers.findings.suppressions import Suppressions

            marker_rules = Suppressions.parse("\n".join(extra), "suppress")
            rules = self._rules[extra] = Suppressions(self.suppressions.rules + marker_rules.rules)
        return rules

    def _fail_on(self, spec: str) -> Any:
        if spec == self.settings.fail_on:
            return self.fail_on
        from racetrace.analyzers.outputs.failon import FailOn

        return FailOn.parse(spec)

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        sys.stderr.write(f"racetrace: {message}\n")

    # -- what every role sees ----------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before junitxml closes the test's XML element
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self._warnings_to_junit(report)
        for name, value in report.user_properties:
            if name != SECTION or (report.nodeid, str(value)) in self._seen:
                continue
            self._seen.add((report.nodeid, str(value)))
            text = next((c for n, c in report.sections if n == SECTION), None)
            if text is not None and not str(value).startswith("failed"):
                self._warnings.setdefault(report.nodeid, []).append(text)
            entry = Flagged(report.nodeid, str(value), text)
            self.flagged.append(entry)
            if (self.role == CONTROLLER and entry.failed and report.failed
                    and isinstance(report.longrepr, str)):
                # From an xdist worker, our failure arrives as its text: give it back its
                # one-line message for the short summary.
                message = "racetrace: " + entry.line.split(": ", 1)[-1]
                report.longrepr = RacetraceFailure(  # type: ignore[assignment]
                    report.longrepr, message, report.nodeid)

    def _warnings_to_junit(self, report: pytest.TestReport) -> None:
        """A warned test's reports as its `system-out` in `--junitxml`, whatever `junit_logging`
        says: CI systems show a passing test's XML, never pytest's terminal sections. (A
        failure needs nothing: its text is the XML's failure message.)"""
        texts = self._warnings.pop(report.nodeid, None)
        if not texts:
            return
        try:
            from xml.etree import ElementTree

            from _pytest.junitxml import bin_xml_escape, xml_key

            xml = self.config.stash.get(xml_key, None)
            if xml is None:
                return
            element = ElementTree.Element("system-out")
            element.text = bin_xml_escape("\n".join(texts))
            xml.node_reporter(report).append(element)
        except Exception as exc:  # another pytest's internals: the property still says it
            self._problem(f"cannot add the report of {report.nodeid} to the JUnit XML: {exc}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: a worker finished; note where it traced."""
        output = getattr(node, "workeroutput", None) or {}
        info = output.get(SECTION)
        if info and info.get("dir"):
            self.worker_dirs.append(info["dir"])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.role == WORKER or self.settings.report is None:
            return
        try:
            self._write_report()
        except Exception as exc:
            self._problem(f"cannot write the report {self.settings.report}: "
                          f"{type(exc).__name__}: {exc}")

    def _write_report(self) -> None:
        if self.role == CONTROLLER:
            paths = [d for d in self.worker_dirs if os.path.isdir(d)]
        elif self.active:
            self.tail.poll()
            paths = self.tail.files
        else:
            paths = []
        assert self.settings.report is not None
        from .picture import report_path

        target = report_path(self.settings.report)
        write_report(paths, target, suppressions=self.suppressions,
                     blocking_threshold_ns=self.blocking_threshold_ns)
        self.report_written = target

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.role == WORKER:
            return
        problems = list(self.problems)
        if self.unchecked:
            count = len(self.unchecked)
            problems.append(
                f"{count} test{'s' if count != 1 else ''} not checked for overlaps "
                f"(internal error while checking; first: {self.unchecked[0]})")
        if self.active:
            from racetrace.tracer.targets import unresolved

            # Said on stderr when it happened, which pytest captures: say it where it is seen.
            problems += [f"target {spec} not traced: {reason}"
                         for spec, reason in unresolved()]
        if self.active or self.worker_dirs or self.flagged or problems or (
            self.report_written
        ):
            where = os.path.relpath(self.settings.directory, self.config.invocation_params.dir)
            summarize(terminalreporter, self.flagged, problems, where,
                      self.report_written)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.tracing is not None:
            self.tracing.stop()


def _recording_into(directory: str) -> bool:
    """Whether racetrace already records into `directory` in this process (`racetrace run --
    pytest`): then the directory is that tool's, and its files are not ours to remove."""
    runtime = sys.modules.get("racetrace.tracer.runtime")
    recorder = getattr(runtime, "RECORDER", None)
    return recorder is not None and recorder.config.directory == directory
