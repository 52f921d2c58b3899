"""Sparse text-like datasets: BM25 term weights over a vocabulary.

Documents get BM25's term-frequency part as weights and queries get the terms' IDF, so a
dot product is the BM25 score (the split the reference service's BM25 encoder uses).
Sparse indices are CRC32 hashes of the terms, as uint32 — many exceed 2^31, as in the
reference service's own examples — and the dataset keeps them in ``sparse_vocabulary``.

* ``python-docs`` reads the bundled corpus (passages of the Python documentation);
* ``sparse-zipf`` generates documents whose term frequencies follow a Zipf-Mandelbrot law.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidArgumentError
from .base import Dataset, DatasetSource
from .files import shipped_file

K1, B = 1.2, 0.75
_TOKEN = re.compile(r"[a-z][a-z0-9_]+")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have if in into is it its of on or that the their then there "
    "these this to was were which will with not no can may must also but so such than when where while "
    "all any each other same only more most should would could been being do does did".split()
)


def tokenize(text: str) -> list[str]:
    """Return the lowercase word tokens of ``text`` without stopwords."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def term_index(term: str) -> int:
    """Return the sparse index of a term: its CRC32, a stable uint32."""
    return zlib.crc32(term.encode("utf-8"))


def bm25_matrix(docs: Sequence[Sequence[int] | np.ndarray], n_terms: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Return BM25 document weights (CSR, one row per doc of term columns) and each term's IDF."""
    rows: list[int] = []
    cols: list[int] = []
    for row, terms in enumerate(docs):
        rows.extend([row] * len(terms))
        cols.extend(terms)
    counts = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(docs), n_terms))
    counts.sum_duplicates()
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1e-9))
    tf = counts.data
    counts.data = (tf * (K1 + 1) / (tf + np.repeat(norm, np.diff(counts.indptr)))).astype(np.float32)
    df = np.bincount(counts.indices, minlength=n_terms)
    idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5)).astype(np.float32)
    return counts, idf


def sample_queries(weights: sp.csr_matrix, idf: np.ndarray, n_queries: int, rng: np.random.Generator,
                   terms: tuple[int, int] = (2, 5)) -> sp.csr_matrix:
    """Return queries of 2-5 terms drawn from random documents, weighted by IDF."""
    lengths = np.diff(weights.indptr)
    candidates = np.flatnonzero(lengths >= terms[0])
    rows, cols, vals = [], [], []
    for i, doc in enumerate(rng.choice(candidates, n_queries, replace=len(candidates) < n_queries)):
        columns = weights.indices[weights.indptr[doc] : weights.indptr[doc + 1]]
        size = min(len(columns), int(rng.integers(terms[0], terms[1] + 1)))
        chosen = rng.choice(columns, size, replace=False)
        rows.extend([i] * size)
        cols.extend(chosen.tolist())
        vals.extend(idf[chosen].tolist())
    queries = sp.csr_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=(n_queries, weights.shape[1]))
    queries.sort_indices()
    return queries


class PythonDocs(DatasetSource):
    """BM25 vectors of the bundled corpus: ~2,200 passages of the Python documentation."""

    name = "python-docs"
    description = "sparse BM25 vectors of ~2.2k bundled Python-documentation passages (real text)"
    vector_type = "sparse"
    size = 2_171
    default_metric = "dotproduct"

    def __init__(self, n_queries: int = 200, seed: int = 0) -> None:
        if isinstance(n_queries, bool) or not isinstance(n_queries, int) or n_queries < 1:
            raise InvalidArgumentError(f"must be an integer >= 1, got {n_queries!r}", path="n_queries")
        self.n_queries, self.seed = n_queries, seed

    def load(self) -> Dataset:
        with gzip.open(shipped_file("python-docs.jsonl.gz"), "rt", encoding="utf-8") as handle:
            passages = [json.loads(line) for line in handle if line.strip()]
        tokens = [tokenize(p["text"]) for p in passages]
        hashes = np.unique(np.fromiter((term_index(t) for doc in tokens for t in doc), dtype=np.int64))
        column = {int(h): i for i, h in enumerate(hashes.tolist())}
        docs = [[column[term_index(t)] for t in doc] for doc in tokens]
        keep = [i for i, doc in enumerate(docs) if doc]
        weights, idf = bm25_matrix([docs[i] for i in keep], len(hashes))
        rng = np.random.default_rng(self.seed)
        queries = sample_queries(weights, idf, self.n_queries, rng)
        metadata = [{"topic": passages[i]["topic"], "words": float(len(passages[i]["text"].split()))} for i in keep]
        ids = np.array([f"doc-{i}" for i in keep], dtype=object)
        return Dataset(repr(self), "dotproduct", weights, queries, ids=ids, metadata=metadata,
                       sparse_vocabulary=hashes, description=self.description)


class SparseZipf(DatasetSource):
    """Generated documents whose terms follow a Zipf-Mandelbrot law; BM25 weights."""

    name = "sparse-zipf"
    description = "generated sparse BM25 vectors, Zipf-distributed terms over a vocabulary"
    vector_type = "sparse"
    size = 10_000
    default_metric = "dotproduct"

    def __init__(self, n: int = 10_000, vocabulary: int = 30_000, mean_terms: int = 40, n_queries: int = 200,
                 exponent: float = 1.07, seed: int = 0) -> None:
        for key, value in (("n", n), ("vocabulary", vocabulary), ("mean_terms", mean_terms), ("n_queries", n_queries)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"must be an integer >= 1, got {value!r}", path=key)
        self.n, self.vocabulary, self.mean_terms = n, vocabulary, mean_terms
        self.n_queries, self.exponent, self.seed = n_queries, float(exponent), seed

    def load(self) -> Dataset:
        rng = np.random.default_rng(self.seed)
        ranks = np.arange(1, self.vocabulary + 1)
        p = 1.0 / (ranks + 2.7) ** self.exponent
        p /= p.sum()
        lengths = 3 + rng.poisson(self.mean_terms, self.n)
        flat = rng.choice(self.vocabulary, int(lengths.sum()), p=p)
        docs = np.split(flat, np.cumsum(lengths)[:-1])
        weights, idf = bm25_matrix(docs, self.vocabulary)
        used = np.flatnonzero(np.diff(weights.tocsc().indptr))  # drop terms no document uses
        weights, idf = weights[:, used].tocsr(), idf[used]
        vocabulary = np.array(sorted({term_index(f"t{j}") for j in used.tolist()}), dtype=np.int64)
        if vocabulary.size != used.size:  # a CRC32 collision: fall back to plain term numbers
            vocabulary = used.astype(np.int64)
        else:
            order = np.argsort([term_index(f"t{j}") for j in used.tolist()], kind="stable")
            weights, idf = weights[:, order].tocsr(), idf[order]
        weights.sort_indices()
        queries = sample_queries(weights, idf, self.n_queries, rng)
        metadata = [{"length": float(x)} for x in lengths.tolist()]
        return Dataset(repr(self), "dotproduct", weights, queries, metadata=metadata, sparse_vocabulary=vocabulary,
                       description=self.description)
