"""The screens over the timeline: a run's details, the key help, and "where to write the report".

Each is a modal screen that closes with escape and returns focus to the timeline underneath,
so the view and the selection are exactly as the user left them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

KEYS: tuple[tuple[str, str], ...] = (
    ("← → / h l", "pan in time (shift: a whole screen)"),
    ("+ / -", "zoom in / out around the cursor (▼)"),
    ("0", "fit the whole trace"),
    ("↑ ↓ / k j", "previous / next lane (instance)"),
    ("pgup pgdn", "a screen of lanes up / down"),
    ("tab / shift+tab", "next / previous run in the lane"),
    ("home / end", "first / last run in the lane"),
    ("enter", "details of the selected run"),
    ("n / N", "next / previous finding: jump to it, select its runs"),
    ("f", "focus the findings list (enter there jumps)"),
    ("/", "filter lanes by class, label, key or method"),
    ("o", "only instances with findings (again: all)"),
    ("e", "write the JSON report (asks where: beside the traces)"),
    ("escape", "clear the filter, leave a dialog"),
    ("?", "this help"),
    ("q / ctrl+c", "quit"),
)
MOUSE: tuple[tuple[str, str], ...] = (
    ("click", "select the run under the pointer (double click: details)"),
    ("wheel", "scroll through lanes"),
    ("shift+wheel", "pan in time"),
)
# (what the mark looks like: (text, style of the timeline's component) pairs, its meaning)
LEGEND: tuple[tuple[tuple[tuple[str, str], ...], str], ...] = (
    ((("▏     ", "bar"),), "a run, from its start (▏) to its end"),
    ((("▏ ", "bar"), ("╱╱╱╱", "overlap")), "overlap: two or more runs at once on one key"),
    ((("▏    ✗", "bar"),), "the run failed (it ends in ✗)"),
    ((("▏    ⊘", "bar"),), "the run was cancelled"),
    ((("▏╌╌╌╌»", "bar"),), "the run never ended: open to its process' last record"),
    ((("▏▒▒▒▒▒", "bar"),), "a sync run that held its thread's running event loop "
                           "(nested-loop, loop-blocking)"),
    ((("▏  ▏  ", "bar"),), "two runs touching in one sub-row"),
    ((("▏     ", "selected"),), "the selected run"),
    ((("▏     ", "related"),), "the other runs of the finding you jumped to"),
    ((("▏ ", "selected"), ("╱╱╱╱", "selected-overlap")), "the selected run where it overlaps"),
    ((("│", "cursor"),), "the cursor (▼ on the ruler): + and - zoom around it"),
    ((("‼ ! i", ""),), "a lane's worst finding: error, warning, info"),
)
Styler = Callable[[str], Style]


class _Modal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]

    def action_close(self) -> None:
        self.dismiss(None)


class DetailsScreen(_Modal):
    """Everything about one run; the text is built by `describe.run_details`."""

    def __init__(self, content: RenderableType) -> None:
        super().__init__()
        self._content = content

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details-box") as box:
            box.border_title = "Run details"
            box.border_subtitle = "escape to close"
            yield Static(self._content, id="details")


class HelpScreen(_Modal):
    """Every key, the mouse, and a legend drawn in the timeline's own colours."""

    def __init__(self, style_of: Styler) -> None:
        super().__init__()
        self._style_of = style_of

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "racetrace: keys and marks"
            box.border_subtitle = "escape to close"
            with Horizontal():
                yield Static(_keys(), id="help-keys")
                yield Static(_legend(self._style_of), id="help-marks")


def _keys() -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=15)
    table.add_column()
    for title, rows in (("Keys", KEYS), ("Mouse", MOUSE)):
        table.add_row(Text(title, "bold underline"), Text(""))
        for key, what in rows:
            table.add_row(Text(key), Text(what))
        table.add_row(Text(""), Text(""))
    return table


def _legend(style_of: Styler) -> RenderableType:
    """The marks drawn with the timeline's own styles, a blank line apart so none merge."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, min_width=8)
    table.add_column()
    table.add_row(Text("Marks", "bold underline"), Text(""))
    for parts, what in LEGEND:
        mark = Text()
        for text, name in parts:
            mark.append(text, style_of(name) if name else "bold")
        table.add_row(mark, Text(what))
        table.add_row(Text(""), Text(""))
    return table


class ExportScreen(ModalScreen[str | None]):
    """Ask where to write the JSON report; dismisses with the path, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str, write: Callable[[str], str | None]) -> None:
        super().__init__()
        self._default = default
        self._write = write  # returns a one-line error, or None once written

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box") as box:
            box.border_title = "Write the JSON report"
            box.border_subtitle = "enter to write · escape to cancel"
            yield Static(Text("File (racetrace.report/1 JSON):"))
            yield Input(value=self._default, id="export-path")
            yield Static(Text(""), id="export-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self.show_error("give a file name")
            return
        path = str(Path(value).expanduser())
        error = self._write(path)
        if error is not None:
            self.show_error(error)
            return
        self.dismiss(path)

    def show_error(self, message: str) -> None:
        self.query_one("#export-error", Static).update(Text(message, "bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)
