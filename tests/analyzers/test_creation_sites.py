"""Where the shared instance was created, recorded once per object by the tracer and used by
the report: real programs traced in a subprocess, as a user records them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from racetrace.analyzers.outputs.render_text import render_to_string

PROGRAMS = Path(__file__).parent / "programs"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TARGETS = ("agentlib:Agent.run", "agentlib:Agent.run_stream", "agentlib:Team.run")
CREATED = "racetrace.instance.created_at"


def trace_lines(directory: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(directory.rglob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


def racetrace(*args: str, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The racetrace CLI in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "racetrace", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})})


def record_program(script: Path, directory: Path) -> Path:
    args = ["run", "-d", str(directory)]
    for target in TARGETS:
        args += ["-t", target]
    done = racetrace(*args, "--", sys.executable, str(script), cwd=script.parent,
                     env={"PYTHONPATH": str(SAMPLES)})
    assert done.returncode == 0, done.stderr
    return directory


def overlap_warnings(report) -> list:
    return [f for f in report.findings if f.severity == "warning"]


def test_the_site_is_written_on_the_first_run_of_each_instance_only(sample_trace) -> None:
    starts = [line for line in trace_lines(sample_trace("singleton_requests"))
              if line["type"] == "start"]
    assert len(starts) == 5
    carrying = [line for line in starts if CREATED in line]
    assert len(carrying) == 1 and carrying[0] is starts[0]
    first = carrying[0]
    assert first[CREATED] == f"{SAMPLES / 'singleton_requests.py'}:11"
    assert first["racetrace.instance.created_scope"] == "module"
    assert first["racetrace.instance.created_in"] == "<module>"


def test_a_module_level_singleton_is_reported_as_one(sample_trace, analyzed) -> None:
    report = analyzed([sample_trace("singleton_requests")])
    (finding,) = overlap_warnings(report)
    (site,) = finding.created
    assert (Path(site.file).name, site.line, site.scope, site.role) == (
        "singleton_requests.py", 11, "module", "singleton")
    (instance,) = [i for i in report.instances if not i.is_resource]
    assert instance.to_json()["created_at"]["role"] == "singleton"
    text = render_to_string(report, width=400)
    assert "created at singleton_requests.py:11, at module level: a singleton" in text
    # (On a loaded machine the arrivals can look like a timer's ticks: periodic, whose cause
    # and fix are the timer's. The seed's cause 1 is the concurrent reading.)
    if finding.kind == "concurrent":
        assert "module-level singleton" in finding.explanation
        assert "instead of once at singleton_requests.py:11" in finding.fix


def test_an_agent_made_once_in_main_and_gathered_names_main(sample_trace, analyzed) -> None:
    report = analyzed([sample_trace("shared_gather")])
    (finding,) = overlap_warnings(report)
    (site,) = finding.created
    assert (site.line, site.function, site.scope, site.role) == (16, "main", "function",
                                                                 "function")
    assert "created once at shared_gather.py:16 in main()" in finding.explanation


def test_several_instances_made_at_one_line_are_a_factory(tmp_path: Path, analyzed) -> None:
    report = analyzed([record_program(PROGRAMS / "factory_shared.py", tmp_path / "traces")])
    (finding,) = overlap_warnings(report)
    (site,) = finding.created
    assert (site.line, site.function, site.role, site.instances) == (9, "make_agent",
                                                                    "factory", 3)
    sites = {i.key: i.created_at for i in report.instances if not i.is_resource}
    assert len(sites) == 3 and all(s is not None and s.role == "factory" for s in sites.values())
    assert "A factory is in place (3 instances made at factory_shared.py:9" in (
        finding.explanation)
    assert "Call make_agent() in each task" in finding.fix


def test_runs_json_carries_each_runs_instance_creation_site(sample_trace) -> None:
    done = racetrace("runs", str(sample_trace("shared_gather")), "--json")
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert runs and all(r["instance_created_at"]["line"] == 16 for r in runs)


def test_an_object_created_before_tracing_started_has_no_site(tmp_path: Path,
                                                              analyzed) -> None:
    script = tmp_path / "late.py"
    script.write_text(
        "import asyncio\n"
        "import racetrace\n"
        "from agentlib import Agent\n"
        "AGENT = Agent('early')\n"
        f"racetrace.start(directory={str(tmp_path / 'traces')!r}, "
        f"targets={list(TARGETS)!r})\n"
        "async def main():\n"
        "    await asyncio.gather(AGENT.run('a'), AGENT.run('b'))\n"
        "asyncio.run(main())\n"
        "racetrace.stop()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACE", "OTEL_"))}
    env["PYTHONPATH"] = str(SAMPLES)
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    report = analyzed([tmp_path / "traces"])
    (finding,) = overlap_warnings(report)
    assert finding.created == ()
    assert "Agent 'early' created at" not in render_to_string(report, width=400)


MIXED_METHODS = '''
import asyncio


class Bot:
    async def run(self, task):
        await asyncio.sleep(0.05)

    async def step(self, task):
        await asyncio.sleep(0.05)


BOT = Bot()


async def main():
    await asyncio.gather(BOT.run("a"), BOT.step("b"), BOT.step("c"))
'''


def test_the_explanation_names_the_methods_that_ran(tmp_path: Path, analyzed) -> None:
    (tmp_path / "bots.py").write_text(MIXED_METHODS)
    script = tmp_path / "main.py"
    script.write_text("import asyncio\nimport bots\n\nasyncio.run(bots.main())\n")
    done = racetrace("run", "-d", str(tmp_path / "traces"), "-t", "bots:Bot.run",
                     "-t", "bots:Bot.step", "--", sys.executable, str(script), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = analyzed([tmp_path / "traces"])
    (finding,) = overlap_warnings(report)
    assert "3 runs (2 of Bot.step(), 1 of Bot.run())" in finding.explanation
    assert "runs of Bot.run()" not in finding.explanation
    assert "created at bots.py:13, at module level: a singleton" in render_to_string(
        report, width=400)


SINGLETON_SITE = {"racetrace.instance.created_at": "/app/app.py:12",
                  "racetrace.instance.created_in": "<module>",
                  "racetrace.instance.created_scope": "module"}


def test_a_latent_singleton_says_it_is_one(writer, analyzed) -> None:
    w = writer()
    w.run(0, 10, task="request-1", **SINGLETON_SITE)
    w.run(20, 30, task="request-2")
    report = analyzed([w.write()])
    (finding,) = report.findings
    assert finding.kind == "latent"
    assert "(a module-level singleton, created at app.py:12)" in finding.explanation


def test_the_site_is_found_on_the_second_run_when_two_threads_began_together(
        writer, analyzed) -> None:
    # Two threads began the instance's first runs at once; the later start carried the site.
    w = writer()
    w.run(0, 10, thread=1)
    w.run(0.1, 10, thread=2, **SINGLETON_SITE)
    report = analyzed([w.write()])
    (instance,) = report.instances
    assert instance.created_at is not None and instance.created_at.line == 12


FACTORY_SITE = {"racetrace.instance.created_at": "/app/app.py:30",
                "racetrace.instance.created_in": "make",
                "racetrace.instance.created_scope": "function"}


def test_a_line_run_once_in_each_of_two_processes_is_no_factory(writer, cli, tmp_path) -> None:
    # Two spawned workers each call make() once: per process, the line made one instance,
    # whether the processes are analyzed together (-j 1) or apart (-j 2).
    for pid in (501, 502):
        w = writer(f"p{pid}.jsonl", pid=pid)
        w.run(0, 10, key=f"{pid}/agent", task="main", **FACTORY_SITE)
        w.write()
    roles = []
    for jobs in ("1", "2"):
        out = tmp_path / f"report-{jobs}.json"
        done = cli("report", str(tmp_path / "traces"), "-j", jobs, "--json", str(out))
        assert done.returncode == 0, done.stderr
        instances = json.loads(out.read_bytes())["instances"]
        roles.append(sorted((i["created_at"]["role"], i["created_at"]["instances_at_site"])
                            for i in instances))
    assert roles[0] == roles[1] == [("function", 1), ("function", 1)]


@pytest.mark.parametrize("line", ["³", "9" * 40])
def test_a_bad_created_at_line_is_no_line(writer, cli, tmp_path, line: str) -> None:
    w = writer()
    w.run(0, 10, **{**FACTORY_SITE, "racetrace.instance.created_at": f"/app/app.py:{line}",
                    "racetrace.instance.created_scope": "lambda"})
    w.write()
    out = tmp_path / "report.json"
    done = cli("report", str(tmp_path / "traces"), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    (instance,) = json.loads(out.read_bytes())["instances"]
    site = instance["created_at"]
    assert (site["file"], site["line"], site["scope"]) == (f"/app/app.py:{line}", None, None)
