"""The AutoGen preset on AutoGen itself, offline (ReplayChatCompletionClient), under RACETRACE=1."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

from preset_helpers import Scenarios, overlap_findings, overlapping_pairs
from racetrace.analyzers.findings.known_errors import match

TEAM_ALREADY_RUNNING = "The team is already running, it cannot run again until it is stopped."


def test_shared_agent_under_gather_is_three_concurrent_runs_on_one_agent(
    scenarios: Scenarios,
) -> None:
    done = scenarios.sample("autogen_shared_agent").check()
    runs = done.runs()
    # One run per user-level call: run -> on_messages -> on_messages_stream is delegation.
    assert done.methods() == ["BaseChatAgent.run"] * 3
    assert {(r["instance_class"], r["instance_label"]) for r in runs} == {
        ("autogen_agentchat.agents._assistant_agent.AssistantAgent", "support")
    }
    assert len({r["instance_key"] for r in runs}) == 1
    assert overlapping_pairs(runs) == 3
    (finding,) = overlap_findings(done)
    assert (finding["kind"], finding["severity"]) == ("concurrent", "warning")
    assert finding["instance"]["label"] == "support"
    assert (finding["run_count"], finding["pair_count"]) == (3, 3)
    assert all(r["callsite"].endswith("autogen_shared_agent.py:49") for r in runs)


def test_an_agent_per_request_has_no_findings(scenarios: Scenarios) -> None:
    done = scenarios.sample("autogen_shared_agent_fixed").check()
    runs = done.runs()
    assert done.methods() == ["BaseChatAgent.run"] * 3
    assert len({r["instance_key"] for r in runs}) == 3
    assert overlapping_pairs(runs) == 0
    assert done.findings() == []


def test_shared_team_overlaps_and_fails_with_autogens_own_error(scenarios: Scenarios) -> None:
    done = scenarios.sample("autogen_shared_team").check()
    assert f"ValueError: {TEAM_ALREADY_RUNNING}" in done.stdout
    teams = done.runs_of("BaseGroupChat.run")
    assert len({r["instance_key"] for r in teams}) == 1
    assert [r["status"] for r in teams] == ["ok", "error", "error"]
    for failed in teams[1:]:
        assert failed["error"]["message"] == TEAM_ALREADY_RUNNING
        known = match(failed["error"]["type"], failed["error"]["message"])
        assert known is not None and known.id == "autogen.team-already-running"
    # The first run started the team's embedded runtime; its two agents spoke once each.
    (runtime,) = done.runs_of("SingleThreadedAgentRuntime.start")
    assert runtime["parent_run_id"] == teams[0]["run_id"]
    agents = done.runs_of("AssistantAgent.on_messages_stream")
    assert [r["instance_label"] for r in agents] == ["writer", "critic"]
    assert all(r["parent_run_id"] == runtime["run_id"] for r in agents)
    assert len(done.runs()) == 6
    assert overlapping_pairs(done.runs()) == 2
    (finding,) = overlap_findings(done)
    assert (finding["kind"], finding["severity"]) == ("concurrent", "warning")
    assert (finding["run_count"], finding["pair_count"]) == (3, 2)
    assert finding["instance"]["key"] == teams[0]["instance_key"]
    assert "errors" in {f["kind"] for f in done.findings()}


def test_a_team_per_request_has_no_findings(scenarios: Scenarios) -> None:
    done = scenarios.sample("autogen_shared_team_fixed").check()
    runs = done.runs()
    assert sorted(done.methods()) == sorted(
        ["BaseGroupChat.run"] * 3 + ["SingleThreadedAgentRuntime.start"] * 3
        + ["AssistantAgent.on_messages_stream"] * 6
    )
    assert len({r["instance_key"] for r in runs}) == 12
    assert all(r["status"] == "ok" for r in runs)
    assert overlapping_pairs(runs) == 0
    assert done.findings() == []


DELEGATION = """
    import asyncio, json, time
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.messages import TextMessage
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core import CancellationToken
    from autogen_ext.models.replay import ReplayChatCompletionClient

    class Polite(AssistantAgent):  # defined after the preset loaded: covered all the same
        async def on_messages(self, messages, cancellation_token):
            return await super().on_messages(messages, cancellation_token)

    def agent(name, cls=AssistantAgent):
        return cls(name, model_client=ReplayChatCompletionClient([f"{name} says hi"] * 10))

    def said(text):
        return [TextMessage(content=text, source="user")]

    async def main():
        done = {}
        solo = agent("solo")
        await solo.run(task="one"); done["run"] = time.time_ns()
        # AssistantAgent.on_messages returns on the response, its inner stream left open.
        await solo.on_messages(said("two"), CancellationToken())
        done["on_messages"] = time.time_ns()
        async for _ in solo.run_stream(task="three"):
            pass
        done["run_stream"] = time.time_ns()
        async for _ in solo.on_messages_stream(said("four"), CancellationToken()):
            break  # abandoned by the consumer, finalized later by the event loop
        done["abandoned"] = time.time_ns()
        await asyncio.sleep(0.2)
        polite = agent("polite", Polite)
        await polite.run(task="five"); done["polite_run"] = time.time_ns()
        await polite.on_messages(said("six"), CancellationToken())
        done["polite_on_messages"] = time.time_ns()
        team = RoundRobinGroupChat([agent("w"), agent("c")],
                                   termination_condition=MaxMessageTermination(3))
        await team.run(task="seven"); done["team_run"] = time.time_ns()
        async for _ in team.run_stream(task="eight"):
            pass
        done["team_run_stream"] = time.time_ns()
        print(json.dumps(done))

    asyncio.run(main())
"""


def test_delegation_on_one_instance_is_one_run_that_ends_with_the_call(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(DELEGATION).check()
    returned = json.loads(done.stdout.splitlines()[-1])
    runs = done.runs()
    users = [r for r in runs if r["parent_run_id"] is None]
    assert [".".join(r["method"].split(".")[-2:]) for r in users] == [
        "BaseChatAgent.run",
        "AssistantAgent.on_messages",
        "BaseChatAgent.run_stream",
        "AssistantAgent.on_messages_stream",
        "BaseChatAgent.run",
        "Polite.on_messages",
        "BaseGroupChat.run",
        "BaseGroupChat.run_stream",
    ]
    # Each user-level run ends when its call returned (or its stream was last advanced), not
    # when an inner generator it left open is finalized later.
    for run, call in zip(users, returned, strict=True):
        assert run["status"] == "ok", run
        assert run["end_ns"] <= returned[call], (call, run)
    abandoned = users[3]
    assert abandoned["end_reason"] == "closed"
    # The teams: a runtime per run, two agent turns each, nested under the team's run.
    for team_run in users[6:]:
        (runtime,) = [r for r in runs if r["parent_run_id"] == team_run["run_id"]]
        assert runtime["method"].endswith("SingleThreadedAgentRuntime.start")
        turns = [r for r in runs if r["parent_run_id"] == runtime["run_id"]]
        assert [r["instance_label"] for r in turns] == ["w", "c"]
        assert runtime["end_ns"] <= team_run["end_ns"]
    assert len(runs) == 8 + 2 * 3
    assert overlapping_pairs(runs) == 0
    assert overlap_findings(done) == []


RUNTIME = """
    import asyncio, json, time
    from dataclasses import dataclass
    from autogen_core import (AgentId, MessageContext, RoutedAgent, SingleThreadedAgentRuntime,
                              message_handler)

    @dataclass
    class Ping:
        text: str

    class Echo(RoutedAgent):
        @message_handler
        async def on_ping(self, message: Ping, ctx: MessageContext) -> Ping:
            await asyncio.sleep(0.01)
            return Ping(message.text)

    async def main():
        runtime = SingleThreadedAgentRuntime()
        await Echo.register(runtime, "echo", lambda: Echo("echo"))
        marks = {"before_start": time.time_ns()}
        runtime.start()
        marks["started"] = time.time_ns()

        async def second_owner():  # another component starting the shared runtime
            try:
                runtime.start()
            except RuntimeError as exc:
                print("second start:", exc)

        await asyncio.create_task(second_owner())
        await runtime.send_message(Ping("hi"), AgentId("echo", "default"))
        marks["before_stop"] = time.time_ns()
        await runtime.stop_when_idle()
        marks["stopped"] = time.time_ns()
        print(json.dumps(marks))

    asyncio.run(main())
"""


def test_runtime_run_lasts_from_start_until_stopped(scenarios: Scenarios) -> None:
    done = scenarios.program(RUNTIME).check()
    assert "second start: Runtime is already started" in done.stdout
    marks = json.loads(done.stdout.splitlines()[-1])
    first, second = done.runs_of("SingleThreadedAgentRuntime.start")
    assert first["instance_key"] == second["instance_key"]
    # start() returned at once; the run ended only when stop_when_idle() stopped the loop.
    assert marks["before_start"] <= first["start_ns"] <= marks["started"]
    assert marks["before_stop"] < first["end_ns"] <= marks["stopped"]
    assert first["status"] == "ok"
    assert second["status"] == "error"
    known = match(second["error"]["type"], second["error"]["message"])
    assert known is not None and known.id == "autogen.runtime-already-started"
    assert len(done.runs()) == 2
    assert overlapping_pairs(done.runs()) == 1
    (finding,) = overlap_findings(done)
    assert (finding["kind"], finding["pair_count"]) == ("concurrent", 1)
