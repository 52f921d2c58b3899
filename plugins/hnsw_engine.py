"""HNSW engine: hnswlib's hierarchical navigable small-world graph (the index Chroma and most databases run).

Build parameters are ``M`` (graph degree; layer 0 keeps 2M links) and ``ef_construction``;
the query parameter is ``ef`` (the search beam, at least k). hnswlib's ``cosine`` space
normalises the vectors it stores, ``ip`` serves the dot product and ``l2`` the squared
euclidean distance. Every returned candidate is re-scored exactly from the slab's float32
vectors, so scores match the exact engine's.

True work: hnswlib does not expose its per-query distance counter to Python, so
``distance_computations`` is an *estimate* (``HnswBuilder.work_counting`` says so in reports): the ``ef`` beam, each node of which expands at
most 2M layer-0 neighbours (capped at the slab size), plus the re-scored candidates.
When hnswlib reaches fewer than k items (an inner-product graph asked for most of a small
slab, as a filtered query's over-fetch can), that query is answered by an exact scan of the
slab instead, and its work counts every row.
Needs the ``engines`` extra (``pip install -e ".[engines]"``); without hnswlib the plugin
registers nothing.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
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
    positive_int,
    read_sidecar,
    scores_to_keys,
    write_sidecar,
)

HNSW_SPACES = {"cosine": "cosine", "euclidean": "l2", "dotproduct": "ip"}
MIN_EF = 64  # ef=None searches with max(k, MIN_EF)
_FILE, _META = "hnsw.bin", "hnsw.json"



@dataclass(frozen=True)
class HnswQuery:
    """hnswlib's query parameters (the one declaration; ``HnswBuilder.query_defaults`` derives from it).

    ``ef``: the search beam, raised to at least k (None: max(k, 64)).
    """

    ef: int | None = None

    def __post_init__(self) -> None:
        if self.ef is not None:
            positive_int("ef", self.ef, path="search_params.ef")

    def beam(self, n: int) -> int:
        """Return the beam a query of ``n`` results searches with."""
        return max(n, MIN_EF if self.ef is None else int(self.ef))


class HnswSlabIndex(SlabIndex):
    """An hnswlib graph over one slab, with the slab's vectors kept (in the exact kernel) for re-scoring."""

    query_params = HnswQuery
    can_save = True

    def __init__(self, graph: Any, data: SlabData, metric: str, M: int, rows: np.ndarray, nbytes: int) -> None:
        assert data.dense is not None
        self._graph = graph
        self._kernel = ExactKernel(metric, data.dense)
        self._dimension = int(data.dense.shape[1])
        self._rows = rows
        self._lock = threading.Lock()  # ef is graph state: set it and search under one lock
        self.metric = metric
        self.M = M
        self._nbytes = nbytes

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def _knn(self, queries: np.ndarray, n: int, beam: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (q, n) item labels and which queries fell back to an exact scan."""
        scanned = np.zeros(len(queries), dtype=bool)
        with self._lock:
            self._graph.set_ef(beam)
            try:
                labels, _ = self._graph.knn_query(queries, k=n, num_threads=1)
                return labels.astype(np.int64, copy=False), scanned
            except RuntimeError:  # some query reached fewer than n items: answer query by query
                pass
            labels = np.empty((len(queries), n), dtype=np.int64)
            for i, q in enumerate(queries):
                try:
                    labels[i] = self._graph.knn_query(q[None, :], k=n, num_threads=1)[0][0]
                except RuntimeError:
                    labels[i] = self._exact_items(q, n)
                    scanned[i] = True
        return labels, scanned

    def _exact_items(self, q: np.ndarray, n: int) -> np.ndarray:
        """Return the n best items (item i is slab row i) by an exact scan: hnswlib reached fewer than n."""
        keys = scores_to_keys(self._kernel.rescore(q, None), self.metric)
        return np.argpartition(keys, n - 1)[:n] if n < keys.size else np.arange(keys.size)

    def _work(self, beam: int, candidates: int, scanned: bool = False) -> tuple[int, int]:
        """Return (distances, bytes): the estimate ef × 2M (or every row after a fallback) + the re-scored rows."""
        if scanned:  # the exact fallback scored every row
            distances = self._rows.size + candidates
        else:
            distances = min(self._rows.size, beam * 2 * self.M) + candidates
        return distances, distances * self._dimension * 4

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: HnswQuery) -> SearchResult:
        """Return about the k nearest rows with a search beam of ``params.ef``; ``allowed`` post-filters."""
        assert query.dense is not None
        return self.search_many(query.dense[None, :], k, allowed, params)[0]

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
                    params: HnswQuery) -> list[SearchResult]:
        """``search_one`` of every query with one hnswlib call and one vectorised re-score."""
        n = min(int(k), self._rows.size)
        if n == 0 or len(queries) == 0:
            return [SearchResult(np.empty(0, np.int64), np.empty(0, np.float32), 0, 0) for _ in queries]
        beam = params.beam(n)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        labels, scanned = self._knn(queries, n, beam)
        rows = self._rows[labels]  # (q, n)
        scores = self._kernel.rescore_pairs(queries, rows)
        out = []
        for r, s, fell_back in zip(rows, scores, scanned.tolist()):
            if allowed is not None:
                keep = allowed[r]
                r, s = r[keep], s[keep]
            order = np.argsort(scores_to_keys(s, self.metric), kind="stable")
            out.append(SearchResult(r[order], s[order], *self._work(beam, n, fell_back)))
        return out

    def save(self, directory: Path) -> None:
        """Write ``hnsw.bin`` (hnswlib's own file), ``rows.npy`` and ``hnsw.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._graph.save_index(str(directory / _FILE))
        write_sidecar(directory, self._rows, _META, {
            "metric": self.metric, "space": HNSW_SPACES[self.metric], "M": self.M,
            "dimension": self._dimension, "items": int(self._rows.size)})


class HnswBuilder(SlabBuilder):
    """HNSW (hnswlib): ``M`` links per node and an ``ef_construction`` build beam; query with ``ef``."""

    name = "hnsw"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = HnswSlabIndex
    work_counting = (
        "An ESTIMATE, not a measurement: hnswlib exposes no per-query distance counter to Python, so "
        "distances = min(rows, ef × 2M) (the beam, each node expanding at most 2M layer-0 links) + the k rows "
        "re-scored exactly; a query hnswlib could not answer with k items is answered by an exact scan and "
        "counts every row. bytes = distances × dimension × 4.")

    def __init__(self, M: int = 16, ef_construction: int = 200, seed: int = 100, n_threads: int = -1) -> None:
        self.M = positive_int("M", M, 2)
        self.ef_construction = positive_int("ef_construction", ef_construction)
        self.seed = positive_int("seed", seed, 0)
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0 or n_threads < -1:
            raise InvalidArgumentError(f"n_threads must be -1 (all cores) or a positive integer, got {n_threads!r}",
                                       path="n_threads")
        self.n_threads = n_threads

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        import hnswlib

        if data.dense is None:
            raise InvalidArgumentError("the hnsw engine indexes dense vectors only", path="engine")
        dense = np.ascontiguousarray(data.dense, dtype=np.float32)
        graph = hnswlib.Index(space=HNSW_SPACES[metric], dim=dense.shape[1])
        graph.init_index(max_elements=max(1, len(dense)), M=self.M, ef_construction=self.ef_construction,
                         random_seed=self.seed)
        if len(dense):
            graph.add_items(dense, np.arange(len(dense)), num_threads=self.n_threads)
        # The saved file's size is the index's size (graph links + hnswlib's own copy of the vectors).
        handle, path = tempfile.mkstemp(suffix=".bin", prefix="hnsw-slab-")
        os.close(handle)
        try:
            graph.save_index(path)
            nbytes = os.path.getsize(path)
        finally:
            os.unlink(path)
        return HnswSlabIndex(graph, data, metric, self.M, np.arange(len(dense), dtype=np.int64), nbytes)

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Read a graph written by ``HnswSlabIndex.save``; rebuild if it does not fit ``data``."""
        import hnswlib

        directory = Path(directory)
        saved = read_sidecar(directory, _META, data, metric, _FILE)
        if saved is None:
            return self.build(data, metric)
        meta, rows = saved
        assert data.dense is not None
        graph = hnswlib.Index(space=HNSW_SPACES[metric], dim=data.dense.shape[1])
        graph.load_index(str(directory / _FILE), max_elements=max(1, rows.size))
        nbytes = os.path.getsize(directory / _FILE)
        return HnswSlabIndex(graph, data, metric, int(meta.get("M", self.M)), rows, nbytes)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    # Like a third-party plugin whose library is missing: register nothing rather than fail.
    return [HnswBuilder] if importlib.util.find_spec("hnswlib") is not None else []
