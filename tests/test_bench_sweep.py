"""Tiny sweeps end to end: serial and on a Dask LocalCluster, the report, and the command line.

A test engine ("sampled": exact search over a random share of the rows) gives recall below 1
without depending on the ANN plugins; Annoy joins when it is installed. PyNNDescent is left
out on purpose (its JIT compile takes a minute).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit import SlabBuilder, SlabData, SlabIndex, bench, hookimpl
from toolkit.cli import main
from toolkit.plugin import Query, SearchResult
from toolkit.scoring import exact_search


@dataclass(frozen=True)
class SampledQuery:
    limit: int = 0


class SampledIndex(SlabIndex):
    query_params = SampledQuery

    def __init__(self, data: SlabData, metric: str, keep: float) -> None:
        rng = np.random.default_rng(0)
        n = len(data)
        self.rows = np.sort(rng.choice(n, max(1, int(round(keep * n))), replace=False))
        self.dense = data.dense[self.rows]
        self.metric = metric

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        rows = self.rows[:params.limit] if params.limit else self.rows
        dense = self.dense[: len(rows)]
        found = exact_search(query, self.metric, k, dense, None, None)
        return SearchResult(rows[found.rows], found.scores, len(rows), dense.nbytes)


class SampledBuilder(SlabBuilder):
    """Exact search over a random ``keep`` share of the rows: a cheap stand-in for an ANN engine."""

    name = "sampled"
    vector_types = frozenset({"dense"})
    index_type = SampledIndex

    def __init__(self, keep: float = 0.5) -> None:
        self.keep = keep

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        return SampledIndex(data, metric, self.keep)


class SampledPlugin:
    @hookimpl
    def register_slab_builders(self):
        return [SampledBuilder]


PLUGINS = [SampledPlugin()]


def tiny_config(tmp_path, engines=None, workloads=None) -> dict[str, Any]:
    return {
        "name": "tiny",
        "k": 5,
        "filters": ["none", "tag@*"],
        "cache_dir": str(tmp_path / "cache"),
        "warmup": 2,
        "datasets": [{"name": "clustered", "n": 600, "dim": 8, "n_queries": 20, "selectivities": [0.5, 0.05]},
                     {"name": "sparse-zipf", "n": 300, "vocabulary": 500, "n_queries": 10}],
        "engines": engines or [
            {"name": "exact"},
            {"name": "sampled", "build": {"keep": [0.3, 1.0]}, "query": [{}, {"limit": 100}]},
            {"name": "not-installed-engine"},
        ],
        "workloads": workloads or [
            {"name": "queries"},
            {"name": "stream", "kind": "runbook", "runbook": "streaming", "batches": 3, "memtable_max_records": 60,
             "merge_fanout": 2, "n_queries": 8, "datasets": ["clustered"]},
        ],
    }


@pytest.fixture(scope="module")
def serial_results(tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("serial")
    return bench.run(tiny_config(tmp), serial=True, progress=False, plugins=PLUGINS)


def test_serial_sweep_rows(serial_results):
    r = serial_results
    assert (r["error"] == "").all(), r.loc[r["error"] != "", "error"].tolist()
    queries = r[r["workload"] == "queries"]
    dense = queries[queries["vector_type"] == "dense"]
    # exact: 3 filters; sampled: 2 builds x 2 query sets x 3 filters; sparse: exact, unfiltered
    assert len(dense[dense["engine"] == "exact"]) == 3 and len(dense[dense["engine"] == "sampled"]) == 12
    assert len(queries[queries["vector_type"] == "sparse"]) == 1
    assert set(dense["filter"]) == {"none", "tag@0.5", "tag@0.05"}
    assert (queries.loc[queries["engine"] == "exact", "recall_mean"] == 1.0).all()
    assert (r.loc[r["label"] == "sampled(keep=1.0)", "recall_mean"] == 1.0).all()
    low = dense[(dense["build"] == "sampled(keep=0.3)") & (dense["filter"] == "none")]
    assert (low["recall_mean"] < 0.8).all()
    for column in ("latency_p50_ms", "latency_p99_ms", "qps", "build_seconds", "write_units_per_upsert",
                   "distance_computations_per_query", "bytes_scanned_per_query", "namespace_bytes"):
        assert (dense[column] > 0).all(), column
    assert (queries["latency_p99_ms"] >= queries["latency_p50_ms"]).all()
    assert (queries["read_units_per_query"] == 0.25).all()  # tiny namespaces pay the minimum
    narrow = dense[dense["filter"] == "tag@0.05"]
    assert narrow["selectivity"].between(0.03, 0.07).all()


def test_skipped_engines_are_reported(serial_results):
    skipped = serial_results.attrs["skipped"]
    assert any(s["engine"] == "not-installed-engine" and "not installed" in s["reason"] for s in skipped)
    assert any(s["engine"] == "sampled" and "sparse" in s["reason"] for s in skipped)


def test_runbook_rows_and_timeline(serial_results):
    runs = serial_results[serial_results["workload"] == "stream"]
    assert len(runs) == 3  # exact, sampled x 2 builds; first query set only
    assert (runs["flushes"] > 0).all() and (runs["merges"] > 0).all()
    assert (runs.loc[runs["engine"] == "exact", "recall_mean"] == 1.0).all()
    assert (runs["write_units_per_delete"] > 0).all()
    timeline = bench.timeline_frame(serial_results)
    assert {"query", "search", "flush", "merge", "insert", "delete", "compact"} <= set(timeline["kind"])
    searches = timeline[(timeline["kind"] == "search") & (timeline["engine"] == "exact")]
    # 3 batches of 200; a quarter of batches 0 and 1 deleted
    assert searches["live_rows"].tolist() == [200, 400, 350, 550, 500, 500]


def test_sweep_on_a_local_dask_cluster_matches_serial(tmp_path, serial_results):
    engines = [{"name": "exact"}, {"name": "sampled", "build": {"keep": [0.3]}}]
    config = tiny_config(tmp_path, engines=engines, workloads=[{"name": "queries"}])
    results = bench.run(config, workers=2, progress=False, plugins=PLUGINS)
    assert results.attrs["environment"]["executor"].startswith("LocalCluster")
    assert (results["error"] == "").all()
    merged = results.merge(serial_results, on="run_id", suffixes=("", "_serial"))
    assert len(merged) == len(results) == 7  # 3 exact + 3 sampled on clustered, 1 exact on sparse-zipf
    assert np.allclose(merged["recall_mean"], merged["recall_mean_serial"])


@pytest.mark.skipif("annoy" not in toolkit.Client().builders(), reason="the annoy engine is not installed")
def test_annoy_on_a_local_dask_cluster(tmp_path):
    config = tiny_config(tmp_path, engines=[{"name": "annoy", "build": {"n_trees": 5},
                                             "query": {"search_k": [10, 2000]}}], workloads=[{"name": "queries"}])
    config["datasets"] = config["datasets"][:1]
    config["filters"] = ["none"]
    results = bench.run(config, workers=1, progress=False)
    assert (results["error"] == "").all()
    by_k = results.set_index(results["query_params"].map(lambda p: p["search_k"]))["recall_mean"]
    assert by_k[2000] >= by_k[10] and by_k[2000] > 0.9


def test_unknown_build_parameter_names_the_key(tmp_path):
    config = tiny_config(tmp_path, engines=[{"name": "exact"}, {"name": "sampled", "build": {"kep": 0.3}}])
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        bench.run(config, serial=True, progress=False, plugins=PLUGINS)
    assert info.value.path == "engines[1].build.kep"


def test_unknown_query_parameter_names_the_key(tmp_path):
    config = tiny_config(tmp_path, engines=[{"name": "sampled", "query": [{"limit": 5}, {"nprobe": 3}]}])
    with pytest.raises(toolkit.InvalidArgumentError) as info:
        bench.run(config, serial=True, progress=False, plugins=PLUGINS)
    assert info.value.path == "engines[0].query[1].nprobe"


def test_a_failing_build_becomes_an_error_row(tmp_path):
    config = tiny_config(tmp_path, engines=[{"name": "sampled", "build": {"keep": "lots"}}],
                         workloads=[{"name": "queries"}])
    config["datasets"] = config["datasets"][:1]
    results = bench.run(config, serial=True, progress=False, plugins=PLUGINS)
    assert len(results) == 1 and "TypeError" in results["error"].iloc[0]


def test_report_writes_html_markdown_plots_and_data(serial_results, tmp_path):
    folder = bench.report(serial_results, tmp_path / "reports", timestamp="t0")
    assert folder == tmp_path / "reports" / "t0"
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "Headline" in page and "<table>" in page
    summary = (folder / "summary.md").read_text()
    assert "| dataset | engine | configuration |" in summary and "not-installed-engine" in summary
    assert "clustered (600 × 8)" in summary and "QPS min–max" in summary and "medians over 3 repeats" in summary
    for section in ("One-time compile, apart from build time", "How true work is counted", "Environment"):
        assert f"## {section}" in summary and section.split(",")[0] in page, section
    for package in ("numpy", "scipy", "annoy", "pynndescent", "numba"):
        assert f"| {package} | " in summary, package
    env = serial_results.attrs["environment"]
    assert "git commit" in summary and (env["git_commit"] is None or env["git_commit"][:12] in summary)
    assert env["python"] in summary and ("| blas: " in summary) == bool(env["blas"])
    for name in ("pareto", "selectivity", "read_units", "runbook"):
        assert (folder / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = pd.read_parquet(folder / "results.parquet")
    assert len(saved) == len(serial_results) and set(saved["run_id"]) == set(serial_results["run_id"])
    assert len(pd.read_csv(folder / "timeline.csv")) == len(serial_results.attrs["timeline"])
    assert "[[datasets]]" in (folder / "sweep.toml").read_text()


def test_headline_picks_the_fastest_configuration_reaching_the_target(serial_results):
    table = bench.headline(serial_results)
    dense = table[table["dataset"].str.startswith("clustered")]
    assert set(dense["engine"]) == {"exact", "sampled"}
    assert (dense["recall@k"] >= 0.9).all()
    assert "| dataset |" in bench.markdown_table(table)


def test_plots_return_figures(serial_results):
    from matplotlib.figure import Figure

    for plot in (bench.plot_pareto, bench.plot_selectivity, bench.plot_read_units, bench.plot_runbook):
        assert isinstance(plot(serial_results), Figure)


def test_cli_help_and_datasets():
    done = subprocess.run([sys.executable, "-m", "toolkit", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "report" in done.stdout and "datasets" in done.stdout
    done = subprocess.run([sys.executable, "-m", "toolkit", "datasets"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "clustered" in done.stdout and "python-docs" in done.stdout


def test_cli_report_with_a_config_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VECTOR_TOOLKIT_CACHE", str(tmp_path / "cache"))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('name = "cli"\nk = 5\nwarmup = 0\n[[datasets]]\nname = "digits"\nn_queries = 20\n'
                     '[[engines]]\nname = "exact"\n')
    code = main(["report", "--config", str(sweep), "--no-dask", "--no-progress", "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| digits (1,777 × 64) | exact | exact() |" in out
    (folder,) = (tmp_path / "out").iterdir()
    assert (folder / "report.html").is_file() and (folder / "summary.md").is_file()


def test_cli_report_rejects_a_bad_config(tmp_path, capsys):
    sweep = tmp_path / "bad.toml"
    sweep.write_text('[[datasets]]\nname = "digits"\n[[engines]]\nname = "exact"\nbuild = { x = 1 }\n')
    assert main(["report", "--config", str(sweep), "--no-dask", "--out", str(tmp_path)]) == 2
    assert "engines[0].build.x" in capsys.readouterr().err


def test_an_eventual_runbook_measures_staleness(tmp_path):
    steps = [{"op": "insert", "end": 0.5}, {"op": "search"}, {"op": "insert", "start": 0.5, "end": 1.0},
             {"op": "search"}, {"op": "flush"}, {"op": "search"}]
    workloads = [{"name": "fresh", "kind": "runbook", "steps": steps, "consistency": "eventual",
                  "apply_delay": 0.5, "background_merges": False, "memtable_max_records": 100},
                 {"name": "strong", "kind": "runbook", "steps": steps, "memtable_max_records": 100}]
    config = tiny_config(tmp_path, engines=[{"name": "exact"}], workloads=workloads)
    config["datasets"] = config["datasets"][:1]
    results = bench.run(config, serial=True, progress=False).set_index("workload")
    assert results.loc["strong", "stale_share"] == 0 and results.loc["strong", "recall_mean"] == 1.0
    # writes become visible 0.5 s after their ack: the first queries after each insert miss them
    assert results.loc["fresh", "stale_share"] > 0 and results.loc["fresh", "recall_mean"] < 1.0
