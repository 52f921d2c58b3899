"""REST routes of integrated inference, at the reference's paths (toolkit.inference, toolkit.integrated).

* ``POST /indexes/create-for-model``                      -> 201 IndexModel (with ``embed`` and a
  ``semantic_text`` schema field, so SDK 9.x and 10.x both read the model)
* ``POST /index/{name}/records/namespaces/{ns}/upsert``   NDJSON records, <= 96 -> 201
* ``POST /index/{name}/records/namespaces/{ns}/search``   -> ``{"result": {"hits"}, "usage"}``
* ``POST /embed``, ``POST /rerank``, ``GET /models``, ``GET /models/{model}``

The registry of embedders and rerankers is built when the app is, so a duplicate model name
fails at start-up, naming both plugins.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InvalidArgumentError, ToolkitError
from ..integrated import MAX_RECORDS_PER_REQUEST
from ..integrated import upsert_records as upsert
from . import wire
from .errors import error_response, plane_of, unexpected
from .headers import request_id

_NDJSON = ("application/x-ndjson", "application/json", "application/jsonl", "application/ndjson")


def embed_wire_fields(model: Any) -> dict[str, Any]:
    """Return the IndexModel keys that describe an integrated index's model ({} for a plain index)."""
    embed = model.spec.get("embed") if isinstance(model.spec, Mapping) else None
    if not embed:
        return {}
    field = embed["field_map"]["text"]
    semantic = {"type": "semantic_text", "model": embed["model"], "metric": embed["metric"],
                "read_parameters": embed.get("read_parameters"), "write_parameters": embed.get("write_parameters")}
    return {
        "embed": {k: embed.get(k) for k in ("model", "metric", "dimension", "vector_type", "field_map",
                                              "read_parameters", "write_parameters")},
        "semantic_field": (field, semantic),
    }


def _ndjson_records(body: bytes) -> list[Any]:
    records = []
    for n, line in enumerate(body.decode("utf-8", errors="strict").splitlines()):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"line {n + 1} is not JSON: {exc.msg}", path=f"records[{len(records)}]")
    return records


def _json(body: bytes, fields: frozenset[str]) -> dict[str, Any]:
    """Parse a JSON object body that may carry only the documented ``fields`` (others are a 400 naming them)."""
    data = wire.loads(body)
    if not isinstance(data, Mapping):
        raise InvalidArgumentError("the request body must be a JSON object", path="body")
    wire.check_keys(data, fields)
    return dict(data)


CREATE_FIELDS = frozenset({"name", "cloud", "region", "embed", "deletion_protection", "tags", "read_capacity",
                           "schema"})
SEARCH_FIELDS = frozenset({"query", "fields", "rerank"})
EMBED_FIELDS = frozenset({"model", "inputs", "parameters"})
RERANK_FIELDS = frozenset({"model", "query", "documents", "rank_fields", "return_documents", "top_n", "parameters"})


def _namespace(request: Request, suffix: str) -> str:
    raw = request.scope.get("raw_path")
    text = bytes(raw).decode("latin-1").split("?", 1)[0] if isinstance(raw, (bytes, bytearray)) else request.url.path
    marker = "/records/namespaces/"
    at = text.find(marker)
    return unquote(text[at + len(marker): len(text) - len(suffix)], encoding="utf-8", errors="strict")


def inference_routes(client: Any, config: Any, data_prefix: str, index_model: Callable[[Any, str], dict]) -> list[Route]:
    """Return the routes of integrated inference over ``client``; ``index_model`` renders describe_index."""
    inference = client.inference  # builds the registry now: duplicate model names fail at start-up

    def endpoint(handler: Callable[[Request, bytes], tuple[int, Any]], limit: int, ndjson: bool = False) -> Any:
        async def run(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            from .app import read_body
            from .body import check_json_content_type

            headers = {"x-pinecone-request-id": request_id()}
            plane = plane_of(request.url.path)
            try:
                body = b""
                if request.method == "POST":
                    body = await read_body(request, limit, config.limits)  # size and arrival deadlines
                    if body and not body.isspace():
                        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
                        if not (ndjson and media in _NDJSON):
                            check_json_content_type(request.headers.get("content-type"))

                def call() -> tuple[int, bytes | None]:
                    status, payload = handler(request, body)
                    return status, None if payload is None else wire.dumps(payload)

                status, content = await run_in_threadpool(call)
            except ToolkitError as exc:
                return error_response(exc, plane, headers)
            except ClientDisconnect:
                return Response(status_code=499)
            except Exception as exc:  # a bug: 500, logged, never a traceback on the wire
                return unexpected(exc, plane, headers)
            if content is None:
                return Response(status_code=status, headers=headers)
            return Response(content, status_code=status, headers=headers, media_type="application/json")

        return run

    def base_url(request: Request) -> str:
        from .app import request_base_url

        return request_base_url(request, config.public_url)

    def create_for_model(request: Request, body: bytes) -> tuple[int, Any]:
        data = _json(body, CREATE_FIELDS)
        for key in ("name", "cloud", "region", "embed"):
            if key not in data:
                raise InvalidArgumentError(f"{key} is required", path=key)
        model = client.create_index_for_model(
            data["name"], data["cloud"], data["region"], embed=data["embed"], tags=data.get("tags"),
            deletion_protection=data.get("deletion_protection") or "disabled")
        return 201, index_model(model, f"{base_url(request)}{data_prefix}/{model.name}")

    def upsert_records(request: Request, body: bytes) -> tuple[int, Any]:
        index = client.Index(name=request.path_params["index"])
        namespace = _namespace(request, "/upsert")
        records = _ndjson_records(body)
        upsert(index, namespace, records, max_records=MAX_RECORDS_PER_REQUEST, show_progress=False)
        return 201, None

    def search(request: Request, body: bytes) -> tuple[int, Any]:
        index = client.Index(name=request.path_params["index"])
        namespace = _namespace(request, "/search")
        data = _json(body, SEARCH_FIELDS)
        if not isinstance(data.get("query"), Mapping):
            raise InvalidArgumentError("query is required", path="query")
        result = index.search(namespace, query=data["query"], fields=data.get("fields"), rerank=data.get("rerank"))
        return 200, result.to_dict()

    def embed(request: Request, body: bytes) -> tuple[int, Any]:
        data = _json(body, EMBED_FIELDS)
        if "model" not in data:
            raise InvalidArgumentError("model is required", path="model")
        return 200, inference.embed(data["model"], data.get("inputs"), data.get("parameters")).to_dict()

    def rerank(request: Request, body: bytes) -> tuple[int, Any]:
        data = _json(body, RERANK_FIELDS)
        for key in ("model", "query", "documents"):
            if key not in data:
                raise InvalidArgumentError(f"{key} is required", path=key)
        result = inference.rerank(data["model"], data["query"], data["documents"],
                                  rank_fields=data.get("rank_fields") or ["text"],
                                  return_documents=data.get("return_documents", True), top_n=data.get("top_n"),
                                  parameters=data.get("parameters"))
        return 200, result.to_dict()

    def list_models(request: Request, body: bytes) -> tuple[int, Any]:
        params = request.query_params
        return 200, {"models": inference.list_models(type=params.get("type"), vector_type=params.get("vector_type"))}

    def describe_model(request: Request, body: bytes) -> tuple[int, Any]:
        return 200, inference.describe_model(unquote(request.path_params["model"]))

    d = f"{data_prefix}/{{index}}"
    small = config.max_body
    return [
        Route("/indexes/create-for-model", endpoint(create_for_model, small), methods=["POST"]),
        Route(f"{d}/records/namespaces/{{ns:path}}/upsert", endpoint(upsert_records, config.max_upsert_body, True),
              methods=["POST"]),
        Route(f"{d}/records/namespaces/{{ns:path}}/search", endpoint(search, small), methods=["POST"]),
        Route("/embed", endpoint(embed, small), methods=["POST"]),
        Route("/rerank", endpoint(rerank, small), methods=["POST"]),
        Route("/models", endpoint(list_models, small), methods=["GET"]),
        Route("/models/{model:path}", endpoint(describe_model, small), methods=["GET"]),
    ]


__all__ = ["embed_wire_fields", "inference_routes"]
