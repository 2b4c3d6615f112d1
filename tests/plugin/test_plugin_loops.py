"""nested-loop and loop-blocking in `pytest --racetrace`: a test that runs a sync loop entry point
or blocks its event loop is flagged when fail-on names the kind; the threshold is an option."""

from __future__ import annotations

import pytest
from plugin_support import Suite, racetrace_lines

SERVICE = """
    import asyncio
    import time


    class Service:
        def fetch(self):
            return asyncio.run(self._fetch())

        async def _fetch(self):
            return "fetched"

        def slow(self, seconds):
            time.sleep(seconds)
            return "done"
"""

LOOP_TESTS = """
    import asyncio

    from service import Service


    def test_sync_wrapper_inside_a_coroutine():
        async def handler():
            try:
                return Service().fetch()
            except RuntimeError:
                return "fell back"

        assert asyncio.run(handler()) == "fell back"


    def test_sleep_inside_a_coroutine():
        async def handler():
            return Service().slow(0.3)

        assert asyncio.run(handler()) == "done"


    def test_sleep_in_a_worker_thread():
        async def handler():
            return await asyncio.to_thread(Service().slow, 0.3)

        assert asyncio.run(handler()) == "done"
"""

TARGETS = ("--racetrace-target", "service:Service.fetch,service:Service.slow")


def test_loop_findings_fail_the_tests_that_cause_them(suite: Suite) -> None:
    suite.write(service=SERVICE, test_loops=LOOP_TESTS)
    result = suite.run("--racetrace", *TARGETS,
                       "--racetrace-fail-on", "overlap,nested-loop,loop-blocking")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random([
        "test_loops.py::test_sync_wrapper_inside_a_coroutine: failed (call): nested event "
        "loop on Service (*): 1 sync call that runs its own loop inside a running one",
        "test_loops.py::test_sleep_inside_a_coroutine: failed (call): event loop blocked by "
        "Service (*): 1 sync run, * in all",
    ])
    result.stdout.fnmatch_lines_random([
        "*ERROR: racetrace: nested event loop on Service*",
        "*asyncio.run() cannot be called from a running event loop*",
        "*WARNING: racetrace: event loop blocked by Service*",
        "*held a running event loop for * in all*",
    ])
    assert racetrace_lines(result) == []


def test_by_default_only_overlaps_fail_and_warn_mode_lists_loop_findings(suite: Suite) -> None:
    suite.write(service=SERVICE, test_loops=LOOP_TESTS)
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(passed=3)
    warned = suite.run("--racetrace=warn", *TARGETS, "--racetrace-fail-on", "loop-blocking")
    warned.assert_outcomes(passed=3)
    warned.stdout.fnmatch_lines([
        "test_loops.py::test_sleep_inside_a_coroutine: warned (call): event loop blocked by "
        "Service (*)*",
    ])
    assert "test_sleep_in_a_worker_thread: warned" not in warned.stdout.str()


def test_the_blocking_threshold_is_an_option(suite: Suite) -> None:
    suite.write(service=SERVICE, test_loops=LOOP_TESTS)
    result = suite.run("--racetrace", *TARGETS, "--racetrace-fail-on", "loop-blocking",
                       "--racetrace-blocking-threshold", "60s")
    result.assert_outcomes(passed=3)
    bad = suite.run("--racetrace", "--racetrace-blocking-threshold", "soon")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: racetrace: --racetrace-blocking-threshold: not a "
                              "duration: 'soon'*"])
