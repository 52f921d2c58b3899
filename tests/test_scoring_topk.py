"""top_candidates on large scans: the bound narrowing keeps exactly the k smallest plus boundary ties (#14)."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import scoring
from toolkit.scoring import BOUND_MIN_KEYS, ExactKernel, Query, top_candidates


def _reference(keys: np.ndarray, k: int) -> list[int]:
    """What top_candidates answers without the narrowing (one argpartition of every key), by position."""
    saved = scoring.BOUND_MIN_KEYS
    scoring.BOUND_MIN_KEYS = 1 << 62
    try:
        return sorted(top_candidates(keys, k).tolist())
    finally:
        scoring.BOUND_MIN_KEYS = saved


def _finite_reference(keys: np.ndarray, k: int) -> list[int]:
    """The k smallest finite keys plus every key tied with the k-th (argsort, no partition)."""
    finite = np.flatnonzero(np.isfinite(keys))
    if finite.size <= k:
        return sorted(finite.tolist())
    ranked = finite[np.argsort(keys[finite], kind="stable")]
    return sorted(np.flatnonzero(np.isfinite(keys) & (keys <= keys[ranked[k - 1]])).tolist())


@pytest.mark.parametrize("case", ["random", "ties", "few_values", "nan_inf", "all_equal", "sorted", "negzero"])
@pytest.mark.parametrize("k", [1, 10, 100, 1000])
def test_large_top_candidates_equal_the_reference(case, k):
    rng = np.random.default_rng(abs(hash((case, k))) % 2**32)
    n = BOUND_MIN_KEYS * 2 + 77
    keys = rng.normal(size=n).astype(np.float32)
    if case == "ties":
        keys = np.round(keys * 20).astype(np.float32)
    elif case == "few_values":
        keys = rng.integers(0, 3, n).astype(np.float32)
    elif case == "nan_inf":
        keys[rng.integers(0, n, n // 3)] = np.nan
        keys[rng.integers(0, n, n // 3)] = np.inf
        keys[rng.integers(0, n, 5)] = -np.inf
    elif case == "all_equal":
        keys[:] = 0.5
    elif case == "sorted":
        keys = np.sort(keys)[::-1].copy()
    elif case == "negzero":
        keys[::2] = -0.0
        keys[1::2] = 0.0
    got = top_candidates(keys, k)
    assert sorted(got.tolist()) == _reference(keys, k)
    if case != "nan_inf":  # (a -inf among the k empties both answers: never a key of a real scan)
        assert sorted(got.tolist()) == _finite_reference(keys, k)
    assert np.all(keys[got][1:] >= keys[got][:-1])  # best first


def test_exact_kernel_cosine_scores_do_not_depend_on_the_path():
    """The in-place cosine division gives the scores the re-scoring path gives, bit for bit."""
    rng = np.random.default_rng(4)
    dense = rng.normal(size=(BOUND_MIN_KEYS + 5, 16)).astype(np.float32)
    kernel = ExactKernel("cosine", dense)
    q = rng.normal(size=16).astype(np.float32)
    result = kernel.search(Query(q, None), 25)
    assert result.scores.tolist() == kernel.rescore(q, result.rows).tolist()
    full = kernel.rescore(q, None)
    assert sorted(result.rows.tolist()) == sorted(np.argsort(-full, kind="stable")[:25].tolist())
