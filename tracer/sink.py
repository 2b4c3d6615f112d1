"""The per-process trace file: a START line when a run starts, an END line when it ends.

The file is memory-mapped, a chunk at a time (`CHUNK_BYTES`, reserved on disk before it is
mapped): writing a line is a copy into the mapping, no system call. A line is never split
between chunks: the rest of a chunk a line does not fit in is filled with newlines (blank lines,
which readers skip). The copy is in the kernel's
page cache the moment it is made, as a `write` would be, so a process killed with SIGKILL
mid-run leaves the starts of its open runs behind (the kernel writes a dead process's dirty
pages back), which is how hangs and killed workers show up in the analysis. A file ends at its
last chunk's end: a live or killed writer's file ends in NUL bytes after its last line, which
readers take as the end of the data (analyzers/core/blocks.py). At exit (and `close`) the mapping is
dropped and the file cut to what was written; lines after that (a daemon thread's) are appended
with `os.write`. Where a file cannot be mapped (no `mmap`, a filesystem that refuses it), each
line is one `os.write` to a file opened with O_APPEND, said once on stderr. The class
has the shape of an OpenTelemetry SDK `SpanProcessor`, so the same object serves lean spans
and, when exporting over OTLP, SDK spans.

The writer never stops by itself: a value JSON cannot hold, or text that is not valid UTF-8 (a
lone surrogate from `os.fsdecode`), is written escaped; a line that cannot be written is lost
alone, said once on stderr, and the next run tries again (with a new file if the program closed
our descriptor or removed the file). The OS calls go through references taken at import: a test
that patches `os.write` (a blocking-call checker, a mock) patches the program's calls, not
racetrace's. The writer holds no descriptor while it maps (each chunk is mapped through one
opened and closed at once): a program that closes every descriptor does not stop it.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import semconv
from .clock import now_ns
from .errors import internal_error, say
from .session import make_dirs

_END_KEYS = (semconv.END_STATUS, semconv.END_REASON, semconv.ERROR_TYPE, semconv.EXCEPTION_MESSAGE)


_START = semconv.LINE_START
_END = semconv.LINE_END
# orjson's encoder and options, imported with the first line written (or by load_encoder): a
# process that records nothing (a child that imports no traced code) never pays for it (~4 ms,
# it imports json, datetime and uuid). The runtime's hot path calls `dumps` itself.
dumps: Any = None
OPTIONS = 0
_os_write = os.write
_os_open = os.open
_os_close = os.close
_os_ftruncate = os.ftruncate
_os_fstat = os.fstat
_os_dup = os.dup
_os_fallocate = getattr(os, "posix_fallocate", None)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Each chunk of a mapped file. A killed process leaves at most this much NUL padding (reserved
# on disk: a full disk is an error when a chunk is reserved, never a SIGBUS on a later copy).
# A huge page's size, and chunks start at its multiples in the file: where the kernel keeps a
# file in large folios (ext4, XFS on Linux 6.x) and has transparent huge pages (`madvise` or
# `always`), a chunk we ask it to (`MADV_HUGEPAGE`) is mapped whole by one page-table entry, so
# copying lines into it takes no page fault. With 4 KiB pages the first copy into each page
# faulted, and a fault costs 3-7 µs on a virtual machine: a run's ~700 bytes cost ~0.6 µs that
# way. A fresh huge page has its own cost (its memory, ~5 ms a chunk where the host took it
# back), which `_recycle` avoids. Measured in a traced process's CPU time per run, sync/async:
# 4 KiB pages 4.4/5.8 µs, huge pages 3.8-4.7/5.0-6.2 µs (the chunks' stalls land in some
# samples), huge pages recycled 3.8/5.0 µs.
CHUNK_BYTES = 2 << 20
# Python 3.13+ can map without keeping a duplicate of the descriptor (which a program closing
# every descriptor would close, and which closing the map would then close again).
_MAP_OPTIONS: dict[str, Any] = {"trackfd": False} if sys.version_info >= (3, 13) else {}
# Whether the interpreter has a GIL: with one, a copy into the map (one C call) is atomic
# between threads; without (free-threaded builds), every line takes the lock.
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
# How long a writer that failed to open its file waits before it tries again.
_REOPEN_AFTER_NS = 1_000_000_000


def _escape(text: str) -> str:
    """Text as UTF-8 can hold it: a lone surrogate becomes the six characters `\\udcff`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _escaped(value: Any) -> Any:
    """A record with every string that UTF-8 cannot encode escaped (keys too)."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is dict:
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_escaped(v) for v in value]
    if kind is int and not -(2**63) <= value < 2**64:
        return str(value)  # orjson holds 64 bits only
    return value


def _as_text(value: object) -> str:
    """What JSON cannot hold (a preset's resource key of an odd type, say) is written as text,
    rather than losing the line, or every line after it."""
    try:
        return _escape(str(value))
    except BaseException:
        return f"<{type(value).__name__}>"


def load_encoder() -> None:
    """Import orjson now (wrap.py does, when the first target is patched): not on a run's
    path, which may be on an event loop that a blocking-call checker watches."""
    global dumps, OPTIONS
    import orjson

    OPTIONS = orjson.OPT_APPEND_NEWLINE
    dumps = orjson.dumps


def encode_header(record: dict[str, Any]) -> bytes:
    """A header line: with the stdlib's json while orjson is not imported (a process that
    records no run writes its header at exit, and json is already there), else as any line."""
    if dumps is not None:
        return encode_line(record)
    import json

    text = json.dumps(_escaped(record), ensure_ascii=False, separators=(",", ":"),
                      default=_as_text)
    return text.encode("utf-8", "backslashreplace") + b"\n"


def encode_line(record: dict[str, Any]) -> bytes:
    """One JSON line; whatever a value holds, never an exception."""
    if dumps is None:
        load_encoder()
    try:
        return dumps(record, default=_as_text, option=OPTIONS)
    except TypeError:  # text that is not valid UTF-8, or a value `_as_text` could not fix
        return dumps(_escaped(record), default=_as_text, option=OPTIONS)


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
    """A run's id: its SDK span's id in hex."""
    return format(span.context.span_id, "016x")


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
        # The chunk of the file mapped now, and where it starts and ends in the file; None when
        # nothing is open, or when lines are appended with `os.write` (`_fd`). The runtime's
        # hot path writes a line with `mapped.write(line)` itself (one call, not three), and
        # with `put(line)` when there is no map or the line does not fit (ValueError).
        self.mapped: Any = None
        self._map_start = 0
        self._map_end = 0
        # The number of the descriptor the map keeps (Python < 3.13), and the file's identity.
        self._map_fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._fd: int | None = None
        # Whether files are mapped: off where mapping failed once (said once), or by choice.
        self.use_map = True
        # Whether the chunks left are dropped from the page cache (`_recycle`): found out at
        # the first chunk's end, for the file then open (None: not yet).
        self.recycle: bool | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._retry_ns = 0
        self.lost = 0  # lines that could not be written
        # Makes the folder ready before a file is opened in it (a session's marker, pruning).
        self.prepare_folder: Callable[[], None] | None = None
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
        self.write_record(record)

    def write_end(self, run_id: str, end_ns: int, end: dict[str, Any]) -> None:
        """A run's END line; `end` holds the `_END_KEYS` that have a value, in order."""
        record: dict[str, Any] = {"type": _END, "run_id": run_id, "end_ns": end_ns}
        record.update(end)
        self.write_record(record)

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
        self.write_record(record)

    def shutdown(self) -> None:
        self.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every line is in the kernel's hands when it happens

    # -- lines ---------------------------------------------------------------------------------
    def write_record(self, record: dict[str, Any]) -> None:
        """One line: `record` encoded (a START the runtime built whole)."""
        try:
            line = encode_line(record)
        except Exception as exc:  # pragma: no cover - encode_line escapes what it cannot hold
            self._lose(f"cannot encode a trace line ({type(exc).__name__}: {exc})")
            return
        mapped = self.mapped
        if mapped is not None and _GIL:
            try:
                mapped.write(line)  # the hot path: one copy, atomic under the GIL
                return
            except ValueError:  # the chunk is full (or was just replaced): take the lock
                pass
        self.put(line)

    def put(self, line: bytes) -> None:
        """A line the current chunk cannot take: the next chunk, the first file, or `os.write`."""
        if self._closed:
            return
        try:
            with self._lock:
                if self._closed:
                    return
                if self.mapped is None and self._fd is None and not self._open():
                    self.lost += 1
                    return
                if self.mapped is not None:
                    self._spill(line)
                    return
            self._append(line)
        except OSError as exc:
            self._lose(f"cannot write the trace file {self.path or self.directory} ({exc})")
        except Exception as exc:
            self._lose(f"cannot write the trace file {self.path or self.directory} "
                       f"({type(exc).__name__}: {exc})")

    def _spill(self, line: bytes) -> None:
        """Under the lock: the line whole in a new chunk, mapped before other threads see it.
        A line is never split between chunks (a process killed while the next chunk is mapped
        would leave half a line, and a live reader would read one): the rest of this chunk is
        filled with newlines, blank lines that readers skip. A chunk is left only when full,
        so no other thread can write to it after this one filled it."""
        mapped = self.mapped
        while True:
            free = len(mapped) - mapped.tell()
            try:
                if len(line) <= free:
                    mapped.write(line)
                    return
                if free:
                    mapped.write(b"\n" * free)
            except ValueError:  # another thread's line took the room meanwhile
                continue
            break
        try:
            fd = _os_open(self.path, os.O_RDWR | _O_CLOEXEC)
        except OSError:
            self._lost_file(mapped)
            raise
        try:
            start = self._map_end
            try:
                # A line longer than a chunk gets a chunk of its size.
                new, end, new_fd = _map_chunk(fd, start, len(line))
            except OSError:
                self._lost_file(mapped)
                raise
            new.write(line)
            if self.recycle is None:  # once per file: the chunk just filled is still mapped
                self.recycle = _huge_mapped(self._ident, self._map_start)
            old_fd = self._map_fd
            self._map_start, self._map_end, self._map_fd, self.mapped = start, end, new_fd, new
            _release(mapped, old_fd, self._ident)
            if self.recycle:
                _recycle(fd, start)
        finally:
            _os_close(fd)

    def _lost_file(self, mapped: Any) -> None:
        """The file is gone (removed with its folder) or cannot grow: the next line tries a
        new file."""
        self.mapped = None
        self.path = None
        _release(mapped, self._map_fd, self._ident)

    def _append(self, line: bytes) -> None:
        """One `os.write` to the file opened with O_APPEND (no map)."""
        fd = self._fd
        if fd is None:
            return
        try:
            _os_write(fd, line)
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
            # The program closed our descriptor (closing every fd, daemonizing): this line
            # and the next go to a new file of this process, with a header of its own.
            with self._lock:
                if self._fd == fd:
                    self._fd = None
                    self.path = None
                if self.mapped is None and self._fd is None and not self._open():
                    raise
                if self.mapped is not None:
                    self._spill(line)
                    return
                fd = self._fd
            if fd is None:
                raise
            _os_write(fd, line)

    def _lose(self, why: str) -> None:
        self.lost += 1
        say(f"{why}; that run is missing from the trace, racetrace tries again with each "
            "run and your program is not affected", once_key="trace-writer")

    # -- file ----------------------------------------------------------------------------------
    def _open(self) -> bool:
        """Under the lock: a new file, with its header; False while a failed open waits."""
        if self._closed or now_ns() < self._retry_ns:
            return False
        try:
            self._open_file()
        except Exception:
            self._retry_ns = now_ns() + _REOPEN_AFTER_NS
            raise
        return True

    def _open_file(self) -> None:
        self.recycle = None
        if self.prepare_folder is not None:
            self.prepare_folder()
        make_dirs(self.directory)
        pid = os.getpid()
        name = f"{self.host}.{pid}.{os.urandom(3).hex()}.jsonl"
        path = os.path.join(self.directory, name)
        header = {
            "type": semconv.LINE_HEADER,
            "format": semconv.TRACE_FORMAT,
            "pid": pid,
            "ppid": os.getppid(),
            "host": self.host,
            "service": self.service,
            "argv": command_line(list(getattr(sys, "argv", []))),
            "python": sys.version.split()[0],
            "racetrace": self.version,
            "wall_ns": now_ns(),
            "monotonic_ns": time.monotonic_ns(),
        }
        if self.unresolved:
            header["unresolved_targets"] = list(self.unresolved)
        line = encode_header(header)
        fd = _os_open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
        try:
            if self.use_map:
                try:
                    stat = _os_fstat(fd)
                    self._ident = (stat.st_dev, stat.st_ino)
                    mapped, end, map_fd = _map_chunk(fd, 0, len(line))
                except Exception as exc:
                    self.use_map = False
                    say(f"cannot map the trace file {path} ({type(exc).__name__}: {exc}); "
                        "writing it a line at a time instead", once_key="trace-map")
                    _os_ftruncate(fd, 0)  # a chunk may have been reserved
                else:
                    mapped.write(line)
                    self.mapped, self._map_start, self._map_end = mapped, 0, end
                    self._map_fd = map_fd
                    self._header, self.path = header, path
                    return
            _os_write(fd, line)
        finally:
            _os_close(fd)
        self._fd = _os_open(path, os.O_WRONLY | os.O_APPEND | _O_CLOEXEC)
        self._header, self.path = header, path

    def _settle(self) -> int | None:
        """Under the lock: drop the map and cut the file to what was written; lines after this
        are appended with `os.write` (the descriptor is returned, or None with no map)."""
        mapped = self.mapped
        if mapped is None:
            return None
        self.mapped = None
        low = mapped.tell()
        # Full from here on: a thread that still holds the map fails and takes the lock. A
        # line it copied meanwhile ends where the NUL bytes start (no line holds a NUL byte).
        mapped.seek(0, 2)
        end = mapped.find(b"\0", low)
        if end < 0:
            end = len(mapped)
        _release(mapped, self._map_fd, self._ident)
        fd = _os_open(self.path, os.O_WRONLY | os.O_APPEND | _O_CLOEXEC)
        try:
            _os_ftruncate(fd, self._map_start + end)
        except BaseException:
            _os_close(fd)
            raise
        return fd

    def at_exit(self, unresolved: list[dict[str, str]], *, create: bool) -> None:
        """The process is ending: its file names the targets that never resolved here, in a
        second header line when they changed since the first was written; with `create`, a
        file is written (a header alone) even when no run was recorded. The file is cut to its
        lines; any written later (a daemon thread's run ending) are appended."""
        if self._closed:
            return
        try:
            with self._lock:
                if self.mapped is None and self._fd is None:
                    if not create:
                        # A first run after this (another exit hook's) is appended: nothing
                        # would cut a mapped file's padding any more.
                        self.use_map = False
                        return
                    self.unresolved = unresolved
                    self._open()
                    unresolved = self.unresolved
            if unresolved != self.unresolved:
                self.unresolved = unresolved
                self.write_line(encode_header({**self._header, "unresolved_targets": unresolved}))
            self.settle()
        except Exception as exc:
            internal_error("writing the trace file's header", exc)

    def settle(self) -> None:
        """Cut the file to its lines (the process is ending); from now on, lines are appended
        a line at a time, and no file opened after this is mapped (nothing would cut it)."""
        try:
            with self._lock:
                self.use_map = False
                fd = self._settle()
                if fd is not None:
                    self._fd = fd
        except Exception as exc:
            internal_error("cutting the trace file to its lines", exc)

    def write_line(self, line: bytes) -> None:
        """One line already encoded (an END the runtime made directly)."""
        mapped = self.mapped
        if mapped is not None and _GIL:
            try:
                mapped.write(line)
                return
            except ValueError:
                pass
        self.put(line)

    def close(self) -> None:
        with self._lock:
            # Closed means done: the END of a run still in flight must not open a second file
            # (with an END whose START is in the first).
            self._closed = True
            fd = None
            try:
                fd = self._settle()
            except Exception as exc:
                internal_error("closing the trace file", exc)
            for descriptor in (fd, self._fd):
                if descriptor is not None:
                    try:
                        _os_close(descriptor)
                    except OSError:
                        pass
            self._fd = None

    def after_fork_in_child(self) -> None:
        """The child gets a file of its own. The parent's map and descriptor are not ours to
        write, nor its file ours to cut: the child drops its copies and leaves the file."""
        mapped, self.mapped = self.mapped, None
        if mapped is not None:
            _release(mapped, self._map_fd, self._ident)
        if self._fd is not None:
            try:
                _os_close(self._fd)
            except OSError:
                pass
        self._fd = None
        self.path = None
        self._header = {}
        self._lock = threading.Lock()
        self._closed = False
        self._retry_ns = 0


_mmap: Any = None
# `MADV_HUGEPAGE` where the platform has it (Linux), found with `mmap`: see CHUNK_BYTES.
_HUGE_PAGES: int | None = None


def _map_chunk(fd: int, start: int, need: int) -> tuple[Any, int, int | None]:
    """Reserve and map the chunk of the file at `start` (room for `need` bytes at least): the
    map, where it ends in the file, and the number of the descriptor the map keeps."""
    global _mmap, _HUGE_PAGES
    if _mmap is None:
        import mmap

        _mmap = mmap
        _HUGE_PAGES = getattr(mmap, "MADV_HUGEPAGE", None)
    # A whole number of chunks: the next chunk starts at a multiple of CHUNK_BYTES too.
    size = max(CHUNK_BYTES, -(-need // CHUNK_BYTES) * CHUNK_BYTES)
    reserved = False
    if _os_fallocate is not None:
        try:
            # Blocks reserved now: a full disk fails here, not as a SIGBUS on a later copy.
            _os_fallocate(fd, start, size)
            reserved = True
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
    if not reserved:
        _os_ftruncate(fd, start + size)
    kept = None
    if not _MAP_OPTIONS:
        # Before Python 3.13 the map keeps a duplicate of the descriptor, and closing the map
        # closes it. Its number is the lowest free one (as `dup` gives): remembered, so that a
        # map whose descriptor the program closed, its number then reused, is never closed.
        kept = _os_dup(fd)
        _os_close(kept)
    mapped = _mmap.mmap(fd, size, access=_mmap.ACCESS_WRITE, offset=start, **_MAP_OPTIONS)
    if _HUGE_PAGES is not None:
        try:
            mapped.madvise(_HUGE_PAGES)
        except (OSError, ValueError):  # no transparent huge pages here: 4 KiB pages as before
            pass
    return mapped, start + size, kept


_fadvise = getattr(os, "posix_fadvise", None)
_FADV_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)


def _recycle(fd: int, start: int) -> None:
    """Hand the memory of the chunks before `start` back for the next ones: the chunk just
    left has its writeback started, the one before it (written back meanwhile) leaves the
    page cache. A new chunk then takes a huge page that was just freed; else it takes one the
    kernel has not touched for a while, and on a virtual machine that returns such memory to
    its host (free page reporting) that costs ~5 ms a chunk (512 host faults), not ~0.3 ms
    (measured: a sync run's CPU time 3.8 µs with recycling, 3.8-4.7 µs without, the stalls
    landing where they will). The lines stay in the file, read back from the disk."""
    low = max(0, start - 2 * CHUNK_BYTES)
    try:
        _fadvise(fd, low, start - low, _FADV_DONTNEED)  # type: ignore[misc]
    except (OSError, TypeError):
        pass


# Reading smaps walks the page tables of every mapping (~37 ms a resident GiB, measured), and
# the read happens inside a traced call: a large process keeps 4 KiB behaviour instead.
_SMAPS_SCAN_MAX_RESIDENT = 256 << 20


def _resident_bytes() -> int:
    """The process's resident size from /proc/self/statm (one short read); unknown is huge."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGESIZE")
    except (OSError, ValueError, IndexError):
        return 1 << 62


def _huge_mapped(ident: tuple[int, int], offset: int) -> bool:
    """Whether this process maps the chunk of the file `ident` at `offset` with a huge page
    (`FilePmdMapped` in /proc/self/smaps): where the kernel gave a chunk 4 KiB pages (a file
    system or a kernel without large folios), dropping pages costs more than it saves."""
    if _fadvise is None or _resident_bytes() > _SMAPS_SCAN_MAX_RESIDENT:
        return False
    wanted = b"%08x" % offset
    inode = b"%d" % ident[1]
    try:
        with open("/proc/self/smaps", "rb") as smaps:
            ours = False
            for line in smaps:
                if line[:1] in b"0123456789abcdef" and b"-" in line[:17]:  # a mapping's head
                    fields = line.split(None, 5)
                    ours = len(fields) > 4 and fields[2] == wanted and fields[4] == inode
                elif ours and line.startswith(b"FilePmdMapped:"):
                    return line.split()[1] != b"0"
    except (OSError, ValueError, IndexError):
        pass
    return False



# Maps whose descriptor is no longer ours: never closed (closing would close the program's).
_kept_open: list[Any] = []


def _release(mapped: Any, kept: int | None, ident: tuple[int, int]) -> None:
    """Close a map, unless the descriptor it keeps is not a descriptor of its file any more
    (the program closed every descriptor, then opened others): then it is left open."""
    if kept is not None:
        try:
            stat = _os_fstat(kept)
            ours = (stat.st_dev, stat.st_ino) == ident
        except OSError:
            ours = False
        if not ours:
            _kept_open.append(mapped)
            return
    _close_quietly(mapped)


def _close_quietly(mapped: Any) -> None:
    try:
        mapped.close()
    except Exception:
        pass
