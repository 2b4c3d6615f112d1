"""racetrace.tracer: records every run of a traced method as an OpenTelemetry span.

Nothing here is imported until tracing is on: `attach.startup()` is the entry point.
"""
