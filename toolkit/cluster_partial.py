"""Partial results: opt in to answers that leave out slabs no live worker holds, and say which.

By default a cluster index whose slab is on no live worker (a worker died and, in memory
mode, took the only copy; or it is being reloaded) refuses reads of that namespace with
``UnavailableError`` (HTTP 503, gRPC UNAVAILABLE when served). Inside ``partial_results()`` —
or with ``index.query(..., allow_partial=True)`` — reads answer from the slabs that are there,
and every slab left out is recorded as a ``MissingSlab``; the query's response carries them in
``response.partial``. Served (``toolkit serve --scheduler ...``), a caller asks with
``"allowPartial": true`` in a query's body, ``?allowPartial=true`` on a fetch, or the gRPC
metadata ``x-toolkit-allow-partial: true``; a partial answer then carries the header (gRPC:
initial metadata) ``x-toolkit-partial`` (the number of live records left out) and, over REST,
a ``"partial"`` object in the body (``to_wire``).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Any, ContextManager, Iterator

import numpy as np

__all__ = ["MissingSlab", "PartialResults", "partial_results", "partial_if", "current", "to_wire",
           "headers_of", "PARTIAL_HEADER", "ALLOW_PARTIAL_METADATA"]

PARTIAL_HEADER = "x-toolkit-partial"  # on a partial answer: the number of live records it left out
ALLOW_PARTIAL_METADATA = "x-toolkit-allow-partial"  # gRPC request metadata: "true" asks for partial answers


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


def partial_if(allowed: bool) -> ContextManager[PartialResults | None]:
    """Return ``partial_results()`` when ``allowed``, else a block that yields None (reads refuse)."""
    return partial_results() if allowed else contextlib.nullcontext(None)


def to_wire(report: PartialResults) -> dict[str, Any]:
    """Return what a served answer says of a partial read (JSON-able; record ids are not listed)."""
    return {"missingRecords": sum(m.live_rows for m in report.missing),
            "missingSlabs": [{"namespace": m.namespace, "slab": m.slab, "worker": m.worker, "liveRows": m.live_rows}
                             for m in report.missing]}


def headers_of(report: PartialResults | None) -> dict[str, str]:
    """Return the header a partial answer carries (none for a complete one)."""
    return {PARTIAL_HEADER: str(sum(m.live_rows for m in report.missing))} if report else {}
