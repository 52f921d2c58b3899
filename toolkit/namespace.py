"""Namespace: one partition's write side — LSN clock, live-version map, memtable, slabs.

Writes get the next LSN, then land in the memtable; rows they shadow are marked dead in
whatever segment holds them (copy-on-write masks). A full memtable is frozen into a pending
slab whose index the tier's builder makes, and ``merge_fanout`` slabs of one level merge into
one bigger slab; both are merge jobs (merges.py), run by the shard's background worker or
inline. Every change ends by publishing a new immutable ``View`` (view.py), which is all a
reader ever touches. Call every method but ``view`` with the shard's write lock held.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .engine import SlabBuilder
from .engine_config import EngineConfig, TierConfig
from .lsn import Lsn
from .merges import BUILD, COMPACT, MERGE, REBUILD, MergeJob, MergeRecord, MergeWorker
from .records import RecordBatch
from .segment import Memtable, Slab, rows_from_batch
from .view import PREFILTER_MAX_FRACTION, Segment, View

__all__ = ["Namespace", "PREFILTER_MAX_FRACTION"]  # the notebooks read the pre-filter threshold here


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
        make_builder: Callable[[TierConfig], SlabBuilder],
        worker: MergeWorker | None = None,
    ) -> None:
        self.name = name
        self.metric = metric
        self.dimension = dimension
        self.sparse_index = sparse_index
        self.engine = engine
        self.make_builder = make_builder
        self._worker = worker  # None: jobs run inline, as with background_merges = false
        self.last_lsn = Lsn(0)
        self.max_indexed_lsn = Lsn(0)
        # No per-id map of live versions: an id's live version is the memtable's (row_of) or the
        # one slab row whose live-mask bit is set, found by binary search in the slab's sorted ids.
        self.n_live = 0  # live records
        self.total_bytes = 0  # their billed bytes
        self.memtable = Memtable()
        self.slabs: list[Slab] = []
        self._request: str | None = None  # a pending compact/rebuild request
        self._in_flight = 0  # planned jobs not yet committed (their sources may be gone already)
        self._accepted_params: tuple[EngineConfig, frozenset[str]] | None = None
        self.merges: list[MergeRecord] = []  # history of finished jobs, oldest first
        self.unreported_failures: list[MergeRecord] = []
        # Called under the write lock whenever the slab list changes (a flush freezes the
        # memtable, a job swaps slabs, delete_all); the shard queues a checkpoint from it.
        self.on_slabs_changed: Callable[[Namespace], None] | None = None
        self.view = self._snapshot()

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
        self.publish()

    # -- snapshots -------------------------------------------------------------------------
    def publish(self) -> None:
        """Make the current state what new reads see (one atomic attribute store)."""
        self.view = self._snapshot()

    def _snapshot(self) -> View:
        segments = [Segment(s.rows, s.alive, s) for s in self.slabs]
        segments.extend(Segment(rows, alive, None) for rows, alive in self.memtable.chunks())
        return View(self.name, metric=self.metric, sparse_index=self.sparse_index, segments=tuple(segments),
                    live_count=self.n_live, total_bytes=self.total_bytes, max_indexed_lsn=self.max_indexed_lsn,
                    query_param_names=self.query_param_names)

    def query_param_names(self) -> frozenset[str]:
        """Return the query parameters some builder of this namespace's engine takes (cached per engine)."""
        accepted = self._accepted_params
        if accepted is None or accepted[0] is not self.engine:
            names: set[str] = set()
            for tier in self.engine.tiers:
                names.update(type(self.make_builder(tier)).query_defaults)
            accepted = self._accepted_params = (self.engine, frozenset(names))
        return accepted[1]

    # -- writes ----------------------------------------------------------------------------
    def upsert(self, batch: RecordBatch, lsn: Lsn) -> None:
        """Apply a validated upsert: the last occurrence of a repeated id wins."""
        last = {record_id: i for i, record_id in enumerate(batch.ids)}
        rows = rows_from_batch(batch, lsn)
        ids = batch.ids
        if len(last) < len(batch.ids):
            rows = rows.take(np.fromiter(last.values(), dtype=np.int64, count=len(last)))
            ids = list(last)  # the kept rows' ids, in their order
        self._kill(ids)
        self.memtable.append(rows, ids)
        self.n_live += len(rows)
        self.total_bytes += int(rows.sizes.sum())
        self._applied(lsn)
        if len(self.memtable) >= self.engine.memtable_max_records:
            self.flush()

    def delete(self, ids: Sequence[str], lsn: Lsn) -> int:
        """Delete ``ids``; return the billed bytes of the records that existed."""
        deleted = self._kill(list(dict.fromkeys(ids)))
        self._applied(lsn)
        return deleted

    def delete_all(self, lsn: Lsn) -> None:
        """Drop every record; the namespace itself (and its LSN clock) stays."""
        self.n_live = 0
        self.total_bytes = 0
        self.memtable = Memtable()
        removed, self.slabs = self.slabs, []
        self._request = None
        self._changed([], removed)
        self._applied(lsn)

    def restore(self, slabs: list[Slab], lsn: Lsn) -> None:
        """Make ``slabs`` (with their live masks set) the whole state of this empty namespace at ``lsn``."""
        self.slabs = list(slabs)
        self.n_live = sum(slab.live_rows() for slab in slabs)  # vectorised: no per-id work at open
        self.total_bytes = sum(int(slab.rows.sizes[slab.alive].sum()) for slab in slabs)
        self.last_lsn = lsn
        self._applied(lsn)

    def _kill(self, ids: list[str]) -> int:
        """Mark the live row of each of ``ids`` (distinct) dead; return the billed bytes freed."""
        if not ids:
            return 0
        count, freed = self.memtable.kill(ids)
        keys = np.asarray(ids, dtype="S") if self.slabs else None  # encoded once for every slab
        for slab in self.slabs:
            assert keys is not None
            killed, nbytes = slab.kill(keys)
            count, freed = count + killed, freed + nbytes
        self.n_live -= count
        self.total_bytes -= freed
        return freed

    def replaced(self, ids: Sequence[str]) -> tuple[int, int]:
        """Return (count, billed bytes) of the live versions of ``ids`` (repeats counted once)."""
        distinct = list(dict.fromkeys(ids))
        count, nbytes = self.memtable.live_sizes(distinct)
        keys = np.asarray(distinct, dtype="S")
        for slab in self.slabs:
            found, size = slab.live_sizes(keys)
            count, nbytes = count + found, nbytes + size
        return count, nbytes

    # -- flush and merge -------------------------------------------------------------------
    def flush(self) -> Slab | None:
        """Freeze the memtable's live rows into a pending slab and schedule its index build.

        Return the slab (None if nothing was live). Until its index is built the slab is
        searched by exact scan; with background merges the build runs on the index's worker.
        """
        if not len(self.memtable):
            return None
        rows = self.memtable.rows().take(np.flatnonzero(self.memtable.alive()))
        self.memtable = Memtable()
        if not len(rows):
            return None
        slab = Slab.pending(rows, level=0)
        self.slabs.append(slab)
        self.publish()
        self._changed([slab], [])
        self._schedule()
        return slab

    def request(self, kind: str) -> None:
        """Ask for every slab to be merged into one: ``"compact"`` (only if that changes
        anything) or ``"rebuild"`` (always, with the current engine)."""
        if kind not in (COMPACT, REBUILD):
            raise ValueError(f"unknown request {kind!r}")
        if self._request != REBUILD:
            self._request = kind
        self._schedule()

    def merge(self, *, everything: bool = False) -> None:
        """Run every due job now, inline (``everything``: first merge all slabs into one)."""
        if everything:
            self._request = self._request or COMPACT
        self.run_jobs()

    @property
    def has_work(self) -> bool:
        """Return True while a job is planned, running or due."""
        return bool(self._in_flight) or self._request is not None or any(s.state == "pending" for s in self.slabs) \
            or self._merge_group() is not None

    def _schedule(self) -> None:
        if self._worker is not None and self.engine.background_merges:
            self._worker.submit()
        else:
            self.run_jobs()

    def run_jobs(self) -> None:
        """Plan, build and commit jobs in the calling thread until none is due."""
        while (job := self.next_job()) is not None:
            job.run()
            self.commit(job)

    def next_job(self) -> MergeJob | None:
        """Plan the most urgent job and claim its slabs (call with the index lock held)."""
        free = [s for s in self.slabs if not s.claimed]
        if self._request is not None and not any(s.claimed for s in self.slabs):
            kind, self._request = self._request, None
            if free and (kind == REBUILD or len(free) > 1 or any(s.index is None or s.live_rows() < len(s)
                                                                 for s in free)):
                level = max(s.level for s in free) + (1 if len(free) > 1 else 0)
                return self._claim(kind, free, level)
        for slab in free:
            if slab.state == "pending":
                return self._claim(BUILD, [slab], slab.level)
        group = self._merge_group()
        if group is not None:
            return self._claim(MERGE, group, max(s.level for s in group) + 1)
        return None

    def _merge_group(self) -> list[Slab] | None:
        by_level: dict[int, list[Slab]] = {}
        for slab in self.slabs:
            if slab.index is not None and not slab.claimed and slab.error is None:
                by_level.setdefault(slab.level, []).append(slab)
        for level in sorted(by_level):
            if len(by_level[level]) >= self.engine.merge_fanout:
                return by_level[level][: self.engine.merge_fanout]
        return None

    def _claim(self, kind: str, sources: list[Slab], level: int) -> MergeJob:
        for slab in sources:
            slab.claimed = True
        self._in_flight += 1
        taken = [np.flatnonzero(slab.alive) for slab in sources]
        return MergeJob(self, kind, sources, taken, level, self.engine)

    def commit(self, job: MergeJob) -> None:
        """Swap a built job's slab in for its sources (call with the index lock held).

        Rows killed while the job ran are dead in the sources' live masks; the new slab's
        mask is recomputed from them here, so no delete or overwrite is lost.
        """
        for slab in job.sources:
            slab.claimed = False
        self._in_flight -= 1
        sources = {id(s) for s in job.sources}
        if not sources <= {id(s) for s in self.slabs}:  # delete_all or a newer job replaced them
            self._log(job.record("abandoned"))
            return
        if job.error is not None:  # the sources stay; they are not merged again until a compaction
            for slab in job.sources:
                slab.error = f"{type(job.error).__name__}: {job.error}"
            record = job.record("failed")
            self.unreported_failures.append(record)
            self._log(record)
            return
        alive = np.concatenate([s.alive[t] for s, t in zip(job.sources, job.taken)])
        died = int(alive.size - np.count_nonzero(alive))
        added: list[Slab] = []
        if job.result is not None:
            job.result.alive = alive
            if job.result.live_rows():
                added.append(job.result)
        position = next(i for i, s in enumerate(self.slabs) if id(s) in sources)
        kept = [s for s in self.slabs if id(s) not in sources]
        self.slabs = kept[:position] + added + kept[position:]
        self.publish()
        self._log(job.record("done", died))
        self._changed(added, list(job.sources))

    def _log(self, record: MergeRecord) -> None:
        self.merges.append(record)

    def _changed(self, added: list[Slab], removed: list[Slab]) -> None:
        if self.on_slabs_changed is not None and (added or removed):
            self.on_slabs_changed(self)

    def live_count(self) -> int:
        return self.n_live
