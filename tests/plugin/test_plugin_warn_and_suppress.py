"""Warn mode, suppressions, --racetrace-fail-on, and one-line errors for bad options."""

from __future__ import annotations

import pytest
from plugin_support import TARGETS, Suite, racetrace_lines

OVERLAPPING = """
    import asyncio

    import agentlib


    def test_gather_on_one_agent():
        agent = agentlib.Agent("shared")

        async def main():
            await asyncio.gather(agent.run("a"), agent.run("b"))

        asyncio.run(main())
"""


def test_warn_mode_reports_without_failing(suite: Suite) -> None:
    suite.write(test_suite=OVERLAPPING)
    result = suite.run("--racetrace=warn", *TARGETS)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "*= racetrace =*",
        "test_suite.py::test_gather_on_one_agent: warned (call): concurrent runs on Agent "
        "'shared' (*)",
        "    WARNING: racetrace: concurrent runs on Agent 'shared' (*)  [[]F1[]]",
        "    SUMMARY: racetrace: 1 finding (1 warning)*",
        "racetrace: 1 test with findings; trace files in racetrace-traces/*",
    ])
    assert racetrace_lines(result) == []


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_warning_reaches_the_junit_xml(suite: Suite, workers: tuple[str, ...]) -> None:
    from xml.etree import ElementTree

    suite.write(test_suite=OVERLAPPING + """

    def test_quiet():
        assert True
""")
    result = suite.run("--racetrace=warn", *TARGETS, "--junitxml", "junit.xml", *workers,
                       plugins=["xdist"] if workers else [])
    result.assert_outcomes(passed=2)
    cases = {c.get("name"): c for c in
             ElementTree.parse(suite.path / "junit.xml").getroot().iter("testcase")}
    warned = cases["test_gather_on_one_agent"]
    [prop] = [p for p in warned.iter("property") if p.get("name") == "racetrace"]
    assert prop.get("value").startswith("warned (call): concurrent runs on Agent 'shared'")
    [out] = warned.iter("system-out")
    assert "WARNING: racetrace: concurrent runs on Agent 'shared'" in out.text
    assert "SUMMARY: racetrace: 1 finding" in out.text
    quiet = cases["test_quiet"]
    assert not list(quiet.iter("property")) and not list(quiet.iter("system-out"))
    # Counted once in the terminal summary, though the property rides on two reports.
    assert result.stdout.str().count("test_gather_on_one_agent: warned (call)") == 1


def test_benign_suppression_lets_the_test_pass(suite: Suite) -> None:
    suite.write(test_suite=OVERLAPPING)
    (suite.path / "racetrace.supp").write_text(
        "# agents in this suite are meant to be shared\nbenign:agentlib.Agent\n",
        encoding="utf-8")
    result = suite.run("--racetrace", *TARGETS, "--racetrace-suppressions", "racetrace.supp")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["racetrace: no findings*"])


def test_ignore_rule_from_the_environment_applies_too(suite: Suite,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    suite.write(test_suite=OVERLAPPING)
    (suite.path / "env.supp").write_text("ignore:agentlib.Agent.run\n", encoding="utf-8")
    monkeypatch.setenv("RACETRACE_SUPPRESSIONS", str(suite.path / "env.supp"))
    result = suite.run("--racetrace", *TARGETS)
    result.assert_outcomes(passed=1)


def test_fail_on_decides_what_fails(suite: Suite) -> None:
    suite.write(test_suite=OVERLAPPING)
    (suite.path / "racetrace.supp").write_text("benign:agentlib.Agent\n", encoding="utf-8")
    # Lowered to info by the rule, the overlap still fails a build that asks for info.
    result = suite.run("--racetrace", *TARGETS, "--racetrace-suppressions", "racetrace.supp",
                       "--racetrace-fail-on", "concurrent:info")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*(lowered to info by suppression benign:agentlib.Agent)*"])


@pytest.mark.parametrize(("args", "message"), [
    (("--racetrace-suppressions", "missing.supp"),
     "ERROR: racetrace: --racetrace-suppressions: missing.supp: cannot read suppressions: "
     "No such file or directory"),
    (("--racetrace-target", "agentlib.Agent.run"),
     "ERROR: racetrace: --racetrace-target: bad target 'agentlib.Agent.run': expected "
     "module:Class.method*"),
    (("--racetrace-fail-on", "sometimes"),
     "ERROR: racetrace: --racetrace-fail-on: unknown term 'sometimes'*"),
    (("--racetrace=loudly",),
     "ERROR: racetrace: --racetrace=loudly: unknown mode 'loudly' (expected fail, warn or off)"),
])
def test_bad_options_are_one_line_usage_errors(suite: Suite, args: tuple[str, ...],
                                               message: str) -> None:
    suite.write(test_suite=OVERLAPPING)
    if "--racetrace=loudly" not in args:
        args = ("--racetrace", *args)
    result = suite.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (suite.path / "racetrace-traces").exists()


def test_a_bad_suppression_rule_names_file_and_line(suite: Suite) -> None:
    suite.write(test_suite=OVERLAPPING)
    (suite.path / "bad.supp").write_text("benign:ok.*\nsilence:agentlib.Agent\n",
                                         encoding="utf-8")
    result = suite.run("--racetrace", "--racetrace-suppressions", "bad.supp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: racetrace: --racetrace-suppressions: bad.supp:2: bad suppression rule "
        "'silence:agentlib.Agent'*",
    ])
