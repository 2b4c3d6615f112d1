"""The pytest plugin: `pytest --racetrace` fails the tests whose runs overlapped on one instance.

Loaded in every pytest session through the `pytest11` entry point, so it stays inert unless
asked: this module imports pytest and the standard library only (no OpenTelemetry, networkx,
Textual or tracer), adds its options and the `racetrace` marker, and looks at the collected
tests for that marker. The work is in `pytest_session`, imported and registered only when
`--racetrace`, a marked test or `--racetrace-report` asks for it. `-p no:racetrace` keeps it
out entirely.

    pytest --racetrace                       # trace (framework presets on), fail on overlaps
    pytest --racetrace=warn                  # report them without failing
    pytest --racetrace --racetrace-target myapp.agents:Agent.run
    @pytest.mark.racetrace(targets=[...], suppress=["benign:myapp.cache.*"], fail_on="overlap")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from . import settings as pytest_settings
from .settings import SettingsError, settings_from_options

if TYPE_CHECKING:
    from .session import RacetraceSession

PLUGIN_NAME = "racetrace-session"
_settings_key = pytest.StashKey[pytest_settings.Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("racetrace", "racetrace: fail tests whose runs overlap on one object")
    group.addoption(
        "--racetrace", nargs="?", const="fail", default=None, metavar="MODE",
        help="trace every test (framework presets on, as RACETRACE=1) and fail those whose runs "
             "overlapped on one instance; --racetrace=warn reports without failing",
    )
    group.addoption(
        "--racetrace-target", action="append", default=[], metavar="TARGET",
        help="also trace module:Class.method (repeatable, or comma-separated)",
    )
    group.addoption(
        "--racetrace-suppressions", metavar="FILE", default=None,
        help="suppressions file, one benign:GLOB or ignore:GLOB a line "
             "(default: $RACETRACE_SUPPRESSIONS)",
    )
    group.addoption(
        "--racetrace-fail-on", metavar="SPEC", default=None,
        help="which findings fail a test, as racetrace report --fail-on (default: overlap)",
    )
    group.addoption(
        "--racetrace-blocking-threshold", metavar="DURATION", default=None,
        help="a sync run that holds a running event loop this long is a loop-blocking "
             "finding, as racetrace report --blocking-threshold (default: 100ms)",
    )
    group.addoption(
        "--racetrace-report", metavar="PATH", default=None,
        help="write the session's JSON report (racetrace.report/1) to PATH; when PATH is a "
             "folder (ends in /), the report goes there as racetrace-report.json, and the "
             "timeline of each test racetrace fails beside it, as <test id>.svg",
    )
    group.addoption(
        "--racetrace-dir", metavar="DIR", default=None,
        help="where trace files go (default: $RACETRACE_DIR or racetrace-traces); emptied of "
             "earlier trace files when the session starts",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    pytest_settings.normalize_flag(args)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", pytest_settings.MARKER_HELP)
    try:
        settings = settings_from_options(config.option, str(config.invocation_params.dir))
    except SettingsError as exc:
        raise pytest.UsageError(f"racetrace: {exc}") from None
    config.stash[_settings_key] = settings
    if settings.enabled or settings.report is not None:
        _session(config)


def _session(config: pytest.Config) -> RacetraceSession:
    """The working half of the plugin, registered on first need."""
    plugin: RacetraceSession | None = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        from .session import RacetraceSession

        plugin = RacetraceSession(config, config.stash[_settings_key])
        config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Trace a session without --racetrace when a collected test carries the marker."""
    settings = config.stash.get(_settings_key, None)
    if settings is None or settings.enabled or config.option.collectonly:
        return
    if not any(_wants_tracing(settings, item) for item in items):
        return
    plugin = _session(config)
    plugin.settle_role()
    plugin.activate()


def _wants_tracing(settings: pytest_settings.Settings, item: pytest.Item) -> bool:
    if item.get_closest_marker("racetrace") is None:
        return False
    try:
        markers = list(item.iter_markers("racetrace"))
        return pytest_settings.settings_for_test(settings, markers).mode != pytest_settings.OFF
    except SettingsError:
        return True  # the test will fail at setup with the marker's error
