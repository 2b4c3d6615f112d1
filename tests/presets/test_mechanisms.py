"""The tracer mechanisms presets stand on, without any framework: subclass coverage, a family of
packages as one owner, runs that end with a future, entry points missing in a version."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
from typing import Any

import pytest
from preset_helpers import clean_environ
from racetrace.tracer import targets
from racetrace.tracer.presets.spec import EntryPoint, Preset
from racetrace.tracer.targets import Target

BASE = """
    class Base:
        def run(self, x):
            return ("base", x)

    class Early(Base):  # overrides before the target is patched
        def run(self, x):
            return ("early",) + super().run(x)

    class Inherits(Base):
        pass
"""


def short(run: Any) -> str:
    return ".".join(run.method.split(".")[-2:])


def test_overrides_are_runs_present_and_future_and_super_calls_are_one_run(in_process) -> None:
    module = in_process.module(BASE)
    targets.request(Target(module.__name__, "Base.run", subclasses=True, stateful=True))

    class Late(module.Early):  # defined after: covered through __init_subclass__
        def run(self, x):
            return ("late", *super().run(x))

    assert module.Base().run(1) == ("base", 1)
    assert module.Early().run(2) == ("early", "base", 2)
    assert module.Inherits().run(3) == ("base", 3)
    assert Late().run(4) == ("late", "early", "base", 4)
    runs = in_process.runs()
    assert [short(r) for r in runs] == ["Base.run", "Early.run", "Base.run", "Late.run"]
    assert all(r.stateful is True for r in runs)
    assert all(r.parent_run_id is None for r in runs)


def test_pydantic_models_and_abcs_below_a_covered_base_behave_as_before(in_process) -> None:
    pydantic = pytest.importorskip("pydantic")
    module = in_process.module(
        """
        import abc

        class Runnable(abc.ABC):
            @abc.abstractmethod
            def invoke(self, x): ...
        """
    )
    targets.request(Target(module.__name__, "Runnable.invoke", subclasses=True))

    class Abstract(module.Runnable):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Abstract()

    class Model(pydantic.BaseModel, module.Runnable):
        factor: int = 2
        label: str

        def invoke(self, x):
            return x * self.factor

    model = Model(label="m")
    assert model.invoke(21) == 42
    assert set(Model.model_fields) == {"factor", "label"}
    assert Model.model_validate({"label": "n", "factor": 3}).invoke(2) == 6
    with pytest.raises(pydantic.ValidationError):
        Model(factor="not a number", label="x")
    assert model.model_copy(update={"factor": 5}).invoke(1) == 5
    assert [short(r) for r in in_process.runs()] == ["Model.invoke"] * 3


def test_init_subclass_chains_to_the_base_s_own_and_to_generic(in_process) -> None:
    module = in_process.module(
        """
        from typing import Generic, TypeVar

        T = TypeVar("T")
        SEEN = []

        class Registered:
            def __init_subclass__(cls, flavor=None, **kwargs):
                super().__init_subclass__(**kwargs)
                SEEN.append((cls.__name__, flavor))

            def run(self):
                return "registered"

        class Box(Generic[T]):
            def run(self):
                return "box"
        """
    )
    own_hook = vars(module.Registered)["__init_subclass__"]
    targets.request(Target(module.__name__, "Registered.run", subclasses=True))
    targets.request(Target(module.__name__, "Box.run", subclasses=True))

    class Sweet(module.Registered, flavor="sweet"):
        def run(self):
            return "sweet"

    class IntBox(module.Box[int]):
        def run(self):
            return "int box"

    assert module.SEEN == [("Sweet", "sweet")]
    assert IntBox.__orig_bases__ == (module.Box[int],)
    assert (Sweet().run(), IntBox().run()) == ("sweet", "int box")
    assert [short(r) for r in in_process.runs()] == ["Sweet.run", "IntBox.run"]
    # Taken out, the bases are as they were: their own hook back, the borrowed one gone.
    targets.uninstrument_all()
    assert vars(module.Registered)["__init_subclass__"] is own_hook
    assert "__init_subclass__" not in vars(module.Box)
    assert not hasattr(Sweet.run, "__wrapped__") and not hasattr(IntBox.run, "__wrapped__")


def test_a_named_target_takes_the_place_of_a_covered_override(in_process) -> None:
    name = "rt_named_over_covered"
    in_process.write(f"{name}.py", BASE)
    targets.request(Target(name, "Base.run", subclasses=True, stateful=False))
    targets.request(Target(name, "Early.run", stateful=True))
    module = importlib.import_module(name)
    in_process.modules.append(name)
    module.Early().run(1)
    module.Base().run(2)
    early, base = in_process.runs()
    assert (short(early), early.stateful) == ("Early.run", True)
    assert (short(base), base.stateful) == ("Base.run", False)


def test_excluded_modules_subclasses_are_not_covered(in_process) -> None:
    module = in_process.module(BASE)
    targets.request(Target(module.__name__, "Base.run", subclasses=True, exclude=("plumbing",)))
    plumbing = in_process.module(
        f"""
        from {module.__name__} import Base

        class Node(Base):
            def run(self, x):
                return ("node", x)
        """,
        name="plumbing.nodes",
    )
    assert plumbing.Node().run(1) == ("node", 1)
    assert not hasattr(plumbing.Node.run, "__wrapped__")
    assert in_process.runs() == []


FAMILY_A = """
    from fam_b.helpers import call_back

    class Agent:
        def run(self):
            return call_back(self)  # through another package of the same framework

        def run_stream(self):
            return "streamed"
"""
FAMILY_B = """
    def call_back(agent):
        return agent.run_stream()
"""


@pytest.mark.parametrize(("family", "expected"), [
    ((), ["Agent.run", "Agent.run_stream"]),  # fam_b is not the owner: a re-entrant call
    (("fam_a", "fam_b"), ["Agent.run"]),  # one framework: delegation, one run
])
def test_a_family_of_packages_is_one_owner(in_process, family, expected) -> None:
    in_process.write("fam_a/__init__.py", "")
    in_process.write("fam_a/agents.py", FAMILY_A)
    in_process.write("fam_b/__init__.py", "")
    in_process.write("fam_b/helpers.py", FAMILY_B)
    for path in ("Agent.run", "Agent.run_stream"):
        targets.request(Target("fam_a.agents", path, family=family))
    module = importlib.import_module("fam_a.agents")
    in_process.modules += ["fam_a", "fam_a.agents", "fam_b", "fam_b.helpers"]
    assert module.Agent().run() == "streamed"
    runs = in_process.runs()
    assert [short(r) for r in runs] == expected
    assert runs[0].file == __file__  # the user's line, past both packages


SERVICE = """
    import asyncio

    class Service:
        def start(self, outcome):
            self.task = asyncio.get_running_loop().create_task(self._work(outcome))
            return "started"

        async def _work(self, outcome):
            await asyncio.sleep(0.02)
            if outcome == "fail":
                raise ValueError("worker failed")
            if outcome == "hang":
                await asyncio.sleep(3600)
"""


def test_a_run_that_outlives_its_call_ends_with_its_future(in_process) -> None:
    module = in_process.module(SERVICE)
    targets.request(Target(module.__name__, "Service.start",
                           ends_with=lambda result, service: service.task))

    async def main() -> dict[str, Any]:
        marks: dict[str, Any] = {}
        services = [module.Service() for _ in range(3)]
        for service, outcome in zip(services, ("ok", "fail", "hang"), strict=True):
            assert service.start(outcome) == "started"
        marks["returned"] = asyncio.get_running_loop().time()
        await asyncio.sleep(0.1)
        services[2].task.cancel()
        await asyncio.gather(*(s.task for s in services), return_exceptions=True)
        return marks

    asyncio.run(main())
    ok, failed, cancelled = in_process.runs()
    assert ok.status == "ok" and ok.end_ns - ok.start_ns >= 20_000_000
    assert (failed.status, failed.error_type, failed.error_message) == (
        "error", "builtins.ValueError", "worker failed")
    assert cancelled.status == "cancelled"
    starts = [line for line in in_process.lines() if line["type"] == "start"]
    assert all(line["racetrace.outlives_call"] is True for line in starts)


def test_a_failing_ends_with_is_one_line_and_the_run_ends_with_the_call(
    in_process, capsys
) -> None:
    module = in_process.module(SERVICE)

    def broken(result: Any, service: Any) -> Any:
        raise RuntimeError("preset bug")

    targets.request(Target(module.__name__, "Service.start", ends_with=broken))

    async def main() -> None:
        service = module.Service()
        assert service.start("ok") == "started"
        await service.task

    asyncio.run(main())
    (run,) = in_process.runs()
    assert run.status == "ok"
    assert [line for line in capsys.readouterr().err.splitlines()
            if line.startswith("racetrace:") and "preset bug" in line]


def test_a_missing_entry_point_is_said_only_in_verbose_mode(
    in_process, capsys, monkeypatch
) -> None:
    module = in_process.module(BASE)
    preset = Preset(
        name="fake", tested=(("fake-framework", "1.0"),), family=(),
        entry_points=(
            EntryPoint(module.__name__, "Base.run", stateful=True),
            EntryPoint(module.__name__, "Removed.run", stateful=True),
        ),
    )
    preset.enable()
    assert module.Base().run(1) == ("base", 1)
    assert [line for line in capsys.readouterr().err.splitlines() if "racetrace" in line] == []
    assert [short(r) for r in in_process.runs()] == ["Base.run"]

    targets.uninstrument_all()
    monkeypatch.setenv("RACETRACE_VERBOSE", "1")
    module2 = in_process.module(BASE)
    Preset(name="fake2", tested=(), family=(),
           entry_points=(EntryPoint(module2.__name__, "Removed.run", stateful=True),)).enable()
    lines = [line for line in capsys.readouterr().err.splitlines() if "Removed.run" in line]
    assert len(lines) == 1 and lines[0].startswith("racetrace: ")


FRAMEWORKS = ("autogen_agentchat", "autogen_core", "langchain_core", "langgraph", "agents")
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.partition(".")[0] for m in sys.modules})))
"""


def imported_by(*modules: str, env: dict[str, str]) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], env=clean_environ(env),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_presets_import_no_framework() -> None:
    presets = [f"racetrace.tracer.presets.{n}" for n in ("autogen", "langchain", "langgraph",
                                                          "openai_agents")]
    assert imported_by(*presets, env={}).isdisjoint(FRAMEWORKS)
    # Started with every preset on, racetrace imports no framework either.
    assert imported_by(env={"RACETRACE": "1", "RACETRACE_DIR": "/nonexistent"}).isdisjoint(
        FRAMEWORKS)


def test_with_racetrace_unset_a_framework_import_imports_no_racetrace() -> None:
    pytest.importorskip("langchain_core")
    loaded = imported_by("langchain_core.runnables", env={})
    assert "racetrace" not in loaded and "opentelemetry" not in loaded


def test_entry_points_name_real_framework_methods() -> None:
    """Each preset's entry points exist in the versions installed here (the tested ones)."""
    from racetrace.tracer.presets import PRESETS

    checked = 0
    for name, module_path in PRESETS.items():
        preset = importlib.import_module(module_path, "racetrace.tracer.presets").PRESET
        for entry in preset.entry_points:
            try:
                module = importlib.import_module(entry.module)
            except ImportError:
                continue  # that framework is not installed here
            owner_name, method = entry.qualname.split(".")
            assert callable(getattr(getattr(module, owner_name), method, None)), (name, entry)
            checked += 1
    if checked == 0:
        pytest.skip("no framework installed")


def test_abc_register_and_isinstance_are_unaffected(in_process) -> None:
    module = in_process.module(
        """
        import abc

        class Agent(abc.ABC):
            @abc.abstractmethod
            def run(self): ...
        """
    )
    targets.request(Target(module.__name__, "Agent.run", subclasses=True))

    class Virtual:
        def run(self):
            return "virtual"

    module.Agent.register(Virtual)
    assert isinstance(Virtual(), module.Agent)
    assert Virtual().run() == "virtual"
    assert in_process.runs() == []  # registered, not a subclass: not covered
