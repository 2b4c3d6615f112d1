"""racetrace.analyzers: read trace files back as runs, find and explain overlapping runs."""
