"""Batched PyNNDescent search that also counts each query's evaluated distances, in one compiled call.

PyNNDescent's batched ``query`` reuses one visited set for the whole batch, so after it only
the last query's evaluations can be read. Reading them per query means one ``query`` call
per query, whose Python-side cost (argument checks, the result workspace, the finisher)
made ``index.query_batch`` 1.45× the raw batched call. Here one numba loop calls the
library's own compiled single-query search for each query in turn, exactly as a
one-query ``query`` call does (same index arrays, same visited set, the same copy of the
index's random state per query), and takes the visited set's population count after each,
so results are identical to single-query calls and the count is PyNNDescent's own. The
library's finisher then maps the whole batch back to the index's row order once.

It relies on PyNNDescent's cached dense search (``pynndescent.search``, a structref of the
index's arrays bound with ``functools.partial``); ``counted_search`` returns None for an
index that does not use it (another version, a sparse or quantised index), and the caller
falls back to one ``query`` call per query.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numba
import numpy as np
from pynndescent import search as _search

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


@numba.njit(cache=True)
def _bits_set(words: np.ndarray, tail: np.ndarray, popcount: np.ndarray) -> int:  # pragma: no cover - compiled
    """Return the set bits of ``words`` (uint64, SWAR popcount, which LLVM turns into popcnt) and ``tail``."""
    total = 0
    for w in words:
        w = w - ((w >> np.uint64(1)) & np.uint64(0x5555555555555555))
        w = (w & np.uint64(0x3333333333333333)) + ((w >> np.uint64(2)) & np.uint64(0x3333333333333333))
        w = (w + (w >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        total += (w * np.uint64(0x0101010101010101)) >> np.uint64(56)
    for byte in tail:
        total += popcount[byte]
    return total


@numba.njit(cache=True)
def _search_each(index: Any, queries: np.ndarray, out_indices: np.ndarray, out_distances: np.ndarray, k: int,
                 epsilon: np.float32, visited: np.ndarray, rng_state: np.ndarray, counts: np.ndarray,
                 popcount: np.ndarray) -> None:  # pragma: no cover - compiled
    n, d = queries.shape
    whole = visited.size // 8 * 8
    words = visited[:whole].view(np.uint64)
    tail = visited[whole:]
    q = np.empty((1, d), np.float32)
    inv_norms = np.ones(1, np.float32)
    for i in range(n):
        q[0, :] = queries[i]
        heap = (np.full((1, k), -1, np.int32), np.full((1, k), np.inf, np.float32), np.zeros((1, k), np.uint8))
        _search.search_dense_sqeuclidean(index, q, q, inv_norms, heap, k, epsilon, visited, False, rng_state)
        out_indices[i, :] = heap[0][0]
        out_distances[i, :] = heap[1][0]
        counts[i] = _bits_set(words, tail, popcount)


def counted_search(nnd: Any) -> Callable[[np.ndarray, int, float], tuple[np.ndarray, np.ndarray]] | None:
    """Return ``run(queries, k, epsilon) -> (indices, evaluated)`` for ``nnd``, or None if unsupported.

    ``queries`` is the (n, d) float32 batch as ``nnd.query`` takes it; ``indices`` is what
    ``nnd.query`` would return for each row alone, ``evaluated`` the distances its search
    computed for each row (PyNNDescent's visited set after that query).
    """
    function = getattr(nnd, "_search_function", None)
    plan = getattr(nnd, "_fast_plan", None)
    if not isinstance(function, functools.partial) or not function.args or plan is None \
            or getattr(nnd, "parallel_batch_queries", False):
        return None
    entry_points = [overload.entry_point for overload in _search.search_dense_sqeuclidean.overloads.values()]
    if not any(function.func is entry for entry in entry_points):
        return None
    index, finish = function.args[0], plan[2]

    def run(queries: np.ndarray, k: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = queries.shape[0]
        indices = np.full((n, k), -1, np.int32)
        distances = np.full((n, k), np.inf, np.float32)
        counts = np.zeros(n, np.int64)
        _search_each(index, queries, indices, distances, np.int64(k), np.float32(epsilon), nnd._visited,
                     nnd.search_rng_state, counts, _POPCOUNT)
        indices, _ = finish(indices, distances, nnd._vertex_order)
        return indices, counts

    return run
