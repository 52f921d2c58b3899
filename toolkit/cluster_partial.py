"""Partial results: opt in to answers that leave out slabs no live worker holds, and say which.

By default a cluster index whose slab is on no live worker (a worker died and, in memory
mode, took the only copy; or it is being reloaded) refuses reads of that namespace with
``UnavailableError``. Inside ``partial_results()`` — or with ``index.query(...,
allow_partial=True)`` — reads answer from the slabs that are there, and every slab left out
is recorded as a ``MissingSlab``; the query's response carries them in ``response.partial``.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

__all__ = ["MissingSlab", "PartialResults", "partial_results", "current"]


@dataclass(frozen=True)
class MissingSlab:
    """One slab a read left out: where it was, how many live records it held, and their ids."""

    index: str
    namespace: str
    slab: int
    worker: str | None  # the worker that held it last (None: never placed)
    live_rows: int
    ids: tuple[str, ...] = field(repr=False)  # the live records of the slab (what the answer could not see)


@dataclass
class PartialResults:
    """What the reads of one ``partial_results()`` block left out (empty: every answer was complete)."""

    missing: list[MissingSlab] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing)

    @property
    def missing_ids(self) -> set[str]:
        """Return the ids of every live record left out."""
        return {record_id for slab in self.missing for record_id in slab.ids}

    def add(self, index: str, namespace: str, slab: int, worker: str | None, ids: np.ndarray) -> None:
        if not any(m.index == index and m.namespace == namespace and m.slab == slab for m in self.missing):
            self.missing.append(MissingSlab(index, namespace, slab, worker, int(ids.size), tuple(ids.tolist())))


_CURRENT: contextvars.ContextVar[PartialResults | None] = contextvars.ContextVar("toolkit_partial_results",
                                                                                 default=None)


def current() -> PartialResults | None:
    """Return the report of the innermost ``partial_results()`` block (None: outside any, reads refuse)."""
    return _CURRENT.get()


@contextlib.contextmanager
def partial_results() -> Iterator[PartialResults]:
    """Let the cluster reads in this block answer without missing slabs; yield what they left out."""
    report = PartialResults()
    token = _CURRENT.set(report)
    try:
        yield report
    finally:
        _CURRENT.reset(token)
