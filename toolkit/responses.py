"""Responses: the SDK's response shapes, with ``to_dict()``, item access and Jupyter HTML.

Attribute names follow the reference service's Python SDK (snake_case). Beyond the SDK,
write responses carry ``lsn`` and ``usage.write_units``, and read responses carry
``max_indexed_lsn`` (the highest LSN the read reflects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence, overload

from .display import DisplayMixin, render_html
from .vectors import SparseValues, Vector

if TYPE_CHECKING:
    from .cluster_partial import PartialResults


@dataclass
class Usage(DisplayMixin):
    """Units a request used: ``read_units`` on reads, ``write_units`` on writes."""

    read_units: int | None = None
    write_units: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("read_units", self.read_units), ("write_units", self.write_units)) if v is not None}


@dataclass
class ScoredVector(DisplayMixin):
    """One query match."""

    id: str
    score: float
    values: list[float] = field(default_factory=list)
    sparse_values: SparseValues | None = None
    metadata: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "score": self.score, "values": list(self.values)}
        if self.sparse_values is not None:
            out["sparse_values"] = self.sparse_values.to_dict()
        if self.metadata is not None:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass
class QueryResponse(DisplayMixin):
    """Matches best first, the namespace searched, read units and the LSN the read reflects."""

    matches: list[ScoredVector]
    namespace: str
    usage: Usage
    max_indexed_lsn: int = 0
    # a cluster read with allow_partial=True that left out slabs on no live worker: which (else None)
    partial: PartialResults | None = field(default=None, repr=False, compare=False, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"matches": [m.to_dict() for m in self.matches], "namespace": self.namespace,
                "usage": self.usage.to_dict(), "max_indexed_lsn": self.max_indexed_lsn}

    def ids(self) -> list[str]:
        """Return the ids of the matches, best first."""
        return [m.id for m in self.matches]

    def _repr_html_(self) -> str:
        data = self.to_dict()
        for match in data["matches"]:
            if not match.get("values"):
                match.pop("values")
            metadata = match.pop("metadata", None) or {}
            match.update({f"metadata.{k}": v for k, v in metadata.items()})
        return render_html("QueryResponse", data)


class QueryBatchResponse(Sequence[QueryResponse]):
    """The responses of ``Index.query_batch``: a sequence of QueryResponse, built on first access.

    Matches are kept columnar (flat ``ids`` and ``scores``; query i's are
    ``bounds[i]:bounds[i + 1]``) so a large batch costs no Python object per match until a
    response is read. ``ids_of(i)`` and ``scores_of(i)`` read them without building one.
    """

    partial: PartialResults | None = None  # set by a cluster read with allow_partial=True that left out slabs

    def __init__(self, ids: list[str], scores: list[float], bounds: list[int], namespace: str,
                 usage: Usage, max_indexed_lsn: int,
                 matches: list[list[ScoredVector]] | None = None) -> None:
        self.ids, self.scores, self.bounds = ids, scores, bounds
        self.namespace, self.usage, self.max_indexed_lsn = namespace, usage, max_indexed_lsn
        self._matches = matches  # prebuilt when values or metadata were asked for
        self._built: dict[int, QueryResponse] = {}

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def ids_of(self, i: int) -> list[str]:
        """Return query i's match ids, best first."""
        return self.ids[self.bounds[i]:self.bounds[i + 1]]

    def scores_of(self, i: int) -> list[float]:
        """Return query i's match scores, best first."""
        return self.scores[self.bounds[i]:self.bounds[i + 1]]

    def _response(self, i: int) -> QueryResponse:
        built = self._built.get(i)
        if built is None:
            if self._matches is not None:
                matches = self._matches[i]
            else:
                matches = list(map(ScoredVector, self.ids_of(i), self.scores_of(i)))
            built = self._built[i] = QueryResponse(matches, self.namespace, Usage(read_units=self.usage.read_units),
                                                   self.max_indexed_lsn)
        return built

    @overload
    def __getitem__(self, i: int) -> QueryResponse: ...
    @overload
    def __getitem__(self, i: slice) -> list[QueryResponse]: ...

    def __getitem__(self, i: int | slice) -> QueryResponse | list[QueryResponse]:
        if isinstance(i, slice):
            return [self._response(j) for j in range(len(self))[i]]
        if not -len(self) <= i < len(self):
            raise IndexError(f"batch has {len(self)} responses, no index {i}")
        return self._response(i % len(self))

    def to_dict(self) -> dict[str, Any]:
        return {"responses": [r.to_dict() for r in self]}

    def __repr__(self) -> str:
        return f"QueryBatchResponse({len(self)} queries, namespace={self.namespace!r})"

    def _repr_html_(self) -> str:
        rows = [{"query": i, "ids": self.ids_of(i), "scores": self.scores_of(i)} for i in range(len(self))]
        return render_html(repr(self), {"queries": rows})


@dataclass
class FetchResponse(DisplayMixin):
    """Fetched records by id (missing ids are simply absent)."""

    vectors: dict[str, Vector]
    namespace: str
    usage: Usage
    max_indexed_lsn: int = 0
    # a cluster read with allow_partial=True that left out slabs on no live worker: which (else None)
    partial: PartialResults | None = field(default=None, repr=False, compare=False, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"vectors": {k: v.to_dict() for k, v in self.vectors.items()}, "namespace": self.namespace,
                "usage": self.usage.to_dict(), "max_indexed_lsn": self.max_indexed_lsn}


@dataclass
class UpsertResponse(DisplayMixin):
    """How many records the request carried, its LSN and write units."""

    upserted_count: int
    lsn: int | None
    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        return {"upserted_count": self.upserted_count, "lsn": self.lsn, "usage": self.usage.to_dict()}


@dataclass
class WriteResponse(DisplayMixin):
    """The answer to update and delete: the request's LSN and write units."""

    lsn: int | None
    usage: Usage
    matched_records: int | None = None  # update by filter only

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lsn": self.lsn, "usage": self.usage.to_dict()}
        if self.matched_records is not None:
            out["matched_records"] = self.matched_records
        return out


@dataclass
class ListItem(DisplayMixin):
    id: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id}


@dataclass
class Pagination(DisplayMixin):
    next: str

    def to_dict(self) -> dict[str, Any]:
        return {"next": self.next}


@dataclass
class ListResponse(DisplayMixin):
    """One page of record ids; ``pagination`` is None on the last page."""

    vectors: list[ListItem]
    pagination: Pagination | None
    namespace: str
    usage: Usage
    max_indexed_lsn: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vectors": [v.to_dict() for v in self.vectors], "namespace": self.namespace,
                               "usage": self.usage.to_dict()}
        if self.pagination is not None:
            out["pagination"] = self.pagination.to_dict()
        out["max_indexed_lsn"] = self.max_indexed_lsn
        return out


@dataclass
class NamespaceSummary(DisplayMixin):
    vector_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"vector_count": self.vector_count}


@dataclass
class DescribeIndexStatsResponse(DisplayMixin):
    """Record counts per namespace and index-wide."""

    namespaces: dict[str, NamespaceSummary]
    dimension: int | None
    index_fullness: float
    total_vector_count: int
    metric: str
    vector_type: str

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "namespaces": {k: v.to_dict() for k, v in self.namespaces.items()},
            "index_fullness": self.index_fullness,
            "total_vector_count": self.total_vector_count,
            "metric": self.metric,
            "vector_type": self.vector_type,
        }
        if self.dimension is not None:
            out["dimension"] = self.dimension
        return out


@dataclass
class NamespaceDescription(DisplayMixin):
    name: str
    record_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "record_count": self.record_count}


@dataclass
class ListNamespacesResponse(DisplayMixin):
    namespaces: list[NamespaceDescription]
    pagination: Pagination | None
    total_count: int | None = None  # namespaces on every page (with the prefix)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespaces": [n.to_dict() for n in self.namespaces]}
        if self.pagination is not None:
            out["pagination"] = self.pagination.to_dict()
        if self.total_count is not None:
            out["total_count"] = self.total_count
        return out


@dataclass
class IndexStatus(DisplayMixin):
    ready: bool = True
    state: str = "Ready"

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "state": self.state}


@dataclass
class IndexModel(DisplayMixin):
    """An index's configuration, as describe_index answers."""

    name: str
    dimension: int | None
    metric: str
    vector_type: str
    host: str
    spec: dict[str, Any]
    deletion_protection: str
    tags: dict[str, str] | None
    engine: dict[str, Any]
    status: IndexStatus = field(default_factory=IndexStatus)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "metric": self.metric,
            "vector_type": self.vector_type,
            "host": self.host,
            "spec": self.spec,
            "status": self.status.to_dict(),
            "deletion_protection": self.deletion_protection,
            "tags": None if self.tags is None else dict(self.tags),
            "engine": self.engine,
        }


@dataclass
class IndexList(DisplayMixin):
    """Every index of a client; iterate it, or call ``names()``."""

    indexes: list[IndexModel]

    def names(self) -> list[str]:
        return [i.name for i in self.indexes]

    def __iter__(self) -> Iterator[IndexModel]:
        return iter(self.indexes)

    def __len__(self) -> int:
        return len(self.indexes)

    def to_dict(self) -> dict[str, Any]:
        return {"indexes": [i.to_dict() for i in self.indexes]}


@dataclass
class FetchByMetadataResponse(FetchResponse):
    """One page of records whose metadata matches a filter; ``pagination.next`` resumes (None: last page)."""

    pagination: Pagination | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.pagination is not None:
            out["pagination"] = self.pagination.to_dict()
        return out
