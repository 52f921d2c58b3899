"""Update: replace one record's values and merge its metadata, or merge metadata by filter.

Both are read-then-write requests: the record(s) to change are read inside the shard's
commit funnel (a resolver run after every queued write is applied), so an update never
races another write to the same namespace. ``Index.update`` is the façade over these.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from . import cost
from .errors import InvalidArgumentError
from .identifiers import canonical_namespace, check_record_id
from .index_ops import IndexOps
from .journal import Noop, Op, Upsert
from .metadata import check_metadata
from .records import MAX_UPSERT_RECORDS, RecordBatch, check_query_vector
from .responses import Usage, WriteResponse
from .segment import Rows
from .sparse import Sparse, check_sparse
from .view import View

MAX_UPDATE_BY_FILTER = 100_000

__all__ = ["MAX_UPDATE_BY_FILTER", "stored_record", "update"]


def update(ops: IndexOps, id: Any, values: Any, set_metadata: Any, namespace: Any, sparse_values: Any,
           filter: Any, dry_run: bool) -> WriteResponse:  # noqa: A002 - the SDK's names
    """Run one ``Index.update`` request (its arguments, already checked for unknown keywords)."""
    started = time.perf_counter()
    ns_name = canonical_namespace(namespace)
    if filter is not None:
        return _update_by_filter(ops, filter, set_metadata, ns_name, dry_run, id, values, sparse_values, started)
    record_id = check_record_id(id, "id")
    if values is None and sparse_values is None and set_metadata is None:
        raise InvalidArgumentError("update needs values, sparse_values or set_metadata", path="id")
    new_values = None
    if values is not None:
        if ops.config.vector_type == "sparse":
            raise InvalidArgumentError("a sparse index has no dense values to update", path="values")
        new_values = check_query_vector(values, ops.config.dimension or 0, "values")
        if not new_values.any():
            raise InvalidArgumentError(
                "Dense vectors must contain at least one non-zero value. "
                f"Vector ID '{record_id}' contains only zeros",
                path="values",
            )
    new_sparse = None if sparse_values is None else check_sparse(sparse_values, ops.settings.sparse_max_nnz,
                                                                 "sparse_values")
    if set_metadata is not None:
        check_metadata(set_metadata, ops.settings.max_metadata_bytes, "set_metadata")

    def resolve(view: View | None) -> Op | None:  # runs in the funnel, after queued writes are applied
        current = None if view is None else view.find([record_id]).get(record_id)
        if view is None or current is None:  # unknown id: 200 OK, nothing changes (D:19726)
            return None if view is None else Noop()  # accepted and applied (as nothing): reads reflect its LSN
        rows, row = current
        return Upsert(ops.parse([stored_record(rows, row, record_id, set_metadata, new_values, new_sparse)]))

    done = ops.write(ns_name, resolve)
    if not isinstance(done.op, Upsert):
        ops.meter("update", ns_name, started, write_units=cost.MIN_WRITE_UNITS, lsn=done.lsn)
        return WriteResponse(done.lsn, Usage(write_units=cost.MIN_WRITE_UNITS))
    units = cost.write_units(int(done.op.batch.sizes.sum()), done.replaced_bytes)
    ops.meter("update", ns_name, started, write_units=units, records=1, lsn=done.lsn)
    return WriteResponse(done.lsn, Usage(write_units=units))


def stored_record(rows: Rows, row: int, record_id: str, set_metadata: Mapping[str, Any] | None,
                  values: np.ndarray | None = None, sparse: Sparse | None = None) -> dict[str, Any]:
    """Rebuild a stored record as an upsert item, with new values/sparse values and merged metadata."""
    record: dict[str, Any] = {"id": record_id, "metadata": {**(rows.metadata[row] or {}), **(set_metadata or {})}
                              or None}
    if rows.dense is not None:  # a dense index
        record["values"] = rows.dense[row] if values is None else values
    sparse = rows.sparse.row(row) if sparse is None else sparse
    if sparse is not None:
        record["sparse_values"] = sparse
    return record


def _update_by_filter(ops: IndexOps, filter: Any, set_metadata: Any, ns_name: str, dry_run: bool, id: Any,
                      values: Any, sparse_values: Any, started: float) -> WriteResponse:  # noqa: A002
    if id is not None or values is not None or sparse_values is not None:
        raise InvalidArgumentError("update by filter changes only set_metadata; drop id and values", path="filter")
    if not filter:
        raise InvalidArgumentError("update by filter needs a non-empty filter", path="filter")
    if not set_metadata:
        raise InvalidArgumentError("update by filter needs set_metadata", path="set_metadata")
    compiled = ops.compile(filter)
    if compiled is None or compiled.matches_all:
        raise InvalidArgumentError("update by filter needs a filter that can exclude records", path="filter")
    check_metadata(set_metadata, ops.settings.max_metadata_bytes, "set_metadata")
    matched: list[int] = [0]

    def resolve(view: View | None) -> Op | None:  # runs in the funnel, after queued writes are applied
        ids = [] if view is None else sorted(view.matching_ids(compiled, ops.settings.negation_requires_field))
        matched[0] = len(ids)
        if dry_run or not ids or view is None:
            return None
        targets = ids[:MAX_UPDATE_BY_FILTER]
        found = view.find(targets)
        records = [stored_record(*found[record_id], record_id, set_metadata) for record_id in targets]
        batches = [  # parse every chunk before anything changes: a bad record rejects the request
            ops.parse(records[start : start + MAX_UPSERT_RECORDS], max_request_bytes=None)
            for start in range(0, len(records), MAX_UPSERT_RECORDS)
        ]
        return Upsert(RecordBatch.concat(batches))  # one request, one LSN, one log record

    done = ops.write(ns_name, resolve)
    if not isinstance(done.op, Upsert):
        ops.meter("update", ns_name, started, write_units=0 if dry_run else cost.MIN_WRITE_UNITS)
        return WriteResponse(None, Usage(write_units=0 if dry_run else cost.MIN_WRITE_UNITS), matched[0])
    units = cost.write_units(int(done.op.batch.sizes.sum()), done.replaced_bytes)
    ops.meter("update", ns_name, started, write_units=units, records=len(done.op.batch), lsn=done.lsn)
    return WriteResponse(done.lsn, Usage(write_units=units), matched[0])
