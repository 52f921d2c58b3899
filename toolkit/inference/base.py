"""The embedder and reranker plugin contracts: named classes with a vectorised batch call.

A plugin returns these classes from ``register_embedders`` / ``register_rerankers``; the
registry instantiates each once per process, lazily, so loading model weights costs nothing
until a model is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

INPUT_TYPES = ("query", "passage")
TRUNCATE = ("END", "NONE")


@dataclass
class SparseRows:
    """Sparse vectors of a batch: row ``i`` is ``indices[i]`` (sorted uint32) and ``values[i]``."""

    indices: list[np.ndarray]
    values: list[np.ndarray]
    tokens: list[list[str]] | None = None


@dataclass
class Embeddings:
    """What an embedder returns for a batch: ``dense`` (n, dimension) or ``sparse`` rows, and
    each input's token count (the reference bills embedding by tokens)."""

    token_counts: np.ndarray
    dense: np.ndarray | None = None
    sparse: SparseRows | None = None

    @property
    def total_tokens(self) -> int:
        return int(self.token_counts.sum())


class Embedder:
    """Turn texts into vectors. Subclasses set the class attributes and implement ``embed``."""

    name: ClassVar[str] = ""
    vector_type: ClassVar[str] = "dense"          # "dense" or "sparse"
    dimension: ClassVar[int | None] = None         # None for sparse models
    default_metric: ClassVar[str] = "cosine"
    max_tokens: ClassVar[int] = 512                # per input, after which ``truncate`` applies
    max_batch: ClassVar[int] = 96                  # inputs per request (the reference's limit)
    description: ClassVar[str] = ""

    def embed(self, texts: Sequence[str], *, input_type: str = "passage", truncate: str = "END",
              return_tokens: bool = False) -> Embeddings:
        """Embed ``texts`` (already validated: a non-empty list of strings)."""
        raise NotImplementedError

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Return each text's normalised tokens (used by ``match_terms``); default: lowercase words."""
        import re

        return [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]


class Reranker:
    """Score documents against a query. Subclasses set the class attributes and implement ``score``."""

    name: ClassVar[str] = ""
    max_documents: ClassVar[int] = 100
    max_tokens: ClassVar[int] = 1024               # query + document, after which ``truncate`` applies
    multiple_rank_fields: ClassVar[bool] = False   # True: several rank_fields are joined in order
    default_truncate: ClassVar[str] = "NONE"
    description: ClassVar[str] = ""

    def score(self, query: str, documents: Sequence[str], *, truncate: str = "NONE") -> np.ndarray:
        """Return one relevance score in [0, 1] per document (higher is more relevant)."""
        raise NotImplementedError

    def count_tokens(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """Return the tokens of each (query, document) pair, for the ``max_tokens`` check."""
        return np.array([len((query + " " + d).split()) for d in documents], dtype=np.int64)
