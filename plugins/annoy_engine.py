"""Annoy engine: a forest of random-projection trees (Spotify's Annoy), memory-mapped from its file.

Annoy stores items under dense integer ids: the item of slab row ``r`` is ``r`` itself (the
``rows`` array maps items back and is saved beside the tree file, so a builder that skips
rows would only change that array). Annoy's own distances are mapped to the index metric
(angular ``d`` → cosine ``1 - d²/2``, euclidean ``d`` → ``d²``, dot → dot product), but by
default every returned candidate is re-scored exactly from the slab's float32 vectors, so
scores are identical to the exact engine's and results from different slabs compare.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
    read_sidecar,
    scores_to_keys,
    write_sidecar,
)

ANNOY_METRICS: dict[str, Literal["angular", "euclidean", "dot"]] = {
    "cosine": "angular", "euclidean": "euclidean", "dotproduct": "dot"}
# With search_k unset a query inspects n_trees × max(k, min_candidates) nodes: Annoy's own
# default (n_trees × k) with a floor, so that top_k=1..10 still reaches good recall, and a
# budget that grows with k, so the router's over-fetch for filters widens the search too.
MIN_CANDIDATES = 100
_FILE, _META = "annoy.ann", "annoy.json"


def annoy_scores(distances: np.ndarray, metric: str) -> np.ndarray:
    """Map Annoy's distances to the index metric's scores (float32)."""
    d = np.asarray(distances, dtype=np.float32)
    if metric == "cosine":  # angular distance is |u - v| of unit vectors: |u - v|² = 2 - 2 cos
        return (1 - d * d / 2).astype(np.float32)
    if metric == "euclidean":  # Annoy returns the root; the index scores squared distance
        return d * d
    return d  # "dot" already is the dot product


@dataclass(frozen=True)
class AnnoyQuery:
    """Annoy's query parameters (the one declaration; ``AnnoyBuilder.query_defaults`` derives from it).

    ``search_k``: tree nodes Annoy inspects (None: n_trees × max(k, ``min_candidates``));
    ``rescore``: re-score the candidates exactly from the slab's vectors (else Annoy's own
    distances mapped to the metric); ``count_work``: ask Annoy for every candidate it
    collected, so ``distance_computations`` is the number of distances Annoy really
    computed. Counting costs a full sort and a Python list of every candidate in Annoy's
    call (30-60 % of a query at the default budget), so it is off by default: the query
    path then reports the budget ``search_k`` (Annoy computes about that many distances:
    it stops collecting once it holds ``search_k`` leaf items, duplicates removed) plus the
    re-scored rows, and benchmarks that measure true work pass ``count_work=True``
    (benchmarks/bench_work.py).
    """

    search_k: int | None = None
    min_candidates: int = MIN_CANDIDATES
    rescore: bool = True
    count_work: bool = False

    def __post_init__(self) -> None:
        if self.search_k is not None and (isinstance(self.search_k, bool) or not isinstance(self.search_k, (int, np.integer))
                                          or self.search_k < 1):
            raise InvalidArgumentError(f"must be a positive integer or None, got {self.search_k!r}",
                                       path="search_params.search_k")
        if isinstance(self.min_candidates, bool) or not isinstance(self.min_candidates, (int, np.integer)) \
                or self.min_candidates < 1:
            raise InvalidArgumentError(f"must be a positive integer, got {self.min_candidates!r}",
                                       path="search_params.min_candidates")
        for name in ("rescore", "count_work"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgumentError(f"must be true or false, got {getattr(self, name)!r}",
                                           path=f"search_params.{name}")

    def budget(self, n_trees: int, n: int) -> int:
        """Return the nodes a query of ``n`` results inspects."""
        return int(self.search_k) if self.search_k is not None else n_trees * max(n, int(self.min_candidates))


class AnnoySlabIndex(SlabIndex):
    """An Annoy forest over one slab, with the slab's vectors kept (in the exact kernel) for re-scoring."""

    query_params = AnnoyQuery
    can_save = True

    def __init__(self, annoy: Any, data: SlabData, metric: str, n_trees: int, rows: np.ndarray, nbytes: int) -> None:
        assert data.dense is not None
        self._annoy = annoy
        self._kernel = ExactKernel(metric, data.dense)
        self._dimension = int(data.dense.shape[1])
        self._rows = rows
        self.metric = metric
        self.n_trees = n_trees
        self._nbytes = nbytes

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def _candidates(self, q: list[float], n: int, search_k: int, params: AnnoyQuery
                    ) -> tuple[list[int], list[float] | None, int]:
        """Return Annoy's best ``n`` items (and distances unless re-scoring) and the distances it computed.

        Annoy collects ``search_k`` leaf items from its trees, de-duplicates them and computes
        one distance per distinct candidate before keeping the best ``n``; asking it for every
        item returns exactly those distinct candidates (the traversal does not depend on ``n``),
        so their number is Annoy's distance count.
        """
        want = self._rows.size if params.count_work else n
        if params.rescore:
            items = self._annoy.get_nns_by_vector(q, want, search_k)
            distances = None
        else:
            items, distances = self._annoy.get_nns_by_vector(q, want, search_k, True)
        computed = len(items) if params.count_work else search_k
        if want != n:
            items = items[:n]
            distances = None if distances is None else distances[:n]
        return items, distances, computed

    def _work(self, computed: int, rescored: int) -> tuple[int, int]:
        """Return (distances, bytes): Annoy's candidates (each reads one stored vector) + the re-scored rows."""
        distances = computed + rescored
        return distances, distances * self._dimension * 4

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: AnnoyQuery) -> SearchResult:
        """Return about the k nearest rows, inspecting ``params.search_k`` nodes.

        A fixed ``search_k`` does not grow when a filtered query over-fetches. With
        ``rescore=False`` the scores are Annoy's distances mapped to the metric (float32
        rounding differs from the exact engine's); ``allowed`` post-filters.
        """
        assert query.dense is not None
        n = min(int(k), self._rows.size)
        search_k = params.budget(self.n_trees, n)
        items, distances, computed = self._candidates(query.dense.tolist(), n, search_k, params)
        rows = self._rows[np.asarray(items, dtype=np.int64)]
        if params.rescore:
            scores = self._kernel.rescore(query.dense, rows)
        else:
            scores = annoy_scores(np.asarray(distances), self.metric)
        work = self._work(computed, rows.size if params.rescore else 0)
        if allowed is not None:
            keep = allowed[rows]
            rows, scores = rows[keep], scores[keep]
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")
        return SearchResult(rows[order], scores[order], *work)

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
                    params: AnnoyQuery) -> list[SearchResult]:
        """``search_one`` of every query. Annoy has no batch call, so this is a loop over
        ``get_nns_by_vector`` (what a direct caller writes too); the id mapping, re-scoring,
        filtering and ordering of all the candidates run vectorised once for the batch."""
        n = min(int(k), self._rows.size)
        search_k = params.budget(self.n_trees, n)
        found = [self._candidates(q, n, search_k, params) for q in queries.tolist()]
        counts = np.fromiter((len(f[0]) for f in found), dtype=np.int64, count=len(found))
        owner = np.repeat(np.arange(len(found)), counts)
        rows = self._rows[np.fromiter((i for f in found for i in f[0]), dtype=np.int64, count=int(counts.sum()))]
        if params.rescore:
            scores = self._kernel.rescore_pairs(queries[owner], rows)
        else:
            scores = annoy_scores(np.fromiter((d for f in found for d in (f[1] or ())), dtype=np.float32),
                                  self.metric)
        works = [self._work(f[2], c if params.rescore else 0) for f, c in zip(found, counts.tolist())]
        if allowed is not None:
            keep = allowed[rows]
            rows, scores, owner = rows[keep], scores[keep], owner[keep]
        order = np.lexsort((scores_to_keys(scores, self.metric), owner))
        rows, scores = rows[order], scores[order]
        bounds = np.searchsorted(owner[order], np.arange(len(found) + 1)).tolist()
        return [SearchResult(rows[a:b], scores[a:b], *w) for a, b, w in zip(bounds, bounds[1:], works)]

    def save(self, directory: Path) -> None:
        """Write ``annoy.ann`` (Annoy's own file), ``rows.npy`` and ``annoy.json`` into ``directory``.

        Annoy re-maps the saved file afterwards, so the index keeps working from it.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._annoy.save(str(directory / _FILE))
        write_sidecar(directory, self._rows, _META, {
            "metric": self.metric, "annoy_metric": ANNOY_METRICS[self.metric], "n_trees": self.n_trees,
            "dimension": self._dimension, "items": int(self._rows.size)})


class AnnoyBuilder(SlabBuilder):
    """Annoy: ``n_trees`` random-projection trees; more trees, better recall, bigger index."""

    name = "annoy"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = AnnoySlabIndex
    work_counting = (
        "With count_work=True (what benchmarks pass), measured from Annoy's own answer: a query asks Annoy for "
        "every candidate it collected, and Annoy computes one distance per distinct candidate, so distances = "
        "those candidates + the rows re-scored exactly. By default (count_work=False, the query path: counting "
        "costs 30-60 % of a query) distances = the budget search_k + the re-scored rows, the number of leaf items "
        "Annoy collects before de-duplicating, an upper estimate within one leaf. bytes = distances × dimension "
        "× 4 (each reads one stored vector). The split nodes Annoy traverses to reach its leaves are not counted "
        "(Annoy exposes no counter for them).")

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
        saved = read_sidecar(directory, _META, data, metric)
        if saved is None:
            return self.build(data, metric)
        meta, rows = saved
        assert data.dense is not None
        annoy = AnnoyIndex(data.dense.shape[1], ANNOY_METRICS[metric])
        annoy.load(str(directory / _FILE))  # mmap: pages are read on demand
        nbytes = os.path.getsize(directory / _FILE)
        return AnnoySlabIndex(annoy, data, metric, int(meta.get("n_trees", self.n_trees)), rows, nbytes)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [AnnoyBuilder]
