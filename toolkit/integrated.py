"""Integrated indexes: text in, text out — embedding at upsert and query time, and reranking.

Built on the public ``Index`` API only (``upsert``, ``query``): an integrated index is an ordinary
dense or sparse index whose configuration also carries ``embed`` (the model, the field map and
the read/write parameters), kept in ``IndexConfig.spec["embed"]`` so it is persisted with the
index and restored when a folder is reopened.

* ``create_index_for_model(client, name, cloud, region, embed={"model", "field_map", ...})``
* ``upsert_records(index, namespace, records)``: each record has ``_id`` (or ``id``), the mapped
  text field and flat metadata fields. The whole batch is validated and embedded before the
  first record is stored; a rejected batch stores nothing.
* ``search(index, namespace, query={"inputs": {"text"} | "vector" | "id", "top_k", "filter",
  "match_terms"}, fields=[...], rerank={"model", "rank_fields", "top_n", "query", "parameters"})``

Usage (embedding tokens, rerank units) is on every response and in ``index.usage()``.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from . import cost
from .errors import InvalidArgumentError
from .identifiers import canonical_namespace, check_record_id
from .inference.api import check_rerank_request, check_texts, embed_options, rerank_units
from .inference.registry import ModelRegistry, Resolved, default_registry
from .inference.responses import Hit, SearchRecordsResponse
from .records import MAX_UPSERT_RECORDS, parse_records
from .responses import IndexModel

if TYPE_CHECKING:
    from .client import Client
    from .index import Index

MAX_RECORDS_PER_REQUEST = 96  # the reference's limit for upsert_records (its embedding models' batch)
PROGRESS_MIN_BATCHES = 10
EMBED_KEYS = ("model", "field_map", "metric", "dimension", "read_parameters", "write_parameters", "vector_type")
ID_KEYS = ("_id", "id")

_registries: "weakref.WeakKeyDictionary[Any, ModelRegistry]" = weakref.WeakKeyDictionary()


@dataclass
class UpsertRecordsResponse:
    """What ``upsert_records`` returns: records stored, the last LSN, and usage."""

    record_count: int
    lsn: int | None
    usage: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"record_count": self.record_count, "usage": dict(self.usage)}


def _registry(index: Any) -> ModelRegistry:
    return _registries.get(index) or default_registry()


def embed_config(index: "Index") -> dict[str, Any] | None:
    """Return the ``embed`` configuration of an integrated index (None for a plain index)."""
    embed = index.config.spec.get("embed")
    return dict(embed) if isinstance(embed, Mapping) else None


def _require_embed(index: "Index", what: str) -> dict[str, Any]:
    embed = embed_config(index)
    if embed is None:
        raise InvalidArgumentError(
            f"index {index.name!r} has no integrated embedding, so {what} needs vectors; create the index with "
            "create_index_for_model to send text", path="index")
    return embed


def _embedder(index: "Index", embed: Mapping[str, Any]) -> Resolved:
    return _registry(index).embedder(embed["model"], path="embed.model")


# -- create ---------------------------------------------------------------------------------------


def check_embed(embed: Any, registry: ModelRegistry) -> tuple[Resolved, dict[str, Any]]:
    """Validate an ``embed`` request; return the resolved model and the configuration to store."""
    if not isinstance(embed, Mapping):
        raise InvalidArgumentError("embed must be an object with 'model' and 'field_map'", path="embed")
    unknown = sorted(set(embed) - set(EMBED_KEYS))
    if unknown:
        raise InvalidArgumentError(f"unknown embed key {unknown[0]!r}; known: {', '.join(EMBED_KEYS)}",
                                   path=f"embed.{unknown[0]}")
    model = getattr(embed.get("model"), "value", embed.get("model"))
    resolved = registry.embedder(model, path="embed.model")
    embedder = resolved.model
    field_map = embed.get("field_map")
    if not isinstance(field_map, Mapping) or not isinstance(field_map.get("text"), str) or not field_map["text"]:
        raise InvalidArgumentError("field_map must map 'text' to the name of the record field to embed, "
                                   "e.g. {'text': 'chunk_text'}", path="embed.field_map")
    if set(field_map) != {"text"}:
        raise InvalidArgumentError("field_map takes only the key 'text'", path="embed.field_map")
    if field_map["text"] in ID_KEYS:
        raise InvalidArgumentError("the text field cannot be the record id", path="embed.field_map.text")
    metric = getattr(embed.get("metric"), "value", embed.get("metric")) or embedder.default_metric
    if embedder.vector_type == "sparse" and metric != "dotproduct":
        raise InvalidArgumentError(f"model {model!r} is sparse and needs the dotproduct metric, not {metric!r}",
                                   path="embed.metric")
    if metric not in ("cosine", "dotproduct", "euclidean"):
        raise InvalidArgumentError(f"metric must be cosine, dotproduct or euclidean, got {metric!r}",
                                   path="embed.metric")
    dimension = embed.get("dimension")
    if dimension is not None and dimension != embedder.dimension:
        raise InvalidArgumentError(
            f"model {model!r} is served here by {resolved.local!r}, whose dimension is {embedder.dimension}, "
            f"not {dimension!r}", path="embed.dimension")
    vector_type = embed.get("vector_type")
    if vector_type is not None and vector_type != embedder.vector_type:
        raise InvalidArgumentError(f"model {model!r} makes {embedder.vector_type} vectors, not {vector_type!r}",
                                   path="embed.vector_type")
    read = dict(embed.get("read_parameters") or {"input_type": "query"})
    write = dict(embed.get("write_parameters") or {"input_type": "passage"})
    embed_options(resolved, read, path="embed.read_parameters")
    embed_options(resolved, write, path="embed.write_parameters")
    config = {"model": model, "local_model": resolved.local, "dimension": embedder.dimension, "metric": metric,
              "vector_type": embedder.vector_type, "field_map": {"text": field_map["text"]},
              "read_parameters": read, "write_parameters": write}
    return resolved, config


def create_index_for_model(client: "Client", name: str, cloud: Any = "aws", region: Any = "us-east-1",
                           embed: Any = None, tags: Mapping[str, str] | None = None,
                           deletion_protection: str = "disabled", engine: Any = None,
                           registry: ModelRegistry | None = None) -> IndexModel:
    """Create an index whose records are embedded by ``embed['model']``; return its description.

    The index's dimension, metric and vector type are the model's (a 400 names any mismatch);
    ``describe_index(name).spec['embed']`` reports the requested model, the local model serving
    it and its real dimension.
    """
    registry = registry or client.inference.registry
    _, config = check_embed(embed, registry)
    cloud = str(getattr(cloud, "value", cloud))
    region = str(getattr(region, "value", region))
    client.create_index(name, dimension=config["dimension"], metric=config["metric"],
                        spec={"serverless": {"cloud": cloud, "region": region}}, vector_type=config["vector_type"],
                        deletion_protection=deletion_protection, tags=tags, engine=engine)
    attach_embed(client, name, config, registry)
    return client.describe_index(name)


def attach_embed(client: "Client", name: str, config: Mapping[str, Any], registry: ModelRegistry | None = None) -> None:
    """Make index ``name`` integrated with the checked ``config``, durably (create_index_for_model, restores).

    The configuration rides in ``IndexConfig.spec["embed"]``, so the storage layer persists it
    with the index config and a reopened folder (or a backup) brings it back.
    """
    client.attach_embed(name, config)
    index = client.Index(name)
    if registry is not None:
        _registries[index] = registry


# -- upsert ---------------------------------------------------------------------------------------


def _split_records(records: Any, text_field: str) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Return ids, texts and metadata of ``records``; every problem is a 400 naming the record."""
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Sequence) or not records:
        raise InvalidArgumentError("records must be a non-empty list of objects", path="records")
    ids, texts, metadata = [], [], []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidArgumentError("each record must be an object", path=f"records[{i}]")
        key = "_id" if "_id" in record else "id"
        if key not in record:
            raise InvalidArgumentError("record has no '_id' (or 'id')", path=f"records[{i}]")
        ids.append(check_record_id(record[key], f"records[{i}].{key}"))
        text = record.get(text_field)
        if not isinstance(text, str) or not text.strip():
            what = "has no" if text_field not in record else "has an empty or non-string"
            raise InvalidArgumentError(f"record {record[key]!r} {what} text field {text_field!r} to embed "
                                       "(the index's field_map)", path=f"records[{i}].{text_field}")
        texts.append(text)
        metadata.append({k: v for k, v in record.items() if k not in ID_KEYS})
    return ids, texts, metadata


def upsert_records(index: "Index", namespace: Any, records: Any, *, batch_size: int | None = None,
                   show_progress: bool | None = None, max_records: int | None = None) -> UpsertRecordsResponse:
    """Embed the mapped text field of ``records`` and upsert them; all or nothing.

    Texts are embedded ``batch_size`` at a time (default: the model's batch, 96) with a tqdm bar
    when there are many batches (``show_progress``), all before the first record is stored.
    ``max_records`` caps the request (the REST route passes the reference's 96).
    """
    started = time.perf_counter()
    embed = _require_embed(index, "upsert_records")
    if not isinstance(namespace, str):
        raise InvalidArgumentError("namespace must be a string", path="namespace")
    ns_name = canonical_namespace(namespace)
    resolved = _embedder(index, embed)
    ids, texts, metadata = _split_records(records, embed["field_map"]["text"])
    if max_records is not None and len(ids) > max_records:
        raise InvalidArgumentError(f"at most {max_records} records per upsert_records request, got {len(ids)}",
                                   path="records")
    options = embed_options(resolved, embed.get("write_parameters"), path="embed.write_parameters")
    step = batch_size or resolved.model.max_batch
    starts = range(0, len(texts), step)
    show = (len(starts) >= PROGRESS_MIN_BATCHES) if show_progress is None else show_progress
    dense_rows: list[np.ndarray] = []
    sparse_rows: list[tuple[np.ndarray, np.ndarray]] = []
    tokens = 0
    for start in tqdm(starts, desc=f"embed {index.name}", unit="batch", disable=not show):
        result = resolved.embed(texts[start:start + step], **options)
        tokens += result.total_tokens
        if result.dense is not None:
            dense_rows.append(result.dense)
        else:
            assert result.sparse is not None
            sparse_rows.extend(zip(result.sparse.indices, result.sparse.values))
    if dense_rows:
        values = np.concatenate(dense_rows)
        vectors = [{"id": i, "values": v, "metadata": m} for i, v, m in zip(ids, values, metadata)]
    else:
        empty = [n for n, (ix, _) in enumerate(sparse_rows) if ix.size == 0]
        if empty:
            raise InvalidArgumentError(f"record {ids[empty[0]]!r}: its text has no indexable terms for the sparse "
                                       f"model {embed['model']!r}", path=f"records[{empty[0]}]."
                                       f"{embed['field_map']['text']}")
        vectors = [{"id": i, "sparse_values": {"indices": ix.tolist(), "values": v.tolist()}, "metadata": m}
                   for i, (ix, v), m in zip(ids, sparse_rows, metadata)]
    chunks = [vectors[s:s + MAX_UPSERT_RECORDS] for s in range(0, len(vectors), MAX_UPSERT_RECORDS)]
    for chunk in chunks:  # validate every chunk before the first is stored
        parse_records(chunk, index.config.shape, max_metadata_bytes=index.settings.max_metadata_bytes,
                      sparse_max_nnz=index.settings.sparse_max_nnz)
    write_units, lsn = 0, None
    for chunk in chunks:
        response = index.upsert(vectors=chunk, namespace=ns_name, show_progress=False)
        write_units += response.usage.write_units or 0
        lsn = response.lsn
    index.record_usage(cost.LedgerEntry("embed", ns_name, records=len(ids), embed_tokens=tokens,
                                          seconds=time.perf_counter() - started))
    return UpsertRecordsResponse(len(ids), lsn, {"write_units": write_units, "embed_total_tokens": tokens})


# -- search ---------------------------------------------------------------------------------------


def _query_form(query: Any, flat: Mapping[str, Any]) -> dict[str, Any]:
    given = {k: v for k, v in flat.items() if v is not None}
    if query is not None:
        if given:
            raise InvalidArgumentError(f"pass either query={{...}} or {sorted(given)}, not both", path="query")
        if not isinstance(query, Mapping):
            query = {k: getattr(query, k) for k in ("top_k", "inputs", "vector", "id", "filter", "match_terms")
                     if getattr(query, k, None) is not None}
        return {k: v for k, v in dict(query).items() if v is not None}
    return given


def _query_vector(index: "Index", q: Mapping[str, Any], embed: Mapping[str, Any] | None,
                  usage: dict[str, int]) -> dict[str, Any]:
    """Return the ``index.query`` keywords for the query's one source: inputs, vector or id."""
    sources = [k for k in ("inputs", "vector", "id") if q.get(k) is not None]
    if len(sources) != 1:
        raise InvalidArgumentError("query needs exactly one of inputs, vector or id" +
                                   (f", got {sources}" if sources else ""), path="query")
    source = sources[0]
    if source == "id":
        return {"id": q["id"]}
    if source == "vector":
        vector = q["vector"]
        if isinstance(vector, Mapping):
            unknown = sorted(set(vector) - {"values", "sparse_values", "sparse_indices"})
            if unknown:
                raise InvalidArgumentError(f"unknown vector key {unknown[0]!r}", path=f"query.vector.{unknown[0]}")
            out: dict[str, Any] = {}
            if vector.get("values"):
                out["vector"] = vector["values"]
            if vector.get("sparse_indices") is not None or vector.get("sparse_values") is not None:
                out["sparse_vector"] = {"indices": vector.get("sparse_indices") or [],
                                        "values": vector.get("sparse_values") or []}
            if not out:
                raise InvalidArgumentError("query.vector has no values", path="query.vector")
            return out
        return {"vector": vector}
    if embed is None:
        raise InvalidArgumentError(f"index {index.name!r} has no integrated embedding, so it cannot search "
                                   "with text; pass query.vector or query.id", path="query.inputs")
    inputs = q["inputs"]
    if not isinstance(inputs, Mapping) or "text" not in inputs:
        raise InvalidArgumentError("inputs must be {'text': ...}", path="query.inputs")
    text = check_texts([inputs["text"]], path="query.inputs.text")
    resolved = _embedder(index, embed)
    options = embed_options(resolved, embed.get("read_parameters"), path="embed.read_parameters")
    result = resolved.embed(text, **options)
    usage["embed_total_tokens"] = result.total_tokens
    if result.dense is not None:
        return {"vector": result.dense[0]}
    assert result.sparse is not None
    return {"sparse_vector": {"indices": result.sparse.indices[0].tolist(),
                              "values": result.sparse.values[0].tolist()}}


def _match_terms(index: "Index", q: Mapping[str, Any], embed: Mapping[str, Any] | None) -> list[set[str]] | None:
    terms = q.get("match_terms")
    if terms is None:
        return None
    if embed is None or embed.get("vector_type") != "sparse" or q.get("inputs") is None:
        raise InvalidArgumentError("match_terms works only with query.inputs on an integrated sparse index",
                                   path="query.match_terms")
    if not isinstance(terms, Mapping) or terms.get("strategy", "all") != "all":
        raise InvalidArgumentError("match_terms must be {'terms': [...], 'strategy': 'all'}",
                                   path="query.match_terms.strategy")
    words = terms.get("terms")
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise InvalidArgumentError("match_terms.terms must be a non-empty list of strings",
                                   path="query.match_terms.terms")
    model = _embedder(index, embed).model
    return [set(tokens) for tokens in model.tokenize(words)]


def search(index: "Index", namespace: Any, query: Any = None, fields: Sequence[str] | None = None,
           rerank: Mapping[str, Any] | None = None, *, top_k: int | None = None, inputs: Any = None,
           vector: Any = None, id: str | None = None, filter: Mapping[str, Any] | None = None,
           match_terms: Mapping[str, Any] | None = None) -> SearchRecordsResponse:
    """Search a namespace with text (``inputs``), a vector or a record id; optionally rerank the hits.

    Hits carry ``_id``, ``_score`` and the requested ``fields`` (all stored fields when None).
    With ``rerank``, the ``top_k`` hits are rescored by the reranker and the best ``top_n`` are
    returned with the rerank score (0-1) as ``_score``.
    """
    if not isinstance(namespace, str):
        raise InvalidArgumentError("namespace must be a string", path="namespace")
    q = _query_form(query, {"top_k": top_k, "inputs": inputs, "vector": vector, "id": id, "filter": filter,
                            "match_terms": match_terms})
    unknown = sorted(set(q) - {"top_k", "inputs", "vector", "id", "filter", "match_terms"})
    if unknown:
        raise InvalidArgumentError(f"unknown query key {unknown[0]!r}", path=f"query.{unknown[0]}")
    k = q.get("top_k")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgumentError(f"top_k must be a positive integer, got {k!r}", path="query.top_k")
    if fields is not None and (isinstance(fields, str) or not all(isinstance(f, str) for f in fields)):
        raise InvalidArgumentError("fields must be a list of field names", path="fields")
    embed = embed_config(index)
    registry = _registry(index)
    reranker = _check_rerank(registry, rerank, fields, q)
    terms = _match_terms(index, q, embed)
    usage: dict[str, int] = {}
    keywords = _query_vector(index, q, embed, usage)
    response = index.query(top_k=k, namespace=namespace, filter=q.get("filter"), include_metadata=True,
                           **keywords)
    usage = {"read_units": response.usage.read_units or 0, **usage}
    matches = [(m.id, float(m.score), dict(m.metadata or {})) for m in response.matches]
    if terms is not None:
        assert embed is not None
        model = _embedder(index, embed).model
        text_field = embed["field_map"]["text"]
        docs = model.tokenize([str(m[2].get(text_field, "")) for m in matches])
        present = [set(d) for d in docs]
        matches = [m for m, have in zip(matches, present) if all(t <= have for t in terms)]
    if reranker is not None and matches:
        matches = _rerank(registry, reranker, rerank or {}, q, matches)
        usage["rerank_units"] = rerank_units(len(response.matches))
    ns_name = canonical_namespace(namespace)
    if usage.get("embed_total_tokens") or usage.get("rerank_units"):
        index.record_usage(cost.LedgerEntry("search", ns_name, records=len(matches),
                                              embed_tokens=usage.get("embed_total_tokens", 0),
                                              rerank_units=usage.get("rerank_units", 0)))
    hits = [Hit(i, s, m if fields is None else {f: m[f] for f in fields if f in m}) for i, s, m in matches]
    return SearchRecordsResponse(hits, usage)


def _check_rerank(registry: ModelRegistry, rerank: Any, fields: Sequence[str] | None,
                  q: Mapping[str, Any]) -> Resolved | None:
    if rerank is None:
        return None
    if not isinstance(rerank, Mapping):
        rerank = {k: getattr(rerank, k) for k in ("model", "rank_fields", "top_n", "parameters", "query")
                  if getattr(rerank, k, None) is not None}
    unknown = sorted(set(rerank) - {"model", "rank_fields", "top_n", "parameters", "query"})
    if unknown:
        raise InvalidArgumentError(f"unknown rerank key {unknown[0]!r}", path=f"rerank.{unknown[0]}")
    resolved = registry.reranker(rerank.get("model"), path="rerank.model")
    rank_fields = rerank.get("rank_fields")
    if isinstance(rank_fields, str) or not isinstance(rank_fields, (list, tuple)) or not rank_fields:
        raise InvalidArgumentError("rank_fields must be a non-empty list of field names", path="rerank.rank_fields")
    if fields is not None:
        missing = [f for f in rank_fields if f not in fields]
        if missing:
            raise InvalidArgumentError(f"rank field {missing[0]!r} must also be in fields", path="rerank.rank_fields")
    query = rerank.get("query")
    if query is None and not isinstance(q.get("inputs"), Mapping):
        raise InvalidArgumentError("rerank.query is needed when the search is by vector or id",
                                   path="rerank.query")
    return resolved


def _rerank(registry: ModelRegistry, resolved: Resolved, rerank: Mapping[str, Any], q: Mapping[str, Any],
            matches: list[tuple[str, float, dict[str, Any]]]) -> list[tuple[str, float, dict[str, Any]]]:
    query = rerank.get("query") or q["inputs"]["text"]
    rank_fields = list(rerank["rank_fields"])
    for record_id, _, metadata in matches:
        for name in rank_fields:
            if not isinstance(metadata.get(name), str):
                raise InvalidArgumentError(f"hit {record_id!r} has no text field {name!r} to rerank on",
                                           path="rerank.rank_fields")
    _, texts = check_rerank_request(resolved, registry, query, [m[2] for m in matches], rank_fields,
                                    rerank.get("top_n"), rerank.get("parameters"), path="rerank.")
    truncate = str(dict(rerank.get("parameters") or {}).get("truncate",
                                                            registry.rerank_limits(resolved).default_truncate))
    scores = resolved.model.score(query, texts, truncate=truncate.upper())
    order = np.lexsort((np.arange(len(matches)), -scores))
    top_n = rerank.get("top_n")
    if top_n is not None:
        order = order[:top_n]
    return [(matches[i][0], float(scores[i]), matches[i][2]) for i in order]
