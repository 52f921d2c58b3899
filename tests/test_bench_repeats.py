"""Repeats, warm-up and compile time: what the harness times, how often, and what it leaves out.

A counting engine records every build, warm-up and search, so the tests check the protocol
(one untimed warm-up build, then ``repeats`` timed rebuilds; ``repeats`` passes over the
queries) rather than any speed. Its warm-up sleeps, standing in for a JIT compile.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import pytest

from toolkit import InvalidArgumentError, bench
from toolkit.cli import main
from toolkit.plugin import ExactKernel, Query, SearchResult, SlabBuilder, SlabData, SlabIndex, hookimpl

COMPILE_SECONDS = 0.3


class CountingIndex(SlabIndex):
    def __init__(self, data: SlabData, metric: str) -> None:
        self.dense, self.metric = data.dense, metric

    def search_one(self, query: Query, k: int, allowed: np.ndarray | None, params: Any) -> SearchResult:
        CountingBuilder.searches += 1
        found = ExactKernel(self.metric, self.dense).search(query, k, allowed)
        return SearchResult(found.rows, found.scores, len(self.dense), self.dense.nbytes)


class CountingBuilder(SlabBuilder):
    """Exact search that counts its builds, warm-ups and searches; building takes ``pause`` seconds."""

    name = "counting"
    vector_types = frozenset({"dense"})
    index_type = CountingIndex
    work_counting = "rows scanned by one exact pass (a test engine)"
    builds: ClassVar[int] = 0
    warm_ups: ClassVar[int] = 0
    searches: ClassVar[int] = 0

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause

    @classmethod
    def warm_up(cls) -> None:
        cls.warm_ups += 1
        if cls.warm_ups == 1:  # a compile happens once per process
            time.sleep(COMPILE_SECONDS)

    def build(self, data: SlabData, metric: str) -> SlabIndex:
        CountingBuilder.builds += 1
        time.sleep(self.pause)
        return CountingIndex(data, metric)


class CountingPlugin:
    @hookimpl
    def register_slab_builders(self):
        return [CountingBuilder]


def config(tmp_path, repeats: int | None, pause: float = 0.0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": "repeats", "k": 5, "filters": ["none"], "warmup": 2, "cache_dir": str(tmp_path / "cache"),
        "datasets": [{"name": "clustered", "n": 300, "dim": 8, "n_queries": 10, "selectivities": [0.5]}],
        "engines": [{"name": "counting", "build": {"pause": pause}}], "workloads": [{"name": "queries"}],
    }
    if repeats is not None:
        out["repeats"] = repeats
    return out


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    CountingBuilder.builds = CountingBuilder.warm_ups = CountingBuilder.searches = 0


def test_three_repeats_by_default_with_a_warm_up_build_and_compile_apart(tmp_path) -> None:
    results = bench.run(config(tmp_path, None), serial=True, progress=False, plugins=[CountingPlugin()])
    (row,) = results.to_dict("records")
    assert row["error"] == "" and row["repeats"] == 3
    assert CountingBuilder.builds == 1 + 3  # one untimed warm-up build, three timed rebuilds
    assert CountingBuilder.searches == 2 + 3 * 10  # warm-up queries once, then three passes
    assert row["build_seconds_min"] <= row["build_seconds"] <= row["build_seconds_max"]
    assert row["qps_min"] <= row["qps"] <= row["qps_max"]
    assert row["latency_p50_ms_min"] <= row["latency_p50_ms"] <= row["latency_p50_ms_max"]
    assert row["compile_seconds"] >= COMPILE_SECONDS  # measured once, before anything is timed ...
    assert row["build_seconds_max"] < COMPILE_SECONDS  # ... and never inside a build
    assert round(results.attrs["compile_seconds"]["counting"], 3) == row["compile_seconds"]
    assert results.attrs["work_counting"] == {"counting": CountingBuilder.work_counting}
    summary = (bench.report(results, tmp_path / "reports", timestamp="t") / "summary.md").read_text()
    assert f"| counting | {CountingBuilder.work_counting} |" in summary
    assert "| counting | 0.3" in summary  # the compile table: compile seconds apart from the builds


def test_repeats_is_configurable_and_validated(tmp_path) -> None:
    results = bench.run(config(tmp_path, 1), serial=True, progress=False, plugins=[CountingPlugin()])
    assert CountingBuilder.builds == 2 and CountingBuilder.searches == 2 + 10
    row = results.iloc[0]
    assert row["qps_min"] == row["qps"] == row["qps_max"]
    with pytest.raises(InvalidArgumentError) as info:
        bench.SweepConfig.load(config(tmp_path, 0))
    assert getattr(info.value, "path", None) == "repeats"
    assert bench.SweepConfig.load(config(tmp_path, 5)).to_dict()["repeats"] == 5


def _bars(err: str) -> list[str]:
    return [line for line in err.replace("\r", "\n").splitlines() if "|" in line and "%" in line]


def test_no_progress_silences_every_bar(tmp_path, capfd) -> None:
    # slow builds keep the merge worker busy, which is when the index's compact/rebuild bars draw
    quiet = config(tmp_path, 2, pause=0.3)
    bench.run(quiet, serial=True, progress=False, plugins=[CountingPlugin()])
    assert CountingBuilder.builds == 3
    assert not _bars(capfd.readouterr().err)
    bench.run(quiet, serial=True, progress=True, plugins=[CountingPlugin()])  # the same run with bars on ...
    shown = _bars(capfd.readouterr().err)
    assert any(line.lstrip().startswith(("compact bench", "rebuild bench")) for line in shown), shown[:5]


def test_cli_no_progress_reaches_the_sweep(tmp_path, monkeypatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(spec: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise InvalidArgumentError("stop here", path="config")

    monkeypatch.setattr("toolkit.bench.sweep.run", fake_run)
    assert main(["report", "--no-progress", "--no-dask", "--out", str(tmp_path)]) == 2
    assert seen["progress"] is False


def test_cli_report_can_publish_the_notebooks(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("nbconvert")
    pytest.importorskip("ipykernel")
    import nbformat

    from toolkit import notebooks

    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny?"), nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(nb, folder / "01_tiny.ipynb")
    monkeypatch.setattr(notebooks, "NOTEBOOK_DIR", folder)
    monkeypatch.setenv("VECTOR_TOOLKIT_CACHE", str(tmp_path / "cache"))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('name = "nb"\nk = 5\nwarmup = 0\nrepeats = 1\n[[datasets]]\nname = "digits"\nn_queries = 5\n'
                     '[[engines]]\nname = "exact"\n')
    code = main(["report", "--config", str(sweep), "--no-dask", "--no-progress", "--notebooks",
                 "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr()
    (report_folder,) = (tmp_path / "out").iterdir()
    assert "42" in (report_folder / "notebooks" / "01_tiny.html").read_text(encoding="utf-8")
    assert "notebooks/index.html" in capsys.readouterr().out
