"""AutoGen: one AssistantAgent shared by concurrent requests through `asyncio.gather`.

Each request asks about an order; the agent calls a tool that looks the order up (I/O, so the
requests interleave). The agent keeps one model context for all of them, so every request's
model call sees the other requests' messages. Offline: AutoGen's ReplayChatCompletionClient
plays the model.

    RACETRACE=1 python samples/autogen_shared_agent.py && racetrace report racetrace-traces
Fixed twin: autogen_shared_agent_fixed.py (an agent per request).
"""

import asyncio
import json

from autogen_agentchat.agents import AssistantAgent
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

ORDERS = [17, 42, 99]
MODEL_INFO = ModelInfo(vision=False, function_calling=True, json_output=False,
                       family=ModelFamily.UNKNOWN, structured_output=False)


async def lookup_order(order_id: int) -> str:
    """Look an order up in the order database."""
    await asyncio.sleep(0.05)  # the database round trip: other requests run meanwhile
    return f"order {order_id} has shipped"


def model_calls_lookup(order_id: int) -> CreateResult:
    call = FunctionCall(id=f"call-{order_id}", name="lookup_order",
                        arguments=json.dumps({"order_id": order_id}))
    return CreateResult(finish_reason="function_calls", content=[call],
                        usage=RequestUsage(prompt_tokens=0, completion_tokens=0), cached=False)


def make_agent(orders: list[int]) -> AssistantAgent:
    model = ReplayChatCompletionClient([model_calls_lookup(o) for o in orders],
                                       model_info=MODEL_INFO)
    return AssistantAgent("support", model_client=model, tools=[lookup_order])


SUPPORT = make_agent(ORDERS)  # one agent for every request: the bug


async def main() -> None:
    results = await asyncio.gather(
        *(SUPPORT.run(task=f"Where is my order {o}?") for o in ORDERS)
    )
    for result in results:
        print(result.messages[-1].to_text())
    context = await SUPPORT.model_context.get_messages()
    print(f"the shared agent's model context holds {len(context)} messages of "
          f"{len(ORDERS)} conversations")


if __name__ == "__main__":
    asyncio.run(main())
