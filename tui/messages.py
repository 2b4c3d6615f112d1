"""Messages from the background loader and follower to the app (the only way they reach it).

Progress and live updates declare `can_replace`: when the app is busy, a flood of them
collapses into the latest one instead of queueing up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from racetrace.analyzers.core.model import Trace
    from racetrace.analyzers.findings.report import Report

    from .lanes import Lanes


@dataclass
class LoadProgress(Message):
    """Bytes of trace read so far."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress)


@dataclass
class LanesGrew(Message):
    """The lanes read so far (the load goes on): shown at once, with the user's place kept."""

    lanes: Lanes
    done: int  # bytes read, of `total`
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LanesGrew)


@dataclass
class TraceLoaded(Message):
    """The trace is read and laid out in lanes; the analysis may still be running."""

    trace: Trace
    lanes: Lanes


@dataclass
class TraceAnalyzed(Message):
    """The analysis finished: its report, or a one-line reason why there is none."""

    trace: Trace
    report: Report | None
    error: str | None


@dataclass
class TraceUpdated(Message):
    """`--follow`: the trace grew; here is all of it again, laid out and analyzed."""

    trace: Trace
    lanes: Lanes
    report: Report | None
    error: str | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TraceUpdated)


@dataclass
class LoadFailed(Message):
    """The input cannot be shown at all; `reason` is one line naming the file."""

    reason: str
