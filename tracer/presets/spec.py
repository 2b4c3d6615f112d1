"""The declarative form of a preset: a framework's run entry points and how to read each run.

A preset module declares one `Preset`: the distributions and versions it was tested with, the
family of top-level packages that make up the framework (one library for call sites and
delegation), and its `EntryPoint`s. Nothing here imports the framework: the targets are patched
by post-import hooks if and when the framework's modules are imported, and the functions that
read instances, labels and resource keys work on whatever objects they are handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import importhook, targets
from ..errors import is_verbose, verbose
from ..targets import EndsWith, InstanceOf, Target

ResourceOf = Callable[[object, tuple[Any, ...], dict[str, Any]], str | None]
LabelOf = Callable[[object], str | None]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One method whose calls are runs: `module:qualname`, and how to read a run of it."""

    module: str
    qualname: str  # "Class.method"
    # Whether overlapping runs on one instance are a bug (agents, teams) or expected
    # (stateless runnables, graphs and agent configurations, whose state lives elsewhere).
    stateful: bool
    instance: InstanceOf | None = None  # default: the object the method is called on
    label: LabelOf | None = None  # default: its `name` attribute
    resource: ResourceOf | None = None  # a conversation or session shared across objects
    agent: bool = False  # an agent invocation: GenAI `invoke_agent` attributes
    subclasses: bool = True  # overrides in subclasses, present and future, are runs too
    ends_with: EndsWith | None = None  # the run lasts until this future ends
    # Calls the framework makes from its own code (a chain calling its steps) are runs too;
    # off: only the calls the user's code makes, plus any that carry a resource key.
    framework_calls: bool = True
    # A plain method that returns a generator (`astream_events`): the run is its iteration.
    returns_stream: bool = False
    # A synchronous entry point that runs an event loop of its own (`Runner.run_sync`).
    runs_loop: bool = False
    # `module:Qualname` of the instance's class when `instance` takes it from an argument:
    # observed for where its objects are created.
    instance_class: str | None = None


@dataclass(frozen=True, slots=True)
class Preset:
    """A framework's preset: what was tested, which packages are the framework, its entry
    points; `enable()` requests their targets (patched when the framework is imported)."""

    name: str
    tested: tuple[tuple[str, str], ...]  # (distribution, versions tested)
    family: tuple[str, ...]  # top-level packages, `*` patterns allowed
    entry_points: tuple[EntryPoint, ...]
    exclude: tuple[str, ...] = ()  # modules whose subclasses are not covered

    def targets(self) -> list[Target]:
        made = []
        for entry in self.entry_points:
            target = Target(
                module=entry.module,
                path=entry.qualname,
                stateful=entry.stateful,
                label_of=entry.label,
                resource_of=entry.resource,
                gen_ai_agent=entry.agent,
                family=self.family,
                subclasses=entry.subclasses,
                exclude=self.exclude,
                ends_with=entry.ends_with,
                framework_calls=entry.framework_calls,
                returns_stream=entry.returns_stream,
                runs_loop=entry.runs_loop,
                instance_class=entry.instance_class,
                optional=True,
            )
            if entry.instance is not None:
                target.instance_of = entry.instance
            made.append(target)
        return made

    def enable(self) -> None:
        for target in self.targets():
            targets.request(target)
        if is_verbose() and self.entry_points:
            importhook.register(
                lambda module: self.note_versions(), self.entry_points[0].module
            )

    def enable_module(self, module: str) -> None:
        """Request the targets that live in `module` (being imported, or imported)."""
        for target in self.targets():
            if target.module == module:
                targets.request(target)

    def note_versions(self) -> None:
        """In verbose mode, once the framework is imported: which versions meet which."""
        from importlib import metadata

        for dist, versions in self.tested:
            try:
                installed = metadata.version(dist)
            except metadata.PackageNotFoundError:
                installed = "not installed"
            verbose(f"preset {self.name}: {dist} {installed} (tested with {versions})")


def argument(position: int, name: str) -> InstanceOf:
    """The instance is an argument (a classmethod's `starting_agent`), not `self`."""

    def instance_of(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> object:
        if len(args) > position:
            return args[position]
        if name in kwargs:
            return kwargs[name]
        return targets.default_instance_of(wrapped, instance, args, kwargs)

    return instance_of


def get_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], position: int | None, name: str
) -> Any:
    """An argument given by position or by name (None when absent); positions exclude self."""
    if name in kwargs:
        return kwargs[name]
    if position is not None and len(args) > position:
        return args[position]
    return None
