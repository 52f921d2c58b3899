"""Plots and tables of a results frame: legends clear of the data, honest axes, spread-aware headlines.

The frames are written by hand (no sweep runs), so each case pins one behaviour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from toolkit.bench import plot_pareto, plot_read_units, plot_selectivity
from toolkit.bench.metrics import repeated_summary, separated, spread
from toolkit.bench.sweep import results_frame
from toolkit.bench.tables import dataset_labels, headline, winners

DATASET = "clustered(n=10000, dim=32)"


def row(engine: str, label: str, recall: float, qps: tuple[float, float, float], filter_name: str = "none",
        selectivity: float = 1.0, dataset: str = DATASET) -> dict[str, Any]:
    low, median, high = qps
    return {"run_id": f"{dataset} | {label} | {filter_name}", "dataset": dataset, "vector_type": "dense",
            "metric": "cosine", "n": 10_000, "dimension": 32, "engine": engine, "build": label, "label": label,
            "filter": filter_name, "selectivity": selectivity, "workload": "queries", "k": 10, "queries": 100,
            "repeats": 3, "recall_mean": recall, "recall_p10": recall, "qps": median, "qps_min": low, "qps_max": high,
            "latency_p50_ms": 1e3 / median, "latency_p50_ms_min": 1e3 / high, "latency_p50_ms_max": 1e3 / low,
            "latency_p99_ms": 2e3 / median, "build_seconds": 0.5, "build_seconds_min": 0.4, "build_seconds_max": 0.7,
            "index_bytes": 1e6, "namespace_bytes": 1.5e6, "read_units_per_query": 0.25,
            "distance_computations_per_query": 500.0, "bytes_scanned_per_query": 64_000.0, "error": ""}


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = results_frame(rows)
    out.attrs["config"] = {"name": "t", "repeats": 3, "workloads": [{"name": "queries", "kind": "query"}]}
    return out


def drawn(fig: Figure) -> Any:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def point_pixels(ax: Any) -> np.ndarray:
    """Return the display coordinates of every scatter point, bar end and line vertex drawn in ``ax``."""
    parts = []
    for c in ax.collections:
        if isinstance(c, LineCollection):
            parts += [c.get_transform().transform(seg) for seg in c.get_segments() if len(seg)]
        elif len(c.get_offsets()):
            parts.append(c.get_offset_transform().transform(c.get_offsets()))
    parts += [line.get_transform().transform(line.get_xydata()) for line in ax.lines if len(line.get_xydata())]
    points = np.concatenate(parts) if parts else np.empty((0, 2))
    return points[np.isfinite(points).all(axis=1)]


def assert_legends_hide_nothing(fig: Figure) -> None:
    renderer = drawn(fig)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    assert legends, "expected legends"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:  # outside every plotting area: no data can ever sit under a legend
            assert not box.overlaps(ax.bbox), f"a legend lies inside the plotting area of {ax.get_title()!r}"
            points = point_pixels(ax)
            inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                      & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1))
            assert not inside.any(), f"a legend hides {int(inside.sum())} point(s) of {ax.get_title()!r}"


@pytest.fixture()
def results() -> pd.DataFrame:
    rows = [row("exact", "exact()", 1.0, (900, 1000, 1100)),
            row("annoy", "annoy(n_trees=10) search_k=50", 0.4775, (4000, 4200, 4400)),
            row("annoy", "annoy(n_trees=10) search_k=400", 0.95, (2900, 3000, 3100)),
            row("nndescent", "nndescent() epsilon=0.1", 0.97, (2800, 3050, 3300)),
            row("nndescent", "nndescent() epsilon=0.0", 0.0, (5000, 5100, 5200))]
    for engine, label, recall in (("exact", "exact()", 1.0), ("annoy", "annoy(n_trees=10) search_k=400", 0.95),
                                  ("nndescent", "nndescent() epsilon=0.1", 0.97)):
        for selectivity in (0.5, 0.1, 0.01):
            drop = 0.975 if engine == "annoy" else 1.0  # a 2.5-point drop must not look like a cliff
            rows.append(row(engine, label, recall * drop, (900, 1000, 1100), f"tag@{selectivity}", selectivity))
    return frame(rows)


def test_dataset_labels_name_size_and_dimension(results: pd.DataFrame) -> None:
    assert dataset_labels(results) == {DATASET: "clustered (10,000 × 32)"}
    twins = frame([row("exact", "exact()", 1.0, (1, 1, 1)), row("exact", "exact()", 1.0, (1, 1, 1), dataset="clustered(seed=1)")])
    labels = dataset_labels(twins)  # same name and size: the full parameters tell them apart
    assert len(set(labels.values())) == 2 and all("10,000 × 32" in v for v in labels.values())


def test_pareto_keeps_a_low_recall_inside_a_labelled_axis(results: pd.DataFrame) -> None:
    rows = results[results["recall_mean"] > 0]  # the lowest recall is now 0.4775, the case
    fig = plot_pareto(frame(rows.to_dict("records")))
    drawn(fig)
    ax = fig.axes[0]
    low, _ = ax.get_xlim()
    assert low < 0.4775 * 0.9, "the 0.4775 recall must not sit on the left edge"
    ticks = ax.xaxis.get_major_locator().tick_values(*ax.get_xlim())
    assert min(ticks) <= low * 1.0001, "the left edge is labelled, so the reader sees where the axis starts"
    assert ax.get_title() == "clustered (10,000 × 32)"
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels()]
    assert len(labels) == len(set(labels)), labels  # no two ticks share a label ("1" twice)
    boxes = sorted((t.get_window_extent() for t in ax.xaxis.get_ticklabels() if t.get_text()), key=lambda b: b.x0)
    assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])), labels  # and none collide
    low_qps, high_qps = ax.get_ylim()
    assert high_qps / low_qps >= 9.99
    assert not ax.texts  # nothing clipped, nothing to note
    assert_legends_hide_nothing(fig)


def test_pareto_notes_recalls_drawn_at_the_edge(results: pd.DataFrame) -> None:
    fig = plot_pareto(results)
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert any("recall < 0.001" in t and "1 configuration" in t for t in notes), notes


def test_pareto_draws_the_spread_of_repeats(results: pd.DataFrame) -> None:
    fig = plot_pareto(results)
    bars = [c for c in fig.axes[0].collections if c.__class__.__name__ == "LineCollection"]
    spans = sorted((float(seg[:, 1].min()), float(seg[:, 1].max())) for c in bars for seg in c.get_segments())
    assert (4000.0, 4400.0) in spans and (900.0, 1100.0) in spans


def test_selectivity_recall_axis_starts_at_zero_and_legends_hide_nothing(results: pd.DataFrame) -> None:
    fig = plot_selectivity(results)
    recall_axis = fig.axes[0]
    assert recall_axis.get_ylim()[0] == 0 and recall_axis.get_ylim()[1] >= 1
    low, high = fig.axes[1].get_ylim()  # latency (log): at least a decade, though the latencies are all 1 ms
    assert high / low >= 9.99
    assert_legends_hide_nothing(fig)


def test_read_units_legends_hide_nothing(results: pd.DataFrame) -> None:
    assert_legends_hide_nothing(plot_read_units(results))


def test_spread_and_repeated_summary() -> None:
    assert spread([3.0, 1.0, 2.0], "x") == {"x": 2.0, "x_min": 1.0, "x_max": 3.0}
    passes = [np.full(10, 0.001), np.full(10, 0.002), np.full(10, 0.004)]
    out = repeated_summary(np.ones(10), passes)
    assert out["qps"] == pytest.approx(500.0) and out["qps_min"] == pytest.approx(250.0)
    assert out["qps_max"] == pytest.approx(1000.0) and out["latency_p50_ms"] == pytest.approx(2.0)
    assert separated(1, 2, 3, 4) and not separated(1, 3, 2, 4) and not separated(1, float("nan"), 3, 4)


def test_headline_calls_a_winner_only_beyond_the_spread(results: pd.DataFrame) -> None:
    table = headline(results)
    by_engine = table.set_index("engine")
    # annoy 3000 [2900, 3100] and nndescent 3050 [2800, 3300] overlap: a tie, whichever median is higher
    assert by_engine.loc["nndescent", "verdict"] == "tie within spread with annoy for fastest"
    assert by_engine.loc["annoy", "verdict"] == "tie within spread with nndescent"
    assert by_engine.loc["exact", "verdict"] == "slower than annoy (beyond spread)"
    assert by_engine.loc["annoy", "QPS min–max"] == "2,900–3,100"
    assert by_engine.loc["annoy", "configuration"] == "annoy(n_trees=10) search_k=400"  # 0.4775 misses the target
    (sentence,) = winners(results)
    assert sentence.startswith("clustered (10,000 × 32): tie within spread between nndescent, annoy")


def test_headline_names_a_clear_winner() -> None:
    results = frame([row("exact", "exact()", 1.0, (900, 1000, 1100)),
                     row("annoy", "annoy() search_k=400", 0.95, (2900, 3000, 3100)),
                     row("annoy", "annoy() search_k=800", 0.97, (2950, 3050, 3150))])
    table = headline(results)
    assert list(table["engine"]) == ["annoy", "exact"]
    assert table.loc[0, "verdict"] == ("fastest (beyond spread); 1 other configuration(s) of this engine "
                                       "tie within spread")
    (sentence,) = winners(results)
    assert "annoy() search_k=800 is fastest" in sentence and "ahead of exact beyond the spread of 3 repeats" in sentence


def test_results_without_spread_say_so() -> None:
    rows = [row("exact", "exact()", 1.0, (900, 1000, 1100)), row("annoy", "annoy() search_k=400", 0.95, (1, 3000, 1))]
    for r in rows:  # as saved before repeats were measured
        for key in [k for k in r if k.endswith(("_min", "_max"))]:
            r[key] = float("nan")
    table = headline(frame(rows))
    assert list(table["verdict"]) == ["fastest (no spread measured)", "slower than annoy (no spread measured)"]
    assert "on medians alone (no spread measured)" in winners(frame(rows))[0]
