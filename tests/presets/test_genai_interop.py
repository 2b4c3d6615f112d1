"""AutoGen's own OpenTelemetry GenAI spans and racetrace's runs, side by side in one trace.

The program installs an SDK TracerProvider with an in-memory exporter, as an application that
uses OpenTelemetry does, and runs AutoGen traced by the preset. AutoGen's spans must all still
be there, once each, nested under racetrace's runs (same trace, parent = our span), and
racetrace must not write its runs into the application's provider.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")
pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")

from preset_helpers import Scenarios, trace_lines

PROGRAM = """
    import asyncio, json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.replay import ReplayChatCompletionClient

    def agent(name):
        return AssistantAgent(name, model_client=ReplayChatCompletionClient([f"{name}: hi"] * 5))

    async def main():
        solo = agent("solo")
        await solo.run(task="one")
        await solo.run(task="two")
        team = RoundRobinGroupChat([agent("w"), agent("c")],
                                   termination_condition=MaxMessageTermination(3))
        await team.run(task="three")

    asyncio.run(main())
    print(json.dumps([
        {"name": s.name, "scope": s.instrumentation_scope.name,
         "trace_id": format(s.context.trace_id, "032x"),
         "span_id": format(s.context.span_id, "016x"),
         "parent": format(s.parent.span_id, "016x") if s.parent else None}
        for s in exporter.get_finished_spans()
    ]))
"""


def test_autogens_spans_nest_under_racetrace_runs_once_each(scenarios: Scenarios) -> None:
    done = scenarios.program(PROGRAM).check()
    spans = json.loads(done.stdout.splitlines()[-1])
    starts = {line["run_id"]: line for line in trace_lines(done) if line["type"] == "start"}
    runs = {r["run_id"]: r for r in done.runs()}
    invoke = [s for s in spans if s["name"].startswith("invoke_agent ")]
    assert all(s["scope"] == "autogen-core" for s in invoke)
    assert sorted(s["name"] for s in invoke) == sorted(
        ["invoke_agent solo", "invoke_agent solo", "invoke_agent w", "invoke_agent c"]
    )
    # racetrace's runs go to its trace files, never into the application's provider.
    assert not any(s["scope"] == "racetrace" for s in spans)
    assert len({s["span_id"] for s in spans}) == len(spans)

    # agent.run(): AutoGen's span is a child of racetrace's run.
    solo_runs = [r for r in runs.values() if r["instance_label"] == "solo"]
    solo_spans = [s for s in invoke if s["name"] == "invoke_agent solo"]
    assert sorted(s["parent"] for s in solo_spans) == sorted(r["run_id"] for r in solo_runs)
    for span in solo_spans:
        assert span["trace_id"] == starts[span["parent"]]["trace_id"]

    # A team's turn: AutoGen opens its span before calling the agent, so racetrace's run of
    # the agent is the child; all of it in the trace of racetrace's team run.
    (team_run,) = [r for r in runs.values() if r["method"].endswith("BaseGroupChat.run")]
    team_trace = starts[team_run["run_id"]]["trace_id"]
    for name in ("w", "c"):
        (span,) = [s for s in invoke if s["name"] == f"invoke_agent {name}"]
        (turn,) = [r for r in runs.values() if r["instance_label"] == name]
        assert starts[turn["run_id"]]["parent_span_id"] == span["span_id"]
        assert span["trace_id"] == team_trace == starts[turn["run_id"]]["trace_id"]

    # racetrace's own GenAI attributes: on agent runs, the agent id being the instance key.
    for run_id, line in starts.items():
        run = runs[run_id]
        if "AssistantAgent" in run["instance_class"]:
            assert line["gen_ai.operation.name"] == "invoke_agent"
            assert line["gen_ai.agent.name"] == run["instance_label"]
            assert line["gen_ai.agent.id"] == run["instance_key"]
        else:
            assert "gen_ai.operation.name" not in line
