"""View: an immutable snapshot of one namespace, and the read path that works on it.

A writer publishes a new ``View`` after every change (namespace.py); a reader takes the
current one with a plain attribute read and never waits for a writer. The segments it holds
— slabs and memtable chunks, each with the live mask it had when published — never change
(rows are immutable and masks copy-on-write), so a search runs with no lock held.

Reads search every segment under (live ∧ filter) masks — per approximate slab by pre-filter
scan or by ANN with over-fetch — and merge the candidates in the metric's order, breaking
ties by id bytewise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from .errors import InvalidArgumentError
from .filters import Filter
from .ids import IdColumn
from .lsn import Lsn
from .scoring import Query, SearchResult, exact_search, exact_search_batch, scores_to_keys
from .segment import Rows, Slab

# Below this share of allowed rows an approximate slab is searched by exact scan of the
# allowed rows (pre-filter); above it, by ANN with over-fetch (search_spec §1.7).
PREFILTER_MAX_FRACTION = 0.05
# Scanning this many rows exactly costs less than one ANN call's overhead, whatever the share.
PREFILTER_MAX_ROWS = 1024
# The first ANN fetch of a filtered search is OVERFETCH times k / (share of allowed rows); it
# doubles while it misses, up to OVERFETCH_MAX_SHARE of the slab, then the allowed rows are scanned.
OVERFETCH = 2.0
OVERFETCH_MAX_SHARE = 0.25
FILTER_STRATEGIES = ("auto", "prefilter", "ann")
_RESPONSE_ORDER = itemgetter(0, 1)  # (key, id): the metric's order, ties by id
_ROWS, _SCORES = attrgetter("rows"), attrgetter("scores")
_WORK, _SCANNED = attrgetter("distance_computations"), attrgetter("bytes_scanned")


def prefer_prefilter(n_allowed: int, n_rows: int) -> bool:
    """Return True when the "auto" strategy scans the allowed rows exactly instead of using the ANN."""
    return n_allowed <= PREFILTER_MAX_ROWS or n_allowed <= PREFILTER_MAX_FRACTION * n_rows


class Candidate(NamedTuple):
    """One search result before the response is built (a tuple: cheap to make per match)."""

    key: float  # ranking key, smaller is better; (key, id) is the response order
    id: str
    score: float
    rows: Rows
    row: int


@dataclass
class SearchStats:
    distance_computations: int = 0
    bytes_scanned: int = 0


@dataclass
class BatchHits:
    """The matches of a batch of queries, flat: query i's are ``ids[bounds[i]:bounds[i + 1]]``,
    best first, with their ``scores`` and where each lives (``segments[seg[j]]``, row ``row[j]``)."""

    bounds: list[int]
    ids: list[str]
    scores: list[float]
    keys: np.ndarray
    seg: np.ndarray
    row: np.ndarray
    segments: list[Rows]
    distance_computations: list[int]  # per query
    bytes_scanned: list[int]  # per query
    total: SearchStats

    def candidates(self, i: int) -> list[Candidate]:
        """Return query i's matches as ``search`` returns them."""
        a, b = self.bounds[i], self.bounds[i + 1]
        return [Candidate(float(self.keys[j]), self.ids[j], self.scores[j], self.segments[int(self.seg[j])],
                          int(self.row[j])) for j in range(a, b)]



class Segment(NamedTuple):
    """One searchable block of a view: rows, their live mask then, and the slab (None: memtable)."""

    rows: Rows
    alive: np.ndarray
    slab: Slab | None


class View:
    """What reads of one namespace see: its segments, counts and LSN at one moment."""

    def __init__(
        self,
        name: str,
        *,
        metric: str,
        sparse_index: bool,
        segments: tuple[Segment, ...],
        live_count: int,
        total_bytes: int,
        max_indexed_lsn: Lsn,
        query_param_names: Callable[[], frozenset[str]],
    ) -> None:
        self.name = name
        self.metric = metric
        self.sparse_index = sparse_index
        self._segments = segments
        self._live_count = live_count
        self.total_bytes = total_bytes
        self.max_indexed_lsn = max_indexed_lsn
        self._query_param_names = query_param_names

    def live_count(self) -> int:
        return self._live_count

    def with_segments(self, segments: tuple[Segment, ...]) -> View:
        """Return this view restricted to ``segments`` (same name, metric, counts, LSN and query params)."""
        return View(self.name, metric=self.metric, sparse_index=self.sparse_index, segments=segments,
                    live_count=self._live_count, total_bytes=self.total_bytes, max_indexed_lsn=self.max_indexed_lsn,
                    query_param_names=self._query_param_names)

    def segments(self) -> tuple[Segment, ...]:
        """Return (rows, live mask, slab or None for the memtable) of every segment."""
        return self._segments

    def find(self, ids: Sequence[str]) -> dict[str, tuple[Rows, int]]:
        """Return the live row of each existing id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, tuple[Rows, int]] = {}
        if not wanted or not self._live_count:
            return found
        keys = np.asarray(wanted, dtype="S")  # encoded once for every segment
        for rows, alive, _ in self._segments:
            hits = rows.locate(keys)
            hits = hits[alive[hits]]
            if hits.size:
                found.update(zip(rows.ids.strings(hits), zip(repeat(rows), hits.tolist())))
        return found

    def matching_ids(self, compiled: Filter, negation_requires_field: bool) -> list[str]:
        """Return the ids of live records that match a filter."""
        out: list[str] = []
        for rows, alive, _ in self._segments:
            mask = alive & compiled.mask(rows.columns, negation_requires_field=negation_requires_field)
            out.extend(rows.ids.strings(np.flatnonzero(mask)))
        return out

    def list_page(self, prefix: str, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Return up to ``limit`` live ids with ``prefix`` strictly after ``after`` (bytewise order),
        and whether more remain.

        Each segment's ids are sorted already (``IdColumn.keys``): the range of the prefix and
        ``after`` is two binary searches, and only its first ``limit + 1`` live ids per segment
        are read and merged; strings are made for the page only.
        """
        if limit <= 0:
            return [], False
        if not prefix.isascii() or "\0" in prefix:  # no id (ASCII, no NUL) starts with it
            return [], False
        low = prefix.encode("ascii")
        high = low + b"\x80" if prefix else None  # ASCII ids with the prefix sort below prefix + 0x80
        # str order of the ids is their UTF-8 byte order, so ``after`` compares as its UTF-8 bytes
        past = None if after is None else after.encode("utf-8", "surrogatepass")
        return self._sorted_page(((rows.ids, alive) for rows, alive, _ in self._segments), low, high, past, limit)

    def matching_page(self, compiled: Filter, after: str | None, limit: int, negation_requires_field: bool
                      ) -> tuple[list[str], bool]:
        """``list_page`` of the live records that match a filter (no prefix)."""
        if limit <= 0:
            return [], False
        past = None if after is None else after.encode("utf-8", "surrogatepass")
        blocks = ((rows.ids, alive & compiled.mask(rows.columns, negation_requires_field=negation_requires_field))
                  for rows, alive, _ in self._segments)
        return self._sorted_page(blocks, b"", None, past, limit)

    @staticmethod
    def _sorted_page(blocks: Iterable[tuple[IdColumn, np.ndarray]], low: bytes, high: bytes | None,
                     past: bytes | None, limit: int) -> tuple[list[str], bool]:
        """Return the first ``limit`` allowed ids in [low, high) and > past across ``blocks``, and
        whether more remain (each id is allowed in at most one block: live versions are unique)."""
        found: list[np.ndarray] = []
        for ids, allowed in blocks:
            keys, order = ids.keys, ids.order
            start = int(np.searchsorted(keys, low, side="left")) if low else 0
            if past is not None:
                start = max(start, int(np.searchsorted(keys, past, side="right")))
            end = keys.size if high is None else int(np.searchsorted(keys, high, side="left"))
            need, step = limit + 1, max(2 * (limit + 1), 256)
            while start < end and need > 0:  # widen the window while dead rows fill it
                stop = min(end, start + step)
                hits = np.flatnonzero(allowed[order[start:stop]])[:need]
                if hits.size:
                    found.append(keys[start:stop][hits])
                    need -= int(hits.size)
                start, step = stop, step * 2
        if not found:
            return [], False
        merged = np.sort(np.concatenate(found), kind="stable")
        page = [key.decode("ascii") for key in merged[:limit].tolist()]
        return page, merged.size > limit

    def _searchable_segments(
        self, compiled: Filter | None, negation_requires_field: bool
    ) -> Iterator[tuple[Rows, Slab | None, np.ndarray | None]]:
        """Yield (rows, slab or None for the memtable, allowed mask) of every segment with a candidate.

        The mask is live ∧ filter; None means every row is allowed, so engines skip masking.
        """
        for rows, alive, slab in self._segments:
            allowed: np.ndarray | None = alive
            if compiled is not None:
                allowed = alive & compiled.mask(rows.columns, negation_requires_field=negation_requires_field)
            elif slab.fully_alive() if slab is not None else alive.all():
                allowed = None
            if allowed is None or allowed.any():
                yield rows, slab, allowed

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
        self.check_query_params(query_params or {})
        stats = SearchStats()
        found: list[Candidate] = []
        for rows, slab, allowed in self._searchable_segments(compiled, negation_requires_field):
            result = self._search_segment(rows, slab, query, k, allowed, strategy, query_params or {})
            if self.sparse_index:  # a sparse index discards zero-score matches (D:6461)
                nonzero = result.scores != 0
                result = SearchResult(result.rows[nonzero], result.scores[nonzero],
                                      result.distance_computations, result.bytes_scanned)
            stats.distance_computations += result.distance_computations
            stats.bytes_scanned += result.bytes_scanned
            keys = scores_to_keys(result.scores, self.metric)
            found.extend(map(Candidate, keys.tolist(), rows.ids.strings(result.rows), result.scores.tolist(),
                             repeat(rows), result.rows.tolist()))
        found.sort(key=_RESPONSE_ORDER)
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
        hybrid = query.dense is not None and query.sparse is not None
        if slab is not None and slab.builder is not None and hybrid and "hybrid" not in slab.builder.vector_types:
            return exact()  # hybrid queries on a dense-only engine: scored exactly (both halves)
        route, params, n_allowed = self._route(rows, slab, allowed, strategy, query_params)
        if route == "exact":
            return exact()
        assert slab is not None and slab.index is not None
        if route == "index":
            return slab.index.search(query, k, allowed, **params)
        assert allowed is not None
        return self._overfetch(slab, query, k, allowed, n_allowed, params, exact)

    @staticmethod
    def _route(
        rows: Rows, slab: Slab | None, allowed: np.ndarray | None, strategy: str, query_params: dict[str, Any]
    ) -> tuple[str, dict[str, Any], int]:
        """Decide how to search a segment: "exact" scan, the slab's "index" as is, or "overfetch".

        Returns the route, the slab's query parameters (its tier's, overridden by those of
        ``query_params`` its builder knows) and the number of allowed rows (0 when unneeded).
        """
        if slab is None or slab.index is None or slab.builder is None:  # memtable, or an index still building
            return "exact", {}, 0
        builder = type(slab.builder)
        params = dict(slab.query_params)
        params.update((name, value) for name, value in query_params.items() if name in builder.query_defaults)
        if allowed is None or builder.native_filtering:
            return "index", params, 0
        n_allowed = int(np.count_nonzero(allowed))
        if strategy == "prefilter" or (strategy == "auto" and prefer_prefilter(n_allowed, len(rows))):
            return "exact", params, n_allowed
        return "overfetch", params, n_allowed

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
        """Ask an approximate slab for more than k, keep allowed rows, widen until enough.

        The first fetch expects the allowed rows to be spread evenly through the ANN's
        answer and doubles that for safety; each miss doubles it again, up to a quarter of
        the slab. When that still does not surface min(k, allowed) allowed rows, the allowed
        rows are scanned exactly, so a filtered query never returns fewer results than it should.
        """
        assert slab.index is not None
        want, fetch, limit = _overfetch_window(len(slab), k, n_allowed)
        work = scanned = 0
        while True:
            result = slab.index.search(query, fetch, None, **params)
            work += result.distance_computations
            scanned += result.bytes_scanned
            keep = allowed[result.rows]
            found = int(np.count_nonzero(keep))
            if found >= want:
                rows, scores = result.rows[keep][:k], result.scores[keep][:k]
                return SearchResult(rows, scores, work, scanned)
            if fetch >= limit:  # the ANN does not reach enough allowed rows: be exact
                fallback = exact()
                return SearchResult(fallback.rows, fallback.scores, work + fallback.distance_computations,
                                    scanned + fallback.bytes_scanned)
            fetch = min(limit, fetch * 2)

    def search_batch(
        self,
        queries: np.ndarray,
        k: int,
        compiled: Filter | None,
        *,
        negation_requires_field: bool,
        strategy: str = "auto",
        query_params: dict[str, Any] | None = None,
    ) -> BatchHits:
        """``search`` of every row of ``queries`` ((n, dimension) float32, dense only).

        Per segment the allowed mask is computed once for the whole batch and the segment is
        searched with one ``search_batch`` call (memtable and pending slabs: one batched exact
        scan); over-fetch and exact fallback run per query as in ``search``, so each query gets
        what ``search`` returns for it (scores up to float32 rounding of batched products).
        The candidates of all segments are merged for all queries at once, in (key, id) order.
        """
        params_in = query_params or {}
        self.check_query_params(params_in)
        n = int(queries.shape[0])
        work = np.zeros(n, dtype=np.int64)
        scanned = np.zeros(n, dtype=np.int64)
        owners, keys, scores, ids, segs, rows_at = [], [], [], [], [], []
        segments: list[Rows] = []
        for rows, slab, allowed in self._searchable_segments(compiled, negation_requires_field):
            results = self._search_segment_batch(rows, slab, queries, k, allowed, strategy, params_in)
            work += np.fromiter(map(_WORK, results), dtype=np.int64, count=n)
            scanned += np.fromiter(map(_SCANNED, results), dtype=np.int64, count=n)
            parts = list(map(_ROWS, results))
            seg_rows = np.concatenate(parts)
            owners.append(np.repeat(np.arange(n), np.fromiter(map(len, parts), dtype=np.int64, count=n)))
            scores.append(np.concatenate(list(map(_SCORES, results))))
            keys.append(scores_to_keys(scores[-1], self.metric))
            ids.append(rows.ids[seg_rows])
            rows_at.append(seg_rows)
            segs.append(np.full(seg_rows.size, len(segments), dtype=np.int64))
            segments.append(rows)
        return merge_batch(n, k, owners, keys, scores, ids, segs, rows_at, segments, work, scanned)

    def _search_segment_batch(
        self,
        rows: Rows,
        slab: Slab | None,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        strategy: str,
        query_params: dict[str, Any],
    ) -> list[SearchResult]:
        dense = rows.dense
        assert dense is not None  # batches are dense-only
        exact = lambda qs: exact_search_batch(qs, self.metric, k, dense, allowed)  # noqa: E731
        route, params, n_allowed = self._route(rows, slab, allowed, strategy, query_params)
        if route == "exact":
            return exact(queries)
        assert slab is not None and slab.index is not None
        if route == "index":
            return slab.index.search_batch(queries, k, allowed, **params)
        assert allowed is not None
        return self._overfetch_batch(slab, queries, k, allowed, n_allowed, params, exact)

    def _overfetch_batch(
        self,
        slab: Slab,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray,
        n_allowed: int,
        params: dict[str, Any],
        exact: Callable[[np.ndarray], list[SearchResult]],
    ) -> list[SearchResult]:
        """``_overfetch`` of a batch: the queries still short of min(k, allowed) allowed rows
        are fetched again, together, with the doubled fetch; the rest fall back to one exact scan."""
        assert slab.index is not None
        want, fetch, limit = _overfetch_window(len(slab), k, n_allowed)
        n = int(queries.shape[0])
        out: list[SearchResult | None] = [None] * n
        work = [0] * n
        scanned = [0] * n
        pending = list(range(n))
        while pending:
            batch = queries if len(pending) == n else queries[pending]
            short: list[int] = []
            for i, result in zip(pending, slab.index.search_batch(batch, fetch, None, **params)):
                work[i] += result.distance_computations
                scanned[i] += result.bytes_scanned
                keep = allowed[result.rows]
                if int(np.count_nonzero(keep)) >= want:
                    out[i] = SearchResult(result.rows[keep][:k], result.scores[keep][:k], work[i], scanned[i])
                else:
                    short.append(i)
            pending = short
            if pending and fetch >= limit:  # the ANN does not reach enough allowed rows: be exact
                for i, fallback in zip(pending, exact(queries[pending])):
                    out[i] = SearchResult(fallback.rows, fallback.scores, work[i] + fallback.distance_computations,
                                          scanned[i] + fallback.bytes_scanned)
                break
            fetch = min(limit, fetch * 2)
        return out  # type: ignore[return-value]

    def check_query_params(self, params: dict[str, Any]) -> None:
        """Refuse ``search_params`` that no builder of this namespace's engine takes."""
        if not params:
            return
        accepted = self._query_param_names()
        unknown = set(params) - accepted
        if unknown:
            raise InvalidArgumentError(
                f"{sorted(unknown)} are not query parameters of this index's engine; it takes "
                f"{sorted(accepted) or 'none'}", path="search_params")


def merge_batch(n: int, k: int, owners: list[np.ndarray], keys: list[np.ndarray], scores: list[np.ndarray],
                ids: list[np.ndarray], segs: list[np.ndarray], rows_at: list[np.ndarray], segments: list[Rows],
                work: np.ndarray, scanned: np.ndarray) -> BatchHits:
    """Merge per-part candidates of ``n`` queries into each query's best ``k`` in (key, id) order.

    Part j holds, for its candidates, the query (``owners``), ranking key, score, id, segment
    (an index into ``segments``) and row; parts may come from one view's segments or from
    several holders of a namespace's slabs (distributed.py).
    """
    stats = SearchStats(int(work.sum()), int(scanned.sum()))
    if not segments:
        empty = np.empty(0, np.int64)
        return BatchHits([0] * (n + 1), [], [], empty, empty, empty, segments, work.tolist(), scanned.tolist(),
                         stats)
    owner, key, score, id_, seg, row = (np.concatenate(x) for x in (owners, keys, scores, ids, segs, rows_at))
    if len(segments) > 1 or np.any((owner[1:] == owner[:-1]) & (key[1:] < key[:-1])):
        order = np.lexsort((key, owner))  # per query, best key first; equal keys keep their order
        owner, key, score, id_, seg, row = (x[order] for x in (owner, key, score, id_, seg, row))
    tied = (owner[1:] == owner[:-1]) & (key[1:] == key[:-1])
    if tied.any():  # equal keys: the smaller id first (bytewise), as search's sort does
        order = np.arange(owner.size)
        for q in np.unique(owner[1:][tied]).tolist():
            a, b = np.searchsorted(owner, [q, q + 1])
            order[a:b] = a + np.array(sorted(range(b - a), key=lambda j: (key[a + j], id_[a + j])))
        owner, key, score, id_, seg, row = (x[order] for x in (owner, key, score, id_, seg, row))
    starts = np.searchsorted(owner, np.arange(n + 1))
    keep = np.arange(owner.size) - starts[owner] < k
    if not keep.all():
        owner, key, score, id_, seg, row = (x[keep] for x in (owner, key, score, id_, seg, row))
        starts = np.searchsorted(owner, np.arange(n + 1))
    return BatchHits(starts.tolist(), id_.tolist(), score.tolist(), key, seg, row, segments, work.tolist(),
                     scanned.tolist(), stats)


def _overfetch_window(size: int, k: int, n_allowed: int) -> tuple[int, int, int]:
    """Return (results wanted, first fetch, largest fetch) of an over-fetch over ``size`` rows."""
    fetch = min(size, max(2 * k, math.ceil(k * size / n_allowed * OVERFETCH)))
    return min(k, n_allowed), fetch, min(size, max(fetch, math.ceil(size * OVERFETCH_MAX_SHARE)))
