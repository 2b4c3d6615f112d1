"""The racetrace Textual app: loads a trace in the background, then shows lanes, bars, findings.

State lives in reactives (`loading`, `filtering`, `failed`) whose watchers toggle CSS classes,
looks live in `racetrace.tcss`, and behaviour in `action_*` and `on_*` methods. Loading,
analysis and `--follow` run in a thread worker that talks to the app only through messages.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from racetrace.analyzers.core.load import LoadError, trace_files
from racetrace.analyzers.core.model import Trace
from racetrace.analyzers.core.table import Table
from racetrace.analyzers.core.tableload import TablePartial, load_table
from racetrace.analyzers.findings.report import Report
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Footer, Input, Label, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from .analysis import analyze_trace
from .describe import header_text, legend_line, plural, run_details, run_line
from .findings_list import FindingsList
from .lanes import Lanes, apply_report, build_lanes
from .messages import (
    LanesGrew,
    LoadFailed,
    LoadProgress,
    TraceAnalyzed,
    TraceLoaded,
    TraceUpdated,
)
from .ruler import Ruler
from .screens import DetailsScreen, ExportScreen, HelpScreen
from .stream import LaneStream
from .textsafe import clean
from .timeline import Timeline
from .turns import Turns

DEFAULT_REPORT_NAME = "racetrace-report.json"
SWITCH_INTERVAL = 0.001  # seconds: see `on_mount`
# The loader's blocks while the timeline streams in (`load_table(block_bytes=...)`): it lets the
# screen go first between two blocks (`turns.py`), so a key waits for at most one block's work
# (~3 ms; 4 MB took ~40 ms).
STREAM_BLOCK_BYTES = 256 << 10
SCREEN_UP_WAIT = 1.0  # seconds the load waits at most for the screen's start-up
# Input that holds the loader until its effect is on screen (not mouse moves: a stream of them).
HOLDING_INPUT = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp,
                 events.MouseScrollLeft, events.MouseScrollRight)
# Textual paints at most this often (its default is 60 a second; see `_paint_sooner`).
FRAMES_PER_SECOND = 200


class RacetraceApp(App[int]):
    """`racetrace tui PATH...`: the timeline of one or more trace files or directories."""

    CSS_PATH = "racetrace.tcss"
    TITLE = "racetrace"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "finding(1)", "Finding", key_display="n/N"),
        Binding("N", "finding(-1)", "Previous finding", show=False),
        # Priority: handled as the app reads it, before the keys typed after it are handed to
        # whichever widget has the focus (see `action_filter`).
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("o", "only_findings", "Only findings", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("f", "focus_findings", "Findings list", show=False),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("escape", "escape", "Back", show=False),
        Binding("q", "quit", "Quit"),
        # As in htop and py-spy top; above the filter box's own ctrl+c (copy).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    loading: var[bool] = var(True)  # nothing to show yet
    streaming: var[bool] = var(False)  # lanes on screen, more being read
    filtering: var[bool] = var(False)
    failed: var[bool] = var(False)

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]] = (),
        *,
        follow: bool = False,
        suppressions: Any = None,
        source: str | None = None,
        trace: Trace | None = None,
        report: Report | None = None,
        poll_interval: float = 0.4,
        key_attr: str | None = None,
        follow_skip: Callable[[Path], bool] | None = None,
        picture: bool = False,
        blocking_threshold_ns: int | None = None,
        on_partial: Callable[[TablePartial], None] | None = None,
    ) -> None:
        super().__init__()
        self.blocking_threshold_ns = blocking_threshold_ns  # None: the analyzer's default
        self.paths = [str(p) for p in paths]
        self.follow = follow
        self.suppressions = suppressions
        self.source = source if source is not None else ", ".join(self.paths) or "trace"
        self.poll_interval = poll_interval
        self.key_attr = key_attr  # the identity attribute of other tools' OTLP spans
        self.follow_skip = follow_skip  # --follow: folders not to follow (older sessions)
        # Drawn headless for `racetrace export --format svg|html` (tui.picture): no one to press
        # keys, so no selection, no footer, and the legend on the status line.
        self.picture = picture
        self._preloaded = (trace, report)
        # Called in the loading thread after each partial layout is posted: a test holds the
        # load there, half read, to look at the screen.
        self.on_partial = on_partial
        self.partial_updates = 0  # layouts of a half-read trace shown
        self._switch_interval = sys.getswitchinterval()
        self._loaded_shown = threading.Event()  # set when the screen took the loaded lanes
        self._screen_up = threading.Event()  # set when the screen has painted its start-up
        self._update_period: float | None = None  # Textual's own, while the app raises it
        # The loading thread stands aside while a key or a new layout waits to be shown.
        self.turns = Turns()
        self._gc_was_enabled: bool | None = None  # see `_pause_collector`
        self.last_input = 0.0  # monotonic time of the latest key or click
        self.trace: Trace | None = None
        self.report: Report | None = None
        self.lanes: Lanes | None = None
        self.analysis_note: str | None = None
        self.failure: str | None = None  # one line for stderr once the app has exited
        self.finding_index: int | None = None
        # Held rather than queried: worker messages can still arrive while the app shuts down
        # and its widgets are already gone from the DOM.
        self.timeline = Timeline(id="timeline")
        self.ruler = Ruler(self.timeline, id="ruler")
        self.top_bar = Horizontal(id="top")
        self.main_box = Vertical(id="main")
        self.loading_box = Center(id="loading")
        self.header_bar = Static(id="header")
        self.reading_label = Label(id="reading-label")
        self.reading_bar = ProgressBar(id="reading-bar", show_eta=False)
        self.status_bar = Static(id="status")
        self.findings_list = FindingsList(id="findings")
        self.filter_input = Input(
            placeholder="filter lanes: class, label, key or method", id="filter"
        )
        self.message_box = Static(id="message")
        self.progress = ProgressBar(id="progress", show_eta=False)
        self.loading_label = Label(Text("Reading traces…"), id="loading-label")
        self.footer = Footer()

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with self.top_bar:
            yield self.header_bar
            with Vertical(id="reading"):
                yield self.reading_label
                yield self.reading_bar
        with self.main_box:
            yield self.ruler
            yield self.timeline
            yield self.status_bar
            yield self.findings_list
            yield self.filter_input
        with self.loading_box:
            yield self.loading_label
            yield self.progress
        yield self.message_box
        yield self.footer

    def on_mount(self) -> None:
        # The loading thread runs Python for seconds on a big trace: hand the interpreter back
        # to the screen within a millisecond of its asking (the default is 5 ms, and a key
        # needs several turns of the event loop), so keys answer while lanes stream in.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        if not self.follow:
            self._pause_collector()
        self._update_header()
        self.findings_list.show_note("analyzing…")
        self.set_class(self.picture, "-picture")
        if not self.picture:
            self.timeline.focus()
        if self.follow:
            self._follow()
        else:
            self._load()

    def on_load(self) -> None:
        # (Before any screen paints: each reads the rate when it first does.)
        self._update_period = _paint_sooner()

    def on_ready(self) -> None:
        self.call_after_refresh(self._screen_up.set)

    def on_unmount(self) -> None:
        self._screen_up.set()
        sys.setswitchinterval(self._switch_interval)
        self.turns.close()  # a loader waiting for the screen: it will wait no more
        if self._update_period is not None:  # other Textual apps of the process: their own rate
            _paint_at(self._update_period)
            self._update_period = None
        self._resume_collector()

    def post_message(self, message: Any) -> bool:
        # (Any thread: the terminal driver's posts keys.) The loader stands aside from now
        # until the key's effect is painted (`turns.py`).
        if isinstance(message, HOLDING_INPUT):
            self.turns.hold()
            self.last_input = time.monotonic()  # (findings are listed in the pauses)
        return super().post_message(message)

    async def on_event(self, event: events.Event) -> None:
        await super().on_event(event)
        if isinstance(event, HOLDING_INPUT) and (
                not isinstance(event, events.Key) or self.focused is not self.timeline):
            # The timeline's keys release the loader once their effect is shown (`_shown`);
            # the mouse (a scroll moves no view) and keys for anything else, once the screen
            # has refreshed after them.
            self.call_after_refresh(self.turns.release)

    def _done(self) -> None:
        """An app key whose effect is not the timeline's (a notice, a dialog, the focus
        elsewhere) is done: release the loader once the screen has refreshed. (`on_event`
        leaves keys read while the timeline has the focus to their effect, and without one
        the hold would lapse: 200 ms of load each.)"""
        self.call_after_refresh(self.turns.release)

    def _shown(self) -> None:
        """Release the loader once what the screen now holds is painted. (Held again: a
        paint of the loader's news since the key may have released it.)"""
        if self.loading or self.streaming:
            self.turns.hold()
            self.call_after_refresh(self.turns.release)

    def _pause_collector(self) -> None:
        """No automatic cyclic collection until the loaded trace is frozen (`_freeze_heap`):
        the loader and the analysis pause it while they run, but the heap they leave behind
        (not frozen yet) made each full collection in between cost 35-45 ms of screen."""
        if self._gc_was_enabled is None:
            self._gc_was_enabled = gc.isenabled()
            gc.disable()

    def _resume_collector(self) -> None:
        if self._gc_was_enabled is not None:
            if self._gc_was_enabled:
                gc.enable()
            self._gc_was_enabled = None

    def watch_loading(self, loading: bool) -> None:
        # The two boxes' own display, not a class on the app: restyling every widget of the
        # screen took 10-30 ms just as the first lanes arrive.
        self.loading_box.display = loading
        self.main_box.display = not loading and not self.failed

    def watch_streaming(self, streaming: bool) -> None:
        # On the header's row, not the app: restyling every widget of the screen took ~80 ms
        # at the moment the last lanes arrive.
        self.top_bar.set_class(streaming, "-streaming")

    def watch_filtering(self, filtering: bool) -> None:
        self.set_class(filtering, "-filtering")

    def watch_failed(self, failed: bool) -> None:
        self.set_class(failed, "-message")
        self.main_box.display = not self.loading and not failed

    # -- background work ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        worker = get_current_worker()
        trace, report = self._preloaded
        analyzed: Trace | Table | None = trace
        if trace is None:
            _large_blocks_to_the_os()
            # The screen's start-up (laying itself out, the footer's keys: ~100 ms of the
            # interpreter) first: lanes shown during it made the first keys wait for all of it.
            self._screen_up.wait(SCREEN_UP_WAIT)
            stream = LaneStream(self.post_message, turns=self.turns,
                                after_update=lambda part: self._partial_shown(worker, part))

            def next_block(part: TablePartial) -> None:
                # The app is closing: read no further (the process's exit waits for this
                # thread, and the next layout may be many blocks away).
                if worker.is_cancelled or self.turns.closed:
                    raise _Cancelled
                stream.partial(part)

            try:
                table = load_table(trace_files(self.paths), key_attr=self.key_attr,
                                   on_progress=self._on_progress, on_partial=next_block,
                                   block_bytes=STREAM_BLOCK_BYTES)
            except _Cancelled:
                return
            except LoadError as exc:
                self.post_message(LoadFailed(str(exc)))
                return
            except Exception as exc:  # never a traceback for bad input
                self.post_message(LoadFailed(f"cannot load {self.source}: {_one_line(exc)}"))
                return
            # Views made while loading hold the ends read by then: the analysis and the
            # screen read them again, whole.
            if isinstance(table.views, dict):
                table.views.clear()
            lanes = stream.finish(table)
            trace = table_trace(table)
            analyzed = table
        else:
            lanes = build_lanes(trace)
        self.post_message(TraceLoaded(trace, lanes))
        # The screen lets go of the lanes streamed in when it takes these: wait until it has
        # shown them (a few ms), so that the analysis does not hold its arrays beside both,
        # nor compete with the screen for the interpreter meanwhile.
        while not self._loaded_shown.wait(0.05):
            if worker.is_cancelled:
                return
        error = None
        if report is None and trace.runs:
            report, error = analyze_trace(analyzed, self.suppressions,  # type: ignore[arg-type]
                                          self.blocking_threshold_ns)
        if isinstance(analyzed, Table) and isinstance(analyzed.views, dict):
            # The report holds the views of its findings' runs; the rest were the analysis's.
            analyzed.views.clear()
            # A finding's runs are found in their lane by id: the table's id index (a sort of
            # every run id, ~100 ms at a million) made here rather than at the first `n`.
            analyzed.row_by_id(_UNUSED_ID)
        if not worker.is_cancelled:
            self.post_message(TraceAnalyzed(trace, report, error))
        # What the `/` filter searches (each lane's methods: a pass over every run), made now
        # rather than at the first key typed into the filter.
        for lane in lanes.lanes:
            if worker.is_cancelled:
                return
            lane.search  # noqa: B018

    def _on_progress(self, done: int, total: int) -> None:
        self.post_message(LoadProgress(done, total))

    def _partial_shown(self, worker: Worker[None], part: TablePartial) -> None:
        if worker.is_cancelled:  # the app is closing: stop reading
            raise _Cancelled
        self.partial_updates += 1
        if self.on_partial is not None:
            self.on_partial(part)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _follow(self) -> None:
        from .follow import Follower

        worker = get_current_worker()
        follower = Follower(self.paths, key_attr=self.key_attr, skip_folder=self.follow_skip)
        trace: Trace | None = None
        while not worker.is_cancelled:
            started = time.monotonic()
            try:
                changed = follower.poll()
            except LoadError as exc:
                self.post_message(LoadFailed(str(exc)))
                return
            except Exception as exc:
                self.post_message(LoadFailed(f"cannot follow {self.source}: {_one_line(exc)}"))
                return
            # Open runs of live processes grow with the clock: redraw even without new lines.
            growing = trace is not None and any(r.end_ns is None for r in trace.runs)
            if changed or growing or trace is None:
                trace = follower.snapshot()
                lanes = build_lanes(trace)
                report, error = (None, None)
                if trace.runs:
                    report, error = analyze_trace(trace, self.suppressions,
                                                  self.blocking_threshold_ns)
                    if report is not None:
                        lanes = apply_report(lanes, report)
                self.post_message(TraceUpdated(trace, lanes, report, error))
            # Never spend more than half the time analyzing: slow polls stretch the interval.
            spent = time.monotonic() - started
            worker.cancelled_event.wait(max(self.poll_interval - spent, spent))

    # -- messages from the worker -------------------------------------------------------------

    def on_load_progress(self, message: LoadProgress) -> None:
        self.call_after_refresh(self.turns.release)  # the loader waits for this paint
        if self.trace is not None:
            return  # a late one: the load is complete
        self._show_progress(message.done, message.total)

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.update(total=max(total, 1), progress=done)
        self.reading_bar.update(total=max(total, 1), progress=done)
        read = f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB"
        if self.loading:  # (hidden once lanes show)
            self.loading_label.update(Text(f"Reading traces… {read}"))
        # Of a fixed size: repainted without laying out the screen again (5-12 ms at each
        # progress message while the lanes stream in).
        self.reading_label.update(Text(f"reading {read}"), layout=False)

    def on_lanes_grew(self, message: LanesGrew) -> None:
        if self.trace is not None or self.failed:
            return  # the whole trace is already on screen
        first = self.lanes is None
        added = first or len(message.lanes.lanes) != len(self.lanes.lanes)  # type: ignore[union-attr]
        self.lanes = message.lanes
        self.loading = False
        self.streaming = True
        self._show_progress(message.done, message.total)
        self.timeline.set_model(message.lanes, keep_place=not first, measure_names=added)
        self._update_header()
        if first:
            self.findings_list.show_note("findings come when the whole trace is read…")
        self.call_after_refresh(self.turns.release)  # the loader waits for this layout

    def on_trace_loaded(self, message: TraceLoaded) -> None:
        # The analysis (seconds of the interpreter at a million runs) starts once these lanes
        # are painted, not while the screen takes them.
        self.call_after_refresh(self._loaded_shown.set)
        self.trace = message.trace
        shown = self.lanes is not None
        self.lanes = message.lanes
        self.loading = False
        self.streaming = False
        if not message.trace.runs:
            self._resume_collector()
            self._show_empty(message.trace)
            return
        self.timeline.set_model(message.lanes, keep_place=shown)
        self.findings_list.show_note("analyzing…")
        self._update_header()
        _freeze_heap()

    def on_trace_analyzed(self, message: TraceAnalyzed) -> None:
        if message.trace is not self.trace or self.lanes is None:
            return
        self.report = message.report
        self.analysis_note = message.error
        if message.report is not None:
            self.lanes = apply_report(self.lanes, message.report)
            self.timeline.set_model(self.lanes, keep_place=True)
        self._show_findings()
        self._update_header()
        if self.picture:
            self.timeline.clear_selection()
            self.status_bar.update(legend_line(self.source))
        _freeze_heap()
        if not self.findings_list.listing:  # (else once listed: `_findings_listed`)
            self._resume_collector()  # what comes now is young: collections of it are cheap

    def on_trace_updated(self, message: TraceUpdated) -> None:
        self.loading = False
        first = self.trace is None or not self.trace.runs
        self.trace = message.trace
        self.lanes = message.lanes
        self.report = message.report
        self.analysis_note = message.error
        if not message.trace.runs:
            self._show_empty(message.trace)
            return
        self.failed = False
        self.timeline.set_model(message.lanes, keep_place=not first)
        self._show_findings()
        self._update_header()
        _freeze_heap()

    def on_load_failed(self, message: LoadFailed) -> None:
        self._resume_collector()
        self.loading = False
        self.streaming = False
        self.failure = message.reason
        self._show_message(
            Text.assemble(
                ("racetrace: ", "bold red"),
                clean(message.reason),
                "" if self.picture else "\n\nPress q to quit.",
            )
        )

    def _show_empty(self, trace: Trace) -> None:
        where = clean(self.source)
        if self.follow:
            text = Text.assemble(
                ("Waiting for runs", "bold"),
                f" in {where}…\n\nStart the program with tracing on, e.g.\n",
                ("  racetrace run -d ", "dim"),
                (where, "dim"),
                (" -- python app.py", "dim"),
                "\nRuns appear here as they start. Press q to quit.",
            )
        elif not trace.files:
            text = Text.assemble(
                ("No trace files", "bold"),
                f" in {where} (looked for *.jsonl and *.json).\n\n",
                "Record some with: racetrace run -- python app.py\n",
                "" if self.picture else "Press q to quit.",
            )
        else:
            text = Text.assemble(
                ("No runs", "bold"),
                f" in {plural(len(trace.files), 'trace file')} under {where}.\n\n",
                "Did the traced program call any of the traced methods? "
                "(racetrace run --target module:Class.method)\n",
            )
            if trace.skipped_lines:
                first = clean(trace.problems[0]) if trace.problems else ""
                text.append(
                    f"{plural(trace.skipped_lines, 'damaged line')} skipped (first: {first})\n",
                    "yellow",
                )
            if not self.picture:
                text.append("Press q to quit.")
        self._show_message(text)

    def _show_message(self, text: Text) -> None:
        self.message_box.update(text)
        self.failed = True
        self._update_header()

    # -- screen updates -----------------------------------------------------------------------

    def _update_header(self) -> None:
        self.header_bar.update(
            header_text(self.source, self.trace, self.lanes, self.report, self.analysis_note,
                        self.follow, reading=self.streaming),
            layout=False,  # (its size is fixed)
        )

    def _show_findings(self) -> None:
        panel = self.findings_list
        if self.report is None:
            panel.show_note(self.analysis_note or "no analysis")
            return
        if not self.report.findings:
            panel.show_note("No findings: no two runs overlapped on one instance.", "green")
            self.finding_index = None
            return
        panel.show(self.report.findings, self.lanes.origin_ns if self.lanes else 0)
        if self.finding_index is not None and self.finding_index < len(self.report.findings):
            panel.mark(self.finding_index)
        else:
            self.finding_index = None

    def on_timeline_selection_changed(self, message: Timeline.SelectionChanged) -> None:
        self._shown()
        status = self.status_bar
        if self.picture:
            return  # the status line holds the legend
        if message.lane is None or message.index is None or self.lanes is None:
            status.update(Text(" no lane matches the filter" if self.timeline.text_filter else ""),
                          layout=False)  # (one line, the screen's width)
            return
        line = run_line(message.lane, message.index, self.lanes.origin_ns)
        related = self.timeline.related
        # "finding 2/5" only while the selected run is in that finding's lane.
        if (related is not None and related[0] == message.lane.id
                and self.finding_index is not None and self.report is not None):
            which = f" finding {self.finding_index + 1}/{len(self.report.findings)} ·"
            line = Text(which, "bold", no_wrap=True, overflow="ellipsis") + line
        status.update(line, layout=False)

    def on_timeline_view_changed(self, message: Timeline.ViewChanged) -> None:
        self.ruler.refresh()
        self._shown()

    def on_resize(self, event: events.Resize) -> None:
        # The footer's keys fit an 80-column terminal; `?` lists the rest. (The event's size:
        # the app's own still holds the size before the resize here.)
        self.footer.compact = event.size.width < 120

    def on_timeline_details_requested(self, message: Timeline.DetailsRequested) -> None:
        if self.lanes is None:
            return
        content = run_details(message.lane, message.index, self.report)
        self.push_screen(DetailsScreen(content))

    @on(FindingsList.Listed)
    def _findings_listed(self) -> None:
        # The options listed in batches after the heap was frozen (`on_trace_analyzed`): freeze
        # them too, or every full collection walks them (~100 ms, at a random key press).
        _freeze_heap()
        self._resume_collector()

    @on(FindingsList.FindingChosen)
    def _finding_chosen(self, message: FindingsList.FindingChosen) -> None:
        self._goto_finding(message.index)

    # -- actions ------------------------------------------------------------------------------

    def action_finding(self, step: int) -> None:
        findings = self.report.findings if self.report is not None else []
        if not findings or self.lanes is None:
            self.notify("No findings to go to.", markup=False)
            self._done()
            return
        shown = self.timeline.lane_layout.positions
        reachable = []
        for i, finding in enumerate(findings):
            lane = self.lanes.lane_of_finding(finding)
            if lane is not None and lane.id in shown:
                reachable.append(i)
        if not reachable:
            self.notify("Every finding's lane is hidden by the filter.", markup=False)
            self._done()
            return
        current = self.finding_index
        if current is None:
            target = reachable[0] if step > 0 else reachable[-1]
        elif step > 0:
            target = next((i for i in reachable if i > current), reachable[0])
        else:
            target = next((i for i in reversed(reachable) if i < current), reachable[-1])
        self._goto_finding(target)

    def _goto_finding(self, index: int) -> None:
        if self.report is None or self.lanes is None or not 0 <= index < len(self.report.findings):
            return
        finding = self.report.findings[index]
        lane = self.lanes.lane_of_finding(finding)
        if lane is None:
            return
        if lane.id not in self.timeline.lane_layout.positions:
            self.timeline.text_filter = ""
            self.timeline.only_findings = False
            self.filter_input.value = ""
            self.filtering = False
        positions = sorted(lane.index[r.run_id] for r in finding.runs if r.run_id in lane.index)
        if not positions:
            return
        self.finding_index = index
        start = min(lane.start_of(i) for i in positions)
        end = max(lane.end_of(i) for i in positions)
        self.timeline.show_range(start, end)
        self.timeline.select_run(
            lane, positions[0], related=frozenset(lane.runs[i].run_id for i in positions)
        )
        self.findings_list.mark(index)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            # A `/` typed into the filter box, or into a dialog, is just a `/`.
            return self.screen is self.screen_stack[0] and self.focused is not self.filter_input
        return True

    def action_filter(self) -> None:
        self.filtering = True
        # Focus now, not after the next refresh (`focus()` waits for it): the keys typed right
        # after `/` are queued behind it and go to whatever has the focus when the app reads
        # them; an enter among them must submit the filter, not open a run's details.
        self.screen.set_focus(self.filter_input)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.timeline.text_filter = event.value

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.filtering = bool(event.value)
        self.timeline.focus()

    def action_only_findings(self) -> None:
        self.timeline.only_findings = not self.timeline.only_findings
        state = "only instances with findings" if self.timeline.only_findings else "all instances"
        self.notify(f"Showing {state}.", markup=False, timeout=2)
        self._done()

    def action_focus_findings(self) -> None:
        panel = self.findings_list
        panel.focus()
        if panel.count and panel.highlighted is None:
            panel.highlighted = self.finding_index or 0  # and the timeline jumps there
        self._done()

    def action_escape(self) -> None:
        filter_input = self.filter_input
        if self.filtering or filter_input.value:
            filter_input.value = ""
            self.timeline.text_filter = ""
            self.filtering = False
            self.timeline.focus()
        elif self.focused is not self.timeline:
            self.timeline.focus()
        elif self.timeline.related is not None:
            self.timeline.related = None
            self.finding_index = None
            lane, index = self.timeline.selected()
            if lane is not None and index is not None:
                self.timeline.select_run(lane, index)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.timeline.legend_style))
        self._done()

    def action_export(self) -> None:
        if self.report is None:
            self.notify(
                clean(self.analysis_note or "No report yet: the analysis has not finished."),
                severity="warning",
                markup=False,
            )
            self._done()
            return
        self.push_screen(ExportScreen(self.default_report_path(), self.write_report))
        self._done()

    def default_report_path(self) -> str:
        """Beside the traces shown (not inside their folder, where the next load would take
        the report for a trace file; not wherever the TUI was started)."""
        if not self.paths:
            return os.path.abspath(DEFAULT_REPORT_NAME)
        first = os.path.abspath(self.paths[0])
        return os.path.join(os.path.dirname(first.rstrip(os.sep)) or os.sep, DEFAULT_REPORT_NAME)

    def write_report(self, path: str) -> str | None:
        """Write the JSON report to `path`; a one-line error, or None when written."""
        import orjson
        from racetrace.analyzers.outputs.outfile import open_private

        if self.report is None:
            return "no report to write"
        report = self.report.to_json()
        # The trace files as paths that still hold wherever the report goes (they were read
        # relative to where the TUI started, which need not be the report's folder).
        if isinstance(report.get("files"), list):
            report["files"] = [os.path.abspath(f) for f in report["files"]]
        try:
            data = orjson.dumps(report, option=orjson.OPT_INDENT_2)
        except (TypeError, orjson.JSONEncodeError) as exc:
            return f"cannot encode the report: {_one_line(exc)}"
        try:
            with open_private(path) as out:
                out.write(data + b"\n")
        except OSError as exc:
            return f"cannot write {path}: {exc.strerror or exc}"
        self.notify(f"Wrote the report to {clean(path)}", markup=False)
        return None


def _paint_sooner() -> float | None:
    """Let the app's screens paint `FRAMES_PER_SECOND` times a second rather than 60, unless
    the user set Textual's own TEXTUAL_FPS; the rate it replaced (None: left alone), for the
    app to put back when it ends (a module global of Textual's: other apps of the process).

    Textual paints on a grid of 1/60 s, and a paint that comes late on it (the first after a
    pause) puts the next one up to two steps, 33 ms, later: while a trace loads, the progress
    bar is painted every 0.1 s, and a key pressed just after such a paint waited up to 33 ms
    with nothing to do before its effect was painted, most of the 50 ms a key may take. The
    screen still paints only when it is idle, so a faster grid adds no paints under load.
    (Read when a screen first paints: set before any.)"""
    if os.environ.get("TEXTUAL_FPS"):
        return None
    import textual.screen

    before = textual.screen.UPDATE_PERIOD
    _paint_at(min(before, 1 / FRAMES_PER_SECOND))
    return before


def _paint_at(period: float) -> None:
    import textual.screen

    textual.screen.UPDATE_PERIOD = period  # type: ignore[misc]


def _large_blocks_to_the_os() -> None:
    """Have glibc's malloc give every large block (a column, a layout's arrays) back to the
    system when freed. By default each large block freed raises the size from which blocks
    are mapped apart, so the next layouts' arrays come from the heap, which keeps their
    pages: at a million runs, streamed layouts left ~120 MB behind that way."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (AttributeError, OSError):  # not glibc: nothing to do
        pass


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_UNUSED_ID = "ffffffffffffffff"  # a run id looked up to build the table's id index


def table_trace(table: Table) -> Trace:
    """A `Trace` of a loaded table: its processes and damage, its runs the table's views (each
    made when read), in load order, the rows of copied files left out."""
    trace = table.trace()
    rows: Any = range(len(table))
    if table.dropped:
        rows = [r for r in rows if r not in table.dropped]
    trace.runs = table.runs(rows)  # type: ignore[assignment]
    return trace


class _Cancelled(Exception):
    """Raised in the loading thread to stop a load nobody waits for any more."""


def _freeze_heap() -> None:
    """Move everything alive now (the trace, its lanes, the report) out of the collector's way.

    A 100k-run trace is millions of tracked objects that live as long as the app; each full
    collection would walk them all, 100-170 ms of frozen screen at a random key press.
    Frozen objects are still freed by reference counting when a newer trace replaces them;
    the young-generation pass first lets short-lived cycles go rather than freeze them.
    """
    gc.collect(1)
    gc.freeze()


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return clean(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
