"""The standalone inference API: ``client.inference.embed`` / ``rerank`` / ``list_models``.

Every request is validated whole before a model runs; a bad one is an ``InvalidArgumentError``
whose ``path`` names the offending field (``inputs[3]``, ``documents[0].text``, ``model``...).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from .base import INPUT_TYPES, TRUNCATE, Embeddings
from .models import ModelTable
from .registry import ModelRegistry, Resolved, default_registry
from .responses import DenseEmbedding, EmbeddingsList, RankedDocument, RerankResult, SparseEmbedding

MAX_EMBED_INPUTS = 96
RERANK_DOCUMENTS_PER_UNIT = 100
EMBED_PARAMETERS = ("input_type", "truncate", "return_tokens", "dimension", "max_tokens_per_sequence")
RERANK_PARAMETERS = ("truncate",)


_EMBED_PARAMETER_INFO = [
    {"parameter": "input_type", "type": "one_of", "value_type": "string", "required": False,
     "allowed_values": list(INPUT_TYPES), "default": "passage"},
    {"parameter": "truncate", "type": "one_of", "value_type": "string", "required": False,
     "allowed_values": list(TRUNCATE), "default": "END"},
]
_RETURN_TOKENS_INFO = [{"parameter": "return_tokens", "type": "any", "value_type": "boolean", "required": False,
                        "default": False}]


def check_texts(inputs: Any, path: str = "inputs", limit: int | None = MAX_EMBED_INPUTS) -> list[str]:
    """Return the texts of ``inputs`` (strings or ``{"text": ...}`` objects); refuse empty or non-text ones."""
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise InvalidArgumentError("inputs must be a non-empty list of texts", path=path)
    if limit is not None and len(inputs) > limit:
        raise InvalidArgumentError(f"at most {limit} inputs per request, got {len(inputs)}", path=path)
    texts = []
    for i, item in enumerate(inputs):
        text = item.get("text") if isinstance(item, Mapping) else item
        if not isinstance(text, str) or not text.strip():
            where = f"{path}[{i}].text" if isinstance(item, Mapping) else f"{path}[{i}]"
            raise InvalidArgumentError("each input must be a non-empty string", path=where)
        texts.append(text)
    return texts


def embed_options(resolved: Resolved, parameters: Any, path: str = "parameters") -> dict[str, Any]:
    """Validate embed ``parameters`` for this model; return ``input_type``, ``truncate``, ``return_tokens``."""
    parameters = dict(parameters or {}) if isinstance(parameters, Mapping) or parameters is None else parameters
    if not isinstance(parameters, dict):
        raise InvalidArgumentError("parameters must be an object", path=path)
    unknown = sorted(set(parameters) - set(EMBED_PARAMETERS))
    if unknown:
        raise InvalidArgumentError(f"unknown parameter {unknown[0]!r}; known: {', '.join(EMBED_PARAMETERS)}",
                                   path=f"{path}.{unknown[0]}")
    model = resolved.model
    input_type = parameters.get("input_type", "passage")
    if input_type not in INPUT_TYPES:
        raise InvalidArgumentError(f"input_type must be one of {list(INPUT_TYPES)}, got {input_type!r}",
                                   path=f"{path}.input_type")
    truncate = str(parameters.get("truncate", "END")).upper()
    if truncate not in TRUNCATE:
        raise InvalidArgumentError(f"truncate must be one of {list(TRUNCATE)}, got {parameters['truncate']!r}",
                                   path=f"{path}.truncate")
    dimension = parameters.get("dimension")
    if dimension is not None and dimension != model.dimension:
        raise InvalidArgumentError(
            f"model {resolved.requested!r} is served here by {resolved.local!r}, which has dimension "
            f"{model.dimension}, not {dimension!r}", path=f"{path}.dimension")
    return_tokens = parameters.get("return_tokens", False)
    if not isinstance(return_tokens, bool):
        raise InvalidArgumentError("return_tokens must be a boolean", path=f"{path}.return_tokens")
    if return_tokens and model.vector_type != "sparse":
        raise InvalidArgumentError(f"return_tokens is for sparse models; {resolved.requested!r} is dense",
                                   path=f"{path}.return_tokens")
    return {"input_type": input_type, "truncate": truncate, "return_tokens": return_tokens}


def embeddings_list(resolved: Resolved, result: Embeddings) -> EmbeddingsList:
    """Return an ``Embeddings`` batch as the API's ``EmbeddingsList``."""
    if result.dense is not None:
        data: list[Any] = [DenseEmbedding(row) for row in result.dense.tolist()]
        vector_type = "dense"
    else:
        sparse = result.sparse
        assert sparse is not None
        data = [SparseEmbedding(v.tolist(), i.astype(np.int64).tolist(),
                                None if sparse.tokens is None else sparse.tokens[n])
                for n, (i, v) in enumerate(zip(sparse.indices, sparse.values))]
        vector_type = "sparse"
    return EmbeddingsList(resolved.requested, vector_type, data, {"total_tokens": result.total_tokens},
                          resolved.local)


def rerank_units(n_documents: int) -> int:
    """Return the rerank units of one request: 1 per started block of 100 documents."""
    return max(1, math.ceil(n_documents / RERANK_DOCUMENTS_PER_UNIT))


class Inference:
    """Embed texts and rerank documents with the registered (local, offline) models."""

    def __init__(self, plugins: Iterable[object] = (), table: ModelTable | None = None,
                 registry: ModelRegistry | None = None) -> None:
        plugins = tuple(plugins)
        if registry is None:
            registry = default_registry() if not plugins and table is None else ModelRegistry(plugins, table)
        self.registry = registry

    def embed(self, model: str, inputs: Any, parameters: Mapping[str, Any] | None = None) -> EmbeddingsList:
        """Embed ``inputs`` (strings or ``{"text": ...}``, at most 96) with ``model``."""
        resolved = self.registry.embedder(model)
        texts = check_texts(inputs)
        options = embed_options(resolved, parameters)
        return embeddings_list(resolved, resolved.embed(texts, **options))

    def rerank(self, model: str, query: str, documents: Sequence[Any], rank_fields: Sequence[str] = ("text",),
               return_documents: bool = True, top_n: int | None = None,
               parameters: Mapping[str, Any] | None = None) -> RerankResult:
        """Score ``documents`` (strings or objects) against ``query``; return the ``top_n`` best."""
        resolved = self.registry.reranker(model)
        docs, texts = check_rerank_request(resolved, self.registry, query, documents, rank_fields, top_n, parameters)
        truncate = str(dict(parameters or {}).get("truncate", self.registry.rerank_limits(resolved).default_truncate))
        scores = resolved.model.score(query, texts, truncate=truncate.upper())
        n = len(docs) if top_n is None else min(int(top_n), len(docs))
        order = np.lexsort((np.arange(len(docs)), -scores))[:n]
        data = [RankedDocument(int(i), float(scores[i]), docs[i] if return_documents else None) for i in order]
        return RerankResult(resolved.requested, data, {"rerank_units": rerank_units(len(docs))}, resolved.local)

    def list_models(self, type: str | None = None, vector_type: str | None = None) -> list[dict[str, Any]]:
        """Return every model name served here (reference aliases and local models) with what serves it."""
        out = []
        table = self.registry.table
        names = set(table.aliases) | set(self.registry.embedders) | set(self.registry.rerankers)
        for name in sorted(names):
            info = self.describe_model(name, missing_ok=True)
            if info is None:
                continue
            if type is not None and info["type"] != type:
                continue
            if vector_type is not None and info.get("vector_type") != vector_type:
                continue
            out.append(info)
        return out

    def describe_model(self, model: str, missing_ok: bool = False) -> dict[str, Any] | None:
        """Return one model's description: its type, the local model serving it, dimension and limits."""
        local = self.registry.table.local_name(model)
        if local in self.registry.embedders:
            e = self.registry.embedders[local]
            return {"model": model, "type": "embed", "vector_type": e.vector_type, "default_dimension": e.dimension,
                    "supported_dimensions": [] if e.dimension is None else [e.dimension],
                    "supported_metrics": ["dotproduct"] if e.vector_type == "sparse" else ["cosine", "dotproduct",
                                                                                         "euclidean"],
                    "max_sequence_length": e.max_tokens, "max_batch_size": MAX_EMBED_INPUTS,
                    "provider_name": "vector-toolkit (local)", "short_description": f"served by {local}: "
                    f"{e.description}", "modality": "text", "served_by": local,
                    "supported_parameters": _EMBED_PARAMETER_INFO + (_RETURN_TOKENS_INFO if e.vector_type == "sparse"
                                                                     else [])}
        if local in self.registry.rerankers:
            r = self.registry.rerankers[local]
            limits = self.registry.table.limits.get(model)
            return {"model": model, "type": "rerank", "max_sequence_length": (limits or r).max_tokens,
                    "max_batch_size": (limits or r).max_documents, "provider_name": "vector-toolkit (local)",
                    "short_description": f"served by {local}: {r.description}", "modality": "text",
                    "served_by": local, "supported_parameters": [
                        {"parameter": "truncate", "type": "one_of", "value_type": "string", "required": False,
                         "allowed_values": list(TRUNCATE), "default": (limits or r).default_truncate}]}
        if missing_ok:
            return None
        self.registry.embedder(model)  # raises the 400 naming the model
        return None


def check_rerank_request(resolved: Resolved, registry: ModelRegistry, query: Any, documents: Any,
                         rank_fields: Any, top_n: Any, parameters: Any, path: str = "") -> tuple[list[dict], list[str]]:
    """Validate a rerank request; return the documents as objects and the text to score for each."""
    limits = registry.rerank_limits(resolved)
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgumentError("query must be a non-empty string", path=f"{path}query")
    if not isinstance(documents, (list, tuple)) or not documents:
        raise InvalidArgumentError("documents must be a non-empty list", path=f"{path}documents")
    if len(documents) > limits.max_documents:
        raise InvalidArgumentError(f"model {resolved.requested!r} takes at most {limits.max_documents} documents, "
                                   f"got {len(documents)}", path=f"{path}documents")
    if isinstance(rank_fields, str) or not isinstance(rank_fields, (list, tuple)) or not rank_fields \
            or not all(isinstance(f, str) and f for f in rank_fields):
        raise InvalidArgumentError("rank_fields must be a non-empty list of field names", path=f"{path}rank_fields")
    if len(rank_fields) > 1 and not limits.multiple_rank_fields:
        raise InvalidArgumentError(f"model {resolved.requested!r} takes one rank field, got {list(rank_fields)}",
                                   path=f"{path}rank_fields")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidArgumentError(f"top_n must be a positive integer, got {top_n!r}", path=f"{path}top_n")
    params = parameters or {}
    if not isinstance(params, Mapping):
        raise InvalidArgumentError("parameters must be an object", path=f"{path}parameters")
    unknown = sorted(set(params) - set(RERANK_PARAMETERS))
    if unknown:
        raise InvalidArgumentError(f"unknown parameter {unknown[0]!r}; known: {', '.join(RERANK_PARAMETERS)}",
                                   path=f"{path}parameters.{unknown[0]}")
    truncate = str(params.get("truncate", limits.default_truncate)).upper()
    if truncate not in TRUNCATE:
        raise InvalidArgumentError(f"truncate must be one of {list(TRUNCATE)}", path=f"{path}parameters.truncate")
    docs: list[dict] = []
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            doc = {"text": doc}
        if not isinstance(doc, Mapping):
            raise InvalidArgumentError("each document must be a string or an object", path=f"{path}documents[{i}]")
        parts = []
        for name in rank_fields:
            value = doc.get(name)
            if not isinstance(value, str):
                raise InvalidArgumentError(f"document has no text field {name!r} to rank on",
                                           path=f"{path}documents[{i}].{name}")
            parts.append(value)
        docs.append(dict(doc))
        texts.append("\n".join(parts))
    if truncate == "NONE":
        counts = resolved.model.count_tokens(query, texts)
        over = np.flatnonzero(counts > limits.max_tokens)
        if over.size:
            i = int(over[0])
            raise InvalidArgumentError(f"query + document {i} has {int(counts[i])} tokens, over the limit of "
                                       f"{limits.max_tokens} for {resolved.requested!r}; pass "
                                       "parameters={'truncate': 'END'}", path=f"{path}documents[{i}]")
    return docs, texts
