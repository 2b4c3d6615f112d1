"""Snapshots of the screens on the fixed `shop` trace (review the SVGs before committing them:
`pytest tests/tui --snapshot-update`, then look at tests/tui/__snapshots__/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import make_app, needs_analyzer, settle

pytestmark = needs_analyzer
SIZE = (140, 40)


@pytest.fixture
def shop(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shop trace by a relative path, so that no checkout's location reaches a snapshot."""
    monkeypatch.chdir(data)
    return Path("shop")


def test_main_screen(shop: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(shop), terminal_size=SIZE, run_before=settle)


def test_main_screen_on_a_finding(shop: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(shop), press=["n", "n"], terminal_size=SIZE, run_before=settle)


def test_details_of_a_failed_run(shop: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def open_details(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("down", "tab", "enter")

    assert snap_compare(make_app(shop), terminal_size=SIZE, run_before=open_details)


def test_details_of_an_overlapping_run(shop: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(shop), press=["n", "enter"], terminal_size=SIZE,
                        run_before=settle)


def test_help(shop: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(shop), press=["question_mark"], terminal_size=SIZE,
                        run_before=settle)


def test_empty_directory(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "traces"
    empty.mkdir()
    app = make_app(empty, source="racetrace-traces")
    assert snap_compare(app, terminal_size=(100, 20), run_before=settle)
