"""The timeline of a failing test as an SVG picture, beside the session's JSON report.

When `--racetrace-report` names a folder (`--racetrace-report racetrace-out/`), the report goes
there as `racetrace-report.json`, and each test that racetrace fails gets its timeline there too
(`<test id>.svg`): what a CI job keeps as an artifact, for whoever reads the pull request. The
picture is the TUI's own screen (`racetrace.tui.picture`), showing the test's runs and the
findings it failed on.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from racetrace.analyzers.findings.report import Finding, Report

REPORT_NAME = "racetrace-report.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def names_folder(report: str | None) -> bool:
    """Whether `--racetrace-report` names a folder: an existing one, or a path ending in /."""
    return report is not None and (report.endswith(("/", os.sep)) or os.path.isdir(report))


def report_path(report: str) -> str:
    """Where the JSON report goes: into the folder, or the file named."""
    return os.path.join(report, REPORT_NAME) if names_folder(report) else report


def picture_path(folder: str, nodeid: str, when: str) -> str:
    """`tests/test_x.py::test_y[a/b]` → `tests_test_x.py_test_y_a_b_.svg`, one file a test
    (its teardown's own, should the teardown fail too)."""
    name = _UNSAFE.sub("_", nodeid).strip("_") or "test"
    suffix = "" if when == "call" else f"-{when}"
    return os.path.join(folder, f"{name[:150]}{suffix}.svg")


def write_picture(folder: str, nodeid: str, when: str, analysis: Report,
                  findings: Sequence[Finding]) -> str:
    """Draw the test's runs and `findings` (those it failed on); return the file written."""
    from racetrace.tui.picture import render

    report = dataclasses.replace(analysis, findings=list(findings))
    svg = render(analysis.trace, report, source=nodeid, fmt="svg")
    path = picture_path(folder, nodeid, when)
    os.makedirs(folder, exist_ok=True)
    from racetrace.analyzers.outputs.outfile import open_private

    # 0600, an older file too: the picture names the program's classes, objects and call sites.
    with open_private(path) as f:
        f.write(svg.encode("utf-8"))
    return path
