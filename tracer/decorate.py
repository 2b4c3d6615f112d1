"""`@racetrace.trace`: the decorator form of a target, for the user's own methods.

Decorated while tracing is on, the function is wrapped at once. Decorated while it is off, it is
returned unchanged and remembered (deferred.py); `adopt_deferred()`, run by every start, patches
it where it lives then, so `racetrace.start()` may come before or after the class statement.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from . import deferred, targets
from .errors import internal_error, verbose
from .frames import Owner
from .targets import Target


def wrap_function(function: Callable[..., Any], *, stateful: bool | None = None) -> Any:
    from .wrap import TracedFunction, kind_of, make_wrapper  # wrapt, once something is traced

    target = _target_of(function, stateful)
    module = sys.modules.get(target.module)
    if module is not None:
        target.owner = Owner.of_module(module)
    wrapper = TracedFunction(function, make_wrapper(target, kind_of(function)))
    wrapper._self_racetrace_target = target.spec
    return wrapper


def _target_of(function: Callable[..., Any], stateful: bool | None) -> Target:
    module_name = getattr(function, "__module__", None) or "__main__"
    path = getattr(function, "__qualname__", function.__name__).replace(".<locals>", "")
    return Target(module=module_name, path=path, stateful=stateful)


def adopt_deferred() -> None:
    """Patch every function decorated while tracing was off, in its class or module."""
    for function, stateful in deferred.decorated():
        try:
            _adopt(function, stateful)
        except Exception as exc:
            internal_error("tracing " + getattr(function, "__qualname__", "?"), exc)


def _adopt(function: Callable[..., Any], stateful: bool | None) -> None:
    target = _target_of(function, stateful)
    module = sys.modules.get(target.module)
    found = _find(module, target.path, function)
    if found is None:
        verbose(
            f"@racetrace.trace on {target.spec}: not found where its name says "
            "(replaced, or its class not made yet); not traced"
        )
        return
    parent, attribute, original = found
    targets.patch_attribute(target, module, parent, attribute, original)


def _find(module: Any, path: str, function: Any) -> tuple[Any, str, Any] | None:
    """(the class or module holding `function`, its name there, the value found) or None."""
    if module is None:
        return None
    *owners, attribute = path.split(".")
    parent = module
    for name in owners:
        parent = getattr(parent, name, None)
        if parent is None:
            return None
    value = vars(parent).get(attribute) if hasattr(parent, "__dict__") else None
    if value is function or getattr(value, "__func__", None) is function:
        return parent, attribute, value
    return None  # already traced (ours wraps it), or something else now holds that name
