"""NN-descent engine: PyNNDescent's k-nearest-neighbour graph, searched greedily.

Every metric is served through PyNNDescent's *euclidean* code path, so numba compiles one
specialisation per process instead of one per metric:

- euclidean: the vectors as they are;
- cosine: unit-length copies (|u - v|² = 2 - 2 cos, so the order is the same);
- dotproduct: the MIPS → nearest-neighbour reduction. Each vector x gains one coordinate
  sqrt(M² - |x|²), where M is the slab's largest norm, and the query gains a 0; then
  |x' - q'|² = M² + |q|² - 2 q·x, so the nearest augmented vector has the largest dot
  product. (PyNNDescent's own "dot" metric normalises the data, i.e. it answers cosine.)
  The best dot products of a query often sit in another cluster than the query itself,
  which a k-NN graph of clustered data barely connects to; so each query starts from
  ``search_tree_leaf_budget`` search-tree leaves (4 by default) instead of one.

Candidates are re-scored exactly from the slab's float32 vectors. Numba compiles the
search and build kernels on first use (tens of seconds per fresh process even with
NUMBA_CACHE_DIR); ``NNDescentBuilder.warm_up()`` pays that once, up front.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.plugin import (
    ExactKernel,
    InvalidArgumentError,
    Query,
    SearchResult,
    SlabBuilder,
    SlabData,
    SlabIndex,
    hookimpl,
    scores_to_keys,
)

logger = logging.getLogger(__name__)

# Slabs this small are scanned exactly: NN-descent needs a graph with more nodes than edges
# per node, and a scan of a few hundred rows is cheaper than a graph search anyway.
MIN_GRAPH_ROWS = 256
_FILE = "nndescent.pkl"
# Numba's parallel kernels are not to be entered from two threads at once (several indexes
# may build on their own merge workers); builds take turns, queries run freely.
_BUILD_LOCK = threading.Lock()
_warm = False


def _to_euclidean(dense: np.ndarray, metric: str) -> tuple[np.ndarray, float]:
    """Return the vectors PyNNDescent indexes under euclidean, and M² of the MIPS reduction (0 if unused)."""
    if metric == "cosine":
        return (dense / np.linalg.norm(dense, axis=1, keepdims=True)).astype(np.float32), 0.0
    if metric == "dotproduct":
        sq = np.einsum("ij,ij->i", dense, dense, dtype=np.float64)
        max_sq = float(sq.max()) if sq.size else 0.0
        extra = np.sqrt(np.maximum(max_sq - sq, 0.0)).astype(np.float32)
        return np.hstack([dense, extra[:, None]]).astype(np.float32), max_sq
    return np.ascontiguousarray(dense, dtype=np.float32), 0.0


def _query_vector(q: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        return (q / np.sqrt(np.dot(q, q))).astype(np.float32, copy=False)[None, :]
    if metric == "dotproduct":
        return np.append(q, np.float32(0)).astype(np.float32)[None, :]
    return q.astype(np.float32, copy=False)[None, :]


def _query_matrix(queries: np.ndarray, metric: str) -> np.ndarray:
    """``_query_vector`` of every row of ``queries``: the (n, d') float32 batch PyNNDescent searches."""
    if metric == "cosine":
        return (queries / np.sqrt(np.einsum("ij,ij->i", queries, queries))[:, None]).astype(np.float32, copy=False)
    if metric == "dotproduct":
        out = np.zeros((queries.shape[0], queries.shape[1] + 1), dtype=np.float32)
        out[:, :-1] = queries
        return out
    return np.ascontiguousarray(queries, dtype=np.float32)


def _array_bytes(value: Any, depth: int = 0) -> int:
    """Return the bytes of the numpy arrays (and sparse matrices) reachable from ``value``."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if hasattr(value, "indptr") and hasattr(value, "data"):  # a scipy.sparse matrix
        return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
    if depth < 2 and isinstance(value, (tuple, list)):
        return sum(_array_bytes(v, depth + 1) for v in value)
    return 0


@dataclass(frozen=True)
class NNDescentQuery:
    """PyNNDescent's query parameters (the one declaration; ``query_defaults`` derives from it).

    ``epsilon`` (0.0–0.3): a larger value searches wider. ``count_work``: read PyNNDescent's
    own visited set after each query, so ``distance_computations`` is the number of
    distances its search evaluated (a batch is then searched query by query inside one
    compiled loop, ``nndescent_batch``, since the library keeps only the last query's set);
    with False only the re-scored rows are counted.
    """

    epsilon: float = 0.1
    count_work: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.epsilon, bool) or not isinstance(self.epsilon, (int, float)) or not 0 <= self.epsilon:
            raise InvalidArgumentError(f"must be a number >= 0, got {self.epsilon!r}", path="search_params.epsilon")
        if not isinstance(self.count_work, bool):
            raise InvalidArgumentError(f"must be true or false, got {self.count_work!r}",
                                       path="search_params.count_work")


def visited_count(nnd: Any) -> int | None:
    """Return how many graph nodes PyNNDescent's last single-query search evaluated, or None if unknown.

    Its search marks a node in a visited bitset exactly when it computes that node's
    distance to the query (tree-leaf seeds, random seeds and graph neighbours alike) and
    clears the set when a query starts; with serial (not ``parallel_batch_queries``)
    search the set is the index's ``_visited`` array, so its population count is the
    number of distances the search evaluated.
    """
    visited = getattr(nnd, "_visited", None)
    if not isinstance(visited, np.ndarray) or visited.dtype != np.uint8 or getattr(nnd, "parallel_batch_queries", False):
        return None
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0: a popcount per byte, no 8× unpacked copy
        return int(np.bitwise_count(visited).sum(dtype=np.int64))
    return int(np.unpackbits(visited).sum())


class NNDescentSlabIndex(SlabIndex):
    """A PyNNDescent search graph over one slab (or an exact scan for tiny slabs)."""

    query_params = NNDescentQuery
    can_save = True

    def __init__(self, nnd: Any, data: SlabData, metric: str) -> None:
        assert data.dense is not None
        self._nnd = nnd
        self._kernel = ExactKernel(metric, data.dense)
        self._rows = len(data.dense)
        # PyNNDescent's own vectors: one coordinate more than the slab's for dotproduct.
        self._graph_width = int(data.dense.shape[1]) + (1 if metric == "dotproduct" else 0)
        self.metric = metric
        self._counted: Any = None  # nndescent_batch.counted_search(nnd), made on the first counted batch

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled batch runner (a closure); it is made again on first use."""
        return {**self.__dict__, "_counted": None}

    @property
    def nbytes(self) -> int:
        if self._nnd is None:
            return 0
        state = self._nnd.__dict__
        keys = ("_search_graph", "_raw_data", "_search_forest", "_vertex_order")
        return sum(_array_bytes(state[k]) for k in keys if k in state)

    def _work(self, evaluated: int, rescored: int) -> tuple[int, int]:
        """Return (distances, bytes): the graph search's evaluations plus the exact re-scores."""
        return evaluated + rescored, evaluated * self._graph_width * 4 + self._kernel.rescore_bytes(rescored)

    def _query(self, matrix: np.ndarray, k: int, params: NNDescentQuery) -> tuple[np.ndarray, int]:
        """Return PyNNDescent's (n, k) indices for ``matrix`` and the distances its search evaluated."""
        indices, _ = self._nnd.query(matrix, k=k, epsilon=float(params.epsilon))
        evaluated = visited_count(self._nnd) if params.count_work and matrix.shape[0] == 1 else None
        return indices, 0 if evaluated is None else evaluated

    def _query_counted(self, matrix: np.ndarray, k: int, params: NNDescentQuery) -> tuple[np.ndarray, list[int]]:
        """Return the (n, k) rows and evaluated distances of each query, as n single-query searches would."""
        if self._counted is None:
            from .nndescent_batch import counted_search

            self._counted = counted_search(self._nnd) or False
        if self._counted:
            indices, counts = self._counted(matrix, k, float(params.epsilon))
            return indices.astype(np.int64), counts.tolist()
        found = [self._query(matrix[i:i + 1], k, params) for i in range(matrix.shape[0])]  # another PyNNDescent
        rows = np.concatenate([f[0] for f in found]).astype(np.int64) if found else np.empty((0, k), np.int64)
        return rows, [f[1] for f in found]

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: NNDescentQuery) -> SearchResult:
        """Return about the k nearest rows; a larger ``epsilon`` (0.0–0.3) searches wider."""
        assert query.dense is not None
        k = min(int(k), self._rows)
        if self._nnd is None:
            return self._kernel.search(query, k, allowed)
        indices, evaluated = self._query(_query_vector(query.dense, self.metric), k, params)
        rows = indices[0].astype(np.int64)
        rows = rows[rows >= 0]
        if allowed is not None:
            rows = rows[allowed[rows]]
        scores = self._kernel.rescore(query.dense, rows)
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")
        return SearchResult(rows[order], scores[order], *self._work(evaluated, rows.size))

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
                    params: NNDescentQuery) -> list[SearchResult]:
        """``search_one`` of every query: one PyNNDescent ``query`` call (or, when counting work,
        one compiled loop of its single-query search, see ``NNDescentQuery``) and vectorised re-scoring."""
        k = min(int(k), self._rows)
        if self._nnd is None:
            return self._kernel.search_batch(queries, k, allowed)
        matrix = _query_matrix(queries, self.metric)
        if params.count_work:
            rows, evaluated = self._query_counted(matrix, k, params)
        else:
            rows = self._query(matrix, k, params)[0].astype(np.int64)
            evaluated = [0] * matrix.shape[0]
        valid = rows >= 0
        if allowed is not None:
            valid &= allowed[np.where(valid, rows, 0)]
        safe = np.where(valid, rows, 0)
        scores = self._kernel.rescore_pairs(queries, safe)
        keys = np.where(valid, scores_to_keys(scores, self.metric), np.inf)
        order = np.argsort(keys, axis=1, kind="stable")
        rows = np.take_along_axis(rows, order, 1)
        scores = np.take_along_axis(scores, order, 1)
        counts = np.count_nonzero(valid, axis=1).tolist()
        return [SearchResult(r[:c], s[:c], *self._work(e, c)) for r, s, c, e in zip(rows, scores, counts, evaluated)]

    def save(self, directory: Path) -> None:
        """Pickle the PyNNDescent index (graph, search trees, data) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / _FILE).open("wb") as handle:
            pickle.dump({"metric": self.metric, "rows": self._rows, "nnd": self._nnd}, handle,
                        protocol=pickle.HIGHEST_PROTOCOL)


class NNDescentBuilder(SlabBuilder):
    """PyNNDescent: a k-NN graph with ``n_neighbors`` edges per node, refined by NN-descent."""

    name = "nndescent"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = NNDescentSlabIndex
    work_counting = (
        "Read from PyNNDescent's own visited set after each query (count_work=True): its search marks a node "
        "exactly when it evaluates that node's distance, so distances = nodes evaluated by the graph search "
        "(tree-leaf seeds + graph neighbours) + the rows re-scored exactly; bytes = evaluated nodes × the "
        "indexed vector's bytes (dimension × 4, + 4 for dotproduct's extra coordinate) + re-scored rows × "
        "dimension × 4. Graph edge lists and search-tree hyperplanes read on the way are not counted. Slabs "
        "under 256 rows are scanned by the exact kernel and counted as exact.")

    def __init__(
        self,
        n_neighbors: int = 30,
        diversify_prob: float = 1.0,
        pruning_degree_multiplier: float = 1.5,
        search_tree_leaf_budget: int = 4,
        random_state: int | None = 0,
    ) -> None:
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, int) or n_neighbors < 2:
            raise InvalidArgumentError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}", path="n_neighbors")
        for name, value in (("diversify_prob", diversify_prob), ("pruning_degree_multiplier", pruning_degree_multiplier)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidArgumentError(f"{name} must be a number >= 0, got {value!r}", path=name)
        if isinstance(search_tree_leaf_budget, bool) or not isinstance(search_tree_leaf_budget, int) \
                or search_tree_leaf_budget < 1:
            raise InvalidArgumentError(f"search_tree_leaf_budget must be an integer >= 1, got "
                                       f"{search_tree_leaf_budget!r}", path="search_tree_leaf_budget")
        if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, int)):
            raise InvalidArgumentError(f"random_state must be an integer or None, got {random_state!r}",
                                       path="random_state")
        self.n_neighbors = n_neighbors
        self.diversify_prob = diversify_prob
        self.pruning_degree_multiplier = pruning_degree_multiplier
        self.search_tree_leaf_budget = search_tree_leaf_budget
        self.random_state = random_state

    @classmethod
    def warm_up(cls) -> None:
        """Compile PyNNDescent's euclidean build and search kernels once per process."""
        global _warm
        if _warm:
            return
        rng = np.random.default_rng(0)
        data = SlabData(rng.normal(size=(MIN_GRAPH_ROWS + 64, 8)).astype(np.float32), None)
        index = cls(n_neighbors=10).build(data, "euclidean")
        assert data.dense is not None
        index.search(Query(data.dense[0], None), 5)
        _warm = True

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        if data.dense is None:
            raise InvalidArgumentError("the nndescent engine indexes dense vectors only", path="engine")
        if len(data) < max(MIN_GRAPH_ROWS, 2 * self.n_neighbors):
            return NNDescentSlabIndex(None, data, metric)
        from pynndescent import NNDescent

        vectors, _ = _to_euclidean(data.dense, metric)
        options: dict[str, Any] = {}
        if self.search_tree_leaf_budget != 1:
            if "search_tree_leaf_budget" not in inspect.signature(NNDescent).parameters:
                raise InvalidArgumentError("search_tree_leaf_budget needs PyNNDescent >= 0.7; set it to 1",
                                           path="search_tree_leaf_budget")
            options["search_tree_leaf_budget"] = self.search_tree_leaf_budget
        with _BUILD_LOCK:
            nnd = NNDescent(
                vectors,
                metric="euclidean",
                n_neighbors=self.n_neighbors,
                diversify_prob=self.diversify_prob,
                pruning_degree_multiplier=self.pruning_degree_multiplier,
                random_state=self.random_state,
                low_memory=True,
                **options,
            )
            nnd.prepare()  # build the search graph now, not in the first query
        return NNDescentSlabIndex(nnd, data, metric)

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Unpickle an index written by ``NNDescentSlabIndex.save``; rebuild if it does not fit ``data``."""
        path = Path(directory) / _FILE
        try:
            with path.open("rb") as handle:
                saved = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            logger.warning("rebuilding nndescent slab: cannot load %s (%s)", path, exc)
            return self.build(data, metric)
        if saved.get("metric") != metric or saved.get("rows") != len(data):
            return self.build(data, metric)
        return NNDescentSlabIndex(saved["nnd"], data, metric)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [NNDescentBuilder]
