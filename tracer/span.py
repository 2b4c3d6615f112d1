"""Spans for runs: a lean span of our own by default, the SDK's when exporting over OTLP.

The SDK's span object costs ~62 µs a run on our machines, most of the tracing overhead, and
importing OpenTelemetry costs every traced process tens of milliseconds at start-up. A run needs
only what the trace file records, so by default a run is a `RunSpan`: a plain object holding its
ids, attributes and times, whose parent is the run it happens in (else the program's current
OpenTelemetry span, read only if the program imported OpenTelemetry, so a run inside the user's
own span carries its trace id). It is not set in the OpenTelemetry context: a span that no
backend receives must not become the parent of the program's own spans. When an OTLP endpoint
is configured, runs are SDK spans instead, through a private `TracerProvider` whose processors
are our file writer and the OTLP batch exporter, and are set in the context (runtime.activate),
so spans made inside a run are its children there.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .clock import now_ns

if TYPE_CHECKING:
    from opentelemetry import trace

_modules = sys.modules


def _first_getrandbits(bits: int) -> int:
    load_ids()
    return _getrandbits(bits)


_getrandbits: Any = _first_getrandbits


_random: Any = None


def load_ids() -> None:
    """Import `random` (for span and trace ids) now: wrap.py does, when a target is patched.
    A generator of our own, seeded from the OS: taking ids from the global one would change
    the numbers a program that calls `random.seed()` sees."""
    global _getrandbits, _random
    if _random is not None:
        return
    import random

    _random = random.Random()
    _getrandbits = _random.getrandbits


def reseed_after_fork() -> None:
    """A forked child draws other ids than its parent (`random` does this for its global
    generator only)."""
    if _random is not None:
        _random.seed()


class SpanSink(Protocol):
    """What receives spans as they start and end (an SDK `SpanProcessor` fits)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None: ...

    def on_end(self, span: Any) -> None: ...


class RunSpan:
    """What a run's trace lines need, with the part of the OpenTelemetry `Span` interface the
    recorder uses. Never handed to OpenTelemetry: it is in no context and no exporter. It is
    its own span context (`trace_id`, `span_id`, `is_valid`): one object a run, not two."""

    __slots__ = ("_sink", "attributes", "end_time", "name", "run_id", "span_id", "start_time",
                 "trace_id")
    is_valid = True

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        attributes: dict[str, Any],
        start_time: int,
        sink: SpanSink,
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.run_id = format(span_id, "016x")
        self.attributes = attributes
        self.start_time = start_time
        self.end_time: int | None = None
        self._sink = sink

    @property
    def context(self) -> RunSpan:
        return self

    def get_span_context(self) -> RunSpan:
        return self

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_time is None:
            self.attributes.update(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        if self.end_time is None:
            self.attributes[key] = value

    def is_recording(self) -> bool:
        return self.end_time is None

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else now_ns()
        self._sink.on_end(self)

    def finish(self, end: dict[str, Any], end_time: int) -> None:
        """End with the END line's attributes (`set_attributes(end)` and `end()` in one)."""
        if self.end_time is not None:
            return
        self.attributes.update(end)
        self.end_time = end_time
        self._sink.write_end(self.run_id, end_time, end)


class LeanSpanFactory:
    def __init__(self, sink: SpanSink) -> None:
        self._sink = sink

    def start(
        self, name: str, attributes: dict[str, Any], start_ns: int, parent_span: Any = None,
    ) -> RunSpan:
        """A run's span; `parent_span`: the run this one happens in, if any."""
        parent: Any = None
        if parent_span is None:
            # Only a program that imported OpenTelemetry can have a current span.
            otel_trace = _modules.get("opentelemetry.trace")
            if otel_trace is not None:
                parent_span = otel_trace.get_current_span()
        if parent_span is not None:
            parent = parent_span.get_span_context()
            if not parent.is_valid:
                parent = None
        trace_id = parent.trace_id if parent is not None else (_getrandbits(128) or 1)
        span = RunSpan(name, trace_id, _getrandbits(64) or 1, attributes, start_ns, self._sink)
        if parent is None:
            parent_hex = None
        elif type(parent) is RunSpan:  # the run this one happens in: its id is ready
            parent_hex = parent.run_id
        else:
            parent_hex = format(parent.span_id, "016x")
        self._sink.write_start(span.run_id, format(trace_id, "032x"), parent_hex, name,
                               start_ns, attributes)
        return span

    def failed(self, span: Any) -> None:
        """The run raised: the trace file's END line says so, nothing else to mark."""

    def shutdown(self) -> None:
        pass


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
