"""DistributedShard: a LocalShard whose slabs are built, held and searched on Dask workers.

The coordinator (this process) keeps the write path of ``LocalShard`` — the commit funnel,
request log, LSN clocks, memtable, merge planning and checkpoints — and, per slab, what
fetch/list/stats, filters and the write path need: ids, metadata and columns, LSNs, sizes,
sparse values and the live mask. A slab's dense vectors and engine index live on one worker
only; the coordinator's copy is *hollow* (cluster_vectors.py).

* Builds: a flush's slab and every merge run as one Dask task on the worker that will hold
  the result, named ``build-…``/``merge-…``/``compact-…``/``rebuild-…`` (index, namespace,
  source slabs) on the dashboard. A flushed slab is built on the worker holding the fewest
  bytes (its rows are shipped there once); a merge combines slabs of one level *held by one
  worker* and stays there (``WorkerNamespace``), so each worker grows its own tree of slabs,
  no slab outgrows its worker's share and bytes per worker stay balanced; sources on several
  workers (a compaction) travel worker to worker. Persistent
  indexes: the worker also writes the new slab's files into the durable folder (which the
  workers must share with the coordinator), and the coordinator's checkpoint only names them.
* Queries: per worker one task over every slab of the namespace it holds (a batch: one task
  per worker for the whole batch), with the same ``View`` read path; the memtable and slabs
  still waiting for their build are searched here; candidates merge in (key, id) order.
  Live masks travel with each query (None when a slab is fully alive, else packed bits).
* Fetch, query by id, updates, ``include_values``: the rows asked for are read from their
  workers (one task per worker for a fetch).
* Failure: placements on a dead worker are forgotten; a persistent index's slabs are then
  loaded again from their files on the workers left (queries retry once). An in-memory
  index has no other copy: its lost slabs make reads of the namespace raise
  ``UnavailableError`` — or, inside ``partial_results()`` / with ``allow_partial=True``,
  answer without them and say which slabs and records were left out (cluster_partial.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

import numpy as np

from . import cluster_partial
from .cluster_tasks import (build_slab, finish_slab, load_slab, search_slabs, search_slabs_batch, take_rows,
                            take_vectors)
from .cluster_vectors import RemoteIndex, RemoteVectors, hollow_rows, is_hollow, meta_rows, with_vectors
from .engine import SlabBuilder
from .engine_config import TierConfig
from .errors import InvalidArgumentError, ToolkitError, UnavailableError
from .filters import Filter
from .index_config import IndexConfig
from .journal import Checkpoint, Journal, NamespaceJournal, Op, Ticket
from .lsn import Lsn
from .merges import REBUILD, MergeJob
from .namespace import Namespace
from .scoring import Query
from .segment import Rows, Slab
from .shard import LocalShard, Read, _Entry
from .view import BatchHits, Candidate, SearchStats, Segment, View, merge_batch

logger = logging.getLogger(__name__)
_RESPONSE_ORDER = itemgetter(0, 1)  # (key, id): the metric's order, ties by id
# A task waits this long for its worker before the shard looks for dead ones and retries.
GATHER_TIMEOUT_SECONDS = 120.0
WORKER_CHECK_SECONDS = 1.0  # while a task is outstanding, how often the shard checks its worker is alive
WORKER_WAIT_SECONDS = 30.0  # a build with no worker in the cluster waits this long for one before it fails


class WorkerLost(Exception):
    """A worker holding or running what a read or build needs left the cluster (retried once)."""

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


@dataclass(frozen=True)
class SlabFile:
    """Where a persistent slab's durable files are (a worker loads them again after a failure)."""

    directory: Path
    crc: int


def _slab_bytes(slab: Slab) -> int:
    """Return the bytes a slab holds on its worker: vectors, sparse values and index."""
    rows = slab.rows
    vectors = 0 if rows.dense is None else rows.dense.nbytes
    index = 0 if slab.index is None else int(slab.index.nbytes)
    return int(vectors + rows.sparse.values.nbytes + rows.sparse.indices.nbytes + index)


def _pack(slab: Slab, alive: np.ndarray) -> np.ndarray | None:
    """Return the live mask a query sends for a slab: None when every row is alive, else packed bits."""
    return None if alive is slab.alive and slab.fully_alive() else np.packbits(alive)


def _key(kind: str, *parts: object) -> str:
    """Return a unique Dask key that says what the task is (the dashboard shows it)."""
    return "-".join([kind, *map(str, parts), uuid.uuid4().hex[:8]])


class _WorkerFilesJournal:
    """A persistent namespace's journal that names the slab files workers wrote instead of writing them."""

    def __init__(self, store: Any, files: dict[int, SlabFile]) -> None:
        self.store = store  # storage.disk.NamespaceStore
        self._files = files

    def append(self, lsn: Lsn, op: Op) -> Ticket | None:
        ticket: Ticket | None = self.store.append(lsn, op)
        return ticket

    def sync(self, ticket: Ticket | None) -> None:
        self.store.sync(ticket)

    def drop(self) -> None:
        self.store.drop()

    def lock(self) -> ContextManager[Any]:
        """Return the store's lock (held by a checkpoint while it writes)."""
        lock: ContextManager[Any] = self.store._lock
        return lock

    def checkpoint(self, state: Checkpoint) -> None:
        """Register the worker-written files of ``state``'s hollow slabs, then checkpoint (one lock hold)."""
        with self.store._lock:
            persisted = self.store.persisted
            for slab in state.slabs:
                file = self._files.get(slab.number)
                if file is not None:
                    persisted[slab.number] = (file.directory.name, slab.rows, slab.index, file.crc)
            self.store.checkpoint(state)


@dataclass(eq=False)
class WorkerJob(MergeJob):
    """A merge job whose rows are copied and whose index is built on a worker (``runner``)."""

    runner: Callable[[MergeJob], Slab | None] | None = None

    def run(self) -> None:
        """Build the new slab on a worker (no lock held; never raises: a failure is the job's error)."""
        self.started_at = time.perf_counter()
        try:
            assert self.runner is not None
            self.result = self.runner(self)
        except Exception as exc:  # noqa: BLE001 - a failed build leaves its sources as they are
            logger.warning("%s job of namespace %r failed on the cluster: %r", self.kind, self.namespace.name, exc)
            self.error = exc


class WorkerNamespace(Namespace):
    """A namespace whose jobs run on the cluster's workers, and whose merges keep each worker's share.

    Merges group slabs by (worker, level), not by level alone: ``merge_fanout`` slabs of one
    level *held by one worker* merge into one slab there. Each worker thus grows its own
    tree of slabs from the flushes placed on it, no slab outgrows its worker's share of the
    namespace, and bytes per worker stay as even as the flushes' placement (each build goes
    to the least loaded worker). Merges of small slabs go on as before; what a merge returns
    is the same (the rows are the same, only which slabs combine changes).
    """

    def __init__(self, name: str, *, run_job: Callable[[MergeJob], Slab | None],
                 committed: Callable[[MergeJob], None], worker_of: Callable[[Slab], str | None],
                 **kwargs: Any) -> None:
        self._run_job = run_job
        self._committed = committed
        self._worker_of = worker_of
        self._queued: list[MergeJob] = []  # claimed jobs of a compaction or rebuild, one per worker, to run next
        super().__init__(name, **kwargs)

    def next_job(self) -> MergeJob | None:
        """Plan as ``Namespace.next_job``, but a compaction or rebuild makes one slab per worker.

        The slabs each worker holds are merged there (slabs not placed yet join the worker
        holding the fewest rows), so a compacted namespace stays spread over the workers.
        """
        if self._queued:
            return self._queued.pop(0)
        if self._request is None or any(s.claimed for s in self.slabs):
            return super().next_job()
        kind, self._request = self._request, None
        groups: dict[str, list[Slab]] = {}
        unplaced = []
        for slab in self.slabs:
            worker = self._worker_of(slab) if slab.index is not None else None
            if worker is None:
                unplaced.append(slab)
            else:
                groups.setdefault(worker, []).append(slab)
        if unplaced:
            lightest = min(groups, key=lambda w: (sum(len(s) for s in groups[w]), w)) if groups else ""
            groups.setdefault(lightest, []).extend(unplaced)
        for worker in sorted(groups):
            group = groups[worker]
            if kind == REBUILD or len(group) > 1 or any(s.index is None or s.live_rows() < len(s) for s in group):
                level = max(s.level for s in group) + (1 if len(group) > 1 else 0)
                self._queued.append(self._claim(kind, group, level))
        return self._queued.pop(0) if self._queued else super().next_job()

    def _merge_group(self) -> list[Slab] | None:
        """Return ``merge_fanout`` built slabs of the lowest level that one worker holds that many of."""
        groups: dict[tuple[int, str], list[Slab]] = {}
        for slab in self.slabs:
            if slab.index is not None and not slab.claimed and slab.error is None:
                groups.setdefault((slab.level, self._worker_of(slab) or ""), []).append(slab)
        for key in sorted(groups):
            if len(groups[key]) >= self.engine.merge_fanout:
                return groups[key][: self.engine.merge_fanout]
        return None

    def _claim(self, kind: str, sources: list[Slab], level: int) -> MergeJob:
        job = super()._claim(kind, sources, level)
        return WorkerJob(job.namespace, job.kind, job.sources, job.taken, job.level, job.engine,
                         runner=self._run_job)

    def commit(self, job: MergeJob) -> None:
        super().commit(job)
        self._committed(job)


# -- the coordinator ---------------------------------------------------------------------------
class DistributedShard(LocalShard):
    """A ``LocalShard`` whose slabs are built, held and searched on the workers of a Dask cluster."""

    def __init__(self, config: IndexConfig, builders: Mapping[str, type[SlabBuilder]], journal: Journal,
                 dask_client: Any) -> None:
        self._dask = dask_client
        self._placed: dict[int, Placement] = {}
        self._files: dict[int, SlabFile] = {}  # persistent slabs: their durable files
        self._building: set[int] = set()  # built on a worker, not yet committed to a namespace
        self._lost: dict[int, str] = {}  # in-memory slabs whose only copy died with this worker
        self._placing = threading.RLock()  # after the write lock, never before it
        super().__init__(config, builders, journal)
        self.place()

    # -- namespaces and journals -------------------------------------------------------------
    def _new_namespace(self, name: str) -> Namespace:
        return WorkerNamespace(name, run_job=self._run_job, committed=self._committed, worker_of=self._worker_of,
                               metric=self.config.metric,
                               dimension=self.config.dimension, sparse_index=self.config.vector_type == "sparse",
                               engine=self.config.engine, make_builder=self._make_builder, worker=self._merges)

    def _adopt(self, ns: Namespace, journal: NamespaceJournal) -> _Entry:
        from .storage.disk import NamespaceStore

        if isinstance(journal, NamespaceStore):
            journal = _WorkerFilesJournal(journal, self._files)
        return super()._adopt(ns, journal)

    def _store(self, namespace: str) -> Any:
        """Return the namespace's disk store (None: an in-memory index)."""
        entry = self._entries.get(namespace)
        journal = None if entry is None else entry.journal
        return journal.store if isinstance(journal, _WorkerFilesJournal) else None

    # -- workers and placement -----------------------------------------------------------------
    def _workers(self) -> list[str]:
        return sorted(self._dask.scheduler_info().get("workers", {}))

    def worker_bytes(self) -> dict[str, int]:
        """Return the bytes of slabs placed on each live worker."""
        return self._held(self._workers())

    def _held(self, workers: Sequence[str], leaving: frozenset[int] = frozenset()) -> dict[str, int]:
        """Return the bytes placed on each of ``workers``, but those of the slabs numbered in ``leaving``."""
        held = dict.fromkeys(workers, 0)
        with self._placing:
            for number, placement in self._placed.items():
                if placement.worker in held and number not in leaving:
                    held[placement.worker] += placement.nbytes
        return held

    def _worker_of(self, slab: Slab) -> str | None:
        """Return the worker holding ``slab`` (None: not placed), placing nothing."""
        with self._placing:
            placement = self._placed.get(slab.number)
        return None if placement is None else placement.worker

    def _target(self, job: MergeJob, replaced: frozenset[int]) -> str:
        """Return the worker to build ``job``'s slab on.

        A merge of slabs one worker holds stays there (no rows move) unless another worker,
        with the result, would still hold no more than that worker without it (it moves
        only to even the load out, and never overtakes). Anything else (a flushed slab's
        build, a compaction of slabs on several workers) goes to the least loaded worker.
        """
        least = self._least_loaded(replaced)
        homes = {self._worker_of(source) for source in job.sources}
        home = homes.pop() if len(homes) == 1 else None
        if home is None or home == least:
            return least
        held = self._held(self._workers(), replaced)
        if home not in held:
            return least
        with self._placing:
            size = sum(self._placed[s.number].nbytes * int(t.size) // max(len(s), 1)
                       for s, t in zip(job.sources, job.taken) if s.number in self._placed)
        return least if held[least] + size <= held[home] else home

    def _least_loaded(self, leaving: frozenset[int] = frozenset()) -> str:
        """Return the live worker holding the fewest bytes of slabs once the slabs in ``leaving`` are gone."""
        workers = self._workers()
        if not workers:  # a worker restarting (or all of them): wait a little before the build fails
            try:
                self._dask.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except (TimeoutError, OSError):
                pass
            workers = self._workers()
        if not workers:
            raise UnavailableError(f"index {self.name!r} has slabs to build or search but the cluster has no worker "
                                   f"(waited {WORKER_WAIT_SECONDS:g} s)", path="cluster")
        held = self._held(workers, leaving)
        return min(workers, key=lambda w: (held[w], w))

    def _submit(self, function: Callable[..., Any], *args: Any, key: str, worker: str) -> Any:
        return self._dask.submit(function, *args, key=key, workers=[worker], allow_other_workers=False, pure=False)

    def _results(self, futures: Sequence[tuple[str, Any]], watch: Sequence[str] = ()) -> list[Any]:
        """Return the results of (worker, future) pairs; raise ``WorkerLost`` as soon as one's worker is gone.

        A task pinned to a worker that died would wait for it forever, so while results are
        outstanding the live workers (theirs and ``watch``: workers their inputs come from)
        are checked once a second.
        """
        deadline = time.monotonic() + GATHER_TIMEOUT_SECONDS
        needed = {worker for worker, _ in futures} | set(watch)
        pending = [future for _, future in futures]
        if not pending:
            return []
        left = [len(pending)]
        finished = threading.Event()
        counting = threading.Lock()

        def one_done(_: Any) -> None:  # runs on a thread of the Dask client when a task ends (or fails)
            with counting:
                left[0] -= 1
                if not left[0]:
                    finished.set()

        for future in pending:
            future.add_done_callback(one_done)
        while not finished.wait(timeout=min(WORKER_CHECK_SECONDS, max(0.01, deadline - time.monotonic()))):
            gone = sorted(needed - set(self._workers()))
            if gone:
                raise WorkerLost(f"workers {gone} left the cluster")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no result from the cluster after {GATHER_TIMEOUT_SECONDS:g} s")
        # Results come straight from the workers (the scheduler relays them only when they
        # cannot be reached): half the bytes of a relayed answer and one hop less.
        out: list[Any] = self._dask.gather(pending, direct=True)
        return out

    def _taker(self, number: int) -> Callable[[np.ndarray], np.ndarray]:
        def take(positions: np.ndarray) -> np.ndarray:
            vectors = self._gather_vectors({number: positions}, namespace=None)[number]
            if vectors is None:
                raise UnavailableError(f"slab {number} of index {self.name!r} is on no live worker", path="cluster")
            return vectors
        return take

    def _hollow_of(self, meta: Rows, dimension: int | None, slab: Slab, namespace: str) -> Rows:
        label = f"slab {slab.number} of namespace {namespace!r} of index {self.name!r}"
        return hollow_rows(meta, dimension, self._taker(slab.number), label, slab.number)

    # -- builds on the workers -------------------------------------------------------------------
    def _run_job(self, job: MergeJob) -> Slab | None:
        """Copy the job's rows and build its slab on its worker (``_target``); return the coordinator's hollow copy."""
        n = sum(int(t.size) for t in job.taken)
        if not n:
            return None
        ns = job.namespace
        tier = job.engine.tier_for(n)
        config: TierConfig = job.engine.tiers[tier]
        builder = ns.make_builder(config)
        store = self._store(ns.name)
        sources = "+".join(str(s.number) for s in job.sources)
        replaced = frozenset(s.number for s in job.sources)  # released when the job commits
        for attempt in (0, 1):
            worker = self._target(job, replaced)
            try:
                parts = [self._source_part(source, taken, ns.name, worker)
                         for source, taken in zip(job.sources, job.taken)]
                future = self._submit(build_slab, parts, [None if is_hollow(s) else t
                                                          for s, t in zip(job.sources, job.taken)],
                                      builder, ns.metric, tier, job.level, dict(config.query),
                                      key=_key(job.kind, self.name, ns.name, sources), worker=worker)
                parent = name = None
                if store is not None and self.writable:
                    parent, name = str(store.directory / "slabs"), store._slab_name()
                created = time.time()
                finished = self._submit(finish_slab, future, parent, name or "", ns.metric, created,
                                        key=_key("persist" if parent else "describe", self.name, ns.name, sources),
                                        worker=worker)
                held_by = [self._placed[s.number].worker for s in job.sources if s.number in self._placed]
                index_bytes, build_seconds, crc = self._results([(worker, finished)], watch=held_by)[0]
                break
            except ToolkitError:
                raise
            except Exception as error:  # noqa: BLE001 - a lost worker shows as many exception types
                if attempt:
                    raise UnavailableError(f"{job.kind} of slabs {sources} of namespace {ns.name!r} failed on the "
                                           f"cluster: {error!r}", path="cluster") from error
                self._forget()
        blocks = [meta_rows(s.rows) if t.size == len(s) else meta_rows(s.rows).take(t)
                  for s, t in zip(job.sources, job.taken)]
        meta = blocks[0] if len(blocks) == 1 else Rows.concat(blocks)
        dense = job.sources[0].rows.dense
        label = f"namespace {ns.name!r} of index {self.name!r}"
        slab = Slab(meta, builder, RemoteIndex(index_bytes, label), tier, job.level, build_seconds,
                    np.ones(n, bool), dict(config.query), created_at=created)
        slab.rows = self._hollow_of(meta, None if dense is None else int(dense.shape[1]), slab, ns.name)
        vectors = 0 if dense is None else n * int(dense.shape[1]) * 4
        with self._placing:
            self._placed[slab.number] = Placement(worker, future, int(vectors + index_bytes
                                                                      + meta.sparse.values.nbytes
                                                                      + meta.sparse.indices.nbytes))
            if crc is not None and name is not None:
                self._files[slab.number] = SlabFile(Path(parent or "") / name, int(crc))
            self._building.add(slab.number)
        return slab

    def _source_part(self, source: Slab, taken: np.ndarray, namespace: str, worker: str) -> Any:
        """Return a future of what a build takes of ``source``: the taken rows of a held slab, or its rows shipped once."""
        if is_hollow(source):
            placement = self._placement_for(source, namespace)
            if placement is None:
                raise UnavailableError(f"slab {source.number} of namespace {namespace!r} of index {self.name!r} "
                                       f"is on no live worker", path="cluster")
            return self._submit(take_rows, placement.future, taken,
                                key=_key("rows", self.name, namespace, source.number), worker=placement.worker)
        return self._dask.scatter(source.rows, workers=[worker], hash=False, direct=True)

    def _committed(self, job: MergeJob) -> None:
        """Forget what a committed (or abandoned) job replaced (called with the write lock held)."""
        with self._placing:
            if job.result is not None:
                self._building.discard(job.result.number)
        self._prune()

    def _prune(self) -> None:
        """Release the placements (and file records) of slabs no namespace holds any more."""
        current = {slab.number for ns in self.namespaces() for slab in ns.slabs}
        with self._placing:
            for number in [n for n in self._placed if n not in current and n not in self._building]:
                del self._placed[number]
            for number in [n for n in self._files if n not in current and n not in self._building]:
                del self._files[number]
            for number in [n for n in self._lost if n not in current]:
                del self._lost[number]

    # -- placement of slabs built or loaded elsewhere --------------------------------------------
    def _placement_for(self, slab: Slab, namespace: str) -> Placement | None:
        """Return where ``slab`` is held, placing it first if it is not (None: nowhere, and no copy to place)."""
        with self._placing:
            placement = self._placed.get(slab.number)
            if placement is not None:
                return placement
            file = self._files.get(slab.number)
            if file is None and is_hollow(slab):
                return None  # in memory: its only copy was on a worker that died
            workers = self._workers()
            if not workers:
                return None
            held = self._held(workers)
            worker = min(workers, key=lambda w: (held[w], w))
            if file is not None:  # persistent: load it from the durable folder there
                future = self._submit(load_slab, str(file.directory), file.crc, self._builders,
                                      len(self.config.engine.tiers),
                                      key=_key("load", self.name, namespace, slab.number), worker=worker)
            else:  # built here with no durable copy: ship its rows once and build it there (indexes may not pickle)
                assert slab.builder is not None
                rows = self._dask.scatter(slab.rows, workers=[worker], hash=False, direct=True)
                future = self._submit(build_slab, [rows], [None], slab.builder, self.config.metric, slab.tier or 0,
                                      slab.level, dict(slab.query_params),
                                      key=_key("build", self.name, namespace, slab.number), worker=worker)
            placement = Placement(worker, future, _slab_bytes(slab))
            self._placed[slab.number] = placement
            self._lost.pop(slab.number, None)
            return placement

    def place(self) -> None:
        """Place every built slab not yet on a worker, and drop the coordinator's copy of its vectors."""
        self._forget()
        if not self._workers():  # nothing to place on: the first read says so
            return
        for name, entry in list(self._entries.items()):
            for slab in list(entry.ns.slabs):
                if slab.index is None or is_hollow(slab):
                    continue
                store = self._store(name)
                known = None if store is None else store.persisted.get(slab.number)
                if known is not None and known[1] is slab.rows and known[2] is slab.index:
                    with self._placing:
                        self._files[slab.number] = SlabFile(store.directory / "slabs" / known[0], int(known[3]))
                if self._placement_for(slab, name) is not None:
                    self._hollow(name, slab)

    def _hollow(self, namespace: str, slab: Slab) -> None:
        """Drop the coordinator's vectors and index of a placed slab (write lock, then the store's)."""
        with self._write:
            entry = self._entries.get(namespace)
            if entry is None or is_hollow(slab) or slab.index is None:
                return
            journal = entry.journal
            with journal.lock() if isinstance(journal, _WorkerFilesJournal) else nullcontext():
                dense = slab.rows.dense
                label = f"namespace {namespace!r} of index {self.name!r}"
                slab.index = RemoteIndex(int(slab.index.nbytes), label)
                slab.rows = self._hollow_of(meta_rows(slab.rows), None if dense is None else int(dense.shape[1]),
                                            slab, namespace)
            entry.ns.publish()

    def _forget(self) -> None:
        """Drop placements of slabs no namespace holds any more, and those on dead workers."""
        self._prune()
        alive = set(self._workers())
        with self._placing:
            for number, placement in list(self._placed.items()):
                if placement.worker not in alive or placement.future.status in ("lost", "cancelled", "error"):
                    del self._placed[number]
                    if number not in self._files:
                        self._lost[number] = placement.worker

    # -- reads ---------------------------------------------------------------------------------
    def _split(self, view: View) -> tuple[tuple[Segment, ...], dict[str, list[tuple[Segment, Any]]], list[Segment]]:
        """Return the segments searched here, per worker the held segments with their futures, and the missing."""
        local: list[Segment] = []
        remote: dict[str, list[tuple[Segment, Any]]] = {}
        missing: list[Segment] = []
        for seg in view.segments():
            slab = seg.slab
            if slab is None or slab.index is None:  # memtable, or a slab still waiting for its build
                local.append(seg)
                continue
            placement = self._placement_for(slab, view.name)
            if placement is None:
                missing.append(seg)
            else:
                remote.setdefault(placement.worker, []).append((seg, placement.future))
        return tuple(local), remote, missing

    def _left_out(self, namespace: str, missing: Sequence[tuple[Slab, np.ndarray]]) -> None:
        """Refuse a read that would miss slabs, or (partial results asked for) record them."""
        if not missing:
            return
        report = cluster_partial.current()
        if report is None:
            numbers = [slab.number for slab, _ in missing]
            reason = "the cluster has no worker" if not self._workers() else \
                "the worker holding them died and this in-memory index has no other copy"
            raise UnavailableError(f"slabs {numbers} of namespace {namespace!r} of index {self.name!r} are on no "
                                   f"live worker ({reason}); read with allow_partial=True or inside "
                                   f"toolkit.cluster_partial.partial_results() to answer without them",
                                   path="cluster")
        for slab, alive in missing:
            with self._placing:
                worker = self._lost.get(slab.number)
            report.add(self.name, namespace, slab.number, worker, slab.rows.ids[alive])

    def _fan_out(self, view: View, task: Callable[..., Any], kind: str, args: tuple[Any, ...]
                 ) -> tuple[tuple[Segment, ...], list[tuple[list[Segment], Any]]]:
        """Run ``task`` once per worker over the namespace's slabs there; return the local segments and results.

        A failure other than a toolkit error (a worker died, its data was lost) forgets the dead
        placements and retries once on the workers left.
        """
        for attempt in (0, 1):
            local, remote, missing = self._split(view)
            self._left_out(view.name, [(seg.slab, seg.alive) for seg in missing if seg.slab is not None])
            futures = [(
                worker, [seg for seg, _ in items],
                self._submit(task, [f for _, f in items], [_pack(s.slab, s.alive) for s, _ in items
                                                           if s.slab is not None],
                             view.metric, view.sparse_index, *args, key=_key(kind, self.name, view.name, worker),
                             worker=worker),
            ) for worker, items in remote.items()]
            try:
                results = self._results([(worker, future) for worker, _, future in futures])
                return local, [(segs, result) for (_, segs, _), result in zip(futures, results)]
            except ToolkitError:
                raise
            except Exception as error:  # noqa: BLE001 - a lost worker shows as many exception types
                if attempt:
                    raise UnavailableError(f"slabs of namespace {view.name!r} of index {self.name!r} are on no "
                                           f"live worker: {error!r}", path="cluster") from error
                self._forget()
        raise AssertionError("unreachable")  # pragma: no cover

    def _search_view(self, view: View, query: Query, k: int, compiled: Filter | None, *,
                     negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                     ) -> tuple[list[Candidate], SearchStats]:
        view.check_query_params(query_params)
        local, results = self._fan_out(view, search_slabs, "search",
                                       (query, k, compiled, negation_requires_field, strategy, query_params))
        found, stats = view.with_segments(local).search(query, k, compiled,
                                                        negation_requires_field=negation_requires_field,
                                                        strategy=strategy, query_params=query_params)
        for segs, (hits, work, scanned) in results:
            found.extend(Candidate(key, id_, score, segs[at].rows, row) for key, id_, score, at, row in hits)
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
        for held, (bounds, id_, score, key, positions, row, w, s) in results:
            used = np.unique(positions)
            segs.append(len(segments) + np.searchsorted(used, positions))
            segments.extend(held[int(at)].rows for at in used.tolist())
            owners.append(owner_of(bounds))
            keys.append(key)
            scores.append(score)
            ids.append(id_)
            rows_at.append(row)
            work, scanned = work + w, scanned + s
        return merge_batch(n, k, owners, keys, scores, ids, segs, rows_at, segments, work, scanned)

    # -- fetch: the rows asked for, read from their workers ---------------------------------------
    def _gather_vectors(self, wanted: Mapping[int, np.ndarray], namespace: str | None
                        ) -> dict[int, np.ndarray | None]:
        """Return the dense vectors of rows of hollow slabs (slab number -> rows), one task per worker.

        A slab on no live worker maps to None.
        """
        slabs = {slab.number: (ns.name, slab) for ns in self.namespaces() for slab in ns.slabs
                 if slab.number in wanted}
        for attempt in (0, 1):
            per_worker: dict[str, list[tuple[int, Any]]] = {}
            out: dict[int, np.ndarray | None] = {}
            for number in wanted:
                name, slab = slabs.get(number, (namespace or "", None))
                placement = None if slab is None else self._placement_for(slab, name)
                if placement is None:
                    out[number] = None
                else:
                    per_worker.setdefault(placement.worker, []).append((number, placement.future))
            futures = [(worker, items, self._submit(take_vectors, [f for _, f in items], [wanted[n] for n, _ in items],
                                                    key=_key("fetch", self.name, namespace or "", worker),
                                                    worker=worker))
                       for worker, items in per_worker.items()]
            try:
                results = self._results([(worker, future) for worker, _, future in futures])
                for (_, items, _), vectors in zip(futures, results):
                    out.update(zip([n for n, _ in items], vectors))
                return out
            except ToolkitError:
                raise
            except Exception as error:  # noqa: BLE001 - a lost worker shows as many exception types
                if attempt:
                    raise UnavailableError(f"cannot read rows of index {self.name!r} from the cluster: {error!r}",
                                           path="cluster") from error
                self._forget()
        raise AssertionError("unreachable")  # pragma: no cover

    def _with_vectors(self, namespace: str, found: dict[str, tuple[Rows, int]]) -> dict[str, tuple[Rows, int]]:
        """Replace the hollow rows of ``found`` by rows with their vectors, read from the workers."""
        by_block: dict[int, tuple[Rows, list[str]]] = {}
        for record_id, (rows, _) in found.items():
            if isinstance(rows.dense, RemoteVectors):
                by_block.setdefault(id(rows), (rows, []))[1].append(record_id)
        if not by_block:
            return found
        wanted = {}
        for rows, record_ids in by_block.values():
            assert isinstance(rows.dense, RemoteVectors)
            wanted[rows.dense.slab_number] = np.array([found[i][1] for i in record_ids], np.int64)
        vectors = self._gather_vectors(wanted, namespace)
        out = dict(found)
        missing = []
        for rows, record_ids in by_block.values():
            assert isinstance(rows.dense, RemoteVectors)
            number = rows.dense.slab_number
            got = vectors.get(number)
            if got is None:
                slab = next((s for ns in self.namespaces() for s in ns.slabs if s.number == number), None)
                if slab is not None:
                    missing.append((slab, slab.alive))
                for record_id in record_ids:
                    del out[record_id]
                continue
            block = with_vectors(rows, wanted[number], got)
            out.update((record_id, (block, i)) for i, record_id in enumerate(record_ids))
        self._left_out(namespace, missing)
        return out

    def fetch(self, namespace: str, ids: Sequence[str]) -> Read[dict[str, tuple[Rows, int]]] | None:
        read = super().fetch(namespace, ids)
        if read is None:
            return None
        return Read(self._with_vectors(namespace, read.value), read.max_indexed_lsn, read.total_bytes)

    def fetch_matching(self, namespace: str, compiled: Filter | None, after: str | None, limit: int, *,
                       negation_requires_field: bool) -> Read[tuple[dict[str, tuple[Rows, int]], bool]] | None:
        read = super().fetch_matching(namespace, compiled, after, limit,
                                      negation_requires_field=negation_requires_field)
        if read is None:
            return None
        found, more = read.value
        return Read((self._with_vectors(namespace, found), more), read.max_indexed_lsn, read.total_bytes)

    # -- placement shown and kept current --------------------------------------------------------
    def flush(self, namespace: str | None, wait: bool) -> None:
        """Flush as ``LocalShard`` does; with ``wait``, place any built slab not yet on a worker."""
        super().flush(namespace, wait)
        if wait:
            self.place()

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
            self._files.clear()
