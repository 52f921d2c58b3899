"""Index: the data plane of one index, with the reference SDK's method names and arguments.

Every public method validates its whole request before it changes anything, takes the
index lock, meters read/write units into the ledger, and answers with an SDK-shaped
response that also carries the LSN facts (``lsn`` on writes, ``max_indexed_lsn`` on reads).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import cost
from .engine import SlabBuilder
from .engine_config import EngineConfig, TierConfig
from .errors import InvalidArgumentError, NotFoundError
from .filters import Filter, compile_filter
from .identifiers import DEFAULT_NAMESPACE, canonical_namespace, check_record_id
from .index_slabs import IndexSlabsMixin
from .merges import MergeWorker
from .metadata import check_metadata
from .namespace import FILTER_STRATEGIES, Candidate, Namespace
from .pagination import decode_token, encode_token
from .records import (
    MAX_UPSERT_BYTES,
    MAX_UPSERT_RECORDS,
    IndexShape,
    RecordBatch,
    check_dense_matrix,
    check_query_vector,
    parse_records,
)
from .responses import (
    DescribeIndexStatsResponse,
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
from .segment import Rows
from .settings import Settings
from .sparse import Sparse, check_sparse
from .storage.index_api import IndexStorageMixin
from .vectors import SparseValues, Vector

MAX_IDS_PER_REQUEST = 1000
MAX_UPDATE_BY_FILTER = 100_000


@dataclass(frozen=True)
class IndexConfig:
    """What an index was created with; everything but tags and deletion protection is fixed."""

    name: str
    dimension: int | None
    metric: str
    vector_type: str
    engine: EngineConfig
    spec: Mapping[str, Any]

    @property
    def shape(self) -> IndexShape:
        return IndexShape(self.vector_type, self.dimension, self.metric)


class Index(IndexStorageMixin, IndexSlabsMixin):
    """A handle on one index's data; get it from ``client.Index(name)``."""

    def __init__(self, config: IndexConfig, settings: Settings, builders: Mapping[str, type[SlabBuilder]]) -> None:
        self.config = config
        self.settings = settings
        self._builders = builders
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.RLock()
        self._ledger = cost.UsageLedger()
        self._merges = MergeWorker(self._lock, lambda: list(self._namespaces.values()), config.name)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    def _make_builder(self, tier: TierConfig) -> SlabBuilder:
        return self._builders[tier.builder](**dict(tier.build))

    def _namespace(self, name: str, *, create: bool = False) -> Namespace | None:
        ns = self._namespaces.get(name)
        if ns is None and create:
            ns = Namespace(
                name,
                metric=self.config.metric,
                dimension=self.config.dimension,
                sparse_index=self.config.vector_type == "sparse",
                engine=self.config.engine,
                make_builder=self._make_builder,
                worker=self._merges,
            )
            self._journal.attach(ns)  # persistence seam: raises on a read-only client
            self._namespaces[name] = ns
        return ns

    def _record(self, operation: str, namespace: str, started: float, **fields: Any) -> None:
        self._ledger.record(
            cost.LedgerEntry(operation, namespace, seconds=time.perf_counter() - started, **fields)
        )

    def _compile(self, filter: Any) -> Filter | None:
        if filter is not None and not isinstance(filter, Mapping):
            raise InvalidArgumentError(f"filter must be an object, got {type(filter).__name__}", path="filter")
        return compile_filter(
            filter, max_depth=self.settings.filter_max_depth, max_in_values=self.settings.filter_max_in_values
        )

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
        **_: Any,
    ) -> UpsertResponse:
        """Insert or overwrite whole records; with ``batch_size`` send several requests.

        Each request is validated as a whole (≤1000 records, ≤2 MB) and either stored
        completely or rejected; the response carries the last request's LSN.
        """
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
        with self._lock:
            ns = self._namespace(ns_name, create=True)
            assert ns is not None
            overwritten = ns.existing_bytes(batch.ids)
            lsn, ticket = self._commit(ns, "upsert", batch)
        self._journal.sync(ticket)  # durable before the ack (group commit, outside the lock)
        units = cost.write_units(int(batch.sizes.sum()), overwritten)
        self._record("upsert", ns_name, started, write_units=units, records=len(batch), lsn=lsn)
        return UpsertResponse(len(batch), lsn, Usage(write_units=units))

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
        **_: Any,
    ) -> WriteResponse:
        """Replace values or sparse values and merge ``set_metadata`` into one record.

        An unknown id changes nothing. With ``filter`` (and no id) only ``set_metadata``
        is applied, to at most 100,000 matching records; ``dry_run`` only counts them.
        """
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        if filter is not None:
            return self._update_by_filter(filter, set_metadata, ns_name, dry_run, id, values, sparse_values, started)
        record_id = check_record_id(id, "id")
        if values is None and sparse_values is None and set_metadata is None:
            raise InvalidArgumentError("update needs values, sparse_values or set_metadata", path="id")
        new_values = None
        if values is not None:
            if self.config.vector_type == "sparse":
                raise InvalidArgumentError("a sparse index has no dense values to update", path="values")
            new_values = check_query_vector(values, self.config.dimension or 0, "values")
            if not new_values.any():
                raise InvalidArgumentError(
                    "Dense vectors must contain at least one non-zero value. "
                    f"Vector ID '{record_id}' contains only zeros",
                    path="values",
                )
        new_sparse = None if sparse_values is None else check_sparse(sparse_values, self.settings.sparse_max_nnz,
                                                                     "sparse_values")
        if set_metadata is not None:
            check_metadata(set_metadata, self.settings.max_metadata_bytes, "set_metadata")
        with self._lock:
            ns = self._namespace(ns_name)
            self._catch_up(ns)  # eventual mode: apply queued writes before reading the record
            current = None if ns is None else ns.find([record_id]).get(record_id)
            if ns is None or current is None:  # unknown id: 200 OK, nothing changes (D:19726)
                # the write is accepted and applied (as nothing): reads reflect its LSN
                lsn, ticket = (None, None) if ns is None else self._commit(ns, "noop", None)
                self._journal.sync(ticket)
                self._record("update", ns_name, started, write_units=cost.MIN_WRITE_UNITS, lsn=lsn)
                return WriteResponse(lsn, Usage(write_units=cost.MIN_WRITE_UNITS))
            rows, row = current
            batch = self._parse([self._stored_record(rows, row, record_id, set_metadata, new_values, new_sparse)])
            old = ns.live[record_id]
            lsn, ticket = self._commit(ns, "upsert", batch)
        self._journal.sync(ticket)
        units = cost.write_units(int(batch.sizes.sum()), old)
        self._record("update", ns_name, started, write_units=units, records=1, lsn=lsn)
        return WriteResponse(lsn, Usage(write_units=units))

    def _parse(self, records: Iterable[Any], max_request_bytes: int | None = MAX_UPSERT_BYTES) -> RecordBatch:
        """Validate records for this index (the upsert rules; update by filter lifts the 2 MB cap)."""
        return parse_records(records, self.config.shape, max_metadata_bytes=self.settings.max_metadata_bytes,
                             sparse_max_nnz=self.settings.sparse_max_nnz, max_request_bytes=max_request_bytes)

    def _stored_record(self, rows: Rows, row: int, record_id: str, set_metadata: Mapping[str, Any] | None,
                       values: np.ndarray | None = None, sparse: Sparse | None = None) -> dict[str, Any]:
        """Rebuild a stored record as an upsert item, with new values/sparse values and merged metadata."""
        record: dict[str, Any] = {"id": record_id, "metadata": {**(rows.metadata[row] or {}), **(set_metadata or {})}
                                  or None}
        if self.config.vector_type == "dense":
            record["values"] = rows.dense[row] if values is None else values
        sparse = rows.sparse.row(row) if sparse is None else sparse
        if sparse is not None:
            record["sparse_values"] = sparse
        return record

    def _update_by_filter(self, filter, set_metadata, ns_name, dry_run, id, values, sparse_values, started):
        if id is not None or values is not None or sparse_values is not None:
            raise InvalidArgumentError("update by filter changes only set_metadata; drop id and values", path="filter")
        if not filter:
            raise InvalidArgumentError("update by filter needs a non-empty filter", path="filter")
        if not set_metadata:
            raise InvalidArgumentError("update by filter needs set_metadata", path="set_metadata")
        compiled = self._compile(filter)
        if compiled is None or compiled.matches_all:
            raise InvalidArgumentError("update by filter needs a filter that can exclude records", path="filter")
        check_metadata(set_metadata, self.settings.max_metadata_bytes, "set_metadata")
        with self._lock:
            ns = self._namespace(ns_name)
            self._catch_up(ns)
            ids = [] if ns is None else sorted(ns.matching_ids(compiled, self.settings.negation_requires_field))
            if dry_run or not ids or ns is None:
                self._record("update", ns_name, started, write_units=0 if dry_run else cost.MIN_WRITE_UNITS)
                return WriteResponse(None, Usage(write_units=0 if dry_run else cost.MIN_WRITE_UNITS), len(ids))
            targets = ids[:MAX_UPDATE_BY_FILTER]
            found = ns.find(targets)
            records, old = [], 0
            for record_id in targets:
                records.append(self._stored_record(*found[record_id], record_id, set_metadata))
                old += ns.live[record_id]
            batches = [  # parse every chunk before anything changes: a bad record rejects the request
                self._parse(records[start : start + MAX_UPSERT_RECORDS], max_request_bytes=None)
                for start in range(0, len(records), MAX_UPSERT_RECORDS)
            ]
            batch = RecordBatch.concat(batches)  # one request, one LSN, one log record
            lsn, ticket = self._commit(ns, "upsert", batch)
            new = int(batch.sizes.sum())
        self._journal.sync(ticket)
        units = cost.write_units(new, old)
        self._record("update", ns_name, started, write_units=units, records=len(targets), lsn=lsn)
        return WriteResponse(lsn, Usage(write_units=units), len(ids))

    def delete(
        self,
        ids: Sequence[str] | None = None,
        delete_all: bool | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> WriteResponse:
        """Delete by ids, every record of the namespace (``delete_all``), or by metadata filter."""
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
        with self._lock:
            ns = self._namespace(ns_name)
            if ns is None:  # deleting from a namespace that never existed changes nothing
                self._record("delete", ns_name, started, write_units=cost.MIN_WRITE_UNITS)
                return WriteResponse(None, Usage(write_units=cost.MIN_WRITE_UNITS))
            if delete_all:
                records = ns.live_count()
                lsn, ticket = self._commit(ns, "delete_all", None)
                units = cost.DELETE_ALL_WRITE_UNITS
            else:
                if compiled is not None:
                    self._catch_up(ns)
                    wanted = ns.matching_ids(compiled, self.settings.negation_requires_field)
                assert wanted is not None
                present = {i for i in wanted if i in ns.live}
                records = len(present)
                units = cost.write_units(sum(ns.live[i] for i in present))
                lsn, ticket = self._commit(ns, "delete", list(wanted))
        self._journal.sync(ticket)
        self._record("delete", ns_name, started, write_units=units, records=records, lsn=lsn)
        return WriteResponse(lsn, Usage(write_units=units))

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
        **_: Any,
    ) -> QueryResponse:
        """Return the ``top_k`` records most similar to ``vector`` (or to record ``id``).

        Scores: cosine and dotproduct descending, squared euclidean ascending; ties by id.
        A filtered query returns exactly min(top_k, matching records) results.
        ``filter_strategy`` ("auto", "prefilter", "ann") and ``search_params`` (engine query
        parameters) are toolkit extensions for experiments.
        """
        if args:
            raise TypeError("query takes keyword arguments only, e.g. query(vector=[...], top_k=10)")
        started = time.perf_counter()
        k, ns_name = self._check_query_options(top_k, namespace, filter_strategy, include_values, include_metadata)
        if id is not None and (vector is not None or sparse_vector is not None):
            raise InvalidArgumentError("a query takes either id or vector/sparse_vector, not both", path="id")
        compiled = self._compile(filter)
        query = None if id is not None else self._build_query(vector, sparse_vector)
        record_id = None if id is None else check_record_id(id, "id")
        with self._lock:
            ns = self._namespace(ns_name)
            if record_id is not None:
                query = self._query_of_record(ns, record_id)
            matches: list[Candidate] = []
            stats_work = (0, 0)
            if ns is not None and query is not None:
                matches, stats = ns.search(
                    query, k, compiled, negation_requires_field=self.settings.negation_requires_field,
                    strategy=filter_strategy, query_params=dict(search_params or {}),
                )
                stats_work = (stats.distance_computations, stats.bytes_scanned)
            units = self._query_read_units(ns)
            lsn = 0 if ns is None else ns.max_indexed_lsn
            result = [self._scored(c, include_values, include_metadata) for c in matches]
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
        with self._lock:
            ns = self._namespace(ns_name)
            units = self._query_read_units(ns)
            if ns is None:
                self._ledger.record_batch(cost.LedgerEntry("query", ns_name, units, cost.ceil_units(units)),
                                          [0] * n, [0] * n, [0] * n, started)
                return QueryBatchResponse([], [], [0] * (n + 1), ns_name, Usage(read_units=cost.ceil_units(units)), 0)
            hits = ns.search_batch(queries, k, compiled, negation_requires_field=self.settings.negation_requires_field,
                                   strategy=filter_strategy, query_params=dict(search_params or {}))
            lsn = ns.max_indexed_lsn
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

    def _query_read_units(self, ns: Namespace | None) -> float:
        if self.settings.query_read_units_override is not None:
            return float(self.settings.query_read_units_override)
        return cost.query_read_units(0 if ns is None else ns.total_bytes)

    def _query_of_record(self, ns: Namespace | None, record_id: str) -> Query | None:
        found = None if ns is None else ns.find([record_id]).get(record_id)
        if found is None:
            if self.settings.query_unknown_id_raises:
                raise NotFoundError(f"no record with id {record_id!r} in this namespace", path="id")
            return None
        rows, row = found
        if self.config.vector_type == "sparse":
            return Query(None, rows.sparse.row(row))
        return Query(rows.dense[row], None)

    @staticmethod
    def _scored(c: Candidate, include_values: bool, include_metadata: bool) -> ScoredVector:
        values, sparse_values = _stored_values(c.rows, c.row) if include_values else ([], None)
        return ScoredVector(c.id, c.score, values, sparse_values,
                            _stored_metadata(c.rows, c.row) if include_metadata else None)

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
        **_: Any,
    ) -> QueryResponse:
        """Query several namespaces, merge by ``metric`` and sum the read units (SDK helper)."""
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

    def fetch(self, ids: Sequence[str], namespace: str | None = None, **_: Any) -> FetchResponse:
        """Return the records with these ids; unknown ids are left out."""
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        wanted = self._check_ids(ids, "ids")
        with self._lock:
            ns = self._namespace(ns_name)
            found = {} if ns is None else ns.find(wanted)
            vectors = {record_id: self._vector(record_id, rows, row) for record_id, (rows, row) in found.items()}
            lsn = 0 if ns is None else ns.max_indexed_lsn
        units = cost.fetch_read_units(len(vectors))
        self._record("fetch", ns_name, started, read_units=units, read_units_reported=units, records=len(vectors))
        return FetchResponse(vectors, ns_name, Usage(read_units=units), lsn)

    @staticmethod
    def _vector(record_id: str, rows: Rows, row: int) -> Vector:
        values, sparse_values = _stored_values(rows, row)
        return Vector(id=record_id, values=values, metadata=_stored_metadata(rows, row), sparse_values=sparse_values)

    def list_paginated(
        self,
        prefix: str | None = None,
        limit: int | None = None,
        pagination_token: str | None = None,
        namespace: str | None = None,
        **_: Any,
    ) -> ListResponse:
        """Return one page of ids with ``prefix``, sorted bytewise; ``pagination.next`` resumes."""
        started = time.perf_counter()
        ns_name = canonical_namespace(namespace)
        if prefix is not None and not isinstance(prefix, str):
            raise InvalidArgumentError("prefix must be a string", path="prefix")
        limit = min(self._check_limit(limit), self.settings.list_max_limit)
        after = None if pagination_token is None else decode_token(pagination_token, prefix)
        with self._lock:
            ns = self._namespace(ns_name)
            page, more = ([], False) if ns is None else ns.list_page(prefix or "", after, limit)
            lsn = 0 if ns is None else ns.max_indexed_lsn
        pagination = Pagination(encode_token(page[-1], prefix)) if more and page else None
        self._record("list", ns_name, started, read_units=cost.LIST_READ_UNITS,
                     read_units_reported=cost.LIST_READ_UNITS, records=len(page))
        return ListResponse([ListItem(i) for i in page], pagination, ns_name,
                            Usage(read_units=cost.LIST_READ_UNITS), lsn)

    def list(self, prefix: str | None = None, limit: int | None = None, namespace: str | None = None,
             pagination_token: str | None = None, **_: Any) -> Iterator[list[str]]:
        """Yield pages of ids (lists of strings) with ``prefix``, until there are no more."""
        token = pagination_token
        while True:
            page = self.list_paginated(prefix=prefix, limit=limit, pagination_token=token, namespace=namespace)
            if page.vectors:
                yield [v.id for v in page.vectors]
            if page.pagination is None:
                return
            token = page.pagination.next

    # -- namespaces and stats --------------------------------------------------------------
    def describe_index_stats(self, filter: Mapping[str, Any] | None = None, **_: Any) -> DescribeIndexStatsResponse:
        """Return record counts per namespace (empty namespaces are left out) and in total."""
        if filter is not None:
            raise InvalidArgumentError(
                "Serverless indexes do not support filtering describe_index_stats by metadata", path="filter"
            )
        with self._lock:
            counts = {name: ns.live_count() for name, ns in self._namespaces.items()}
        key = self.settings.default_namespace_stats_key
        namespaces = {
            (key if name == DEFAULT_NAMESPACE else name): NamespaceSummary(count)
            for name, count in sorted(counts.items()) if count
        }
        return DescribeIndexStatsResponse(
            namespaces, self.config.dimension, 0.0, sum(counts.values()), self.config.metric, self.config.vector_type
        )

    def _namespace_names(self) -> list[str]:
        with self._lock:
            return sorted(
                name for name, ns in self._namespaces.items() if ns.live_count() or self.settings.keep_empty_namespaces
            )

    def _check_limit(self, limit: Any) -> int:
        if limit is None:
            return self.settings.list_default_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}", path="limit")
        return limit

    def list_namespaces_paginated(
        self, limit: int | None = None, pagination_token: str | None = None, prefix: str | None = None, **_: Any
    ) -> ListNamespacesResponse:
        """Return one page of namespaces (with ``prefix``), sorted bytewise; ``total_count`` counts all pages."""
        limit = self._check_limit(limit)
        prefix = prefix or None
        names = [n for n in self._namespace_names() if prefix is None or n.startswith(prefix)]
        total = len(names)
        if pagination_token is not None:
            after = decode_token(pagination_token, prefix)
            names = [n for n in names if n > after]
        page = names[:limit]
        with self._lock:
            described = [NamespaceDescription(n, self._namespaces[n].live_count()) for n in page
                         if n in self._namespaces]
        more = len(names) > limit and page
        return ListNamespacesResponse(described, Pagination(encode_token(page[-1], prefix)) if more else None, total)

    def list_namespaces(self, limit: int | None = None, **_: Any) -> Iterator[NamespaceDescription]:
        """Yield every namespace with its record count."""
        token = None
        while True:
            page = self.list_namespaces_paginated(limit=limit, pagination_token=token)
            yield from page.namespaces
            if page.pagination is None:
                return
            token = page.pagination.next

    def describe_namespace(self, namespace: str, **_: Any) -> NamespaceDescription:
        """Return a namespace's record count; an unknown namespace is NotFound."""
        name = canonical_namespace(namespace)
        with self._lock:
            ns = self._namespace(name)
            if ns is None:
                raise NotFoundError(f"namespace {name!r} does not exist in index {self.name!r}", path="namespace")
            return NamespaceDescription(name, ns.live_count())

    def lsns(self, namespace: str | None = None, *, all_namespaces: bool = False) -> tuple[int, int]:
        """Return (newest committed LSN, highest LSN reads reflect) of a namespace.

        With ``all_namespaces`` the maxima over every namespace; an unknown namespace is (0, 0).
        """
        with self._lock:
            if all_namespaces:
                spaces = list(self._namespaces.values())
            else:
                ns = self._namespace(canonical_namespace(namespace))
                spaces = [] if ns is None else [ns]
            return (max((int(ns.last_lsn) for ns in spaces), default=0),
                    max((int(ns.max_indexed_lsn) for ns in spaces), default=0))

    def delete_namespace(self, namespace: str, **_: Any) -> WriteResponse:
        """Delete a namespace and every record in it (deletion protection does not block this)."""
        started = time.perf_counter()
        name = canonical_namespace(namespace)
        with self._lock:
            ns = self._namespaces.get(name)
            if ns is None:
                raise NotFoundError(f"namespace {name!r} does not exist in index {self.name!r}", path="namespace")
            self._forget_namespace(ns)  # persistence seam: raises on a read-only client
            del self._namespaces[name]
        self._record("delete_namespace", name, started, write_units=cost.DELETE_ALL_WRITE_UNITS,
                     records=ns.live_count())
        return WriteResponse(None, Usage(write_units=cost.DELETE_ALL_WRITE_UNITS))

    # -- research extensions ---------------------------------------------------------------
    def usage(self, raw: bool = False) -> pd.DataFrame:
        """Return billed units and true work by operation and namespace (one row per request if ``raw``)."""
        return self._ledger.frame() if raw else self._ledger.summary()

    def namespace_bytes(self, namespace: str | None = None) -> int:
        """Return the billed size of a namespace's live records (the query cost basis)."""
        with self._lock:
            ns = self._namespace(canonical_namespace(namespace))
            return 0 if ns is None else ns.total_bytes

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


def _stored_values(rows: Rows, row: int) -> tuple[list[float], SparseValues | None]:
    """Return a stored row's dense values (``[]`` on a sparse index) and sparse values, as responses carry them."""
    sparse = rows.sparse.row(row)
    return ([] if rows.dense is None else rows.dense[row].tolist(),
            None if sparse is None else SparseValues(sparse.indices.tolist(), sparse.values.tolist()))


def _stored_metadata(rows: Rows, row: int) -> dict[str, Any] | None:
    """Return a copy of a stored row's metadata, so callers cannot change the store."""
    metadata = rows.metadata[row]
    return None if metadata is None else dict(metadata)
