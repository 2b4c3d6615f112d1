"""The benchmark runner runs end to end and prints a row, with numbers, for every figure.

Smoke only: `--quick` on a tiny trace (a few seconds), no timing asserted. The figures
themselves are for `python benchmarks/run_all.py` at full size, by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"

FIGURES = (
    "traced call (sync) / bare OTel SDK span",
    "traced call (async) / bare OTel SDK span",
    "RACETRACE=1 python -c pass / plain",
    "report -j 1, 1,000 runs / read-and-split",
    "report -j 2, 1,000 runs / read-and-split",
    "report -j 1 peak memory, 1,000 runs",
    "report -j 2 peak memory, 1,000 runs",
    "tui launch to lanes on screen, 1,000 runs",
    "tui launch to all lanes loaded, 1,000 runs",
    "tui launch to findings listed, 1,000 runs",
    "tui peak memory, 1,000 runs",
    "tui key to screen, median, 1,000 runs",
    "tui key to screen, worst, 1,000 runs",
    "  for reference: floor recorder (sync) / SDK span",
    "  for reference: floor recorder (async) / SDK span",
)
NUMBER = r"[\d,]+(?:\.\d+)?"
# measured, floor (with their unit), the ratio of the two
ROW = re.compile(rf"\s+({NUMBER}) (?:ns|ms|MB)\s+({NUMBER}) (?:ns|ms|MB)\s+({NUMBER})x\s+\S")


def test_runner_prints_every_figure_beside_its_floor(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")}
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--runs", "1000", "--tui-runs", "1000",
         "--starts", "2", "--calls", "100", "--dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for figure in FIGURES:
        row = [line for line in lines if line.startswith(figure + " ")]
        assert len(row) == 1, f"no row for {figure!r} in:\n{done.stdout}"
        match = ROW.match(row[0][len(figure):])
        assert match, f"no measured, floor and ratio in {row[0]!r}"
        measured, floor, _ = (float(v.replace(",", "")) for v in match.groups())
        assert measured > 0 and floor > 0, row[0]
    # --dir keeps the traces it wrote, for the next run to reuse.
    assert list((tmp_path / "mixed-1000").glob("*.jsonl"))

    # --only runs those groups alone; a group it does not know is a usage error.
    only = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--only", "startup", "--starts", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert only.returncode == 0, only.stderr
    assert "RACETRACE=1 python -c pass / plain" in only.stdout
    assert "traced call" not in only.stdout and "report -j" not in only.stdout
    bad = subprocess.run([sys.executable, str(RUNNER), "--only", "nope"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "unknown group" in bad.stderr
