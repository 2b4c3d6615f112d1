"""An AutoGen program traced by OpenTelemetry alone (no racetrace): AutoGen emits its GenAI spans
to the SDK TracerProvider the program installs, and an exporter writes them as OTLP JSON lines,
the way an OpenTelemetry Collector's file exporter does.

usage: autogen_otel_spans.py OUT.json {gather|reentrant} [--pid]

- gather: one agent shared by two runs under asyncio.gather (each awaits a slow tool, so they
  overlap), and a second agent run beside them.
- reentrant: the agent's own tool calls back into the agent while its run is active.
- --pid: the resource carries process.pid (the SDK's process detector); without it, only the
  service name says which process the spans came from.
Prints this process's pid.
"""

from __future__ import annotations

import asyncio
import os
import sys

from autogen_agentchat.agents import AssistantAgent
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from collector_file import CollectorFileExporter
from opentelemetry import trace
from opentelemetry.sdk.resources import ProcessResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

FUNCTION_CALLING = ModelInfo(vision=False, function_calling=True, json_output=False,
                             family="unknown", structured_output=False)


def tool_call(call_id: str) -> CreateResult:
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id=call_id, name="slow_lookup", arguments='{"city": "Paris"}')],
        usage=RequestUsage(prompt_tokens=1, completion_tokens=1), cached=False)


async def slow_lookup(city: str) -> str:
    """Look up the weather in a city."""
    await asyncio.sleep(0.05)
    return f"sunny in {city}"


async def gather() -> None:
    client = ReplayChatCompletionClient([tool_call("c1"), tool_call("c2")],
                                        model_info=FUNCTION_CALLING)
    helper = AssistantAgent("helper", model_client=client, tools=[slow_lookup])
    other = AssistantAgent(
        "other", tools=[slow_lookup],
        model_client=ReplayChatCompletionClient([tool_call("c3")], model_info=FUNCTION_CALLING))
    await asyncio.gather(helper.run(task="weather in Paris?"),
                         helper.run(task="and in Rome?"),
                         other.run(task="and in Oslo?"))


async def reentrant() -> None:
    helper: AssistantAgent

    async def ask_again(question: str) -> str:
        """Ask the helper agent again."""
        result = await helper.run(task=question)
        return str(result.messages[-1].to_text())

    client = ReplayChatCompletionClient(
        [CreateResult(finish_reason="function_calls",
                      content=[FunctionCall(id="c1", name="ask_again",
                                            arguments='{"question": "really?"}')],
                      usage=RequestUsage(prompt_tokens=1, completion_tokens=1), cached=False),
         "yes, really"],
        model_info=FUNCTION_CALLING)
    helper = AssistantAgent("helper", model_client=client, tools=[ask_again])
    await helper.run(task="weather in Paris?")


def main() -> None:
    out, mode = sys.argv[1], sys.argv[2]
    resource = Resource.create({"service.name": "weather-agents"})
    if "--pid" in sys.argv:
        resource = resource.merge(ProcessResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(CollectorFileExporter(out)))
    trace.set_tracer_provider(provider)
    asyncio.run(gather() if mode == "gather" else reentrant())
    provider.shutdown()
    print(os.getpid())


if __name__ == "__main__":
    main()
