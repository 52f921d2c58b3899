"""Benchmarks: sweeps as data, Dask-distributed runs, typed metrics, plots and reports.

A short tour::

    from toolkit import bench
    results = bench.run("quick", serial=True)          # or a dict / TOML path; -> pandas.DataFrame
    bench.headline(results)                            # fastest config with recall@k >= 0.9, per engine
    bench.plot_pareto(results)                         # a matplotlib Figure
    bench.report(results, "reports")                   # reports/<timestamp>/report.html + summary.md

``python -m toolkit report`` runs the bundled default sweep and writes the report.
"""

from .config import DatasetConfig, EngineSweep, Step, SweepConfig, WorkloadConfig, streaming_runbook
from .metrics import METRICS, Metric, pareto_frontier, percentile, query_summary, recall_at_k
from .plots import plot_pareto, plot_read_units, plot_runbook, plot_selectivity
from .report import report
from .runner import Task, run_task
from .sweep import plan, run, save_results, timeline_frame
from .tables import headline, markdown_table

__all__ = [
    "run",
    "report",
    "plot_pareto",
    "plot_selectivity",
    "plot_read_units",
    "plot_runbook",
    "headline",
    "markdown_table",
    "timeline_frame",
    "save_results",
    "plan",
    "run_task",
    "Task",
    "SweepConfig",
    "DatasetConfig",
    "EngineSweep",
    "WorkloadConfig",
    "Step",
    "streaming_runbook",
    "Metric",
    "METRICS",
    "recall_at_k",
    "percentile",
    "query_summary",
    "pareto_frontier",
]
