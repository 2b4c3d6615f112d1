"""Explanations that fit the identity and the framework: a conversation key speaks of the
conversation, its lost update and the per-key fix; an object and its conversation with the same
pairs are one finding; the methods named are those that ran. Real frameworks, offline, traced
in a subprocess with RACETRACE=1 (the samples)."""

from __future__ import annotations

import pytest
from preset_helpers import Scenarios, racetrace_cli

pytest.importorskip("langgraph")


def warnings(scenario) -> list[dict]:
    return scenario.findings(severity="warning")


def report_text(scenario) -> str:
    done = racetrace_cli("report", str(scenario.trace_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_langgraph_thread_finding_speaks_of_the_thread_and_its_per_key_fix(
        scenarios: Scenarios) -> None:
    scenario = scenarios.sample("langgraph_shared_thread").check()
    (finding,) = warnings(scenario)
    assert finding["key_kind"] == "resource"
    why, fix = finding["explanation"], finding["fix"]
    assert "thread_id 'user-7'" in why and "lost update" in why and "checkpoint" in why
    assert "on this one" not in why  # two graphs, one per request
    assert "2 different CompiledStateGraph objects" in why
    assert "thread_id 'user-7'" in fix and "lock per thread id" in fix
    assert "distinct thread ids" in fix
    assert "make_agent" not in fix and "factory" not in fix
    # Each request's graph was built by build_graph(): a factory, both at one line.
    (site,) = finding["created_at"]
    assert (site["function"], site["role"], site["instances_at_site"]) == (
        "build_graph", "factory", 2)
    assert site["file"].endswith("langgraph_shared_thread.py")


def test_an_info_overlap_on_a_stateless_model_says_why_it_is_safe(
        scenarios: Scenarios) -> None:
    scenario = scenarios.sample("langgraph_shared_thread").check()
    infos = [f for f in scenario.findings(severity="info") if f["kind"] == "concurrent"]
    assert infos
    for finding in infos:
        assert "stateless" in finding["explanation"] and "safe" in finding["explanation"]
        assert "overwrite" not in finding["explanation"]
        assert "factory" not in finding["fix"]


def test_a_session_and_its_agent_with_the_same_pairs_are_one_finding(
        scenarios: Scenarios) -> None:
    pytest.importorskip("agents")
    scenario = scenarios.sample("openai_agents_shared_session").check()
    report = scenario.report()
    overlaps = [f for f in report["findings"] if f["kind"] == "concurrent"]
    (finding,) = overlaps
    assert finding["key_kind"] == "resource" and finding["severity"] == "warning"
    (other,) = finding["also_on"]
    assert other["key_kind"] == "instance" and other["label"] == "support"
    assert "Agent 'support'" in finding["headline"]
    # Both runs were made by different methods: both are named, with their counts.
    assert "1 of Runner.run()" in finding["explanation"]
    assert "1 of Runner.run_streamed()" in finding["explanation"]
    assert "session 'user-7'" in finding["explanation"]
    assert "lock per session id" in finding["fix"]
    # The agent's own summary points at the merged finding; the totals count each pair once.
    (agent,) = [i for i in report["instances"] if i["key_kind"] == "instance"]
    assert agent["findings"] == [finding["id"]]
    assert report["summary"]["overlapping_pairs"] == finding["pair_count"] == 1
    assert agent["created_at"]["role"] == "singleton"  # the module-level AGENT
    text = report_text(scenario)
    summary = text.strip().splitlines()[-1]
    assert "1 finding" in summary and "1 overlapping pair" in summary


def test_a_chat_history_finding_names_its_session_id_and_is_one_finding(
        scenarios: Scenarios) -> None:
    scenario = scenarios.sample("langchain_shared_history").check()
    overlaps = [f for f in scenario.findings() if f["kind"] == "concurrent"]
    (finding,) = overlaps
    assert finding["also_on"] and finding["also_on"][0]["class"].endswith(
        "RunnableWithMessageHistory")
    assert "session_id 'user-7'" in finding["explanation"]
    assert "lost update" in finding["explanation"]
    assert "session_id 'user-7'" in finding["fix"]
    assert "created at langchain_shared_history.py:" in report_text(scenario)


TWO_AGENTS_ONE_SESSION = """
import asyncio
import sys

sys.path.insert(0, {samples!r})
from agents import Agent, Runner, SQLiteSession
from openai_agents_shared_session import CannedModel

TRIAGE = Agent(name="triage", instructions="Route.", model=CannedModel())
BILLING = Agent(name="billing", instructions="Bill.", model=CannedModel())


async def main() -> None:
    session = SQLiteSession("conv-1")
    await asyncio.gather(Runner.run(TRIAGE, "hi", session=session),
                         Runner.run(BILLING, "refund", session=session))


asyncio.run(main())
"""


def test_a_session_shared_by_two_agents_is_not_one_agent_object(
        scenarios: Scenarios) -> None:
    pytest.importorskip("agents")
    from preset_helpers import SAMPLES

    scenario = scenarios.program(TWO_AGENTS_ONE_SESSION.format(samples=str(SAMPLES))).check()
    (finding,) = warnings(scenario)
    assert finding["instance"]["key"] == "openai-agents/session/conv-1"
    why = finding["explanation"]
    assert "2 different Agent objects" in why and "this one Agent" not in why
    assert "session 'conv-1'" in why and "lost update" in why
    assert finding["also_on"] == []  # the two agents' runs do not overlap on either agent
    # Both agents were made at module level: each a singleton, each at a line of its own.
    assert sorted(s["line"] for s in finding["created_at"]) == [9, 10]
