"""Folder lock: one writing client per database folder, across processes (fcntl.flock).

The writer holds an exclusive, non-blocking flock on ``<folder>/LOCK`` for as long as it is
open; the kernel drops it when the process dies, so a crash never leaves a stale lock.
Read-only clients take no lock: they read a consistent snapshot beside the writer.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import FailedPreconditionError

LOCK_FILE = "LOCK"


class FolderLock:
    """An exclusive lock on a database folder, held until ``release``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FailedPreconditionError(
                f"the database folder {str(folder)!r} is already open for writing by another client "
                f"(process {holder}); close that client, or open this one with read_only=True"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
