"""A "Vectorizer"-shaped async client over a toolkit index: seed 002's delete calls and cleanup patterns.

    from toolkit.compat import VectorizerClient
    client = VectorizerClient(index)                      # a collection is a namespace of ``index``
    await client.insert_vectors("my_collection", [{"id": "vec_001", "vector": [...], "payload": {...}}])
    await client.delete_vector("my_collection", "vec_001")
    await client.batch_delete("my_collection", ["vec_002", "vec_003"])
    await client.delete_by_filter("my_collection", filter={"category": "old_docs"})

Each delete is one ``Index.delete_records`` call and answers ``{"deleted": n}``. Filters go
through ``compat.dialect``; the one rewrite is for ISO-8601 timestamps, which Vectorizer
compares with ``$lt``/``$gt`` (seed 002's "cleanup old documents") while the toolkit's range
operators take numbers: ``insert_vectors`` stores every payload string that is an ISO-8601
date or datetime also as epoch seconds in ``<field>__epoch`` (naive times read as UTC), and a
range operator whose operand is such a string compares that shadow field instead. Any other
string operand of a range operator is refused with a located error. Shadow fields never show
in what the client returns.

``search`` takes a vector, or a text when the client was given an ``embed`` function. The
empty text ``""`` (the cleanup pattern's "every record") ranks nothing: it queries with a
constant vector, so the filter alone decides which ``limit`` records come back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from ..index import Index
from .dialect import translate_checked

EPOCH_SUFFIX = "__epoch"
_RANGE = frozenset({"$gt", "$gte", "$lt", "$lte"})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def iso_epoch(text: str) -> float | None:
    """Return an ISO-8601 date or datetime as epoch seconds (naive = UTC), or None if it is not one."""
    if not _ISO.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _rewrite(field: str, op: str, operand: Any, path: str) -> tuple[str, Any] | None:
    if op not in _RANGE or not isinstance(operand, str):
        return None
    epoch = iso_epoch(operand)
    if epoch is None:
        raise InvalidArgumentError(f"{op} compares numbers or ISO-8601 timestamps, got the string {operand!r}",
                                   path=path)
    return field + EPOCH_SUFFIX, epoch


class VectorizerClient:
    """Seed 002's client calls over ``index``; each collection is a namespace."""

    def __init__(self, index: Index, *, embed: Callable[[str], Sequence[float]] | None = None) -> None:
        self.index = index
        self.embed = embed

    async def insert_vectors(self, collection: str, vectors: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Store ``{"id", "vector", "payload"}`` items (an existing id is overwritten)."""
        records = []
        for i, item in enumerate(vectors):
            if not isinstance(item, Mapping) or "id" not in item or "vector" not in item:
                raise InvalidArgumentError("each vector is an object with id and vector (and payload)",
                                           path=f"vectors[{i}]")
            payload = dict(item.get("payload") or {})
            for key, value in list(payload.items()):
                if key.endswith(EPOCH_SUFFIX):
                    raise InvalidArgumentError(f"payload keys ending in {EPOCH_SUFFIX!r} are reserved",
                                               path=f"vectors[{i}].payload.{key}")
                epoch = iso_epoch(value) if isinstance(value, str) else None
                if epoch is not None:
                    payload[key + EPOCH_SUFFIX] = epoch
            record: dict[str, Any] = {"id": item["id"], "values": item["vector"]}
            if payload:
                record["metadata"] = payload
            records.append(record)
        response = self.index.upsert(records, namespace=collection, batch_size=1000, show_progress=False)
        return {"inserted": response.upserted_count}

    async def get_vector(self, collection: str, vector_id: str) -> dict[str, Any] | None:
        """Return one stored vector as ``{"id", "vector", "payload"}``, or None."""
        found = self.index.fetch([vector_id], namespace=collection).vectors.get(vector_id)
        return None if found is None else {"id": found.id, "vector": list(found.values),
                                           "payload": _visible(found.metadata)}

    async def delete_vector(self, collection: str, vector_id: str) -> dict[str, int]:
        """Delete one vector by id (``DELETE /collections/{c}/vectors/{id}``)."""
        return self._deleted(ids=[vector_id], namespace=collection)

    async def batch_delete(self, collection: str, ids: Sequence[str]) -> dict[str, int]:
        """Delete a batch of ids (``POST /collections/{c}/batch_delete``); any number of ids."""
        return self._deleted(ids=ids, namespace=collection)

    async def delete_by_filter(self, collection: str, filter: Mapping[str, Any]) -> dict[str, int]:
        """Delete every vector matching ``filter`` (``POST /collections/{c}/delete_by_filter``)."""
        return self._deleted(filter=self._filter(filter), namespace=collection)

    async def search(self, collection: str, query: str | Sequence[float], limit: int = 10,
                     filter: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Return up to ``limit`` ``{"id", "score", "payload"}`` results, best first."""
        response = self.index.query(vector=self._query_vector(query), top_k=limit, namespace=collection,
                                    filter=None if filter is None else self._filter(filter), include_metadata=True)
        return [{"id": m.id, "score": m.score, "payload": _visible(m.metadata)} for m in response.matches]

    # -- helpers -----------------------------------------------------------------------------
    def _deleted(self, **request: Any) -> dict[str, int]:
        return {"deleted": self.index.delete_records(**request).deleted}

    @staticmethod
    def _filter(filter: Mapping[str, Any]) -> dict[str, Any]:
        return translate_checked(filter, path="filter", rewrite=_rewrite)

    def _query_vector(self, query: str | Sequence[float]) -> Any:
        if not isinstance(query, str):
            return query
        if query == "":
            return np.ones(self.index.config.dimension or 0, dtype=np.float32)
        if self.embed is None:
            raise InvalidArgumentError("this client has no text embedder: pass embed= or search with a vector",
                                       path="query")
        return self.embed(query)


def _visible(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a payload without the adapter's shadow fields."""
    return {k: v for k, v in (metadata or {}).items() if not k.endswith(EPOCH_SUFFIX)}
