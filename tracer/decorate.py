"""`@racetrace.trace`: the decorator form of a target, for the user's own methods."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .frames import Owner
from .targets import Target
from .wrap import TracedFunction, kind_of, make_wrapper


def wrap_function(function: Callable[..., Any], *, stateful: bool | None = None) -> Any:
    module_name = getattr(function, "__module__", None) or "__main__"
    path = getattr(function, "__qualname__", function.__name__).replace(".<locals>", "")
    target = Target(module=module_name, path=path, stateful=stateful)
    module = sys.modules.get(module_name)
    if module is not None:
        target.owner = Owner.of_module(module)
    wrapper = TracedFunction(function, make_wrapper(target, kind_of(function)))
    wrapper._self_racetrace_target = target.spec
    return wrapper
