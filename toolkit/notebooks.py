"""Execute the notebooks and publish them as HTML, leaving the committed copies without outputs.

``python -m toolkit notebooks`` runs every ``notebooks/*.ipynb`` of the checkout top to
bottom (in memory, with a kernel on this interpreter, each in a scratch working directory)
and writes ``reports/notebooks-<timestamp>/<name>.html`` plus an ``index.html`` that links
them. Needs the ``[notebooks]`` extra (nbclient, nbconvert, ipykernel).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from .errors import InvalidArgumentError

log = logging.getLogger(__name__)
HELP = "execute the notebooks and render them to HTML (reports/notebooks-<timestamp>/)"
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL_NAME = "vector-toolkit-publish"


@dataclass(frozen=True)
class Published:
    """One executed notebook: where its HTML went, how long it ran, and the error if a cell failed."""

    notebook: Path
    html: Path
    seconds: float
    images: int
    error: str = ""


def _kernel_manager(spec_dir: Path) -> Any:
    """Return a kernel manager whose kernel runs on this interpreter (whatever kernels the machine has)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    folder = spec_dir / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (vector-toolkit)", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")])
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def execute(path: Path, timeout: int = 900) -> tuple[Any, str]:
    """Run a notebook in memory (the file is not changed); return it with its outputs and any error."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="vt-notebook-") as scratch:
        client = nbclient.NotebookClient(nb, km=_kernel_manager(Path(scratch) / "jupyter"), timeout=timeout,
                                         allow_errors=False, resources={"metadata": {"path": scratch}})
        try:
            client.execute(env={**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
        except nbclient.exceptions.CellExecutionError as exc:
            return nb, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return nb, ""


def count_images(nb: Any) -> int:
    """Return how many image outputs the notebook's code cells hold."""
    return sum(1 for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
               if "image/png" in out.get("data", {}))


def render_html(nb: Any, target: Path) -> Path:
    """Render an executed notebook to one self-contained HTML file (images inline)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def publish(notebooks: Sequence[Path], out_dir: Path, timeout: int = 900, progress: bool = True) -> list[Published]:
    """Execute each notebook and write its HTML into ``out_dir`` with an ``index.html``; return what was done."""
    done = []
    for path in tqdm(list(notebooks), desc="notebooks", unit="nb", disable=not progress):
        started = time.perf_counter()
        nb, error = execute(path, timeout)
        target = render_html(nb, out_dir / f"{path.stem}.html")
        done.append(Published(path, target, time.perf_counter() - started, count_images(nb), error))
        log.info("%s: %.0f s, %d image(s)%s", path.name, done[-1].seconds, done[-1].images,
                 f", failed: {error}" if error else "")
    rows = "".join(
        f"<tr><td><a href='{html.escape(p.html.name)}'>{html.escape(p.notebook.stem)}</a></td>"
        f"<td>{p.seconds:.0f} s</td><td>{p.images}</td><td>{html.escape(p.error) or 'ok'}</td></tr>" for p in done)
    (out_dir / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Executed notebooks</title></head><body>"
        "<h1>Executed notebooks</h1><table border='1' cellpadding='4'><tr><th>notebook</th><th>ran in</th>"
        f"<th>images</th><th>status</th></tr>{rows}</table></body></html>", encoding="utf-8")
    return done


def find_notebooks(folder: Path, only: Sequence[str] = ()) -> list[Path]:
    """Return the notebooks of ``folder`` (those whose name starts with one of ``only``, if given)."""
    if not folder.is_dir():
        raise InvalidArgumentError(f"no notebooks folder at {folder} (the notebooks ship with a checkout of the "
                                   "repository, not with the installed package)", path="--notebooks-dir")
    paths = sorted(folder.glob("*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.stem.startswith(prefix) for prefix in only)]
    if not paths:
        raise InvalidArgumentError(f"no notebook in {folder} matches {list(only) or '*.ipynb'}", path="--only")
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="reports", help="folder that receives notebooks-<timestamp>/ (default: reports)")
    parser.add_argument("--only", nargs="*", default=[], metavar="PREFIX", help="only notebooks starting so, e.g. 02")
    parser.add_argument("--notebooks-dir", default=str(NOTEBOOK_DIR), help="where the .ipynb files are")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default: 900)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from .errors import ToolkitError

    try:
        paths = find_notebooks(Path(args.notebooks_dir), args.only)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out) / f"notebooks-{time.strftime('%Y%m%d-%H%M%S')}"
    done = publish(paths, out_dir, args.timeout, args.progress)
    for p in done:
        print(f"{p.notebook.stem}: {p.seconds:.0f} s, {p.images} image(s){' FAILED: ' + p.error if p.error else ''}")
    print(f"index: {out_dir / 'index.html'}")
    return 1 if any(p.error for p in done) else 0
