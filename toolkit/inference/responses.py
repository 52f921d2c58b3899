"""Response objects of the inference API, shaped like the reference SDK's (attribute and dict access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..display import DisplayMixin


@dataclass
class DenseEmbedding(DisplayMixin):
    """One dense embedding."""

    values: list[float]
    vector_type: str = "dense"

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "vector_type": self.vector_type}


@dataclass
class SparseEmbedding(DisplayMixin):
    """One sparse embedding (``sparse_tokens`` when ``return_tokens`` was asked)."""

    sparse_values: list[float]
    sparse_indices: list[int]
    sparse_tokens: list[str] | None = None
    vector_type: str = "sparse"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sparse_values": list(self.sparse_values), "sparse_indices": list(self.sparse_indices),
                               "vector_type": self.vector_type}
        if self.sparse_tokens is not None:
            out["sparse_tokens"] = list(self.sparse_tokens)
        return out


@dataclass
class EmbeddingsList(DisplayMixin):
    """What ``inference.embed`` returns; ``usage['total_tokens']`` is what the reference bills."""

    model: str
    vector_type: str
    data: list[Any]
    usage: dict[str, int]
    local_model: str = ""

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "vector_type": self.vector_type, "data": [d.to_dict() for d in self.data],
                "usage": dict(self.usage)}


@dataclass
class RankedDocument(DisplayMixin):
    """One reranked document: its position in the request, its score in [0, 1], the document."""

    index: int
    score: float
    document: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "score": self.score}
        if self.document is not None:
            out["document"] = dict(self.document)
        return out


@dataclass
class RerankResult(DisplayMixin):
    """What ``inference.rerank`` returns: documents by descending score, at most ``top_n``."""

    model: str
    data: list[RankedDocument]
    usage: dict[str, int]
    local_model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "data": [d.to_dict() for d in self.data], "usage": dict(self.usage)}


@dataclass
class Hit(DisplayMixin):
    """One search hit: ``_id``, ``_score`` and the requested ``fields``."""

    id: str
    score: float
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return {"_id": self.id, "_score": self.score, "fields": self.fields}[key]

    def to_dict(self) -> dict[str, Any]:
        return {"_id": self.id, "_score": self.score, "fields": dict(self.fields)}


@dataclass
class SearchRecordsResponse(DisplayMixin):
    """What ``index.search`` returns: ``result.hits`` best first, and ``usage``."""

    hits: list[Hit]
    usage: dict[str, int]

    @property
    def result(self) -> "SearchRecordsResponse":
        return self  # the SDK reads response.result.hits

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, Any]:
        return {"result": {"hits": [h.to_dict() for h in self.hits]}, "usage": dict(self.usage)}
