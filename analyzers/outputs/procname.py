"""How a run's process reads in the text report, the run table and the timeline.

Our own traces always know the pid. Other tools' OTLP spans know it only when their resource
carries `process.pid` (the OpenTelemetry SDK adds it only with the process resource detector);
pid 0 then means unknown, and the service name is what names the process.
"""

from __future__ import annotations


def process_text(pid: int, host: str, service: str | None) -> str:
    """`pid 123 on web-1`; for another tool's spans without a host or a pid,
    `pid 123, service agents` or `pid unknown, service agents`."""
    text = f"pid {pid}" if pid else "pid unknown"
    # Without host.name the OTLP reader files the process under its service name: not a host.
    if host and host != service:
        text += f" on {host}"
        if not pid and service:
            text += f", service {service}"
    elif service:
        text += f", service {service}"
    elif pid:
        text += " on ?"
    return text
