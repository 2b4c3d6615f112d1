"""How a run's process reads in the text report, the run table and the timeline.

Our own traces always know the pid. Other tools' OTLP spans know it only when their resource
carries `process.pid` (the OpenTelemetry SDK adds it only with the process resource detector);
pid 0 then means unknown, and the service name is what names the process.
"""

from __future__ import annotations


def process_text(pid: int, host: str, service: str | None) -> str:
    """`pid 123 on web-1`, or `service ag-demo, pid unknown` for a span without a pid."""
    if pid:
        return f"pid {pid} on {host or '?'}"
    where = f"service {service}, pid unknown" if service else "pid unknown"
    # Without host.name the OTLP reader files the process under its service name.
    return f"{where} on {host}" if host and host != service else where
