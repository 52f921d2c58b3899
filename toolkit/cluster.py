"""DistributedShard: a LocalShard whose immutable, indexed slabs are held and searched on Dask workers.

The coordinator (this process) keeps the whole write path of ``LocalShard`` — the commit
funnel, request log, LSN clocks, memtable, merges and checkpoints — and its views. A slab
whose index is built is *placed* on the worker holding the fewest bytes (``client.scatter``
to that worker; an index that cannot be pickled is rebuilt there from the slab's rows by its
builder). Queries then run, per worker, as one Dask task over every slab of the namespace
that worker holds, with the same ``View`` read path (filters, live masks, router,
over-fetch); the memtable and slabs still waiting for their index are searched on the
coordinator meanwhile, and the coordinator merges all candidates in (key, id) order.

Live masks travel with the query: slabs are copy-on-write, so the mask a query's view holds
is the one that answers; a fully alive slab sends None, any other slab its packed bits
(n_rows / 8 bytes). A batch is one task per worker for the whole batch.

When a worker dies its placements are forgotten and the slabs are placed again, from the
coordinator's copy, on the workers left; a query that hit the dead worker is retried once.
With no worker left a query raises ``UnavailableError`` naming the namespace.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import uuid
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .engine import SlabBuilder
from .errors import InvalidArgumentError, ToolkitError, UnavailableError
from .filters import Filter
from .index_config import IndexConfig
from .journal import Journal
from .lsn import Lsn
from .scoring import Query
from .segment import Rows, Slab
from .shard import LocalShard
from .view import BatchHits, Candidate, SearchStats, Segment, View, merge_batch

_RESPONSE_ORDER = itemgetter(0, 1)  # (key, id): the metric's order, ties by id
# A query waits this long for its workers before the shard looks for dead ones and retries.
GATHER_TIMEOUT_SECONDS = 120.0
_NATIVE: set[type] = set()  # index types that failed to pickle: built on the worker instead

__all__ = ["DistributedShard", "connect", "GATHER_TIMEOUT_SECONDS"]


def connect(cluster: Any) -> tuple[Any, bool]:
    """Return (a ``dask.distributed.Client``, whether this call made it) for ``cluster``.

    ``cluster`` is a ``distributed.Client``, a scheduler address ("tcp://host:8786") or an
    object with a ``scheduler_address`` (e.g. ``LocalCluster``).
    """
    from distributed import Client as DaskClient

    if isinstance(cluster, DaskClient):
        return cluster, False
    address = getattr(cluster, "scheduler_address", cluster)
    if not isinstance(address, str) or not address:
        raise InvalidArgumentError(f"expected a dask.distributed.Client, a LocalCluster or a scheduler address, "
                                   f"got {type(cluster).__name__}", path="cluster")
    try:
        return DaskClient(address, set_as_default=False, timeout=30), True
    except OSError as error:
        raise UnavailableError(f"cannot reach the Dask scheduler at {address!r}: {error}", path="cluster") from error


@dataclass(frozen=True)
class Placement:
    """Where one slab lives: the worker's address, the future of the slab there, its bytes."""

    worker: str
    future: Any
    nbytes: int


def _slab_bytes(slab: Slab) -> int:
    rows = slab.rows
    vectors = 0 if rows.dense is None else rows.dense.nbytes
    index = 0 if slab.index is None else int(slab.index.nbytes)
    return int(vectors + rows.sparse.values.nbytes + rows.sparse.indices.nbytes + index)


def _pack(slab: Slab, alive: np.ndarray) -> np.ndarray | None:
    """Return the live mask a query sends for a slab: None when every row is alive, else packed bits."""
    return None if alive is slab.alive and slab.fully_alive() else np.packbits(alive)


# -- what runs on the workers ------------------------------------------------------------------
def _worker_view(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                 query_params: Mapping[str, Any]) -> View:
    """Return a view of the held ``slabs`` under the live masks the query brought."""
    segments = []
    for slab, packed in zip(slabs, masks):
        alive = np.ones(len(slab), bool) if packed is None else np.unpackbits(packed, count=len(slab)).astype(bool)
        held = dataclasses.replace(slab, alive=alive)  # the held copy keeps its rows and index, not its mask
        segments.append(Segment(held.rows, alive, held))
    names = frozenset(query_params)  # checked against the whole engine on the coordinator already
    return View("", metric=metric, sparse_index=sparse_index, segments=tuple(segments), live_count=0,
                total_bytes=0, max_indexed_lsn=Lsn(0), query_param_names=lambda: names)


def search_slabs(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                 query: Query, k: int, compiled: Filter | None, negation_requires_field: bool, strategy: str,
                 query_params: dict[str, Any]) -> tuple[list[tuple[float, str, float, int, int]], int, int]:
    """Return the best ``k`` of the held slabs as (key, id, score, slab number, row), and the work done."""
    view = _worker_view(slabs, masks, metric, sparse_index, query_params)
    number = {id(seg.rows): seg.slab.number for seg in view.segments() if seg.slab is not None}
    found, stats = view.search(query, k, compiled, negation_requires_field=negation_requires_field,
                               strategy=strategy, query_params=query_params)
    return ([(c.key, c.id, c.score, number[id(c.rows)], c.row) for c in found], stats.distance_computations,
            stats.bytes_scanned)


def search_slabs_batch(slabs: Sequence[Slab], masks: Sequence[np.ndarray | None], metric: str, sparse_index: bool,
                       queries: np.ndarray, k: int, compiled: Filter | None, negation_requires_field: bool,
                       strategy: str, query_params: dict[str, Any]) -> tuple[Any, ...]:
    """Return ``search_slabs`` of a batch as flat arrays (segments as slab numbers)."""
    view = _worker_view(slabs, masks, metric, sparse_index, query_params)
    number = {id(seg.rows): seg.slab.number for seg in view.segments() if seg.slab is not None}
    hits = view.search_batch(queries, k, compiled, negation_requires_field=negation_requires_field,
                             strategy=strategy, query_params=query_params)
    numbers = np.array([number[id(rows)] for rows in hits.segments], dtype=np.int64)
    return (np.asarray(hits.bounds, np.int64), np.asarray(hits.ids, dtype=object), np.asarray(hits.scores),
            np.asarray(hits.keys), numbers[hits.seg] if hits.seg.size else hits.seg, np.asarray(hits.row),
            np.asarray(hits.distance_computations, np.int64), np.asarray(hits.bytes_scanned, np.int64))


def build_slab(rows: Rows, builder: SlabBuilder, metric: str, tier: int, level: int,
               query_params: Mapping[str, Any], number: int) -> Slab:
    """Build a slab's index over its rows here (for indexes that cannot travel pickled)."""
    built = Slab.build(rows, builder, metric, tier, level, query_params)
    return dataclasses.replace(built, number=number)


# -- the coordinator ---------------------------------------------------------------------------
class DistributedShard(LocalShard):
    """A ``LocalShard`` whose indexed slabs are held and searched on the workers of a Dask cluster."""

    def __init__(self, config: IndexConfig, builders: Mapping[str, type[SlabBuilder]], journal: Journal,
                 dask_client: Any) -> None:
        self._dask = dask_client
        self._placed: dict[int, Placement] = {}
        self._placing = threading.RLock()
        super().__init__(config, builders, journal)

    # -- placement -----------------------------------------------------------------------------
    def _workers(self) -> list[str]:
        return sorted(self._dask.scheduler_info().get("workers", {}))

    def worker_bytes(self) -> dict[str, int]:
        """Return the bytes of slabs placed on each live worker."""
        held = dict.fromkeys(self._workers(), 0)
        with self._placing:
            for placement in self._placed.values():
                if placement.worker in held:
                    held[placement.worker] += placement.nbytes
        return held

    def _place(self, slab: Slab, workers: list[str], namespace: str) -> Placement:
        """Put ``slab`` on the worker holding the fewest bytes (call with ``_placing`` held)."""
        current = {s.number for ns in self.namespaces() for s in ns.slabs}
        for number in [n for n in self._placed if n not in current]:  # merged away: release it on its worker
            del self._placed[number]
        held = dict.fromkeys(workers, 0)
        for placement in self._placed.values():
            if placement.worker in held:
                held[placement.worker] += placement.nbytes
        worker = min(workers, key=lambda w: (held[w], w))
        future = None
        if type(slab.index) not in _NATIVE:
            try:
                future = self._dask.scatter(slab, workers=[worker], hash=False)
            except (TypeError, AttributeError, pickle.PicklingError):  # a native index (Annoy) does not pickle
                _NATIVE.add(type(slab.index))
        if future is None:  # build it on the worker from the rows, with the same (seeded) builder
            assert slab.builder is not None
            future = self._dask.submit(build_slab, slab.rows, slab.builder, self.config.metric, slab.tier or 0,
                                       slab.level, dict(slab.query_params), slab.number,
                                       key=f"build-slab-{self.name}-{namespace}-{slab.number}-{uuid.uuid4().hex}",
                                       workers=[worker], allow_other_workers=False, pure=False)
        placement = Placement(worker, future, _slab_bytes(slab))
        self._placed[slab.number] = placement
        return placement

    def _forget(self) -> None:
        """Drop placements of slabs no namespace holds any more, and those on dead workers."""
        current = {slab.number for ns in self.namespaces() for slab in ns.slabs}
        alive = set(self._workers())
        with self._placing:
            for number, placement in list(self._placed.items()):
                if (number not in current or placement.worker not in alive
                        or placement.future.status in ("lost", "cancelled", "error")):
                    del self._placed[number]

    def _split(self, view: View) -> tuple[tuple[Segment, ...], dict[str, list[tuple[Segment, Any]]]]:
        """Return the segments searched here and, per worker, the placed segments with their slab futures."""
        local: list[Segment] = []
        remote: dict[str, list[tuple[Segment, Any]]] = {}
        workers: list[str] | None = None
        with self._placing:
            for seg in view.segments():
                slab = seg.slab
                if slab is None or slab.index is None:  # memtable, or an index still building
                    local.append(seg)
                    continue
                placement = self._placed.get(slab.number)
                if placement is None:
                    if workers is None:
                        workers = self._workers()
                        if not workers:
                            raise UnavailableError(f"namespace {view.name!r} of index {self.name!r} has slabs to "
                                                   f"search but the cluster has no worker", path="cluster")
                    placement = self._place(slab, workers, view.name)
                remote.setdefault(placement.worker, []).append((seg, placement.future))
        return tuple(local), remote

    def _fan_out(self, view: View, task: Callable[..., Any], kind: str, args: tuple[Any, ...]
                 ) -> tuple[tuple[Segment, ...], list[Any]]:
        """Run ``task`` once per worker over the namespace's slabs there; return the local segments and results.

        A failure other than a toolkit error (a worker died, its data was lost) forgets the dead
        placements and retries once on the workers left.
        """
        for attempt in (0, 1):
            local, remote = self._split(view)
            futures = [self._dask.submit(task, [f for _, f in items], [_pack(s.slab, s.alive) for s, _ in items
                                                                       if s.slab is not None],
                                         view.metric, view.sparse_index, *args, workers=[worker],
                                         allow_other_workers=False, pure=False,
                                         key=f"{kind}-{self.name}-{view.name}-{worker}-{uuid.uuid4().hex}")
                       for worker, items in remote.items()]
            try:
                # a worker that hangs past the timeout raises TimeoutError: the query is retried
                return local, [future.result(timeout=GATHER_TIMEOUT_SECONDS) for future in futures]
            except ToolkitError:
                raise
            except Exception as error:  # noqa: BLE001 - a lost worker shows as many exception types
                if attempt:
                    raise UnavailableError(f"slabs of namespace {view.name!r} of index {self.name!r} are on no "
                                           f"live worker: {error!r}", path="cluster") from error
                self._forget()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads ---------------------------------------------------------------------------------
    def _search_view(self, view: View, query: Query, k: int, compiled: Filter | None, *,
                     negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                     ) -> tuple[list[Candidate], SearchStats]:
        view.check_query_params(query_params)
        local, results = self._fan_out(view, search_slabs, "search",
                                       (query, k, compiled, negation_requires_field, strategy, query_params))
        found, stats = view.with_segments(local).search(query, k, compiled,
                                                        negation_requires_field=negation_requires_field,
                                                        strategy=strategy, query_params=query_params)
        rows_of = {seg.slab.number: seg.rows for seg in view.segments() if seg.slab is not None}
        for hits, work, scanned in results:
            found.extend(Candidate(key, id_, score, rows_of[number], row) for key, id_, score, number, row in hits)
            stats.distance_computations += work
            stats.bytes_scanned += scanned
        found.sort(key=_RESPONSE_ORDER)
        return found[:k], stats

    def _search_view_batch(self, view: View, queries: np.ndarray, k: int, compiled: Filter | None, *,
                           negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                           ) -> BatchHits:
        view.check_query_params(query_params)
        local, results = self._fan_out(view, search_slabs_batch, "search_batch",
                                       (queries, k, compiled, negation_requires_field, strategy, query_params))
        here = view.with_segments(local).search_batch(queries, k, compiled,
                                                      negation_requires_field=negation_requires_field,
                                                      strategy=strategy, query_params=query_params)
        if not results:
            return here
        n = int(queries.shape[0])
        owner_of = lambda bounds: np.repeat(np.arange(n), np.diff(np.asarray(bounds)))  # noqa: E731
        segments = list(here.segments)
        owners, keys, scores = [owner_of(here.bounds)], [np.asarray(here.keys)], [np.asarray(here.scores)]
        ids, segs, rows_at = [np.asarray(here.ids, dtype=object)], [np.asarray(here.seg)], [np.asarray(here.row)]
        work, scanned = np.asarray(here.distance_computations), np.asarray(here.bytes_scanned)
        position = {seg.slab.number: seg.rows for seg in view.segments() if seg.slab is not None}
        for bounds, id_, score, key, numbers, row, w, s in results:
            used = np.unique(numbers)
            segs.append(len(segments) + np.searchsorted(used, numbers))
            segments.extend(position[int(number)] for number in used.tolist())
            owners.append(owner_of(bounds))
            keys.append(key)
            scores.append(score)
            ids.append(id_)
            rows_at.append(row)
            work, scanned = work + w, scanned + s
        return merge_batch(n, k, owners, keys, scores, ids, segs, rows_at, segments, work, scanned)

    # -- placement shown and kept current --------------------------------------------------------
    def flush(self, namespace: str | None, wait: bool) -> None:
        """Flush as ``LocalShard`` does; with ``wait``, place the built slabs on workers now."""
        super().flush(namespace, wait)
        if wait:
            self.place()

    def place(self) -> None:
        """Place every built slab not yet on a worker (queries would otherwise place them first)."""
        self._forget()
        if not self._workers():  # nothing to place on: the first query says so
            return
        for view in self.views().values():
            self._split(view)

    def slab_rows(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        slabs, memtables = super().slab_rows()
        with self._placing:
            where = {number: placement.worker for number, placement in self._placed.items()}
        for row in slabs:
            row["worker"] = where.get(int(row["slab"]))  # type: ignore[call-overload]
        return slabs, memtables

    def close(self) -> None:
        super().close()
        with self._placing:
            self._placed.clear()
