"""Reports: a self-contained HTML page (tables + base64 PNG plots) and a Markdown summary.

``report(results)`` writes into ``reports/<timestamp>/``: ``report.html``, ``summary.md``,
``plots/*.png``, ``results.parquet``/``.csv``, ``timeline.parquet``/``.csv`` and the sweep as
``sweep.toml``; it returns that folder.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .config import to_toml
from .metrics import METRICS
from .plots import plot_pareto, plot_read_units, plot_runbook, plot_selectivity
from .sweep import save_results
from .tables import (RECALL_TARGET, dataset_labels, headline, headline_labels, markdown_table, plain, query_rows,
                     spread_range, winners)

PLOTS = (
    ("pareto", "Recall vs QPS", plot_pareto,
     "Each engine's Pareto frontier over its build × query parameters, unfiltered queries."),
    ("selectivity", "Filtered search", plot_selectivity,
     "Recall and median latency as filters let fewer records through (each engine's headline configuration)."),
    ("read_units", "Billed read units vs true work", plot_read_units,
     "The read-unit formula bills max(0.25, namespace GB) per query whatever the engine; the bytes an engine "
     "really scans per query tell the engines apart."),
    ("runbook", "Runbooks: latency through writes, flushes and merges", plot_runbook,
     "Each dot is one query; dashed green lines are memtable flushes, shaded spans the slab builds and merges "
     "(red lines where a merge swapped in), orange the recall of each search step against the records live at "
     "that moment."),
)
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}td.num{text-align:right}img{max-width:100%;border:1px solid #eee}
.meta{color:#666;font-size:.85em}pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}
"""


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _html_table(frame: pd.DataFrame) -> str:
    from .tables import _format

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            value = row[c]
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f"<td class='num'>{html.escape(_format(value))}</td>" if numeric
                         else f"<td>{html.escape(_format(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _details_columns(results: pd.DataFrame) -> list[str]:
    wanted = ["dataset", "label", "filter", "selectivity", "workload", "repeats", "recall_mean", "recall_p10", "qps",
              "qps_min", "qps_max", "latency_p50_ms", "latency_p50_ms_min", "latency_p50_ms_max", "latency_p95_ms",
              "latency_p99_ms", "build_seconds", "build_seconds_min", "build_seconds_max", "first_build_seconds",
              "compile_seconds", "index_bytes",
              "read_units_per_query", "write_units_per_upsert", "distance_computations_per_query",
              "bytes_scanned_per_query", "flushes", "merges", "error"]
    return [c for c in wanted if c in results.columns and (c == "dataset" or results[c].notna().any())]


def report(results: pd.DataFrame, out_dir: str | Path = "reports", *, title: str | None = None,
           timestamp: str | None = None) -> Path:
    """Write the HTML report, Markdown summary, plots and data of a results frame; return the folder."""
    stamp = timestamp or time.strftime("%Y%m%d-%H%M%S")
    folder = Path(out_dir) / stamp
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    config = results.attrs.get("config") or {}
    env = results.attrs.get("environment") or {}
    skipped = results.attrs.get("skipped") or []
    title = title or f"Benchmark report — {config.get('name', 'sweep')}"
    save_results(results, folder)
    if config:
        (folder / "sweep.toml").write_text(to_toml(config))

    table = headline(results)
    frame = plain(results)  # plots get ``results`` (they read the timeline); tables the plain frame
    k = int(frame["k"].dropna().iloc[0]) if frame["k"].notna().any() else 10
    images = []
    for key, heading, plot, caption in PLOTS:
        png = figure_png(plot(results))
        (folder / "plots" / f"{key}.png").write_bytes(png)
        images.append((key, heading, caption, base64.b64encode(png).decode("ascii")))
    errors = frame[frame["error"] != ""]

    seconds = env.get("seconds")
    repeats = config.get("repeats") or "?"
    commit = env.get("git_commit")
    meta = (f"{stamp} · {env.get('executor', '')} · {env.get('cpus', '?')} CPUs · Python {env.get('python', '?')}"
            + (f" · commit {str(commit)[:12]}{'-dirty' if str(commit).endswith('-dirty') else ''}" if commit else "")
            + (f" · sweep ran in {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""))
    sentences = winners(results)
    compile_table = _compile_table(results)
    work = _work_counting(results)
    versions = _environment_table(env)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p class='meta'>{html.escape(meta)}</p>"]
    if config.get("description"):
        parts.append(f"<p>{html.escape(config['description'])}</p>")
    parts.append(f"<h2>Headline</h2><p>{html.escape(_headline_text(k, repeats))}</p>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>")
    parts.append(_html_table(table))
    parts.append(f"<h2>One-time compile, apart from build time</h2><p>{html.escape(_COMPILE_TEXT)}</p>"
                 + _html_table(compile_table))
    for key, heading, caption, data in images:
        parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(caption)}</p>"
                     f"<img alt='{key}' src='data:image/png;base64,{data}'>")
    if skipped:
        parts.append("<h2>Skipped</h2>" + _html_table(pd.DataFrame(skipped)))
    if len(errors):
        parts.append("<h2>Errors</h2>" + _html_table(errors[["run_id", "error"]]))
    parts.append("<h2>All runs</h2><details><summary>"
                 f"{len(frame)} rows (also in results.parquet / results.csv)</summary>"
                 + _html_table(frame[_details_columns(frame)].assign(dataset=frame["dataset"].map(
                     lambda name: dataset_labels(results).get(name, name)))) + "</details>")
    metrics = pd.DataFrame([{"metric": m.name, "unit": m.unit, "better": m.direction, "meaning": m.description}
                            for m in METRICS])
    parts.append("<h2>How each number is measured</h2>" + _html_table(metrics))
    parts.append(f"<h3>How true work is counted</h3><p>{html.escape(_WORK_TEXT)}</p>" + _html_table(work))
    parts.append("<h2>Environment</h2>" + _html_table(versions))
    parts.append("<h2>Sweep</h2><pre>" + html.escape(to_toml(config) if config else "")
                 + "</pre><details><summary>environment as JSON</summary><pre>"
                 + html.escape(json.dumps(env, indent=2, default=str)) + "</pre></details></body></html>")
    (folder / "report.html").write_text("".join(parts), encoding="utf-8")

    md = [f"# {title}", "", meta, "", f"## Headline (recall@{k} ≥ {RECALL_TARGET}, fastest configuration)", "",
          _headline_text(k, repeats), ""] + [f"- {s}" for s in sentences] + ["", markdown_table(table), "",
          "## One-time compile, apart from build time", "", _COMPILE_TEXT, "", markdown_table(compile_table), ""]
    filtered = query_rows(results, filter_name=None)
    if (filtered["filter"] != "none").any():
        md += ["## Filtered queries (mean over the configurations in the headline)", "",
               markdown_table(_filtered_summary(results, table)), ""]
    md += ["## Plots", ""] + [f"- [{heading}](plots/{key}.png)" for key, heading, _, _ in images] + [""]
    if skipped:
        md += ["## Skipped", ""] + [f"- {s['engine']} on {s['dataset']}: {s['reason']}" for s in skipped] + [""]
    if len(errors):
        md += ["## Errors", ""] + [f"- {r}: {e}" for r, e in zip(errors["run_id"], errors["error"])] + [""]
    md += ["## How true work is counted", "", _WORK_TEXT, "", markdown_table(work), "",
           "## Environment", "", markdown_table(versions), ""]
    md += ["Files: report.html, results.parquet, results.csv, timeline.parquet, timeline.csv, sweep.toml", ""]
    (folder / "summary.md").write_text("\n".join(md), encoding="utf-8")
    return folder


def _filtered_summary(results: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    rows = query_rows(results, filter_name=None)
    chosen = set(headline_labels(results).items())
    rows = rows[[((d, e), c) in chosen for d, e, c in zip(rows["dataset"], rows["engine"], rows["label"])]]
    rows = rows.assign(dataset=rows["dataset"].map(dataset_labels(results)))
    rows = rows.assign(bucket=rows["filter"].str.split("@").str[-1].where(rows["filter"] != "none", "1 (none)"))
    out = rows.groupby(["dataset", "engine", "bucket"], sort=False).agg(
        selectivity=("selectivity", "mean"), recall=("recall_mean", "mean"), p50_ms=("latency_p50_ms", "mean"),
        distances=("distance_computations_per_query", "mean")).reset_index()
    return out.sort_values(["dataset", "engine", "selectivity"], ascending=[True, True, False]).rename(
        columns={"bucket": "selectivity bucket", "recall": "recall@k", "p50_ms": "p50 ms",
                 "distances": "distances/query"})


_COMPILE_TEXT = ("An engine's one-time per-process cost (numba's JIT compile for PyNNDescent, or its load from "
                 "numba's on-disk cache) is paid by warm_up() before anything is timed, and shown here, not in the "
                 "build time. The first build of each index is an untimed warm-up too (it may still compile a "
                 "kernel); build s is the median of the timed rebuilds that follow.")
_WORK_TEXT = ("distances/query and bytes scanned/query come from the engine's own count of its work per query, "
              "as it reports it to the usage ledger; each engine says below how it counts.")


def _headline_text(k: int, repeats: object) -> str:
    return (f"Per dataset and engine: the unfiltered configuration with the highest median QPS among those with "
            f"recall@{k} ≥ {RECALL_TARGET} (or, failing that, the best recall). Timings are medians over {repeats} "
            f"repeats (timed builds; passes over the queries) with their min–max range; one engine is called faster "
            f"than another only when their QPS ranges do not overlap, otherwise the verdict is a tie within spread. "
            f"Index MB excludes the vectors.")


def _compile_table(results: pd.DataFrame) -> pd.DataFrame:
    """Return per engine its one-time compile, and per build its warm-up build beside the timed ones."""
    frame = plain(results)
    if "build_seconds_min" not in frame:  # results saved before repeats were measured
        frame = frame.assign(build_seconds_min=float("nan"), build_seconds_max=float("nan"))
    frame = frame[(frame["error"] == "") & frame["build_seconds"].notna() & frame["workload"].notna()
                  & ~frame["workload"].isin(_runbooks(results))]
    compile_seconds = results.attrs.get("compile_seconds") or {}
    labels = dataset_labels(results)
    rows = []
    for engine in dict.fromkeys(list(compile_seconds) + list(frame["engine"])):
        once = round(float(compile_seconds.get(engine, float("nan"))), 3)
        builds = frame[frame["engine"] == engine].drop_duplicates(["dataset", "build"])
        if builds.empty:
            rows.append({"engine": engine, "compile s (once per process)": once})
        for _, build in builds.iterrows():
            rows.append({"engine": engine, "compile s (once per process)": once,
                         "dataset": labels.get(build["dataset"], build["dataset"]), "build": build["build"],
                         "warm-up build s": build.get("first_build_seconds", float("nan")),
                         "timed build s (median)": build["build_seconds"],
                         "min–max": spread_range(build["build_seconds_min"], build["build_seconds_max"])})
    return pd.DataFrame(rows, columns=["engine", "compile s (once per process)", "dataset", "build",
                                       "warm-up build s", "timed build s (median)", "min–max"])


def _work_counting(results: pd.DataFrame) -> pd.DataFrame:
    """Return what each engine says about how its true work is counted (its ``work_counting`` attribute)."""
    described = results.attrs.get("work_counting") or {}
    engines = list(dict.fromkeys(list(described) + list(plain(results)["engine"].dropna())))
    rows = []
    for engine in engines:
        text = described.get(engine)
        if isinstance(text, dict):
            text = "; ".join(f"{key}: {value}" for key, value in text.items())
        rows.append({"engine": engine, "how its work is counted": str(text) if text else
                     "not described by the engine (its work_counting attribute is unset)"})
    return pd.DataFrame(rows, columns=["engine", "how its work is counted"])


def _environment_table(env: dict) -> pd.DataFrame:
    """Return the environment as (what, version) rows: Python, packages, BLAS, machine and commit."""
    rows = [("python", env.get("python", "?")), ("platform", env.get("platform", "?")),
            ("cpus", str(env.get("cpus", "?"))), ("git commit", env.get("git_commit") or "not a git checkout")]
    for key, when in (("load_average_start", "start"), ("load_average", "end")):
        if env.get(key):
            rows.append((f"load average (1, 5, 15 min) at the {when}", ", ".join(map(str, env[key]))))
    rows += [(name, version) for name, version in (env.get("packages") or {}).items()]
    for blas in env.get("blas") or []:
        rows.append((f"{blas.get('user_api', 'blas')}: {blas.get('internal_api', '?')}",
                     f"{blas.get('version', '?')} ({blas.get('num_threads', '?')} threads"
                     + (f", {blas['architecture']}" if blas.get("architecture") else "") + ")"))
    return pd.DataFrame(rows, columns=["what", "version"])


def _runbooks(results: pd.DataFrame) -> set[str]:
    config = results.attrs.get("config") or {}
    return {w["name"] for w in config.get("workloads", []) if w.get("kind") == "runbook"}
