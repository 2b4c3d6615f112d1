"""Targets in the script you run and in modules whose import runs the program: real processes.

The script runs as `__main__` and is never imported; a module that runs the program at import
finishes importing only when the program is over. Both are traced from the class statement on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from racetrace.tracer import classhook, targets

if TYPE_CHECKING:
    from conftest import Programs, Tracing

# An agent driven twice at once, a class with metaclass keywords and zero-argument super()
# (what __build_class__ handles), output and an exit code of its own.
APP = """
    import asyncio
    import sys


    class Base:
        def __init_subclass__(cls, tag="", **kwargs):
            super().__init_subclass__(**kwargs)
            cls.tag = tag


    class Agent(Base, tag="agent"):
        def __init__(self, name):
            self.name = name

        async def run(self, n):
            await asyncio.sleep(0.05)
            return n * 2

        def __repr__(self):
            return f"Agent({self.name}, {super().__repr__()[:1]})"


    async def main():
        agent = Agent("shared")
        print(await asyncio.gather(agent.run(1), agent.run(2)), Agent.tag, repr(agent))


    asyncio.run(main())
    sys.exit(3)
"""


@pytest.mark.parametrize("target", ["app:Agent.run", "__main__:Agent.run"])
def test_a_target_defined_in_the_script_run_is_traced(programs: Programs, target: str) -> None:
    traced = programs.run(APP, name="app", targets=[target])
    untraced = programs.run(APP, name="app", enabled=None)
    assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout)
    assert traced.stdout == "[2, 4] agent Agent(shared, <)\n"
    assert traced.returncode == 3
    assert traced.racetrace_lines() == []
    runs = traced.runs()
    module = target.partition(":")[0]
    assert [r.method for r in runs] == [f"{module}.Agent.run"] * 2
    assert {r.instance_label for r in runs} == {"shared"}
    assert len({r.instance_key for r in runs}) == 1
    assert all(r.status == "ok" for r in runs)


def test_a_script_run_by_path_is_named_by_its_dotted_path(programs: Programs) -> None:
    (programs.root / "myapp").mkdir()
    programs.module("myapp/__init__", "")
    done = programs.run(
        APP,
        name="myapp/main",
        targets=["myapp.main:Agent.run"],
        argv=[sys.executable, "myapp/main.py"],
    )
    assert done.returncode == 3
    assert [r.method for r in done.runs()] == ["myapp.main.Agent.run"] * 2


PKG_AGENTS = """
    import asyncio


    class Helper:
        async def help(self):
            await asyncio.sleep(0.05)
            return "helped"
"""

# Runs the program at import: its Worker's runs all happen before its import finishes.
PKG_WORKER = """
    import asyncio


    class Worker:
        def __init__(self, name):
            self.name = name

        async def work(self):
            await asyncio.sleep(0.05)
            return self.name


    async def _main():
        worker = Worker("at-import")
        return await asyncio.gather(worker.work(), worker.work())


    RESULT = asyncio.run(_main())
"""

PKG_MAIN = """
    import asyncio

    from pkg.agents import Helper
    from pkg.worker import RESULT


    class Agent:
        async def run(self):
            return await Helper().help()


    async def main():
        agent = Agent()
        print(RESULT, await asyncio.gather(agent.run(), agent.run()))


    if __name__ == "__main__":
        asyncio.run(main())
"""


def test_python_m_traces_the_main_module_and_modules_that_run_at_import(
    programs: Programs,
) -> None:
    (programs.root / "pkg").mkdir()
    programs.module("pkg/__init__", "")
    programs.module("pkg/agents", PKG_AGENTS)
    programs.module("pkg/worker", PKG_WORKER)
    argv = [sys.executable, "-m", "pkg.main"]
    specs = ["pkg.main:Agent.run", "pkg.agents:Helper.help", "pkg.worker:Worker.work"]
    traced = programs.run(PKG_MAIN, name="pkg/main", argv=argv, targets=specs)
    untraced = programs.run(PKG_MAIN, name="pkg/main", argv=argv, enabled=None)
    assert (traced.returncode, traced.stdout) == (untraced.returncode, untraced.stdout)
    assert traced.stdout == "['at-import', 'at-import'] ['helped', 'helped']\n"
    assert traced.racetrace_lines() == []
    methods = sorted(r.method for r in traced.runs())
    assert methods == sorted(
        ["pkg.main.Agent.run"] * 2 + ["pkg.agents.Helper.help"] * 2
        + ["pkg.worker.Worker.work"] * 2
    )


def test_python_m_accepts_main_as_the_module_name(programs: Programs) -> None:
    (programs.root / "pkg").mkdir()
    programs.module("pkg/__init__", "")
    programs.module("pkg/agents", PKG_AGENTS)
    programs.module("pkg/worker", PKG_WORKER)
    done = programs.run(
        PKG_MAIN, name="pkg/main", argv=[sys.executable, "-m", "pkg.main"],
        targets=["__main__:Agent.run"],
    ).check()
    assert [r.method for r in done.runs()] == ["__main__.Agent.run"] * 2


def test_a_typo_in_the_module_or_the_method_is_said_with_a_hint(programs: Programs) -> None:
    done = programs.run(
        APP, name="app", targets=["apq:Agent.run", "app:Agent.runn"],
        env={"RACETRACE_VERBOSE": "1"},
    )
    assert (done.returncode, done.stdout) == (3, "[2, 4] agent Agent(shared, <)\n")
    assert done.runs() == []
    [module_line] = [line for line in done.racetrace_lines() if "apq" in line]
    assert "target apq:Agent.run never resolved: no module 'apq' was imported" in module_line
    assert "did you mean app:Agent.run? (app.py is the program you ran)" in module_line
    [method_line] = [line for line in done.racetrace_lines() if "runn" in line]
    assert "the class Agent has no attribute 'runn'; not traced" in method_line
    assert "did you mean Agent.run?" in method_line


def test_without_verbose_what_names_the_script_is_said_and_other_modules_are_not(
    programs: Programs,
) -> None:
    # A module never imported may be another process's business; the script is this one's.
    done = programs.run(
        APP, name="app", targets=["apq:Agent.run", "__main__:Agent.runn", "app:main"]
    )
    runn, main = done.racetrace_lines()
    assert "__main__:Agent.runn" in runn and "did you mean Agent.run?" in runn
    assert main == (
        "racetrace: target app:main never resolved in app.py, the program you ran: a function "
        "at the top of the script runs before it could be patched; decorate it with "
        "@racetrace.trace, or move it into a module"
    )


def test_a_package_module_named_for_a_script_run_by_path_hints_python_m(
    programs: Programs,
) -> None:
    # python myapp/main.py puts myapp/ on sys.path: `from agents import ...` works, and the
    # module is `agents`, never `myapp.agents`.
    (programs.root / "myapp").mkdir()
    programs.module("myapp/__init__", "")
    programs.module("myapp/agents", PKG_AGENTS)
    source = """
        import asyncio
        from agents import Helper

        print(asyncio.run(Helper().help()))
    """
    done = programs.run(
        source, name="myapp/main", argv=[sys.executable, "myapp/main.py"],
        targets=["myapp.agents:Helper.help"], env={"RACETRACE_VERBOSE": "1"},
    ).check()
    [line] = [line for line in done.racetrace_lines() if "never resolved" in line]
    assert "it was imported as 'agents'" in line
    assert "name the target agents:Helper.help" in line
    assert "python -m myapp.main" in line


def test_unresolved_targets_names_what_never_resolved(tracing: Tracing) -> None:
    module = tracing.module(
        """
        class Agent:
            def run(self):
                return 1
        """
    )
    racetrace_specs = [f"{module.__name__}:Agent.run", "nowhere_at_all:Agent.run"]
    import racetrace

    racetrace.instrument(*racetrace_specs)
    assert targets.unresolved_targets() == ["nowhere_at_all:Agent.run"]
    [line] = targets.unresolved_explained()
    assert line.startswith("target nowhere_at_all:Agent.run never resolved")


def test_the_class_hook_is_out_once_every_named_target_resolved(tracing: Tracing) -> None:
    import racetrace

    name = "rt_hooked_later"
    (tracing.root / f"{name}.py").write_text("class Agent:\n    def run(self):\n        return 1\n")
    tracing.modules.append(name)
    racetrace.instrument(f"{name}:Agent.run")
    assert classhook.is_installed()
    module = __import__(name)
    assert not classhook.is_installed()
    assert module.Agent().run() == 1
    assert [r.method for r in tracing.runs()] == [f"{name}.Agent.run"]


def test_nested_classes_and_classmethods_of_the_script_are_traced(programs: Programs) -> None:
    source = """
        class Outer:
            class Inner:
                def run(self):
                    return "inner"

            @classmethod
            def build(cls):
                return cls.Inner()


        print(Outer.build().run())
    """
    done = programs.run(
        source, name="app", targets=["app:Outer.Inner.run", "app:Outer.build"]
    ).check()
    assert done.stdout == "inner\n"
    assert sorted(r.method for r in done.runs()) == ["app.Outer.Inner.run", "app.Outer.build"]


def test_a_spawned_child_traces_the_script_it_runs_again(programs: Programs) -> None:
    # multiprocessing's spawn runs the parent's script again in the child, as `__mp_main__`.
    source = """
        import multiprocessing
        import os


        class Agent:
            def run(self, n):
                return n * 2


        def work():
            print("child", Agent().run(2), flush=True)


        if __name__ == "__main__":
            child = multiprocessing.get_context("spawn").Process(target=work)
            child.start()
            child.join()
            print("parent", Agent().run(1), os.getpid())
    """
    done = programs.run(source, name="app", targets=["app:Agent.run"]).check()
    runs = done.runs()
    assert [r.method for r in runs] == ["app.Agent.run"] * 2
    parent_pid = int(done.stdout.split()[-1])
    assert sorted(r.pid == parent_pid for r in runs) == [False, True]


def test_start_at_the_top_of_a_module_traces_the_class_it_defines_below(
    programs: Programs,
) -> None:
    # The module is in sys.modules but still running when start() asks for its class.
    programs.module(
        "worker",
        """
        import racetrace

        racetrace.start(["worker:Worker.work"])


        class Worker:
            def work(self):
                return "worked"


        RESULT = Worker().work()
        """,
    )
    done = programs.run("import worker\nprint(worker.RESULT)\n", enabled=None).check()
    assert (done.stdout, done.racetrace_lines()) == ("worked\n", [])
    assert [r.method for r in done.runs()] == ["worker.Worker.work"]
