"""pytest-xdist: each worker traces its own tests into its own folder; the controller gathers
the verdicts and writes one JSON report over every worker's trace."""

from __future__ import annotations

import json

import pytest
from plugin_support import TARGETS, Suite, racetrace_lines

pytest.importorskip("xdist")

MODULE = """
    import asyncio

    import agentlib


    def overlap(name):
        agent = agentlib.Agent(name)

        async def main():
            await asyncio.gather(agent.run("a"), agent.run("b"))

        asyncio.run(main())


    def in_turn(name):
        agent = agentlib.Agent(name)
        asyncio.run(agent.run("a"))
        asyncio.run(agent.run("b"))


    def test_overlap_{n}():
        overlap("overlap-{n}")


    def test_in_turn_{n}():
        in_turn("in-turn-{n}")
"""


def test_each_worker_traces_its_own_tests(suite: Suite) -> None:
    suite.write(**{f"test_module_{n}": MODULE.format(n=n) for n in range(4)})
    result = suite.run("-n", "2", "--dist", "loadfile", "--racetrace", *TARGETS,
                       "--racetrace-report", "report.json", plugins=["xdist"])
    result.assert_outcomes(failed=4, passed=4)
    for n in range(4):
        result.stdout.fnmatch_lines([
            f"FAILED test_module_{n}.py::test_overlap_{n} - racetrace*",
        ])
        assert f"in-turn-{n}'" not in result.stdout.str()
    result.stdout.fnmatch_lines(["racetrace: 4 tests with findings; *JSON report: *report.json"])
    traces = suite.path / "racetrace-traces"
    workers = sorted(p.name for p in traces.iterdir() if p.is_dir())
    assert workers == ["gw0", "gw1"]
    assert not list(traces.glob("*.jsonl"))  # the controller ran no test: no file of its own
    report = json.loads((suite.path / "report.json").read_text(encoding="utf-8"))
    assert sorted(f["instance"]["label"] for f in report["findings"]
                  if f["kind"] == "concurrent") == [f"overlap-{n}" for n in range(4)]
    assert report["summary"]["runs"] == 16
    assert {f.split("/")[-2] for f in report["files"]} == {"gw0", "gw1"}
    assert racetrace_lines(result) == []


def test_an_earlier_sessions_traces_are_erased(suite: Suite) -> None:
    suite.write(test_module_0=MODULE.format(n=0))
    stale = suite.path / "racetrace-traces" / "gw7"
    stale.mkdir(parents=True)
    (stale / "old.jsonl").write_text(
        '{"type":"header","format":"racetrace.trace/1","pid":1}\n', encoding="utf-8")
    (stale / "notes.jsonl").write_text('{"mine": true}\n', encoding="utf-8")
    result = suite.run("-n", "2", "--racetrace", *TARGETS, plugins=["xdist"])
    result.assert_outcomes(failed=1, passed=1)
    assert not (stale / "old.jsonl").exists()
    assert (stale / "notes.jsonl").exists()  # not a trace file: not ours to remove
