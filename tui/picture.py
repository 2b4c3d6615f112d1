"""The timeline as a picture, for where there is no terminal: CI logs, pull requests, artifacts.

Nothing is drawn by hand: the real app (`RacetraceApp`, in picture mode) runs headless on a
screen tall enough for every lane and finding, and Rich records what it shows, as Textual's
own screenshots do: SVG (`Console.export_svg`), or one self-contained HTML file
(`Console.export_html`, styles inline, no fonts or scripts fetched). The marks read without
colour (hatched overlaps, ✗ ⊘ »), and the status line carries their legend.
"""

from __future__ import annotations

import asyncio
import io
import threading
from bisect import bisect_right
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.terminal_theme import SVG_EXPORT_THEME

if TYPE_CHECKING:
    from racetrace.analyzers.core.model import Trace
    from racetrace.analyzers.findings.report import Report

    from .app import RacetraceApp

Format = Literal["svg", "html"]
FORMATS: tuple[Format, ...] = ("svg", "html")
DEFAULT_WIDTH = 160
MIN_WIDTH = 80
MAX_LANE_ROWS = 400  # a picture of 100,000 lanes helps no one: the worst lanes come first
MAX_FINDING_ROWS = 200
# header 2, ruler 2, status line 1, the findings' border 2
CHROME_ROWS = 7

HTML_PAGE = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{
    color: {{foreground}};
    background-color: {{background}};
}}}}
</style>
</head>
<body>
    <pre style="font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace;
                line-height:1.2"><code style="font-family:inherit">{{code}}</code></pre>
</body>
</html>
"""


def render(trace: Trace, report: Report | None, *, source: str, fmt: Format = "svg",
           width: int = DEFAULT_WIDTH) -> str:
    """The timeline of `trace` with the findings of `report`, as an SVG or HTML document."""
    coroutine = _render(trace, report, source=source, fmt=fmt, width=max(width, MIN_WIDTH))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside a running loop (an async test, say): the app needs a loop of its own.
    result: list[str] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="racetrace-picture")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def _render(trace: Trace, report: Report | None, *, source: str, fmt: Format,
                  width: int) -> str:
    from .app import RacetraceApp

    app = RacetraceApp([], source=source, trace=trace, report=report, picture=True)
    async with app.run_test(size=(width, 40)) as pilot:
        await _settle(pilot)
        await pilot.resize_terminal(width, _rows_needed(app, report))
        await _settle(pilot)
        return _export(app, fmt, title=f"racetrace: {source}")


async def _settle(pilot: object) -> None:
    app = pilot.app  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


def _rows_needed(app: RacetraceApp, report: Report | None) -> int:
    """Every lane (up to a limit) and every finding (the same), and the screen around them."""
    from .describe import legend_line

    timeline = app.timeline
    lane_rows = timeline.lane_layout.total_rows
    if lane_rows > MAX_LANE_ROWS and report is not None and report.findings:
        timeline.only_findings = True
        lane_rows = timeline.lane_layout.total_rows
    if lane_rows > MAX_LANE_ROWS:
        layout = timeline.lane_layout
        shown = bisect_right(layout.first_rows, MAX_LANE_ROWS - 1)
        app.status_bar.update(legend_line(app.source, hidden=len(layout.lanes) - shown))
        timeline.styles.max_height = MAX_LANE_ROWS  # the rest of the screen is the findings'
    findings = len(report.findings) if report is not None and report.findings else 1
    findings = max(findings, 2)  # the list's min-height: 4 rows with its border
    return (CHROME_ROWS + min(max(lane_rows, 1), MAX_LANE_ROWS)
            + min(findings, MAX_FINDING_ROWS))


def _export(app: RacetraceApp, fmt: Format, *, title: str) -> str:
    """What the screen shows, recorded by Rich, as `App.export_screenshot` does it."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    if fmt == "svg":
        return console.export_svg(title=title)
    from html import escape

    return console.export_html(
        theme=SVG_EXPORT_THEME, inline_styles=True,
        # Braces doubled: Rich formats the page a second time, with the code.
        code_format=HTML_PAGE.format(title=escape(title).replace("{", "{{").replace("}", "}}")),
    )
