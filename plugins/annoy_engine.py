"""Annoy engine: a forest of random-projection trees (Spotify's Annoy), memory-mapped from its file.

Annoy stores items under dense integer ids: the item of slab row ``r`` is ``r`` itself (the
``rows`` array maps items back and is saved beside the tree file, so a builder that skips
rows would only change that array). Annoy's own distances are mapped to the index metric
(angular ``d`` → cosine ``1 - d²/2``, euclidean ``d`` → ``d²``, dot → dot product), but by
default every returned candidate is re-scored exactly from the slab's float32 vectors, so
scores are identical to the exact engine's and results from different slabs compare.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from toolkit import InvalidArgumentError, SlabBuilder, SlabData, SlabIndex, hookimpl
from toolkit.engine import rescore as exact_rescore
from toolkit.scoring import Query, SearchResult, scores_to_keys

ANNOY_METRICS: dict[str, Literal["angular", "euclidean", "dot"]] = {
    "cosine": "angular", "euclidean": "euclidean", "dotproduct": "dot"}
# With search_k unset a query inspects n_trees × max(k, min_candidates) nodes: Annoy's own
# default (n_trees × k) with a floor, so that top_k=1..10 still reaches good recall, and a
# budget that grows with k, so the router's over-fetch for filters widens the search too.
MIN_CANDIDATES = 100
_FILE, _ROWS, _META = "annoy.ann", "rows.npy", "annoy.json"


def annoy_scores(distances: np.ndarray, metric: str) -> np.ndarray:
    """Map Annoy's distances to the index metric's scores (float32)."""
    d = np.asarray(distances, dtype=np.float32)
    if metric == "cosine":  # angular distance is |u - v| of unit vectors: |u - v|² = 2 - 2 cos
        return (1 - d * d / 2).astype(np.float32)
    if metric == "euclidean":  # Annoy returns the root; the index scores squared distance
        return d * d
    return d  # "dot" already is the dot product


class AnnoySlabIndex(SlabIndex):
    """An Annoy forest over one slab, with the slab's vectors kept for exact re-scoring."""

    def __init__(self, annoy: Any, data: SlabData, metric: str, n_trees: int, rows: np.ndarray, nbytes: int) -> None:
        assert data.dense is not None
        self._annoy = annoy
        self._dense = data.dense
        self._rows = rows
        self._norms = np.linalg.norm(data.dense, axis=1) if metric == "cosine" else None
        self.metric = metric
        self.n_trees = n_trees
        self._nbytes = nbytes

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def search(  # type: ignore[override]  # query parameters are explicit keywords (engine.py)
        self,
        query: Query,
        k: int,
        allowed: np.ndarray | None = None,
        *,
        search_k: int | None = None,
        min_candidates: int = MIN_CANDIDATES,
        rescore: bool = True,
    ) -> SearchResult:
        """Return about the k nearest rows, inspecting ``search_k`` nodes.

        ``search_k=None`` inspects n_trees × max(k, ``min_candidates``) nodes; a fixed
        ``search_k`` does not grow when a filtered query over-fetches. With ``rescore=False``
        the scores are Annoy's distances mapped to the metric (float32 rounding differs
        from the exact engine's); ``allowed`` post-filters.
        """
        assert query.dense is not None
        n = min(int(k), self._rows.size)
        if search_k is None:
            search_k = self.n_trees * max(n, int(min_candidates))
        items, distances = self._annoy.get_nns_by_vector(query.dense.tolist(), n, int(search_k), True)
        rows = self._rows[np.asarray(items, dtype=np.int64)]
        if rescore:
            norms = None if self._norms is None else self._norms[rows]
            scores = exact_rescore(query.dense, self.metric, self._dense[rows], norms)
        else:
            scores = annoy_scores(np.asarray(distances), self.metric)
        if allowed is not None:
            keep = allowed[rows]
            rows, scores = rows[keep], scores[keep]
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")
        width = self._dense.shape[1] * 4
        return SearchResult(rows[order], scores[order], int(search_k) + rows.size, rows.size * width)

    def search_batch(  # type: ignore[override]
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        *,
        search_k: int | None = None,
        min_candidates: int = MIN_CANDIDATES,
        rescore: bool = True,
    ) -> list[SearchResult]:
        """``search`` of every query. Annoy has no batch call, so this is a loop over
        ``get_nns_by_vector`` (what a direct caller writes too); the id mapping, re-scoring,
        filtering and ordering of all the candidates run vectorised once for the batch."""
        n = min(int(k), self._rows.size)
        if search_k is None:
            search_k = self.n_trees * max(n, int(min_candidates))
        search_k = int(search_k)
        nns = self._annoy.get_nns_by_vector
        if rescore:
            found = [nns(q, n, search_k) for q in queries.tolist()]
            distances = None
        else:
            pairs = [nns(q, n, search_k, True) for q in queries.tolist()]
            found = [p[0] for p in pairs]
            distances = np.fromiter((d for p in pairs for d in p[1]), dtype=np.float32)
        counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        owner = np.repeat(np.arange(len(found)), counts)
        rows = self._rows[np.fromiter((i for f in found for i in f), dtype=np.int64, count=int(counts.sum()))]
        if rescore:
            dense = self._dense[rows]
            q = queries[owner]
            if self.metric == "euclidean":
                diff = dense - q
                scores = np.einsum("ij,ij->i", diff, diff).astype(np.float32, copy=False)
            else:
                scores = np.einsum("ij,ij->i", dense, q)
                if self.metric == "cosine":
                    assert self._norms is not None
                    scores = scores / (self._norms[rows] * np.sqrt(np.einsum("ij,ij->i", q, q)))
                scores = scores.astype(np.float32, copy=False)
        else:
            scores = annoy_scores(distances, self.metric)
        if allowed is not None:
            keep = allowed[rows]
            rows, scores, owner = rows[keep], scores[keep], owner[keep]
        order = np.lexsort((scores_to_keys(scores, self.metric), owner))
        rows, scores = rows[order], scores[order]
        bounds = np.searchsorted(owner[order], np.arange(len(found) + 1)).tolist()
        width = self._dense.shape[1] * 4
        return [SearchResult(rows[a:b], scores[a:b], search_k + b - a, (b - a) * width)
                for a, b in zip(bounds, bounds[1:])]

    def save(self, directory: Path) -> None:
        """Write ``annoy.ann`` (Annoy's own file), ``rows.npy`` and ``annoy.json`` into ``directory``.

        Annoy re-maps the saved file afterwards, so the index keeps working from it.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._annoy.save(str(directory / _FILE))
        np.save(directory / _ROWS, self._rows)
        meta = {"metric": self.metric, "annoy_metric": ANNOY_METRICS[self.metric], "n_trees": self.n_trees,
                "dimension": int(self._dense.shape[1]), "items": int(self._rows.size)}
        (directory / _META).write_text(json.dumps(meta))


class AnnoyBuilder(SlabBuilder):
    """Annoy: ``n_trees`` random-projection trees; more trees, better recall, bigger index."""

    name = "annoy"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    query_defaults = MappingProxyType({"search_k": None, "min_candidates": MIN_CANDIDATES, "rescore": True})

    def __init__(self, n_trees: int = 50, seed: int = 0, n_jobs: int = -1) -> None:
        for name, value, low in (("n_trees", n_trees, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(f"{name} must be an integer >= {low}, got {value!r}", path=name)
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
            raise InvalidArgumentError(f"n_jobs must be -1 (all cores) or a positive integer, got {n_jobs!r}",
                                       path="n_jobs")
        self.n_trees = n_trees
        self.seed = seed
        self.n_jobs = n_jobs

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        from annoy import AnnoyIndex

        if data.dense is None:
            raise InvalidArgumentError("the annoy engine indexes dense vectors only", path="engine")
        dense = data.dense
        annoy = AnnoyIndex(dense.shape[1], ANNOY_METRICS[metric])
        annoy.set_seed(self.seed)
        for item, vector in enumerate(dense.tolist()):
            annoy.add_item(item, vector)
        annoy.build(self.n_trees, n_jobs=self.n_jobs)  # releases the GIL while it builds
        # Save to a scratch file and let Annoy memory-map it: the index then lives in the page
        # cache like a loaded slab file, and the file's size is the index's size.
        handle, path = tempfile.mkstemp(suffix=".ann", prefix="annoy-slab-")
        os.close(handle)
        try:
            annoy.save(path)
            nbytes = os.path.getsize(path)
        finally:
            os.unlink(path)  # the mapping stays valid; the space is freed with the index
        return AnnoySlabIndex(annoy, data, metric, self.n_trees, np.arange(len(dense), dtype=np.int64), nbytes)

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Memory-map a forest written by ``AnnoySlabIndex.save``; rebuild if it does not fit ``data``."""
        from annoy import AnnoyIndex

        directory = Path(directory)
        try:
            meta = json.loads((directory / _META).read_text())
            rows = np.load(directory / _ROWS)
        except (OSError, ValueError):
            return self.build(data, metric)
        assert data.dense is not None
        if meta.get("metric") != metric or meta.get("dimension") != data.dense.shape[1] or rows.size > len(data):
            return self.build(data, metric)
        annoy = AnnoyIndex(data.dense.shape[1], ANNOY_METRICS[metric])
        annoy.load(str(directory / _FILE))  # mmap: pages are read on demand
        nbytes = os.path.getsize(directory / _FILE)
        return AnnoySlabIndex(annoy, data, metric, int(meta.get("n_trees", self.n_trees)), rows, nbytes)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [AnnoyBuilder]
