"""The LangChain preset on LangChain Core itself, offline (fake chat models), under RACETRACE=1."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("langchain_core")

from preset_helpers import Scenarios, overlap_findings, overlapping_pairs

DELEGATION = """
    import asyncio, json, time
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.runnables import Runnable, RunnableLambda

    class Upper(Runnable):  # the user's own runnable, defined after the preset loaded
        def invoke(self, input, config=None, **kwargs):
            time.sleep(0.01)
            return input.upper()

    async def main():
        up = Upper()
        done = {}
        up.invoke("a"); done["invoke"] = time.time_ns()
        await up.ainvoke("b"); done["ainvoke"] = time.time_ns()  # invoke in an executor thread
        [c async for c in up.astream("c")]; done["astream"] = time.time_ns()  # -> ainvoke
        list(up.stream("d")); done["stream"] = time.time_ns()  # -> invoke
        up.batch(["e", "f", "g"]); done["batch"] = time.time_ns()  # invoke x3 in threads
        await up.abatch(["h", "i"]); done["abatch"] = time.time_ns()  # ainvoke x2 at once
        [e async for e in up.astream_events("j", version="v2")]  # astream in a task of its own
        done["astream_events"] = time.time_ns()
        model = FakeListChatModel(responses=["x", "y"], sleep=0.01)
        await model.ainvoke("hi"); done["model.ainvoke"] = time.time_ns()
        [c async for c in model.astream("hi")]; done["model.astream"] = time.time_ns()
        model.batch(["a", "b"]); done["model.batch"] = time.time_ns()
        chain = RunnableLambda(lambda x: x + "!") | up
        chain.invoke("z"); done["chain.invoke"] = time.time_ns()
        print(json.dumps(done))

    asyncio.run(main())
"""


def test_each_user_call_is_one_run_however_runnables_delegate(scenarios: Scenarios) -> None:
    done = scenarios.program(DELEGATION).check()
    returned = json.loads(done.stdout.splitlines()[-1])
    runs = done.runs()
    users = [r for r in runs if r["parent_run_id"] is None]
    assert [".".join(r["method"].split(".")[-2:]) for r in users] == [
        "Upper.invoke",
        "Runnable.ainvoke",
        "Runnable.astream",
        "Runnable.stream",
        "Runnable.batch",
        "Runnable.abatch",
        "Runnable.astream_events",
        "BaseChatModel.ainvoke",
        "BaseChatModel.astream",
        "FakeListChatModel.batch",
        "RunnableSequence.invoke",
    ]
    for run, call in zip(users, returned, strict=True):
        assert run["status"] == "ok"
        assert run["end_ns"] <= returned[call], (call, run)
    # Runs on `up` are all on one instance, and none overlap: batch's fan-out is inside one run.
    assert len({r["instance_key"] for r in users[:7]}) == 1
    # A chain is one run: the calls it makes on its steps are its plumbing, not user calls.
    assert runs == users and len(runs) == 11
    assert overlapping_pairs(runs) == 0
    assert done.findings() == []


SHARED_MODEL = """
    import asyncio
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    MODEL = FakeListChatModel(responses=["ok"], sleep=0.05)  # shared, as models are

    async def main():
        await asyncio.gather(*(MODEL.ainvoke(f"q{i}") for i in range(3)))

    asyncio.run(main())
"""


def test_concurrent_runs_on_a_shared_runnable_are_expected(scenarios: Scenarios) -> None:
    done = scenarios.program(SHARED_MODEL).check()
    runs = done.runs()
    assert done.methods() == ["BaseChatModel.ainvoke"] * 3
    assert overlapping_pairs(runs) == 3
    (finding,) = overlap_findings(done)
    # Runnables are stateless: overlapping on one is information, not a warning.
    assert (finding["kind"], finding["severity"]) == ("concurrent", "info")
    assert done.findings(severity="warning") == []


def test_two_runs_on_one_chat_history_overlap_on_the_history(scenarios: Scenarios) -> None:
    done = scenarios.sample("langchain_shared_history").check()
    assert "earlier messages shown to the model: [0, 0]" in done.stdout  # neither saw the other
    runs = done.runs()
    assert done.methods() == ["RunnableWithMessageHistory.ainvoke"] * 2
    assert len({r["instance_key"] for r in runs}) == 1
    assert {r["resource_key"] for r in runs} == {"langchain/history/user-7"}
    assert overlapping_pairs(runs) == 1
    assert overlapping_pairs(runs, "resource_key") == 1
    # The chain is stateless, the history is the bug: the same pair on both is one finding,
    # on the history, that names the chain too.
    (finding,) = overlap_findings(done)
    assert (finding["key_kind"], finding["instance"]["key"]) == (
        "resource", "langchain/history/user-7")
    assert (finding["kind"], finding["severity"], finding["pair_count"]) == (
        "concurrent", "warning", 1)
    assert [o["key"] for o in finding["also_on"]] == [runs[0]["instance_key"]]


def test_one_run_at_a_time_per_chat_history_has_no_findings(scenarios: Scenarios) -> None:
    done = scenarios.sample("langchain_shared_history_fixed").check()
    assert "earlier messages shown to the model: [0, 2]" in done.stdout
    runs = done.runs()
    assert done.methods() == ["RunnableWithMessageHistory.ainvoke"] * 2
    assert overlapping_pairs(runs) == 0
    assert overlapping_pairs(runs, "resource_key") == 0
    assert done.findings() == []
