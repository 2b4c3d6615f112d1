"""AutoGen: a module-level team shared by concurrent requests, as in a web service.

The second and third requests arrive while the first is still running and fail with AutoGen's
`ValueError: The team is already running, it cannot run again until it is stopped.` Offline:
AutoGen's ReplayChatCompletionClient plays the models.

    RACETRACE=1 python samples/autogen_shared_team.py && racetrace report racetrace-traces
Fixed twin: autogen_shared_team_fixed.py (a team per request).
"""

import asyncio

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_ext.models.replay import ReplayChatCompletionClient

REQUESTS = 3


def make_team() -> RoundRobinGroupChat:
    writer = AssistantAgent("writer", model_client=ReplayChatCompletionClient(["a draft"]))
    critic = AssistantAgent("critic", model_client=ReplayChatCompletionClient(["approved"]))
    # The task, the writer's draft, the critic's verdict: three messages and done.
    return RoundRobinGroupChat([writer, critic], termination_condition=MaxMessageTermination(3))


TEAM = make_team()  # one team for the whole process: the bug


async def handle(request_id: int) -> str:
    result = await TEAM.run(task=f"write release note {request_id}")
    return str(result.stop_reason)


async def main() -> None:
    results = await asyncio.gather(*(handle(r) for r in range(REQUESTS)),
                                   return_exceptions=True)
    for request_id, result in enumerate(results):
        outcome = f"{type(result).__name__}: {result}" if isinstance(result, Exception) else result
        print(f"request {request_id}: {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
