"""Segments: the rows of a namespace, as the growing memtable and immutable slabs.

``Rows`` is an immutable columnar block (ids, vectors, metadata columns, per-row LSN and
billed size). The memtable appends request batches into capacity-doubling arrays; a flush
freezes its live rows into a ``Slab``, whose ANN index is built by the tier's builder.
Liveness is a separate boolean mask per segment: overwrites and deletes clear bits in it,
and no slab is ever rewritten (merges drop the dead rows).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .columns import MetadataColumns
from .engine import SlabBuilder, SlabData, SlabIndex
from .ids import IdColumn
from .lsn_runs import LsnRuns
from .metadata_json import AbsentMetadata, JsonMetadata, concat_metadata
from .records import RecordBatch
from .sparse import SparseRows

_slab_numbers = itertools.count(1)


@dataclass(frozen=True)
class Rows:
    """An immutable block of records in columnar form.

    Compact per row (issue #14): ids as an ``IdColumn`` (sorted bytes + row order + rank, no
    ``str`` objects); a dense-only block's sparse CSR is ``SparseRows.empty`` (one shared zero,
    not n + 1 of them); a block without metadata holds ``AbsentMetadata`` (no per-row pointer);
    LSNs are runs (``LsnRuns``: rows of one request stay contiguous) and billed sizes int32.
    """

    ids: IdColumn
    dense: np.ndarray | None  # (n, d) float32
    sparse: SparseRows
    metadata: np.ndarray | JsonMetadata | AbsentMetadata  # dicts/None, JSON texts (from disk), or none at all
    columns: MetadataColumns
    lsns: np.ndarray | LsnRuns  # runs in memory (one per write request); a slab read from disk maps int64
    sizes: np.ndarray  # int32 billed bytes (int64 if one ever needs it)

    def __len__(self) -> int:
        return self.ids.size

    @property
    def has_sparse(self) -> bool:
        return self.sparse.indices.size > 0

    def slab_data(self) -> SlabData:
        return SlabData(self.dense, self.sparse if self.has_sparse else None)

    def take(self, rows: np.ndarray) -> Rows:
        """Return the given rows, in order (vectorised)."""
        return Rows(
            self.ids.take(rows),
            None if self.dense is None else self.dense[rows],
            self.sparse.take(rows),
            self.metadata[rows],
            self.columns.take(rows),
            self.lsns[rows],
            self.sizes[rows],
        )

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        return Rows(
            IdColumn.concat([p.ids for p in parts]),
            None if parts[0].dense is None else np.concatenate([p.dense for p in parts]),
            SparseRows.concat([p.sparse for p in parts]),
            concat_metadata([p.metadata for p in parts]),
            MetadataColumns.concat([p.columns for p in parts]),
            LsnRuns.concat([p.lsns for p in parts]),
            np.concatenate([p.sizes for p in parts]),
        )

    def id_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (the ids sorted bytewise as ``S`` keys, the row of each): what the slab directory saves."""
        return self.ids.keys, self.ids.order

    def locate(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Return the rows holding any of ``ids`` (every version), found by binary search.

        ``ids``: strings, or an ``S`` array of them (encode once when locating in many blocks).
        """
        return self.ids.locate(ids)


def size_column(sizes: np.ndarray) -> np.ndarray:
    """Return billed sizes as int32 when every one fits (records are far below 2 GiB), else int64."""
    if sizes.size and (sizes.max() >= 2**31 or sizes.min() < 0):
        return np.asarray(sizes, np.int64)
    return np.asarray(sizes, np.int32)


def rows_from_batch(batch: RecordBatch, lsn: int) -> Rows:
    """Turn one validated request into rows that all carry the request's LSN."""
    n = len(batch)
    metadata: np.ndarray | AbsentMetadata
    if any(m is not None for m in batch.metadata):
        metadata = np.empty(n, dtype=object)
        metadata[:] = batch.metadata
    else:
        metadata = AbsentMetadata(n)
    return Rows(
        IdColumn.from_strings(batch.ids),
        batch.dense,
        batch.sparse,
        metadata,
        MetadataColumns.from_records(batch.metadata),
        LsnRuns.constant(n, lsn),
        size_column(batch.sizes),
    )


class Memtable:
    """The mutable head of a namespace: appended rows plus an id → row map for overwrites.

    Rows are kept in chunks whose sizes halve from the oldest to the newest (an append
    merges the newest chunks while the older is no bigger than the newer), so there are
    O(log n) chunks and each row is copied O(log n) times. Chunks and their live masks are
    never changed in place — a kill replaces a chunk's mask with a new array — so a reader's
    snapshot of ``chunks()`` stays valid while writers go on.
    """

    def __init__(self) -> None:
        self._chunks: list[Rows] = []
        self._alive_chunks: list[np.ndarray] = []
        self.row_of: dict[str, int] = {}
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def append(self, rows: Rows, ids: Sequence[str] | None = None) -> None:
        """Add rows (already deduplicated); rows they overwrite must be killed first.

        ``ids``: the rows' ids as strings, when the caller has them (saves decoding them again).
        """
        start = self.size
        self._chunks.append(rows)
        self._alive_chunks.append(np.ones(len(rows), dtype=bool))
        self.row_of.update(zip(rows.ids.tolist() if ids is None else ids, range(start, start + len(rows))))
        self.size += len(rows)
        while len(self._chunks) > 1 and len(self._chunks[-2]) <= len(self._chunks[-1]):
            self._merge_last(2)

    def _merge_last(self, n: int) -> None:
        rows = Rows.concat(self._chunks[-n:])
        alive = np.concatenate(self._alive_chunks[-n:])
        self._chunks[-n:] = [rows]
        self._alive_chunks[-n:] = [alive]

    def kill(self, ids: Sequence[str]) -> tuple[int, int]:
        """Mark the live rows of ``ids`` dead (copy-on-write: each touched chunk gets a new mask).

        Return (rows killed, their billed bytes).
        """
        positions = np.asarray([self.row_of.pop(i) for i in ids if i in self.row_of], dtype=np.int64)
        if not positions.size:
            return 0, 0
        starts = np.cumsum([0] + [len(c) for c in self._chunks[:-1]])
        chunk_of = np.searchsorted(starts, positions, side="right") - 1
        freed = 0
        for chunk in np.unique(chunk_of).tolist():
            rows = positions[chunk_of == chunk] - starts[chunk]
            alive = self._alive_chunks[chunk].copy()
            alive[rows] = False
            self._alive_chunks[chunk] = alive
            freed += int(self._chunks[chunk].sizes[rows].sum())
        return int(positions.size), freed

    def live_sizes(self, ids: Sequence[str]) -> tuple[int, int]:
        """Return (how many of ``ids`` have their live version here, its billed bytes); changes nothing."""
        positions = np.asarray([self.row_of[i] for i in ids if i in self.row_of], dtype=np.int64)
        if not positions.size:
            return 0, 0
        starts = np.cumsum([0] + [len(c) for c in self._chunks[:-1]])
        chunk_of = np.searchsorted(starts, positions, side="right") - 1
        freed = sum(int(self._chunks[c].sizes[positions[chunk_of == c] - starts[c]].sum())
                    for c in np.unique(chunk_of).tolist())
        return int(positions.size), freed

    def chunks(self) -> tuple[tuple[Rows, np.ndarray], ...]:
        """Return (rows, live mask) of every chunk, oldest first (immutable: safe to keep)."""
        return tuple(zip(self._chunks, self._alive_chunks))

    def rows(self) -> Rows:
        """Return every row appended so far as one block (consolidates the chunks; not empty)."""
        if len(self._chunks) > 1:
            self._merge_last(len(self._chunks))
        return self._chunks[0]

    def alive(self) -> np.ndarray:
        self.rows()
        return self._alive_chunks[0] if self._alive_chunks else np.ones(0, bool)

    def live_count(self) -> int:
        return len(self.row_of)


@dataclass(eq=False)  # identity semantics: slabs are compared with ``is``, never by value
class Slab:
    """An immutable block of rows with the ANN index its tier's builder made for it.

    A slab is *pending* (``index is None``) from the moment a flush freezes the memtable
    until its index is built; the router scans a pending slab exactly, so no write is ever
    invisible while a build runs in the background.
    """

    rows: Rows = field(repr=False)
    builder: SlabBuilder | None
    index: SlabIndex | None = field(repr=False)
    tier: int | None
    level: int
    build_seconds: float
    alive: np.ndarray = field(repr=False)
    query_params: Mapping[str, Any] = field(default_factory=dict)
    number: int = field(default_factory=lambda: next(_slab_numbers))
    created_at: float = field(default_factory=time.time)
    claimed: bool = False  # a merge job is rebuilding this slab; others leave it alone
    error: str | None = None  # why a job on this slab failed (unbuilt: exact-scanned; built: not merged again)
    _fully_alive: bool | None = field(default=None, init=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "alive":  # a new live mask: forget what was known about the old one
            object.__setattr__(self, "_fully_alive", None)
        object.__setattr__(self, name, value)

    @classmethod
    def build(
        cls,
        rows: Rows,
        builder: SlabBuilder,
        metric: str,
        tier: int,
        level: int,
        query_params: Mapping[str, Any] | None = None,
    ) -> Slab:
        """Build the builder's index over ``rows``; every row starts alive."""
        started = time.perf_counter()
        index = builder.build(rows.slab_data(), metric)
        seconds = time.perf_counter() - started
        rows.ids.rank  # row → id map derived here, off the write lock, not in the first query that reads it
        return cls(rows, builder, index, tier, level, seconds, np.ones(len(rows), bool), dict(query_params or {}))

    @classmethod
    def pending(cls, rows: Rows, level: int = 0) -> Slab:
        """Return a slab whose index is still to be built (searched by exact scan meanwhile)."""
        return cls(rows, None, None, None, level, 0.0, np.ones(len(rows), bool))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def state(self) -> str:
        """"pending" → "building" → "ready" (→ "merging" while a merge reads it); "failed" if its build failed."""
        if self.index is not None:
            return "merging" if self.claimed else "ready"
        if self.error is not None:
            return "building" if self.claimed else "failed"
        return "building" if self.claimed else "pending"

    def live_rows(self) -> int:
        return int(np.count_nonzero(self.alive))

    def kill(self, ids: Sequence[str] | np.ndarray) -> tuple[int, int]:
        """Mark the live rows of ``ids`` dead (copy-on-write: a new mask, so snapshots keep theirs).

        Return (rows killed, their billed bytes): rows already dead are not counted.
        """
        rows = self.rows.locate(ids)
        rows = rows[self.alive[rows]]
        if not rows.size:
            return 0, 0
        alive = self.alive.copy()
        alive[rows] = False
        self.alive = alive
        self._fully_alive = False
        return int(rows.size), int(self.rows.sizes[rows].sum())

    def live_sizes(self, ids: Sequence[str] | np.ndarray) -> tuple[int, int]:
        """Return (how many of ``ids`` have a live row here, their billed bytes); changes nothing."""
        rows = self.rows.locate(ids)
        rows = rows[self.alive[rows]]
        return int(rows.size), int(self.rows.sizes[rows].sum())

    def fully_alive(self) -> bool:
        """Return True when no row is dead (cached: an unfiltered query then skips the mask)."""
        if self._fully_alive is None:
            self._fully_alive = bool(self.alive.all())
        return self._fully_alive

    def describe(self) -> dict[str, Any]:
        lsns = self.rows.lsns
        vector_bytes = 0 if self.rows.dense is None else self.rows.dense.nbytes
        return {
            "slab": self.number,
            "builder": None if self.builder is None else self.builder.name,
            "params": None if self.builder is None else repr(self.builder),
            "query_params": dict(self.query_params),
            "state": self.state,
            "tier": self.tier,
            "level": self.level,
            "rows": len(self),
            "live_rows": self.live_rows(),
            "min_lsn": int(lsns.min()) if lsns.size else None,
            "max_lsn": int(lsns.max()) if lsns.size else None,
            "build_seconds": self.build_seconds,
            "index_bytes": 0 if self.index is None else int(self.index.nbytes),
            "vector_bytes": int(vector_bytes + self.rows.sparse.values.nbytes + self.rows.sparse.indices.nbytes),
        }
