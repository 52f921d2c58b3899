"""Journal: the port through which a shard makes its namespaces durable, in core vocabulary.

A ``LocalShard`` receives a ``Journal`` in its constructor and never sees what is behind it:
``MemoryJournal`` (nothing to write) or the on-disk one of ``toolkit.storage.disk``. The
shard logs every write as an ``Op`` — a small frozen union, resolved before it is logged (an
update is the ``Upsert`` of the record it produced, a delete by filter the ``Delete`` of the
ids it matched) — so ``apply_op`` replays a log without reading any state:

    Upsert(batch)   ns.upsert(batch, lsn)
    Delete(ids)     ns.delete(ids, lsn)
    DeleteAll()     ns.delete_all(lsn)
    Noop()          an LSN that changed nothing (an update of an unknown id)

Per namespace the port is a ``NamespaceJournal``: ``append`` under the shard's write lock
(cheap: a buffered write), ``sync`` after the lock is released (the fsync; group commit),
``checkpoint`` of a published slab set outside every lock the readers or writers need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Union

import numpy as np

from .errors import InternalError
from .index_config import IndexConfig
from .lsn import Lsn
from .records import RecordBatch
from .segment import Slab

if TYPE_CHECKING:
    from .engine import SlabBuilder
    from .namespace import Namespace


# -- operations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Upsert:
    """Insert or overwrite whole records (the last occurrence of a repeated id wins)."""

    batch: RecordBatch


@dataclass(frozen=True)
class Delete:
    """Delete these ids (absent ones are ignored)."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class DeleteAll:
    """Drop every record; the namespace and its LSN clock stay."""


@dataclass(frozen=True)
class Noop:
    """An accepted write that changes no record (it still takes an LSN)."""


Op = Union[Upsert, Delete, DeleteAll, Noop]


def apply_op(ns: Namespace, lsn: Lsn, op: Op) -> None:
    """Apply one logged write to a namespace (inline, from the eventual-mode builder, or in replay)."""
    match op:
        case Upsert(batch):
            ns.upsert(batch, lsn)
        case Delete(ids):
            ns.delete(ids, lsn)
        case DeleteAll():
            ns.delete_all(lsn)
        case Noop():
            ns.apply_noop(lsn)
        case _:
            raise InternalError(f"unknown logged operation {op!r}")


# -- what crosses the port -----------------------------------------------------------------
class Ticket(Protocol):
    """What ``sync`` waits on (opaque to the shard)."""


@dataclass(frozen=True)
class Checkpoint:
    """A namespace's slab set as a writer published it, for the journal to persist.

    ``masks`` are the slabs' live masks at that moment (masks are copy-on-write, so these
    arrays never change); ``applied_lsn`` is the LSN the slabs reflect completely, or None
    when the memtable still holds live rows (then the log must keep its records).
    ``seq`` orders the checkpoints of one namespace: an older one is never written after a newer one.
    """

    namespace: str
    seq: int
    metric: str
    slabs: tuple[Slab, ...]
    masks: tuple[np.ndarray, ...]
    applied_lsn: Lsn | None
    config: IndexConfig


@dataclass
class Recovered:
    """One namespace as storage holds it: its slabs (masks applied), checkpoint LSN and log tail."""

    name: str
    journal: NamespaceJournal
    slabs: list[Slab]
    checkpoint_lsn: Lsn
    tail: list[tuple[Lsn, Op]]


class NamespaceJournal(Protocol):
    """The durable half of one namespace."""

    def append(self, lsn: Lsn, op: Op) -> Ticket | None:
        """Log one validated write; return what ``sync`` waits on (raise to refuse the write)."""

    def sync(self, ticket: Ticket | None) -> None:
        """Return once the write of ``ticket`` is durable."""

    def checkpoint(self, state: Checkpoint) -> None:
        """Persist a published slab set (never called with a lock a reader needs)."""

    def drop(self) -> None:
        """Forget the namespace's storage (it was deleted)."""


class Journal(Protocol):
    """The durable half of one index: a ``NamespaceJournal`` per namespace."""

    def check_writable(self) -> None:
        """Raise UnavailableError if nothing may be written (closed or read-only)."""

    def open_namespace(self, name: str) -> NamespaceJournal:
        """Make storage for a new namespace (raise to refuse the write that creates it)."""

    def recover(self, builders: Mapping[str, type[SlabBuilder]], tiers: int) -> list[Recovered]:
        """Return every stored namespace, to be restored and replayed by the shard."""

    def config_changed(self, config: IndexConfig) -> None:
        """Note the index's new config (a rebuild with another engine); persist it by the next checkpoint."""

    def close(self) -> None:
        """Close the logs (the shard stopped writing)."""


@dataclass
class StoredIndex:
    """An index as storage holds it, to be opened by the client: config, meta and its journal."""

    config: IndexConfig
    meta: dict[str, Any]
    journal: Journal


# -- the in-memory implementation ----------------------------------------------------------
class MemoryNamespaceJournal:
    """The journal of an in-memory namespace: nothing to write."""

    def append(self, lsn: Lsn, op: Op) -> Ticket | None:
        return None

    def sync(self, ticket: Ticket | None) -> None:
        return None

    def checkpoint(self, state: Checkpoint) -> None:
        return None

    def drop(self) -> None:
        return None


class MemoryJournal:
    """The journal of an in-memory index."""

    def __init__(self) -> None:
        self.closed = False

    def check_writable(self) -> None:
        if self.closed:
            from .errors import UnavailableError

            raise UnavailableError("this client is closed")

    def open_namespace(self, name: str) -> NamespaceJournal:
        return MemoryNamespaceJournal()

    def recover(self, builders: Mapping[str, type[SlabBuilder]], tiers: int) -> list[Recovered]:
        return []

    def config_changed(self, config: IndexConfig) -> None:
        return None

    def close(self) -> None:
        self.closed = True
