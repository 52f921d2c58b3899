"""Namespace: one partition's LSN clock, live-version map, memtable and slabs, and its router.

Writes get the next LSN, then land in the memtable; rows they shadow are marked dead in
whatever segment holds them. A full memtable is flushed into a slab built by the tier's
builder, and ``merge_fanout`` slabs of one level merge into one bigger slab. Reads search
the memtable and every slab under (live ∧ filter) masks and merge the candidates in the
metric's order, breaking ties by id bytewise.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .engine import SlabBuilder
from .engine_config import EngineConfig
from .filters import Filter
from .lsn import Lsn
from .scoring import Query, SearchResult, exact_search, scores_to_keys
from .segment import Memtable, Rows, Slab, rows_from_batch
from .records import RecordBatch

# Below this share of allowed rows an approximate slab is searched by exact scan of the
# allowed rows (pre-filter); above it, by ANN with over-fetch (search_spec §1.7).
PREFILTER_MAX_FRACTION = 0.05
FILTER_STRATEGIES = ("auto", "prefilter", "ann")


@dataclass(frozen=True)
class Candidate:
    """One search result before the response is built."""

    id: str
    score: float
    key: float
    rows: Rows
    row: int


@dataclass
class SearchStats:
    distance_computations: int = 0
    bytes_scanned: int = 0


class Namespace:
    """All state of one namespace of one index."""

    def __init__(
        self,
        name: str,
        *,
        metric: str,
        dimension: int | None,
        sparse_index: bool,
        engine: EngineConfig,
        make_builder: Callable[[int], SlabBuilder],
    ) -> None:
        self.name = name
        self.metric = metric
        self.dimension = dimension
        self.sparse_index = sparse_index
        self.engine = engine
        self._make_builder = make_builder
        self.last_lsn = Lsn(0)
        self.max_indexed_lsn = Lsn(0)
        self.live: dict[str, int] = {}  # id -> billed bytes of its live version
        self.total_bytes = 0
        self.memtable = Memtable(dimension)
        self.slabs: list[Slab] = []
        self._sorted_ids: list[str] | None = None

    # -- LSN -------------------------------------------------------------------------------
    def next_lsn(self) -> Lsn:
        """Assign the next LSN to an accepted write request."""
        self.last_lsn = Lsn(self.last_lsn + 1)
        return self.last_lsn

    def apply_noop(self, lsn: Lsn) -> None:
        """Apply an accepted write that changes no record (an update of an unknown id)."""
        self._applied(lsn)

    def _applied(self, lsn: Lsn) -> None:
        self.max_indexed_lsn = max(self.max_indexed_lsn, lsn)
        self._sorted_ids = None

    # -- writes ----------------------------------------------------------------------------
    def existing_bytes(self, ids: Sequence[str]) -> int:
        """Return the billed bytes of the live records among ``ids`` (each id counted once)."""
        return sum(self.live[i] for i in set(ids) if i in self.live)

    def upsert(self, batch: RecordBatch, lsn: Lsn) -> None:
        """Apply a validated upsert: the last occurrence of a repeated id wins."""
        last = {record_id: i for i, record_id in enumerate(batch.ids)}
        rows = rows_from_batch(batch, lsn)
        if len(last) < len(batch.ids):
            rows = rows.take(np.fromiter(last.values(), dtype=np.int64, count=len(last)))
        ids = rows.ids.tolist()
        self._kill([i for i in ids if i in self.live])
        self.memtable.append(rows)
        self.live.update(zip(ids, rows.sizes.tolist()))
        self.total_bytes += int(rows.sizes.sum())
        self._applied(lsn)
        if len(self.memtable) >= self.engine.memtable_max_records:
            self.flush()

    def delete(self, ids: Sequence[str], lsn: Lsn) -> int:
        """Delete ``ids``; return the billed bytes of the records that existed."""
        present = [i for i in dict.fromkeys(ids) if i in self.live]
        deleted = sum(self.live[i] for i in present)
        self._kill(present)
        self._applied(lsn)
        return deleted

    def delete_all(self, lsn: Lsn) -> None:
        """Drop every record; the namespace itself (and its LSN clock) stays."""
        self.live.clear()
        self.total_bytes = 0
        self.memtable = Memtable(self.dimension)
        self.slabs = []
        self._applied(lsn)

    def _kill(self, ids: list[str]) -> None:
        """Mark every stored row of ``ids`` dead and forget their live versions."""
        if not ids:
            return
        for record_id in ids:
            self.total_bytes -= self.live.pop(record_id, 0)
        self.memtable.kill(ids)
        for slab in self.slabs:
            slab.kill(ids)

    # -- flush and merge -------------------------------------------------------------------
    def flush(self) -> Slab | None:
        """Freeze the memtable's live rows into a slab; return it (None if nothing was live)."""
        if not len(self.memtable):
            return None
        rows = self.memtable.rows().take(np.flatnonzero(self.memtable.alive()))
        self.memtable = Memtable(self.dimension)
        if not len(rows):
            return None
        slab = self._build(rows, level=0)
        self.slabs.append(slab)
        self.merge()
        return slab

    def _build(self, rows: Rows, level: int) -> Slab:
        tier = self.engine.tier_for(len(rows))
        return Slab.build(rows, self._make_builder(tier), self.metric, tier, level)

    def merge(self, *, everything: bool = False) -> list[Slab]:
        """Merge slabs: ``merge_fanout`` slabs of one level, or all slabs when ``everything``."""
        made = []
        while True:
            group = self._merge_group(everything)
            if not group:
                return made
            live = [s.rows.take(np.flatnonzero(s.alive)) for s in group]
            rows = Rows.concat(live)
            survivors = [s for s in self.slabs if all(s is not g for g in group)]
            if len(rows):
                merged = self._build(rows, level=max(s.level for s in group) + 1)
                survivors.append(merged)
                made.append(merged)
            self.slabs = survivors
            if everything:
                return made

    def _merge_group(self, everything: bool) -> list[Slab]:
        if everything:
            return list(self.slabs) if len(self.slabs) > 1 or any(s.live_rows() < len(s) for s in self.slabs) else []
        by_level: dict[int, list[Slab]] = {}
        for slab in self.slabs:
            by_level.setdefault(slab.level, []).append(slab)
        for level in sorted(by_level):
            if len(by_level[level]) >= self.engine.merge_fanout:
                return by_level[level][: self.engine.merge_fanout]
        return []

    # -- reads -----------------------------------------------------------------------------
    def segments(self) -> list[tuple[Rows, np.ndarray, Slab | None]]:
        """Return (rows, live mask, slab or None for the memtable) of every segment."""
        out: list[tuple[Rows, np.ndarray, Slab | None]] = [(s.rows, s.alive, s) for s in self.slabs]
        if len(self.memtable):
            out.append((self.memtable.rows(), self.memtable.alive(), None))
        return out

    def find(self, ids: Sequence[str]) -> dict[str, tuple[Rows, int]]:
        """Return the live row of each existing id."""
        wanted = [i for i in dict.fromkeys(ids) if i in self.live]
        found: dict[str, tuple[Rows, int]] = {}
        if not wanted:
            return found
        for rows, alive, _ in self.segments():
            for row in rows.locate(wanted):
                if alive[row]:
                    found[rows.ids[row]] = (rows, int(row))
        return found

    def matching_ids(self, compiled: Filter, negation_requires_field: bool) -> list[str]:
        """Return the ids of live records that match a filter."""
        out: list[str] = []
        for rows, alive, _ in self.segments():
            mask = alive & compiled.mask(rows.columns, negation_requires_field=negation_requires_field)
            out.extend(rows.ids[mask].tolist())
        return out

    def sorted_ids(self) -> list[str]:
        """Return live ids sorted bytewise (cached until the next write)."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.live)  # ASCII ids: str order is byte order
        return self._sorted_ids

    def list_page(self, prefix: str, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Return up to ``limit`` ids with ``prefix`` strictly after ``after``, and whether more remain."""
        ids = self.sorted_ids()
        first = bisect_left(ids, prefix)
        start = first if after is None else max(first, bisect_right(ids, after))
        end = _prefix_end(ids, prefix, first) if prefix else len(ids)
        page = ids[start : min(end, start + limit)]
        return page, start + limit < end

    def search(
        self,
        query: Query,
        k: int,
        compiled: Filter | None,
        *,
        negation_requires_field: bool,
        strategy: str = "auto",
        query_params: dict[str, Any] | None = None,
    ) -> tuple[list[Candidate], SearchStats]:
        """Return the best ``k`` live, matching records of the namespace, best first."""
        stats = SearchStats()
        found: list[Candidate] = []
        for rows, alive, slab in self.segments():
            allowed = alive
            if compiled is not None:
                allowed = alive & compiled.mask(rows.columns, negation_requires_field=negation_requires_field)
            elif alive.all():
                allowed = None
            if allowed is not None and not allowed.any():
                continue
            result = self._search_segment(rows, slab, query, k, allowed, strategy, query_params or {})
            if self.sparse_index:  # a sparse index discards zero-score matches (D:6461)
                nonzero = result.scores != 0
                result = SearchResult(result.rows[nonzero], result.scores[nonzero],
                                      result.distance_computations, result.bytes_scanned)
            stats.distance_computations += result.distance_computations
            stats.bytes_scanned += result.bytes_scanned
            keys = scores_to_keys(result.scores, self.metric)
            found.extend(
                Candidate(rows.ids[r], float(s), float(key), rows, int(r))
                for r, s, key in zip(result.rows, result.scores, keys)
            )
        found.sort(key=lambda c: (c.key, c.id))
        return found[:k], stats

    def _search_segment(
        self,
        rows: Rows,
        slab: Slab | None,
        query: Query,
        k: int,
        allowed: np.ndarray | None,
        strategy: str,
        query_params: dict[str, Any],
    ) -> SearchResult:
        sparse = rows.sparse if rows.has_sparse else None
        exact = lambda: exact_search(  # noqa: E731 - the fallback every path shares
            query, self.metric, k, rows.dense, sparse, allowed, drop_zero=self.sparse_index
        )
        if slab is None:
            return exact()
        builder = slab.builder
        params = {**self._tier_query_params(slab.tier), **query_params}
        if query.dense is not None and query.sparse is not None and "hybrid" not in builder.vector_types:
            return exact()
        if allowed is None or builder.native_filtering:
            return slab.index.search(query, k, allowed, **params)
        n_allowed = int(np.count_nonzero(allowed))
        if strategy == "prefilter" or (strategy == "auto" and n_allowed <= PREFILTER_MAX_FRACTION * len(rows)):
            return exact()
        return self._overfetch(slab, query, k, allowed, n_allowed, params, exact)

    def _overfetch(
        self,
        slab: Slab,
        query: Query,
        k: int,
        allowed: np.ndarray,
        n_allowed: int,
        params: dict[str, Any],
        exact: Callable[[], SearchResult],
    ) -> SearchResult:
        """Search an approximate slab for more than k, keep allowed rows, widen until enough."""
        want = min(k, n_allowed)
        fetch = min(len(slab), max(2 * k, math.ceil(k * len(slab) / n_allowed * 1.5)))
        work = 0
        while True:
            result = slab.index.search(query, fetch, None, **params)
            work += result.distance_computations
            keep = allowed[result.rows]
            if np.count_nonzero(keep) >= want or fetch >= len(slab):
                if np.count_nonzero(keep) < want:  # the ANN graph missed allowed rows: be exact
                    fallback = exact()
                    return SearchResult(fallback.rows, fallback.scores, work + fallback.distance_computations,
                                        fallback.bytes_scanned)
                return SearchResult(result.rows[keep], result.scores[keep], work, result.bytes_scanned)
            fetch = min(len(slab), fetch * 2)

    def _tier_query_params(self, tier: int) -> dict[str, Any]:
        return dict(self.engine.tiers[tier].query)

    def live_count(self) -> int:
        return len(self.live)


def _prefix_end(ids: list[str], prefix: str, start: int) -> int:
    """Return the end of the run of ids starting with ``prefix`` (ids[start:] begins the run)."""
    lo, hi = start, len(ids)
    while lo < hi:  # binary search for the first id past the prefix run
        mid = (lo + hi) // 2
        if ids[mid].startswith(prefix) or ids[mid] < prefix:
            lo = mid + 1
        else:
            hi = mid
    return lo
