"""HNSW engine: hnswlib's hierarchical navigable small-world graph (the index Chroma and most databases run).

Build parameters are ``M`` (graph degree; layer 0 keeps 2M links) and ``ef_construction``;
the query parameter is ``ef`` (the search beam, at least k). hnswlib's ``cosine`` space
normalises the vectors it stores, ``ip`` serves the dot product and ``l2`` the squared
euclidean distance. Every returned candidate is re-scored exactly from the slab's float32
vectors, so scores match the exact engine's.

True work: hnswlib does not expose its per-query distance counter to Python, so
``distance_computations`` is an *estimate*: the ``ef`` beam, each node of which expands at
most 2M layer-0 neighbours (capped at the slab size), plus the re-scored candidates.
When hnswlib reaches fewer than k items (an inner-product graph asked for most of a small
slab, as a filtered query's over-fetch can), that query is answered by an exact scan of the
slab instead, and its work counts every row.
Needs the ``engines`` extra (``pip install -e ".[engines]"``); without hnswlib the plugin
registers nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from toolkit import InvalidArgumentError, SlabBuilder, SlabData, SlabIndex, hookimpl
from toolkit.engine import rescore as exact_rescore
from toolkit.engine import rescore_batch
from toolkit.scoring import Query, SearchResult, scores_to_keys

HNSW_SPACES = {"cosine": "cosine", "euclidean": "l2", "dotproduct": "ip"}
MIN_EF = 64  # ef=None searches with max(k, MIN_EF)
_FILE, _ROWS, _META = "hnsw.bin", "rows.npy", "hnsw.json"


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgumentError(f"{name} must be an integer >= {low}, got {value!r}", path=name)
    return value


class HnswSlabIndex(SlabIndex):
    """An hnswlib graph over one slab, with the slab's vectors kept for exact re-scoring."""

    def __init__(self, graph: Any, data: SlabData, metric: str, M: int, rows: np.ndarray, nbytes: int) -> None:
        assert data.dense is not None
        self._graph = graph
        self._dense = data.dense
        self._rows = rows
        self._norms = np.linalg.norm(data.dense, axis=1) if metric == "cosine" else None
        self._lock = threading.Lock()  # ef is graph state: set it and search under one lock
        self.metric = metric
        self.M = M
        self._nbytes = nbytes

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def _knn(self, queries: np.ndarray, n: int, ef: int | None) -> tuple[np.ndarray, int, np.ndarray]:
        """Return (q, n) item labels, the beam used, and which queries fell back to an exact scan."""
        beam = max(n, MIN_EF if ef is None else _positive_int("ef", ef))
        scanned = np.zeros(len(queries), dtype=bool)
        with self._lock:
            self._graph.set_ef(beam)
            try:
                labels, _ = self._graph.knn_query(queries, k=n, num_threads=1)
                return labels.astype(np.int64, copy=False), beam, scanned
            except RuntimeError:  # some query reached fewer than n items: answer query by query
                pass
            labels = np.empty((len(queries), n), dtype=np.int64)
            for i, q in enumerate(queries):
                try:
                    labels[i] = self._graph.knn_query(q[None, :], k=n, num_threads=1)[0][0]
                except RuntimeError:
                    labels[i] = self._exact_items(q, n)
                    scanned[i] = True
        return labels, beam, scanned

    def _exact_items(self, q: np.ndarray, n: int) -> np.ndarray:
        """Return the n best items (item i is slab row i) by an exact scan: hnswlib reached fewer than n."""
        keys = scores_to_keys(exact_rescore(q, self.metric, self._dense, self._norms), self.metric)
        return np.argpartition(keys, n - 1)[:n] if n < keys.size else np.arange(keys.size)

    def _work(self, beam: int, candidates: int, scanned: bool = False) -> tuple[int, int]:
        if scanned:  # the exact fallback scored every row
            distances = self._rows.size + candidates
        else:
            distances = min(self._rows.size, beam * 2 * self.M) + candidates
        return distances, distances * self._dense.shape[1] * 4

    def search(  # type: ignore[override]  # query parameters are explicit keywords (engine.py)
        self, query: Query, k: int, allowed: np.ndarray | None = None, *, ef: int | None = None
    ) -> SearchResult:
        """Return about the k nearest rows with a search beam of ``ef`` (None: max(k, 64)); ``allowed`` post-filters."""
        assert query.dense is not None
        n = min(int(k), self._rows.size)
        if n == 0:
            return SearchResult(np.empty(0, np.int64), np.empty(0, np.float32), 0, 0)
        labels, beam, scanned = self._knn(query.dense[None, :], n, ef)
        rows = self._rows[labels[0]]
        norms = None if self._norms is None else self._norms[rows]
        scores = exact_rescore(query.dense, self.metric, self._dense[rows], norms)
        if allowed is not None:
            keep = allowed[rows]
            rows, scores = rows[keep], scores[keep]
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")
        return SearchResult(rows[order], scores[order], *self._work(beam, n, bool(scanned[0])))

    def search_batch(  # type: ignore[override]
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, *, ef: int | None = None
    ) -> list[SearchResult]:
        """``search`` of every query with one hnswlib call and one vectorised re-score."""
        n = min(int(k), self._rows.size)
        if n == 0 or len(queries) == 0:
            return [SearchResult(np.empty(0, np.int64), np.empty(0, np.float32), 0, 0) for _ in queries]
        labels, beam, scanned = self._knn(np.ascontiguousarray(queries, dtype=np.float32), n, ef)
        rows = self._rows[labels]  # (q, n)
        norms = None if self._norms is None else self._norms[rows]
        scores = rescore_batch(queries, self.metric, self._dense[rows], norms)
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
        np.save(directory / _ROWS, self._rows)
        meta = {"metric": self.metric, "space": HNSW_SPACES[self.metric], "M": self.M,
                "dimension": int(self._dense.shape[1]), "items": int(self._rows.size)}
        (directory / _META).write_text(json.dumps(meta))


class HnswBuilder(SlabBuilder):
    """HNSW (hnswlib): ``M`` links per node and an ``ef_construction`` build beam; query with ``ef``."""

    name = "hnsw"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    query_defaults = MappingProxyType({"ef": None})

    def __init__(self, M: int = 16, ef_construction: int = 200, seed: int = 100, n_threads: int = -1) -> None:
        self.M = _positive_int("M", M, 2)
        self.ef_construction = _positive_int("ef_construction", ef_construction)
        self.seed = _positive_int("seed", seed, 0)
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
        try:
            meta = json.loads((directory / _META).read_text())
            rows = np.load(directory / _ROWS)
        except (OSError, ValueError):
            return self.build(data, metric)
        assert data.dense is not None
        if (meta.get("metric") != metric or meta.get("dimension") != data.dense.shape[1]
                or rows.size > len(data) or not (directory / _FILE).is_file()):
            return self.build(data, metric)
        graph = hnswlib.Index(space=HNSW_SPACES[metric], dim=data.dense.shape[1])
        graph.load_index(str(directory / _FILE), max_elements=max(1, rows.size))
        nbytes = os.path.getsize(directory / _FILE)
        return HnswSlabIndex(graph, data, metric, int(meta.get("M", self.M)), rows, nbytes)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    # Like a third-party plugin whose library is missing: register nothing rather than fail.
    return [HnswBuilder] if importlib.util.find_spec("hnswlib") is not None else []
