"""Fixtures for the preset tests (the helpers live in preset_helpers.py, importable by name:
test modules of several folders share the name `conftest`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from preset_helpers import InProcess, Scenarios


@pytest.fixture
def scenarios(tmp_path: Path) -> Scenarios:
    return Scenarios(tmp_path)


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    """racetrace started in this process (no presets), recording into a temporary folder."""
    from racetrace.tracer import errors

    import racetrace

    # racetrace says each internal error once per process: what these tests provoke must not
    # silence the lines other tests (in this pytest process) expect.
    monkeypatch.setattr(errors, "_said", set())
    for name in list(os.environ):
        if name.startswith(("RACETRACE", "OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("RACETRACE_DIR", raising=False)  # start() pins it: undone afterwards
    monkeypatch.syspath_prepend(str(tmp_path))
    state = InProcess(tmp_path)
    racetrace.start(directory=str(state.directory))
    try:
        yield state
    finally:
        racetrace.stop()
        for name in state.modules:
            sys.modules.pop(name, None)
