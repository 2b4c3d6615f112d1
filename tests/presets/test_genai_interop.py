"""AutoGen's own OpenTelemetry GenAI spans and racetrace's runs, side by side.

The program installs an SDK TracerProvider with an in-memory exporter, as an application that
uses OpenTelemetry does, and runs AutoGen traced by the preset. AutoGen's spans must all still
be there, once each, with the parents and traces they have untraced (racetrace's runs are not
exported, so they must not become anyone's parent), and racetrace must not write its runs into
the application's provider. racetrace's runs read the program's spans: a run started inside
AutoGen's span has it as its parent span.
"""

from __future__ import annotations

import json
import re
from typing import Any

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


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _shape(spans: list[dict[str, Any]]) -> list[tuple[str, str | None, bool]]:
    """Each span's name, its parent's name (None for a root), and whether it shares its
    parent's trace: the structure, without the ids that differ from one run to the next."""
    by_id = {s["span_id"]: s for s in spans}
    for span in spans:  # AutoGen names some spans after ids made fresh in each run
        span["name"] = _UUID.sub("<id>", span["name"])
    shape = []
    for span in spans:
        parent = by_id.get(span["parent"]) if span["parent"] else None
        assert span["parent"] is None or parent is not None, f"orphan: {span}"
        shape.append((span["name"], parent["name"] if parent else None,
                      parent is None or parent["trace_id"] == span["trace_id"]))
    return sorted(shape, key=repr)


def test_autogens_spans_keep_their_parents_and_runs_read_them(scenarios: Scenarios) -> None:
    untraced = scenarios.program(PROGRAM, env={"RACETRACE": "0"}).check()
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
    # The application's telemetry is as it is untraced: same spans, same parents, no orphans.
    assert _shape(spans) == _shape(json.loads(untraced.stdout.splitlines()[-1]))

    # A team's turn runs inside the team's run (through the runtime's): one racetrace trace.
    (team_run,) = [r for r in runs.values() if r["method"].endswith("BaseGroupChat.run")]
    for name in ("w", "c"):
        (turn,) = [r for r in runs.values() if r["instance_label"] == name]
        ancestors, parent = [], turn["parent_run_id"]
        while parent is not None:
            ancestors.append(parent)
            parent = runs[parent]["parent_run_id"]
        assert team_run["run_id"] in ancestors
        assert starts[turn["run_id"]]["trace_id"] == starts[team_run["run_id"]]["trace_id"]

    # racetrace's own GenAI attributes: on agent runs, the agent id being the instance key.
    for run_id, line in starts.items():
        run = runs[run_id]
        if "AssistantAgent" in run["instance_class"]:
            assert line["gen_ai.operation.name"] == "invoke_agent"
            assert line["gen_ai.agent.name"] == run["instance_label"]
            assert line["gen_ai.agent.id"] == run["instance_key"]
        else:
            assert "gen_ai.operation.name" not in line
