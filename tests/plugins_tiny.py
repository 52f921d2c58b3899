"""A small third-party engine for the engine and merge tests: ``toolkit.Client(plugins=[plugins_tiny])``.

``gated`` is an approximate engine (no native filtering, so the router over-fetches for it)
whose builds can be held at a gate, made to fail, and whose search can only ever reach a
share of the slab's rows, which forces the router's exact fallback. Everything it does is
counted, so tests can tell which path a query took.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl, scores_to_keys


class Controls:
    """Test knobs shared by every ``gated`` build and search of the process."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.gate = threading.Event()
        self.gate.set()  # open: builds run straight through
        self.building = threading.Event()  # set while a build waits at the gate
        self.fail = False
        self.passes = 0  # builds still let through while the gate is closed
        self.builds: list[int] = []  # rows of every finished build
        self.searches: list[int] = []  # k of every search

    def hold(self, after: int = 0) -> None:
        """Let ``after`` more builds through, then make builds wait until ``release()``."""
        self.passes = after
        self.building.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()


CONTROLS = Controls()


@dataclass(frozen=True)
class GatedQuery:
    boost: int = 0


class GatedIndex(SlabIndex):
    query_params = GatedQuery

    def __init__(self, data: SlabData, metric: str, reach: float) -> None:
        assert data.dense is not None
        self.dense, self.metric = data.dense, metric
        # Only every 1/reach-th row can ever be returned: an ANN that misses rows.
        step = max(1, round(1 / reach))
        self.reachable = np.arange(0, len(data), step)

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        CONTROLS.searches.append(k)
        scores = ExactKernel(self.metric, self.dense[self.reachable]).scores(query)
        order = np.argsort(scores_to_keys(scores, self.metric), kind="stable")[: k + params.boost]
        return SearchResult(self.reachable[order], scores[order], self.reachable.size, 0)


class GatedBuilder(SlabBuilder):
    """Brute force over a ``reach`` share of the rows; builds wait at ``CONTROLS.gate``."""

    name = "gated"
    metrics = frozenset({"cosine", "euclidean", "dotproduct"})
    vector_types = frozenset({"dense"})
    exact = False
    native_filtering = False
    index_type = GatedIndex

    def __init__(self, reach: float = 1.0) -> None:
        if not 0 < reach <= 1:
            raise ValueError(f"reach must be in (0, 1], got {reach!r}")
        self.reach = reach

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        if CONTROLS.passes > 0:
            CONTROLS.passes -= 1
        else:
            CONTROLS.building.set()
            CONTROLS.gate.wait(timeout=30)
        if CONTROLS.fail:
            raise RuntimeError("gated build failed on purpose")
        CONTROLS.builds.append(len(data))
        return GatedIndex(data, metric, self.reach)


@hookimpl
def register_slab_builders() -> list[type[SlabBuilder]]:
    return [GatedBuilder]
