"""Wrapping changes nothing: results, exceptions, introspection, inheritance, uninstrument."""

from __future__ import annotations

import asyncio
import copy
import gc
import inspect
import pickle
import time
import traceback
import warnings
from typing import TYPE_CHECKING

import pytest

import racetrace

if TYPE_CHECKING:
    from conftest import Tracing

KINDS = """
    import asyncio

    class Boom(Exception):
        pass

    class Subject:
        name = "subject"

        def sync(self, a: int, *, b: str = "x") -> tuple:
            return (a, b)

        async def coro(self, a: int, *, b: str = "x") -> tuple:
            await asyncio.sleep(0)
            return (a, b)

        def gen(self, n: int):
            for i in range(n):
                yield i
            return "gen-done"

        async def agen(self, n: int):
            for i in range(n):
                await asyncio.sleep(0)
                yield i

        def returns_coro(self, a: int):
            return self._later(a)

        async def _later(self, a):
            await asyncio.sleep(0)
            return a + 1

        def returns_kept(self, a: int):
            self.kept = self._later(a)  # the method keeps its coroutine too
            return self.kept

        def returns_future(self, a):
            future = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(future.set_result, a)
            return future

        def raise_it(self, exc):
            raise exc

        async def araise_it(self, exc):
            await asyncio.sleep(0)
            raise exc

        @classmethod
        def make(cls, name):
            return cls()

        @staticmethod
        def helper(x):
            return x * 3

    class Child(Subject):
        pass

    class Override(Subject):
        def sync(self, a: int, *, b: str = "x") -> tuple:
            return ("override", a)

    def function(x):
        return x - 1
"""

ALL = (
    "Subject.sync", "Subject.coro", "Subject.gen", "Subject.agen", "Subject.returns_coro",
    "Subject.returns_future", "Subject.raise_it", "Subject.araise_it", "Subject.returns_kept",
)


@pytest.fixture
def subject(tracing: Tracing):  # type: ignore[no-untyped-def]
    module = tracing.module(KINDS)
    tracing.instrument(module, *ALL)
    return module


async def _collect(agen):  # type: ignore[no-untyped-def]
    return [item async for item in agen]


def test_every_kind_of_method_returns_what_it_returned(tracing: Tracing, subject) -> None:  # type: ignore[no-untyped-def]
    s = subject.Subject()
    assert s.sync(1, b="y") == (1, "y")
    assert asyncio.run(s.coro(2)) == (2, "x")
    gen = s.gen(3)
    assert list(gen) == [0, 1, 2]
    assert asyncio.run(_collect(s.agen(2))) == [0, 1]
    assert asyncio.run(s.returns_coro(5)) == 6

    async def future() -> int:
        return await s.returns_future(7)  # type: ignore[no-any-return]

    assert asyncio.run(future()) == 7
    runs = tracing.runs()
    assert [r.method.rsplit(".", 1)[1] for r in runs] == [
        "sync", "coro", "gen", "agen", "returns_coro", "returns_future",
    ]
    assert all(r.status == "ok" and r.end_ns is not None for r in runs)
    assert all(r.end_ns >= r.start_ns for r in runs)  # type: ignore[operator]


def test_generator_return_value_passes_through(subject) -> None:  # type: ignore[no-untyped-def]
    def delegate():  # type: ignore[no-untyped-def]
        return (yield from subject.Subject().gen(2))

    gen = delegate()
    assert list(gen) == [0, 1]
    with pytest.raises(StopIteration) as stop:
        next(subject.Subject().gen(0))
    assert stop.value.value == "gen-done"


def test_exception_passes_through_as_the_same_object_with_its_traceback(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    s = subject.Subject()
    boom = subject.Boom("sync boom")
    with pytest.raises(subject.Boom) as caught:
        s.raise_it(boom)
    assert caught.value is boom
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert frames[-1] == "raise_it"

    aboom = subject.Boom("async boom")
    with pytest.raises(subject.Boom) as caught:
        asyncio.run(s.araise_it(aboom))
    assert caught.value is aboom
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert frames[-1] == "araise_it"
    runs = tracing.runs()
    assert [(r.status, r.error_type, r.error_message) for r in runs] == [
        ("error", f"{subject.__name__}.Boom", "sync boom"),
        ("error", f"{subject.__name__}.Boom", "async boom"),
    ]


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_pass_through(
    tracing: Tracing, subject, exc_type: type[BaseException]  # type: ignore[no-untyped-def]
) -> None:
    exc = exc_type()
    with pytest.raises(exc_type) as caught:
        subject.Subject().raise_it(exc)
    assert caught.value is exc
    [run] = tracing.runs()
    assert run.end_ns is not None


def test_cancelled_error_passes_through_and_the_run_is_cancelled(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    module = tracing.module(
        """
        import asyncio

        class Slow:
            async def wait(self):
                await asyncio.sleep(60)
        """
    )
    tracing.instrument(module, "Slow.wait")

    async def main() -> bool:
        task = asyncio.create_task(module.Slow().wait())
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return task.cancelled()
        return False

    assert asyncio.run(main()) is True
    [run] = tracing.runs()
    assert (run.status, run.end_reason, run.error_type) == ("cancelled", "cancelled", None)


def test_a_plain_method_whose_coroutine_is_never_awaited_still_ends_its_run(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    s = subject.Subject()
    s.returns_coro(1).close()
    returned = time.time_ns()
    [run] = tracing.runs()
    assert (run.status, run.end_reason) == ("ok", "closed")
    assert run.end_ns is not None and run.start_ns <= run.end_ns <= returned


def test_a_coroutine_the_method_kept_is_left_alone_when_ours_is_dropped(subject) -> None:  # type: ignore[no-untyped-def]
    s = subject.Subject()
    s.returns_kept(1).close()
    gc.collect()
    assert asyncio.run(s.kept) == 2  # still awaitable: not closed behind the method's back


def test_introspection_sees_the_original(subject) -> None:  # type: ignore[no-untyped-def]
    cls = subject.Subject
    s = cls()
    for fn in (cls.coro, s.coro, cls.araise_it):
        assert inspect.iscoroutinefunction(fn)
    for fn in (cls.agen, s.agen):
        assert inspect.isasyncgenfunction(fn)
    assert inspect.isgeneratorfunction(cls.gen)
    assert not inspect.iscoroutinefunction(cls.sync)
    assert not inspect.iscoroutinefunction(cls.returns_coro)
    assert str(inspect.signature(cls.sync)) == "(self, a: int, *, b: str = 'x') -> tuple"
    assert str(inspect.signature(s.coro)) == "(a: int, *, b: str = 'x') -> tuple"
    original = vars(cls)["sync"].__wrapped__
    assert inspect.isfunction(original) and original.__qualname__ == "Subject.sync"
    assert inspect.unwrap(cls.coro).__code__ is cls.coro.__code__
    assert cls.sync.__name__ == "sync" and cls.sync.__qualname__ == "Subject.sync"
    assert cls.sync.__module__ == subject.__name__


def test_a_coroutine_closed_before_it_is_awaited_warns_about_nothing(subject) -> None:  # type: ignore[no-untyped-def]
    s = subject.Subject()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for make in (lambda: s.coro(1), lambda: s.returns_coro(1)):
            coroutine = make()
            assert inspect.iscoroutine(coroutine)
            coroutine.close()
            del coroutine
            gc.collect()
    assert [str(w.message) for w in caught] == []


def test_a_coroutine_never_awaited_warns_once_under_its_own_name(subject) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        subject.Subject().coro(1)
        gc.collect()
    assert [str(w.message) for w in caught] == [
        "coroutine 'Subject.coro' was never awaited"
    ]


def test_a_base_class_target_covers_subclasses_that_inherit_it(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    subject.Child().sync(1)
    subject.Override().sync(2)  # its own method: not the traced one
    [run] = tracing.runs()
    assert run.instance_class == f"{subject.__name__}.Child"
    assert run.method == f"{subject.__name__}.Subject.sync"


def test_classmethods_staticmethods_and_functions_can_be_targets(tracing: Tracing) -> None:
    module = tracing.module(KINDS)
    tracing.instrument(module, "Subject.make", "Subject.helper", "function")
    assert isinstance(module.Subject.make("x"), module.Subject)
    assert isinstance(module.Child.make("x"), module.Child)
    assert module.Subject.helper(2) == 6 and module.Subject().helper(3) == 9
    assert module.function(5) == 4
    runs = tracing.runs()
    assert [r.method.split(".", 1)[1] for r in runs] == [
        "Subject.make", "Subject.make", "Subject.helper", "Subject.helper", "function",
    ]
    # A classmethod runs on its class: the class is the instance, named as itself.
    assert runs[0].instance_class == f"{module.__name__}.Subject"
    assert runs[1].instance_class == f"{module.__name__}.Child"
    assert runs[1].instance_key != runs[0].instance_key
    assert runs[4].instance_class == "builtins.function"  # a plain function is its own


def test_stop_restores_the_originals(tracing: Tracing) -> None:
    module = tracing.module(KINDS)
    before = {name: vars(module.Subject)[name] for name in ("sync", "coro", "make", "helper")}
    child_before = dict(vars(module.Child))
    function_before = module.function
    tracing.instrument(
        module, "Subject.sync", "Subject.coro", "Subject.make", "Subject.helper", "Child.gen",
        "function",
    )
    assert vars(module.Subject)["sync"] is not before["sync"]
    assert "gen" in vars(module.Child)
    racetrace.stop()
    for name, original in before.items():
        assert vars(module.Subject)[name] is original
    assert dict(vars(module.Child)) == child_before
    assert module.function is function_before
    module.Subject().sync(1)  # untraced now, and nothing is written
    assert tracing.runs() == []


def test_decorator_traces_a_users_own_method(tracing: Tracing) -> None:
    module = tracing.module(
        """
        import racetrace

        class Mine:
            @racetrace.trace
            def go(self, x):
                return x

            @racetrace.trace(stateful=True)
            async def ago(self, x):
                return x
        """
    )
    m = module.Mine()
    assert m.go(1) == 1
    assert asyncio.run(m.ago(2)) == 2
    assert inspect.iscoroutinefunction(module.Mine.ago)
    runs = tracing.runs()
    assert [r.method for r in runs] == [f"{module.__name__}.Mine.go", f"{module.__name__}.Mine.ago"]
    assert [r.stateful for r in runs] == [None, True]


def test_decorator_returns_the_function_unchanged_when_tracing_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RACETRACE", raising=False)
    assert not racetrace.is_enabled()

    def plain(self):  # type: ignore[no-untyped-def]
        return 1

    assert racetrace.trace(plain) is plain
    assert racetrace.trace(stateful=True)(plain) is plain
    assert not racetrace.is_enabled()  # decorating did not start recording


def test_traced_functions_and_methods_pickle_and_copy_as_before(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    # multiprocessing pickles the callables it hands to workers; frameworks deep-copy configs
    # that hold callbacks. A traced method must survive both, and stay traced.
    tracing.instrument(subject, "Subject.make", "function")
    s = subject.Subject()
    assert copy.copy(subject.Subject.sync) is subject.Subject.sync
    for traced in (subject.Subject.sync, s.sync, subject.Subject.make, subject.function):
        loaded = pickle.loads(pickle.dumps(traced))
        assert loaded.__qualname__ == traced.__qualname__
        # As the originals copy: a function as itself, a bound method as an equal one.
        assert copy.copy(traced) == traced
    assert pickle.loads(pickle.dumps(s.sync))(4) == (4, "x")
    assert pickle.loads(pickle.dumps(subject.function))(4) == 3
    holder = {"callback": s.sync}
    copied = copy.deepcopy(holder)
    assert copied["callback"].__self__ is not s
    assert isinstance(copied["callback"].__self__, subject.Subject)
    assert copied["callback"](5) == (5, "x")
    assert len(tracing.runs()) == 3  # the loaded and copied callables are still traced


def test_a_traced_coroutine_method_answers_and_is_called_as_the_original(
    tracing: Tracing, subject  # type: ignore[no-untyped-def]
) -> None:
    cls = subject.Subject
    original = vars(cls)["coro"].__wrapped__
    traced = cls.coro
    # What a program reads of it is the original function's ...
    assert inspect.isfunction(traced) and inspect.iscoroutinefunction(traced)
    assert asyncio.iscoroutinefunction(cls().coro) and inspect.ismethod(cls().coro)
    assert (traced.__module__, traced.__doc__, traced.__defaults__) == (
        original.__module__, original.__doc__, original.__defaults__)
    assert traced.__kwdefaults__ == {"b": "x"} and traced.__annotations__["return"] is tuple
    # ... and what it sets on it lands there too.
    traced.marker = "set through the traced method"
    assert original.marker == "set through the traced method"
    assert vars(traced) is original.__dict__ and "marker" in dir(traced)
    del traced.marker
    assert not hasattr(original, "marker")
    assert repr(cls().coro).startswith("<bound method Subject.coro of ")

    # Called through the class, through super() and on a subclass, each call is one run.
    child = subject.Child()

    async def calls() -> list[tuple[int, str]]:
        return [await cls.coro(child, 1), await super(subject.Child, child).coro(2),
                await child.coro(3, b="y")]

    assert asyncio.run(calls()) == [(1, "x"), (2, "x"), (3, "y")]
    runs = tracing.runs()
    assert [r.method.rsplit(".", 1)[1] for r in runs] == ["coro"] * 3
    assert all(r.status == "ok" for r in runs)
    assert len({r.instance_key for r in runs}) == 1
    with pytest.raises(TypeError):  # no instance: the original's own error, no run
        cls.coro()


def test_a_traced_coroutine_method_takes_keywords_of_any_name(tracing: Tracing) -> None:
    # The traced call's own parameters never clash with the original's keywords: an HTTP
    # client's `proxy=` reaches the method as it does untraced.
    module = tracing.module(
        """
        class Client:
            async def fetch(self, url, proxy=None, **options):
                return (url, proxy, options)
        """
    )
    tracing.instrument(module, "Client.fetch")
    client = module.Client()

    async def calls() -> list[tuple[object, ...]]:
        return [await client.fetch("u", proxy="p"),
                await module.Client.fetch(client, "v", proxy="q", wrapped=1, args=2)]

    assert asyncio.run(calls()) == [("u", "p", {}), ("v", "q", {"wrapped": 1, "args": 2})]
    assert [r.status for r in tracing.runs()] == ["ok", "ok"]
