"""The host fault matrix: each row of issue 11's "the host program" table, as a program that
behaves the same traced and untraced (stdout, stderr, exit code), and whose trace holds what
it did. One case per class of input; the program is the specification, racetrace the subject.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from host_support import Case, Outcome, run_case

# -- unhashable classes -----------------------------------------------------------------------

UNHASHABLE = Case(
    name="metaclass_eq_without_hash",
    modules={"shapes": """
        class Meta(type):
            # __eq__ without __hash__: the classes themselves cannot be hashed.
            def __eq__(cls, other):
                return cls is other

        class Weird(metaclass=Meta):
            pass

        class Tool(metaclass=Meta):
            @classmethod
            def make(cls):
                return Weird()

        class Agent:
            def __init__(self, name):
                self.name = name

            def run(self):
                return Weird()

        class Sized(metaclass=Meta):
            def run(self):
                return 2
    """},
    main="""
        from shapes import Agent, Tool, Weird
        a = Agent("a")
        print(type(a.run()).__name__, type(a.run()).__name__)
        print(type(Tool.make()).__name__)
        from shapes import Sized
        print(Sized().run())
        try:
            hash(Weird)
        except TypeError as exc:
            print("unhashable:", exc)
    """,
    targets=("shapes:Agent.run", "shapes:Tool.make", "shapes:Sized.run"),
)


def _check_unhashable(untraced: Outcome, traced: Outcome) -> None:
    runs = traced.runs()
    assert [r.method.rsplit(".", 1)[1] for r in runs] == ["run", "run", "make", "run"]
    assert all(r.status == "ok" for r in runs)
    assert runs[2].instance_class == "shapes.Tool"
    assert runs[3].instance_class == "shapes.Sized"
    # Traced, so not named unresolved in the header.
    headers = [line for line in traced.lines() if line["type"] == "header"]
    assert all(not h.get("unresolved") for h in headers), headers


# -- text that is not UTF-8 ------------------------------------------------------------------

SURROGATES = Case(
    name="lone_surrogates_in_label_message_argv",
    modules={"agents": """
        import os

        BAD = os.fsdecode(b"agent-\\xff")  # a lone surrogate, as file names give them

        class Agent:
            def __init__(self, name):
                self.name = name

            def run(self, fail=False):
                if fail:
                    raise ValueError(BAD)
                return 1
    """},
    main="""
        import sys
        from agents import BAD, Agent
        print(len(sys.argv[1]))
        Agent(BAD).run()
        try:
            Agent("fine").run(fail=True)
        except ValueError:
            print("caught")
        for n in range(3):
            Agent(f"later-{n}").run()
        print("done")
    """,
    args=(os.fsdecode(b"arg-\xfe"),),
    targets=("agents:Agent.run",),
)


def _check_surrogates(untraced: Outcome, traced: Outcome) -> None:
    runs = traced.runs()
    # Every run written, none lost after the bad ones; the bad text escaped, not dropped.
    assert [r.instance_label for r in runs] == [
        "agent-\\udcff", "fine", "later-0", "later-1", "later-2"]
    assert runs[1].error_message == "agent-\\udcff"
    [header] = [line for line in traced.lines() if line["type"] == "header"]
    assert header["argv"][1] == "arg-\\udcfe"


CLOSED_FD = Case(
    name="program_closes_every_descriptor",
    modules={"agents": """
        import os

        class Agent:
            def run(self, close=False):
                if close:  # as a daemonizing program does, in the middle of a run
                    os.closerange(3, 4096)
                return 1
    """},
    main="""
        from agents import Agent
        agent = Agent()
        print(agent.run(), agent.run(close=True), agent.run())
    """,
    targets=("agents:Agent.run",),
)


def _check_closed_fd(untraced: Outcome, traced: Outcome) -> None:
    # The writer went on: no run lost, the interrupted one ended. It maps its file and holds
    # no descriptor between chunks, so the one file goes on (a writer that appends a line at
    # a time opens a second: tests/tracer/test_recording.py).
    assert len(list(traced.trace_dir.rglob("*.jsonl"))) == 1
    runs = traced.runs()
    assert [r.status for r in runs] == ["ok", "ok", "ok"]


# -- labels without running user code --------------------------------------------------------

LABELS = Case(
    name="label_lookup_runs_no_user_code",
    modules={"agents": """
        calls = []

        class Exiting:
            @property
            def name(self):
                calls.append("name")
                raise SystemExit(3)

            def __getattr__(self, attribute):
                calls.append(attribute)
                raise AttributeError(attribute)

            def run(self):
                return 1

        class Private:
            # AutoGen's agents: `name` is a property over `_name`.
            def __init__(self, name):
                self._name = name

            @property
            def name(self):
                calls.append("private")
                return self._name

            def run(self):
                return 2

        class Slotted:
            __slots__ = ("name",)

            def __init__(self, name):
                self.name = name

            def run(self):
                return 3
    """},
    main="""
        import agents
        e, p, s = agents.Exiting(), agents.Private("planner"), agents.Slotted("slot")
        print([e.run(), p.run(), s.run(), e.run(), p.run()])
        print(agents.calls)
    """,
    targets=("agents:Exiting.run", "agents:Private.run", "agents:Slotted.run"),
)


def _check_labels(untraced: Outcome, traced: Outcome) -> None:
    assert untraced.stdout.splitlines()[1] == "[]"  # the program itself reads no name
    runs = traced.runs()
    assert [r.instance_label for r in runs] == [None, "planner", "slot", None, "planner"]


# -- recursion depth -------------------------------------------------------------------------

RECURSION = Case(
    name="recursion_depth_of_a_traced_method",
    modules={"deep": """
        class Walker:
            def __init__(self):
                self.deepest = 0

            def down(self, n):
                self.deepest = n
                return self.down(n + 1)
    """},
    main="""
        import sys
        from deep import Walker

        def plain(n):
            global deepest
            deepest = n
            return plain(n + 1)

        deepest = 0
        try:
            plain(0)
        except RecursionError:
            pass
        walker = Walker()
        try:
            walker.down(0)
        except RecursionError:
            print("recursion error")
        print("plain", deepest)
        sys.stderr.write(f"{walker.deepest}\\n")
    """,
    targets=("deep:Walker.down",),
    same=("returncode", "stdout"),  # stderr: how deep the traced method got
)


def _check_recursion(untraced: Outcome, traced: Outcome) -> None:
    depth_untraced, depth_traced = int(untraced.stderr), int(traced.stderr)
    # One frame of racetrace's per traced call: at least half the untraced depth (the wrapper
    # frame; docs/trace-format.md says so). It was a third before.
    assert depth_traced >= depth_untraced // 2 - 5, (depth_untraced, depth_traced)


# -- objects without weak references are not kept alive --------------------------------------

SLOTS = Case(
    name="slotted_objects_without_weakref_die_on_time",
    modules={"cells": """
        freed = []

        class Cell:
            __slots__ = ("n",)

            def __init__(self, n):
                self.n = n

            def touch(self):
                return self.n

            def __del__(self):
                freed.append(self.n)
    """},
    main="""
        import cells
        for n in range(500):
            cells.Cell(n).touch()
            if len(cells.freed) != n + 1:
                print("still alive:", n)
                break
        print(len(cells.freed))
    """,
    targets=("cells:Cell.touch",),
)


def _check_slots(untraced: Outcome, traced: Outcome) -> None:
    assert traced.stdout == "500\n"
    assert len(traced.runs()) == 500


# -- tracebacks, exception identity and chaining --------------------------------------------

TRACEBACKS = Case(
    name="tracebacks_identical_to_untraced",
    modules={"failing": """
        raised = []

        class Agent:
            def run(self):
                try:
                    {}["missing"]
                except KeyError as exc:
                    error = ValueError("sync failed")
                    raised.append(error)
                    raise error from exc

            async def arun(self):
                raise RuntimeError("async failed")

            def items(self):
                yield 1
                raise LookupError("generator failed")

            async def aitems(self):
                yield 1
                raise OSError("async generator failed")
    """},
    main="""
        import asyncio
        import traceback
        import failing

        agent = failing.Agent()
        try:
            agent.run()
        except ValueError as exc:
            print(exc is failing.raised[0], type(exc.__cause__).__name__)
            traceback.print_exc(file=__import__("sys").stdout)
        try:
            asyncio.run(agent.arun())
        except RuntimeError:
            traceback.print_exc(file=__import__("sys").stdout)
        try:
            list(agent.items())
        except LookupError:
            traceback.print_exc(file=__import__("sys").stdout)

        async def consume():
            return [item async for item in agent.aitems()]

        try:
            asyncio.run(consume())
        except OSError:
            traceback.print_exc(file=__import__("sys").stdout)
        agent.run()  # uncaught: the interpreter prints this one
    """,
    targets=("failing:Agent.run", "failing:Agent.arun", "failing:Agent.items",
             "failing:Agent.aitems"),
)


def _check_tracebacks(untraced: Outcome, traced: Outcome) -> None:
    assert untraced.returncode == 1 and "ValueError: sync failed" in untraced.stderr
    assert "wrap.py" not in traced.stdout + traced.stderr
    assert [r.status for r in traced.runs()] == ["error"] * 5


# -- names and repr --------------------------------------------------------------------------

NAMES = Case(
    name="generator_coroutine_names_and_method_repr",
    modules={"named": """
        class Agent:
            def items(self):
                yield 1

            async def arun(self):
                return 1

            async def aitems(self):
                yield 1

            def run(self):
                return 1
    """},
    main="""
        import asyncio
        import inspect
        import named

        agent = named.Agent()
        g = agent.items()
        print(g.__name__, g.__qualname__, g.gi_code.co_name, list(g))
        c = agent.arun()
        print(c.__name__, c.__qualname__, c.cr_code.co_name, asyncio.run(c))
        a = agent.aitems()
        print(a.__name__, a.__qualname__, a.ag_code.co_name)

        async def drain():
            return [x async for x in a]

        print(asyncio.run(drain()))
        print(repr(agent.run).replace(hex(id(agent)), "ADDR"))
        print(repr(named.Agent.run).split(" at ")[0])
        print(inspect.iscoroutinefunction(agent.arun), inspect.isgeneratorfunction(agent.items))
    """,
    targets=("named:Agent.items", "named:Agent.arun", "named:Agent.aitems", "named:Agent.run"),
)


def _check_names(untraced: Outcome, traced: Outcome) -> None:
    assert "items Agent.items items [1]" in traced.stdout
    assert sorted(r.method.rsplit(".", 1)[1] for r in traced.runs()) == [
        "aitems", "arun", "items"]


# -- an async generator left by break ------------------------------------------------------

ABANDONED = Case(
    name="async_generator_left_by_break_is_closed",
    modules={"source": """
        class Source:
            async def items(self):
                for n in range(10):
                    yield n
    """},
    main="""
        import asyncio
        import source

        async def main():
            async for n in source.Source().items():
                if n == 2:
                    break
            print("left at", n)

        asyncio.run(main())
        print("done")
    """,
    targets=("source:Source.items",),
)


def _check_abandoned(untraced: Outcome, traced: Outcome) -> None:
    [run] = traced.runs()
    assert (run.status, run.end_reason) == ("ok", "closed")


# -- pytest with filterwarnings = error -----------------------------------------------------

# A stand-in for a wheel install's metadata: pytest marks for assertion rewriting the packages
# that a pytest11 plugin's distribution lists (an editable install lists only its finder).
_DIST = "racetrace_wheel_standin-0.dist-info"

PYTEST_WARNINGS = Case(
    name="pytest_filterwarnings_error",
    main="",
    files={
        "pytest.ini": "[pytest]\nfilterwarnings = error\n",
        "test_plain.py": "def test_plain():\n    assert 1 + 1 == 2\n",
        f"{_DIST}/METADATA": "Metadata-Version: 2.1\nName: racetrace-wheel-standin\nVersion: 0\n",
        f"{_DIST}/entry_points.txt": "[pytest11]\nracetrace = racetrace.pytest_plugin\n",
        f"{_DIST}/RECORD": "racetrace/__init__.py,,\nracetrace/pytest_plugin/__init__.py,,\n",
    },
    command=(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-W", "error", "test_plain.py"),
    same=("returncode",),
)


def _check_pytest_warnings(untraced: Outcome, traced: Outcome) -> None:
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "1 passed" in traced.stdout
    assert "PytestAssertRewriteWarning" not in traced.stdout + traced.stderr


# -- the pytest plugin's own I/O while a test has os.scandir patched -------------------------

PLUGIN_IO = Case(
    name="plugin_io_while_a_test_patches_scandir",
    main="",
    modules={"agents": """
        import asyncio

        class Agent:
            async def run(self, n):
                await asyncio.sleep(0.01)
                return n
    """},
    files={
        "test_sandbox.py": """
            import asyncio
            import os
            from unittest import mock

            import pytest
            from agents import Agent

            @pytest.fixture
            def no_os_calls(monkeypatch):
                # OpenAI Agents' sandbox tests: any OS call while the test runs is a failure.
                fake = mock.Mock(side_effect=AssertionError("Unexpected OS call: scandir"))
                monkeypatch.setattr(os, "scandir", fake)
                yield fake
                assert fake.call_count == 0  # after racetrace's check of the test body

            def test_shared_agent(no_os_calls):
                agent = Agent()

                async def both():
                    return await asyncio.gather(agent.run(1), agent.run(2))

                assert asyncio.run(both()) == [1, 2]
        """,
    },
    command=(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "test_sandbox.py"),
    traced_args=("--racetrace=warn", "--racetrace-target", "agents:Agent.run"),
    same=("returncode",),
)


def _check_plugin_io(untraced: Outcome, traced: Outcome) -> None:
    assert "1 passed" in untraced.stdout and "1 passed" in traced.stdout, traced.stdout
    assert "internal error" not in traced.stdout + traced.stderr
    # Checked, with the fixture's os.scandir in place: the overlap on the shared agent found.
    assert "racetrace: 1 test with findings" in traced.stdout, traced.stdout


# -- a blocking-call checker ----------------------------------------------------------------

BLOCKBUSTER = Case(
    name="blocking_call_checker_on_the_loop",
    modules={"agents": """
        import asyncio

        class Agent:
            def __init__(self, name):
                self.name = name

            async def run(self, n):
                await asyncio.sleep(0)
                return n

            def step(self, n):
                return n
    """},
    main="""
        import asyncio
        from blockbuster import BlockBuster
        from agents import Agent

        async def main():
            agent = Agent("a")
            results = await asyncio.gather(*(agent.run(n) for n in range(5)))
            results.append(agent.step(5))
            task = asyncio.create_task(agent.run(6))
            results.append(await task)
            return results

        checker = BlockBuster()
        checker.activate()
        try:
            print(asyncio.run(main()))
        finally:
            checker.deactivate()
    """,
    targets=("agents:Agent.run", "agents:Agent.step"),
    requires=("blockbuster",),
)


def _check_blockbuster(untraced: Outcome, traced: Outcome) -> None:
    assert untraced.stdout == "[0, 1, 2, 3, 4, 5, 6]\n"
    runs = traced.runs()
    assert len(runs) == 7 and all(r.status == "ok" for r in runs)


# -- freezegun --------------------------------------------------------------------------------

FROZEN = Case(
    name="frozen_time_does_not_stamp_runs",
    modules={"agents": """
        class Agent:
            def run(self):
                return 1
    """},
    main="""
        import time
        from freezegun import freeze_time
        from agents import Agent

        with freeze_time("2023-01-01"):
            print(time.time(), Agent().run())
        print(Agent().run())
    """,
    targets=("agents:Agent.run",),
    requires=("freezegun",),
)


def _check_frozen(untraced: Outcome, traced: Outcome) -> None:
    trace = traced.trace()
    [process] = trace.processes
    runs = trace.runs
    assert len(runs) == 2
    for run in runs:
        assert run.end_ns is not None
        # Stamped when they happened: within a minute of the process's start, not in 2023.
        assert abs(run.start_ns - process.started_ns) < 60 * 10**9
        assert run.start_ns <= run.end_ns
    assert runs[0].start_ns <= runs[1].start_ns


# -- other tools' OpenTelemetry spans --------------------------------------------------------

OTEL = Case(
    name="program_spans_keep_their_parents",
    modules={"agents": """
        from opentelemetry import trace

        tracer = trace.get_tracer("agents")

        class Agent:
            def run(self):
                with tracer.start_as_current_span("invoke_agent") as span:
                    return span
    """},
    main="""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from agents import Agent

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        tracer = trace.get_tracer("app")

        agent = Agent()
        root = agent.run()
        print("root span parent:", root.parent)
        with tracer.start_as_current_span("request") as request:
            inner = agent.run()
        print("inner parent is request:", inner.parent.span_id == request.context.span_id)
        print("same trace:", inner.context.trace_id == request.context.trace_id)
        print(sorted(s.name for s in exporter.get_finished_spans()))
        print(format(request.context.trace_id, "032x"), file=__import__("sys").stderr)
    """,
    targets=("agents:Agent.run",),
    same=("returncode", "stdout"),  # stderr: the request's trace id, new in each run
)


def _check_otel(untraced: Outcome, traced: Outcome) -> None:
    assert "root span parent: None" in traced.stdout
    request_trace = traced.stderr.strip()
    starts = [line for line in traced.lines() if line["type"] == "start"]
    assert len(starts) == 2
    # The run inside the program's span carries its trace id (read, never written into it).
    assert starts[1]["trace_id"] == request_trace

# -- dataclass targets ------------------------------------------------------------------------

_DATACLASSES = """
    from dataclasses import dataclass

    @dataclass
    class Agent:
        name: str

        def run(self):
            return self.name

    @dataclass(slots=True)
    class Slotted:
        name: str

        def run(self):
            return self.name
"""

DATACLASSES = Case(
    name="dataclass_targets_keep_their_init",
    modules={"agents": _DATACLASSES},
    main=_DATACLASSES + """
    import agents

    for cls in (Agent, Slotted, agents.Agent, agents.Slotted):
        print(cls.__module__, cls.__name__, repr(cls("x")), cls("y").run())
    print(Slotted.__slots__, agents.Slotted.__slots__)
    """,
    targets=("__main__:Agent.run", "__main__:Slotted.run", "agents:Agent.run",
             "agents:Slotted.run"),
)


def _check_dataclasses(untraced: Outcome, traced: Outcome) -> None:
    runs = traced.runs()
    assert len(runs) == 4 and all(r.status == "ok" for r in runs)
    # Observed once decorated: where each object was made is known (not for the slotted
    # ones: they refuse weak references, and an id alone could name a later object).
    starts = [line for line in traced.lines() if line["type"] == "start"]
    sites = [line.get("racetrace.instance.created_at") for line in starts]
    assert [bool(site and site.endswith("main.py:21")) for site in sites] == [
        True, False, True, False], sites


# -- the program's seeded random numbers ---------------------------------------------------

SEEDED = Case(
    name="seeded_random_numbers_unchanged",
    modules={"agents": """
        class Agent:
            def run(self):
                return 1
    """},
    main="""
        import os
        import random
        from agents import Agent

        random.seed(42)
        print(random.random(), Agent().run(), random.random(), Agent().run())
        print(random.getrandbits(64))
        pid = os.fork()
        if pid == 0:
            Agent().run()
            print("child", flush=True)  # random reseeds itself in a child: not compared
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent", random.random(), Agent().run())
    """,
    targets=("agents:Agent.run",),
)


def _check_seeded(untraced: Outcome, traced: Outcome) -> None:
    assert len(traced.runs()) == 4


CASES = [
    (UNHASHABLE, _check_unhashable),
    (SURROGATES, _check_surrogates),
    (CLOSED_FD, _check_closed_fd),
    (LABELS, _check_labels),
    (RECURSION, _check_recursion),
    (SLOTS, _check_slots),
    (TRACEBACKS, _check_tracebacks),
    (NAMES, _check_names),
    (ABANDONED, _check_abandoned),
    (PYTEST_WARNINGS, _check_pytest_warnings),
    (PLUGIN_IO, _check_plugin_io),
    (BLOCKBUSTER, _check_blockbuster),
    (FROZEN, _check_frozen),
    (OTEL, _check_otel),
    (DATACLASSES, _check_dataclasses),
    (SEEDED, _check_seeded),
]


@pytest.mark.parametrize(("case", "check"), CASES, ids=[c.name for c, _ in CASES])
def test_tracing_changes_nothing_in_the_host(
    case: Case, check: Callable[[Outcome, Outcome], None], tmp_path: Path
) -> None:
    for module in case.requires:
        pytest.importorskip(module)  # the `test` extra installs them
    untraced, traced = run_case(case, tmp_path)
    for what in case.same:
        assert getattr(traced, what) == getattr(untraced, what), (
            f"{what} differs\n--- untraced ---\n{untraced.stdout}{untraced.stderr}"
            f"\n--- traced ---\n{traced.stdout}{traced.stderr}")
    check(untraced, traced)
