"""Benchmark metrics: the ann-benchmarks recall definition, percentiles, the Pareto frontier, metric data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from toolkit.bench.metrics import (
    BY_NAME,
    EPSILON,
    METRICS,
    knn_threshold,
    pareto_frontier,
    percentile,
    query_summary,
    recall_at_k,
)

INF = np.inf


def test_recall_counts_hits_within_kth_distance_plus_epsilon():
    truth = np.array([[0.1, 0.2, 0.3]])
    # 0.3 + 1e-3 is the threshold: 0.3009 is a hit, 0.3011 is not.
    assert recall_at_k(truth, [np.array([0.1, 0.2, 0.3009])], 3)[0] == 1.0
    assert recall_at_k(truth, [np.array([0.1, 0.2, 0.3011])], 3)[0] == pytest.approx(2 / 3)
    assert knn_threshold(truth[0], 3) == pytest.approx(0.3 + EPSILON)


def test_recall_is_about_distances_not_ids():
    # Any row at a true-neighbour distance counts (ties): the ids never enter the metric.
    truth = np.array([[1.0, 1.0, 2.0]])
    assert recall_at_k(truth, [np.array([1.0, 2.0, 2.0])], 3)[0] == 1.0


def test_recall_uses_the_first_k_results_only():
    truth = np.array([[0.1, 0.2]])
    assert recall_at_k(truth, [np.array([0.1, 9.0, 0.2])], 2)[0] == 0.5


def test_recall_with_fewer_qualifying_rows_than_k():
    truth = np.array([[0.1, 0.5, INF, INF]])  # a filter allows two rows only
    assert recall_at_k(truth, [np.array([0.1, 0.5])], 4)[0] == 1.0
    assert recall_at_k(truth, [np.array([0.1])], 4)[0] == 0.5
    # a returned row the query must not see is scored +inf, so it never counts
    assert recall_at_k(truth, [np.array([0.1, INF])], 4)[0] == 0.5


def test_recall_of_a_query_with_nothing_to_find_is_one():
    truth = np.array([[INF, INF]])
    assert recall_at_k(truth, [np.array([])], 2)[0] == 1.0


def test_recall_per_query_and_empty_results():
    truth = np.array([[0.0, 1.0], [0.0, 1.0]])
    got = recall_at_k(truth, [np.array([0.0, 1.0]), np.array([])], 2)
    assert got.tolist() == [1.0, 0.0]


def test_percentiles_interpolate_linearly():
    values = np.arange(1, 101, dtype=float)  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 95) == 3.0
    assert math.isnan(percentile([], 50))


def test_query_summary():
    summary = query_summary(np.array([1.0, 0.5, 0.0, 1.0]), np.array([0.001, 0.002, 0.003, 0.004]))
    assert summary["recall_mean"] == pytest.approx(0.625)
    assert summary["recall_p10"] == pytest.approx(0.15)
    assert summary["latency_p50_ms"] == pytest.approx(2.5)
    assert summary["latency_p99_ms"] == pytest.approx(3.97)
    assert summary["qps"] == pytest.approx(4 / 0.01)


def test_summary_has_a_typed_metric_for_every_value():
    for name in query_summary(np.ones(3), np.ones(3)):
        assert name in BY_NAME


def test_metrics_are_typed_data():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    assert {m.direction for m in METRICS} <= {"higher", "lower"}
    assert BY_NAME["qps"].better(2, 1) and BY_NAME["latency_p50_ms"].better(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        BY_NAME["qps"].unit = "x"


def test_pareto_frontier_keeps_undominated_points_sorted_by_x():
    recall = np.array([0.5, 0.9, 0.8, 0.99, 0.7])
    qps = np.array([1000, 500, 400, 100, 900])
    front = pareto_frontier(recall, qps, BY_NAME["recall_mean"], BY_NAME["qps"])
    assert front.tolist() == [0, 4, 1, 3]  # (0.8, 400) is beaten by (0.9, 500)


def test_pareto_frontier_ignores_nan_and_keeps_duplicates():
    front = pareto_frontier(np.array([0.9, np.nan, 0.9]), np.array([10, 20, 10]), BY_NAME["recall_mean"],
                            BY_NAME["qps"])
    assert sorted(front.tolist()) == [0, 2]
