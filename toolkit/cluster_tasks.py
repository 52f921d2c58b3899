"""What runs on the Dask workers of a cluster index: build, persist, load, search and read slabs.

Each function is a Dask task. A slab lives on a worker as the value of a task (its future is
held by the coordinator's ``DistributedShard``); tasks that take slab futures run on the
worker holding them, so vectors and engine indexes never travel back to the coordinator —
only ranked (key, id, score, position, row) tuples and, on a fetch, the rows asked for.
Segments are named by their position in the list the coordinator sent (slab numbers are
the coordinator's, not the worker's). A merge moves its sources' live rows between workers
(``take_rows``), never an engine index (some, like Annoy's, cannot be pickled).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .engine import SlabBuilder
from .filters import Filter
from .lsn import Lsn
from .scoring import Query
from .segment import Rows, Slab
from .view import Segment, View

def take_rows(slab: Slab, chosen: np.ndarray) -> Rows:
    """Return the ``chosen`` rows of a held slab (a merge source; rows travel between workers, indexes never do)."""
    return slab.rows if chosen.size == len(slab) else slab.rows.take(chosen)


def build_slab(parts: Sequence[Rows], taken: Sequence[np.ndarray | None], builder: SlabBuilder, metric: str,
               tier: int, level: int, query_params: Mapping[str, Any]) -> Slab:
    """Copy the ``taken`` rows of ``parts`` (None: all) into one block and build ``builder``'s index over it here."""
    blocks = [part if chosen is None or chosen.size == len(part) else part.take(chosen)
              for part, chosen in zip(parts, taken)]
    rows = blocks[0] if len(blocks) == 1 else Rows.concat(blocks)
    return Slab.build(rows, builder, metric, tier, level, query_params)


def finish_slab(slab: Slab, parent: str | None, name: str, metric: str, created_at: float
                ) -> tuple[int, float, int | None]:
    """Return (index bytes, build seconds, CRC) of a held slab, first writing it as ``parent/name`` (persistent)."""
    crc = None
    if parent is not None:
        from .storage.slabfile import slab_info, write_rows_dir

        info = slab_info(dataclasses.replace(slab, created_at=created_at), metric)
        crc = write_rows_dir(Path(parent), name, slab.rows, info, slab.index)
    return (0 if slab.index is None else int(slab.index.nbytes)), float(slab.build_seconds), crc


def load_slab(directory: str, crc: int, builders: Mapping[str, type[SlabBuilder]], tiers: int) -> Slab:
    """Load a slab from its durable files here (after a worker died, or when an index is reopened)."""
    from .storage.slabfile import load_slab as load

    return load(Path(directory), crc, builders, tiers)


def take_vectors(slabs: Sequence[Slab], positions: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """Return, per held slab, the dense vectors of the rows at ``positions`` (None: no dense vectors)."""
    out: list[np.ndarray | None] = []
    for slab, rows in zip(slabs, positions):
        dense = slab.rows.dense
        out.append(None if dense is None else np.ascontiguousarray(dense[rows]))
    return out


def _worker_view(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                 query_params: Mapping[str, Any]) -> tuple[View, dict[int, int]]:
    """Return a view of the held ``slabs`` under the live masks the query brought, and id(rows) -> position."""
    segments = []
    position: dict[int, int] = {}
    for i, (slab, packed) in enumerate(zip(slabs, masks)):
        alive = np.ones(len(slab), bool) if packed is None else np.unpackbits(packed, count=len(slab)).astype(bool)
        held = dataclasses.replace(slab, alive=alive)  # the held copy keeps its rows and index, not its mask
        segments.append(Segment(held.rows, alive, held))
        position[id(held.rows)] = i
    names = frozenset(query_params)  # checked against the whole engine on the coordinator already
    view = View("", metric=metric, sparse_index=sparse_index, segments=tuple(segments), live_count=0,
                total_bytes=0, max_indexed_lsn=Lsn(0), query_param_names=lambda: names)
    return view, position


def search_slabs(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                 query: Query, k: int, compiled: Filter | None, negation_requires_field: bool, strategy: str,
                 query_params: dict[str, Any]) -> tuple[list[tuple[float, str, float, int, int]], int, int]:
    """Return the best ``k`` of the held slabs as (key, id, score, position, row), and the work done."""
    view, position = _worker_view(slabs, masks, metric, sparse_index, query_params)
    found, stats = view.search(query, k, compiled, negation_requires_field=negation_requires_field,
                               strategy=strategy, query_params=query_params)
    return ([(c.key, c.id, c.score, position[id(c.rows)], c.row) for c in found], stats.distance_computations,
            stats.bytes_scanned)


def search_slabs_batch(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                       queries: np.ndarray, k: int, compiled: Filter | None, negation_requires_field: bool,
                       strategy: str, query_params: dict[str, Any]) -> tuple[Any, ...]:
    """Return ``search_slabs`` of a batch as flat arrays (segments as positions)."""
    view, position = _worker_view(slabs, masks, metric, sparse_index, query_params)
    hits = view.search_batch(queries, k, compiled, negation_requires_field=negation_requires_field,
                             strategy=strategy, query_params=query_params)
    positions = np.array([position[id(rows)] for rows in hits.segments], dtype=np.int64)
    return (np.asarray(hits.bounds, np.int64), np.asarray(hits.ids, dtype=object), np.asarray(hits.scores),
            np.asarray(hits.keys), positions[hits.seg] if hits.seg.size else hits.seg, np.asarray(hits.row),
            np.asarray(hits.distance_computations, np.int64), np.asarray(hits.bytes_scanned, np.int64))
