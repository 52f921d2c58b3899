"""Memory storage: what an in-memory client persists — nothing, but the same control seams.

``Client`` talks to a storage object at five points: ``load`` (restore indexes when it
opens), ``index_created``, ``meta_changed`` (deletion protection, tags), ``index_deleted``
and ``close``. The in-memory one only wires each index's journal (``NULL_JOURNAL``) and
freshness mode, and keeps backups in memory; ``DiskStorage`` persists all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ..errors import UnavailableError
from .backups import MemoryBackups
from .builder import check_freshness
from .journal import NULL_JOURNAL

if TYPE_CHECKING:
    from ..index import Index


class MemoryStorage:
    """The storage of an in-memory client."""

    persistent = False
    read_only = False

    def __init__(self, consistency: str = "strong", apply_delay: float = 0.0) -> None:
        self.consistency, self.apply_delay = check_freshness(consistency, apply_delay)
        self.backups: Any = MemoryBackups()
        self.closed = False

    def check_writable(self) -> None:
        """Raise UnavailableError if this client may not change anything."""
        if self.closed:
            raise UnavailableError("this client is closed")
        if self.read_only:
            raise UnavailableError("this client is read-only (opened with read_only=True); writes are refused")

    def load(self, client: Any) -> None:
        """Restore the stored indexes into ``client`` (none in memory)."""

    def journal_for(self, index: Index) -> Any:
        return NULL_JOURNAL

    def attach(self, index: Index) -> None:
        """Give a new or restored index its journal and the client's freshness mode."""
        index._journal = self.journal_for(index)
        index.set_consistency(self.consistency, self.apply_delay)

    def index_created(self, index: Index, meta: Mapping[str, Any]) -> None:
        self.check_writable()
        self.attach(index)

    def meta_changed(self, index: Index, meta: Mapping[str, Any]) -> None:
        self.check_writable()

    def index_deleted(self, index: Index) -> None:
        self.check_writable()
        index._stop_builder()

    def close(self, indexes: Iterable[Index]) -> None:
        for index in indexes:
            index._stop_builder()
        self.closed = True
