"""The reading core: trace files (our JSON lines, OTLP) in, runs out, damage counted."""
