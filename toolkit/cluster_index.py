"""ClusterIndex: the ``Index`` of a client with ``cluster=``, whose reads may opt in to partial results.

It is ``Index`` with one more keyword on ``query``, ``query_batch`` and ``fetch``:
``allow_partial=True`` answers from the slabs that live workers hold when some slab is on no
live worker (instead of raising ``UnavailableError``), and sets ``response.partial`` to the
``PartialResults`` saying which slabs, and which of their records, were left out (None when
nothing was).
"""

from __future__ import annotations

from typing import Any

from .cluster_partial import partial_results
from .index import Index
from .responses import FetchResponse, QueryBatchResponse, QueryResponse

__all__ = ["ClusterIndex"]


class ClusterIndex(Index):
    """An ``Index`` whose slabs live on a Dask cluster (``toolkit.Client(cluster=...)``)."""

    def query(self, *args: Any, allow_partial: bool = False, **kwargs: Any) -> QueryResponse:
        """``Index.query``; with ``allow_partial``, answer without slabs on no live worker and flag it."""
        if not allow_partial:
            return super().query(*args, **kwargs)
        with partial_results() as report:
            response = super().query(*args, **kwargs)
        response.partial = report if report else None
        return response

    def query_batch(self, *args: Any, allow_partial: bool = False, **kwargs: Any) -> QueryBatchResponse:
        """``Index.query_batch``; with ``allow_partial``, answer without slabs on no live worker and flag it."""
        if not allow_partial:
            return super().query_batch(*args, **kwargs)
        with partial_results() as report:
            response = super().query_batch(*args, **kwargs)
        response.partial = report if report else None
        return response

    def fetch(self, *args: Any, allow_partial: bool = False, **kwargs: Any) -> FetchResponse:
        """``Index.fetch``; with ``allow_partial``, leave out records on no live worker and flag it."""
        if not allow_partial:
            return super().fetch(*args, **kwargs)
        with partial_results() as report:
            response = super().fetch(*args, **kwargs)
        response.partial = report if report else None
        return response
