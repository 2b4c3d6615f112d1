"""Files written from traces (JSON reports, exports): private to their owner, as the trace
files are, whatever the umask says: they can hold the same data (labels, paths, messages)."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


def open_private(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for writing (created or truncated) with mode 0600. A regular file that
    existed keeps no wider mode either; a device or a pipe (`/dev/stdout`) is left as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
    except OSError:  # not ours to change (a file another user let us write)
        pass
    return os.fdopen(fd, "wb")
