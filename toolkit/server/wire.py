"""Wire bodies: the SDK's JSON (camelCase data plane, snake_case control plane and namespaces)
to toolkit keyword arguments, and toolkit responses back to JSON.

Every request field is type-checked here before the toolkit sees it, so a wrong JSON type
becomes a 400 that names the field instead of a surprise deeper down. JSON ``null`` means
"absent" (the proto3 JSON rule). Both spellings of a data-plane key are accepted
(``topK``/``top_k``), as the reference service's JSON mapping does. A data-plane key that no
documented API version defines is refused with a 400 naming it (a misspelling must not pass
silently); keys a version defines that the toolkit does not model are accepted and ignored
(``IGNORED_FIELDS``, listed in the README). Facts: /work/shared/spec/sdk_wire.md §2-§4.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import InvalidArgumentError

try:  # optional fast path (the pinecone SDK depends on it); the stdlib json stays the authority
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

_NUMBER_TYPES = frozenset({int, float})
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT64_MAX = 1.7976931348623157e308

# -- JSON ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes) -> dict[str, Any]:
    """Parse a request body into a JSON object; an empty body is ``{}``.

    orjson (when installed) parses valid bodies ~6x faster; anything it refuses is re-parsed by
    the stdlib, so what is accepted and the error messages do not depend on orjson. (One
    difference: orjson reads an integer beyond 64 bits as a float; metadata numbers are
    stored as floats anyway, and such a number is out of range everywhere else.)
    """
    if not body or body.isspace():
        return {}
    data: Any = None
    if orjson is not None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
    try:
        if data is None:
            data = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidArgumentError("malformed JSON: nested too deeply", path="body") from None
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"malformed JSON: not UTF-8 ({exc.reason})", path="body") from None
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed JSON: {exc}", path="body") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"the request body must be a JSON object, got {_json_type(data)}", path="body")
    return data


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    """Serialise a response body (compact UTF-8; numpy scalars and arrays allowed)."""
    if orjson is not None:
        try:
            return orjson.dumps(data, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
        except (TypeError, orjson.JSONEncodeError):
            pass  # e.g. an integer beyond 64 bits: let the stdlib decide
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=_default,
                      allow_nan=False).encode()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# -- field checkers --------------------------------------------------------------------------


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:20]}...({len(text)} digits)"


def _wrong(path: str, expected: str, value: Any) -> InvalidArgumentError:
    return InvalidArgumentError(f"must be {expected}, got {_json_type(value)}", path=path)


def as_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong(path, "a string", value)
    return value


def as_int(value: Any, path: str) -> int:
    if type(value) is not int:  # 1.0 is refused too: every SDK sends integers as integers
        raise InvalidArgumentError(f"must be an integer, got {_json_type(value)} {_short(value)}"
                                   if type(value) is float else f"must be an integer, got {_json_type(value)}",
                                   path=path)
    return value


def as_bool(value: Any, path: str) -> bool:
    if type(value) is not bool:
        raise _wrong(path, "true or false", value)
    return value


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(path, "an object", value)
    return value


def as_numbers(value: Any, path: str) -> list[Any]:
    """A flat list of JSON numbers (booleans are not numbers) that fit a float32."""
    if not isinstance(value, list):
        raise _wrong(path, "an array of numbers", value)
    types = set(map(type, value))
    if not _NUMBER_TYPES.issuperset(types):
        for i, item in enumerate(value):
            if type(item) not in _NUMBER_TYPES:
                raise _wrong(f"{path}[{i}]", "a number", item)
    if int in types:  # a JSON integer can be arbitrarily large; a float32 cannot
        for i, item in enumerate(value):
            if type(item) is int and not -_FLOAT32_MAX <= item <= _FLOAT32_MAX:
                raise InvalidArgumentError(f"{_short(item)} is out of range for a float32", path=f"{path}[{i}]")
    return value


def as_metadata(value: Any, path: str) -> dict[str, Any]:
    """A metadata object; integers must fit a 64-bit float (the toolkit checks the rest)."""
    obj = as_object(value, path)
    for key, item in obj.items():
        if type(item) is int and not -_FLOAT64_MAX <= item <= _FLOAT64_MAX:
            raise InvalidArgumentError(f"{_short(item)} is out of range for a 64-bit float", path=f"{path}.{key}")
    return obj


def as_strings(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise _wrong(path, "an array of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _wrong(f"{path}[{i}]", "a string", item)
    return value


def as_sparse(value: Any, path: str) -> dict[str, list[Any]]:
    """``{"indices": [uint32...], "values": [number...]}``."""
    obj = as_object(value, path)
    unknown = set(obj) - {"indices", "values"}
    if unknown:
        raise InvalidArgumentError(f"unknown sparse vector keys {sorted(unknown)}; expected indices and values",
                                   path=path)
    if "indices" not in obj or "values" not in obj:
        raise InvalidArgumentError("a sparse vector needs both 'indices' and 'values'", path=path)
    indices = obj["indices"]
    if not isinstance(indices, list):
        raise _wrong(f"{path}.indices", "an array of integers", indices)
    for i, item in enumerate(indices):
        if type(item) is not int:
            raise _wrong(f"{path}.indices[{i}]", "an integer", item)
        if not 0 <= item <= 2**32 - 1:
            raise InvalidArgumentError(f"sparse indices must be in 0..4294967295, got {_short(item)}",
                                       path=f"{path}.indices[{i}]")
    values = as_numbers(obj["values"], f"{path}.values")
    for i, item in enumerate(values):  # the toolkit checks finiteness before its float32 cast
        if not -_FLOAT32_MAX <= item <= _FLOAT32_MAX:
            raise InvalidArgumentError(f"{_short(item)} is out of range for a float32", path=f"{path}.values[{i}]")
    return {"indices": indices, "values": values}


def as_namespace(value: Any, path: str = "namespace") -> str:
    return as_str(value, path)


def _refuse(value: Any, path: str) -> Any:
    raise InvalidArgumentError("is deprecated and not supported; send one query per request", path=path)


Checker = Callable[[Any, str], Any]


def check_keys(body: Mapping[str, Any], known: Any, ignored: frozenset[str] = frozenset(), where: str = "") -> None:
    """Refuse a key that is neither ``known`` nor documented-but-``ignored`` (400 naming it)."""
    for key in body:
        if key not in known and key not in ignored:
            expected = sorted(k for k in known if "_" not in k) or sorted(known)
            raise InvalidArgumentError(f"unknown field {str(key)[:60]!r}; expected one of {expected}",
                                       path=f"{where}{str(key)[:60]}")


def pick(body: Mapping[str, Any], fields: Mapping[str, tuple[str, Checker]],
         ignored: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Map wire keys (either spelling) to checked keyword arguments; null means absent.

    An unknown key is a 400; one in ``ignored`` (documented, not modelled here) is dropped.
    """
    check_keys(body, fields, ignored)
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in body.items():
        spec = fields.get(key)
        if spec is None or value is None:
            continue
        name, check = spec
        if name in seen and seen[name] != key:
            raise InvalidArgumentError(f"give either {seen[name]!r} or {key!r}, not both", path=key)
        seen[name] = key
        out[name] = check(value, key)
    return out


def _both(camel: str, snake: str, checker: Checker) -> dict[str, tuple[str, Checker]]:
    return {camel: (snake, checker), snake: (snake, checker)}


# -- data plane: requests ----------------------------------------------------------------------

QUERY_FIELDS: dict[str, tuple[str, Checker]] = {
    **_both("topK", "top_k", as_int),
    "vector": ("vector", as_numbers),
    **_both("sparseVector", "sparse_vector", as_sparse),
    "id": ("id", as_str),
    "namespace": ("namespace", as_namespace),
    "filter": ("filter", as_object),
    **_both("includeValues", "include_values", as_bool),
    **_both("includeMetadata", "include_metadata", as_bool),
    "queries": ("queries", _refuse),
    # toolkit extension (a cluster index, issue #15): answer without slabs on no live worker, flagged
    **_both("allowPartial", "allow_partial", as_bool),
}

UPDATE_FIELDS: dict[str, tuple[str, Checker]] = {
    "id": ("id", as_str),
    "values": ("values", as_numbers),
    **_both("sparseValues", "sparse_values", as_sparse),
    **_both("setMetadata", "set_metadata", as_metadata),
    "namespace": ("namespace", as_namespace),
    "filter": ("filter", as_object),
    **_both("dryRun", "dry_run", as_bool),
}

DELETE_FIELDS: dict[str, tuple[str, Checker]] = {
    "ids": ("ids", as_strings),
    **_both("deleteAll", "delete_all", as_bool),
    "namespace": ("namespace", as_namespace),
    "filter": ("filter", as_object),
}

STATS_FIELDS: dict[str, tuple[str, Checker]] = {"filter": ("filter", as_object)}

UPSERT_KEYS = frozenset({"vectors", "namespace"})

# Keys a documented API version defines that the toolkit accepts and ignores (README: "Wire
# fields the server ignores"): 2025-10 query tuning knobs for dedicated read capacity.
IGNORED_FIELDS: dict[str, frozenset[str]] = {
    "query": frozenset({"scanFactor", "scan_factor", "maxCandidates", "max_candidates"}),
}

MAX_LIST_LIMIT = 1000  # SDK 7.3.0 sends 1000; pages hold at most 100 and carry a token for the rest

_RECORD_KEYS = {"id", "values", "sparseValues", "sparse_values", "metadata"}


def upsert_request(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Return (records for ``Index.upsert``, namespace) from ``{"vectors": [...], "namespace"?}``."""
    check_keys(body, UPSERT_KEYS)
    vectors = body.get("vectors")
    if vectors is None:
        raise InvalidArgumentError("is required: an array of 1 to 1000 records", path="vectors")
    if not isinstance(vectors, list):
        raise _wrong("vectors", "an array of records", vectors)
    namespace = body.get("namespace")
    if namespace is not None:
        as_namespace(namespace)
    records: list[dict[str, Any]] = []
    for i, item in enumerate(vectors):
        path = f"vectors[{i}]"
        if not isinstance(item, dict):
            raise _wrong(path, "an object", item)
        unknown = set(item) - _RECORD_KEYS
        if unknown:
            raise InvalidArgumentError(
                f"unknown record keys {sorted(unknown)}; expected id, values, sparseValues, metadata", path=path)
        if "id" not in item:
            raise InvalidArgumentError("every record needs an 'id'", path=path)
        record: dict[str, Any] = {"id": as_str(item["id"], f"{path}.id")}
        values = item.get("values")
        if values is not None:
            record["values"] = as_numbers(values, f"{path}.values")
        if "sparseValues" in item and "sparse_values" in item:
            raise InvalidArgumentError("give either 'sparseValues' or 'sparse_values', not both", path=path)
        sparse = item.get("sparseValues", item.get("sparse_values"))
        if sparse is not None:
            record["sparse_values"] = as_sparse(sparse, f"{path}.sparseValues")
        metadata = item.get("metadata")
        if metadata is not None:
            record["metadata"] = as_metadata(metadata, f"{path}.metadata")
        records.append(record)
    return records, namespace


def query_params_one(params: Any, key: str, checker: Checker | None = None) -> Any:
    """Return the single value of a query parameter, or None; a repeated one is a 400."""
    values = params.getlist(key)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidArgumentError("must be given once", path=key)
    return values[0] if checker is None else checker(values[0], key)


def pagination_token(params: Any) -> Any:
    """Return the pagination token, spelled ``paginationToken`` (REST) or ``pagination_token``."""
    token = query_params_one(params, "paginationToken")
    return query_params_one(params, "pagination_token") if token is None else token


def int_param(value: str, path: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidArgumentError(f"must be an integer, got {value[:40]!r}", path=path) from None


def bool_param(value: str, path: str) -> bool:
    """A true/false query parameter (``?allowPartial=true``)."""
    if value not in ("true", "false"):
        raise InvalidArgumentError(f"must be true or false, got {_short(value)}", path=path)
    return value == "true"


def limit_param(value: str, path: str) -> int:
    """A page ``limit``: 1..1000 (pages hold at most 100; the rest follows the pagination token)."""
    limit = int_param(value, path)
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidArgumentError(f"must be between 1 and {MAX_LIST_LIMIT}, got {_short(limit)}", path=path)
    return limit


# -- data plane: responses ---------------------------------------------------------------------


def _sparse_out(sparse: Any) -> dict[str, list]:
    return {"indices": list(sparse.indices), "values": list(sparse.values)}


def query_response(resp: Any) -> dict[str, Any]:
    matches = []
    for m in resp.matches:
        score = float(m.score)
        match: dict[str, Any] = {"id": m.id, "score": score if math.isfinite(score) else 0.0,
                                 "values": list(m.values)}
        if m.sparse_values is not None:
            match["sparseValues"] = _sparse_out(m.sparse_values)
        if m.metadata is not None:
            match["metadata"] = m.metadata
        matches.append(match)
    return {"results": [], "matches": matches, "namespace": resp.namespace,
            "usage": {"readUnits": int(resp.usage.read_units or 0)}}


def fetch_response(resp: Any) -> dict[str, Any]:
    vectors: dict[str, Any] = {}
    for record_id, v in resp.vectors.items():
        out: dict[str, Any] = {"id": v.id, "values": list(v.values)}
        if v.sparse_values is not None:
            out["sparseValues"] = _sparse_out(v.sparse_values)
        if v.metadata is not None:
            out["metadata"] = v.metadata
        vectors[record_id] = out
    return {"vectors": vectors, "namespace": resp.namespace, "usage": {"readUnits": int(resp.usage.read_units or 0)}}


def list_response(resp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"vectors": [{"id": v.id} for v in resp.vectors]}
    if resp.pagination is not None and resp.pagination.next:
        out["pagination"] = {"next": resp.pagination.next}  # absent on the last page (G5)
    out["namespace"] = resp.namespace
    out["usage"] = {"readUnits": int(resp.usage.read_units or 0)}
    return out


def stats_response(resp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespaces": {name: {"vectorCount": int(s.vector_count)} for name, s in resp.namespaces.items()},
    }
    if resp.dimension is not None:
        out["dimension"] = int(resp.dimension)
    out.update({"indexFullness": float(resp.index_fullness), "totalVectorCount": int(resp.total_vector_count),
                "metric": resp.metric, "vectorType": resp.vector_type})
    return out


def update_response(resp: Any, by_filter: bool) -> dict[str, Any]:
    if by_filter and resp.matched_records is not None:
        return {"matchedRecords": int(resp.matched_records)}
    return {}


def namespace_description(desc: Any) -> dict[str, Any]:
    return {"name": desc.name, "record_count": int(desc.record_count)}


# -- control plane ---------------------------------------------------------------------------

CONTROL_KEYS_FIXED = ("dimension", "metric", "vector_type", "spec", "schema", "deployment", "embed",
                      "read_capacity")


def create_index_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``Client.create_index`` from either create body (sdk_wire §2, G3).

    2026-07 (SDK 10.x): ``schema.fields`` with a ``dense_vector`` or ``sparse_vector`` field,
    and ``deployment`` {deployment_type: managed, cloud, region}. 2025-04/2025-10 (SDK <= 9.x):
    ``dimension``, ``metric``, ``vector_type`` and ``spec.serverless``. ``engine`` is a toolkit
    extension (a name or an object), passed through.
    """
    if "name" not in body or body["name"] is None:
        raise InvalidArgumentError("is required", path="name")
    kwargs: dict[str, Any] = {"name": as_str(body["name"], "name")}
    if body.get("schema") is not None or body.get("deployment") is not None:
        kwargs.update(_create_2026(body))
    else:
        kwargs.update(_create_legacy(body))
    kwargs.update(_protection_and_tags(body))
    if body.get("engine") is not None:
        engine = body["engine"]
        if not isinstance(engine, (str, dict)):
            raise _wrong("engine", "an engine name or an object", engine)
        if isinstance(engine, str) and ("/" in engine or "\\" in engine or engine.endswith(".toml")):
            raise InvalidArgumentError("engine files cannot be named over HTTP; send an engine name or object",
                                       path="engine")
        kwargs["engine"] = engine
    return kwargs


def _create_2026(body: Mapping[str, Any]) -> dict[str, Any]:
    schema = as_object(body.get("schema"), "schema") if body.get("schema") is not None else None
    if schema is None:
        raise InvalidArgumentError("is required with a dense_vector or sparse_vector field", path="schema")
    fields = as_object(schema.get("fields"), "schema.fields")
    dense = sparse = None
    for name, field in fields.items():
        path = f"schema.fields.{name}"
        field = as_object(field, path)
        kind = field.get("type")
        if kind == "dense_vector":
            if dense is not None:
                raise InvalidArgumentError("an index has at most one dense_vector field", path=path)
            dense = (path, field)
        elif kind == "sparse_vector":
            if sparse is not None:
                raise InvalidArgumentError("an index has at most one sparse_vector field", path=path)
            sparse = (path, field)
        elif kind is not None and not isinstance(kind, str):
            raise _wrong(f"{path}.type", "a string", kind)
        # other fields (metadata declarations such as {"type": "string", "filterable": true}) are
        # accepted and ignored: the toolkit filters on every metadata field.
    out: dict[str, Any] = {}
    if dense is not None:
        path, field = dense
        if field.get("dimension") is None:
            raise InvalidArgumentError("is required for a dense_vector field", path=f"{path}.dimension")
        out["dimension"] = as_int(field["dimension"], f"{path}.dimension")
        if field.get("metric") is not None:
            out["metric"] = as_str(field["metric"], f"{path}.metric")
        out["vector_type"] = "dense"
        if sparse is not None and out.get("metric", "cosine") != "dotproduct":
            raise InvalidArgumentError("dense + sparse (hybrid) indexes need the dotproduct metric",
                                       path=f"{path}.metric")
    elif sparse is not None:
        path, field = sparse
        if field.get("metric") is not None:
            out["metric"] = as_str(field["metric"], f"{path}.metric")
        out["vector_type"] = "sparse"
    else:
        raise InvalidArgumentError("needs a field of type dense_vector or sparse_vector (integrated and "
                                   "document indexes are not supported)", path="schema.fields")
    deployment = as_object(body.get("deployment"), "deployment") if body.get("deployment") is not None else {}
    kind = deployment.get("deployment_type", "managed")
    if kind != "managed":
        raise InvalidArgumentError(f"only managed (serverless) deployments are supported, got {kind!r}",
                                   path="deployment.deployment_type")
    cloud = as_str(deployment.get("cloud", "aws"), "deployment.cloud")
    region = as_str(deployment.get("region", "us-east-1"), "deployment.region")
    out["spec"] = {"serverless": {"cloud": cloud, "region": region}}
    return out


def _create_legacy(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("dimension") is not None:
        out["dimension"] = as_int(body["dimension"], "dimension")
    if body.get("metric") is not None:
        out["metric"] = as_str(body["metric"], "metric")
    if body.get("vector_type") is not None:
        out["vector_type"] = as_str(body["vector_type"], "vector_type")
    if body.get("spec") is None:
        raise InvalidArgumentError("is required: {\"serverless\": {\"cloud\", \"region\"}}", path="spec")
    spec = as_object(body["spec"], "spec")
    if spec.get("serverless") is None:
        kinds = sorted(k for k in spec if k != "serverless")
        raise InvalidArgumentError(f"only serverless indexes are supported (got {kinds or 'no'} spec)",
                                   path="spec")
    serverless = as_object(spec["serverless"], "spec.serverless")
    out["spec"] = {"serverless": {
        "cloud": as_str(serverless.get("cloud"), "spec.serverless.cloud"),
        "region": as_str(serverless.get("region"), "spec.serverless.region"),
    }}
    return out


def _protection_and_tags(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``deletion_protection`` and ``tags`` keyword arguments that create and configure share."""
    out: dict[str, Any] = {}
    if body.get("deletion_protection") is not None:
        out["deletion_protection"] = as_str(body["deletion_protection"], "deletion_protection")
    if body.get("tags") is not None:
        tags = as_object(body["tags"], "tags")
        for key, value in tags.items():
            as_str(value, f"tags.{key}")
        out["tags"] = tags
    return out


def configure_index_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``Client.configure_index`` (only protection and tags can change)."""
    kwargs: dict[str, Any] = {}
    kwargs.update(_protection_and_tags(body))
    for key in CONTROL_KEYS_FIXED:
        if body.get(key) is not None:
            kwargs[key] = body[key]  # the client refuses them with a clear 400
    return kwargs


def index_model(model: Any, host: str) -> dict[str, Any]:
    """One IndexModel body that every SDK generation decodes (sdk_wire §2.1, G2).

    The 2026-07 keys (``schema``, ``deployment``) for SDK 10.x, plus the 2025 keys
    (``dimension``, ``metric``, ``vector_type``, ``spec``) for SDK <= 9.x; each ignores the
    other's. ``host`` carries its ``http://`` scheme (G1).
    """
    serverless = dict(model.spec.get("serverless", {}))
    if model.vector_type == "sparse":
        fields = {"_sparse_values": {"type": "sparse_vector"}}
    else:
        fields = {"_values": {"type": "dense_vector", "dimension": model.dimension, "metric": model.metric}}
    return {
        "name": model.name,
        "dimension": model.dimension,
        "metric": model.metric,
        "vector_type": model.vector_type,
        "host": host,
        "spec": {"serverless": {"cloud": serverless.get("cloud"), "region": serverless.get("region")}},
        "status": {"ready": True, "state": "Ready"},
        "deletion_protection": model.deletion_protection,
        "tags": dict(model.tags) if model.tags else None,
        "schema": {"fields": fields},
        "deployment": {"deployment_type": "managed", "cloud": serverless.get("cloud"),
                       "region": serverless.get("region")},
        **_integrated(model, fields),
    }


def _integrated(model: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The ``embed`` key and ``semantic_text`` schema field of an integrated index (server.routes_inference)."""
    from .routes_inference import embed_wire_fields

    extra = embed_wire_fields(model)
    if not extra:
        return {}
    name, semantic = extra.pop("semantic_field")
    fields[name] = semantic
    return extra
