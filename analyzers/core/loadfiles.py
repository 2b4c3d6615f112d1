"""Which files a load reads, and the one-line error for input that cannot be read at all.

Apart from `load`, which builds on `tableload`: both loaders name their inputs and their errors
through this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["TRACE_SUFFIXES", "LoadError", "ProgressCallback", "trace_files"]

TRACE_SUFFIXES = (".jsonl", ".json")

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)


class LoadError(Exception):
    """Input that cannot be loaded at all; the message is one line naming the file."""


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
    # A file named twice (a directory and a file in it) is read once.
    unique: dict[Path, tuple[Path, bool]] = {}
    for path, named in files:
        seen = unique.get(path.resolve())
        unique[path.resolve()] = (path, named or (seen is not None and seen[1]))
    return list(unique.values())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:  # gone since it was listed
        raise LoadError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _looks_like_otlp(handle: Any) -> bool:
    start = handle.read(4096)
    handle.seek(0)
    return start.lstrip().startswith(b'{"resourceSpans"')
