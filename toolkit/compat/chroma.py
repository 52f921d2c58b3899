"""A Chroma-shaped collection over one namespace of a toolkit index (seed 004's delete contract).

    from toolkit.compat import ChromaClient
    collection = ChromaClient(index).get_or_create_collection("docs")
    collection.add(ids=["id1", "id2"], embeddings=[[...], [...]], metadatas=[...], documents=[...])
    collection.delete(where={"category": "old"})          # -> {"deleted": 1}

Every call translates its arguments and calls the toolkit's own methods once: ``delete`` is
``Index.delete_records`` (ids ∧ where ∧ where_document, ``limit``, the count), ``where`` goes
through ``compat.dialect`` and ``where_document`` is the toolkit's ``$document`` filter.
Documents are stored in the index's document field (``toolkit.documents.document_field``).

Differences from Chroma, on purpose: ``add`` overwrites an existing id (it is an upsert);
``get`` returns records in bytewise id order; distances are derived from the index's
scores (cosine: 1 - similarity, dotproduct: 1 - dot, euclidean: squared L2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..documents import compile_where_document, document_field
from ..errors import InvalidArgumentError, NotFoundError
from ..index import Index
from .dialect import translate_checked

_FETCH_CHUNK = 1000  # the reference fetch's id limit
_DEFAULT_INCLUDE = ("metadatas", "documents")


class ChromaClient:
    """Hand out collections, one per namespace of ``index``."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def get_or_create_collection(self, name: str) -> ChromaCollection:
        """Return the collection stored in namespace ``name`` (created by its first write)."""
        return ChromaCollection(self.index, name)

    get_collection = create_collection = get_or_create_collection


class ChromaCollection:
    """The subset of Chroma's ``Collection`` the seed's delete examples need: add, get, query, count, delete."""

    def __init__(self, index: Index, name: str) -> None:
        self.index = index
        self.name = name
        self._field = document_field(index.config, index.settings)

    # -- writes ------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        documents: Sequence[str | None] | None = None,
    ) -> None:
        """Store records (an existing id is overwritten); documents go to the document field."""
        if isinstance(ids, str):
            raise InvalidArgumentError("ids must be a list of record ids", path="ids")
        if embeddings is None:  # Chroma would embed documents; this adapter has no embedding function
            raise InvalidArgumentError("embeddings are required (one per id)", path="embeddings")
        for name, column in (("embeddings", embeddings), ("metadatas", metadatas), ("documents", documents)):
            if column is not None and len(column) != len(ids):
                raise InvalidArgumentError(f"{name} must have one entry per id ({len(ids)}), got {len(column)}",
                                           path=name)
        records = []
        for i, record_id in enumerate(ids):
            metadata = dict((metadatas[i] if metadatas is not None else None) or {})
            if documents is not None and documents[i] is not None:
                if self._field in metadata:
                    raise InvalidArgumentError(f"metadata key {self._field!r} holds the document; pass it in "
                                               "documents only", path=f"metadatas[{i}].{self._field}")
                metadata[self._field] = documents[i]
            record: dict[str, Any] = {"id": record_id, "values": embeddings[i]}
            if metadata:
                record["metadata"] = metadata
            records.append(record)
        self.index.upsert(records, namespace=self.name, batch_size=1000, show_progress=False)

    upsert = add

    def delete(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> dict[str, int]:
        """Delete the records in ``ids`` AND matching ``where`` AND ``where_document``; return ``{"deleted": n}``."""
        response = self.index.delete_records(ids=ids, filter=self._where(where), where_document=where_document,
                                             limit=limit, namespace=self.name)
        return {"deleted": response.deleted}

    # -- reads -------------------------------------------------------------------------------
    def count(self) -> int:
        """Return the number of records in the collection."""
        try:
            return self.index.describe_namespace(self.name).record_count
        except NotFoundError:  # nothing was ever added
            return 0

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        limit: int | None = None,
        include: Sequence[str] = _DEFAULT_INCLUDE,
    ) -> dict[str, Any]:
        """Return the matching records (bytewise id order) as Chroma's column lists."""
        if ids is None and where is None and where_document is None:
            chosen = [i for page in self.index.list(namespace=self.name) for i in page]
            chosen = chosen if limit is None else chosen[:limit]
        else:
            chosen = self.index.delete_records(ids=ids, filter=self._where(where), where_document=where_document,
                                               limit=limit, namespace=self.name, dry_run=True).ids
        found: dict[str, Any] = {}
        for start in range(0, len(chosen), _FETCH_CHUNK):
            found.update(self.index.fetch(chosen[start : start + _FETCH_CHUNK], namespace=self.name).vectors)
        present = [i for i in chosen if i in found]
        return self._columns(present, [found[i].metadata for i in present], [found[i].values for i in present],
                             include)

    def query(
        self,
        query_embeddings: Sequence[Sequence[float]],
        n_results: int = 10,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        include: Sequence[str] = (*_DEFAULT_INCLUDE, "distances"),
    ) -> dict[str, Any]:
        """Return the ``n_results`` nearest records per query embedding, Chroma-shaped (lists of lists)."""
        filter = self._where(where)
        if where_document is not None:
            compile_where_document(where_document, field=self._field)  # errors located at where_document
            filter = {"$and": [filter, {"$document": where_document}]} if filter else {"$document": where_document}
        out: dict[str, Any] = {"ids": [], "distances": [], "metadatas": [], "documents": [], "embeddings": []}
        for vector in query_embeddings:
            response = self.index.query(vector=vector, top_k=n_results, namespace=self.name, filter=filter,
                                        include_metadata=True, include_values="embeddings" in include)
            matches = response.matches
            columns = self._columns([m.id for m in matches], [m.metadata for m in matches],
                                    [m.values for m in matches], include)
            for key in ("ids", "metadatas", "documents", "embeddings"):
                out[key].append(columns[key])
            out["distances"].append([self._distance(m.score) for m in matches])
        return {k: (v if k == "ids" or k in include else None) for k, v in out.items()}

    # -- helpers -----------------------------------------------------------------------------
    def _where(self, where: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return None if where is None else translate_checked(where, path="where")

    def _columns(self, ids: list[str], metadatas: list[Any], values: list[Any], include: Sequence[str]
                 ) -> dict[str, Any]:
        documents, plain = [], []
        for metadata in metadatas:
            metadata = dict(metadata or {})
            documents.append(metadata.pop(self._field, None))
            plain.append(metadata or None)
        return {"ids": ids, "metadatas": plain if "metadatas" in include else None,
                "documents": documents if "documents" in include else None,
                "embeddings": [list(v) for v in values] if "embeddings" in include else None}

    def _distance(self, score: float) -> float:
        metric = self.index.config.metric
        return score if metric == "euclidean" else 1.0 - score
