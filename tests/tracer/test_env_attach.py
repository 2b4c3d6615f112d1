"""Attaching by environment variable, the disabled path, and `racetrace run`: real processes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Programs

WORKER = """
    class Worker:
        def __init__(self, name):
            self.name = name

        def work(self, n):
            return n * 2
"""

USES_WORKER = """
    import sys
    from worker import Worker

    w = Worker("w1")
    print(w.work(21))
    sys.exit(3)
"""


def test_target_imported_after_startup_is_traced(programs: Programs) -> None:
    programs.module("worker", WORKER)
    done = programs.run(USES_WORKER, targets=["worker:Worker.work"])
    assert (done.returncode, done.stdout, done.racetrace_lines()) == (3, "42\n", [])
    [run] = done.runs()
    assert run.method == "worker.Worker.work"
    assert run.instance_label == "w1"
    assert run.instance_class == "worker.Worker"
    assert run.status == "ok"


def test_target_in_a_module_imported_before_startup_is_traced(programs: Programs) -> None:
    # site imports _sitebuiltins before it processes .pth files: the hook must patch at once.
    done = programs.run(
        "print(repr(exit))\n", targets=["_sitebuiltins:Quitter.__repr__"]
    ).check()
    assert done.stdout.startswith("Use exit()")
    [run] = done.runs()
    assert run.method == "_sitebuiltins.Quitter.__repr__"
    assert run.instance_class == "_sitebuiltins.Quitter"
    assert run.instance_label == "exit"  # Quitter.name


def test_start_from_code_patches_an_already_imported_module(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        from worker import Worker
        import racetrace

        w = Worker("early")
        racetrace.start(["worker:Worker.work"])
        print(w.work(1), Worker("late").work(2))
    """
    done = programs.run(source, enabled=None).check()
    assert done.stdout == "2 4\n"
    assert [r.instance_label for r in done.runs()] == ["early", "late"]


@pytest.mark.parametrize(
    "bad_target",
    ["worker:Worker.nope", "not a target", "worker:", "worker:Worker.work.__call__.x"],
)
def test_bad_target_prints_one_line_and_the_program_runs_on(
    programs: Programs, bad_target: str
) -> None:
    programs.module("worker", WORKER)
    untraced = programs.run(USES_WORKER, enabled=None)
    traced = programs.run(USES_WORKER, targets=[bad_target, "worker:Worker.work"])
    assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout)
    [line] = traced.racetrace_lines()
    assert traced.stderr == line + "\n"
    # The good target next to the bad one is still traced.
    assert [r.method for r in traced.runs()] == ["worker.Worker.work"]


def test_unknown_preset_is_one_line_and_the_program_runs_on(programs: Programs) -> None:
    programs.module("worker", WORKER)
    done = programs.run(USES_WORKER, targets=["worker:Worker.work"], enabled="no-such-preset")
    assert (done.returncode, done.stdout) == (3, "42\n")
    [line] = done.stderr.splitlines()
    assert line.startswith("racetrace: ") and "no-such-preset" in line
    assert len(done.runs()) == 1


def test_attaching_twice_records_each_run_once(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        import site, sysconfig
        import racetrace

        site.addsitedir(sysconfig.get_paths()["purelib"])  # processes racetrace.pth again
        racetrace.start()                                  # and the API on top
        from worker import Worker
        Worker("once").work(1)
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    assert done.stderr == ""
    assert len(done.files()) == 1
    assert [r.instance_label for r in done.runs()] == ["once"]


def test_program_output_exit_code_and_exceptions_are_unchanged(programs: Programs) -> None:
    programs.module("worker", WORKER)
    source = """
        from worker import Worker

        class Boom(Exception):
            pass

        def fail(self, n):
            raise Boom(f"failed at {n}")

        Worker.fail = fail
        print(Worker("w").work(5))
        Worker("w").fail(7)
    """
    untraced = programs.run(source, enabled=None)
    traced = programs.run(source, targets=["worker:Worker.work"])
    assert traced.returncode == untraced.returncode == 1
    assert traced.stdout == untraced.stdout == "10\n"
    assert traced.stderr.splitlines()[-1] == untraced.stderr.splitlines()[-1]
    assert traced.stderr.splitlines()[-1] == "Boom: failed at 7"


@pytest.mark.parametrize("value", [None, "0", "off"])
def test_disabled_tracing_imports_nothing_and_writes_nothing(
    programs: Programs, value: str | None
) -> None:
    programs.module("worker", WORKER)
    source = """
        import sys
        from worker import Worker

        print(Worker("w").work(1))
        heavy = ("opentelemetry", "wrapt", "orjson", "msgspec", "racetrace")
        print(sorted({m.split(".")[0] for m in sys.modules if m.startswith(heavy)}))
    """
    done = programs.run(source, targets=["worker:Worker.work"], enabled=value).check()
    assert done.stdout == "2\n[]\n"
    assert done.stderr == ""
    assert not programs.trace_dir.exists()


def test_import_racetrace_is_cheap_when_tracing_is_off(programs: Programs) -> None:
    source = """
        import sys
        import racetrace

        heavy = ("opentelemetry", "wrapt", "orjson", "msgspec", "racetrace.tracer",
                 "racetrace.analyzers", "networkx", "textual", "rich", "asyncio")
        print(sorted(m for m in sys.modules if m.startswith(heavy)))
        print(racetrace.is_enabled())
    """
    done = programs.run(source, enabled=None).check()
    assert done.stdout == "[]\nFalse\n"


def test_racetrace_run_traces_a_command(programs: Programs) -> None:
    programs.module("worker", WORKER)
    main = programs.module("main", USES_WORKER)
    done = programs.racetrace(
        "run", "--target", "worker:Worker.work", "--dir", "cli-traces", "--",
        sys.executable, str(main),
    )
    # The program's own exit status and stdout; racetrace's summary on stderr.
    assert (done.returncode, done.stdout) == (3, "42\n")
    assert done.stderr.startswith("SUMMARY: racetrace: no findings; 1 run")
    [file] = (programs.root / "cli-traces").rglob("*.jsonl")
    [run] = programs.load(file).runs
    assert run.method == "worker.Worker.work"
    assert run.callsite == f"{main}:6"
