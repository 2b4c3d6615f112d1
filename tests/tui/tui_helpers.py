"""Helpers shared by the TUI tests (a module with a name of its own: each folder has a conftest)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SIZE = (140, 40)


def run_async(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (no pytest-asyncio needed; fixtures still work,
    because pytest reads the signature through `functools.wraps`)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def make_app(*paths: str | os.PathLike[str], **kwargs: Any) -> Any:
    from racetrace.tui.app import RacetraceApp

    kwargs.setdefault("source", "shop")  # a fixed header, wherever the checkout lives
    return RacetraceApp([str(p) for p in paths], **kwargs)


async def settle(pilot: Any) -> None:
    """Wait until loading and analysis are done and their messages are handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def has_analyzer() -> bool:
    try:
        import racetrace.analyzers.findings.analyze  # noqa: F401
    except ImportError:
        return False
    return True


needs_analyzer = pytest.mark.skipif(
    not has_analyzer(), reason="racetrace.analyzers.findings.analyze is not there yet"
)


def screen_text(app: Any) -> str:
    """What the timeline shows, as plain text, one line per visible row."""
    timeline = app.timeline
    return "\n".join(
        timeline.render_line(y).text for y in range(timeline.scrollable_content_region.height)
    )


def write_many_lanes(path: Path, lanes: int, runs_per_lane: int = 3) -> None:
    """A trace with `lanes` instances, each with a few sequential runs (no findings)."""
    import json

    t0 = 1_700_000_000_000_000_000
    lines = [{"type": "header", "format": "racetrace.trace/1", "pid": 7, "host": "h",
              "wall_ns": t0}]
    for lane in range(lanes):
        for k in range(runs_per_lane):
            run_id = f"r{lane}-{k}"
            start = t0 + lane * 1_000 + k * 100_000
            lines.append({"type": "start", "run_id": run_id, "name": "m.Agent.run",
                          "start_ns": start, "racetrace.instance.key": f"h/7/{lane}",
                          "racetrace.instance.class": "m.Agent",
                          "racetrace.instance.label": f"agent-{lane:03d}",
                          "process.pid": 7, "host.name": "h"})
            lines.append({"type": "end", "run_id": run_id, "end_ns": start + 50_000,
                          "racetrace.end.status": "ok"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def plain(renderable: Any, width: int = 140) -> str:
    """A Rich renderable (or a Static's content) as the plain text a terminal would show."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue()
