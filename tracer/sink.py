"""The per-process trace file: a START line when a run starts, an END line when it ends.

Each line is one `os.write` to a file opened with O_APPEND, so it is on disk (in the kernel's
page cache) the moment the call returns: a process killed with SIGKILL mid-run leaves the starts
of its open runs behind, which is how hangs and killed workers show up in the analysis. The
class has the shape of an OpenTelemetry SDK `SpanProcessor`, so the same object serves lean
spans and, when exporting over OTLP, SDK spans.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from typing import Any

import orjson

from . import semconv
from .errors import internal_error

_END_KEYS = (semconv.END_STATUS, semconv.END_REASON, semconv.ERROR_TYPE, semconv.EXCEPTION_MESSAGE)


_START = semconv.LINE_START
_END = semconv.LINE_END


def _as_text(value: object) -> str:
    """What JSON cannot hold (a preset's resource key of an odd type, say) is written as text,
    rather than losing the line, or every line after it."""
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


# Flags whose value is likely a secret: `--api-key=...`, `--token ...`, `--db-password=...`.
_SECRET_WORDS = ("key", "token", "password", "passwd", "secret")
REDACTED = "<redacted>"


def command_line(argv: list[str]) -> list[str]:
    """`argv` for the header: whole with RACETRACE_CAPTURE_ARGS=1, else with the values of
    flags that look like secrets (`--*key*`, `--*token*`, `--*password*`, `--*secret*`, in the
    `--flag=value` and the `--flag value` forms) replaced by `<redacted>`."""
    if os.environ.get(semconv.ENV_CAPTURE_ARGS, "").strip().lower() not in semconv.OFF_VALUES:
        return argv
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if arg.startswith("-") and arg != "--":
            name, eq, _ = arg.partition("=")
            if any(word in name.lower() for word in _SECRET_WORDS):
                if eq:
                    out.append(f"{name}={REDACTED}")
                    continue
                hide_next = True
        out.append(arg)
    return out


def run_id_of(span: Any) -> str:
    """A run's id: its span id in hex (a lean span carries it ready-made)."""
    run_id = getattr(span, "run_id", None)
    return run_id if run_id is not None else format(span.context.span_id, "016x")


def _hex_or_none(context: Any, width: int) -> str | None:
    if context is None:
        return None
    return format(context.span_id, f"0{width}x")


class JsonLinesSink:
    def __init__(self, directory: str, host: str, service: str, version: str) -> None:
        self.directory = directory
        self.host = host
        self.service = service
        self.version = version
        self.path: str | None = None
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._broken = False
        # Targets named but not traced here, [{"target", "reason"}]: in the header, so that
        # "nothing traced" reads apart from "nothing wrong".
        self.unresolved: list[dict[str, str]] = []
        self._header: dict[str, Any] = {}

    # -- SpanProcessor interface -------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        attributes = span.attributes
        context = span.context
        record: dict[str, Any] = {
            "type": _START,
            "run_id": run_id_of(span),
            "trace_id": format(context.trace_id, "032x"),
            "parent_span_id": _hex_or_none(span.parent, 16),
            "name": span.name,
            "start_ns": span.start_time,
        }
        record.update(attributes)
        self._write(record)

    def on_end(self, span: Any) -> None:
        attributes = span.attributes
        record: dict[str, Any] = {
            "type": _END,
            "run_id": run_id_of(span),
            "end_ns": span.end_time,
        }
        for key in _END_KEYS:
            value = attributes.get(key)
            if value is not None:
                record[key] = value
        self._write(record)

    def shutdown(self) -> None:
        self.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every line is written when it happens

    # -- file ----------------------------------------------------------------------------------
    def _write(self, record: dict[str, Any]) -> None:
        if self._broken:
            return
        try:
            line = orjson.dumps(record, default=_as_text, option=orjson.OPT_APPEND_NEWLINE)
            fd = self._fd
            if fd is None:
                fd = self._open()
            os.write(fd, line)
        except Exception as exc:
            self._broken = True
            internal_error("writing the trace file", exc)

    def _open(self) -> int:
        with self._lock:
            if self._fd is not None:
                return self._fd
            os.makedirs(self.directory, exist_ok=True)
            pid = os.getpid()
            name = f"{self.host}.{pid}.{secrets.token_hex(3)}.jsonl"
            path = os.path.join(self.directory, name)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags, 0o600)
            self._header = {
                "type": semconv.LINE_HEADER,
                "format": semconv.TRACE_FORMAT,
                "pid": pid,
                "ppid": os.getppid(),
                "host": self.host,
                "service": self.service,
                "argv": command_line(list(getattr(sys, "argv", []))),
                "python": sys.version.split()[0],
                "racetrace": self.version,
                "wall_ns": time.time_ns(),
                "monotonic_ns": time.monotonic_ns(),
            }
            if self.unresolved:
                self._header["unresolved_targets"] = list(self.unresolved)
            os.write(fd, orjson.dumps(self._header, default=_as_text,
                                      option=orjson.OPT_APPEND_NEWLINE))
            self.path = path
            self._fd = fd
            return fd

    def at_exit(self, unresolved: list[dict[str, str]], *, create: bool) -> None:
        """The process is ending: its file names the targets that never resolved here, in a
        second header line when they changed since the first was written; with `create`, a
        file is written (a header alone) even when no run was recorded."""
        if self._broken:
            return
        try:
            if self._fd is None:
                if not create:
                    return
                self.unresolved = unresolved
                self._open()
            elif unresolved != self.unresolved:
                self.unresolved = unresolved
                header = {**self._header, "unresolved_targets": unresolved}
                os.write(self._fd, orjson.dumps(header, default=_as_text,
                                                option=orjson.OPT_APPEND_NEWLINE))
        except Exception as exc:
            internal_error("writing the trace file's header", exc)

    def close(self) -> None:
        with self._lock:
            # Closed means done: the END of a run still in flight must not open a second file
            # (with an END whose START is in the first).
            self._broken = True
            if self._fd is not None:
                try:
                    os.close(self._fd)
                finally:
                    self._fd = None

    def after_fork_in_child(self) -> None:
        """The child gets a file of its own; the parent's descriptor is not ours to write."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None
        self.path = None
        self._header = {}
        self._lock = threading.Lock()
        self._broken = False
