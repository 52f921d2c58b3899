"""IVF engines from FAISS: inverted lists over k-means cells, with flat (IVF-Flat) or product-quantised (IVF-PQ) codes.

Build parameters: ``nlist`` (k-means cells) for both, plus ``m`` (sub-quantisers; must divide
the dimension, None picks the largest divisor ≤ dimension / 2) and ``nbits`` (bits per code)
for IVF-PQ. Query parameters: ``nprobe`` (cells searched) and, for IVF-PQ, ``k_factor`` (how
many times k candidates are re-ranked with exact distances).

Small slabs: FAISS's k-means wants ~39 training points per centroid, so the effective
``nlist`` is ``min(nlist, rows // 39)`` (at least 1), and an IVF-PQ slab with fewer than
8 × 2^nbits rows (2,048 for 8-bit codes) is stored with flat codes — memtable flushes are small; merged slabs
get the real structure. ``IvfSlabIndex.structure`` says what was built.

Cosine indexes normalised copies with the inner product; dot product uses the inner
product; euclidean uses L2. Every returned candidate is re-scored exactly from the slab's
float32 vectors, so scores match the exact engine's.

True work is counted exactly per query: the ``nlist`` centroid distances of the coarse
quantiser, plus the codes in the ``nprobe`` probed lists (their sizes summed), plus the
re-scored candidates; bytes scanned use each code's size (4 × dimension for flat codes,
m × nbits / 8 for PQ codes). Needs the ``engines`` extra; without faiss the plugin
registers nothing.

Threads: ``n_threads`` (default 1) sets FAISS's OpenMP thread count, which is process-wide,
before each build; one thread is fastest for single queries and on a shared machine, where
OpenMP's spinning workers slow training down (measured: 2 threads took 1.8× longer on 2
busy cores).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

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

MIN_POINTS_PER_CENTROID = 39  # FAISS's k-means warns below this
DEFAULT_NPROBE = 16
PQ_MIN_POINTS_PER_CODE = 8  # an IVF-PQ slab needs 8 × 2^nbits rows to train its codebooks
PQ_K_FACTOR = 4  # k_factor=None re-ranks 4 × k candidates of PQ codes (flat codes: k)
_FILE, _META, _NORMS = "ivf.faiss", "ivf.json", "norms.npy"



@dataclass(frozen=True)
class IvfQuery:
    """The IVF query parameters (the one declaration; both builders' ``query_defaults`` derive from it).

    ``nprobe``: cells searched (capped at the slab's nlist); ``k_factor``: k_factor × k
    candidates are re-ranked with exact scores (None: 1 for flat codes, whose distances are
    already exact, 4 for PQ codes).
    """

    nprobe: int = DEFAULT_NPROBE
    k_factor: int | None = None

    def __post_init__(self) -> None:
        positive_int("nprobe", self.nprobe, path="search_params.nprobe")
        if self.k_factor is not None:
            positive_int("k_factor", self.k_factor, path="search_params.k_factor")


def effective_nlist(nlist: int, rows: int) -> int:
    """Return the cells a slab of ``rows`` really gets: ``min(nlist, rows // 39)``, at least 1."""
    return max(1, min(nlist, rows // MIN_POINTS_PER_CENTROID))


def default_m(dimension: int) -> int:
    """Return the largest divisor of ``dimension`` that is at most ``dimension / 4`` (sub-vectors of ≥ 4 dims)."""
    for m in range(max(1, dimension // 4), 0, -1):
        if dimension % m == 0:
            return m
    return 1


def _prepared(vectors: np.ndarray, metric: str) -> np.ndarray:
    """Return the float32 vectors FAISS indexes: unit length for cosine (zero rows stay zero)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric != "cosine":
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(np.divide(x, norms, out=np.zeros_like(x), where=norms > 0))


class IvfSlabIndex(SlabIndex):
    """A FAISS IVF index over one slab, with the slab's vectors kept (in the exact kernel) for re-scoring."""

    query_params = IvfQuery
    can_save = True

    def __init__(self, ivf: Any, data: SlabData, metric: str, rows: np.ndarray, structure: Mapping[str, Any],
                 norms: np.ndarray | None = None) -> None:
        """``norms``: the rows' saved norms for the exact kernel (see ``save``), else computed from the rows."""
        assert data.dense is not None
        self._ivf = ivf
        self._lock = threading.Lock()
        self._kernel = ExactKernel(metric, data.dense, norms=norms)
        self._dimension = int(data.dense.shape[1])
        self._rows = rows
        self.metric = metric
        self.structure = dict(structure)  # what was built: kind, nlist, m, nbits, code_size
        invlists = ivf.invlists
        self._list_sizes = np.array([invlists.list_size(i) for i in range(ivf.nlist)], dtype=np.int64)
        self._nbytes: int | None = None  # serialising a multi-GB index costs seconds: only when asked

    @property
    def nbytes(self) -> int:
        if self._nbytes is None:
            import faiss

            self._nbytes = int(faiss.serialize_index(self._ivf).size)
        return self._nbytes

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: IvfQuery) -> SearchResult:
        """Return about the k nearest rows from ``params.nprobe`` cells; ``allowed`` post-filters."""
        assert query.dense is not None
        return self.search_many(query.dense[None, :], k, allowed, params)[0]

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
                    params: IvfQuery) -> list[SearchResult]:
        """``search_one`` of every query: one coarse assignment and one ``search_preassigned`` call for the batch."""
        k_factor = params.k_factor
        if k_factor is None:
            k_factor = PQ_K_FACTOR if self.structure["kind"] == "pq" else 1
        n = min(int(k), self._rows.size)
        if n == 0 or len(queries) == 0:
            return [SearchResult(np.empty(0, np.int64), np.empty(0, np.float32), 0, 0) for _ in queries]
        probes = min(int(params.nprobe), self._ivf.nlist)
        fetch = min(self._rows.size, n * int(k_factor))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        x = _prepared(queries, self.metric)
        with self._lock:  # FAISS checks the assignment's width against the index's nprobe
            self._ivf.nprobe = probes
            centroid_d, cells = self._ivf.quantizer.search(x, probes)
            _, labels = self._ivf.search_preassigned(x, fetch, cells, centroid_d)
        scanned = np.where(cells >= 0, self._list_sizes[np.maximum(cells, 0)], 0).sum(axis=1)
        dim = self._dimension
        code_size = int(self.structure["code_size"])
        valid = labels >= 0
        rows_all = self._rows[np.where(valid, labels, 0)]
        scores_all = self._kernel.rescore_pairs(queries, rows_all)
        out = []
        for i in range(len(queries)):
            keep = valid[i]
            rows, scores = rows_all[i][keep], scores_all[i][keep]
            candidates = rows.size
            if allowed is not None:
                ok = allowed[rows]
                rows, scores = rows[ok], scores[ok]
            order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")[:n]
            distances = self._ivf.nlist + int(scanned[i]) + candidates
            nbytes = self._ivf.nlist * dim * 4 + int(scanned[i]) * code_size + candidates * dim * 4
            out.append(SearchResult(rows[order], scores[order], distances, nbytes))
        return out

    def save(self, directory: Path) -> None:
        """Write ``ivf.faiss`` (FAISS's own file), ``rows.npy``, ``ivf.json`` and the kernel's
        ``norms.npy`` (|v| for cosine, |v|² for euclidean), so a reopen maps the norms instead
        of reading every vector to recompute them."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._ivf, str(directory / _FILE))
        norms = self._kernel.norms if self._kernel.norms is not None else self._kernel.sq_norms
        if norms is not None:
            with open(directory / _NORMS, "wb") as handle:
                np.save(handle, np.ascontiguousarray(norms), allow_pickle=False)
        write_sidecar(directory, self._rows, _META, {
            "metric": self.metric, "dimension": self._dimension, "items": int(self._rows.size),
            "norms": norms is not None, **self.structure})


def _saved_norms(directory: Path, meta: Mapping[str, Any], rows: int) -> np.ndarray | None:
    """Map ``norms.npy`` if ``save`` wrote one that fits a slab of ``rows`` rows; else None (recompute)."""
    if not meta.get("norms"):
        return None
    try:
        norms = np.load(directory / _NORMS, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return norms if norms.shape == (rows,) and norms.dtype == np.float32 else None


class _IvfBuilder(SlabBuilder):
    """Shared build and load of the FAISS IVF builders."""

    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = IvfSlabIndex
    work_counting = (
        "Counted per query from FAISS's own structures: the nlist centroid distances of the coarse quantiser + "
        "the codes in the nprobe probed inverted lists (their sizes summed, the same number as FAISS's own "
        "indexIVF_stats.ndis counter) + the candidates re-scored exactly. bytes = nlist × dimension × 4 + codes "
        "× code size (4 × dimension for flat codes, m × nbits / 8 for PQ codes) + candidates × dimension × 4.")

    nlist: int
    n_threads: int

    def _threads(self) -> None:
        import faiss

        faiss.omp_set_num_threads(self.n_threads)

    def _structure(self, rows: int, dimension: int) -> dict[str, Any]:
        raise NotImplementedError

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        import faiss

        if data.dense is None:
            raise InvalidArgumentError(f"the {self.name} engine indexes dense vectors only", path="engine")
        self._threads()
        x = _prepared(data.dense, metric)
        rows, dim = x.shape
        structure = self._structure(rows, dim)
        faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        quantizer = faiss.IndexFlatL2(dim) if metric == "euclidean" else faiss.IndexFlatIP(dim)
        ivf: Any  # IndexIVFPQ or IndexIVFFlat
        if structure["kind"] == "pq":
            ivf = faiss.IndexIVFPQ(quantizer, dim, structure["nlist"], structure["m"], structure["nbits"], faiss_metric)
        else:
            ivf = faiss.IndexIVFFlat(quantizer, dim, structure["nlist"], faiss_metric)
        ivf.cp.seed = int(getattr(self, "seed", 1234))
        if rows:
            ivf.train(x)
            ivf.add(x)
        return IvfSlabIndex(ivf, data, metric, np.arange(rows, dtype=np.int64), structure)

    def load(self, directory: Path, data: SlabData, metric: str) -> SlabIndex:
        """Read an index written by ``IvfSlabIndex.save``; rebuild if it does not fit ``data``."""
        import faiss

        directory = Path(directory)
        saved = read_sidecar(directory, _META, data, metric, _FILE)
        if saved is None:
            return self.build(data, metric)
        meta, rows = saved
        ivf = faiss.read_index(str(directory / _FILE))
        keys = ("kind", "nlist", "m", "nbits", "code_size")
        structure: dict[str, Any] = {key: meta[key] for key in keys if key in meta}
        return IvfSlabIndex(ivf, data, metric, rows, structure, _saved_norms(directory, meta, len(data)))


class IvfFlatBuilder(_IvfBuilder):
    """IVF-Flat (FAISS): ``nlist`` k-means cells holding the full vectors; query with ``nprobe`` cells."""

    name = "ivf_flat"

    def __init__(self, nlist: int = 256, seed: int = 1234, n_threads: int = 1) -> None:
        self.nlist = positive_int("nlist", nlist)
        self.seed = positive_int("seed", seed, 0)
        self.n_threads = positive_int("n_threads", n_threads)

    def _structure(self, rows: int, dimension: int) -> dict[str, Any]:
        return {"kind": "flat", "nlist": effective_nlist(self.nlist, rows), "code_size": 4 * dimension}


class IvfPqBuilder(_IvfBuilder):
    """IVF-PQ (FAISS): ``nlist`` cells of ``m`` × ``nbits``-bit codes; query with ``nprobe``, re-rank ``k_factor`` × k."""

    name = "ivf_pq"

    def __init__(self, nlist: int = 256, m: int | None = None, nbits: int = 8, seed: int = 1234,
                 n_threads: int = 1) -> None:
        self.nlist = positive_int("nlist", nlist)
        self.m = None if m is None else positive_int("m", m)
        if isinstance(nbits, bool) or not isinstance(nbits, int) or not 1 <= nbits <= 16:
            raise InvalidArgumentError(f"nbits must be an integer in 1..16, got {nbits!r}", path="nbits")
        self.nbits = nbits
        self.seed = positive_int("seed", seed, 0)
        self.n_threads = positive_int("n_threads", n_threads)

    def _structure(self, rows: int, dimension: int) -> dict[str, Any]:
        m = default_m(dimension) if self.m is None else self.m
        if dimension % m:
            raise InvalidArgumentError(f"m={m} must divide the dimension {dimension}", path="m")
        nlist = effective_nlist(self.nlist, rows)
        if rows < PQ_MIN_POINTS_PER_CODE * 2 ** self.nbits:  # too few rows to train the codebooks: flat codes
            return {"kind": "flat", "nlist": nlist, "code_size": 4 * dimension}
        return {"kind": "pq", "nlist": nlist, "m": m, "nbits": self.nbits, "code_size": (m * self.nbits + 7) // 8}


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    # Like a third-party plugin whose library is missing: register nothing rather than fail.
    return [IvfFlatBuilder, IvfPqBuilder] if importlib.util.find_spec("faiss") is not None else []
