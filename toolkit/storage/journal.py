"""Journal: the seam between the data plane and the request log.

``Index`` calls ``journal.append(ns, lsn, op, payload)`` after it validated a write and before
it applies it, and ``journal.sync(ticket)`` after releasing its lock (the write is durable
when that returns). An in-memory client uses ``NULL_JOURNAL``, whose methods do nothing, so
its write path costs two no-op calls more than before. Writes are logged resolved — an
update is the upsert of the record it produced, a delete by filter the ids it matched — so
``apply_op`` replays a log without reading any state:

    upsert      RecordBatch      ns.upsert(batch, lsn)
    delete      list of ids      ns.delete(ids, lsn)
    delete_all  None             ns.delete_all(lsn)
    noop        None             an LSN that changed nothing (update of an unknown id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InternalError
from ..lsn import Lsn

if TYPE_CHECKING:
    from ..namespace import Namespace


class Journal(Protocol):
    """Where an index logs its writes (one per index)."""

    def attach(self, ns: Namespace) -> None:
        """Prepare storage for a namespace the index just created (raise to refuse the write)."""

    def append(self, ns: Namespace, lsn: Lsn, op: str, payload: Any) -> Any:
        """Log one validated write; return a ticket for ``sync`` (raise to refuse the write)."""

    def sync(self, ticket: Any) -> None:
        """Return once the write of ``ticket`` is durable."""

    def drop_namespace(self, ns: Namespace) -> None:
        """Forget a deleted namespace's storage."""


class NullJournal:
    """The journal of an in-memory index: nothing to write."""

    def attach(self, ns: Namespace) -> None:
        return None

    def append(self, ns: Namespace, lsn: Lsn, op: str, payload: Any) -> None:
        return None

    def sync(self, ticket: Any) -> None:
        return None

    def drop_namespace(self, ns: Namespace) -> None:
        return None


NULL_JOURNAL = NullJournal()


def apply_op(ns: Namespace, lsn: Lsn, op: str, payload: Any) -> None:
    """Apply one logged write to a namespace (inline, from the index builder, or in replay)."""
    if op == "upsert":
        ns.upsert(payload, lsn)
    elif op == "delete":
        ns.delete(payload, lsn)
    elif op == "delete_all":
        ns.delete_all(lsn)
    elif op == "noop":
        ns.apply_noop(lsn)
    else:
        raise InternalError(f"unknown logged operation {op!r}")
