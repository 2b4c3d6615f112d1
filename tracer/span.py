"""Spans for runs: a lean OpenTelemetry `Span` by default, the SDK's when exporting over OTLP.

The SDK's span object costs ~62 µs a run on our machines, most of the tracing overhead. A run
needs only what the trace file records, so by default a run is a `RunSpan`: a real
`opentelemetry.trace.Span` whose parent is the run it happens in (else the program's current
span, so a run inside the user's own span carries its trace id). It is not set in the
OpenTelemetry context: a span that no backend receives must not become the parent of the
program's own spans. When an OTLP endpoint is configured, runs are SDK spans instead, through a
private `TracerProvider` whose processors are our file writer and the OTLP batch exporter, and
are set in the context (runtime.activate), so spans made inside a run are its children there.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.util import types

from .clock import now_ns

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


class SpanSink(Protocol):
    """What receives spans as they start and end (an SDK `SpanProcessor` fits)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None: ...

    def on_end(self, span: Any) -> None: ...


class RunSpan(trace.Span):
    """A recording span holding just what a run's trace lines need."""

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, types.AttributeValue],
        start_time: int,
        sink: SpanSink,
    ) -> None:
        self.name = name
        self.run_id = format(context.span_id, "016x")
        self.context = context
        self.parent = parent
        self.attributes = attributes
        self.start_time = start_time
        self.end_time: int | None = None
        self.status = _UNSET  # Status objects are immutable: one for every new span
        self._sink = sink

    def get_span_context(self) -> SpanContext:
        return self.context

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self.end_time is None:
            self.attributes.update(attributes)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self.end_time is None:
            self.attributes[key] = value

    def add_event(
        self,
        name: str,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
    ) -> None:
        """Events are not part of a run's record."""

    def update_name(self, name: str) -> None:
        self.name = name

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, StatusCode):
            status = Status(status, description)
        self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """The run's end line carries the exception's type and message instead."""

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else now_ns()
        self._sink.on_end(self)


class LeanSpanFactory:
    def __init__(self, sink: SpanSink) -> None:
        self._sink = sink

    def start(
        self, name: str, attributes: dict[str, types.AttributeValue], start_ns: int,
        parent_span: trace.Span | None = None,
    ) -> trace.Span:
        """A run's span; `parent_span`: the run this one happens in, if any."""
        if parent_span is None:
            parent_span = trace.get_current_span()
        parent = parent_span.get_span_context()
        if parent.is_valid:
            trace_id = parent.trace_id
        else:
            parent = None
            trace_id = random.getrandbits(128) or 1
        context = SpanContext(trace_id, random.getrandbits(64) or 1, False, _SAMPLED)
        span = RunSpan(name, context, parent, attributes, start_ns, self._sink)
        self._sink.on_start(span)
        return span

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

    def start(
        self, name: str, attributes: dict[str, types.AttributeValue], start_ns: int,
        parent_span: trace.Span | None = None,
    ) -> trace.Span:
        # The parent run is the current span of the OpenTelemetry context: runs are set there.
        return self._tracer.start_span(
            name,
            attributes=attributes,
            start_time=start_ns,
            record_exception=False,
            set_status_on_exception=False,
        )

    def shutdown(self) -> None:
        self._provider.shutdown()
