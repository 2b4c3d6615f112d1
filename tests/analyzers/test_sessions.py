"""Trace sessions: each traced program run writes a folder of its own, which its children join;
commands read the latest one; `racetrace run` answers like a race detector; a `--fail-on` gate
on nothing recorded does not pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from racetrace.tracer.session import sessions_in

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TARGETS = ["-t", "agentlib:Agent.run", "-t", "agentlib:Agent.run_stream"]


def racetrace(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, in an environment without the caller's RACETRACE settings."""
    return subprocess.run(
        [sys.executable, "-m", "racetrace", *args], capture_output=True, text=True,
        timeout=180, cwd=cwd, env=plain_env(**(env or {})), input=input,
    )


def plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACE")}
    env.update(extra)
    return env


def traced(script: Path, root: Path, *args: str, env: dict[str, str] | None = None,
           ) -> tuple[int, str, str]:
    done = racetrace("run", "-d", str(root), *TARGETS, *args, "--", sys.executable, str(script),
                     cwd=SAMPLES, env=env)
    return done.returncode, done.stdout, done.stderr


def test_a_fixed_rerun_in_the_same_folder_is_judged_alone(tmp_path: Path) -> None:
    root = tmp_path / "racetrace-traces"
    assert traced(SAMPLES / "shared_gather.py", root)[0] == 0
    time.sleep(0.01)
    assert traced(SAMPLES / "shared_gather_fixed.py", root)[0] == 0
    assert len(sessions_in(str(root))) == 2

    # No PATH: the latest session under $RACETRACE_DIR, which has no finding.
    latest = racetrace("report", "--fail-on", "overlap", cwd=tmp_path,
                       env={"RACETRACE_DIR": str(root)})
    assert latest.returncode == 0, latest.stdout + latest.stderr
    assert "no findings; 3 runs on 3 instances" in latest.stdout
    # The folder of sessions: the latest too, and it says so.
    named = racetrace("report", str(root), "--fail-on", "overlap")
    assert named.returncode == 0
    assert "reading the latest of 2 sessions" in named.stderr
    # --all: both runs, so the old finding again.
    both = racetrace("report", str(root), "--all", "--fail-on", "overlap")
    assert both.returncode == 66
    assert "6 runs" in both.stdout
    # One session by its folder.
    [first, _] = sessions_in(str(root))
    assert racetrace("report", first, "--fail-on", "overlap").returncode == 66


def test_children_join_the_session_of_the_program_that_started_them(tmp_path: Path) -> None:
    script = tmp_path / "spawner.py"
    script.write_text(textwrap.dedent("""
        import asyncio, multiprocessing, subprocess, sys
        from agentlib import Agent

        def work(name):
            asyncio.run(Agent(name).run("hi"))

        if __name__ == "__main__":
            work("parent")
            subprocess.run([sys.executable, "-c",
                            "import asyncio; from agentlib import Agent; "
                            "asyncio.run(Agent('child').run('hi'))"], check=True)
            for method in ("fork", "spawn"):
                p = multiprocessing.get_context(method).Process(target=work, args=(method,))
                p.start(); p.join()
    """))
    root = tmp_path / "traces"
    env = plain_env(RACETRACE="1", RACETRACE_DIR=str(root), RACETRACE_TARGETS="agentlib:Agent.run",
                    PYTHONPATH=str(SAMPLES))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [session] = sessions_in(str(root))
    files = sorted(Path(session).glob("*.jsonl"))
    assert len(files) == 4  # parent, subprocess, fork and spawn workers: one session
    runs = racetrace("runs", "--json", cwd=tmp_path, env={"RACETRACE_DIR": str(root)})
    assert runs.returncode == 0, runs.stderr
    assert sorted(r["instance_label"] for r in json.loads(runs.stdout)) == [
        "child", "fork", "parent", "spawn"]


def test_a_named_session_and_pruning_keep_the_newest(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    for _ in range(4):
        assert traced(SAMPLES / "shared_gather_fixed.py", root,
                      env={"RACETRACE_KEEP": "3"})[0] == 0
        time.sleep(0.01)
    assert len(sessions_in(str(root))) == 3
    # Something that is not a trace file makes a folder the user's: never pruned.
    [oldest, *_] = sessions_in(str(root))
    (Path(oldest) / "notes.txt").write_text("mine")
    assert traced(SAMPLES / "shared_gather_fixed.py", root, env={"RACETRACE_KEEP": "1"})[0] == 0
    left = sessions_in(str(root))
    assert left[0] == oldest and len(left) == 2
    assert traced(SAMPLES / "shared_gather.py", root, env={"RACETRACE_SESSION": "nightly"})[0] == 0
    assert (root / "nightly").is_dir() and list((root / "nightly").glob("*.jsonl"))


def test_sessions_lists_time_command_processes_runs_findings(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    traced(SAMPLES / "shared_gather.py", root)
    time.sleep(0.01)
    traced(SAMPLES / "shared_gather_fixed.py", root)
    listed = racetrace("sessions", str(root))
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if "shared_gather" in line]
    assert len(lines) == 2
    assert "shared_gather.py" in lines[0] and lines[0].split()[-1] == "1"
    assert "(latest)" in lines[1] and lines[1].split()[-1] == "0"


def test_an_older_flat_folder_still_loads(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    traced(SAMPLES / "shared_gather.py", root)
    [session] = sessions_in(str(root))
    flat = tmp_path / "flat"
    flat.mkdir()
    for file in Path(session).glob("*.jsonl"):
        (flat / file.name).write_bytes(file.read_bytes())
    done = racetrace("report", str(flat), "--fail-on", "overlap")
    assert done.returncode == 66 and "concurrent" in done.stdout


def test_run_summarizes_findings_and_fails_on_request(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    code, out, err = traced(SAMPLES / "shared_gather.py", root, "--fail-on", "overlap")
    assert code == 66
    assert "3 answers" in out  # the program's own stdout, untouched
    assert "concurrent runs on Agent 'assistant'" in err and "SUMMARY: racetrace: 1 finding" in err
    assert "racetrace report" in err
    code, out, err = traced(SAMPLES / "shared_gather_fixed.py", root, "--fail-on", "overlap")
    assert code == 0 and "no findings" in err
    # -v: the whole report.
    code, _, err = traced(SAMPLES / "shared_gather.py", root, "-v")
    assert code == 0
    assert "Task-2" in err  # the runs' sides, which only the full report lists


def test_run_keeps_the_programs_own_failure(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(textwrap.dedent("""
        import asyncio, sys
        from agentlib import Agent

        async def main():
            agent = Agent("a")
            await asyncio.gather(agent.run("x"), agent.run("y"))
            sys.exit(3)

        asyncio.run(main())
    """))
    done = racetrace("run", "-d", str(tmp_path / "t"), *TARGETS, "--fail-on", "overlap", "--",
                     sys.executable, str(script), env={"PYTHONPATH": str(SAMPLES)})
    assert done.returncode == 3
    assert "concurrent" in done.stderr


def test_run_passes_stdin_through(tmp_path: Path) -> None:
    done = racetrace("run", "-d", str(tmp_path / "t"), "--", sys.executable, "-c",
                     "import sys; print(sys.stdin.read().upper())", input="hello")
    assert done.returncode == 0 and done.stdout.strip() == "HELLO"


@pytest.mark.parametrize("command", ["report", "run"])
def test_a_gate_on_nothing_recorded_does_not_pass(tmp_path: Path, command: str) -> None:
    root = tmp_path / "traces"
    if command == "report":
        root.mkdir()
        done = racetrace("report", str(root), "--fail-on", "overlap")
        assert done.returncode == 2
        assert done.stderr.startswith("racetrace: no trace files in")
        allowed = racetrace("report", str(root), "--fail-on", "overlap", "--allow-empty")
        assert allowed.returncode == 0
        # Without --fail-on, an empty folder is just an empty report.
        assert racetrace("report", str(root)).returncode == 0
    else:
        done = racetrace("run", "-d", str(root), "-t", "agentlib:Nothing.run", "--fail-on",
                         "overlap", "--", sys.executable, "-c", "pass")
        assert done.returncode == 2
        assert "--allow-empty" in done.stderr
        allowed = racetrace("run", "-d", str(root), "--fail-on", "overlap", "--allow-empty",
                            "--", sys.executable, "-c", "pass")
        assert allowed.returncode == 0


def test_help_never_breaks_a_word_at_its_hyphen() -> None:
    done = racetrace("--help", env={"COLUMNS": "60"})
    assert done.returncode == 0
    assert "./racetrace-traces/" in done.stdout
    report = racetrace("report", "--help", env={"COLUMNS": "60"})
    assert "--allow-empty" in report.stdout and "--fail-on" in report.stdout
    assert not any(line.rstrip().endswith("-") for line in report.stdout.splitlines()
                   if not line.strip().startswith("-"))


def test_demo_of_a_framework_that_is_missing_names_the_extra(tmp_path: Path) -> None:
    # The framework is installed here: hide it, as on a machine without it.
    program = textwrap.dedent("""
        import sys

        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "autogen_agentchat":
                    raise ModuleNotFoundError(name)

        sys.meta_path.insert(0, Hide())
        from racetrace.cli import main
        sys.exit(main(["demo", "--sample", "autogen_shared_agent", "--no-tui"]))
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, env=plain_env(), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: demo: samples/autogen_shared_agent.py needs AutoGen")
    assert "pip install '.[autogen]'" in done.stderr


def test_trace_files_outside_sessions_count_as_one_more_session(tmp_path: Path) -> None:
    """The pytest plugin writes its folder flat: in a folder of sessions its files are one more
    session, never mixed into the others."""
    root = tmp_path / "traces"
    traced(SAMPLES / "shared_gather.py", root)
    [session] = sessions_in(str(root))
    time.sleep(0.01)
    for file in Path(session).glob("*.jsonl"):  # a newer flat set: a copy, rewritten now
        (root / f"flat-{file.name}").write_bytes(file.read_bytes())
    newest_flat = racetrace("report", str(root), "--fail-on", "overlap")
    assert newest_flat.returncode == 66
    assert "the trace files outside its sessions" in newest_flat.stderr
    assert "3 runs on 1 instance" in newest_flat.stdout  # the flat copy alone, not both
    time.sleep(0.01)
    traced(SAMPLES / "shared_gather_fixed.py", root)
    latest = racetrace("report", str(root), "--fail-on", "overlap")
    assert latest.returncode == 0 and "3 runs on 3 instances" in latest.stdout


def test_no_traces_yet_says_how_to_make_some(tmp_path: Path) -> None:
    done = racetrace("report", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("racetrace: racetrace-traces: no traces yet")


def test_run_refuses_a_bad_suppressions_file_before_running_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = racetrace("run", "-d", str(tmp_path / "t"), "--", sys.executable, "-c",
                     f"open({str(marker)!r}, 'w').close()",
                     env={"RACETRACE_SUPPRESSIONS": str(tmp_path / "missing.supp")})
    assert done.returncode == 2 and done.stderr.startswith("racetrace: ")
    assert not marker.exists()


def test_sessions_of_one_session_folder_lists_it(tmp_path: Path) -> None:
    root = tmp_path / "traces"
    traced(SAMPLES / "shared_gather.py", root)
    [session] = sessions_in(str(root))
    listed = racetrace("sessions", session)
    assert listed.returncode == 0 and Path(session).name in listed.stdout
    not_a_folder = racetrace("sessions", str(next(Path(session).glob("*.jsonl"))))
    assert not_a_folder.returncode == 2 and "not a directory" in not_a_folder.stderr


def test_follow_on_a_folder_of_sessions_reads_the_latest_and_the_ones_to_come(
        tmp_path: Path) -> None:
    from racetrace.tui.follow import Follower

    from racetrace.commands.tui import older_sessions

    root = tmp_path / "traces"
    traced(SAMPLES / "shared_gather.py", root)  # three runs on one agent
    time.sleep(0.01)
    traced(SAMPLES / "shared_gather_fixed.py", root)  # three runs on three agents
    follower = Follower([str(root)], skip_folder=older_sessions([str(root)]))
    follower.poll()
    assert len({r.instance_key for r in follower.snapshot().runs}) == 3  # the latest only
    time.sleep(0.01)
    traced(SAMPLES / "shared_gather.py", root)  # a program run while following
    follower.poll()
    assert len(follower.snapshot().runs) == 6
