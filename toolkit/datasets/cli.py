"""List the registered datasets and their parameters (``python -m toolkit datasets``)."""

from __future__ import annotations

import argparse
import inspect

HELP = "list the registered datasets and their parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load", metavar="NAME", help="load one dataset (default parameters) and describe it")


def run(args: argparse.Namespace) -> int:
    from .registry import load_dataset, registry

    sources = registry()
    if args.load:
        dataset = load_dataset(args.load)
        print(repr(dataset))
        for fs in dataset.filter_sets:
            print(f"  filter set {fs.name:<12} selectivity {fs.selectivity:.4f}   e.g. {dict(fs.filters[0])}")
        return 0
    for name, source in sources.items():
        params = ", ".join(
            f"{k}={'<required>' if v is inspect.Parameter.empty or v == '' else repr(v)}"
            for k, v in source.defaults().items())
        print(f"{name:<12} [{source.vector_type}] {source.description}")
        print(f"{'':<12} {params}")
    return 0
