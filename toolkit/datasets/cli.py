"""List the registered datasets, or convert them (``python -m toolkit datasets [export|import] ...``).

* ``python -m toolkit datasets`` — every registered dataset with its rows, dimension and metric;
* ``python -m toolkit datasets --load NAME`` — load one (default parameters) and describe it;
* ``python -m toolkit datasets export NAME OUT.hdf5 [-p n=20000 ...] [-k 100]`` — write any
  registered dense dataset as an ann-benchmarks HDF5 file (train/test/neighbors/distances,
  exact ground truth), so results compare with published ann-benchmarks curves;
* ``python -m toolkit datasets import IN.hdf5 OUT_DIR [--layout public|import]`` — the way
  back: an ann-benchmarks file as the reference service's Parquet layout (readable by the
  ``parquet`` dataset and by ``Index.start_import``). ``load_dataset("hdf5", path=...)``
  reads an HDF5 file directly.
"""

from __future__ import annotations

import argparse
import ast
import inspect
from typing import Any

from ..errors import InvalidArgumentError

HELP = "list the registered datasets (rows, dimension, metric) or convert them to/from ann-benchmarks HDF5"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load", metavar="NAME", help="load one dataset (default parameters) and describe it")
    sub = parser.add_subparsers(dest="action", metavar="action")
    export = sub.add_parser("export", help="write a registered dataset as an ann-benchmarks HDF5 file")
    export.add_argument("name", help="a registered dataset, e.g. glove-50")
    export.add_argument("out", help="the .hdf5 file to write")
    export.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a dataset parameter (repeatable), e.g. -p n=20000 -p n_queries=200")
    export.add_argument("-k", type=int, default=100, help="true neighbours stored per query (default 100)")
    back = sub.add_parser("import", help="convert an ann-benchmarks HDF5 file to the Parquet layouts")
    back.add_argument("path", help="the .hdf5 file to read")
    back.add_argument("out", help="the folder to write")
    back.add_argument("--layout", choices=("public", "import"), default="public",
                      help="public-datasets layout (documents + queries, default) or the import layout")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """Return ``{"n": 20000}`` for ``["n=20000"]``; values are Python literals, else strings."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(f"expected KEY=VALUE, got {pair!r}", path="param")
        try:
            value: Any = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        params[key.strip()] = value
    return params


def _value(value: Any) -> str:
    return "?" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def listing() -> list[dict[str, Any]]:
    """Return one row per registered dataset: name, vector type, rows, dimension, metric, description."""
    from .registry import registry

    rows = []
    for name, source in registry().items():
        defaults = source.defaults()
        metric = source.default_metric or (defaults.get("metric") if isinstance(defaults.get("metric"), str) else None)
        rows.append({"name": name, "type": source.vector_type, "rows": source.size, "dimension": source.dimension,
                     "metric": metric, "description": source.description, "parameters": defaults})
    return rows


def run(args: argparse.Namespace) -> int:
    from .hdf5 import save_hdf5
    from .registry import load_dataset

    if getattr(args, "action", None) == "export":
        dataset = load_dataset(args.name, **parse_params(args.param))
        path = save_hdf5(dataset, args.out, k=args.k)
        print(f"wrote {path}: {dataset.n:,} train × {dataset.dimension}, {dataset.n_queries:,} test, "
              f"k={min(args.k, dataset.n)}, metric {dataset.metric}")
        return 0
    if getattr(args, "action", None) == "import":
        from .parquet import save_parquet

        dataset = load_dataset("hdf5", path=args.path)
        folder = save_parquet(dataset, args.out, layout=args.layout)
        print(f"wrote {folder} ({args.layout} layout): {dataset.n:,} records, {dataset.n_queries:,} queries")
        return 0
    if args.load:
        dataset = load_dataset(args.load)
        print(repr(dataset))
        for fs in dataset.filter_sets:
            print(f"  filter set {fs.name:<12} selectivity {fs.selectivity:.4f}   e.g. {dict(fs.filters[0])}")
        return 0
    print(f"{'name':<18} {'type':<7} {'rows':>9} {'dim':>6} {'metric':<10} description")
    for row in listing():
        print(f"{row['name']:<18} {row['type']:<7} {_value(row['rows']):>9} {'sparse' if row['type'] == 'sparse' else _value(row['dimension']):>6} "
              f"{_value(row['metric']):<10} {row['description']}")
        params = ", ".join(f"{k}={'<required>' if v is inspect.Parameter.empty or v == '' else repr(v)}"
                           for k, v in row["parameters"].items())
        print(f"{'':<18} {params}")
    return 0
