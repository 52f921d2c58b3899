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


def _ranked_reference(keys: np.ndarray, k: int) -> list[int]:
    """The k smallest rankable keys (not +inf, not NaN; -inf is a score of +inf and ranks first)
    plus every key tied with the k-th (argsort, no partition)."""
    rankable = np.flatnonzero(keys < np.inf)
    if rankable.size <= k:
        return sorted(rankable.tolist())
    ranked = rankable[np.argsort(keys[rankable], kind="stable")]
    return sorted(np.flatnonzero((keys < np.inf) & (keys <= keys[ranked[k - 1]])).tolist())


@pytest.mark.parametrize("case", ["random", "ties", "few_values", "nan_inf", "all_equal", "sorted", "negzero"])
@pytest.mark.parametrize("k", [1, 3, 5, 10, 100, 1000])
@pytest.mark.parametrize("n", [BOUND_MIN_KEYS * 2 + 77, 140_077])
def test_large_top_candidates_equal_the_reference(case, k, n):
    rng = np.random.default_rng(abs(hash((case, k, n))) % 2**32)
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
    assert sorted(got.tolist()) == _ranked_reference(keys, k)
    assert np.all(keys[got][1:] >= keys[got][:-1])  # best first


@pytest.mark.parametrize(("n", "k"), [(2048, 10), (10_000, 10), (10_000, 50), (140_077, 1000)])
def test_the_narrowing_applies_from_a_few_thousand_keys(n, k):
    """A 10k-row scan is the common small query; a full partition there cost as much as the scan."""
    keys = np.random.default_rng(n).normal(size=n).astype(np.float32)
    kept = scoring._below_kth_bound(keys, k)
    assert kept is not None and k <= kept.size < n // 4
    assert sorted(top_candidates(keys, k).tolist()) == _ranked_reference(keys, k)


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


@pytest.mark.parametrize("n", [50, BOUND_MIN_KEYS + 4464])
def test_a_score_of_plus_infinity_is_kept_and_ranks_first(n):
    """A dot product that overflows float32 is a score of +inf (key -inf): a real match, ranked first.

    With the narrowing (n above BOUND_MIN_KEYS) the kept set can hold exactly k keys, and the
    k >= n branch used to drop the -inf key along with the +inf ones; top_k = 1 and top_k >= rows
    dropped it without the narrowing too.
    """
    vectors = np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)
    vectors[23] = [3e38, 3e38]
    kernel = ExactKernel("dotproduct", vectors)
    query = Query(dense=np.array([1.0, 1.0], np.float32))
    with np.errstate(over="ignore"):
        for k in (1, 2, 3, 10, n):
            result = kernel.search(query, k)
            assert result.rows.size == min(k, n), k
            assert result.rows[0] == 23 and result.scores[0] == np.inf, k

