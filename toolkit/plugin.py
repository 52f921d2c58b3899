"""The public plugin surface: everything an engine plugin needs, and nothing else.

Engine plugins import only from here (never from ``toolkit.scoring`` or ``toolkit.sparse``)::

    from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl

- the contract: ``SlabBuilder`` (build parameters = ``__init__`` keywords, capabilities as
  class attributes), ``SlabIndex`` (``search_one``/``search_many``, ``query_params``,
  ``can_save``), ``SlabData`` (the rows to index), ``NoQueryParams``;
- the values: ``Query``, ``SearchResult``, ``Sparse``, ``SparseRows``;
- the one exact kernel: ``ExactKernel`` (exact scores, exact top-k, re-scoring of an
  approximate engine's candidates) and the helpers it is made of (``top_candidates``,
  ``top_candidates_rows``, ``batch_chunk``, ``scores_to_keys``, ``ascending``);
- registration: ``hookimpl`` for ``register_slab_builders``;
- errors an engine raises for bad parameters: ``InvalidArgumentError``;
- ``work_counting``: how each registered engine counts its true work, for reports.
"""

from __future__ import annotations

from typing import Mapping

from .engine_files import positive_int, read_sidecar, write_sidecar
from .engine import NoQueryParams, SlabBuilder, SlabData, SlabIndex, query_param_defaults, query_param_names
from .errors import InvalidArgumentError, UnimplementedError
from .hookspecs import hookimpl
from .plugin_manager import PluginRegistrationError
from .scoring import (
    GATHER_BELOW,
    METRICS,
    SPARSE_ENTRY_BYTES,
    ExactKernel,
    Query,
    SearchResult,
    ascending,
    batch_chunk,
    scores_to_keys,
    top_candidates,
    top_candidates_rows,
)
from .sparse import Sparse, SparseRows

__all__ = [
    "positive_int",
    "read_sidecar",
    "write_sidecar",
    "ExactKernel",
    "GATHER_BELOW",
    "InvalidArgumentError",
    "METRICS",
    "NoQueryParams",
    "PluginRegistrationError",
    "Query",
    "SPARSE_ENTRY_BYTES",
    "SearchResult",
    "SlabBuilder",
    "SlabData",
    "SlabIndex",
    "Sparse",
    "SparseRows",
    "UnimplementedError",
    "ascending",
    "batch_chunk",
    "hookimpl",
    "query_param_defaults",
    "query_param_names",
    "scores_to_keys",
    "top_candidates",
    "top_candidates_rows",
    "work_counting",
]


def work_counting(builders: Mapping[str, type[SlabBuilder]]) -> dict[str, str]:
    """Return, per builder name, how that engine measures ``distance_computations`` and ``bytes_scanned``.

    Pass ``client.builders()``; a report prints this beside its true-work figures.
    """
    return {name: builder.work_counting for name, builder in sorted(builders.items())}
