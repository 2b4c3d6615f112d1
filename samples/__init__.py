"""racetrace's samples: small programs that reproduce overlapping runs, each with a fixed twin.

Run one with `python samples/NAME.py` from a checkout (traced: `racetrace demo --sample NAME`).
Installed, they are the `racetrace.samples` package, which `racetrace demo` finds.
"""
