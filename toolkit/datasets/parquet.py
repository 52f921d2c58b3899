"""The reference service's Parquet layouts, read from a local path (never downloaded).

Two layouts are recognised:

* the public-datasets layout: ``<dir>/documents/*.parquet`` with columns ``id``, ``values``,
  ``sparse_values`` (struct of ``indices``/``values``), ``metadata``, ``blob``, and optionally
  ``<dir>/queries/*.parquet`` with ``vector``, ``sparse_vector``, ``filter``, ``top_k``, ``blob``;
* the import layout (arch_cost_spec §5.1): ``<dir>/<namespace>/*.parquet`` (or the files of one
  namespace folder, or one file) with ``id``, ``values``, ``sparse_values`` and ``metadata``.

``metadata`` and ``filter`` may be JSON strings (the import schema) or structs. Without a
queries folder, ``n_queries`` documents are held out as queries.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidArgumentError, NotFoundError
from .base import Dataset, DatasetSource, FilterSet

log = logging.getLogger(__name__)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if p.is_file())


def _read(files: list[Path]) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def _json(value: Any, what: str, row: int) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(f"row {row}: {what} is not valid JSON: {exc}", path=what) from None
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"row {row}: {what} must be a JSON object", path=what)
    # struct columns fill absent keys with null; the reference service has no null values
    return {k: v for k, v in value.items() if v is not None} or None


def _dense(column: Any, what: str) -> np.ndarray:
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise InvalidArgumentError(f"{array.null_count} rows have no {what}", path=what)
    lengths = np.diff(np.asarray(array.offsets))
    if lengths.size and (lengths != lengths[0]).any():
        raise InvalidArgumentError(f"{what} rows have different lengths {sorted(set(lengths.tolist()))[:5]}", path=what)
    flat = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(len(array), int(lengths[0]) if lengths.size else 0)


def _sparse(values: list[Any], what: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    indices, weights = [], []
    for row, value in enumerate(values):
        if value is None:
            raise InvalidArgumentError(f"row {row} has no {what}", path=what)
        indices.append(np.asarray(value["indices"], dtype=np.int64))
        weights.append(np.asarray(value["values"], dtype=np.float32))
    return indices, weights


def _csr(indices: list[np.ndarray], weights: list[np.ndarray], vocabulary: np.ndarray) -> sp.csr_matrix:
    lengths = [len(i) for i in indices]
    flat = np.concatenate(indices) if indices else np.empty(0, np.int64)
    columns = np.searchsorted(vocabulary, flat)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.concatenate(weights) if weights else np.empty(0, np.float32)
    matrix = sp.csr_matrix((data, columns, indptr), shape=(len(indices), len(vocabulary)))
    matrix.sum_duplicates()
    return matrix


class PineconeParquet(DatasetSource):
    """Records (and queries) in the reference service's Parquet layouts, from a local folder."""

    name = "parquet"
    description = "a local folder in the reference service's Parquet layout (documents/queries or import)"
    vector_type = "any"

    def __init__(self, path: str = "", metric: str | None = None, namespace: str | None = None, n_queries: int = 100,
                 max_records: int | None = None, seed: int = 0) -> None:
        if not path:
            raise InvalidArgumentError("parquet needs path='folder'", path="path")
        if isinstance(n_queries, bool) or not isinstance(n_queries, int) or n_queries < 1:
            raise InvalidArgumentError(f"must be an integer >= 1, got {n_queries!r}", path="n_queries")
        self.path, self.metric, self.namespace = str(path), metric, namespace
        self.n_queries, self.max_records, self.seed = n_queries, max_records, seed

    def _locate(self) -> tuple[list[Path], list[Path]]:
        root = Path(self.path).expanduser()
        if root.is_file():
            return [root], []
        if not root.is_dir():
            raise NotFoundError(f"no Parquet dataset at {str(root)!r}", path="path")
        if (root / "documents").is_dir():
            return _files(root / "documents"), _files(root / "queries") if (root / "queries").is_dir() else []
        if _files(root):
            return _files(root), []
        namespaces = sorted(p.name for p in root.iterdir() if p.is_dir() and _files(p))
        if not namespaces:
            raise NotFoundError(f"{root} holds no .parquet files", path="path")
        chosen = self.namespace or ("__default__" if "__default__" in namespaces else namespaces[0])
        if chosen not in namespaces:
            raise NotFoundError(f"namespace {chosen!r} not in {namespaces}", path="namespace")
        if len(namespaces) > 1 and self.namespace is None:
            log.info("parquet: %s holds namespaces %s; reading %r", root, namespaces, chosen)
        return _files(root / chosen), []

    def _declared_metric(self) -> str | None:
        meta = Path(self.path).expanduser() / "metadata.json"
        if not meta.is_file():
            return None
        try:
            declared = json.loads(meta.read_text()).get("metric")
        except (json.JSONDecodeError, AttributeError):
            return None
        return declared if isinstance(declared, str) else None

    def load(self) -> Dataset:
        doc_files, query_files = self._locate()
        if not doc_files:
            raise NotFoundError(f"no document files under {self.path}", path="path")
        docs = _read(doc_files)
        if self.max_records is not None:
            docs = docs.slice(0, self.max_records)
        names = set(docs.column_names)
        if "id" not in names:
            raise InvalidArgumentError("the documents lack the required column 'id'", path="id")
        has_dense = "values" in names and docs.column("values").null_count < len(docs)
        if not has_dense and "sparse_values" not in names:
            raise InvalidArgumentError("the documents need a 'values' or 'sparse_values' column", path="values")
        if has_dense and "sparse_values" in names and docs.column("sparse_values").null_count < len(docs):
            log.warning("parquet: %s has dense and sparse values; the benchmark uses the dense part", self.path)
        ids = np.array([str(i) for i in docs.column("id").to_pylist()], dtype=object)
        metadata = None
        if "metadata" in names:
            metadata = [_json(m, "metadata", r) for r, m in enumerate(docs.column("metadata").to_pylist())]
        queries_table = _read(query_files) if query_files else None
        vocabulary = None
        if has_dense:
            train = _dense(docs.column("values"), "values")
            queries = None
            if queries_table is not None:
                if "vector" not in queries_table.column_names:
                    raise InvalidArgumentError("the queries lack the column 'vector'", path="vector")
                queries = _dense(queries_table.column("vector"), "vector")
            metric = self.metric or self._declared_metric() or "cosine"
        else:
            d_idx, d_val = _sparse(docs.column("sparse_values").to_pylist(), "sparse_values")
            q_idx: list[np.ndarray] = []
            q_val: list[np.ndarray] = []
            if queries_table is not None:
                q_idx, q_val = _sparse(queries_table.column("sparse_vector").to_pylist(), "sparse_vector")
            vocabulary = np.unique(np.concatenate(d_idx + q_idx)) if d_idx else np.empty(0, np.int64)
            train = _csr(d_idx, d_val, vocabulary)
            queries = _csr(q_idx, q_val, vocabulary) if queries_table is not None else None
            metric = "dotproduct"
        filters = None
        if queries_table is not None and "filter" in queries_table.column_names:
            filters = [_json(f, "filter", r) for r, f in enumerate(queries_table.column("filter").to_pylist())]
        if queries is None:  # hold some documents out as queries
            rng = np.random.default_rng(self.seed)
            held = np.sort(rng.choice(len(ids), min(self.n_queries, len(ids) - 1), replace=False))
            keep = np.setdiff1d(np.arange(len(ids)), held)
            queries, train = train[held], train[keep]
            ids = ids[keep]
            metadata = None if metadata is None else [metadata[i] for i in keep.tolist()]
        filter_sets: tuple[FilterSet, ...] = ()
        if filters is not None and any(filters):
            filter_sets = (_file_filter_set(filters, metadata, len(ids)),)
        return Dataset(repr(self), metric, train, queries, ids=ids, metadata=metadata, filter_sets=filter_sets,
                       sparse_vocabulary=vocabulary, description=self.description, info={"files": len(doc_files)})


def _file_filter_set(filters: list[Mapping[str, Any] | None], metadata: list[Any] | None, n: int) -> FilterSet:
    """Evaluate the queries' own filters with the toolkit's filter engine (the only evaluator at hand)."""
    from ..columns import MetadataColumns
    from ..filters import compile_filter

    columns = MetadataColumns.from_records(metadata if metadata is not None else [None] * n)
    masks = np.ones((len(filters), n), dtype=bool)
    for i, raw in enumerate(filters):
        compiled = compile_filter(raw) if raw else None
        if compiled is not None:
            masks[i] = compiled.mask(columns)
    return FilterSet("file", "file", tuple(f or {} for f in filters), masks, None)


def save_parquet(dataset: Dataset, folder: str | Path, *, layout: str = "public", namespace: str = "__default__",
                 rows_per_file: int = 50_000) -> Path:
    """Write a dataset in the public-datasets layout (documents + queries) or the import layout.

    Metadata and filters are written as JSON strings, the import schema's type.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if layout not in ("public", "import"):
        raise InvalidArgumentError("layout must be 'public' or 'import'", path="layout")
    folder = Path(folder)
    target = folder / ("documents" if layout == "public" else namespace)
    target.mkdir(parents=True, exist_ok=True)
    sparse_type = pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))])
    for part, start in enumerate(range(0, dataset.n, rows_per_file)):
        rows = np.arange(start, min(start + rows_per_file, dataset.n))
        records = dataset.records(rows)
        columns: dict[str, Any] = {"id": pa.array([r["id"] for r in records], pa.string())}
        if dataset.vector_type == "dense":
            columns["values"] = pa.array([r["values"].tolist() for r in records], pa.list_(pa.float32()))
        else:
            columns["sparse_values"] = pa.array(
                [{"indices": r["sparse_values"]["indices"].tolist(), "values": r["sparse_values"]["values"].tolist()}
                 for r in records], sparse_type)
        columns["metadata"] = pa.array([json.dumps(r["metadata"]) if r.get("metadata") else None for r in records],
                                       pa.string())
        pq.write_table(pa.table(columns), target / f"part-{part:04d}.parquet")
    if layout == "public":
        (folder / "queries").mkdir(exist_ok=True)
        qargs = [dataset.query_arguments(i) for i in range(dataset.n_queries)]
        qcols: dict[str, Any] = {}
        if dataset.vector_type == "dense":
            qcols["vector"] = pa.array([np.asarray(q["vector"]).tolist() for q in qargs], pa.list_(pa.float32()))
        else:
            qcols["vector"] = pa.array([None] * len(qargs), pa.list_(pa.float32()))
            qcols["sparse_vector"] = pa.array(
                [{"indices": q["sparse_vector"]["indices"].tolist(), "values": q["sparse_vector"]["values"].tolist()}
                 for q in qargs], sparse_type)
        qcols["top_k"] = pa.array([10] * len(qargs), pa.uint32())
        pq.write_table(pa.table(qcols), folder / "queries" / "part-0000.parquet")
        meta = {"name": dataset.name, "documents": dataset.n, "queries": dataset.n_queries,
                "dense_model": {"dimension": dataset.dimension}, "metric": dataset.metric}
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2))
    return folder
