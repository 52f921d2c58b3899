"""ann-benchmarks HDF5 files: ``train``, ``test``, ``neighbors`` and ``distances`` datasets.

The file's ``distance`` attribute names the metric (``angular`` is cosine). Its
``neighbors`` are kept as the unfiltered ground truth; their distances are recomputed in
the toolkit's convention, so files that store another angular convention still work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, NotFoundError
from .base import Dataset, DatasetSource

_METRICS = {"euclidean": "euclidean", "angular": "cosine", "cosine": "cosine", "dot": "dotproduct",
            "ip": "dotproduct", "inner_product": "dotproduct", "dotproduct": "dotproduct"}
_FILE_METRIC = {"euclidean": "euclidean", "cosine": "angular", "dotproduct": "dot"}


def _check_limit(value: Any, path: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidArgumentError(f"must be a positive integer or left out, got {value!r}", path=path)


class AnnBenchmarksHDF5(DatasetSource):
    """A local ann-benchmarks HDF5 file (no download); ``max_train`` cuts it down for quick runs."""

    name = "hdf5"
    description = "an ann-benchmarks HDF5 file given by path (train/test/neighbors/distances)"
    vector_type = "dense"

    def __init__(self, path: str = "", metric: str | None = None, max_train: int | None = None,
                 max_queries: int | None = None) -> None:
        if not path:
            raise InvalidArgumentError("hdf5 needs path='file.hdf5'", path="path")
        _check_limit(max_train, "max_train")
        _check_limit(max_queries, "max_queries")
        self.path, self.metric, self.max_train, self.max_queries = str(path), metric, max_train, max_queries

    def load(self) -> Dataset:
        import h5py

        path = Path(self.path).expanduser()
        if not path.is_file():
            raise NotFoundError(f"no ann-benchmarks file at {str(path)!r}", path="path")
        with h5py.File(path, "r") as f:
            for key in ("train", "test"):
                if key not in f:
                    raise InvalidArgumentError(f"{path.name} has no {key!r} dataset", path="path")
            distance = f.attrs.get("distance", "euclidean")
            distance = distance.decode() if isinstance(distance, bytes) else str(distance)
            metric = self.metric or _METRICS.get(distance.lower())
            if metric is None:
                raise InvalidArgumentError(f"unsupported ann-benchmarks distance {distance!r}; "
                                           f"known: {sorted(_METRICS)}", path="metric")
            train = np.asarray(f["train"][: self.max_train], dtype=np.float32)
            queries = np.asarray(f["test"][: self.max_queries], dtype=np.float32)
            neighbors = None
            if "neighbors" in f and self.max_train is None and metric == _METRICS.get(distance.lower()):
                neighbors = np.asarray(f["neighbors"][: self.max_queries], dtype=np.int64)
        return Dataset(repr(self), metric, train, queries, neighbors=neighbors, description=self.description,
                       info={"file": str(path), "distance": distance})


def save_hdf5(dataset: Dataset, path: str | Path, k: int = 100) -> Path:
    """Write a dense dataset as an ann-benchmarks file with exact neighbours and distances."""
    import h5py

    from .groundtruth import ground_truth

    if dataset.vector_type != "dense":
        raise InvalidArgumentError("ann-benchmarks files hold dense vectors only", path="dataset")
    k = min(k, dataset.n)
    truth = ground_truth(dataset, k)  # cached: exporting the same dataset twice computes it once
    path = Path(path)
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = _FILE_METRIC[dataset.metric]
        f.attrs["type"] = "dense"
        f.create_dataset("train", data=dataset.train)
        f.create_dataset("test", data=dataset.queries)
        f.create_dataset("neighbors", data=truth.neighbors.astype(np.int32))
        f.create_dataset("distances", data=truth.distances.astype(np.float32))
    return path
