"""Storage: durability only — request logs, slab files, manifests and backups.

``open_storage(path)`` returns the storage behind a ``Client``: ``MemoryStorage`` when ``path``
is None, else ``DiskStorage`` (a folder; see ``toolkit.storage.disk`` for its layout). Storage
implements the core's ports (``toolkit.journal``): each index gets a ``Journal`` whose
per-namespace ``NamespaceJournal`` logs writes and persists checkpoints. Storage imports the
core's vocabulary (ops, slabs, configs) and never the core's owners (index, shard, client).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from ..engine import SlabBuilder
from ..index_config import IndexConfig
from ..journal import Journal, StoredIndex
from .backups import BackupStore
from .memory import MemoryStorage

if TYPE_CHECKING:
    from .integrity import VerifyReport


class Storage(Protocol):
    """What a ``Client`` persists through: its indexes' catalogue and journals, and its backups."""

    persistent: bool
    read_only: bool
    closed: bool
    backups: BackupStore

    def check_writable(self) -> None:
        """Raise UnavailableError if this client may not change anything."""

    def load(self, builders: Callable[[], Mapping[str, type[SlabBuilder]]]) -> list[StoredIndex]:
        """Return every stored index (its namespaces read, ready for ``Journal.recover``)."""

    def index_created(self, config: IndexConfig, meta: Mapping[str, Any]) -> Journal:
        """Store a new index (durable before it is listed); return its journal."""

    def meta_changed(self, config: IndexConfig, meta: Mapping[str, Any]) -> None:
        """Store an index's new deletion protection or tags."""

    def index_deleted(self, name: str) -> None:
        """Delete an index's storage (its shard is closed)."""

    def close(self) -> None:
        """Close every journal and release the folder."""


def open_storage(path: str | os.PathLike | None = None, *, read_only: bool = False) -> Storage:
    """Return the storage of a client: in memory, or the database folder at ``path``."""
    if path is None:
        if read_only:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError("read_only=True needs a path", path="read_only")
        return MemoryStorage()
    from .disk import DiskStorage

    return DiskStorage(path, read_only=read_only)


def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """CRC-check every slab file of the database at ``path`` in full; return a ``VerifyReport``."""
    from .integrity import verify_database

    return verify_database(path)


__all__ = ["open_storage", "verify", "Storage", "MemoryStorage"]
