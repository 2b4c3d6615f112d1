"""Settings from the environment: RACETRACE_*, plus the standard OTEL_* variables."""

from __future__ import annotations

import os
from typing import Any

from . import semconv

ALL_PRESETS = "all"


class Config:
    """The settings of one recorder. A plain class, not a dataclass: importing `dataclasses`
    (and `inspect` with it) costs every traced process ~5 ms at start-up."""

    __slots__ = ("capture_args", "directory", "otlp", "presets", "service", "targets")

    def __init__(self, *, presets: tuple[str, ...], targets: tuple[str, ...], directory: str,
                 service: str, otlp: bool, capture_args: bool) -> None:
        self.presets = presets  # ("all",) for every installed framework
        self.targets = targets
        self.directory = directory
        self.service = service
        self.otlp = otlp
        self.capture_args = capture_args

    def replace(self, **changes: Any) -> Config:
        """A copy with `changes`, as `dataclasses.replace` makes."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Config(**fields)

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Config:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"Config({fields})"

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        return cls(
            presets=parse_presets(env.get(semconv.ENV_ENABLE, "")),
            targets=split_list(env.get(semconv.ENV_TARGETS, "")),
            directory=os.path.abspath(env.get(semconv.ENV_DIR) or semconv.DEFAULT_DIR),
            service=env.get("OTEL_SERVICE_NAME") or "unknown_service",
            otlp=wants_otlp(env),
            capture_args=is_on(env.get(semconv.ENV_CAPTURE_ARGS, "")),
        )


def is_on(value: str) -> bool:
    return value.strip().lower() not in semconv.OFF_VALUES


def split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_presets(value: str) -> tuple[str, ...]:
    """`1`, `true`, `on`, `yes`, `all` mean every preset; otherwise a comma list of names."""
    if not is_on(value):
        return ()
    if value.strip().lower() in ("1", "true", "on", "yes", ALL_PRESETS):
        return (ALL_PRESETS,)
    return split_list(value.lower())


def target_error(spec: str) -> str | None:
    """Why `spec` cannot name a method (`module:Class.method` or `module:function`), or None.
    Here rather than in `targets`, so that `racetrace run` checks its targets without importing
    the tracer."""
    module, sep, path = spec.strip().partition(":")
    if (
        not sep
        or not module
        or not all(p.isidentifier() for p in module.split("."))
        or not all(p.isidentifier() for p in path.split("."))
    ):
        return (f"bad target {spec!r}: expected module:Class.method or module:function, "
                "e.g. myapp.agents:Agent.run")
    return None


def wants_otlp(env: os._Environ[str] | dict[str, str]) -> bool:
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    # A disabled SDK hands out no-op spans, which would leave the trace file empty.
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
