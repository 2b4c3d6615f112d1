"""The fix for autogen_shared_team.py: each request builds a team of its own (a factory).

    RACETRACE=1 python samples/autogen_shared_team_fixed.py && racetrace report racetrace-traces
"""

import asyncio

from autogen_shared_team import REQUESTS, make_team


async def handle(request_id: int) -> str:
    team = make_team()  # per request: its agents, conversation and runtime are this request's
    result = await team.run(task=f"write release note {request_id}")
    return str(result.stop_reason)


async def main() -> None:
    outcomes = await asyncio.gather(*(handle(r) for r in range(REQUESTS)))
    for request_id, outcome in enumerate(outcomes):
        print(f"request {request_id}: {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
