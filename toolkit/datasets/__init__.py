"""Datasets for benchmarks: a registry of named sources, file loaders and cached ground truth.

A short tour::

    from toolkit import datasets
    sorted(datasets.registry())                     # ['clustered', 'digits', 'hdf5', ...]
    ds = datasets.load_dataset("clustered", n=5000, dim=16)
    ds.filter_sets[0].name, ds.filter_sets[0].selectivity   # ('tag@0.5', 0.50...)
    truth = datasets.ground_truth(ds, k=10, filter_set="tag@0.1")   # cached on disk

Plugins add datasets with ``@hookimpl def register_datasets()`` returning ``DatasetSource``
subclasses (see ``toolkit.hookspecs``). The code lives here, in ``toolkit.datasets``, so it
never shadows HuggingFace's ``datasets`` package; the shipped data files live in the
repository's top-level ``datasets/`` folder.
"""

from .base import Dataset, DatasetSource, FilterSet
from .corpus import EmbeddedPythonDocs, PythonDocsMiniLM, python_docs_passages
from .files import cache_dir, shipped_dir, shipped_file
from .glove import GloVe, glove_vectors, glove_words
from .groundtruth import GroundTruth, distance_matrix, ground_truth, row_distances, top_k
from .hdf5 import AnnBenchmarksHDF5, save_hdf5
from .parquet import PineconeParquet, save_parquet
from .real import Digits
from .registry import dataset_sources, load_dataset, make_source, registry
from .synthetic import Clustered
from .text import PythonDocs, SparseZipf

__all__ = [
    "Dataset",
    "DatasetSource",
    "FilterSet",
    "GroundTruth",
    "registry",
    "dataset_sources",
    "make_source",
    "load_dataset",
    "ground_truth",
    "distance_matrix",
    "row_distances",
    "top_k",
    "cache_dir",
    "shipped_dir",
    "shipped_file",
    "save_hdf5",
    "save_parquet",
    "Clustered",
    "PythonDocs",
    "SparseZipf",
    "Digits",
    "GloVe",
    "EmbeddedPythonDocs",
    "PythonDocsMiniLM",
    "python_docs_passages",
    "glove_vectors",
    "glove_words",
    "AnnBenchmarksHDF5",
    "PineconeParquet",
]
