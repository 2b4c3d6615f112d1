"""The outputs: reports and runs out to people and to other tools (JSON, OTLP)."""
