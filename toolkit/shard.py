"""Shard: the single owner of a set of namespaces — their LSN clocks, writes, merges, freshness.

Every write goes through one funnel: ``commit(namespace, op)`` takes the write lock, assigns
the namespace's next LSN, appends the op to the namespace's journal, applies it (or queues it,
in eventual mode) and releases the lock; ``sync(committed)`` then waits for the journal's
fsync. ``op`` is an ``Op`` (journal.py), or a resolver — a function of the namespace's
current view, called under the lock after eventual-mode writes are caught up, that returns
the op to log (an update resolves to the ``Upsert`` of the record it produces) or None to
write nothing.

Lock rules (docs/architecture.md):
* the write lock orders writers, merge commits and the freshness builder; it is never held
  across file I/O but the journal's buffered append (no slab, npz, manifest or fsync);
* readers take no lock: ``view(namespace)`` returns the namespace's current immutable
  ``View``, which writers replace atomically after every change;
* checkpoints (slab files, masks, manifest) are captured under the write lock and written
  after it is released, one namespace at a time under that namespace's checkpoint lock,
  never older after newer.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, Protocol, Sequence, TypeVar, Union

import numpy as np

from .engine import SlabBuilder
from .engine_config import EngineConfig, TierConfig
from .errors import DeadlineExceededError, InternalError, UnavailableError
from .filters import Filter
from .freshness import IndexBuilder, check_freshness
from .index_config import IndexConfig
from .journal import Checkpoint, Delete, DeleteAll, Journal, NamespaceJournal, Op, Ticket, Upsert, apply_op
from .lsn import Lsn
from .merges import COMPACT, REBUILD, MergeRecord, MergeWorker
from .namespace import Namespace
from .scoring import Query
from .segment import Rows
from .view import BatchHits, Candidate, SearchStats, View

Resolver = Callable[[Union[View, None]], Union[Op, None]]
_POLL_SECONDS = 0.005
T = TypeVar("T")


@dataclass(frozen=True)
class Read(Generic[T]):
    """A read's answer, with the facts of the one snapshot it was taken from."""

    value: T
    max_indexed_lsn: Lsn  # the highest LSN the answer reflects
    total_bytes: int  # the namespace's billed size then (the query cost basis)


@dataclass(frozen=True)
class RecordQuery:
    """Query with the stored vector of this record (from the same snapshot as the search)."""

    id: str


@dataclass(frozen=True)
class Committed:
    """What a write did: its LSN (None: nothing was written) and what it replaced, for metering."""

    namespace: str
    op: Op | None
    lsn: Lsn | None = None
    replaced: int = 0  # live records the write overwrote or deleted
    replaced_bytes: int = 0  # their billed bytes
    ticket: Ticket | None = None
    journal: NamespaceJournal | None = None


class Shard(Protocol):
    """What an ``Index`` needs from the owner of its namespaces."""

    def commit(self, namespace: str, op: Op | Resolver) -> Committed: ...

    def sync(self, committed: Committed) -> None: ...

    def view(self, namespace: str, *, fresh: bool = False) -> View | None: ...

    def views(self, *, consistent: bool = False) -> dict[str, View]: ...

    def lsns(self, namespace: str | None) -> tuple[int, int]: ...

    def search(self, namespace: str, query: Query | RecordQuery, k: int, compiled: Filter | None, *,
               negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
               ) -> Read[tuple[list[Candidate], SearchStats] | None] | None: ...

    def search_batch(self, namespace: str, queries: np.ndarray, k: int, compiled: Filter | None, *,
                     negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                     ) -> Read[BatchHits] | None: ...

    def fetch(self, namespace: str, ids: Sequence[str]) -> Read[dict[str, tuple[Rows, int]]] | None: ...

    def list_page(self, namespace: str, prefix: str, after: str | None, limit: int
                  ) -> Read[tuple[list[str], bool]] | None: ...

    def counts(self) -> dict[str, int]: ...

    def create_namespace(self, namespace: str) -> bool: ...

    def fetch_matching(self, namespace: str, compiled: Filter | None, after: str | None, limit: int, *,
                       negation_requires_field: bool) -> Read[tuple[dict[str, tuple[Rows, int]], bool]] | None: ...

    def drop_namespace(self, namespace: str) -> int | None: ...


@dataclass(eq=False)
class _Entry:
    """A namespace, its journal and the lock that orders its checkpoints."""

    ns: Namespace
    journal: NamespaceJournal
    checkpoint_lock: threading.Lock = field(default_factory=threading.Lock)
    written_seq: int = -1


class LocalShard:
    """All namespaces of one index in this process, made durable through ``journal``."""

    def __init__(self, config: IndexConfig, builders: Mapping[str, type[SlabBuilder]], journal: Journal) -> None:
        self.config = config
        self._builders = builders
        self._journal = journal
        self._write = threading.RLock()
        self._entries: dict[str, _Entry] = {}  # replaced, never changed in place: readers read it unlocked
        self._due: dict[str, tuple[_Entry, Checkpoint]] = {}
        self._checkpointing = 0  # checkpoints taken off _due and still being written
        self._seq = itertools.count()
        self._freshness: IndexBuilder | None = None
        self._merges = MergeWorker(self._write, self.namespaces, config.name, after_commit=self.write_checkpoints)
        self._recover()

    @property
    def name(self) -> str:
        return self.config.name

    # -- namespaces --------------------------------------------------------------------------
    def _make_builder(self, tier: TierConfig) -> SlabBuilder:
        return self._builders[tier.builder](**dict(tier.build))

    def _new_namespace(self, name: str) -> Namespace:
        return Namespace(name, metric=self.config.metric, dimension=self.config.dimension,
                         sparse_index=self.config.vector_type == "sparse", engine=self.config.engine,
                         make_builder=self._make_builder, worker=self._merges)

    def _adopt(self, ns: Namespace, journal: NamespaceJournal) -> _Entry:
        entry = _Entry(ns, journal)
        ns.on_slabs_changed = lambda changed: self._checkpoint_due(entry)
        self._entries = {**self._entries, ns.name: entry}
        return entry

    def _recover(self) -> None:
        """Restore the namespaces the journal holds: slabs and masks, then the log tail."""
        tiers = len(self.config.engine.tiers)
        for recovered in self._journal.recover(self._builders, tiers):
            with self._write:  # replayed flushes may start the merge worker, which commits under this lock
                ns = self._new_namespace(recovered.name)
                self._adopt(ns, recovered.journal)
                hook, ns.on_slabs_changed = ns.on_slabs_changed, None  # replay: the slabs are stored already
                ns.restore(recovered.slabs, recovered.checkpoint_lsn)
                for lsn, op in recovered.tail:
                    apply_op(ns, lsn, op)
                ns.last_lsn = recovered.tail[-1][0] if recovered.tail else recovered.checkpoint_lsn
                ns.on_slabs_changed = hook
                if self.writable and any(slab.index is None and slab.error is None for slab in ns.slabs):
                    ns.run_jobs()  # build the indexes of slabs persisted before their build finished
            self.write_checkpoints()

    @property
    def writable(self) -> bool:
        try:
            self._journal.check_writable()
        except UnavailableError:  # read-only, or closed
            return False
        return True

    def check_writable(self) -> None:
        """Raise UnavailableError if this shard's storage refuses writes."""
        self._journal.check_writable()

    def namespaces(self) -> list[Namespace]:
        """Return the write-side namespaces (for the merge worker; call with or without the lock)."""
        return [entry.ns for entry in self._entries.values()]

    # -- the commit funnel -------------------------------------------------------------------
    def commit(self, namespace: str, op: Op | Resolver) -> Committed:
        """Log and apply one write to ``namespace`` under its next LSN; ``sync`` the result.

        An ``Upsert`` creates a missing namespace; any other write to a missing namespace
        (and a resolver returning None) writes nothing and takes no LSN. Nothing changes
        when the journal refuses the write or a resolver raises.
        """
        with self._write:
            entry = self._entries.get(namespace)
            if not isinstance(op, (Upsert, Delete, DeleteAll)) and callable(op):
                if entry is not None:
                    self._catch_up(entry.ns)
                resolved = op(None if entry is None else entry.ns.view)
                if resolved is None:
                    return Committed(namespace, None)
                op = resolved
            if entry is None:
                if not isinstance(op, Upsert):
                    return Committed(namespace, None)
                entry = self._adopt(self._new_namespace(namespace), self._journal.open_namespace(namespace))
            ns = entry.ns
            replaced, replaced_bytes = _replaced(ns, op)
            lsn = Lsn(ns.last_lsn + 1)
            ticket = entry.journal.append(lsn, op)
            ns.next_lsn()
            if self._freshness is None:
                apply_op(ns, lsn, op)
            else:
                self._freshness.submit(ns, lsn, op)
        self.write_checkpoints()
        return Committed(namespace, op, lsn, replaced, replaced_bytes, ticket, entry.journal)

    def sync(self, committed: Committed) -> None:
        """Return once the committed write is durable (the fsync, shared by concurrent writers)."""
        if committed.journal is not None and committed.ticket is not None:
            committed.journal.sync(committed.ticket)

    def create_namespace(self, namespace: str) -> bool:
        """Create an empty namespace and its storage; return False (and change nothing) if it exists.

        It takes no LSN (no record is written); storage keeps the empty namespace across a reopen.
        """
        with self._write:
            if namespace in self._entries:
                return False
            journal = self._journal.open_namespace(namespace)  # may refuse
            self._adopt(self._new_namespace(namespace), journal)
        journal.sync(None)  # durable before it is acknowledged, like a write (outside the lock)
        return True

    def drop_namespace(self, namespace: str) -> int | None:
        """Delete a namespace and its storage; return its live record count (None: no such namespace)."""
        with self._write:
            entry = self._entries.get(namespace)
            if entry is None:
                return None
            with entry.checkpoint_lock:
                entry.journal.drop()  # may refuse (read-only)
            if self._freshness is not None:
                self._freshness.discard(entry.ns)
            entry.ns.on_slabs_changed = None
            self._entries = {k: v for k, v in self._entries.items() if k != namespace}
            self._due.pop(namespace, None)
            return entry.ns.live_count()

    # -- checkpoints ---------------------------------------------------------------------------
    def _checkpoint_due(self, entry: _Entry) -> None:
        """Capture a namespace's slab set for the journal (under the write lock; cheap)."""
        ns = entry.ns
        state = Checkpoint(ns.name, next(self._seq), ns.metric, tuple(ns.slabs), tuple(s.alive for s in ns.slabs),
                           ns.max_indexed_lsn if ns.memtable.live_count() == 0 else None, self.config)
        self._due[ns.name] = (entry, state)

    def write_checkpoints(self) -> None:
        """Write the captured checkpoints (call with no lock held)."""
        while True:
            with self._write:
                if not self._due:
                    return
                _, (entry, state) = self._due.popitem()
                self._checkpointing += 1
            try:
                with entry.checkpoint_lock:
                    if state.seq > entry.written_seq:
                        entry.journal.checkpoint(state)
                        entry.written_seq = state.seq
            finally:
                with self._write:
                    self._checkpointing -= 1
                self._merges.notify()

    def _settled(self) -> bool:
        """Return True when every captured checkpoint is written (call with the write lock held)."""
        return not self._due and not self._checkpointing

    # -- reads ---------------------------------------------------------------------------------
    def view(self, namespace: str, *, fresh: bool = False) -> View | None:
        """Return the namespace's current view (``fresh``: apply its queued writes first)."""
        if fresh and self._freshness is not None:
            with self._write:
                entry = self._entries.get(namespace)
                if entry is not None:
                    self._catch_up(entry.ns)
        entry = self._entries.get(namespace)
        return None if entry is None else entry.ns.view

    def views(self, *, consistent: bool = False) -> dict[str, View]:
        """Return every namespace's view (``consistent``: all taken at one moment, under the write lock)."""
        if consistent:
            with self._write:
                return {name: entry.ns.view for name, entry in self._entries.items()}
        return {name: entry.ns.view for name, entry in self._entries.items()}

    def search(self, namespace: str, query: Query | RecordQuery, k: int, compiled: Filter | None, *,
               negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
               ) -> Read[tuple[list[Candidate], SearchStats] | None] | None:
        """Return the best ``k`` live matches, best first (None: no namespace; value None: no such record)."""
        view = self.view(namespace)
        if view is None:
            return None
        if isinstance(query, RecordQuery):
            found = view.find([query.id]).get(query.id)
            if found is None:
                return Read(None, view.max_indexed_lsn, view.total_bytes)
            rows, row = found
            query = Query(None, rows.sparse.row(row)) if rows.dense is None else Query(rows.dense[row], None)
        hits = self._search_view(view, query, k, compiled, negation_requires_field=negation_requires_field,
                                 strategy=strategy, query_params=query_params)
        return Read(hits, view.max_indexed_lsn, view.total_bytes)

    def search_batch(self, namespace: str, queries: np.ndarray, k: int, compiled: Filter | None, *,
                     negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                     ) -> Read[BatchHits] | None:
        """Return ``search`` of every row of ``queries`` (None: no namespace)."""
        view = self.view(namespace)
        if view is None:
            return None
        hits = self._search_view_batch(view, queries, k, compiled, negation_requires_field=negation_requires_field,
                                       strategy=strategy, query_params=query_params)
        return Read(hits, view.max_indexed_lsn, view.total_bytes)

    def _search_view(self, view: View, query: Query, k: int, compiled: Filter | None, *,
                     negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                     ) -> tuple[list[Candidate], SearchStats]:
        """Search one snapshot (the seam where a distributed shard searches its workers' slabs)."""
        return view.search(query, k, compiled, negation_requires_field=negation_requires_field, strategy=strategy,
                           query_params=query_params)

    def _search_view_batch(self, view: View, queries: np.ndarray, k: int, compiled: Filter | None, *,
                           negation_requires_field: bool, strategy: str, query_params: dict[str, Any]
                           ) -> BatchHits:
        """Search one snapshot with a batch of queries (the distributed shard's seam too)."""
        return view.search_batch(queries, k, compiled, negation_requires_field=negation_requires_field,
                                 strategy=strategy, query_params=query_params)

    def fetch(self, namespace: str, ids: Sequence[str]) -> Read[dict[str, tuple[Rows, int]]] | None:
        """Return the live row of each existing id (None: no namespace)."""
        view = self.view(namespace)
        return None if view is None else Read(view.find(ids), view.max_indexed_lsn, view.total_bytes)

    def fetch_matching(self, namespace: str, compiled: Filter | None, after: str | None, limit: int, *,
                       negation_requires_field: bool) -> Read[tuple[dict[str, tuple[Rows, int]], bool]] | None:
        """Return one page of matching records: their live rows and whether more remain (None: no namespace).

        The page is the first ``limit`` ids after ``after`` (bytewise order) whose metadata
        matches ``compiled`` (None: every record), all read from one view.
        """
        view = self.view(namespace)
        if view is None:
            return None
        if compiled is None or compiled.matches_all:
            page, more = view.list_page("", after, limit)
        else:
            page, more = view.matching_page(compiled, after, limit, negation_requires_field)
        found = view.find(page)
        return Read(({i: found[i] for i in page if i in found}, more), view.max_indexed_lsn, view.total_bytes)

    def list_page(self, namespace: str, prefix: str, after: str | None, limit: int
                  ) -> Read[tuple[list[str], bool]] | None:
        """Return up to ``limit`` ids with ``prefix`` after ``after`` and whether more remain (None: no namespace)."""
        view = self.view(namespace)
        if view is None:
            return None
        return Read(view.list_page(prefix, after, limit), view.max_indexed_lsn, view.total_bytes)

    def counts(self) -> dict[str, int]:
        """Return every namespace's live record count."""
        return {name: view.live_count() for name, view in self.views().items()}

    def total_bytes(self, namespace: str) -> int:
        """Return the billed size of a namespace's live records (0 if it does not exist)."""
        view = self.view(namespace)
        return 0 if view is None else view.total_bytes

    def lsns(self, namespace: str | None) -> tuple[int, int]:
        """Return (newest committed LSN, highest LSN reads reflect) of a namespace, or maxima over all (None)."""
        entries = self._entries
        chosen = list(entries.values()) if namespace is None else [e for e in (entries.get(namespace),) if e]
        return (max((int(e.ns.last_lsn) for e in chosen), default=0),
                max((int(e.ns.view.max_indexed_lsn) for e in chosen), default=0))

    # -- freshness -----------------------------------------------------------------------------
    @property
    def consistency(self) -> str:
        return "strong" if self._freshness is None else "eventual"

    @property
    def apply_delay(self) -> float:
        return 0.0 if self._freshness is None else self._freshness.apply_delay

    def set_consistency(self, consistency: str, apply_delay: float | None = None) -> None:
        """Switch to "strong" or "eventual" consistency (writes applied ``apply_delay`` s after their ack)."""
        mode, delay = check_freshness(consistency, self.apply_delay if apply_delay is None else apply_delay)
        with self._write:
            if mode == "strong":
                if self._freshness is not None:
                    self._freshness.drain()
                self._stop_freshness()
            elif self._freshness is None:
                self._freshness = IndexBuilder(self._write, self.name, delay, after_apply=self.write_checkpoints)
            else:
                self._freshness.apply_delay = delay
        self.write_checkpoints()

    def _stop_freshness(self) -> None:
        builder, self._freshness = self._freshness, None
        if builder is not None:
            builder.stop()

    def _catch_up(self, ns: Namespace) -> None:
        if self._freshness is not None:
            self._freshness.drain(ns)

    def wait_for_lsn(self, lsn: int, namespace: str, timeout: float | None) -> int:
        """Block until reads of ``namespace`` reflect LSN ``lsn``; return its max_indexed_lsn."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            entry = self._entries.get(namespace)
            reached = 0 if entry is None else int(entry.ns.view.max_indexed_lsn)
            if reached >= lsn:
                return reached
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError(
                    f"namespace {namespace!r} of index {self.name!r} reflects LSN {reached}, not yet {lsn}, "
                    f"after {timeout} s", path="lsn")
            step = _POLL_SECONDS * 10 if remaining is None else min(_POLL_SECONDS * 10, remaining)
            builder = self._freshness
            if builder is not None:
                builder.wait(step)
            else:
                time.sleep(min(step, _POLL_SECONDS))

    # -- flush and merges ----------------------------------------------------------------------
    def _targets(self, namespace: str | None) -> list[Namespace]:
        entries = self._entries
        if namespace is None:
            return [e.ns for e in entries.values()]
        entry = entries.get(namespace)
        return [] if entry is None else [entry.ns]

    def flush(self, namespace: str | None, wait: bool) -> None:
        """Move memtables into slabs now (every namespace, or one); ``wait`` for their index builds."""
        with self._write:
            targets = self._targets(namespace)
            for ns in targets:
                ns.flush()
        self.write_checkpoints()
        if wait:  # until no slab of these namespaces waits for its index (merges may go on)
            self._merges.wait(until=lambda: self._settled() and all(
                s.index is not None or (s.error is not None and not s.claimed) for ns in targets for s in ns.slabs))
            self.raise_failures()

    def request(self, kind: str, namespace: str | None) -> tuple[list[Namespace], Callable[[], int]]:
        """Flush and ask for a compaction or rebuild; return the targets and a count of those done."""
        if kind not in (COMPACT, REBUILD):
            raise InternalError(f"unknown request {kind!r}")
        with self._write:
            targets = self._targets(namespace)
            for ns in targets:
                ns.flush()
                ns.request(kind)
        self.write_checkpoints()
        return targets, lambda: sum(not ns.has_work for ns in targets)

    @property
    def merges_busy(self) -> bool:
        """Return True while the background merge worker runs."""
        return self._merges.busy

    def wait_merges(self, timeout: float | None, until: Callable[[], bool] | None = None) -> bool:
        """Block until ``until()`` holds or no job is queued or running; return False on timeout."""
        if until is None:
            namespaces = self.namespaces()
            until = lambda: not any(ns.has_work for ns in namespaces)  # noqa: E731
        done = until
        return self._merges.wait(timeout, until=lambda: self._settled() and done())

    def raise_failures(self) -> None:
        """Raise InternalError for background builds that failed since the last call."""
        with self._write:
            failures = [f for ns in self.namespaces() for f in ns.unreported_failures]
            for ns in self.namespaces():
                ns.unreported_failures.clear()
        if failures:
            raise InternalError("; ".join(f"{f.kind} of slabs {list(f.sources)} in namespace {f.namespace!r} "
                                          f"failed: {f.error}" for f in failures))

    def set_engine(self, engine: EngineConfig) -> None:
        """Make ``engine`` the engine of the index and of every namespace (new slabs use it)."""
        with self._write:
            self.config = dataclasses.replace(self.config, engine=engine)
            for ns in self.namespaces():
                ns.engine = engine
                ns.publish()
            self._journal.config_changed(self.config)

    def set_spec(self, spec: Mapping[str, Any]) -> None:
        """Replace the index's ``spec`` (an integrated index's ``embed`` rides there); persisted like the engine."""
        with self._write:
            self.config = dataclasses.replace(self.config, spec=dict(spec))
            self._journal.config_changed(self.config)

    def merge_records(self) -> list[MergeRecord]:
        """Return every finished job's record, oldest first."""
        with self._write:
            return sorted((r for ns in self.namespaces() for r in ns.merges), key=lambda r: r.finished_at)

    def slab_rows(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """Return one description per slab and one per memtable, by namespace name."""
        with self._write:
            entries = sorted(self._entries.items())
            slabs = [{"namespace": name, **slab.describe()} for name, e in entries for slab in e.ns.slabs]
            memtables = [{"namespace": name, "memtable_rows": len(e.ns.memtable),
                          "memtable_live_rows": e.ns.memtable.live_count()} for name, e in entries]
        return slabs, memtables

    # -- lifecycle -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the freshness builder (queued writes stay in the log)."""
        with self._write:
            self._stop_freshness()

    def close(self) -> None:
        """Stop background work and close the journal."""
        self.stop()
        self.write_checkpoints()
        with self._write:
            self._journal.close()


def _replaced(ns: Namespace, op: Op) -> tuple[int, int]:
    """Return (count, billed bytes) of the live records ``op`` overwrites or deletes."""
    ids: Sequence[str]
    if isinstance(op, Upsert):
        ids = op.batch.ids
    elif isinstance(op, Delete):
        ids = op.ids
    elif isinstance(op, DeleteAll):
        return ns.live_count(), ns.total_bytes
    else:
        return 0, 0
    return ns.replaced(ids)
