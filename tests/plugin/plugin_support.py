"""What the plugin's tests share besides fixtures: the suite runner and a few constants.

A module of its own (not imported from conftest) because test folders here have no
`__init__.py`: every folder's conftest is a module named `conftest`, so importing names from
one is at the mercy of which was imported first.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENTLIB = (REPO / "samples" / "agentlib.py").read_text(encoding="utf-8")
TARGETS = ("--racetrace-target", "agentlib:Agent.run")
RUN_TIMEOUT = 300  # generous: two shared cores, and other suites running beside this one


def entry_point_installed() -> bool:
    return any(ep.name == "racetrace" for ep in importlib.metadata.entry_points(group="pytest11"))


@dataclass
class Suite:
    """A test suite under test, and how to run it."""

    pytester: pytest.Pytester

    @property
    def path(self) -> Path:
        return self.pytester.path

    def write(self, **files: str) -> None:
        self.pytester.makepyfile(**files)

    def run(self, *args: str, plugins: Sequence[str] = (), autoload: bool = False
            ) -> pytest.RunResult:
        """`pytest -p racetrace -p PLUGIN... ARGS` in a subprocess, in the suite's folder;
        with `autoload`, every installed plugin loads as usual instead."""
        with pytest.MonkeyPatch.context() as mp:
            if autoload:
                mp.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
                loads: list[str] = []
            else:
                mp.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
                loads = ["-p", "racetrace"]
                for plugin in plugins:
                    loads += ["-p", plugin]
            return self.pytester.runpytest_subprocess(*loads, *args, timeout=RUN_TIMEOUT)


def racetrace_lines(result: pytest.RunResult) -> list[str]:
    """Lines the plugin or tracer wrote about its own trouble (there should be none)."""
    return [line for line in result.errlines if line.startswith("racetrace:")]
