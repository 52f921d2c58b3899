"""The data plane over gRPC: the reference's ``VectorService`` on top of the same ``Index`` methods as REST.

Only conversion lives here (protobuf messages to ``Index`` keyword arguments and responses back);
every rule and limit is the core's, so REST and gRPC cannot drift apart. Service, message and
field names and numbers are the reference's (``proto/db_data.proto``), so the official SDK's
gRPC client (``PineconeGRPC``) talks to it unmodified.

Handlers take and return raw bytes: parsing happens here, so a malformed message is a clean
``INVALID_ARGUMENT`` (grpcio's own deserialiser would answer ``INTERNAL``). A ``ToolkitError``
ends the call with the gRPC status it names (``.grpc_code``). The LSN headers of REST travel as
initial metadata, and ``api-key`` metadata is checked when the server has a key.

Which index a call is for is decided by ``resolve(context)``; ``protocol_switch`` answers it
from the connection (each index has its own port, as in the reference's local emulator).
"""

from __future__ import annotations

import hmac
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

import grpc
import numpy as np
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from ..cluster_partial import ALLOW_PARTIAL_METADATA, headers_of, partial_if
from ..errors import (
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    ToolkitError,
    UnauthenticatedError,
)
from .headers import lsn_headers, request_id
from .proto import db_data_pb2 as pb

logger = logging.getLogger("toolkit.server.grpc")

SERVICE = "VectorService"
# gRPC core keeps deadlines at millisecond resolution (a 1 µs grpc-timeout arrives as ~1 ms), and
# no call is answered in under ~2 ms end to end: a call with less left than this is not started.
MIN_DEADLINE_SECONDS = 0.002
_STATUS = {code.value[0]: code for code in grpc.StatusCode}

Resolver = Callable[[grpc.ServicerContext], Any]  # context -> toolkit Index (raises ToolkitError)


# -- conversion helpers ---------------------------------------------------------------------------


def _optional(req: Any, name: str) -> Any:
    """Return an optional (``optional`` in the proto) field's value, or None when it is unset."""
    return getattr(req, name) if req.HasField(name) else None


def _pagination_out(out: Any, resp: Any) -> None:
    """Copy a toolkit page's ``pagination.next`` token (if any) into a response message."""
    if resp.pagination is not None and resp.pagination.next:
        out.pagination.next = resp.pagination.next


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None  # null_value, or unset


def _struct(value: struct_pb2.Struct) -> dict[str, Any]:
    """A google.protobuf.Struct as a plain dict (what the JSON body would have parsed to)."""
    return {key: _value(item) for key, item in value.fields.items()}


def _dense_rows(vectors: Any) -> list[Any] | None:
    """Every record's dense values as rows of one float32 matrix (one C-level pass), or None when
    the records' lengths differ (the core then reports the bad one from per-record lists)."""
    lengths = {len(v.values) for v in vectors}
    if len(lengths) != 1 or 0 in lengths:
        return None
    width = lengths.pop()
    flat = np.fromiter(itertools.chain.from_iterable(v.values for v in vectors), dtype=np.float32,
                       count=width * len(vectors))
    return list(flat.reshape(len(vectors), width))


def _to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(data)
    return out


def _sparse_in(msg: pb.SparseValues) -> dict[str, list]:
    return {"indices": list(msg.indices), "values": list(msg.values)}


def _set_sparse(target: pb.SparseValues, sparse: Any) -> None:
    target.indices.extend(sparse.indices)
    target.values.extend(sparse.values)


def _vector_out(target: pb.Vector, v: Any) -> None:
    target.id = v.id
    target.values.extend(v.values)
    if v.sparse_values is not None:
        _set_sparse(target.sparse_values, v.sparse_values)
    if v.metadata is not None:
        target.metadata.update(v.metadata)


def _opt_filter(msg: Any, field: str = "filter") -> dict[str, Any] | None:
    return _struct(getattr(msg, field)) if msg.HasField(field) else None


# -- the service ------------------------------------------------------------------------------------


class VectorService:
    """One method per RPC: (request message, Index) -> (response message, LSN headers)."""

    @staticmethod
    def Upsert(req: pb.UpsertRequest, index: Any) -> tuple[Any, dict[str, str]]:
        records = []
        rows = _dense_rows(req.vectors)
        for i, v in enumerate(req.vectors):
            record: dict[str, Any] = {"id": v.id}
            if rows is not None:
                record["values"] = rows[i]
            elif len(v.values):
                record["values"] = list(v.values)
            if v.HasField("sparse_values"):
                record["sparse_values"] = _sparse_in(v.sparse_values)
            if v.HasField("metadata"):
                record["metadata"] = _struct(v.metadata)
            records.append(record)
        resp = index.upsert(vectors=records, namespace=req.namespace, show_progress=False)
        _, indexed = index.lsns(req.namespace)
        return pb.UpsertResponse(upserted_count=int(resp.upserted_count)), lsn_headers(resp.lsn, indexed)

    @staticmethod
    def Query(req: pb.QueryRequest, index: Any) -> tuple[Any, dict[str, str]]:
        if len(req.queries):
            raise InvalidArgumentError("is deprecated and not supported; send one query per request",
                                       path="queries")
        kwargs: dict[str, Any] = {"top_k": int(req.top_k), "namespace": req.namespace,
                                  "include_values": req.include_values, "include_metadata": req.include_metadata}
        if len(req.vector):
            kwargs["vector"] = list(req.vector)
        if req.id:
            kwargs["id"] = req.id
        if req.HasField("sparse_vector"):
            kwargs["sparse_vector"] = _sparse_in(req.sparse_vector)
        if req.HasField("filter"):
            kwargs["filter"] = _struct(req.filter)
        resp = index.query(**kwargs)
        out = pb.QueryResponse(namespace=resp.namespace, usage=pb.Usage(read_units=int(resp.usage.read_units or 0)))
        for m in resp.matches:
            sv = out.matches.add(id=m.id, score=float(m.score))
            sv.values.extend(m.values)
            if m.sparse_values is not None:
                _set_sparse(sv.sparse_values, m.sparse_values)
            if m.metadata is not None:
                sv.metadata.update(m.metadata)
        committed, _ = index.lsns(req.namespace)
        return out, lsn_headers(committed, resp.max_indexed_lsn)

    @staticmethod
    def Fetch(req: pb.FetchRequest, index: Any) -> tuple[Any, dict[str, str]]:
        resp = index.fetch(ids=list(req.ids), namespace=req.namespace)
        out = pb.FetchResponse(namespace=resp.namespace, usage=pb.Usage(read_units=int(resp.usage.read_units or 0)))
        for record_id, v in resp.vectors.items():
            _vector_out(out.vectors[record_id], v)
        committed, _ = index.lsns(req.namespace)
        return out, lsn_headers(committed, resp.max_indexed_lsn)

    @staticmethod
    def FetchByMetadata(req: pb.FetchByMetadataRequest, index: Any) -> tuple[Any, dict[str, str]]:
        resp = index.fetch_by_metadata(
            filter=_opt_filter(req), namespace=req.namespace,
            limit=_optional(req, "limit"),
            pagination_token=_optional(req, "pagination_token"),
        )
        out = pb.FetchByMetadataResponse(namespace=resp.namespace,
                                         usage=pb.Usage(read_units=int(resp.usage.read_units or 0)))
        for record_id, v in resp.vectors.items():
            _vector_out(out.vectors[record_id], v)
        _pagination_out(out, resp)
        committed, _ = index.lsns(req.namespace)
        return out, lsn_headers(committed, resp.max_indexed_lsn)

    @staticmethod
    def Update(req: pb.UpdateRequest, index: Any) -> tuple[Any, dict[str, str]]:
        kwargs: dict[str, Any] = {"namespace": req.namespace}
        if req.id:
            kwargs["id"] = req.id
        if len(req.values):
            kwargs["values"] = list(req.values)
        if req.HasField("sparse_values"):
            kwargs["sparse_values"] = _sparse_in(req.sparse_values)
        if req.HasField("set_metadata"):
            kwargs["set_metadata"] = _struct(req.set_metadata)
        if req.HasField("filter"):
            kwargs["filter"] = _struct(req.filter)
        if req.HasField("dry_run"):
            kwargs["dry_run"] = req.dry_run
        resp = index.update(**kwargs)
        committed, indexed = index.lsns(req.namespace)
        out = pb.UpdateResponse()
        if "filter" in kwargs and resp.matched_records is not None:
            out.matched_records = int(resp.matched_records)
        return out, lsn_headers(resp.lsn if resp.lsn is not None else committed, indexed)

    @staticmethod
    def Delete(req: pb.DeleteRequest, index: Any) -> tuple[Any, dict[str, str]]:
        kwargs: dict[str, Any] = {"namespace": req.namespace}
        if len(req.ids):
            kwargs["ids"] = list(req.ids)
        if req.delete_all:
            kwargs["delete_all"] = True
        if req.HasField("filter"):
            kwargs["filter"] = _struct(req.filter)
        resp = index.delete(**kwargs)
        committed, indexed = index.lsns(req.namespace)
        return pb.DeleteResponse(), lsn_headers(resp.lsn if resp.lsn is not None else committed, indexed)

    @staticmethod
    def List(req: pb.ListRequest, index: Any) -> tuple[Any, dict[str, str]]:
        resp = index.list_paginated(
            prefix=_optional(req, "prefix"),
            limit=_optional(req, "limit"),
            pagination_token=_optional(req, "pagination_token"),
            namespace=req.namespace,
        )
        out = pb.ListResponse(namespace=resp.namespace, usage=pb.Usage(read_units=int(resp.usage.read_units or 0)))
        for item in resp.vectors:
            out.vectors.add(id=item.id)
        _pagination_out(out, resp)
        committed, _ = index.lsns(req.namespace)
        return out, lsn_headers(committed, resp.max_indexed_lsn)

    @staticmethod
    def DescribeIndexStats(req: pb.DescribeIndexStatsRequest, index: Any) -> tuple[Any, dict[str, str]]:
        resp = index.describe_index_stats(filter=_opt_filter(req))
        out = pb.DescribeIndexStatsResponse(index_fullness=float(resp.index_fullness),
                                            total_vector_count=int(resp.total_vector_count),
                                            metric=resp.metric, vector_type=resp.vector_type)
        if resp.dimension is not None:
            out.dimension = int(resp.dimension)
        for name, summary in resp.namespaces.items():
            out.namespaces[name].vector_count = int(summary.vector_count)
        return out, lsn_headers(*index.lsns(all_namespaces=True))

    @staticmethod
    def ListNamespaces(req: pb.ListNamespacesRequest, index: Any) -> tuple[Any, dict[str, str]]:
        resp = index.list_namespaces_paginated(
            limit=_optional(req, "limit"),
            pagination_token=_optional(req, "pagination_token"),
            prefix=_optional(req, "prefix"),
        )
        out = pb.ListNamespacesResponse(total_count=int(resp.total_count or 0))
        for d in resp.namespaces:
            out.namespaces.add(name=d.name, record_count=int(d.record_count))
        _pagination_out(out, resp)
        return out, lsn_headers(*index.lsns(all_namespaces=True))

    @staticmethod
    def DescribeNamespace(req: pb.DescribeNamespaceRequest, index: Any) -> tuple[Any, dict[str, str]]:
        desc = index.describe_namespace(req.namespace)
        return (pb.NamespaceDescription(name=desc.name, record_count=int(desc.record_count)),
                lsn_headers(*index.lsns(req.namespace)))

    @staticmethod
    def DeleteNamespace(req: pb.DeleteNamespaceRequest, index: Any) -> tuple[Any, dict[str, str]]:
        committed, indexed = index.lsns(req.namespace)
        index.delete_namespace(req.namespace)
        return pb.DeleteResponse(), lsn_headers(committed, indexed)

    @staticmethod
    def CreateNamespace(req: pb.CreateNamespaceRequest, index: Any) -> tuple[Any, dict[str, str]]:
        schema = None
        if req.HasField("schema"):
            schema = {"fields": {k: {"filterable": v.filterable} for k, v in req.schema.fields.items()}}
        desc = index.create_namespace(req.name, schema=schema)
        out = pb.NamespaceDescription(name=desc.name, record_count=int(desc.record_count))
        if req.HasField("schema"):
            out.schema.CopyFrom(req.schema)
        return out, lsn_headers(*index.lsns(req.name))


REQUESTS: dict[str, Any] = {  # generated message classes (protobuf ships no types)
    "Upsert": pb.UpsertRequest, "Query": pb.QueryRequest, "Fetch": pb.FetchRequest,
    "FetchByMetadata": pb.FetchByMetadataRequest, "Update": pb.UpdateRequest, "Delete": pb.DeleteRequest,
    "List": pb.ListRequest, "DescribeIndexStats": pb.DescribeIndexStatsRequest,
    "ListNamespaces": pb.ListNamespacesRequest, "DescribeNamespace": pb.DescribeNamespaceRequest,
    "DeleteNamespace": pb.DeleteNamespaceRequest, "CreateNamespace": pb.CreateNamespaceRequest,
}


def _abort(context: grpc.ServicerContext, exc: ToolkitError, rid: str) -> None:
    context.set_trailing_metadata((("x-pinecone-request-id", rid),))
    context.abort(_STATUS.get(exc.grpc_code, grpc.StatusCode.UNKNOWN), str(exc))


def _handler(name: str, resolve: Resolver, api_key: bytes | None) -> grpc.RpcMethodHandler:
    request_type = REQUESTS[name]
    method = getattr(VectorService, name)

    def behaviour(data: bytes, context: grpc.ServicerContext) -> bytes:
        rid = request_id()
        try:
            if api_key is not None:
                given = dict(context.invocation_metadata()).get("api-key")
                if given is None or not hmac.compare_digest(str(given).encode(), api_key):
                    reason = "missing api-key metadata" if given is None else "invalid API key"
                    raise UnauthenticatedError(f"{reason}; this server requires the key it was started with")
            try:
                request = request_type.FromString(data)
            except (DecodeError, RuntimeWarning) as exc:
                raise InvalidArgumentError(f"malformed {request_type.__name__} message: {exc}",
                                           path="body") from None
            remaining = context.time_remaining()
            if remaining is not None and remaining <= MIN_DEADLINE_SECONDS:  # its client gives up before an answer
                raise DeadlineExceededError("the call's deadline passed before it could start", path=name)
            index = resolve(context)
            allow_partial = dict(context.invocation_metadata()).get(ALLOW_PARTIAL_METADATA) == "true"
            with partial_if(allow_partial) as partial:  # a cluster index's missing slabs (issue #15)
                response, headers = method(request, index)
            headers = {**headers, **headers_of(partial)}
            context.send_initial_metadata((("x-pinecone-request-id", rid), *headers.items()))
            return response.SerializeToString()
        except ToolkitError as exc:
            _abort(context, exc, rid)
        except (ValueError, TypeError) as exc:  # a message the converters could not map (e.g. a bad Struct)
            _abort(context, InvalidArgumentError(f"{type(exc).__name__}: {exc}", path=name), rid)
        except Exception as exc:  # noqa: BLE001 - a bug: INTERNAL, logged, no internals on the wire
            if isinstance(exc, grpc.RpcError) or type(exc).__name__ == "_AbortError":
                raise
            logger.error("unhandled error in %s", name, exc_info=exc)
            _abort(context, InternalError(f"internal error ({type(exc).__name__}); see the server log"), rid)
        raise AssertionError("unreachable")  # pragma: no cover - abort raises

    return grpc.unary_unary_rpc_method_handler(behaviour)


def generic_handler(resolve: Resolver, api_key: str | None = None) -> grpc.GenericRpcHandler:
    """Return the handler serving every ``VectorService`` RPC (unknown methods: UNIMPLEMENTED)."""
    key = None if api_key is None else api_key.encode()
    return grpc.method_handlers_generic_handler(SERVICE, {name: _handler(name, resolve, key) for name in REQUESTS})


def make_server(resolve: Resolver, *, api_key: str | None = None, address: str = "127.0.0.1:0",
                max_message_bytes: int = 16_000_000, workers: int = 8) -> tuple[grpc.Server, int]:
    """Build (not start) a plaintext gRPC server on ``address``; return it and its bound port."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="toolkit-grpc"),
        handlers=[generic_handler(resolve, api_key)],
        options=[("grpc.max_receive_message_length", max_message_bytes),
                 ("grpc.max_send_message_length", max_message_bytes),
                 ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=256,
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"gRPC could not bind {address}")
    return server, port
