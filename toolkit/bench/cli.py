"""Run a benchmark sweep and write an HTML report + Markdown summary into reports/<timestamp>/.

With no options this is the default comparison: every installed engine (exact, annoy,
nndescent; sparse_csr on the sparse dataset) on the bundled datasets, query-only and a
streaming runbook. A sweep is a TOML file (--config sweep.toml) or a bundled sweep name
(default, quick).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

HELP = "run a benchmark sweep and write an HTML report (the default comparison without options)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="default", help="sweep TOML file or bundled sweep name (default: default)")
    parser.add_argument("--out", default="reports", help="folder that receives <timestamp>/ (default: reports)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="tcp://host:port", help="run the tasks on this Dask cluster")
    group.add_argument("--no-dask", "--serial", dest="serial", action="store_true",
                       help="run the tasks one by one in this process (debugging)")
    parser.add_argument("--workers", type=int, default=None,
                        help="threads of the in-process Dask cluster (default: half the CPUs; >1 disturbs latencies)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    parser.add_argument("--notebooks", action="store_true",
                        help="also execute notebooks/*.ipynb and render them to <report>/notebooks/*.html "
                             "(needs the [notebooks] extra)")


def run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..errors import ToolkitError
    from .report import report
    from .sweep import numba_cache, run as run_sweep
    from .tables import headline, markdown_table

    numba_cache()
    log = logging.getLogger("toolkit.bench")
    if not logging.getLogger().isEnabledFor(logging.INFO):
        log.setLevel(logging.INFO)  # say which engines were skipped, and why
    started = time.perf_counter()
    try:
        with logging_redirect_tqdm():  # log lines go above the progress bars, not through them
            results = run_sweep(args.config, scheduler=args.scheduler, serial=args.serial, workers=args.workers,
                                progress=args.progress)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = report(results, args.out)
    print(markdown_table(headline(results)))
    failed = int((results["error"] != "").sum())
    print(f"\n{len(results)} runs{f' ({failed} failed)' if failed else ''} in {time.perf_counter() - started:.0f} s")
    print(f"report: {folder / 'report.html'}\nsummary: {folder / 'summary.md'}")
    code = 1 if failed and failed == len(results) else 0
    if args.notebooks:
        from .. import notebooks

        published = notebooks.publish(notebooks.find_notebooks(notebooks.NOTEBOOK_DIR), folder / "notebooks",
                                      progress=args.progress)
        broken = [p.notebook.stem for p in published if p.error]
        print(f"notebooks: {folder / 'notebooks' / 'index.html'}" + (f" (failed: {', '.join(broken)})" if broken else ""))
        code = code or (1 if broken else 0)
    return code
