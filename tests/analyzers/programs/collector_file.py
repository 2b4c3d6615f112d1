"""An OpenTelemetry SDK span exporter that writes OTLP JSON lines as the Collector's file
exporter does, for the programs that test reading other tools' spans."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class CollectorFileExporter(SpanExporter):
    """One OTLP/JSON line per exported batch, as the Collector's file exporter writes: the
    protobuf JSON mapping of an ExportTraceServiceRequest, enums as numbers, 64-bit integers
    as strings, and trace and span ids in hex (where OTLP/JSON departs from that mapping)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
        for resource_spans in request["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    for field in ("traceId", "spanId", "parentSpanId"):
                        if span.get(field):
                            span[field] = base64.b64decode(span[field]).hex()
        self._file.write(json.dumps(request) + "\n")
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()
