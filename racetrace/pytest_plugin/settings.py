"""What the pytest plugin was asked to do: its command-line options and `racetrace` markers.

Light on purpose: the plugin reads these in every pytest session, traced or not, so this module
imports nothing but the standard library. Checks that need the analyzers (a suppressions file,
a `--fail-on` spec, a target string) happen once tracing is switched on (pytest_session).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

FAIL = "fail"
WARN = "warn"
OFF = "off"
MODES = (FAIL, WARN, OFF)
_MODE_WORDS = {
    "": FAIL, "1": FAIL, "on": FAIL, "true": FAIL, "yes": FAIL, FAIL: FAIL,
    WARN: WARN, "0": OFF, "false": OFF, "no": OFF, OFF: OFF,
}
DEFAULT_FAIL_ON = "overlap"
MARKER_KEYWORDS = ("mode", "targets", "suppress", "fail_on")
MARKER_HELP = (
    "racetrace(mode='fail'|'warn'|'off', targets=[...], suppress=[...], fail_on='overlap'): "
    "trace this test's runs and fail it (or warn) when runs overlap on one instance; "
    "enables tracing for marked tests even without --racetrace"
)


class SettingsError(ValueError):
    """A bad option or marker; the message is one line, without the `racetrace:` prefix."""


def mode_of(value: object, what: str) -> str:
    """`fail`, `warn` or `off` from an option value or a marker argument."""
    if isinstance(value, bool):
        return FAIL if value else OFF
    if isinstance(value, str):
        mode = _MODE_WORDS.get(value.strip().lower())
        if mode is not None:
            return mode
    raise SettingsError(f"{what}: unknown mode {value!r} (expected fail, warn or off)")


@dataclass(frozen=True, slots=True)
class Settings:
    """The session's settings, from the command line."""

    mode: str  # fail | warn | off (off: only tests with a `racetrace` marker are traced)
    targets: tuple[str, ...]
    suppressions: str | None  # a file, or None for $RACETRACE_SUPPRESSIONS
    report: str | None  # where the session's JSON report goes
    directory: str  # absolute: where the trace files go
    fail_on: str
    blocking_threshold: str | None = None  # as given; checked once tracing is on

    @property
    def enabled(self) -> bool:
        return self.mode != OFF


def settings_from_options(option: Any, invocation_dir: str) -> Settings:
    """Settings from pytest's parsed options (`config.option`)."""
    raw = getattr(option, "racetrace", None)
    mode = OFF if raw is None else mode_of(raw, f"--racetrace={raw}")
    # Under `racetrace run -- pytest` (or RACETRACE=1), the traced session's own folder.
    directory = (getattr(option, "racetrace_dir", None) or os.environ.get("RACETRACE_SESSION_DIR")
                 or os.environ.get("RACETRACE_DIR") or "racetrace-traces")
    report = getattr(option, "racetrace_report", None)
    return Settings(
        mode=mode,
        targets=tuple(_split(getattr(option, "racetrace_target", None) or ())),
        suppressions=getattr(option, "racetrace_suppressions", None),
        report=os.path.join(invocation_dir, report) if report else None,
        directory=os.path.abspath(os.path.join(invocation_dir, directory)),
        fail_on=getattr(option, "racetrace_fail_on", None) or DEFAULT_FAIL_ON,
        blocking_threshold=getattr(option, "racetrace_blocking_threshold", None),
    )


@dataclass(frozen=True, slots=True)
class TestSettings:
    """What applies to one test: the session's settings as its markers adjust them."""

    __test__ = False  # not a test class, whatever pytest's collector thinks of the name

    mode: str
    targets: tuple[str, ...] = ()  # traced from this test on, on top of the session's
    suppress: tuple[str, ...] = ()  # suppression rules, one a string, as in the file
    fail_on: str = DEFAULT_FAIL_ON


def settings_for_test(session: Settings, markers: Sequence[Any]) -> TestSettings:
    """Apply `markers` (pytest `Mark`s, closest first, as `iter_markers` gives them).

    A bare marker enables tracing for its test when the session has it off. Closer markers
    override the mode and fail-on of farther ones; targets and rules add up.
    """
    mode = session.mode
    targets: list[str] = []
    suppress: list[str] = []
    fail_on = session.fail_on
    for mark in reversed(markers):
        unknown = sorted(set(mark.kwargs) - set(MARKER_KEYWORDS))
        if unknown:
            raise SettingsError(
                f"@pytest.mark.racetrace: unknown argument {unknown[0]!r} "
                f"(expected {', '.join(MARKER_KEYWORDS)})"
            )
        if len(mark.args) > 1 or (mark.args and "mode" in mark.kwargs):
            raise SettingsError("@pytest.mark.racetrace takes one mode: fail, warn or off")
        given = mark.args[0] if mark.args else mark.kwargs.get("mode")
        if given is None:
            if mode == OFF:
                mode = FAIL  # a marker without a mode asks for tracing, as the bare one does
        else:
            mode = mode_of(given, "@pytest.mark.racetrace")
        targets.extend(_strings(mark.kwargs.get("targets"), "targets"))
        suppress.extend(_strings(mark.kwargs.get("suppress"), "suppress", split=False))
        if "fail_on" in mark.kwargs:
            fail_on = _one_string(mark.kwargs["fail_on"], "fail_on")
    return TestSettings(mode, tuple(targets), tuple(suppress), fail_on)


def _strings(value: object, name: str, *, split: bool = True) -> list[str]:
    """A string or a list of strings; targets may also come comma-separated (rules may not:
    a comma can be part of a glob)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        items = list(value)  # type: ignore[arg-type]
        return _split(items) if split else [v.strip() for v in items if v.strip()]
    raise SettingsError(
        f"@pytest.mark.racetrace: {name}= takes a string or a list of strings, not {value!r}"
    )


def _one_string(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"@pytest.mark.racetrace: {name}= takes a string, not {value!r}")
    return value.strip()


def _split(values: Iterable[str]) -> list[str]:
    """Repeated values and comma lists alike (`--racetrace-target a,b --racetrace-target c`)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def normalize_flag(args: list[str]) -> None:
    """Let a bare `--racetrace` stand before a test path, in place.

    `--racetrace` takes an optional value (`--racetrace=warn`), so argparse would read
    `pytest --racetrace tests/` as the mode `tests/`. A bare flag followed by anything that is
    not a mode is made `--racetrace=fail` before pytest parses the command line.
    """
    for index, arg in enumerate(args):
        if arg == "--":
            return
        if arg != "--racetrace":
            continue
        following = args[index + 1] if index + 1 < len(args) else None
        if following is None or following.strip().lower() not in _MODE_WORDS or not following:
            args[index] = "--racetrace=fail"
