"""A LangGraph program whose spans come from LangSmith's OpenTelemetry mode (no racetrace):
LangGraph emits no OpenTelemetry spans itself; LangSmith, with `LANGSMITH_TRACING_MODE=otel`,
turns each LangChain run (the graph, each node) into a span on the global TracerProvider,
with the run's metadata as `langsmith.metadata.*` attributes: the conversation's `thread_id`
on the graph's span and on each of its nodes' spans. Nothing is sent anywhere: the program's
own provider writes OTLP JSON lines, as the Collector's file exporter does.

usage: langgraph_langsmith_otel_spans.py OUT.json
Two `ainvoke`s of one compiled graph on one thread_id at once (a lost update), and one on
another thread beside them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TypedDict

os.environ.update(LANGSMITH_TRACING="true", LANGSMITH_TRACING_MODE="otel",
                  LANGSMITH_API_KEY="offline-test")

from collector_file import CollectorFileExporter
from langchain_core.tracers.langchain import wait_for_all_tracers
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from opentelemetry import trace
from opentelemetry.sdk.resources import ProcessResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


class State(TypedDict):
    count: int


async def step(state: State) -> State:
    await asyncio.sleep(0.05)
    return {"count": state["count"] + 1}


async def main() -> None:
    builder = StateGraph(State)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    conv1 = {"configurable": {"thread_id": "conv-1"}}
    conv2 = {"configurable": {"thread_id": "conv-2"}}
    await asyncio.gather(graph.ainvoke({"count": 1}, conv1), graph.ainvoke({"count": 10}, conv1),
                         graph.ainvoke({"count": 100}, conv2))


if __name__ == "__main__":
    resource = Resource.create({"service.name": "graphs"}).merge(
        ProcessResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(CollectorFileExporter(sys.argv[1])))
    trace.set_tracer_provider(provider)
    asyncio.run(main())
    wait_for_all_tracers()
    provider.shutdown()
    print(os.getpid())
