"""Which module a target names, and why a target never resolved: the words and the hints.

The script you run is the module `__main__` (`__mp_main__` in a child started by
multiprocessing's spawn), yet users name it as they name the file: `app:Agent.run` for
`python app.py`, `myapp.main:Agent.run` for `python -m myapp.main` or `python myapp/main.py`.
All of these name the same module here.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace
from typing import Any

MAIN_NAMES = frozenset({"__main__", "__mp_main__"})

_names_cache: dict[int, tuple[dict[str, Any], frozenset[str]]] = {}


def module_names(namespace: dict[str, Any]) -> frozenset[str]:
    """Every name a target may use for the module whose globals are `namespace`."""
    name = namespace.get("__name__")
    if name not in MAIN_NAMES:
        return frozenset({name}) if isinstance(name, str) else frozenset()
    cached = _names_cache.get(id(namespace))
    if cached is not None and cached[0] is namespace:
        return cached[1]
    names = {name, "__main__"}
    spec = namespace.get("__spec__")
    spec_name = getattr(spec, "name", None)
    if isinstance(spec_name, str) and spec_name not in MAIN_NAMES:
        names.add(spec_name)  # python -m myapp.main
        if spec_name.endswith(".__main__"):
            names.add(spec_name.rpartition(".")[0])  # python -m myapp
    names.update(_script_names(_file_of(namespace)))
    result = frozenset(names)
    _names_cache[id(namespace)] = (namespace, result)
    return result


def _file_of(namespace: dict[str, Any]) -> object:
    file = namespace.get("__file__")
    if file is None and namespace.get("__name__") == "__main__":
        # The interpreter deletes the script's `__file__` once it has run: at exit, argv says.
        argv0 = sys.argv[0] if sys.argv else None
        file = argv0 if isinstance(argv0, str) and argv0.endswith(".py") else None
    return file


def _script_names(file: object) -> set[str]:
    """`app` for app.py, and `myapp.main` for myapp/main.py under the working directory."""
    if not isinstance(file, str) or not file.endswith(".py"):
        return set()
    path = os.path.abspath(file)[: -len(".py")]
    names = {os.path.basename(path)} if os.path.basename(path).isidentifier() else set()
    try:
        parts = os.path.relpath(path).split(os.sep)
    except ValueError:  # another drive, on Windows
        return names
    if all(p.isidentifier() for p in parts):
        names.add(".".join(parts))
    return names


def module_of(namespace: dict[str, Any]) -> Any:
    """The module object whose globals are `namespace` (something module-like for exec'd code)."""
    module = sys.modules.get(namespace.get("__name__") or "")
    if module is not None and getattr(module, "__dict__", None) is namespace:
        return module
    return SimpleNamespace(__name__=namespace.get("__name__"), __file__=namespace.get("__file__"))


def is_running(module: Any) -> bool:
    """The script, or a module whose import has not finished: its classes may come later."""
    if getattr(module, "__name__", None) in MAIN_NAMES:
        return True
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def ran_here(module: str) -> bool:
    """Whether `module` ran in this process: the script (`app`, `__main__` when a script or
    `-m` module ran, not `python -c`), or a module imported, whatever became of its import."""
    if module in _main_names():
        return _program() is not None
    return module in sys.modules


def _main_namespace() -> dict[str, Any] | None:
    main = sys.modules.get("__main__")
    namespace = getattr(main, "__dict__", None)
    return namespace if isinstance(namespace, dict) else None


def _program() -> str | None:
    """How the program was run, as the user typed it: `app.py` or `-m myapp.main`."""
    namespace = _main_namespace()
    if namespace is None:
        return None
    spec_name = getattr(namespace.get("__spec__"), "name", None)
    if isinstance(spec_name, str):
        return "-m " + spec_name.removesuffix(".__main__")
    file = _file_of(namespace)
    if isinstance(file, str):
        try:
            return os.path.relpath(file)
        except ValueError:
            return file
    return None


def _main_names() -> frozenset[str]:
    namespace = _main_namespace()
    return module_names(namespace) if namespace is not None else frozenset()


def explain(spec: str, reason: str | None) -> str:
    """Why `spec` never resolved in this process, with the hint that fits."""
    module, _, path = spec.partition(":")
    if reason is not None:
        hint = _attribute_hint(module, path)
        return f"{reason.removesuffix('; not traced')}; not traced" + (f" ({hint})" if hint else "")
    if module in _main_names():
        return _in_the_script(spec, module, path)
    if module in sys.modules:  # racetrace.start() at its top, and it never defined the class
        hint = _attribute_hint(module, path)
        return f"target {spec} never resolved: {module} defines no {path}" + (
            f" ({hint})" if hint else ""
        )
    hints = _module_hints(module, path)
    return (
        f"target {spec} never resolved: no module {module!r} was imported in this process "
        f"(pid {os.getpid()})" + (": " + "; ".join(hints) if hints else "")
    )


def _in_the_script(spec: str, module: str, path: str) -> str:
    """The target names the program you ran, yet nothing was patched in it."""
    program = _program()
    main = sys.modules.get("__main__")
    head = f"target {spec} never resolved in {program}, the program you ran"
    if "." not in path and callable(getattr(main, path, None)):
        return (
            f"{head}: a function at the top of the script runs before it could be patched; "
            "decorate it with @racetrace.trace, or move it into a module"
        )
    hint = _attribute_hint(module, path)
    return f"{head}: it defines no {path}" + (f" ({hint})" if hint else "")


def _module_hints(module: str, path: str) -> list[str]:
    hints: list[str] = []
    program = _program()
    main_names = _main_names()
    loaded = [name for name in sys.modules if name not in MAIN_NAMES]
    as_module = _as_module(program, module)
    # python myapp/main.py puts myapp/ on sys.path: myapp/agents.py is imported as `agents`.
    for name in [n for n in loaded if module.endswith("." + n) and not n.startswith("_")]:
        hints.append(
            f"it was imported as {name!r}, the script's folder being on sys.path: name the "
            f"target {name}:{path}" + (f", or {as_module}" if as_module else "")
        )
    if as_module and not hints:
        hints.append(as_module)
    # The program's own names first, then modules of the program and its libraries: a near
    # miss on the standard library (`apq` -> `heapq`) would mislead.
    import difflib  # hints are rare: not at start-up

    close = difflib.get_close_matches(module, sorted(main_names - MAIN_NAMES), n=1)
    if close and not hints:
        hints.append(f"did you mean {close[0]}:{path}? ({program} is the program you ran)")
    elif not close:
        stdlib = getattr(sys, "stdlib_module_names", frozenset())
        ours = [n for n in loaded if n.partition(".")[0] not in stdlib and not n.startswith("_")]
        close = difflib.get_close_matches(module, ours, n=1, cutoff=0.8)
        if close and not hints:
            hints.append(f"did you mean {close[0]}:{path}?")
    if program is not None and not hints:
        own = sorted(main_names - MAIN_NAMES, key=len)
        names = " or ".join(f"{n}:" for n in [*own[:1], "__main__"])
        hints.append(f"the program you ran is {program}: its own classes are named {names}")
    return hints


def _as_module(program: str | None, module: str) -> str | None:
    """`run python -m myapp.main ...` when a script inside the target's package ran by path."""
    if program is None or program.startswith("-m ") or "." not in module:
        return None
    package = module.partition(".")[0]
    script = os.path.abspath(program)
    folders = os.path.dirname(script).split(os.sep)
    if package not in folders:
        return None
    # The folder above the package is where `python -m` finds it.
    top = os.sep.join(folders[: len(folders) - 1 - folders[::-1].index(package)]) or os.sep
    dotted = os.path.relpath(script, top)[: -len(".py")].replace(os.sep, ".")
    return f"run it as a module: python -m {dotted} from {top}"


def _attribute_hint(module: str, path: str) -> str | None:
    """`did you mean Agent.run?` from the attributes of what the path's prefix resolves to."""
    target: Any = sys.modules.get(module)
    if target is None and module in _main_names():
        target = sys.modules.get("__main__")
    if target is None:
        return None
    parts = path.split(".")
    prefix: list[str] = []
    for part in parts[:-1]:
        value = getattr(target, part, None)
        if value is None:
            break
        target, prefix = value, [*prefix, part]
    wanted = parts[len(prefix)]
    names = [n for n in dir(target) if not n.startswith("__")]
    import difflib

    close = difflib.get_close_matches(wanted, names, n=1)
    if not close:
        return None
    return "did you mean " + ".".join([*prefix, close[0], *parts[len(prefix) + 1:]]) + "?"
