"""The model table: which local model stands in for each of the reference service's model names.

The reference's hosted models cannot run here; each name resolves to a local plugin model
(``Embedder.name`` / ``Reranker.name``), and describe calls report both. The table is data:
``DEFAULT_ALIASES`` below, overridden by a TOML file named in ``$VECTOR_TOOLKIT_MODEL_TABLE``
or by ``ModelTable(aliases=...)``::

    [aliases]
    llama-text-embed-v2 = "all-minilm-l6-v2"
    my-reranker = "minilm-lexical-rerank"

    [limits.bge-reranker-v2-m3]       # optional: the reference model's request limits
    max_documents = 100
    multiple_rank_fields = false

    [prefixes.multilingual-e5-large]  # optional: text put before each input, by input_type
    query = "query: "
    passage = "passage: "

The prefixes reproduce an asymmetric model's query/passage convention: E5 models are used
with ``"query: "`` / ``"passage: "`` before the text, so the hosted multilingual-e5-large
returns different vectors for the two input types and the stand-in does too. Usage counts
the caller's text only, not the prefix.

A local model's own name always resolves to itself.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import InvalidArgumentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TABLE_ENV = "VECTOR_TOOLKIT_MODEL_TABLE"

DEFAULT_ALIASES: Mapping[str, str] = MappingProxyType({
    # dense embedding models -> a real 384-d sentence model (the reference's are 1024-d)
    "llama-text-embed-v2": "all-minilm-l6-v2",
    "multilingual-e5-large": "all-minilm-l6-v2",
    # sparse embedding model -> BM25-style weights over a WordPiece vocabulary
    "pinecone-sparse-english-v0": "bm25-wordpiece",
    # rerankers -> a MiniLM + candidate-BM25 fusion (not a cross-encoder)
    "bge-reranker-v2-m3": "minilm-lexical-rerank",
    "pinecone-rerank-v0": "minilm-lexical-rerank",
    "cohere-rerank-3.5": "minilm-lexical-rerank",
})


# E5's published convention; the symmetric stand-in (MiniLM) then separates queries from passages
DEFAULT_PREFIXES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "multilingual-e5-large": MappingProxyType({"query": "query: ", "passage": "passage: "}),
})


@dataclass(frozen=True)
class RerankLimits:
    """A reranker name's request limits (search_spec §5.3)."""

    max_documents: int = 100
    max_tokens: int = 1024
    multiple_rank_fields: bool = False
    default_truncate: str = "NONE"


DEFAULT_LIMITS: Mapping[str, RerankLimits] = MappingProxyType({
    "bge-reranker-v2-m3": RerankLimits(100, 1024, False, "NONE"),
    "pinecone-rerank-v0": RerankLimits(100, 512, False, "END"),
    "cohere-rerank-3.5": RerankLimits(200, 40_000, True, "END"),
})


@dataclass(frozen=True)
class ModelTable:
    """Reference model names -> local model names, and the reference rerankers' limits."""

    aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    limits: Mapping[str, RerankLimits] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    prefixes: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: dict(DEFAULT_PREFIXES))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> "ModelTable":
        """Return the default table updated from ``path`` (or ``$VECTOR_TOOLKIT_MODEL_TABLE``, if set)."""
        table = cls()
        path = path or os.environ.get(TABLE_ENV)
        if not path:
            return table
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgumentError(f"cannot read the model table {path}: {exc}", path=TABLE_ENV) from exc
        return table.updated(data, source=str(path))

    def updated(self, data: Mapping[str, Any], source: str = "table") -> "ModelTable":
        """Return a copy with ``data['aliases']``, ``data['limits']`` and ``data['prefixes']`` merged in."""
        aliases = dict(self.aliases)
        for name, local in dict(data.get("aliases", {})).items():
            if not isinstance(local, str) or not local:
                raise InvalidArgumentError(f"alias {name!r} must name a local model", path=f"{source}.aliases.{name}")
            aliases[str(name)] = local
        limits = dict(self.limits)
        for name, given in dict(data.get("limits", {})).items():
            try:
                limits[str(name)] = replace(limits.get(str(name), RerankLimits()), **dict(given))
            except TypeError as exc:
                raise InvalidArgumentError(str(exc), path=f"{source}.limits.{name}") from exc
        prefixes = dict(self.prefixes)
        for name, given in dict(data.get("prefixes", {})).items():
            where = f"{source}.prefixes.{name}"
            if not isinstance(given, Mapping) or set(given) - {"query", "passage"}:
                raise InvalidArgumentError("prefixes must map 'query' and/or 'passage' to text", path=where)
            for key, text in given.items():
                if not isinstance(text, str):
                    raise InvalidArgumentError(f"prefix {key!r} must be a string, got {text!r}", path=f"{where}.{key}")
            prefixes[str(name)] = dict(given)
        return replace(self, aliases=aliases, limits=limits, prefixes=prefixes)

    def local_name(self, model: str) -> str:
        """Return the local model that serves ``model`` (itself when it is not an alias)."""
        return self.aliases.get(model, model)

    def input_prefixes(self, model: str) -> Mapping[str, str]:
        """Return the text put before inputs of ``model`` by input_type (empty: none)."""
        return self.prefixes.get(model, {})
