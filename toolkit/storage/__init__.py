"""Storage: durability and freshness — request log, slab files, manifests, imports and backups.

``open_storage(path)`` returns the storage behind a ``Client``: ``MemoryStorage`` when ``path``
is None, else ``DiskStorage`` (a folder; see ``toolkit.storage.disk`` for its layout). The
data plane reaches storage only through the ``Journal`` of each index (``journal.py``) and the
``store`` hook of each namespace (``disk.NamespaceStore``), so the in-memory path pays nothing.
"""

from __future__ import annotations

import os
from typing import Any

from .journal import NULL_JOURNAL, Journal, NullJournal, apply_op
from .memory import MemoryStorage


def open_storage(path: str | os.PathLike | None = None, *, read_only: bool = False, consistency: str = "strong",
                 apply_delay: float = 0.0) -> Any:
    """Return the storage of a client: in memory, or the database folder at ``path``."""
    if path is None:
        if read_only:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError("read_only=True needs a path", path="read_only")
        return MemoryStorage(consistency, apply_delay)
    from .disk import DiskStorage

    return DiskStorage(path, read_only=read_only, consistency=consistency, apply_delay=apply_delay)


__all__ = ["open_storage", "MemoryStorage", "Journal", "NullJournal", "NULL_JOURNAL", "apply_op"]
