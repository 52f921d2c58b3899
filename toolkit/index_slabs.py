"""Slab controls of an index: flush, compact, rebuild, merge waits and slab/merge descriptions.

These are research extensions the reference service does not expose; experiments need them
to place data in slabs deterministically and to see what the tiers and merges did.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd
from tqdm.auto import tqdm

from .engine_config import EngineConfig, check_engine
from .errors import InternalError
from .identifiers import canonical_namespace
from .merges import COMPACT, REBUILD, MergeRecord, describe_records

if TYPE_CHECKING:
    from .namespace import Namespace


class IndexSlabsMixin:
    """Adds flush/compact/rebuild, ``wait_for_merges`` and ``describe_slabs``/``describe_merges`` to ``Index``."""

    def _targets(self, namespace: str | None) -> list[Namespace]:
        with self._lock:
            if namespace is None:
                return list(self._namespaces.values())
            ns = self._namespace(canonical_namespace(namespace))
            return [] if ns is None else [ns]

    def flush(self, namespace: str | None = None, wait: bool = True) -> None:
        """Move the memtable into slabs now (every namespace, or one); ``wait`` for their index builds."""
        with self._lock:
            targets: Sequence[Namespace] = self._targets(namespace)
            for ns in targets:
                ns.flush()
        if wait:  # until no slab of these namespaces waits for its index (merges may go on)
            self._merges.wait(until=lambda: all(s.index is not None or (s.error is not None and not s.claimed)
                                                for ns in targets for s in ns.slabs))
            self._raise_failures()

    def compact(self, namespace: str | None = None, show_progress: bool = True) -> None:
        """Flush, then merge every slab into one, dropping dead rows; wait until done."""
        self._request_all(COMPACT, namespace, show_progress)

    def rebuild(self, engine: Any = None, namespace: str | None = None, show_progress: bool = True) -> None:
        """Rebuild existing data with another engine (a name, mapping, TOML path; None: the current one).

        The new engine becomes the index's engine (new slabs use it too); every namespace is
        flushed and its slabs are merged into one slab built by the tier that fits its size.
        Queries keep being answered from the old slabs until the new one is swapped in.
        """
        if engine is not None:
            config = EngineConfig.parse(engine)
            check_engine(config, self._builders, self.config.metric, self.config.vector_type)
            with self._lock:
                self.config = dataclasses.replace(self.config, engine=config)
                for ns in self._namespaces.values():
                    ns.engine = config
        self._request_all(REBUILD, namespace, show_progress)

    def _request_all(self, kind: str, namespace: str | None, show_progress: bool) -> None:
        with self._lock:
            targets: Sequence[Namespace] = self._targets(namespace)
            for ns in targets:
                ns.flush()
                ns.request(kind)
        done = lambda: sum(not ns.has_work for ns in targets)  # noqa: E731
        with tqdm(total=len(targets), desc=f"{kind} {self.name}", unit="namespace",
                  disable=not show_progress or not self._merges.busy) as bar:
            while not self._merges.wait(timeout=0.5, until=lambda: done() == len(targets)):
                bar.update(done() - bar.n)
            bar.update(len(targets) - bar.n)
        self._raise_failures()

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        """Block until no flush build or merge is queued or running; return False on timeout.

        Raises InternalError if a background build failed since the last wait (the slabs
        involved stay searchable, by exact scan).
        """
        with self._lock:
            namespaces = list(self._namespaces.values())
        done = self._merges.wait(timeout, until=lambda: not any(ns.has_work for ns in namespaces))
        self._raise_failures()
        return done

    def _raise_failures(self) -> None:
        with self._lock:
            failures = [f for ns in self._namespaces.values() for f in ns.unreported_failures]
            for ns in self._namespaces.values():
                ns.unreported_failures.clear()
        if failures:
            raise InternalError("; ".join(f"{f.kind} of slabs {list(f.sources)} in namespace {f.namespace!r} "
                                          f"failed: {f.error}" for f in failures))

    def describe_slabs(self) -> pd.DataFrame:
        """Return one row per slab: builder, params, state, rows, live rows, LSN range, build time, bytes."""
        with self._lock:
            rows = [{"namespace": name, **slab.describe()} for name, ns in sorted(self._namespaces.items())
                    for slab in ns.slabs]
            memtables = [{"namespace": name, "memtable_rows": len(ns.memtable),
                          "memtable_live_rows": ns.memtable.live_count()}
                         for name, ns in sorted(self._namespaces.items())]
        frame = pd.DataFrame(rows, columns=["namespace", "slab", "builder", "params", "query_params", "state", "tier",
                                            "level", "rows", "live_rows", "min_lsn", "max_lsn", "build_seconds",
                                            "index_bytes", "vector_bytes"])
        frame.attrs["memtables"] = memtables
        return frame

    def describe_merges(self) -> pd.DataFrame:
        """Return one row per finished flush build, merge, compaction or rebuild, oldest first."""
        with self._lock:
            records = sorted((r for ns in self._namespaces.values() for r in ns.merges), key=lambda r: r.finished_at)
        return pd.DataFrame(describe_records(records), columns=[f.name for f in dataclasses.fields(MergeRecord)])

