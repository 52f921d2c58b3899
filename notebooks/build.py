"""Write the notebooks in this folder from the cell lists in notebooks/src/*.py, without outputs.

Run ``python notebooks/build.py`` after editing a source file; every ``.ipynb`` here is
generated (no outputs, no execution counts) so diffs stay reviewable. A source file is a
Python module defining ``CELLS``: a list of ``("md" | "code", text)`` pairs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def build(source: Path) -> Path:
    spec = importlib.util.spec_from_file_location(source.stem, source)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for number, (kind, text) in enumerate(module.CELLS):
        text = text.strip("\n")
        cell = nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        cell.id = f"cell-{number:02d}"  # stable ids: regenerating changes nothing
        nb.cells.append(cell)
    nbformat.validate(nb)
    target = HERE / f"{source.stem}.ipynb"
    nbformat.write(nb, target)
    return target


def main(argv: list[str]) -> None:
    sources = [Path(a) for a in argv] or sorted((HERE / "src").glob("[0-9]*.py"))
    for source in sources:
        print(build(source.resolve()).relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
