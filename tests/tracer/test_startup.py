"""Start-up: attaching imports only what attaching needs; the rest comes when it is first used.

Every traced process pays its start-up, children included. These tests say what a traced
`python` has imported before the program does anything (real processes, attached through the
installed `.pth`), and that post-import hooks (importhook.py, our own, so that wrapt is not
imported at start-up) fire as wrapt's did. benchmarks/startup.py measures the time.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from racetrace.tracer import importhook

if TYPE_CHECKING:
    from conftest import Programs

LOADED = """
    import json, sys
    heavy = ("wrapt", "opentelemetry", "asyncio", "importlib.metadata", "orjson", "dataclasses",
             "racetrace.tracer.targets", "racetrace.tracer.wrap",
             "racetrace.tracer.presets.autogen", "racetrace.tracer.presets.langchain")
    print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_a_traced_start_imports_no_wrapt_opentelemetry_asyncio_or_framework_preset(
    programs: Programs,
) -> None:
    done = programs.run(LOADED).check()
    assert json.loads(done.stdout) == []
    assert done.stderr == ""
    # Attached all the same: the program's first process leaves its file (a header alone).
    [file] = done.files()
    assert json.loads(file.read_text().splitlines()[0])["type"] == "header"


def test_a_named_target_imports_the_wrappers_only_once_its_module_is_imported(
    programs: Programs,
) -> None:
    programs.module("worker", "class Worker:\n    def work(self):\n        return 2\n")
    source = LOADED + """
    from worker import Worker
    print(Worker().work())
    print("wrapt" in sys.modules, "racetrace.tracer.wrap" in sys.modules)
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    before, result, after = done.stdout.splitlines()
    assert json.loads(before) == ["racetrace.tracer.targets"]  # waiting for its module
    assert (result, after) == ("2", "True True")
    [run] = done.runs()
    assert run.method == "worker.Worker.work"


def test_runs_read_the_programs_opentelemetry_span_when_it_imports_opentelemetry_later(
    programs: Programs,
) -> None:
    programs.module("worker", "class Worker:\n    def work(self):\n        return 2\n")
    source = """
        import sys
        print("opentelemetry" in sys.modules)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from worker import Worker

        tracer = TracerProvider().get_tracer("app")
        with tracer.start_as_current_span("request") as request:
            Worker().work()
        print(format(request.get_span_context().trace_id, "032x"))
        print(format(request.get_span_context().span_id, "016x"))
    """
    done = programs.run(source, targets=["worker:Worker.work"]).check()
    imported, trace_id, span_id = done.stdout.splitlines()
    assert imported == "False"
    [start] = [line for f in done.files() for line in map(json.loads, f.read_text().splitlines())
               if line["type"] == "start"]
    assert (start["trace_id"], start["parent_span_id"]) == (trace_id, span_id)


# -- post-import hooks ---------------------------------------------------------------------------


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Writes modules with unique names into a folder on sys.path; forgets them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def write(name: str, source: str) -> str:
        unique = f"{name}_{len(made)}_{id(tmp_path):x}"
        (tmp_path / f"{unique}.py").write_text(source)
        made.append(unique)
        importlib.invalidate_caches()
        return unique

    yield write
    for name in made:
        sys.modules.pop(name, None)


def test_a_hook_runs_once_after_the_modules_body_with_its_own_loader(modules) -> None:
    name = modules("late", "FIRST = 1\nLAST = 2\n")
    seen: list[tuple[ModuleType, int, object, object]] = []

    def hook(module: ModuleType) -> None:
        seen.append((module, module.LAST, module.__loader__, module.__spec__.loader))

    importhook.register(hook, name)
    assert seen == []
    module = importlib.import_module(name)
    [(hooked, last, loader, spec_loader)] = seen
    assert hooked is module and last == 2
    # The module keeps its real loader: source lookups and reloads work as without us.
    assert type(loader) is SourceFileLoader and spec_loader is loader
    assert inspect.getsource(module) == "FIRST = 1\nLAST = 2\n"
    importlib.reload(module)
    assert len(seen) == 1


def test_a_hook_for_an_imported_module_runs_at_once(modules) -> None:
    name = modules("early", "X = 1\n")
    module = importlib.import_module(name)
    seen: list[ModuleType] = []
    importhook.register(seen.append, name)
    assert seen == [module]


def test_a_module_that_fails_to_import_fires_its_hooks_when_an_import_succeeds(
    modules, tmp_path: Path,
) -> None:
    name = modules("flaky", "raise RuntimeError('not yet')\n")
    seen: list[ModuleType] = []
    importhook.register(seen.append, name)
    with pytest.raises(RuntimeError, match="not yet"):
        importlib.import_module(name)
    assert seen == []
    (tmp_path / f"{name}.py").write_text("OK = True\n")
    importlib.invalidate_caches()
    sys.modules.pop(name, None)
    module = importlib.import_module(name)
    assert seen == [module] and module.OK


def test_presets_watch_the_modules_their_entry_points_live_in() -> None:
    from racetrace.tracer import presets

    for name in presets.PRESETS:
        declared = presets.declaration(name).PRESET.entry_points
        assert set(presets.MODULES[name]) == {entry.module for entry in declared}, name


def test_a_presets_framework_imported_after_a_stop_is_not_patched_and_after_a_restart_is(
    programs: Programs,
) -> None:
    pytest.importorskip("langchain_core")
    source = """
        import racetrace
        racetrace.stop()
        from langchain_core.runnables.base import Runnable
        print(getattr(Runnable.invoke, "_self_racetrace_target", None))
        racetrace.start()
        print(getattr(Runnable.invoke, "_self_racetrace_target", None))
    """
    done = programs.run(source).check()
    assert done.stdout.splitlines() == ["None", "langchain_core.runnables.base:Runnable.invoke"]
