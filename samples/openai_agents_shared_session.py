"""OpenAI Agents SDK: two runs on one session at once; each answers without the other's turn.

A user sends a message and, before the answer arrives, a second one (streamed). Both runs read
the session's history at their start and append to it at their end, so the second answer is
made without the first exchange, and the history ends interleaved. Offline: a minimal `Model`
with canned replies (and the SDK's own tracing disabled, so nothing is uploaded).

    RACETRACE=1 python samples/openai_agents_shared_session.py && racetrace report racetrace-traces
Fixed twin: openai_agents_shared_session_fixed.py (one run at a time per session).
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, Model, ModelResponse, Runner, SQLiteSession, Usage, set_tracing_disabled
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
)

set_tracing_disabled(True)


class CannedModel(Model):
    """Replies after a model's latency with how many conversation items it was shown."""

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        await asyncio.sleep(0.05)  # the model's latency: the other request runs meanwhile
        return ModelResponse(output=[_reply(input)], usage=Usage(), response_id=None)

    async def stream_response(self, system_instructions: Any, input: Any, *args: Any,
                              **kwargs: Any) -> AsyncIterator[Any]:
        await asyncio.sleep(0.05)
        response = Response(id="canned", created_at=0, model="canned", object="response",
                            output=[_reply(input)], tool_choice="none", tools=[], top_p=None,
                            parallel_tool_calls=False, status="completed")
        yield ResponseCompletedEvent(type="response.completed", response=response,
                                     sequence_number=0)


def _reply(items: Any) -> ResponseOutputMessage:
    seen = len(items) if isinstance(items, list) else 1
    text = ResponseOutputText(type="output_text", text=f"(I was shown {seen} items)",
                              annotations=[])
    return ResponseOutputMessage(id="msg", type="message", role="assistant",
                                 status="completed", content=[text])


AGENT = Agent(name="support", instructions="Help with orders.", model=CannedModel())


async def ask(session: SQLiteSession, message: str) -> str:
    result = await Runner.run(AGENT, message, session=session)
    return str(result.final_output)


async def ask_streamed(session: SQLiteSession, message: str) -> str:
    result = Runner.run_streamed(AGENT, message, session=session)
    async for _event in result.stream_events():
        pass
    return str(result.final_output)


async def main() -> None:
    session = SQLiteSession("user-7")  # the user's conversation
    answers = await asyncio.gather(ask(session, "hi"), ask_streamed(session, "where is 42?"))
    print(answers)
    items = await session.get_items()
    print("history:", [item.get("role") for item in items])


if __name__ == "__main__":
    asyncio.run(main())
