"""Where an instance was created, as the tracer recorded it on the instance's first run, and
what that says about how it is shared: a module-level singleton, a factory's product, or one
object made in a function and handed around.

Per instance, never per run: the site is read from the details of a lane's first run (or the
second, when two threads began the first two runs together and the later start carried it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import msgspec
from racetrace.analyzers.core.model import Run, Trace

MODULE, CLASS, FUNCTION = "module", "class", "function"
SINGLETON, FACTORY, ONCE = "singleton", "factory", "function"
# Two first runs begun together by two threads: the one that recorded the site may have the
# later start.
_RACE_NS = 1_000_000


class CreationSite(msgspec.Struct, frozen=True, gc=False):
    """`file:line` where an instance was created, in which function, at which scope, and how
    many traced instances of its class its process created at that line."""

    file: str
    line: int | None
    function: str | None
    scope: str | None  # module | class | function
    instances: int = 1

    @property
    def at(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def short(self) -> str:
        name = os.path.basename(self.file)
        return f"{name}:{self.line}" if self.line is not None else name

    @property
    def role(self) -> str:
        """`singleton` (made once at import: module level or a class body), `factory` (a
        function's line that made several instances), else `function` (made once, in a
        function)."""
        if self.scope in (MODULE, CLASS):
            return SINGLETON
        return FACTORY if self.instances > 1 else ONCE

    @property
    def role_text(self) -> str:
        """`at module level: a singleton`, `a factory (3 instances made there)`, ..."""
        if self.role == SINGLETON:
            where = "at module level" if self.scope == MODULE else "in a class body"
            return f"{where}: a singleton"
        if self.role == FACTORY:
            return f"a factory ({self.instances} instances made there)"
        return "made once, in a function"

    def describe(self) -> str:
        """`created at app.py:12, at module level: a singleton`."""
        if self.role == SINGLETON:
            where = "at module level" if self.scope == MODULE else "in a class body"
            return f"created at {self.short}, {where}: a singleton"
        function = f" in {self.function}()" if self.function else ""
        if self.role == FACTORY:
            return (f"created at {self.short}{function}, a factory "
                    f"({self.instances} instances made there)")
        return f"created at {self.short}{function}, once"

    def with_count(self, instances: int) -> CreationSite:
        return msgspec.structs.replace(self, instances=instances)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "scope": self.scope,
            "role": self.role,
            "instances_at_site": self.instances,
        }


def creation_of(runs: Sequence[Run]) -> CreationSite | None:
    """The creation site recorded on a lane's first runs (start order), if any."""
    for number, run in enumerate(runs[:2]):
        if number and (run.thread_id == runs[0].thread_id
                       or run.start_ns - runs[0].start_ns > _RACE_NS):
            break  # only two threads can begin an instance's first two runs in a race
        details = run.detail()
        if details.created_at:
            file, _, line = details.created_at.rpartition(":")
            # A digit string: ASCII only ("³" is a digit to isdigit, not to int) and short
            # enough for a 64-bit integer in the JSON report.
            if not file or not (line.isascii() and line.isdigit() and len(line) <= 18):
                file, line = details.created_at, ""
            return CreationSite(file=file, line=int(line) if line else None,
                                function=details.created_in,
                                scope=details.created_scope if details.created_scope in (
                                    MODULE, CLASS, FUNCTION) else None)
    return None


def count_sites(sites: dict[str, tuple[CreationSite | None, str, str]],
                ) -> dict[str, CreationSite | None]:
    """Each instance's site (given with its class and process key) with the number of
    instances of its class created at the same line in the same process: a team whose
    constructor makes its runtime is not a factory, nor is a line run once in each of two
    worker processes (and the count must not depend on how the trace was split for `-j`)."""
    counts: dict[tuple[str, int | None, str, str], int] = {}
    for site, cls, process in sites.values():
        if site is not None:
            at = (site.file, site.line, cls, process)
            counts[at] = counts.get(at, 0) + 1
    return {key: site.with_count(counts[(site.file, site.line, cls, process)])
            if site is not None else None for key, (site, cls, process) in sites.items()}


def sites_by_instance(trace: Trace) -> dict[str, CreationSite]:
    """Instance key -> where it was created, for every instance the tracer saw created."""
    sites = count_sites({key: (creation_of(runs), runs[0].instance_class, runs[0].process_key)
                         for key, runs in trace.runs_by_instance().items()})
    return {key: site for key, site in sites.items() if site is not None}
