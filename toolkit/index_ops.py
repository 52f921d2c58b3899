"""IndexOps: what an index's request handlers share — validation, the write funnel, metering.

``Index`` (the SDK-shaped façade) owns one ``IndexOps`` and hands it to the modules that
implement its larger request families (``index_updates``, ``index_records``), so those
modules work through this small public surface and never reach into ``Index``.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from . import cost
from .documents import compile_document_filter, document_field
from .errors import InvalidArgumentError
from .filters import Filter
from .index_config import IndexConfig
from .records import MAX_UPSERT_BYTES, RecordBatch, parse_records
from .segment import Rows
from .settings import Settings
from .shard import Committed, LocalShard
from .vectors import SparseValues, Vector

FILTER_CACHE_SIZE = 256  # compiled filters kept per index (oldest dropped first)

__all__ = ["IndexOps", "stored_metadata", "stored_values", "stored_vector"]


class IndexOps:
    """The shared machinery of one index's requests (its shard, settings, ledger and filter cache)."""

    def __init__(self, shard: LocalShard, settings: Settings, ledger: cost.UsageLedger) -> None:
        self.shard = shard
        self.settings = settings
        self.ledger = ledger
        self.filters: dict[Any, Filter] = {}  # filter_key(filter) → compiled filter

    @property
    def config(self) -> IndexConfig:
        return self.shard.config

    @property
    def name(self) -> str:
        return self.shard.config.name

    def meter(self, operation: str, namespace: str, started: float, **fields: Any) -> None:
        """Record one request in the usage ledger (``started`` is its ``time.perf_counter()``)."""
        self.ledger.record(cost.LedgerEntry(operation, namespace, seconds=time.perf_counter() - started, **fields))

    def write(self, namespace: str, op: Any) -> Committed:
        """Commit one write through the shard's funnel and wait until it is durable."""
        done = self.shard.commit(namespace, op)
        self.shard.sync(done)  # durable before the ack (group commit, outside the write lock)
        return done

    def parse(self, records: Iterable[Any], max_request_bytes: int | None = MAX_UPSERT_BYTES) -> RecordBatch:
        """Validate records for this index (the upsert rules; update by filter lifts the 2 MB cap)."""
        return parse_records(records, self.config.shape, max_metadata_bytes=self.settings.max_metadata_bytes,
                             sparse_max_nnz=self.settings.sparse_max_nnz, max_request_bytes=max_request_bytes)

    def check_limit(self, limit: Any) -> int:
        """Return a page size (the settings' default for None); refuse anything but a positive integer."""
        if limit is None:
            return self.settings.list_default_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}", path="limit")
        return limit

    def compile(self, filter: Any) -> Filter | None:
        """Return the compiled filter, from a cache keyed by the filter's order-insensitive identity."""
        if filter is None:
            return None
        if not isinstance(filter, Mapping):
            raise InvalidArgumentError(f"filter must be an object, got {type(filter).__name__}", path="filter")
        try:
            key: Any = filter_key(filter)
            cached = self.filters.get(key)
        except TypeError:  # an unhashable operand: compile (and refuse) it without caching
            key, cached = None, None
        if cached is not None:
            return cached
        compiled = compile_document_filter(  # a "$document" clause filters on the record's text (documents.py)
            filter, field=document_field(self.config, self.settings),
            max_depth=self.settings.filter_max_depth, max_in_values=self.settings.filter_max_in_values,
        )
        if key is not None and compiled is not None:
            if len(self.filters) >= FILTER_CACHE_SIZE:
                try:  # oldest first; another thread may be evicting too
                    self.filters.pop(next(iter(self.filters)), None)
                except (RuntimeError, StopIteration):
                    pass
            self.filters[key] = compiled
        return compiled


def filter_key(value: Any) -> Any:
    """Return a hashable identity of a filter as given: a mapping's key order does not count
    (``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` are one filter), a list's order does, and
    the type of every scalar does (True == 1 in Python, not in a filter). TypeError if unhashable."""
    if isinstance(value, Mapping):
        return ("map", frozenset((k, filter_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(filter_key(v) for v in value))
    hash(value)
    return (type(value), value)


def stored_values(rows: Rows, row: int) -> tuple[list[float], SparseValues | None]:
    """Return a stored row's dense values (``[]`` on a sparse index) and sparse values, as responses carry them."""
    sparse = rows.sparse.row(row)
    return ([] if rows.dense is None else rows.dense[row].tolist(),
            None if sparse is None else SparseValues(sparse.indices.tolist(), sparse.values.tolist()))


def stored_metadata(rows: Rows, row: int) -> dict[str, Any] | None:
    """Return a copy of a stored row's metadata, so callers cannot change the store."""
    metadata = rows.metadata[row]
    return None if metadata is None else dict(metadata)


def stored_vector(record_id: str, rows: Rows, row: int) -> Vector:
    """Return a stored row as the SDK's ``Vector`` (values, sparse values and a copy of its metadata)."""
    values, sparse_values = stored_values(rows, row)
    return Vector(id=record_id, values=values, metadata=stored_metadata(rows, row), sparse_values=sparse_values)
