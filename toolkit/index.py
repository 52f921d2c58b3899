"""Index: the façade of one index's data plane, with the reference SDK's method names and arguments.

Every public method validates its whole request before it changes anything, hands the
write to its shard's commit funnel (``LocalShard.commit`` then ``sync``) or reads the
namespace's current immutable view (no lock), meters read/write units into the ledger, and
answers with an SDK-shaped response that also carries the LSN facts (``lsn`` on writes,
``max_indexed_lsn`` on reads).

The larger request families live in their own modules and work through ``IndexOps``
(index_ops.py: write funnel, metering, parsing, filter cache): updates in index_updates.py;
delete_records, create_namespace and fetch_by_metadata in index_records.py. The methods here
are their façades (same names, signatures and docstrings).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import cost, index_records, index_updates
from .engine import SlabBuilder
from .engine_config import EngineConfig, check_engine
from .errors import InvalidArgumentError, NotFoundError
from .deletes import DeleteResponse
from .filters import Filter
from .identifiers import DEFAULT_NAMESPACE, canonical_namespace, check_record_id
from .imports import ImportModel, Imports, ListImportsResponse, StartImportResponse
from .index_config import IndexConfig
from .index_ops import IndexOps, stored_metadata, stored_values, stored_vector
from .journal import Delete, DeleteAll, Journal, MemoryJournal, Op, Upsert
from .merges import COMPACT, REBUILD, MergeRecord, describe_records
from .namespace import Namespace
from .pagination import decode_token, encode_token, follow_pages
from .records import (
    MAX_UPSERT_BYTES,
    RecordBatch,
    check_dense_matrix,
    check_query_vector,
    parse_records,
)
from .responses import (
    DescribeIndexStatsResponse,
    FetchByMetadataResponse,
    FetchResponse,
    ListItem,
    ListNamespacesResponse,
    ListResponse,
    NamespaceDescription,
    NamespaceSummary,
    Pagination,
    QueryBatchResponse,
    QueryResponse,
    ScoredVector,
    UpsertResponse,
    Usage,
    WriteResponse,
)
from .scoring import Query, ascending
from .settings import Settings
from .sdk_options import check_options, strict_keywords
from .shard import Committed, LocalShard, RecordQuery
from .sparse import check_sparse
from .view import FILTER_STRATEGIES, Candidate, View

MAX_IDS_PER_REQUEST = 1000


__all__ = ["Index", "IndexConfig"]


@strict_keywords
class Index:
    """A handle on one index's data; get it from ``client.Index(name)``."""

    def __init__(self, config: IndexConfig, settings: Settings, builders: Mapping[str, type[SlabBuilder]],
                 journal: Journal | None = None, cluster: Any = None) -> None:
        self.settings = settings
        self._builders = builders
        self._ledger = cost.UsageLedger()
        journal = MemoryJournal() if journal is None else journal
        self._shard: LocalShard
        if cluster is None:
            self._shard = LocalShard(config, builders, journal)
        else:  # a dask.distributed.Client: slabs held and searched on its workers (cluster.py)
            from .cluster import DistributedShard

            self._shard = DistributedShard(config, builders, journal, cluster)
        self._imports = Imports()
        self._ops = IndexOps(self._shard, settings, self._ledger)  # what index_updates/index_records work through

    @property
    def config(self) -> IndexConfig:
        """What the index was created with (its engine changes with ``rebuild(engine=...)``)."""
        return self._shard.config

    @property
    def _namespaces(self) -> dict[str, Namespace]:
        """The write-side namespaces by name (for tests and benchmarks that look inside)."""
        return {ns.name: ns for ns in self._shard.namespaces()}

    # -- helpers ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    def _record(self, operation: str, namespace: str, started: float, **fields: Any) -> None:
        self._ops.meter(operation, namespace, started, **fields)

    def _compile(self, filter: Any) -> Filter | None:
        """Return the compiled filter, from a cache keyed by the filter's order-insensitive identity."""
        return self._ops.compile(filter)

    def _check_ids(self, ids: Any, what: str) -> list[str]:
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise InvalidArgumentError(f"{what} must be a list of record ids", path="ids")
        ids = list(ids)
        if not 1 <= len(ids) <= MAX_IDS_PER_REQUEST:
            raise InvalidArgumentError(f"ids must hold 1 to {MAX_IDS_PER_REQUEST} ids, got {len(ids)}", path="ids")
        return [check_record_id(i, f"ids[{n}]") for n, i in enumerate(ids)]

    # -- writes ----------------------------------------------------------------------------
    def upsert(
        self,
        vectors: Iterable[Any],
        namespace: str | None = None,
        batch_size: int | None = None,
        show_progress: bool = True,
        **options: Any,
    ) -> UpsertResponse:
        """Insert or overwrite whole records; with ``batch_size`` send several requests.

        Each request is validated as a whole (≤1000 records, ≤2 MB) and either stored
        completely or rejected; the response carries the last request's LSN.
        """
        check_options("upsert", options)
        ns_name = canonical_namespace(namespace)
        if batch_size is None:
            return self._upsert_request(vectors, ns_name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}", path="batch_size")
        items = list(vectors)
        total, write_units, lsn = 0, 0, None
        starts = range(0, len(items), batch_size)
        for start in tqdm(starts, desc=f"upsert {self.name}", unit="batch", disable=not show_progress or len(starts) < 2):
            response = self._upsert_request(items[start : start + batch_size], ns_name)
            total += response.upserted_count
            write_units += response.usage.write_units or 0
            lsn = response.lsn
        return UpsertResponse(total, lsn, Usage(write_units=write_units))

    def _upsert_request(self, vectors: Iterable[Any], ns_name: str) -> UpsertResponse:
        started = time.perf_counter()
        batch = self._parse(vectors)
        done = self._write(ns_name, Upsert(batch))
        units = cost.write_units(int(batch.sizes.sum()), done.replaced_bytes)
        self._record("upsert", ns_name, started, write_units=units, records=len(batch), lsn=done.lsn)
        return UpsertResponse(len(batch), done.lsn, Usage(write_units=units))

    def _write(self, namespace: str, op: Any) -> Committed:
        """Commit one write through the shard's funnel and wait until it is durable."""
        return self._ops.write(namespace, op)

    def upsert_from_dataframe(
        self, df: pd.DataFrame, namespace: str | None = None, batch_size: int = 500, show_progress: bool = True
    ) -> UpsertResponse:
        """Upsert a DataFrame with columns id, values and optionally sparse_values and metadata."""
        missing = {"id", "values"} - set(df.columns) if self.config.vector_type == "dense" else {"id"} - set(df.columns)
        if missing:
            raise InvalidArgumentError(f"the DataFrame lacks column(s) {sorted(missing)}", path="df")
        if not isinstance(df, pd.DataFrame):
            raise InvalidArgumentError(f"df must be a pandas DataFrame, got {type(df).__name__}", path="df")
        columns = [c for c in ("id", "values", "sparse_values", "metadata") if c in df.columns]

        def absent(value: Any) -> bool:  # a missing cell: None, or the NaN pandas fills in
            return value is None or (isinstance(value, float) and value != value)

        records = [
            {k: v for k, v in zip(columns, row) if not (k in ("sparse_values", "metadata") and absent(v))}
            for row in df[columns].itertuples(index=False, name=None)
        ]
        return self.upsert(records, namespace=namespace, batch_size=batch_size, show_progress=show_progress)

    def update(
        self,
        id: str | None = None,
        values: Sequence[float] | np.ndarray | None = None,
        set_metadata: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        sparse_values: Any = None,
        filter: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        **options: Any,
    ) -> WriteResponse:
        """Replace values or sparse values and merge ``set_metadata`` into one record.

        An unknown id changes nothing. With ``filter`` (and no id) only ``set_metadata``
        is applied, to at most 100,000 matching records; ``dry_run`` only counts them.
        """
        check_options("update", options)
        return index_updates.update(self._ops, id, values, set_metadata, namespace, sparse_values, filter, dry_run)

    def _parse(self, records: Iterable[Any], max_request_bytes: int | None = MAX_UPSERT_BYTES) -> RecordBatch:
        """Validate records for this index (the upsert rules; update by filter lifts the 2 MB cap)."""
        return self._ops.parse(records, max_request_bytes)

    def delete(
        self,
        ids: Sequence[str] | None = None,
        delete_all: bool | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> WriteResponse:
        """Delete by ids, every record of the namespace (``delete_all``), or by metadata filter."""
        check_options("delete", options)
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        modes = [name for name, given in (("ids", ids is not None), ("delete_all", bool(delete_all)),
                                          ("filter", filter is not None)) if given]
        if len(modes) != 1:
            raise InvalidArgumentError(
                f"delete takes exactly one of ids, delete_all=True or filter; got {modes or 'none'}", path="delete"
            )
        if delete_all is not None and not isinstance(delete_all, bool):
            raise InvalidArgumentError("delete_all must be true or false", path="delete_all")
        compiled = None
        if filter is not None:
            if not self.settings.delete_by_filter:
                raise InvalidArgumentError("Serverless indexes do not support delete by metadata", path="filter")
            if not filter:
                raise InvalidArgumentError("delete by filter needs a non-empty filter", path="filter")
            compiled = self._compile(filter)
            if compiled is None or compiled.matches_all:  # e.g. {"$and": [{}]}: use delete_all=True
                raise InvalidArgumentError("delete by filter needs a filter that can exclude records; "
                                           "use delete_all=True to empty the namespace", path="filter")
        wanted = self._check_ids(ids, "ids") if ids is not None else None
        op: Op | Any
        if delete_all:
            op = DeleteAll()
        elif compiled is not None:
            matching = compiled

            def op(view: View | None) -> Op | None:  # runs in the funnel, after queued writes are applied
                if view is None:
                    return None
                return Delete(tuple(view.matching_ids(matching, self.settings.negation_requires_field)))
        else:
            assert wanted is not None
            op = Delete(tuple(wanted))
        done = self._write(ns_name, op)
        if done.lsn is None:  # deleting from a namespace that never existed changes nothing
            self._record("delete", ns_name, started, write_units=cost.MIN_WRITE_UNITS)
            return WriteResponse(None, Usage(write_units=cost.MIN_WRITE_UNITS))
        units = cost.DELETE_ALL_WRITE_UNITS if delete_all else cost.write_units(done.replaced_bytes)
        self._record("delete", ns_name, started, write_units=units, records=done.replaced, lsn=done.lsn)
        return WriteResponse(done.lsn, Usage(write_units=units))

    # -- reads -----------------------------------------------------------------------------
    def _check_top_k(self, top_k: Any) -> int:
        limit = self.settings.sparse_max_top_k if self.config.vector_type == "sparse" else self.settings.max_top_k
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= limit:
            raise InvalidArgumentError(f"top_k must be an integer between 1 and {limit}, got {top_k!r}", path="top_k")
        return int(top_k)

    def _build_query(self, vector: Any, sparse_vector: Any) -> Query:
        dense_index = self.config.vector_type == "dense"
        has_vector = vector is not None and not (hasattr(vector, "__len__") and len(vector) == 0 and not dense_index)
        dense = None
        if has_vector:
            if not dense_index:
                raise InvalidArgumentError("a sparse index is queried with sparse_vector, not vector", path="vector")
            dense = check_query_vector(vector, self.config.dimension or 0)
            if self.config.metric == "cosine" and not dense.any():
                raise InvalidArgumentError("a cosine query vector must contain at least one non-zero value",
                                           path="vector")
        sparse = None
        if sparse_vector is not None:
            if dense_index and self.config.metric != "dotproduct":
                raise InvalidArgumentError(
                    "sparse_vector queries need a dotproduct index; this index uses "
                    f"{self.config.metric}", path="sparse_vector",
                )
            if dense_index and dense is None:
                raise InvalidArgumentError(
                    "a dense index cannot run sparse-only queries; pass vector too (hybrid)", path="sparse_vector"
                )
            sparse = check_sparse(sparse_vector, self.settings.sparse_max_nnz, "sparse_vector")
        if dense is None and sparse is None:
            raise InvalidArgumentError("query needs vector, sparse_vector or id", path="query")
        return Query(dense, sparse)

    def query(
        self,
        *args: Any,
        top_k: int | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        id: str | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        sparse_vector: Any = None,
        filter_strategy: str = "auto",
        search_params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> QueryResponse:
        """Return the ``top_k`` records most similar to ``vector`` (or to record ``id``).

        Scores: cosine and dotproduct descending, squared euclidean ascending; ties by id.
        A filtered query returns exactly min(top_k, matching records) results.
        ``filter_strategy`` ("auto", "prefilter", "ann") and ``search_params`` (engine query
        parameters) are toolkit extensions for experiments.
        """
        check_options("query", options)
        if args:
            raise TypeError("query takes keyword arguments only, e.g. query(vector=[...], top_k=10)")
        started = time.perf_counter()
        k, ns_name = self._check_query_options(top_k, namespace, filter_strategy, include_values, include_metadata)
        if id is not None and (vector is not None or sparse_vector is not None):
            raise InvalidArgumentError("a query takes either id or vector/sparse_vector, not both", path="id")
        compiled = self._compile(filter)
        record_id = None if id is None else check_record_id(id, "id")
        target: Query | RecordQuery = (RecordQuery(record_id) if record_id is not None
                                       else self._build_query(vector, sparse_vector))
        read = self._shard.search(  # on one immutable snapshot: no lock is held while searching
            ns_name, target, k, compiled, negation_requires_field=self.settings.negation_requires_field,
            strategy=filter_strategy, query_params=dict(search_params or {}),
        )
        matches: list[Candidate] = []
        stats_work = (0, 0)
        if read is not None and read.value is not None:
            matches, stats = read.value
            stats_work = (stats.distance_computations, stats.bytes_scanned)
        elif record_id is not None and self.settings.query_unknown_id_raises:
            raise NotFoundError(f"no record with id {record_id!r} in this namespace", path="id")
        units = self._query_read_units(None if read is None else read.total_bytes)
        lsn = 0 if read is None else read.max_indexed_lsn
        if include_values or include_metadata:
            result = [self._scored(c, include_values, include_metadata) for c in matches]
        else:  # the common case: ids and scores only
            result = list(map(ScoredVector, [c.id for c in matches], [c.score for c in matches]))
        reported = cost.ceil_units(units)
        self._record("query", ns_name, started, read_units=units, read_units_reported=reported,
                     records=len(result), distance_computations=stats_work[0], bytes_scanned=stats_work[1])
        return QueryResponse(result, ns_name, Usage(read_units=reported), lsn)

    def query_batch(
        self,
        vectors: Any,
        top_k: int | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        filter_strategy: str = "auto",
        search_params: Mapping[str, Any] | None = None,
    ) -> QueryBatchResponse:
        """Run one dense ``query`` per row of ``vectors`` ((n, dimension) array-like or list of
        vectors) with one filter and one lock acquisition; return their responses in order, as
        a QueryBatchResponse (a sequence of QueryResponse, each built when first read).

        A toolkit extension (the reference API has no batch query): validation and errors
        are ``query``'s (a bad vector is named ``vectors[i]``), each response equals what
        ``query(vector=vectors[i], ...)`` returns (same ids and order; scores up to float32
        rounding of batched matrix products) and carries its own read units and
        ``max_indexed_lsn``. Metering bills n queries: the ledger gets one "query" entry per
        vector (its records, read units and work; ``seconds`` is the batch time / n).
        Dense indexes only: on a sparse index use ``query(sparse_vector=...)``.
        """
        started = time.perf_counter()
        if self.config.vector_type != "dense":
            raise InvalidArgumentError("query_batch takes dense vectors only; query a sparse index with "
                                       "query(sparse_vector=...), one request per query", path="vectors")
        k, ns_name = self._check_query_options(top_k, namespace, filter_strategy, include_values, include_metadata)
        compiled = self._compile(filter)
        queries = self._check_query_vectors(vectors)
        n = int(queries.shape[0])
        read = self._shard.search_batch(  # on one immutable snapshot: no lock is held while searching
            ns_name, queries, k, compiled, negation_requires_field=self.settings.negation_requires_field,
            strategy=filter_strategy, query_params=dict(search_params or {}))
        units = self._query_read_units(None if read is None else read.total_bytes)
        if read is None:
            self._ledger.record_batch(cost.LedgerEntry("query", ns_name, units, cost.ceil_units(units)),
                                      [0] * n, [0] * n, [0] * n, started)
            return QueryBatchResponse([], [], [0] * (n + 1), ns_name, Usage(read_units=cost.ceil_units(units)), 0)
        hits = read.value
        lsn = read.max_indexed_lsn
        bounds = hits.bounds
        matches = None
        if include_values or include_metadata:
            matches = [[self._scored(c, include_values, include_metadata) for c in hits.candidates(i)]
                       for i in range(n)]
        reported = cost.ceil_units(units)
        records = [b - a for a, b in zip(bounds, bounds[1:])]
        self._ledger.record_batch(cost.LedgerEntry("query", ns_name, units, reported), records,
                                  hits.distance_computations, hits.bytes_scanned, started)
        return QueryBatchResponse(hits.ids, hits.scores, bounds, ns_name, Usage(read_units=reported), lsn, matches)

    def _check_query_options(self, top_k: Any, namespace: Any, filter_strategy: Any, include_values: Any,
                             include_metadata: Any) -> tuple[int, str]:
        """Validate what ``query`` and ``query_batch`` share; return (top_k, namespace)."""
        k = self._check_top_k(top_k)
        ns_name = canonical_namespace(namespace)
        if filter_strategy not in FILTER_STRATEGIES:
            raise InvalidArgumentError(f"filter_strategy must be one of {FILTER_STRATEGIES}", path="filter_strategy")
        for flag, value in (("include_values", include_values), ("include_metadata", include_metadata)):
            if not isinstance(value, bool):
                raise InvalidArgumentError(f"{flag} must be true or false", path=flag)
        return k, ns_name

    def _check_query_vectors(self, vectors: Any) -> np.ndarray:
        """Validate a batch of dense query vectors (``query``'s rules per vector); return (n, d) float32."""
        if isinstance(vectors, (str, bytes, Mapping)) or not hasattr(vectors, "__len__") or (
                isinstance(vectors, np.ndarray) and vectors.ndim != 2):
            raise InvalidArgumentError("vectors must be a list of query vectors or an (n, dimension) array",
                                       path="vectors")
        if len(vectors) == 0:
            raise InvalidArgumentError("vectors must hold at least one query vector", path="vectors")
        queries = check_dense_matrix(vectors, self.config.dimension or 0, lambda i: f"vectors[{i}]")
        if self.config.metric == "cosine":
            zero = ~queries.any(axis=1)
            if zero.any():
                raise InvalidArgumentError("a cosine query vector must contain at least one non-zero value",
                                           path=f"vectors[{int(np.flatnonzero(zero)[0])}]")
        return np.ascontiguousarray(queries)

    def _query_read_units(self, total_bytes: int | None) -> float:
        if self.settings.query_read_units_override is not None:
            return float(self.settings.query_read_units_override)
        return cost.query_read_units(total_bytes or 0)

    @staticmethod
    def _scored(c: Candidate, include_values: bool, include_metadata: bool) -> ScoredVector:
        values, sparse_values = stored_values(c.rows, c.row) if include_values else ([], None)
        return ScoredVector(c.id, c.score, values, sparse_values,
                            stored_metadata(c.rows, c.row) if include_metadata else None)

    def query_namespaces(
        self,
        vector: Sequence[float] | np.ndarray | None,
        namespaces: Sequence[str],
        metric: str,
        top_k: int = 10,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        sparse_vector: Any = None,
        **options: Any,
    ) -> QueryResponse:
        """Query several namespaces, merge by ``metric`` and sum the read units (SDK helper)."""
        check_options("query_namespaces", options)
        if metric != self.config.metric:
            raise InvalidArgumentError(f"metric must be the index metric {self.config.metric!r}", path="metric")
        if isinstance(namespaces, str) or not namespaces:
            raise InvalidArgumentError("namespaces must be a non-empty list", path="namespaces")
        responses = [
            self.query(vector=vector, sparse_vector=sparse_vector, top_k=top_k, namespace=ns, filter=filter,
                       include_values=include_values, include_metadata=include_metadata)
            for ns in dict.fromkeys(namespaces)
        ]
        sign = 1 if ascending(metric) else -1
        merged = sorted((m for r in responses for m in r.matches), key=lambda m: (sign * m.score, m.id))[:top_k]
        units = sum(r.usage.read_units or 0 for r in responses)
        return QueryResponse(merged, "", Usage(read_units=units), max(r.max_indexed_lsn for r in responses))

    def fetch(self, ids: Sequence[str], namespace: str | None = None, **options: Any) -> FetchResponse:
        """Return the records with these ids; unknown ids are left out."""
        check_options("fetch", options)
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        wanted = self._check_ids(ids, "ids")
        read = self._shard.fetch(ns_name, wanted)
        found = {} if read is None else read.value
        vectors = {record_id: stored_vector(record_id, rows, row) for record_id, (rows, row) in found.items()}
        lsn = 0 if read is None else read.max_indexed_lsn
        units = cost.fetch_read_units(len(vectors))
        self._record("fetch", ns_name, started, read_units=units, read_units_reported=units, records=len(vectors))
        return FetchResponse(vectors, ns_name, Usage(read_units=units), lsn)

    def list_paginated(
        self,
        prefix: str | None = None,
        limit: int | None = None,
        pagination_token: str | None = None,
        namespace: str | None = None,
        **options: Any,
    ) -> ListResponse:
        """Return one page of ids with ``prefix``, sorted bytewise; ``pagination.next`` resumes."""
        check_options("list_paginated", options)
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a string", path="prefix")
        limit = min(self._check_limit(limit), self.settings.list_max_limit)
        after = None if pagination_token is None else decode_token(pagination_token, prefix)
        read = self._shard.list_page(ns_name, prefix or "", after, limit)
        page, more = ([], False) if read is None else read.value
        lsn = 0 if read is None else read.max_indexed_lsn
        pagination = Pagination(encode_token(page[-1], prefix)) if more and page else None
        self._record("list", ns_name, started, read_units=cost.LIST_READ_UNITS,
                     read_units_reported=cost.LIST_READ_UNITS, records=len(page))
        return ListResponse([ListItem(i) for i in page], pagination, ns_name,
                            Usage(read_units=cost.LIST_READ_UNITS), lsn)

    def _pages(self, prefix: str | None, limit: int | None, namespace: str | None,
               token: str | None) -> Iterator[list[str]]:
        return follow_pages(
            lambda t: self.list_paginated(prefix=prefix, limit=limit, pagination_token=t, namespace=namespace),
            lambda page: [[v.id for v in page.vectors]] if page.vectors else [], token)

    def list(self, prefix: str | None = None, limit: int | None = None, namespace: str | None = None,
             pagination_token: str | None = None, **options: Any) -> Iterator[list[str]]:
        """Yield pages of ids (lists of strings) with ``prefix``, until there are no more."""
        check_options("list", options)  # at the call, not at the first page
        return self._pages(prefix, limit, namespace, pagination_token)

    # -- namespaces and stats --------------------------------------------------------------
    def describe_index_stats(self, filter: Mapping[str, Any] | None = None, **options: Any) -> DescribeIndexStatsResponse:
        """Return record counts per namespace (empty namespaces are left out) and in total."""
        check_options("describe_index_stats", options)
        if filter is not None:
            raise InvalidArgumentError(
                "Serverless indexes do not support filtering describe_index_stats by metadata", path="filter"
            )
        counts = self._shard.counts()
        key = self.settings.default_namespace_stats_key
        namespaces = {
            (key if name == DEFAULT_NAMESPACE else name): NamespaceSummary(count)
            for name, count in sorted(counts.items()) if count
        }
        return DescribeIndexStatsResponse(
            namespaces, self.config.dimension, 0.0, sum(counts.values()), self.config.metric, self.config.vector_type
        )

    def _namespace_counts(self) -> dict[str, int]:
        """Return the record count of every listed namespace (empty ones only if settings keep them)."""
        return {name: count for name, count in sorted(self._shard.counts().items())
                if count or self.settings.keep_empty_namespaces}

    def _check_limit(self, limit: Any) -> int:
        return self._ops.check_limit(limit)

    def list_namespaces_paginated(
        self, limit: int | None = None, pagination_token: str | None = None, prefix: str | None = None, **options: Any
    ) -> ListNamespacesResponse:
        """Return one page of namespaces (with ``prefix``), sorted bytewise; ``total_count`` counts all pages."""
        check_options("list_namespaces_paginated", options)
        limit = self._check_limit(limit)
        prefix = prefix or None
        counts = self._namespace_counts()
        names = [n for n in counts if prefix is None or n.startswith(prefix)]
        total = len(names)
        if pagination_token is not None:
            after = decode_token(pagination_token, prefix)
            names = [n for n in names if n > after]
        page = names[:limit]
        described = [NamespaceDescription(n, counts[n]) for n in page]
        more = len(names) > limit and page
        return ListNamespacesResponse(described, Pagination(encode_token(page[-1], prefix)) if more else None, total)

    def list_namespaces(self, limit: int | None = None, **options: Any) -> Iterator[NamespaceDescription]:
        """Yield every namespace with its record count."""
        check_options("list_namespaces", options)  # at the call, not at the first page
        self._check_limit(limit)
        return self._namespace_pages(limit)

    def _namespace_pages(self, limit: int | None) -> Iterator[NamespaceDescription]:
        return follow_pages(lambda t: self.list_namespaces_paginated(limit=limit, pagination_token=t),
                            lambda page: page.namespaces)

    def describe_namespace(self, namespace: str, **options: Any) -> NamespaceDescription:
        """Return a namespace's record count; an unknown namespace is NotFound."""
        check_options("describe_namespace", options)
        name = canonical_namespace(namespace)
        count = self._shard.counts().get(name)
        if count is None:
            raise NotFoundError(f"namespace {name!r} does not exist in index {self.name!r}", path="namespace")
        return NamespaceDescription(name, count)

    def lsns(self, namespace: str | None = None, *, all_namespaces: bool = False) -> tuple[int, int]:
        """Return (newest committed LSN, highest LSN reads reflect) of a namespace.

        With ``all_namespaces`` the maxima over every namespace; an unknown namespace is (0, 0).
        """
        return self._shard.lsns(None if all_namespaces else canonical_namespace(namespace))

    def delete_namespace(self, namespace: str, **options: Any) -> WriteResponse:
        """Delete a namespace and every record in it (deletion protection does not block this)."""
        check_options("delete_namespace", options)
        started = time.perf_counter()
        name = canonical_namespace(namespace)
        records = self._shard.drop_namespace(name)  # raises on a read-only client
        if records is None:
            raise NotFoundError(f"namespace {name!r} does not exist in index {self.name!r}", path="namespace")
        self._record("delete_namespace", name, started, write_units=cost.DELETE_ALL_WRITE_UNITS, records=records)
        return WriteResponse(None, Usage(write_units=cost.DELETE_ALL_WRITE_UNITS))

    # -- research extensions ---------------------------------------------------------------
    def record_usage(self, entry: cost.LedgerEntry) -> None:
        """Add ``entry`` to this index's usage ledger (toolkit.integrated bills embedding and reranking here)."""
        self._ledger.record(entry)

    def set_spec(self, spec: Mapping[str, Any]) -> None:
        """Replace the index's ``spec``; internal API of ``Client.attach_embed`` (persistence is the client's)."""
        self._shard.set_spec(spec)

    def usage(self, raw: bool = False) -> pd.DataFrame:
        """Return billed units and true work by operation and namespace (one row per request if ``raw``)."""
        return self._ledger.frame() if raw else self._ledger.summary()

    def namespace_bytes(self, namespace: str | None = None) -> int:
        """Return the billed size of a namespace's live records (the query cost basis)."""
        return self._shard.total_bytes(canonical_namespace(namespace))

    # -- slabs and merges (research extensions) ----------------------------------------------
    def flush(self, namespace: str | None = None, wait: bool = True) -> None:
        """Move the memtable into slabs now (every namespace, or one); ``wait`` for their index builds."""
        self._shard.flush(None if namespace is None else canonical_namespace(namespace), wait)

    def compact(self, namespace: str | None = None, show_progress: bool = True) -> None:
        """Flush, then merge every slab into one (one per worker on a cluster), dropping dead rows; wait until done."""
        self._request_all(COMPACT, namespace, show_progress)

    def rebuild(self, engine: Any = None, namespace: str | None = None, show_progress: bool = True) -> None:
        """Rebuild existing data with another engine (a name, mapping, TOML path; None: the current one).

        The new engine becomes the index's engine (new slabs use it too); every namespace is
        flushed and its slabs are merged into one slab (one per worker on a cluster) built by the tier
        that fits its size.
        Queries keep being answered from the old slabs until the new one is swapped in.
        """
        if engine is not None:
            config = EngineConfig.parse(engine)
            check_engine(config, self._builders, self.config.metric, self.config.vector_type)
            self._shard.set_engine(config)
        self._request_all(REBUILD, namespace, show_progress)

    def _request_all(self, kind: str, namespace: str | None, show_progress: bool) -> None:
        targets, done = self._shard.request(kind, None if namespace is None else canonical_namespace(namespace))
        with tqdm(total=len(targets), desc=f"{kind} {self.name}", unit="namespace",
                  disable=not show_progress or not self._shard.merges_busy) as bar:
            while not self._shard.wait_merges(timeout=0.5, until=lambda: done() == len(targets)):
                bar.update(done() - bar.n)
            bar.update(len(targets) - bar.n)
        self._shard.raise_failures()

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        """Block until no flush build or merge is queued or running; return False on timeout.

        Raises InternalError if a background build failed since the last wait (the slabs
        involved stay searchable, by exact scan).
        """
        done = self._shard.wait_merges(timeout)
        self._shard.raise_failures()
        return done

    def describe_slabs(self) -> pd.DataFrame:
        """Return one row per slab: builder, params, state, rows, live rows, LSN range, build time, bytes."""
        rows, memtables = self._shard.slab_rows()
        frame = pd.DataFrame(rows, columns=["namespace", "slab", "builder", "params", "query_params", "state", "tier",
                                            "level", "rows", "live_rows", "min_lsn", "max_lsn", "build_seconds",
                                            "index_bytes", "vector_bytes", "worker"])
        frame.attrs["memtables"] = memtables
        return frame

    def describe_merges(self) -> pd.DataFrame:
        """Return one row per finished flush build, merge, compaction or rebuild, oldest first."""
        return pd.DataFrame(describe_records(self._shard.merge_records()),
                            columns=[f.name for f in dataclasses.fields(MergeRecord)])

    # -- freshness -------------------------------------------------------------------------------
    @property
    def consistency(self) -> str:
        """"strong" (reads see every acknowledged write) or "eventual" (after ``apply_delay``)."""
        return self._shard.consistency

    @property
    def apply_delay(self) -> float:
        return self._shard.apply_delay

    def set_consistency(self, consistency: str, apply_delay: float | None = None) -> None:
        """Switch this index to "strong" or "eventual" consistency (``apply_delay`` seconds)."""
        self._shard.set_consistency(consistency, apply_delay)

    def wait_for_lsn(self, lsn: int, namespace: str | None = None, timeout: float | None = 30.0) -> int:
        """Block until reads of ``namespace`` reflect the write with this LSN; return max_indexed_lsn.

        Raises DeadlineExceededError after ``timeout`` seconds (None waits forever).
        """
        if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0:
            raise InvalidArgumentError(f"lsn must be a non-negative integer, got {lsn!r}", path="lsn")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
            raise InvalidArgumentError(f"timeout must be a number of seconds >= 0, got {timeout!r}", path="timeout")
        return self._shard.wait_for_lsn(lsn, canonical_namespace(namespace), timeout)

    # -- imports ---------------------------------------------------------------------------------
    def start_import(self, uri: str, integration_id: str | None = None, error_mode: Any = "continue",
                     ) -> StartImportResponse:
        """Start importing Parquet files from a local folder or file:// URI (namespace subfolders)."""
        return self._imports.start(self._shard, self.settings, self._ledger, uri, error_mode)

    def describe_import(self, id: str) -> ImportModel:  # noqa: A002 - SDK name
        """Return an import's status, progress and records imported."""
        return self._imports.job(id).describe()

    def list_imports_paginated(self, limit: int | None = None, pagination_token: str | None = None,
                               **options: Any) -> ListImportsResponse:
        """Return one page of imports, oldest first."""
        check_options("list_imports_paginated", options)
        limit = 100 if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}", path="limit")
        jobs = [job.describe() for job in self._imports.all()]
        if pagination_token is not None:
            after = int(decode_token(pagination_token))
            jobs = [j for j in jobs if int(j.id) > after]
        page = jobs[:limit]
        more = len(jobs) > limit
        return ListImportsResponse(page, Pagination(encode_token(page[-1].id)) if more else None)

    def list_imports(self, limit: int | None = None, **options: Any) -> Iterator[ImportModel]:
        """Yield every import of this index (``limit`` per page)."""
        check_options("list_imports", options)  # at the call, not at the first page
        self.list_imports_paginated(limit=limit)  # validates limit
        return self._import_pages(limit)

    def _import_pages(self, limit: int | None) -> Iterator[ImportModel]:
        return follow_pages(lambda t: self.list_imports_paginated(limit=limit, pagination_token=t),
                            lambda page: page.data)

    def cancel_import(self, id: str) -> None:  # noqa: A002 - SDK name
        """Cancel a pending or running import (no effect once it finished)."""
        self._imports.job(id).cancel()

    def __repr__(self) -> str:
        c = self.config
        return f"Index(name={c.name!r}, dimension={c.dimension}, metric={c.metric!r}, vector_type={c.vector_type!r})"

    def _repr_html_(self) -> str:
        stats = self.describe_index_stats()
        from .display import render_html

        return render_html(
            repr(self),
            {"engine": [t.to_dict() for t in self.config.engine.tiers], "total_vector_count": stats.total_vector_count,
             "namespaces": {k: v.to_dict() for k, v in stats.namespaces.items()}},
        )

    # -- the delete superset (issue #16; the rules are documented in toolkit/deletes.py) -----------
    def delete_records(
        self,
        ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        limit: int | None = None,
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> DeleteResponse:
        """Delete the records listed in ``ids`` AND matching ``filter`` AND ``where_document``; count them.

        The one delete core of the Chroma and Vectorizer contracts (``toolkit.compat``): the
        selectors given intersect, ``limit`` keeps the first matches in bytewise id order,
        and the request is one logged delete with one LSN. ``dry_run`` only answers which
        ids would go (``ids``), changing nothing. ``delete`` keeps the reference rules; this
        extension does not consult ``Settings.delete_by_filter``.
        """
        return index_records.delete_records(self._ops, ids, filter, where_document, limit, namespace, dry_run)

    # -- server parity (issue #11): namespace creation and fetch by metadata --------------------
    def create_namespace(self, name: str, schema: Mapping[str, Any] | None = None,
                         **options: Any) -> NamespaceDescription:
        """Create an empty namespace; an existing one is AlreadyExists (409).

        ``schema`` (``{"fields": {name: {"filterable": true}}}``) is checked and accepted; the
        toolkit filters on every metadata field, so it changes nothing.
        """
        check_options("create_namespace", options)
        return index_records.create_namespace(self._ops, name, schema)

    def fetch_by_metadata(self, filter: Mapping[str, Any] | None = None, namespace: str | None = None,
                          limit: int | None = None, pagination_token: str | None = None,
                          **options: Any) -> FetchByMetadataResponse:
        """Return one page (``limit``, default 100, at most 1000) of the records whose metadata matches.

        Pages are in id order; the returned ``pagination.next`` resumes after the last id.
        """
        check_options("fetch_by_metadata", options)
        return index_records.fetch_by_metadata(self._ops, filter, namespace, limit, pagination_token)

    # -- integrated inference (toolkit.integrated) ---------------------------------------------
    def upsert_records(self, namespace: str, records: Any, batch_size: int | None = None,
                       show_progress: bool | None = None) -> Any:
        """Embed the mapped text field of ``records`` and upsert them (integrated indexes)."""
        from .integrated import upsert_records

        return upsert_records(self, namespace, records, batch_size=batch_size, show_progress=show_progress)

    def search(self, namespace: str, query: Any = None, fields: Sequence[str] | None = None, rerank: Any = None,
               *, top_k: int | None = None, inputs: Any = None, vector: Any = None, id: str | None = None,
               filter: Mapping[str, Any] | None = None, match_terms: Mapping[str, Any] | None = None) -> Any:
        """Search with text, a vector or an id; optionally rerank (see toolkit.integrated.search)."""
        from .integrated import search

        return search(self, namespace, query, fields, rerank, top_k=top_k, inputs=inputs, vector=vector, id=id,
                      filter=filter, match_terms=match_terms)

    search_records = search
