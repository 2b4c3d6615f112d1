"""Ids for runs, and SDK spans for runs when exporting over OTLP.

The SDK's span object costs ~62 µs a run on our machines, and importing OpenTelemetry costs
every traced process tens of milliseconds at start-up. A run needs only what the trace file
records, so by default a run is no span object at all: the recorder writes its START line
itself, with ids of its own, its parent the run it happens in (else the program's current
OpenTelemetry span, read only if the program imported OpenTelemetry, so a run inside the user's
own span carries its trace id). It is not set in the OpenTelemetry context: a span that no
backend receives must not become the parent of the program's own spans. When an OTLP endpoint
is configured, runs are SDK spans instead, through a private `TracerProvider` whose processors
are our file writer and the OTLP batch exporter, and are set in the context (runtime.activate),
so spans made inside a run (AutoGen's, GenAI instrumentations') are its children there.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry import trace

_modules = sys.modules


# Run ids count up from a random start, trace ids of runs without a parent are a random
# prefix and the run's id: unique in a process as a counter is, apart across processes as 64
# random bits are, for a fraction of drawing random numbers per run (the SDK's, when
# exporting, draws its own). Seeded from the OS, never from `random`: taking numbers from the
# global generator would change what a program that calls `random.seed()` sees.
run_ids: Any = None
trace_prefix = b""  # hex, as bytes: written into lines as it is


seeded_pid = 0  # the process that drew them: a child forked in C, that starts tracing, has not


def load_ids() -> None:
    """Seed the ids now (wrap.py does, when a target is patched), and again in a child forked
    without the at-fork hooks (in C) while tracing was stopped."""
    if run_ids is None or seeded_pid != os.getpid():
        reseed_after_fork()


def reseed_after_fork() -> None:
    """A forked child counts from a start of its own."""
    global run_ids, trace_prefix, seeded_pid
    import itertools

    seeded_pid = os.getpid()

    # Below 2**63: the counter never reaches 64 bits; never 0, which OpenTelemetry reserves.
    run_ids = itertools.count((int.from_bytes(os.urandom(8), "big") >> 1) | 1)
    trace_prefix = os.urandom(8).hex().encode()


class SpanSink(Protocol):
    """What receives SDK spans as they start and end (an SDK `SpanProcessor` fits)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None: ...

    def on_end(self, span: Any) -> None: ...


def otel_parent() -> tuple[int, int] | None:
    """`(trace id, span id)` of the program's current OpenTelemetry span, for a run that no
    run of ours encloses; None if there is none. Only a program that imported OpenTelemetry
    can have one: nothing is imported here."""
    otel_trace = _modules.get("opentelemetry.trace")
    if otel_trace is None:
        return None
    # Most runs happen in no span of the program's: seen in the context variable itself
    # (~60 ns), rather than through the API (~250 ns: four calls and an invalid span's context).
    fast = fast_lookup if fast_lookup is not None else _find_fast_lookup()
    if fast:
        context_module, runtime_context, variable, key = fast
        if context_module._RUNTIME_CONTEXT is runtime_context and variable.get().get(key) is None:
            return None
    context = otel_trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return context.trace_id, context.span_id


# What `otel_parent` reads directly: OpenTelemetry's context module, its runtime context (the
# default one, a context variable holding a `Context` dict) and the current span's key; `()`
# where the runtime context is another (`OTEL_PYTHON_CONTEXT`) or OpenTelemetry changed.
fast_lookup: tuple[Any, ...] | None = None


def _find_fast_lookup() -> tuple[Any, ...]:
    global fast_lookup
    found: tuple[Any, ...] = ()
    try:
        from contextvars import ContextVar

        context_module = _modules["opentelemetry.context"]
        propagation = _modules["opentelemetry.trace.propagation"]
        runtime_context = context_module._RUNTIME_CONTEXT
        variable = runtime_context._current_context
        key = propagation._SPAN_KEY
        if (type(runtime_context).__name__ == "ContextVarsRuntimeContext"
                and type(variable) is ContextVar and isinstance(variable.get(), dict)):
            found = (context_module, runtime_context, variable, key)
    except Exception:  # another OpenTelemetry: its API, as before
        pass
    fast_lookup = found
    return found


class SdkSpanFactory:
    """Runs as SDK spans, written to our file and exported over OTLP (opt-in, slower)."""

    def __init__(self, sink: SpanSink, service_name: str, version: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON
        from opentelemetry.trace import Status, StatusCode

        class SinkProcessor(SpanProcessor):
            # A real SpanProcessor subclass around the sink: the SDK calls hooks beyond
            # on_start/on_end (`_on_ending` since 1.3x) that the base class provides.
            def on_start(self, span: Any, parent_context: Any = None) -> None:
                sink.on_start(span, parent_context)

            def on_end(self, span: Any) -> None:
                sink.on_end(span)

        # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES itself.
        resource = Resource.create({"service.name": service_name})
        # A private provider: setting the global one would change the host's own tracing.
        # Every run, whatever OTEL_TRACES_SAMPLER says: a sampled-out span would never reach
        # the file writer, and overlap analysis needs all runs (a Collector can sample).
        self._provider = TracerProvider(resource=resource, sampler=ALWAYS_ON)
        self._provider.add_span_processor(SinkProcessor())
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("racetrace", version)
        self._error = Status(StatusCode.ERROR)

    def start(
        self, name: str, attributes: dict[str, Any], start_ns: int, parent_span: Any = None,
    ) -> trace.Span:
        # The parent run is the current span of the OpenTelemetry context: runs are set there.
        return self._tracer.start_span(
            name,
            attributes=attributes,
            start_time=start_ns,
            record_exception=False,
            set_status_on_exception=False,
        )

    def failed(self, span: Any) -> None:
        span.set_status(self._error)

    def shutdown(self) -> None:
        self._provider.shutdown()
