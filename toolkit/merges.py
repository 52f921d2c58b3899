"""Merge jobs: build flushed slabs' indexes and merge slabs, off the write and read paths.

A job is planned under the write lock (it *claims* its source slabs and notes which of their
rows are alive), built without the lock (the expensive part: copying rows and running the
tier's builder), and committed under the lock again; the checkpoint it causes is written after
the lock is released. The commit recomputes the new slab's
live mask from the source slabs' current masks, which deletes and overwrites update in
place, so writes made during the build are never lost; it then swaps the new slab in for
its sources in one step, so a query sees either the sources or the result, never half.

One ``MergeWorker`` thread per shard runs the jobs of all its namespaces; it starts when
there is work and exits when there is none. With ``background_merges = false`` the
namespace runs the same jobs inline instead.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from .engine import SlabBuilder
from .engine_config import EngineConfig, TierConfig
from .segment import Rows, Slab

logger = logging.getLogger(__name__)

# Job kinds, in planning priority: an explicit request first, then flushed slabs, then merges.
REBUILD, COMPACT, BUILD, MERGE = "rebuild", "compact", "build", "merge"


class Namespace(Protocol):
    """What merges need of a namespace (namespace.py's ``Namespace``): plan, build and commit its jobs."""

    name: str
    metric: str
    engine: EngineConfig

    def make_builder(self, tier: TierConfig) -> SlabBuilder: ...

    def next_job(self) -> MergeJob | None: ...

    def commit(self, job: MergeJob) -> None: ...


@dataclass(frozen=True)
class MergeRecord:
    """What one job did: a row of ``Index.describe_merges()``."""

    namespace: str
    kind: str
    outcome: str  # "done", "abandoned" (its sources vanished, e.g. delete_all) or "failed"
    sources: tuple[int, ...]
    source_levels: tuple[int, ...]
    rows_in: int  # rows of the source slabs, dead ones included
    dropped_dead: int  # rows already dead when the job was planned (never copied)
    died_during_build: int  # rows killed while the job ran (re-applied at the swap)
    rows_out: int  # live rows of the new slab
    slab: int | None
    builder: str | None
    tier: int | None
    level: int
    queued_seconds: float
    build_seconds: float
    finished_at: float
    error: str | None = None


@dataclass(eq=False)
class MergeJob:
    """One planned rebuild of some slabs into one new slab."""

    namespace: Namespace
    kind: str
    sources: list[Slab]
    taken: list[np.ndarray]  # per source, the rows alive when planned: the rows to copy
    level: int
    engine: EngineConfig
    planned_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None
    result: Slab | None = None
    error: BaseException | None = None

    def run(self) -> None:
        """Copy the live rows and build the new slab's index (no lock held; never raises)."""
        self.started_at = time.perf_counter()
        try:
            parts = [
                source.rows if rows.size == len(source) else source.rows.take(rows)
                for source, rows in zip(self.sources, self.taken)
            ]
            rows = parts[0] if len(parts) == 1 else Rows.concat(parts)
            if not len(rows):
                return
            tier = self.engine.tier_for(len(rows))
            config = self.engine.tiers[tier]
            builder = self.namespace.make_builder(config)
            self.result = Slab.build(rows, builder, self.namespace.metric, tier, self.level, config.query)
        except Exception as exc:  # a failed build must not kill the worker; the slab stays exact
            logger.exception("%s job on namespace %r failed", self.kind, self.namespace.name)
            self.error = exc

    def record(self, outcome: str, died_during_build: int = 0) -> MergeRecord:
        rows_in = sum(len(s) for s in self.sources)
        kept = sum(int(t.size) for t in self.taken)
        result = self.result if outcome == "done" else None
        return MergeRecord(
            namespace=self.namespace.name,
            kind=self.kind,
            outcome=outcome,
            sources=tuple(s.number for s in self.sources),
            source_levels=tuple(s.level for s in self.sources),
            rows_in=rows_in,
            dropped_dead=rows_in - kept,
            died_during_build=died_during_build,
            rows_out=0 if result is None else result.live_rows(),
            slab=None if result is None else result.number,
            builder=None if result is None or result.builder is None else repr(result.builder),
            tier=None if result is None else result.tier,
            level=self.level,
            queued_seconds=(self.started_at or self.planned_at) - self.planned_at,
            build_seconds=0.0 if result is None else result.build_seconds,
            finished_at=time.time(),
            error=None if self.error is None else f"{type(self.error).__name__}: {self.error}",
        )


class MergeWorker:
    """Runs the merge jobs of one index's namespaces on a background thread."""

    def __init__(self, lock: threading.RLock, namespaces: Callable[[], Iterable[Namespace]], name: str,
                 after_commit: Callable[[], None] = lambda: None) -> None:
        self._lock = lock
        self._after_commit = after_commit  # runs with no lock held: the shard writes due checkpoints
        self._changed = threading.Condition(lock)
        self._namespaces = namespaces
        self._name = name
        self._thread: threading.Thread | None = None
        self._turn = 0  # round-robin start, so one busy namespace cannot starve the others
        self.running: MergeJob | None = None

    def submit(self) -> None:
        """Note that some namespace may have work; call it with the write lock held."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"merges-{self._name}", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """Wake the waiters so they check their condition again (e.g. a checkpoint was written)."""
        with self._changed:
            self._changed.notify_all()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def wait(self, timeout: float | None = None, until: Callable[[], bool] | None = None) -> bool:
        """Block until ``until()`` holds or the worker is idle; return False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._thread is None or (until is not None and until()), timeout)

    def _plan(self) -> MergeJob | None:
        namespaces = [ns for ns in self._namespaces() if ns.engine.background_merges]
        for i in range(len(namespaces)):
            ns = namespaces[(self._turn + i) % len(namespaces)]
            job = ns.next_job()
            if job is not None:
                self._turn += 1
                return job
        return None

    def _run(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._lock:
                    job = self._plan()
                    if job is None:  # decided under the lock, so a concurrent submit() starts a new thread
                        self._thread = None
                        self._changed.notify_all()
                        return
                    self.running = job
                job.run()
                with self._lock:
                    job.namespace.commit(job)
                    self.running = None
                self._after_commit()
                with self._lock:
                    self._changed.notify_all()
        except Exception:  # a bug in planning or committing: log it, never leave a waiter hanging
            logger.exception("merge worker of index %r stopped", self._name)
            with self._lock:
                if self._thread is me:
                    self._thread = None
                self.running = None
                self._changed.notify_all()


def describe_records(records: Iterable[MergeRecord]) -> list[dict[str, Any]]:
    """Return the records as plain dicts (one DataFrame row each)."""
    return [record.__dict__.copy() for record in records]
