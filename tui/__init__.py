"""racetrace.tui: the interactive terminal timeline."""
