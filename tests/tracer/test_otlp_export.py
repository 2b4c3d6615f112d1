"""With OTEL_EXPORTER_OTLP_ENDPOINT set, runs also go out over OTLP/HTTP; the file still fills."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

if TYPE_CHECKING:
    from conftest import Programs


class Collector(ThreadingHTTPServer):
    """A stand-in OpenTelemetry Collector: keeps every decoded POST to /v1/traces."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.paths.append(self.path)
        self.server.requests.append(request)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def test_runs_are_exported_over_otlp_and_written_to_the_file(
    programs: Programs, collector: Collector
) -> None:
    source = """
        import asyncio
        from agentlib import Agent

        async def main():
            agent = Agent("exported")
            await asyncio.gather(agent.run("a"), agent.run("b"))

        asyncio.run(main())
    """
    done = programs.run(
        source,
        targets=["agentlib:Agent.run", "agentlib:Agent.run_stream"],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "shop"},
    ).check()
    assert done.racetrace_lines() == []
    assert set(collector.paths) == {"/v1/traces"}
    spans = []
    for request in collector.requests:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            assert resource["service.name"] == "shop"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "racetrace"
                spans.extend(scope_spans.spans)
    assert [s.name for s in spans] == ["agentlib.Agent.run"] * 2
    runs = {r.run_id: r for r in done.runs()}
    assert len(runs) == 2
    for span in spans:
        attributes = {a.key: _value(a.value) for a in span.attributes}
        run = runs[span.span_id.hex()]  # the run id is the span id
        assert span.trace_id.hex() == run.trace_id
        assert attributes["racetrace.instance.key"] == run.instance_key
        assert attributes["racetrace.instance.label"] == "exported"
        assert attributes["racetrace.instance.class"] == "agentlib.Agent"
        assert attributes["racetrace.end.status"] == "ok"
        assert attributes["racetrace.task.name"] == run.task_name
        assert attributes["code.file.path"] == str(programs.root / "main.py")
        assert attributes["process.pid"] == run.pid
        assert span.start_time_unix_nano == run.start_ns
        assert span.end_time_unix_nano == run.end_ns


@pytest.mark.parametrize(
    ("setting", "exported"),
    [
        ({"OTEL_TRACES_SAMPLER": "always_off"}, 3),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, 3),
        ({"OTEL_SDK_DISABLED": "true"}, 0),
    ],
)
def test_otel_sampling_settings_never_empty_the_trace_file(
    programs: Programs, collector: Collector, setting: dict[str, str], exported: int
) -> None:
    # Overlap analysis needs every run: a sampler may thin what is exported (racetrace keeps
    # every run there too, the Collector can sample), never what the file records.
    programs.module("worker", "class Worker:\n    def work(self):\n        return 1\n")
    done = programs.run(
        "from worker import Worker\nfor _ in range(3):\n    Worker().work()\n",
        targets=["worker:Worker.work"],
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, **setting},
    ).check()
    runs = done.runs()
    assert len(runs) == 3 and all(r.status == "ok" for r in runs)
    spans = [
        span
        for request in collector.requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert len(spans) == exported
