from racetrace.cli import entry

entry()
