"""Record-set requests beyond the core data plane: the delete superset, namespace creation, fetch by metadata.

- ``delete_records`` (issue #16; the rules are in toolkit/deletes.py): the one delete core of the
  Chroma and Vectorizer contracts (``toolkit.compat``);
- ``create_namespace`` and ``fetch_by_metadata`` (server parity, issue #11).

``Index`` keeps the public methods (the SDK's names and signatures) as façades over these.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from . import cost
from .deletes import DeleteResponse, check_ids, check_limit, choose
from .documents import compile_where_document, document_field
from .errors import AlreadyExistsError, InvalidArgumentError
from .filters import And
from .identifiers import canonical_namespace
from .index_ops import IndexOps, stored_vector
from .journal import Delete, Noop, Op
from .pagination import decode_token, encode_token
from .responses import FetchByMetadataResponse, NamespaceDescription, Pagination, Usage
from .view import View

MAX_FETCH_BY_METADATA = 1000  # records per page

__all__ = ["create_namespace", "delete_records", "fetch_by_metadata"]


def delete_records(ops: IndexOps, ids: Any, filter: Any, where_document: Any, limit: Any, namespace: Any,
                   dry_run: Any) -> DeleteResponse:
    """Run one ``Index.delete_records`` request: the selectors given intersect, ``limit`` keeps the
    first matches in bytewise id order, and the request is one logged delete with one LSN."""
    started = time.perf_counter()
    ns_name = canonical_namespace(namespace)
    wanted = check_ids(ids)
    cap = check_limit(limit)
    if not isinstance(dry_run, bool):
        raise InvalidArgumentError("dry_run must be true or false", path="dry_run")
    document = None if where_document is None else compile_where_document(
        where_document, field=document_field(ops.config, ops.settings), max_depth=ops.settings.filter_max_depth)
    parts = [f for f in (ops.compile(filter), document) if f is not None and not f.matches_all]
    if wanted is None and not parts:
        raise InvalidArgumentError("delete_records needs ids, or a filter or where_document that can exclude "
                                   "records; use delete(delete_all=True) to empty a namespace", path="delete")
    compiled = None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
    chosen: list[str] = []
    exists = [False]

    def resolve(view: View | None) -> Op | None:  # runs in the funnel, after queued writes are applied
        if view is None:  # deleting from a namespace that never existed changes nothing
            return None
        exists[0] = True
        if compiled is None:
            assert wanted is not None
            found = view.find(wanted)
            matching = [i for i in wanted if i in found]
        else:
            matching = view.matching_ids(compiled, ops.settings.negation_requires_field)
            if wanted is not None:
                listed = set(wanted)
                matching = [i for i in matching if i in listed]
        chosen[:] = choose(matching, cap)
        if dry_run:
            return None
        return Delete(tuple(chosen)) if chosen else Noop()  # one logged write (or an LSN'd noop)

    done = ops.write(ns_name, resolve)
    if not exists[0]:
        units = 0 if dry_run else cost.MIN_WRITE_UNITS
        ops.meter("delete", ns_name, started, write_units=units)
        return DeleteResponse(0, None, Usage(write_units=units), [])
    if dry_run:
        ops.meter("delete", ns_name, started, write_units=0, records=0)
        return DeleteResponse(0, None, Usage(write_units=0), list(chosen))
    units = cost.write_units(done.replaced_bytes)
    ops.meter("delete", ns_name, started, write_units=units, records=len(chosen), lsn=done.lsn)
    return DeleteResponse(len(chosen), done.lsn, Usage(write_units=units), list(chosen))


def create_namespace(ops: IndexOps, name: Any, schema: Any) -> NamespaceDescription:
    """Create an empty namespace; an existing one is AlreadyExists (409); ``schema`` is checked only."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("a namespace name must be a non-empty string", path="name")
    if schema is not None:
        fields = schema.get("fields") if isinstance(schema, Mapping) else None
        if not isinstance(fields, Mapping):
            raise InvalidArgumentError('schema must be {"fields": {name: {"filterable": true}}}', path="schema")
        for field_name, props in fields.items():
            if not isinstance(props, Mapping) or not isinstance(props.get("filterable", True), bool):
                raise InvalidArgumentError('must be {"filterable": true|false}',
                                           path=f"schema.fields.{field_name}")
    ns_name = canonical_namespace(name)
    if not ops.shard.create_namespace(ns_name):  # raises on a read-only client
        raise AlreadyExistsError(f"namespace {ns_name!r} already exists in index {ops.name!r}", path="name")
    return NamespaceDescription(ns_name, 0)


def fetch_by_metadata(ops: IndexOps, filter: Any, namespace: Any, limit: Any,
                      pagination_token: Any) -> FetchByMetadataResponse:
    """Return one page (``limit``, default 100, at most 1000) of the records whose metadata matches, in id order."""
    started = time.perf_counter()
    ns_name = canonical_namespace(namespace)
    compiled = ops.compile(filter)
    limit = ops.check_limit(limit)
    if limit > MAX_FETCH_BY_METADATA:
        raise InvalidArgumentError(f"limit must be at most {MAX_FETCH_BY_METADATA}, got {limit}", path="limit")
    after = None if pagination_token is None else decode_token(pagination_token, None)
    read = ops.shard.fetch_matching(ns_name, compiled, after, limit,
                                    negation_requires_field=ops.settings.negation_requires_field)
    found, more = ({}, False) if read is None else read.value
    vectors = {record_id: stored_vector(record_id, rows, row) for record_id, (rows, row) in found.items()}
    lsn = 0 if read is None else read.max_indexed_lsn
    units = cost.fetch_read_units(len(vectors))
    ops.meter("fetch", ns_name, started, read_units=units, read_units_reported=units, records=len(vectors))
    pagination = Pagination(encode_token(next(reversed(vectors)), None)) if more and vectors else None
    return FetchByMetadataResponse(vectors, ns_name, Usage(read_units=units), lsn, pagination)
