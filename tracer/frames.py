"""Reading the caller's stack cheaply: the user's call site, a short stack, and delegation.

`traceback.extract_stack` costs ~19 µs even for two frames; walking `sys._getframe` and caching
what we learn about each code object costs a few hundred ns a frame.
"""

from __future__ import annotations

import itertools
import os
import sys
from types import CodeType, FrameType

# Taken at import: a blocking-call checker (blockbuster) patches `os.path.abspath` to raise on
# an event loop's thread, and racetrace reads paths there (a task's creation site, say).
_abspath = os.path.abspath
_TRACER_DIR = os.path.dirname(_abspath(__file__)) + os.sep


def _wrapt_dir() -> str:
    """Where wrapt lives, found without importing it (its imports cost ~30 ms)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("wrapt")
        if spec is not None and spec.origin:
            return os.path.dirname(os.path.abspath(spec.origin)) + os.sep
    except Exception:
        pass
    return _TRACER_DIR


def _stdlib_dirs() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    dirs = {os.path.abspath(paths[k]) + os.sep for k in ("stdlib", "platstdlib") if k in paths}
    return tuple(sorted(dirs))


# Found with the first file classified, not at import: start-up is paid by every process.
_INTERNAL_DIRS: tuple[str, ...] = ()
_STDLIB_DIRS: tuple[str, ...] = ()


def prepare() -> None:
    """Find the directories now (at an import, when runs are coming), so that the first file
    classified is not classified on an event loop that a blocking-call checker watches."""
    if not _INTERNAL_DIRS:
        _find_dirs()


def _find_dirs() -> None:
    global _INTERNAL_DIRS, _STDLIB_DIRS
    _STDLIB_DIRS = _stdlib_dirs()
    _INTERNAL_DIRS = (_TRACER_DIR, _wrapt_dir())

INTERNAL, STDLIB, OTHER = 0, 1, 2
_kind_cache: dict[str, int] = {}


def file_kind(filename: str) -> int:
    """INTERNAL (racetrace, wrapt), STDLIB, or OTHER (users' code and third-party libraries)."""
    kind = _kind_cache.get(filename)
    if kind is None:
        if not _INTERNAL_DIRS:
            _find_dirs()
        path = _abspath(filename) if not filename.startswith("<") else filename
        if path.startswith(_INTERNAL_DIRS):
            kind = INTERNAL
        elif path.startswith("<frozen") or (
            path.startswith(_STDLIB_DIRS)
            and "site-packages" not in path
            and "dist-packages" not in path
        ):
            kind = STDLIB
        else:
            kind = OTHER
        if len(_kind_cache) >= CODES_KEPT:  # generated code: a file name each (`<gen42>`)
            _kind_cache.clear()
        _kind_cache[filename] = kind
    return kind


def is_install_root(path: str) -> bool:
    """Whether a `sys.path` entry is where distributions are installed (`.../site-packages`),
    not a folder inside one (a script's own folder, when the script is installed too)."""
    return os.path.basename(os.path.normpath(path)) in ("site-packages", "dist-packages")


class Owner:
    """The code that owns a traced method, for the call site: its frames are not the user's.

    A framework preset's owner is its family of packages (`Owner.of_family`), wherever they are
    installed, so that `autogen_agentchat` calling into `autogen_core` is still the library;
    its code also delegates (`delegates`): it may stand between two calls on one instance that
    make one run. A target named by the user (`RACETRACE_TARGETS`) has no family: its owner is
    the class bodies of the module that defines the method, for the call site only. A callback
    in the user's `main.py` that calls `agent.run()` is the user's line, even in the same
    package, and whether that package sits in a checkout or in site-packages does not matter.
    """

    def __init__(self, module_file: str | None, package_dirs: tuple[str, ...] = ()) -> None:
        self._files: frozenset[str] = frozenset()
        self._prefixes: tuple[str, ...] = tuple(package_dirs)
        if module_file:
            self._files = frozenset({os.path.abspath(module_file), module_file})
        self._cache: dict[str, bool] = {}
        # Keyed by id(): hashing a code object hashes its bytecode and constants, microseconds
        # for a big function. The value holds the code, so its id cannot be reused meanwhile.
        self._code_cache: dict[int, tuple[CodeType, bool]] = {}
        # What a frame of each code is to the call-site walk (`capture`), keyed as above.
        self._site_roles: dict[int, tuple[CodeType, int]] = {}

    @classmethod
    def of_module(cls, module: object) -> Owner:
        return cls(getattr(module, "__file__", None))

    @classmethod
    def of_family(cls, patterns: tuple[str, ...]) -> Owner:
        """The whole code of several top-level packages, named or matched by a `*` pattern
        (`langchain*`): a framework split into distributions is one library."""
        return cls(None, package_locations(patterns))

    @property
    def is_family(self) -> bool:
        return bool(self._prefixes)

    def owns(self, code: CodeType) -> bool:
        entry = self._code_cache.get(id(code))
        if entry is None:
            if len(self._code_cache) >= CODES_KEPT:
                self._code_cache.clear()
            entry = self._code_cache[id(code)] = (code, self._owns(code))
        return entry[1]

    def site_role(self, code: CodeType) -> int:
        """What a frame of `code` is to the call-site walk, worked out once per code."""
        entry = self._site_roles.get(id(code))
        if entry is None:
            kind = _kind_of_code(code)
            if kind == _TASK_BOUNDARY:
                role = _BOUNDARY
            elif kind == INTERNAL:
                role = _SKIP
            elif self.owns(code):
                role = _LIBRARY
            elif kind == OTHER:
                role = _USER_METHOD if _looks_like_method(code) else _USER
            else:
                role = _FALLBACK
            if len(self._site_roles) >= CODES_KEPT:
                self._site_roles.clear()
            entry = self._site_roles[id(code)] = (code, role)
        return entry[1]

    def delegates(self, code: CodeType) -> bool:
        """Whether code may stand between two calls on one instance that are one run: the
        framework family's code; nothing of a user's module (its own methods delegate as
        methods bound to the instance, not as the module's code)."""
        return bool(self._prefixes) and self.owns(code)

    def _owns(self, code: CodeType) -> bool:
        filename = code.co_filename
        owned = self._cache.get(filename)
        if owned is None:
            path = _abspath(filename) if not filename.startswith("<") else filename
            owned = path in self._files or (
                bool(self._prefixes) and path.startswith(self._prefixes)
            )
            if len(self._cache) >= CODES_KEPT:
                self._cache.clear()
            self._cache[filename] = owned
        if owned and not self._prefixes:
            return _in_class_body(code)
        return owned


def package_locations(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Where the top-level packages named by `patterns` live: a directory (with a trailing
    separator) per package, or the file of a one-module distribution. Nothing is imported: an
    exact name is looked up with `importlib.util.find_spec` (which also sees packages that only
    an import hook knows, as editable installs), a pattern among the installed libraries on
    `sys.path`."""
    import fnmatch
    import importlib.util

    found: list[str] = []

    def add(path: str) -> None:
        path = os.path.abspath(path)
        location = path + os.sep if os.path.isdir(path) else path
        if location not in found:
            found.append(location)

    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            try:
                spec = importlib.util.find_spec(pattern)
            except (ImportError, ValueError):
                continue
            if spec is not None:
                for location in spec.submodule_search_locations or ():
                    add(location)
                if not spec.submodule_search_locations and spec.origin:
                    add(spec.origin)
            continue
        # Patterns only among the top-level names of installed distributions: a user's
        # `langchain_demo/` is not LangChain, nor is `langgraph_app.py` beside an installed
        # script that Python put first on the path.
        for entry in sys.path:
            if not is_install_root(os.path.abspath(entry or ".")):
                continue
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            for name in sorted(names):
                stem = name[:-3] if name.endswith(".py") else name
                if not stem.isidentifier() or not fnmatch.fnmatchcase(stem, pattern):
                    continue
                path = os.path.join(entry or ".", name)
                if name.endswith(".py") or os.path.isdir(path):
                    add(path)
    return tuple(found)


def _in_class_body(code: CodeType) -> bool:
    """Whether code is defined in a class (`Agent.run`, `Agent.run.<locals>.helper`,
    `make.<locals>.Agent.run`), not the module's own functions and statements (`main`,
    `main.<locals>.callback`, `<module>`)."""
    qualname = getattr(code, "co_qualname", None)
    if qualname is None:  # Python 3.10 has no co_qualname: the whole module, as before
        return True
    parts = qualname.split(".")
    return any(a != "<locals>" != b for a, b in itertools.pairwise(parts))


def callsite_frame(
    frame: FrameType | None, owner: Owner, instance: object
) -> FrameType | None:
    """The user's line: the first frame outside racetrace, the owning library and the
    instance's own methods (a subclass override calling `super().run()`).

    The walk stops where the event loop steps a task: the frames below belong to whoever
    started the loop (`asyncio.run(main())`), not to the caller. A run with no user frame
    above that (a framework calling an agent from a task of its own) is called from the
    library's line that made the call, else the first standard library frame.
    """
    fallback: FrameType | None = None
    library: FrameType | None = None
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        kind = file_kind(code.co_filename)
        if kind == STDLIB and is_task_boundary(code):
            break
        if kind != INTERNAL:
            if owner.owns(code):
                if library is None:
                    library = frame
            elif kind == OTHER and first_argument(frame, code) is not instance:
                return frame
            elif fallback is None:
                fallback = frame
        frame = frame.f_back
        depth += 1
    return library or fallback


# Keyed by id() of code objects (hashing a code object costs microseconds: its bytecode and
# constants); each value holds the codes, so that their ids cannot be reused meanwhile.
# Each of these caches is emptied when it holds `CODES_KEPT` codes: a program that makes code
# in a loop (exec, compile, a template engine) must not keep every code alive, and a code
# forgotten costs a classification (microseconds) the next time it is seen.
CODES_KEPT = 4096
_TASK_BOUNDARY = -1
_code_kinds: dict[int, tuple[CodeType, int]] = {}
# A call site and its stack, cached by the (code, instruction) pairs of the frames that make
# them up (`_stacks`): a program calls its traced methods from a handful of places, and finding
# a frame's line (`f_lineno` reads the code's line table) and formatting the stack are most of
# the cost.
Site = tuple[str, str, int, list[str]]  # function, file, line, the short stack from there


def _kind_of_code(code: CodeType) -> int:
    entry = _code_kinds.get(id(code))
    if entry is None:
        kind = _TASK_BOUNDARY if is_task_boundary(code) else file_kind(code.co_filename)
        if len(_code_kinds) >= CODES_KEPT:
            _code_kinds.clear()
        entry = _code_kinds[id(code)] = (code, kind)
    return entry[1]


# What a frame is to the call-site walk (`Owner.site_role`): the user's line (a method's only if
# its `self` is not the run's instance), the owning library's, a standard library fallback,
# racetrace's own (skipped), or where the event loop steps a task (the walk stops).
_USER, _USER_METHOD, _LIBRARY, _FALLBACK, _SKIP, _BOUNDARY = range(6)


def _looks_like_method(code: CodeType) -> bool:
    return code.co_argcount > 0 and code.co_varnames[0] in _METHOD_FIRST_ARGUMENTS


def capture(
    frame: FrameType | None, owner: Owner, instance: object, limit: int = 6
) -> Site | None:
    """The user's line (as `callsite_frame` finds it) and the short stack from it: `file:line
    in function` for up to `limit` frames outward, the user's and libraries', without
    racetrace's own or the standard library's (the event loop's, mostly). One walk: each
    frame's code is classified once per owner, and the result is cached by the (code,
    instruction) pairs of the frames that make it up. Per run: a dict lookup per frame up to
    the site, one for the site's stacks, and two comparisons per frame of its stack."""
    roles = owner._site_roles
    fallback: FrameType | None = None
    library: FrameType | None = None
    site: FrameType | None = None
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        entry = roles.get(id(code))
        role = entry[1] if entry is not None else owner.site_role(code)
        if role == _USER:
            site = frame
            break
        if role == _USER_METHOD:
            if first_argument(frame, code) is not instance:
                site = frame
                break
            if fallback is None:  # the instance's own method (a subclass calling super())
                fallback = frame
        elif role == _LIBRARY:
            if library is None:
                library = frame
        elif role == _FALLBACK:
            if fallback is None:
                fallback = frame
        elif role == _BOUNDARY:
            break
        frame = frame.f_back
        depth += 1
    if site is None:
        site = library or fallback
        if site is None:
            return None
    # The stacks seen from this site's code, each with the (code, instruction) pairs of the
    # frames it was made of: the first whose frames are still there is this one's.
    known = _stacks.get(id(site.f_code))
    if known is not None and known[0] is site.f_code:
        lasti = site.f_lasti
        for entry_lasti, parents, ends, result in known[1]:
            if entry_lasti != lasti:
                continue
            frame = site.f_back
            for code, parent_lasti in parents:
                if frame is None or frame.f_code is not code or frame.f_lasti != parent_lasti:
                    break
                frame = frame.f_back
            else:
                if not ends or frame is None:
                    return result
    return _capture_new(site, limit)


# By id() of a call site's code: that code, and the stacks made from it, each as (the site's
# instruction, the (code, instruction) pairs of the frames read after it, whether the stack
# ended there, the site and its stack). Bounded as the code caches are (`CODES_KEPT` sites,
# `_STACKS_PER_SITE` stacks each).
StackEntry = tuple[int, tuple[tuple[CodeType, int], ...], bool, Site]
_stacks: dict[int, tuple[CodeType, list[StackEntry]]] = {}
_STACKS_PER_SITE = 32


def _capture_new(site: FrameType, limit: int) -> Site:
    """The site and its stack, formatted, and cached under the frames they depend on: those
    the walk read (to its `limit`-th user frame, a task boundary, or the end of the stack,
    which tells it apart from a longer stack)."""
    stack = []
    parents: list[tuple[CodeType, int]] = []
    frame: FrameType | None = site
    ends = False
    while frame is not None and len(stack) < limit:
        code = frame.f_code
        if frame is not site:
            parents.append((code, frame.f_lasti))
        kind = _kind_of_code(code)
        if kind == OTHER:
            stack.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        elif kind == _TASK_BOUNDARY:
            break
        frame = frame.f_back
    else:
        ends = frame is None
    site_code = site.f_code
    result: Site = (site_code.co_name, site_code.co_filename, site.f_lineno, stack)
    known = _stacks.get(id(site_code))
    if known is None or known[0] is not site_code:
        if len(_stacks) >= CODES_KEPT:
            _stacks.clear()
        known = _stacks[id(site_code)] = (site_code, [])
    entries = known[1]
    if len(entries) >= _STACKS_PER_SITE:
        del entries[:]
    entries.append((site.f_lasti, tuple(parents), ends, result))
    return result


_METHOD_FIRST_ARGUMENTS = frozenset({"self", "cls"})


def first_argument(frame: FrameType, code: CodeType) -> object:
    # Reading f_locals builds a dict of the frame's locals: only for frames that look like
    # methods, which are the only ones whose first argument can be the instance.
    if code.co_argcount == 0 or code.co_varnames[0] not in _METHOD_FIRST_ARGUMENTS:
        return None
    try:
        return frame.f_locals.get(code.co_varnames[0])
    except Exception:
        return None


def called_by_owner(frame: FrameType | None, owner: Owner) -> bool:
    """Whether the nearest caller outside racetrace and the standard library is the owning
    library itself (a chain calling its steps), rather than the user's code (or nobody, as at
    the bottom of a thread the user started)."""
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        kind = file_kind(code.co_filename)
        if kind == OTHER:
            return owner.owns(code)
        if kind == STDLIB and is_task_boundary(code):
            return False
        frame = frame.f_back
        depth += 1
    return False


_task_boundary: list[CodeType] = []


def is_task_boundary(code: CodeType) -> bool:
    """Whether code is `asyncio.events.Handle._run`, where the event loop steps a task."""
    if not _task_boundary:
        events = sys.modules.get("asyncio.events")
        if events is None:
            return False
        _task_boundary.append(events.Handle._run.__code__)
    return code is _task_boundary[0]
