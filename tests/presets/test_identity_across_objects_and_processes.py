"""Identity through the presets: reused `id()` values and forked workers are not shared objects."""

from __future__ import annotations

import sys
from collections import defaultdict

import pytest

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")

from preset_helpers import Scenarios, overlap_findings, overlapping_pairs

PER_REQUEST = """
    import asyncio, gc
    from autogen_agentchat.agents import AssistantAgent
    from autogen_ext.models.replay import ReplayChatCompletionClient

    async def handle(request):
        agent = AssistantAgent("per_request",
                               model_client=ReplayChatCompletionClient([f"answer {request}"]))
        await agent.run(task=f"request {request}")
        return id(agent)

    async def main():
        ids = []
        for request in range(40):  # each request a task of its own, as a web server does
            ids.append(await asyncio.create_task(handle(request)))
            gc.collect()  # the agent is gone: its address is free for the next one
        print(len(ids), len(set(ids)))

    asyncio.run(main())
"""


def test_short_lived_objects_reusing_ids_are_distinct_instances(scenarios: Scenarios) -> None:
    done = scenarios.program(PER_REQUEST).check()
    requests, distinct_ids = map(int, done.stdout.split())
    assert distinct_ids < requests, "CPython reused no address: the test proves nothing"
    runs = done.runs()
    assert len(runs) == requests
    assert len({r["instance_key"] for r in runs}) == requests
    keys_by_id: dict[int, set[str]] = defaultdict(set)
    for run in runs:
        keys_by_id[run["instance_id"]].add(run["instance_key"])
    assert any(len(keys) > 1 for keys in keys_by_id.values())
    # Same id() in many tasks, but never the same object: no overlap, no latent sharing.
    assert overlapping_pairs(runs) == 0
    assert done.findings() == []


FORKED = """
    import asyncio, multiprocessing
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core import FunctionCall
    from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
    from autogen_ext.models.replay import ReplayChatCompletionClient

    WORKERS = 2
    BOTH_RUNNING = multiprocessing.get_context("fork").Barrier(WORKERS)
    _agent = None

    async def meet_the_other_worker() -> str:
        \"\"\"Returns once every worker is inside a run: their runs overlap in time.\"\"\"
        await asyncio.to_thread(BOTH_RUNNING.wait, 60)
        return "met"

    def get_agent():  # "the" singleton: built once per process, the same way in each worker
        global _agent
        if _agent is None:
            call = FunctionCall(id="c1", name="meet_the_other_worker", arguments="{}")
            model = ReplayChatCompletionClient(
                [CreateResult(finish_reason="function_calls", content=[call],
                              usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
                              cached=False)],
                model_info=ModelInfo(vision=False, function_calling=True, json_output=False,
                                     family=ModelFamily.UNKNOWN, structured_output=False))
            _agent = AssistantAgent("singleton", model_client=model,
                                    tools=[meet_the_other_worker])
        return _agent

    def worker():
        async def serve():
            await get_agent().run(task="a request")
        asyncio.run(serve())

    if __name__ == "__main__":
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=worker) for _ in range(WORKERS)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        print([process.exitcode for process in processes])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_forked_workers_each_with_the_same_singleton_do_not_overlap(
    scenarios: Scenarios,
) -> None:
    done = scenarios.program(FORKED).check()
    assert done.stdout.strip() == "[0, 0]"
    runs = done.runs()
    assert len(runs) == 2
    first, second = runs
    assert first["pid"] != second["pid"]
    assert first["instance_label"] == second["instance_label"] == "singleton"
    # Their runs did overlap in time (both met at the barrier inside them)...
    assert first["start_ns"] < second["end_ns"] and second["start_ns"] < first["end_ns"]
    # ...but on two objects, one per process.
    assert first["instance_key"] != second["instance_key"]
    assert overlapping_pairs(runs) == 0
    assert overlap_findings(done) == []
    assert done.findings() == []
