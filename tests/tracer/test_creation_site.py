"""Where each traced object was created: recorded once per object at its construction, written
on its first run, without changing how the class constructs or keeping the object alive."""

from __future__ import annotations

import gc
import inspect
import textwrap
import weakref
from typing import TYPE_CHECKING

from racetrace.tracer import provenance

if TYPE_CHECKING:
    from conftest import Tracing

CREATED = "racetrace.instance.created_at"

SUBJECTS = """
    class Bare:                          # no __init__ of its own: object's
        def touch(self):
            return 1

    class WithNew:                       # __new__ takes the arguments, object's __init__
        def __new__(cls, *args):
            return super().__new__(cls)

        def touch(self):
            return 1

    class Base:
        def __init__(self, name):
            self.name = name

        def touch(self):
            return 1

    class Derived(Base):
        def __init__(self, name):
            super().__init__(name)

    class Slotted:                       # refuses weak references
        __slots__ = ("name",)

        def __init__(self, name):
            self.name = name

        def touch(self):
            return 1

    def make(name):
        return Base(name)
"""


def construct_all(module: object) -> list[str]:
    outcomes = []
    calls = (lambda: module.Bare(), lambda: module.Bare(1), lambda: module.Bare(x=1),
             lambda: module.WithNew(1), lambda: module.Base("a"), lambda: module.Base(),
             lambda: module.Derived("a"))
    for call in calls:
        try:
            call()
            outcomes.append("ok")
        except TypeError as exc:
            outcomes.append(str(exc))
    return outcomes


def starts(tracing: Tracing) -> list[dict]:
    return [line for line in tracing.lines() if line["type"] == "start"]


def test_construction_accepts_and_refuses_what_it_did(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    before = construct_all(module)
    signatures = [str(inspect.signature(c)) for c in (module.Bare, module.Base)]
    tracing.instrument(module, "Bare.touch", "WithNew.touch", "Base.touch")
    assert isinstance(vars(module.Bare)["__init__"], object)  # observed
    assert construct_all(module) == before
    assert [str(inspect.signature(c)) for c in (module.Bare, module.Base)] == signatures


def test_the_first_run_carries_the_creating_line_and_later_runs_do_not(
        tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Bare.touch")
    bare = module.Bare(); line = inspect.currentframe().f_lineno  # noqa: E702
    bare.touch()
    bare.touch()
    first, second = starts(tracing)
    assert first[CREATED] == f"{__file__}:{line}"
    assert first["racetrace.instance.created_scope"] == "function"
    assert first["racetrace.instance.created_in"].endswith(
        "test_the_first_run_carries_the_creating_line_and_later_runs_do_not")
    assert CREATED not in second


def test_a_subclass_init_chain_is_skipped_to_the_users_line(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Base.touch")
    derived = module.Derived("d"); line = inspect.currentframe().f_lineno  # noqa: E702
    made = module.make("m")
    derived.touch()
    made.touch()
    first, second = starts(tracing)
    assert first[CREATED] == f"{__file__}:{line}"
    # Made by a function of the class's own module (a factory beside the class).
    assert second["racetrace.instance.created_in"] == "make"
    lines = textwrap.dedent(SUBJECTS).splitlines()
    assert second[CREATED].endswith(f":{lines.index('    return Base(name)') + 1}")


def test_an_object_is_not_kept_alive_and_a_refusing_one_has_no_site(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Base.touch", "Slotted.touch")
    base = module.Base("b")
    base.touch()
    ref = weakref.ref(base)
    del base
    gc.collect()
    assert ref() is None
    assert not provenance._sites  # its entry went with it
    module.Slotted("s").touch()
    assert CREATED not in starts(tracing)[-1]


def test_stopping_puts_every_init_back(tracing: Tracing) -> None:
    import racetrace

    module = tracing.module(SUBJECTS)
    own = vars(module.Base)["__init__"]
    tracing.instrument(module, "Bare.touch", "Base.touch")
    assert vars(module.Base)["__init__"] is not own
    racetrace.stop()
    assert vars(module.Base)["__init__"] is own
    assert "__init__" not in vars(module.Bare)
