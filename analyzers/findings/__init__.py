"""The findings: runs in, a `Report` out (overlaps, their kinds, explanations)."""
