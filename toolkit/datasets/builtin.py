"""The built-in datasets, registered through the ``vector_toolkit`` entry point like any plugin."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .base import DatasetSource
from .corpus import PythonDocsMiniLM
from .glove import GloVe
from .hdf5 import AnnBenchmarksHDF5
from .parquet import PineconeParquet
from .real import Digits
from .synthetic import Clustered
from .text import PythonDocs, SparseZipf


@hookimpl
def register_datasets() -> list[type[DatasetSource]]:
    return [GloVe, Clustered, PythonDocs, PythonDocsMiniLM, SparseZipf, Digits, AnnBenchmarksHDF5, PineconeParquet]
