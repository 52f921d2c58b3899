"""Every notebook in notebooks/ runs top to bottom, and the committed copies carry no outputs.

The notebooks are executed with nbclient on a kernelspec written to a temporary directory
that points at this interpreter (``sys.executable``), so they see the same installed
toolkit as the tests, whatever kernels the machine has. A code cell that draws (it calls
``plt.show()``, ``plt.subplots(...)``, a ``bench.plot_*`` function or ``display(fig...)``)
must leave an image/png output: a figure that never appears fails the test. With
``VECTOR_TOOLKIT_NOTEBOOK_HTML=<folder>`` (set by .ci/run) each executed notebook is also
rendered to ``<folder>/<name>.html``, so CI publishes readable copies without running twice.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "vector-toolkit-test"
CELL_TIMEOUT = 600  # seconds per cell: numba compiles PyNNDescent on first use
# A call that draws a figure the reader should see (a definition "def plot_x(" is not a call).
DRAWS = re.compile(r"\bplt\.(show|subplots|figure)\(|(?<!def )\bplot_[a-z_]+\(|\bdisplay\(\s*fig")


def cells_missing_images(nb: "nbformat.NotebookNode") -> list[int]:
    """Return the numbers of the code cells that draw but left no image/png output."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and DRAWS.search(cell.source)
            and not any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))]


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Write a kernelspec for the current interpreter and return the environment that finds it."""
    data_dir = tmp_path_factory.mktemp("jupyter-data")
    spec_dir = data_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return {"JUPYTER_PATH": os.pathsep.join(filter(None, [str(data_dir), os.environ.get("JUPYTER_PATH")]))}


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/*.ipynb is empty"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_opens_with_a_question_and_ends_with_a_conclusion(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "?" in nb.cells[0].source, "the first cell states the question"
    assert nb.cells[-1].cell_type == "code", "the last cell prints what the measured numbers show"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        allow_errors=False,  # any cell error fails the test (CellExecutionError)
        resources={"metadata": {"path": str(tmp_path)}},  # notebooks write scratch files here
    )
    client.execute()
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    missing = cells_missing_images(nb)
    assert not missing, f"{path.name}: cells {missing} draw a figure but show no image"
    publish_to = os.environ.get("VECTOR_TOOLKIT_NOTEBOOK_HTML")  # CI keeps the executed notebooks as HTML
    if publish_to and importlib.util.find_spec("nbconvert") is not None:
        from toolkit.notebooks import render_html

        render_html(nb, Path(publish_to) / f"{path.stem}.html")


def test_a_drawing_cell_without_an_image_is_caught() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fig = bench.plot_pareto(results)\nplt.show()"),
                nbformat.v4.new_code_cell("def plot_it(x):\n    return x"),
                nbformat.v4.new_code_cell("display(fig)")]
    assert cells_missing_images(nb) == [0, 2]
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": ""})]
    assert cells_missing_images(nb) == [2]


def test_publish_renders_an_executed_copy_and_leaves_the_notebook_clean(tmp_path: Path) -> None:
    pytest.importorskip("nbconvert")
    from toolkit.notebooks import find_notebooks, publish

    source = tmp_path / "nb" / "01_tiny.ipynb"
    source.parent.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Does it draw?"),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 1])\nplt.show()\n"
                                          "print('the answer', 6 * 7)")]
    nbformat.write(nb, source)
    before = source.read_bytes()
    (done,) = publish(find_notebooks(source.parent, ["01"]), tmp_path / "out", timeout=120, progress=False)
    assert done.error == "" and done.images == 1
    page = done.html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "the answer 42" in page
    assert "01_tiny.html" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert source.read_bytes() == before, "publishing must not write outputs into the notebook"
