"""Scoring: scores per metric, their order, and vectorised exact top-k (search_spec §2.1).

Internally every search ranks by a *key* where smaller is better: the squared euclidean
distance as is, and the negated score for cosine and dotproduct. This keeps one code path
for merging results of every metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .sparse import Sparse, SparseRows, sparse_dot

METRICS = ("cosine", "euclidean", "dotproduct")


def ascending(metric: str) -> bool:
    """Return True when a lower score is better (only euclidean)."""
    return metric == "euclidean"


def scores_to_keys(scores: np.ndarray, metric: str) -> np.ndarray:
    return scores if ascending(metric) else -scores


@dataclass(frozen=True)
class Query:
    """A validated query: a dense part, a sparse part, or both (hybrid)."""

    dense: np.ndarray | None = None
    sparse: Sparse | None = None


@dataclass(frozen=True)
class SearchResult:
    """Candidate rows of one segment, best first, with their exact scores and the work done.

    The two work figures are what the engine really did for this query (the "true work"
    the cost ledger sets beside billed read units), never an estimate from the result size:

    - ``distance_computations``: query-to-row scores evaluated. Exact kernel: one per row it
      scores; sparse_csr: one per stored value of the query's dimensions (posting entries
      touched) plus one per row for a dense half; Annoy: its distinct candidates (read from its
      own answer) plus the rows re-scored; PyNNDescent: the nodes its graph search evaluated
      (read from its visited set) plus the rows re-scored.
    - ``bytes_scanned``: vector bytes those evaluations read: dimension × 4 per dense
      evaluation (PyNNDescent's dotproduct vectors have one more coordinate) and
      ``SPARSE_ENTRY_BYTES`` per sparse value; tree nodes, graph edges and norms are not counted.

    Each engine states its method in ``SlabBuilder.work_counting``
    (``toolkit.plugin.work_counting(client.builders())`` lists them for a report).
    """

    rows: np.ndarray  # int64 row numbers inside the segment
    scores: np.ndarray  # float32 scores in the index metric
    distance_computations: int = 0
    bytes_scanned: int = 0

    @classmethod
    def empty(cls) -> SearchResult:
        return cls(np.empty(0, np.int64), np.empty(0, np.float32))


# A scan of at least this many keys first narrows them to those at or below a bound on the k-th
# smallest (``_below_kth_bound``): one pass of block minima and one compare instead of a partition
# of every key. Measured on one core (float32 keys, k = 10): 2k keys 19 -> 7 us, 10k keys
# 93 -> 12 us, 100k keys 894 -> 78 us; at 10k x 128 the partition was as costly as the scan itself.
BOUND_MIN_KEYS = 2048
BOUND_BLOCK = 256  # keys per block whose minimum is taken, halved (down to BOUND_BLOCK_MIN) ...
BOUND_BLOCK_MIN = 32
BOUND_BLOCKS_PER_K = 4  # ... until there are at least this many blocks per wanted key


def _bound_block(n: int, k: int) -> int:
    """Return the block size for ``n`` keys and top ``k``, or 0 when too few blocks would remain."""
    block = BOUND_BLOCK
    while n // block < BOUND_BLOCKS_PER_K * k and block > BOUND_BLOCK_MIN:
        block //= 2
    return block if n // block >= BOUND_BLOCKS_PER_K * k else 0


def _below_kth_bound(keys: np.ndarray, k: int) -> np.ndarray | None:
    """Return the positions of every key ≤ the k-th smallest block minimum, or None when no finite bound.

    k blocks have a minimum at or below that bound, so at least k finite keys are kept, among them
    the k smallest and every key tied with the k-th: ``top_candidates`` of the kept keys is that of all.
    """
    block = _bound_block(keys.size, k)
    if not block:
        return None
    blocks = keys.size // block
    minima = keys[: blocks * block].reshape(blocks, block).min(axis=1)  # NaN blocks sort last
    bound = np.partition(minima, k - 1)[k - 1]
    if not np.isfinite(bound):
        return None
    return np.flatnonzero(keys <= bound)


def top_candidates(keys: np.ndarray, k: int) -> np.ndarray:
    """Return positions of the k smallest keys, sorted, plus any rows tied with the k-th.

    Keeping boundary ties lets the caller break them by id deterministically.
    """
    n = keys.size
    if n >= BOUND_MIN_KEYS and 0 < k < n:
        kept = _below_kth_bound(keys, k)
        if kept is not None and kept.size < n // 2:
            return kept[top_candidates(keys[kept], k)]
    # A key of +inf marks a row that is not allowed and NaN one that cannot rank; -inf is a real
    # key (a score of +inf, e.g. an overflowing dot product) and ranks first.
    if k >= n:
        order = np.argsort(keys, kind="stable")
        return order[keys[order] < np.inf]
    # Partition around position k: the first k are the k smallest and the key at position k is
    # the smallest of the rest, so a tie across the boundary shows without another full pass.
    order = np.argpartition(keys, k)
    part = order[:k]
    kth = keys[part].max()
    if not kth < np.inf:  # +inf or NaN among the k
        part = part[keys[part] < np.inf]
    elif keys[order[k]] <= kth:  # rows outside the k tie with the k-th: keep them all
        part = np.flatnonzero(keys <= kth)
    return part[np.argsort(keys[part], kind="stable")]


# A batch is scored in chunks of queries so the (queries × rows) key matrix stays near this
# many float32 values (64 MB); one chunk is one matrix-matrix product.
BATCH_KEYS_BUDGET = 1 << 24


def batch_chunk(n_queries: int, n_rows: int) -> int:
    """Return how many queries of a batch to score at once against ``n_rows`` rows."""
    return max(1, min(n_queries, BATCH_KEYS_BUDGET // max(1, n_rows)))


def top_candidates_rows(keys: np.ndarray, k: int) -> list[np.ndarray]:
    """Row-wise ``top_candidates`` of a (queries, rows) key matrix: one argpartition for all rows.

    Rows whose k-th key ties with a key outside the k (or that hold non-finite keys among
    the k) go through ``top_candidates`` itself, so the answer is the same row by row.
    """
    n, width = keys.shape
    if n == 0:
        return []
    if k >= width:
        return [top_candidates(row, k) for row in keys]
    order = np.argpartition(keys, k, axis=1)
    part = order[:, :k]
    part_keys = np.take_along_axis(keys, part, 1)
    kth = part_keys.max(axis=1)
    rest = np.take_along_axis(keys, order[:, k:k + 1], 1)[:, 0]
    simple = np.isfinite(kth) & (rest > kth)
    sorter = np.argsort(part_keys, axis=1, kind="stable")
    best = np.take_along_axis(part, sorter, 1)
    if simple.all():
        return list(best)
    return [best[i] if simple[i] else top_candidates(keys[i], k) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# The exact kernel: the one implementation of exact scoring. The memtable scan (exact_search),
# the exact engine, the sparse engine's dense half and the re-scoring of every approximate
# engine's candidates all go through ExactKernel, so a row gets the same score on every path.
# ---------------------------------------------------------------------------------------------

# With fewer allowed rows than this share, the kernel gathers them and scores only them;
# with more, it scores every row and masks the others (a gather costs a copy of the rows).
GATHER_BELOW = 0.5
# Bytes one stored sparse value costs to read: a float32 value and its int32 column / row index.
SPARSE_ENTRY_BYTES = 8


class ExactKernel:
    """Exact scores and exact top-k of a fixed set of rows (dense and/or sparse) in one metric.

    One formula per metric, used by every caller:

    - cosine: ``(dense[r] · q) / (|dense[r]| · |q|)``, with the rows' norms computed once;
    - dotproduct: ``dense[r] · q``;
    - euclidean: ``|dense[r] − q|²``. A scan ranks by ``|v|² − 2 v·q`` (one matrix product) and
      re-scores every row within a safe float32 margin of the k-th exactly, so the winners
      and their scores are those of ``|v − q|²``;
    - the sparse part (hybrid or sparse indexes) adds ``sparse[r] · q_sparse``.

    Work: a scan counts one distance per row it scores and reads ``width × 4`` bytes per
    dense row plus ``SPARSE_ENTRY_BYTES`` per stored sparse value of those rows
    (``scan_work``); ``rescore`` callers count their candidates with ``rescore_bytes``.
    """

    def __init__(self, metric: str, dense: np.ndarray | None, sparse: SparseRows | None = None, *,
                 drop_zero: bool = False, norms: np.ndarray | None = None) -> None:
        """``norms``: the rows' saved |v| (cosine) or |v|² (euclidean), e.g. memory-mapped; else computed."""
        self.metric = metric
        self.drop_zero = drop_zero  # a sparse index discards zero-score matches (D:6461)
        self.rows = int(dense.shape[0]) if dense is not None else len(sparse) if sparse is not None else 0
        self.width = 0 if dense is None else int(dense.shape[1])
        self.matrix = dense  # the dense rows, float32
        self.norms: np.ndarray | None = None  # |v| of each row, cosine only
        self.sq_norms: np.ndarray | None = None  # |v|² of each row, euclidean only
        self.sq_max = 0.0
        if dense is not None:
            if metric == "cosine":
                self.norms = np.linalg.norm(dense, axis=1).astype(np.float32, copy=False) if norms is None else norms
            if metric == "euclidean":
                self.sq_norms = np.einsum("ij,ij->i", dense, dense) if norms is None else norms
                self.sq_max = float(self.sq_norms.max()) if self.sq_norms.size else 0.0
        self.sparse_matrix: sp.csr_matrix | None = None
        self.vocabulary = np.empty(0, np.uint32)
        self.sparse_nnz = np.zeros(0, np.int64)  # stored values per row; read only with a sparse matrix
        if sparse is not None and len(sparse):
            self.sparse_matrix, self.vocabulary = sparse.matrix()
            self.sparse_nnz = sparse.nnz_per_row()

    @property
    def nbytes(self) -> int:
        """Return the bytes the kernel holds (rows as scored, norms, sparse matrix)."""
        total = 0 if self.matrix is None else int(self.matrix.nbytes)
        for extra in (self.norms, self.sq_norms):
            if extra is not None:
                total += int(extra.nbytes)
        if self.sparse_matrix is not None:
            m = self.sparse_matrix
            total += int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.vocabulary.nbytes)
        return total

    # -- work --------------------------------------------------------------------------------
    def scan_work(self, positions: np.ndarray | None) -> tuple[int, int]:
        """Return (distances, bytes) of scoring the rows at ``positions`` (None: every row)."""
        n = self.rows if positions is None else int(positions.size)
        nbytes = n * self.width * 4
        if self.sparse_matrix is not None:
            nnz = int(self.sparse_nnz.sum() if positions is None else self.sparse_nnz[positions].sum())
            nbytes += nnz * SPARSE_ENTRY_BYTES
        return n, nbytes

    def rescore_bytes(self, candidates: int) -> int:
        """Return the bytes read to re-score ``candidates`` dense rows."""
        return int(candidates) * self.width * 4

    # -- scores --------------------------------------------------------------------------------
    def _cosine(self, products: np.ndarray, positions: np.ndarray | None, q_norms: np.ndarray | np.floating[Any]
                ) -> np.ndarray:
        """Divide dot products (or their negation) by |row| · |q|: the cosine scores (or keys)."""
        assert self.norms is not None
        norms = self.norms if positions is None else self.norms[positions]
        divisor = norms * q_norms
        if products.dtype == divisor.dtype and products.shape == divisor.shape and products.flags.writeable:
            return np.divide(products, divisor, out=products)  # the same quotient, without one more array
        return products / divisor

    def rescore(self, q: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
        """Return the exact float32 scores of the rows at ``positions`` (None: every row) for a dense query."""
        assert self.matrix is not None
        vectors = self.matrix if positions is None else self.matrix[positions]
        if self.metric == "euclidean":
            diff = vectors - q
            return np.einsum("ij,ij->i", diff, diff).astype(np.float32, copy=False)
        scores = vectors @ q
        if self.metric == "cosine":
            scores = self._cosine(scores, positions, np.linalg.norm(q))
        return scores.astype(np.float32, copy=False)

    def rescore_pairs(self, queries: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Return the exact scores of pairs: row ``positions[i]`` (any shape) for query ``queries[i]``.

        ``queries`` is (n, dimension) and ``positions`` (n, ...): e.g. (n, c) candidates per query.
        """
        assert self.matrix is not None
        vectors = self.matrix[positions]
        q = queries.reshape(queries.shape[:1] + (1,) * (positions.ndim - 1) + queries.shape[1:])
        if self.metric == "euclidean":
            diff = vectors - q
            return np.einsum("...d,...d->...", diff, diff).astype(np.float32, copy=False)
        scores = np.einsum("...d,...d->...", vectors, np.broadcast_to(q, vectors.shape))
        if self.metric == "cosine":
            scores = self._cosine(scores, positions, np.linalg.norm(q, axis=-1))
        return scores.astype(np.float32, copy=False)

    def scores(self, query: Query, positions: np.ndarray | None = None) -> np.ndarray:
        """Return the exact float32 scores (dense part + sparse part) of the rows at ``positions``."""
        n = self.rows if positions is None else int(positions.size)
        out = np.zeros(n, dtype=np.float32)
        if query.dense is not None and self.matrix is not None:
            out = self.rescore(query.dense, positions)
        sparse = self._sparse_scores(query, positions)
        if sparse is not None:
            out = (out + sparse).astype(np.float32, copy=False)
        return out

    def _sparse_scores(self, query: Query, positions: np.ndarray | None) -> np.ndarray | None:
        if query.sparse is None or self.sparse_matrix is None:
            return None
        matrix = self.sparse_matrix if positions is None else self.sparse_matrix[positions]
        return sparse_dot(matrix, self.vocabulary, query.sparse)

    def _keys(self, query: Query, positions: np.ndarray | None) -> np.ndarray:
        """Return ranking keys (smaller is better) of the rows at ``positions`` (None: every row).

        Cosine and dotproduct negate the query rather than the scores: IEEE rounding is
        symmetric, so M·(−q) = −(M·q) bit for bit and a winner's score is just −key.
        Euclidean returns |v|² − 2 v·q, which ranks like |v − q|² (see ``_near``).
        """
        n = self.rows if positions is None else int(positions.size)
        keys: np.ndarray | None = None
        if query.dense is not None and self.matrix is not None:
            matrix = self.matrix if positions is None else self.matrix[positions]
            if self.metric == "euclidean":
                assert self.sq_norms is not None
                sq = self.sq_norms if positions is None else self.sq_norms[positions]
                keys = sq - 2 * (matrix @ query.dense)
            else:
                keys = matrix @ -query.dense
                if self.metric == "cosine":
                    keys = self._cosine(keys, positions, np.linalg.norm(query.dense))
        sparse = self._sparse_scores(query, positions)
        if sparse is not None:
            keys = -sparse if keys is None else keys - sparse  # −(dense + sparse), exactly
        if keys is None:
            keys = np.zeros(n, dtype=np.float32)
        keys = keys.astype(np.float32, copy=False)
        if self.drop_zero:  # a zero score (key ±0) never matches on a sparse index
            keys = np.where(keys == 0, np.float32(np.inf), keys)
        return keys

    def _gathered(self, allowed: np.ndarray | None) -> np.ndarray | None:
        """Return the allowed rows when few enough are allowed to score only them, else None (mask)."""
        if allowed is None or np.count_nonzero(allowed) >= GATHER_BELOW * self.rows:
            return None
        return np.flatnonzero(allowed)

    def _near(self, q: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
        """Return the positions of ``keys`` (euclidean ``|v|² − 2 v·q``) that may be among the best k.

        The key loses precision to float32 cancellation, so every key within a safe margin
        of the k-th is kept; the caller re-scores those exactly as |v − q|² and ranks again.
        """
        finite = np.isfinite(keys)
        kk = min(k, int(np.count_nonzero(finite)))
        if kk == 0:
            return np.empty(0, np.int64)
        kth = np.partition(keys, kk - 1)[kk - 1]
        margin = 1e-4 * (float(np.dot(q, q)) + self.sq_max) + 1e-30
        return np.flatnonzero(keys <= kth + margin)

    # -- search --------------------------------------------------------------------------------
    def search(self, query: Query, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        """Return the best k allowed rows (plus rows tied with the k-th) with exact scores."""
        if self.rows == 0 or (allowed is not None and not allowed.any()):
            return SearchResult.empty()
        gathered = self._gathered(allowed)
        keys = self._keys(query, gathered)
        if allowed is not None and gathered is None:
            keys = np.where(allowed, keys, np.float32(np.inf))
        work, nbytes = self.scan_work(gathered)
        if self.metric == "euclidean" and query.dense is not None and self.matrix is not None:
            near = self._near(query.dense, keys, k)
            positions = near if gathered is None else gathered[near]
            exact = self.rescore(query.dense, positions)
            best = top_candidates(exact, k)
            return SearchResult(positions[best].astype(np.int64), exact[best], work, nbytes)
        best = top_candidates(keys, k)
        positions = best if gathered is None else gathered[best]
        return SearchResult(positions.astype(np.int64), (-keys[best]).astype(np.float32), work, nbytes)

    def search_batch(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[SearchResult]:
        """``search`` of every row of ``queries`` (dense): the allowed rows are gathered (or masked)
        once, each chunk of queries is scored with one matrix-matrix product and a row-wise
        argpartition; row i of the answer is what ``search`` returns for query i."""
        n = int(queries.shape[0])
        if self.matrix is None or self.sparse_matrix is not None:
            return [self.search(Query(q, None), k, allowed) for q in queries]
        if self.rows == 0 or (allowed is not None and not allowed.any()):
            return [SearchResult.empty() for _ in range(n)]
        gathered = self._gathered(allowed)
        matrix = self.matrix if gathered is None else self.matrix[gathered]
        blocked = None if allowed is None or gathered is not None else ~allowed
        work, nbytes = self.scan_work(gathered)
        euclidean = self.metric == "euclidean"
        sq = None
        if euclidean:
            assert self.sq_norms is not None
            sq = self.sq_norms if gathered is None else self.sq_norms[gathered]
        q_norms = np.linalg.norm(queries, axis=1)[:, None] if self.metric == "cosine" else None
        out: list[SearchResult] = []
        step = batch_chunk(n, matrix.shape[0])
        for start in range(0, n, step):
            chunk = queries[start:start + step]
            if sq is not None:
                keys = (sq - 2 * (chunk @ matrix.T)).astype(np.float32, copy=False)
            else:
                keys = -chunk @ matrix.T
                if q_norms is not None:
                    keys = self._cosine(keys, None if gathered is None else gathered, q_norms[start:start + step])
                keys = keys.astype(np.float32, copy=False)
            if blocked is not None:
                keys[:, blocked] = np.float32(np.inf)
            if not euclidean:
                for best, key_row in zip(top_candidates_rows(keys, k), keys):
                    positions = best if gathered is None else gathered[best]
                    out.append(SearchResult(positions.astype(np.int64), -key_row[best], work, nbytes))
                continue
            for q, key_row in zip(chunk, keys):
                near = self._near(q, key_row, k)
                positions = near if gathered is None else gathered[near]
                exact = self.rescore(q, positions)
                best = top_candidates(exact, k)
                out.append(SearchResult(positions[best].astype(np.int64), exact[best], work, nbytes))
        return out


def exact_scores(
    query: Query,
    metric: str,
    dense: np.ndarray | None,
    sparse: SparseRows | None,
) -> np.ndarray:
    """Return exact float32 scores of every row (dense part + sparse part), by ``ExactKernel``."""
    return ExactKernel(metric, dense, sparse).scores(query)


def _scan_kernel(metric: str, dense: np.ndarray | None, sparse: SparseRows | None, allowed: np.ndarray | None,
                 drop_zero: bool) -> tuple[ExactKernel, np.ndarray | None, np.ndarray | None]:
    """Return a kernel over the rows one scan needs: only the allowed ones when few are allowed.

    Returns (kernel, the kernel's row → caller's row map or None, the mask left to apply).
    """
    n = dense.shape[0] if dense is not None else len(sparse) if sparse is not None else 0
    if allowed is None or np.count_nonzero(allowed) >= GATHER_BELOW * n:
        return ExactKernel(metric, dense, sparse, drop_zero=drop_zero), None, allowed
    rows = np.flatnonzero(allowed)
    sub_dense = None if dense is None else dense[rows]
    sub_sparse = None if sparse is None else sparse.take(rows)
    return ExactKernel(metric, sub_dense, sub_sparse, drop_zero=drop_zero), rows, None


def exact_search(
    query: Query,
    metric: str,
    k: int,
    dense: np.ndarray | None,
    sparse: SparseRows | None,
    allowed: np.ndarray | None = None,
    *,
    drop_zero: bool = False,
) -> SearchResult:
    """Score the allowed rows exactly and return the best k (plus boundary ties), by ``ExactKernel``.

    The memtable scan and every exact fallback call this; a kernel is built over the rows
    (only the allowed ones when fewer than ``GATHER_BELOW`` of them are allowed).
    """
    kernel, rows, mask = _scan_kernel(metric, dense, sparse, allowed, drop_zero)
    result = kernel.search(query, k, mask)
    if rows is None:
        return result
    return SearchResult(rows[result.rows], result.scores, result.distance_computations, result.bytes_scanned)


def exact_search_batch(
    queries: np.ndarray,
    metric: str,
    k: int,
    dense: np.ndarray | None,
    allowed: np.ndarray | None = None,
) -> list[SearchResult]:
    """``exact_search`` of many dense queries, by ``ExactKernel.search_batch`` (no dense rows: no results)."""
    if dense is None:
        return [SearchResult.empty() for _ in range(len(queries))]
    kernel, rows, mask = _scan_kernel(metric, dense, None, allowed, False)
    results = kernel.search_batch(queries, k, mask)
    if rows is None:
        return results
    return [SearchResult(rows[r.rows], r.scores, r.distance_computations, r.bytes_scanned) for r in results]
