"""Delegation: whether a call on an instance that is already running is the same run or another.

One run or two is decided by whose code stands between the running run's call and the new one,
never by where that code is installed (production code lives in site-packages too). Frames of
methods bound to the same instance, the instance's framework family (its preset's packages)
and the standard library's plumbing delegate: one run. Any other frame (a user callback, a
tool, another library) makes a second run, wherever it is installed.

A function installed on the instance or its class under the name of a method (a spy:
`graph.astream = recorder`, `mocker.spy`, `patch.object(..., wraps=...)`) is that method: its
frames delegate. A callback stored on the instance under a name the class has no method for
(`agent.on_reply = handler`) is the user's code.
"""

from __future__ import annotations

import functools
import os
import sys
from types import CodeType, FrameType, FunctionType, MethodType
from typing import Any

from .frames import INTERNAL, STDLIB, Owner, file_kind, first_argument, is_task_boundary

# The standard library that runs other code on a run's behalf: tasks and their helpers,
# threads and executors, context managers, partials and wraps. `unittest.mock` too: a mock
# installed under a method's name (`wraps=`, a spy's `side_effect`) is that method's plumbing;
# a user function it calls shows its own frame. Any other standard module's frame is not.
_PLUMBING = ("asyncio", "threading.py", "concurrent", "contextlib.py", "functools.py",
             f"unittest{os.sep}mock.py")
_PLUMBING_PREFIXES = tuple(
    os.path.join(os.path.dirname(os.path.abspath(functools.__file__)), name)
    for name in _PLUMBING
)

_DELEGATES, _BOUNDARY, _OTHER = 0, 1, 2
# Keyed by id() of the code (hashing a code object hashes its bytecode); each value holds the
# code, so that its id cannot be reused meanwhile.
_kinds: dict[int, tuple[CodeType, int]] = {}


def _kind_of(code: CodeType) -> int:
    entry = _kinds.get(id(code))
    if entry is None:
        kind = file_kind(code.co_filename)
        if kind == INTERNAL:
            found = _BOUNDARY
        elif kind == STDLIB and is_task_boundary(code):
            found = _BOUNDARY
        elif kind == STDLIB and os.path.abspath(code.co_filename).startswith(_PLUMBING_PREFIXES):
            found = _DELEGATES
        else:
            found = _OTHER
        entry = _kinds[id(code)] = (code, found)
    return entry[1]


def is_delegation(frame: FrameType | None, instance: object, owner: Owner) -> bool:
    """Whether a call comes from the running run's own code rather than from someone else's.

    Called only when the innermost active run in this context is on the same instance. Walks
    outward from the caller: reaching racetrace's wrapper means only delegating frames stood
    between the two calls (`run()` delegating to `run_stream()`, `super().run()`): one run.
    A stack that ends without it (a task or an executor thread the run started; a task's stack
    ends at the event loop's callback dispatch) is one run too, if nothing else was seen.
    """
    installed: dict[int, CodeType] | None = None
    depth = 0
    while frame is not None and depth < 128:
        code = frame.f_code
        kind = _kind_of(code)
        if kind == _BOUNDARY:
            return True
        if kind == _OTHER and not owner.delegates(code):
            if first_argument(frame, code) is not instance:
                # The rare path (a re-entrant call, or a spy): what is installed on the
                # instance is read now, never cached, since tests install and remove spies.
                if installed is None:
                    installed = installed_methods(instance)
                if id(code) not in installed:
                    return False
        frame = frame.f_back
        depth += 1
    return True


_MAX_ATTRIBUTES = 512
_SELF = frozenset({"self", "cls"})


def installed_methods(instance: object) -> dict[int, CodeType]:
    """The code of every function installed as one of the instance's methods (by id), as far
    as it can be followed through wrappers: functions on its class and bases, and functions on
    the instance itself under the name of a method of its class (a spy). Read by type and by
    `vars()` only: nothing of the user's objects is called, hashed or compared."""
    found: dict[int, CodeType] = {}
    cls = instance if isinstance(instance, type) else type(instance)
    mro: tuple[type, ...] = getattr(cls, "__mro__", (cls,))
    classes = [vars(c) for c in mro if c is not object]
    for namespace in classes:
        for value in list(namespace.values())[:_MAX_ATTRIBUTES]:
            if type(value) is FunctionType:
                code = value.__code__
                if (code.co_argcount and code.co_varnames[0] in _SELF
                        and getattr(value, "__wrapped__", None) is None):
                    continue  # a plain method: its frames show the instance as `self`
            elif not callable(value) and not isinstance(value, staticmethod | classmethod):
                continue
            _collect(value, found, 0)
    if not isinstance(instance, type):
        try:
            own = vars(instance)
        except TypeError:  # __slots__ only: nothing can be installed on the instance
            own = {}
        for name, value in list(own.items())[:_MAX_ATTRIBUTES]:
            if not isinstance(name, str) or not callable(value):
                continue
            for namespace in classes:  # the class attribute it shadows, found as Python does
                shadowed = namespace.get(name)
                if shadowed is not None:
                    if _is_method(shadowed):
                        _collect(value, found, 0)
                    break
    return found


def _is_method(value: Any) -> bool:
    """A class attribute that is a method (a default `on_reply = None` is not)."""
    return value is not None and (
        isinstance(value, staticmethod | classmethod) or callable(value)
    )


def _collect(value: Any, found: dict[int, CodeType], depth: int) -> None:
    """The code objects a callable runs, through the wrappers that spies and decorators use:
    `functools.wraps` (`__wrapped__`), bound methods, partials, static and class methods,
    mocks (`wraps=`, `side_effect`, an autospec function's `mock`) and wrapt's wrappers."""
    if depth > 4 or value is None:
        return
    if isinstance(value, FunctionType):
        code = value.__code__
        found[id(code)] = code
        # getattr, not `__dict__`: that would build a dict for every plain function.
        _collect(getattr(value, "__wrapped__", None), found, depth + 1)
        _collect(getattr(value, "mock", None), found, depth + 1)
    elif isinstance(value, MethodType | staticmethod | classmethod):
        _collect(value.__func__, found, depth + 1)
    elif isinstance(value, functools.partial):
        _collect(value.func, found, depth + 1)
    elif isinstance(value, type):
        return
    else:
        mock = sys.modules.get("unittest.mock")
        if mock is not None and isinstance(value, mock.NonCallableMock):
            state = object.__getattribute__(value, "__dict__")
            for name in ("_mock_wraps", "_mock_side_effect"):
                _collect(state.get(name), found, depth + 1)
            return
        wrapt = sys.modules.get("wrapt")
        if wrapt is not None and isinstance(value, wrapt.ObjectProxy):
            try:
                _collect(object.__getattribute__(value, "__wrapped__"), found, depth + 1)
            except AttributeError:
                pass
            _collect(getattr(value, "_self_wrapper", None), found, depth + 1)
