"""The OpenAI Agents preset on the Agents SDK itself, offline (a canned `Model`)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("agents.run")

from preset_helpers import Scenarios, overlap_findings, overlapping_pairs, trace_lines
from racetrace.analyzers.findings.known_errors import match

SESSION = "openai-agents/session/user-7"


def test_two_runs_on_one_session_overlap_on_the_session(scenarios: Scenarios) -> None:
    done = scenarios.sample("openai_agents_shared_session").check()
    assert "history: ['user', 'user', 'assistant', 'assistant']" in done.stdout
    runs = done.runs()
    assert done.methods() == ["Runner.run", "Runner.run_streamed"]
    assert {(r["instance_class"], r["instance_label"]) for r in runs} == {
        ("agents.agent.Agent", "support")
    }
    assert {r["resource_key"] for r in runs} == {SESSION}
    assert overlapping_pairs(runs) == 1
    assert overlapping_pairs(runs, "resource_key") == 1
    # The Agent is a configuration, the session is the bug: the same pair on both is one
    # finding, on the session, that names the agent too.
    (finding,) = overlap_findings(done)
    assert (finding["key_kind"], finding["instance"]["key"]) == ("resource", SESSION)
    assert (finding["kind"], finding["severity"], finding["pair_count"]) == (
        "concurrent", "warning", 1)
    assert [o["key"] for o in finding["also_on"]] == [runs[0]["instance_key"]]


def test_one_run_at_a_time_per_session_has_no_findings(scenarios: Scenarios) -> None:
    done = scenarios.sample("openai_agents_shared_session_fixed").check()
    assert "history: ['user', 'assistant', 'user', 'assistant']" in done.stdout
    runs = done.runs()
    assert done.methods() == ["Runner.run", "Runner.run_streamed"]
    assert overlapping_pairs(runs) == 0
    assert overlapping_pairs(runs, "resource_key") == 0
    assert done.findings() == []


STREAMED = """
    import asyncio, json, time
    from agents import Agent, Runner
    from openai_agents_shared_session import CannedModel

    AGENT = Agent(name="streamer", model=CannedModel())
    OTHER = Agent(name="other", model=CannedModel())

    async def main():
        marks = {"before": time.time_ns()}
        result = Runner.run_streamed(AGENT, "hi")
        marks["returned"] = time.time_ns()
        async for _event in result.stream_events():
            pass
        marks["consumed"] = time.time_ns()
        await Runner.run(OTHER, "hello")
        print(json.dumps(marks))

    asyncio.run(main())
"""


def test_streamed_run_lasts_until_its_background_task_ends(scenarios: Scenarios) -> None:
    done = scenarios.program(STREAMED).check()
    marks = json.loads(done.stdout.splitlines()[-1])
    streamed, other = done.runs()
    assert streamed["method"].endswith("Runner.run_streamed")
    # run_streamed() returned at once; the run went on until the agent loop finished.
    assert marks["before"] <= streamed["start_ns"] <= marks["returned"] < streamed["end_ns"]
    assert streamed["end_ns"] <= marks["consumed"]
    assert streamed["status"] == "ok"
    # The instance is the starting agent (a classmethod's argument), named as the user named it.
    assert (streamed["instance_label"], other["instance_label"]) == ("streamer", "other")
    assert streamed["instance_key"] != other["instance_key"]
    starts = {line["run_id"]: line for line in trace_lines(done) if line["type"] == "start"}
    for run in (streamed, other):
        line = starts[run["run_id"]]
        assert line["gen_ai.operation.name"] == "invoke_agent"
        assert line["gen_ai.agent.name"] == run["instance_label"]
        assert line["gen_ai.agent.id"] == run["instance_key"]
    assert starts[streamed["run_id"]]["racetrace.outlives_call"] is True
    assert "racetrace.outlives_call" not in starts[other["run_id"]]
    assert done.findings() == []


RUN_SYNC = """
    import asyncio
    from agents import Agent, Runner
    from openai_agents_shared_session import CannedModel

    AGENT = Agent(name="helper", model=CannedModel())
    print(Runner.run_sync(AGENT, "from a script").final_output)

    async def handler():
        try:
            Runner.run_sync(AGENT, "from async code")
        except RuntimeError as exc:
            print("error:", exc)

    asyncio.run(handler())
"""


def test_run_sync_inside_an_event_loop_is_a_known_error(scenarios: Scenarios) -> None:
    done = scenarios.program(RUN_SYNC).check()
    assert "cannot be called when an event loop is already running" in done.stdout
    ok, failed = done.runs()
    assert ok["method"].endswith("Runner.run_sync") and ok["status"] == "ok"
    assert failed["status"] == "error"
    known = match(failed["error"]["type"], failed["error"]["message"])
    assert known is not None and known.id == "openai-agents.run-sync-in-event-loop"
    assert not known.from_overlap
    assert overlapping_pairs(done.runs()) == 0
