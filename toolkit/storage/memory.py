"""Memory storage: what an in-memory client persists — nothing, behind the same port.

``Client`` talks to its storage (``toolkit.storage.Storage``) at five points: ``load``
(the stored indexes when it opens), ``index_created`` (which returns the new index's
``Journal``), ``meta_changed`` (deletion protection, tags), ``index_deleted`` and ``close``.
The in-memory one hands out ``MemoryJournal``s and keeps backups in memory; ``DiskStorage``
persists all of it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..engine import SlabBuilder
from ..errors import UnavailableError
from ..index_config import IndexConfig
from ..journal import Journal, MemoryJournal, StoredIndex
from .backups import BackupStore, MemoryBackups


class MemoryStorage:
    """The storage of an in-memory client."""

    persistent = False
    read_only = False

    def __init__(self) -> None:
        self.backups: BackupStore = MemoryBackups()
        self.closed = False

    def check_writable(self) -> None:
        """Raise UnavailableError if this client may not change anything."""
        if self.closed:
            raise UnavailableError("this client is closed")
        if self.read_only:
            raise UnavailableError("this client is read-only (opened with read_only=True); writes are refused")

    def load(self, builders: Callable[[], Mapping[str, type[SlabBuilder]]]) -> list[StoredIndex]:
        """Return the stored indexes (none in memory)."""
        return []

    def index_created(self, config: IndexConfig, meta: Mapping[str, Any]) -> Journal:
        self.check_writable()
        return MemoryJournal()

    def meta_changed(self, config: IndexConfig, meta: Mapping[str, Any]) -> None:
        self.check_writable()

    def index_deleted(self, name: str) -> None:
        self.check_writable()

    def close(self) -> None:
        self.closed = True
