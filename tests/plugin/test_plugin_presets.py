"""`--racetrace` turns the framework presets on, as RACETRACE=1 does: no target to name."""

from __future__ import annotations

import pytest
from plugin_support import REPO, Suite, racetrace_lines

pytest.importorskip("autogen_agentchat")
pytest.importorskip("autogen_ext.models.replay")


def test_the_autogen_preset_fails_a_test_sharing_one_agent(suite: Suite) -> None:
    # The AutoGen sample and its fixed twin, beside the suite (the twin imports the sample).
    for name in ("autogen_shared_agent", "autogen_shared_agent_fixed"):
        suite.write(**{name: (REPO / "samples" / f"{name}.py").read_text(encoding="utf-8")})
    suite.write(test_autogen="""
        import asyncio

        import autogen_shared_agent
        import autogen_shared_agent_fixed


        def test_one_agent_for_every_request():
            asyncio.run(autogen_shared_agent.main())


        def test_an_agent_per_request():
            asyncio.run(autogen_shared_agent_fixed.main())
    """)
    result = suite.run("--racetrace")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*_ test_one_agent_for_every_request _*",
        "WARNING: racetrace: concurrent runs on AssistantAgent 'support' (*)*",
    ])
    result.stdout.fnmatch_lines([
        "FAILED test_autogen.py::test_one_agent_for_every_request - racetrace*",
    ])
    assert racetrace_lines(result) == []
