"""Fixtures for the pytest plugin's tests: real test suites, run by a real pytest in a subprocess.

Each test writes a small suite with `pytester` (the miniature agent framework of the samples,
`agentlib`, copied beside it) and runs it with `pytester.runpytest_subprocess`: the plugin
patches classes, starts a recorder and sets RACETRACE_* in its process, none of which may leak
into this session. The inner pytest finds the plugin through its `pytest11` entry point, as a
user's does; until the package declares it, a stand-in distribution on PYTHONPATH declares it.

Plugin autoloading is off in the inner runs unless a test asks for it: each run loads racetrace
and only the plugins it names, so that other installed plugins (some import OpenTelemetry or
Textual themselves) neither slow the runs down nor blur what the plugin imports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from plugin_support import AGENTLIB, Suite, entry_point_installed


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins = ["pytester"]` here would break `python -m pytest` at the repository
    # root: pytest refuses pytest_plugins in a conftest below the rootdir that it loads during
    # collection. Registering the plugin from this hook works from the root and from here.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(scope="session")
def entry_point_path(tmp_path_factory: pytest.TempPathFactory) -> str | None:
    """A folder for PYTHONPATH holding a distribution that declares the plugin's entry point,
    or None once racetrace itself declares it."""
    if entry_point_installed():
        return None
    site = tmp_path_factory.mktemp("entry-point")
    info = site / "racetrace_pytest_entry_point-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: racetrace-pytest-entry-point\nVersion: 0\n",
        encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[pytest11]\nracetrace = racetrace.pytest_plugin\n", encoding="utf-8")
    return str(site)


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
          entry_point_path: str | None) -> Iterator[Suite]:
    # The inner session starts clean: nothing of this session's tracing, xdist or options.
    for name in list(os.environ):
        if name.startswith(("RACETRACE", "OTEL_", "PYTEST_XDIST_")) or name in (
            "PYTEST_ADDOPTS", "PYTEST_PLUGINS"
        ):
            monkeypatch.delenv(name)
    if entry_point_path is not None:
        monkeypatch.setenv("PYTHONPATH", entry_point_path)
    pytester.makepyfile(agentlib=AGENTLIB)
    yield Suite(pytester)
