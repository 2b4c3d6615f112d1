"""Inert unless asked: loaded in every session through its entry point, the plugin imports
nothing of OpenTelemetry, the tracer, networkx or Textual, writes nothing, and `-p no:racetrace`
keeps it out entirely."""

from __future__ import annotations

import subprocess
import sys

import pytest
from plugin_support import Suite

HEAVY = ("opentelemetry", "racetrace.tracer", "racetrace.analyzers", "networkx", "textual",
         "rich", "wrapt", "msgspec")


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, racetrace.pytest_plugin\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": ""}).stdout
    assert out.strip() == "[]"


def test_a_session_without_the_option_imports_nothing_of_it(suite: Suite) -> None:
    suite.write(test_plain=f"""
        import asyncio
        import sys

        import agentlib


        def test_nothing_was_imported(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("racetrace")
            assert not pytestconfig.pluginmanager.has_plugin("racetrace-session")
            loaded = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
            assert loaded == []


        def test_overlaps_go_unnoticed():
            agent = agentlib.Agent("shared")

            async def main():
                await asyncio.gather(agent.run("a"), agent.run("b"))

            asyncio.run(main())
            assert "opentelemetry" not in sys.modules
    """)
    result = suite.run("--racetrace-target", "agentlib:Agent.run", "--strict-markers")
    result.assert_outcomes(passed=2)
    assert "= racetrace =" not in result.stdout.str()  # no summary section either
    assert not (suite.path / "racetrace-traces").exists()


def test_the_entry_point_loads_it_and_no_racetrace_disables_it(suite: Suite) -> None:
    suite.write(test_plugins="""
        def test_loaded(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("racetrace")
    """)
    # Every installed plugin loads, as in a user's session.
    loaded = suite.run("--racetrace", autoload=True)
    loaded.assert_outcomes(passed=1)
    disabled = suite.run("-p", "no:racetrace", autoload=True)
    disabled.assert_outcomes(failed=1)
    refused = suite.run("-p", "no:racetrace", "--racetrace", autoload=True)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*unrecognized arguments: --racetrace*"])
