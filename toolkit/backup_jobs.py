"""Backups and restores as client features: capture through the shard, restore through its funnel.

A backup is a consistent snapshot of an index: every namespace's view taken at one moment
(under the shard's write lock, which costs only the capture: rows are immutable and live
masks copy-on-write), turned into one block of live rows per namespace with no lock held,
then saved by the storage's ``BackupStore``. Restoring commits the rows to the new index's
shard as request-sized ``Upsert``s, so they are logged, durable and indexed like any write.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .index_config import IndexConfig
from .journal import Upsert
from .records import RecordBatch
from .segment import Rows
from .shard import LocalShard
from .storage.backups import Snapshot
from .storage.config import config_to_dict

RESTORE_BATCH = 1000


def capture(config: IndexConfig, shard: LocalShard) -> Snapshot:
    """Return the live rows of every non-empty namespace of a shard, all as of one moment."""
    views = shard.views(consistent=True)
    snapshot = Snapshot(config_to_dict(config))
    for name, view in sorted(views.items()):
        live = [rows.take(np.flatnonzero(alive)) for rows, alive, _ in view.segments() if alive.any()]
        if live:
            snapshot.namespaces.append((name, Rows.concat(live), int(view.max_indexed_lsn)))
    return snapshot


def batches_of(rows: Rows, size: int = RESTORE_BATCH) -> Iterator[RecordBatch]:
    """Cut rows into request-sized, already-validated batches."""
    for start in range(0, len(rows), size):
        chosen = np.arange(start, min(start + size, len(rows)))
        yield RecordBatch(
            rows.ids.strings(chosen),
            None if rows.dense is None else np.ascontiguousarray(rows.dense[chosen]),
            rows.sparse.take(chosen),
            rows.metadata[chosen].tolist(),
            np.asarray(rows.sizes[chosen], np.int64),
        )


def restore(snapshot: Snapshot, shard: LocalShard) -> None:
    """Write a snapshot's rows into a (new, empty) shard through its commit funnel."""
    for ns_name, rows, _ in snapshot.namespaces:
        for batch in batches_of(rows):
            shard.sync(shard.commit(ns_name, Upsert(batch)))
