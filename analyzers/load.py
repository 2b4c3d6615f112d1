"""Read trace files back into runs: many processes merged, damage skipped and counted.

Accepts files and directories (every `*.jsonl` below a directory). A line that does not decode
(a process killed mid-write, a disk that filled up, a hand edit) is skipped, counted and named
once; the rest of the file still loads. Only input that cannot be read at all (a path that does
not exist, a file that is not a trace) is a `LoadError`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from .model import End, Header, Process, Run, Trace

TRACE_SUFFIXES = (".jsonl", ".json")

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


class LoadError(Exception):
    """Input that cannot be loaded at all; the message is one line naming the file."""


class NotATrace(Exception):
    """A file in which not a single line is a trace record."""


_line_decoder = msgspec.json.Decoder(Header | Run | End)


@contextmanager
def _gc_paused() -> Any:
    # Decoding creates millions of small objects that hold no cycles; the cyclic collector
    # would re-scan them all, over and over, for nothing (about half of the load time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def trace_files(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Files to read, each with whether the user named it (rather than its directory)."""
    files: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                (p, False)
                for p in sorted(path.rglob("*"))
                if p.suffix in TRACE_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            files.append((path, True))
        elif not path.exists():
            raise LoadError(f"{path}: no such file or directory")
        else:
            raise LoadError(f"{path}: not a regular file or directory")
    return files


def load(
    paths: Iterable[str | os.PathLike[str]],
    *,
    key_attr: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Trace:
    """Load every run from `paths`, sorted by start time."""
    files = trace_files(paths)
    total = sum(f.stat().st_size for f, _ in files)
    done = 0
    runs: list[Run] = []
    processes: list[Process] = []
    problems: list[str] = []
    skipped = 0
    with _gc_paused():
        for file, named in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise LoadError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            try:
                if _looks_like_otlp(data):
                    from .otlp import load_otlp_lines

                    file_runs, file_processes, file_skipped, file_problems = load_otlp_lines(
                        data, str(file), key_attr=key_attr
                    )
                else:
                    file_runs, file_processes, file_skipped, file_problems = _load_lines(
                        data, str(file)
                    )
            except NotATrace as exc:
                if named:
                    raise LoadError(f"{exc} (not a racetrace or OTLP trace file)") from None
                problems.append(f"{file}: ignored, not a trace file")
                continue
            runs.extend(file_runs)
            processes.extend(file_processes)
            skipped += file_skipped
            problems.extend(file_problems)
            done += len(data)
            if on_progress is not None:
                on_progress(done, total)
        runs.sort(key=_start_of)
    last: dict[str, int] = {}
    for process in processes:
        last[process.key] = max(last.get(process.key, 0), process.last_ns)
    return Trace(
        runs=runs,
        processes=processes,
        skipped_lines=skipped,
        problems=problems,
        files=[str(f) for f, _ in files],
        process_last_ns=last,
    )


def _start_of(run: Run) -> int:
    return run.start_ns


def _looks_like_otlp(data: bytes) -> bool:
    return data.lstrip()[:16].startswith(b'{"resourceSpans"')


def _load_lines(
    data: bytes, source: str
) -> tuple[list[Run], list[Process], int, list[str]]:
    decode = _line_decoder.decode
    runs: dict[str, Run] = {}
    ends: list[End] = []
    header: Header | None = None
    skipped = 0
    problems: list[str] = []
    last_ns = 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            skipped += 1
            if len(problems) < 20:
                problems.append(f"{source}:{number}: skipped: {_first_line(exc)}")
            continue
        kind = type(record)
        if kind is Run:
            runs[record.run_id] = record  # type: ignore[union-attr]
        elif kind is End:
            ends.append(record)  # type: ignore[arg-type]
        elif header is None:
            header = record  # type: ignore[assignment]
    if header is None and not runs and not ends:
        if skipped:
            raise NotATrace(problems[0])
        return [], [], 0, []
    for end in ends:
        run = runs.get(end.run_id)
        if run is None:
            skipped += 1
            if len(problems) < 20:
                problems.append(f"{source}: end of run {end.run_id} whose start is missing")
            continue
        run.end_ns = end.end_ns
        run.status = end.status
        run.end_reason = end.reason
        run.error_type = end.error_type
        run.error_message = end.error_message
        if end.end_ns > last_ns:
            last_ns = end.end_ns
    service = header.service if header is not None else None
    for run in runs.values():
        run.source = source
        run.service = service
        if run.start_ns > last_ns:
            last_ns = run.start_ns
    if header is not None:
        process = Process(
            host=header.host,
            pid=header.pid,
            source=source,
            service=header.service,
            argv=header.argv,
            ppid=header.ppid,
            started_ns=header.wall_ns,
            last_ns=max(last_ns, header.wall_ns),
        )
    else:
        any_run = next(iter(runs.values()), None)
        process = Process(
            host=any_run.host if any_run else "",
            pid=any_run.pid if any_run else 0,
            source=source,
            last_ns=last_ns,
        )
    return list(runs.values()), [process], skipped, problems


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
