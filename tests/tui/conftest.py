"""Fixtures for the TUI tests: the fixed, checked-in traces under data/ (see make_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_suppressions_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's own rules must not change what the tests see.
    monkeypatch.delenv("RACETRACE_SUPPRESSIONS", raising=False)


@pytest.fixture
def shop() -> Path:
    """Two processes: concurrent, reentrant, periodic and cross-process overlaps, a failed, a
    cancelled and an unfinished run, and a label and a method full of markup and escapes."""
    return DATA / "shop"


@pytest.fixture
def data() -> Path:
    return DATA
