"""Records: turn an upsert request into a validated, columnar batch (dataplane_spec §7.1).

Validation runs before anything is stored and the first failure rejects the whole batch,
so a batch with one bad record stores none of it. Loops here run over the request's
items, never over stored rows; the dense values are checked in one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .cost import record_bytes
from .errors import InvalidArgumentError
from .identifiers import MAX_ID_LENGTH, check_record_id
from .metadata import check_metadata
from .sparse import Sparse, SparseRows, check_sparse

MAX_UPSERT_RECORDS = 1000
MAX_UPSERT_BYTES = 2_000_000  # "2 MB"; sized like the docs' batch table (4 B/float + metadata)
_RECORD_KEYS = {"id", "values", "sparse_values", "metadata"}


@dataclass(frozen=True)
class IndexShape:
    """What a record must look like for one index."""

    vector_type: str  # "dense" | "sparse"
    dimension: int | None
    metric: str


@dataclass
class RecordBatch:
    """Validated records of one request, in request order."""

    ids: list[str]
    dense: np.ndarray | None  # (n, dimension) float32, None on a sparse index
    sparse: SparseRows
    metadata: list[dict[str, Any] | None]
    sizes: np.ndarray  # billed bytes per record (int64)

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def concat(batches: list[RecordBatch]) -> RecordBatch:
        """Join validated batches into one (a request of more than 1000 records, e.g. update by filter)."""
        if len(batches) == 1:
            return batches[0]
        return RecordBatch(
            [i for b in batches for i in b.ids],
            None if batches[0].dense is None else np.concatenate([b.dense for b in batches]),
            SparseRows.concat([b.sparse for b in batches]),
            [m for b in batches for m in b.metadata],
            np.concatenate([b.sizes for b in batches]),
        )


def _split_item(item: Any, path: str) -> tuple[Any, Any, Any, Any]:
    """Return (id, values, sparse_values, metadata) from a dict, a tuple or a Vector-like object."""
    if isinstance(item, dict):
        unknown = set(item) - _RECORD_KEYS
        if unknown:
            # The REST spelling is accepted too, as proto3 JSON mapping does.
            if unknown == {"sparseValues"} and "sparse_values" not in item:
                item = {**item, "sparse_values": item["sparseValues"]}
                del item["sparseValues"]
            else:
                raise InvalidArgumentError(
                    f"unknown record keys {sorted(unknown)}; expected {sorted(_RECORD_KEYS)}", path=path
                )
        if "id" not in item:
            raise InvalidArgumentError("every record needs an 'id'", path=path)
        return item["id"], item.get("values"), item.get("sparse_values"), item.get("metadata")
    if isinstance(item, tuple):
        if len(item) == 2:
            return item[0], item[1], None, None
        if len(item) == 3:
            return item[0], item[1], None, item[2]
        raise InvalidArgumentError(
            f"a record tuple is (id, values) or (id, values, metadata), got {len(item)} items", path=path
        )
    if hasattr(item, "id"):
        return item.id, getattr(item, "values", None), getattr(item, "sparse_values", None), getattr(
            item, "metadata", None
        )
    raise InvalidArgumentError(
        f"a record must be a dict, a tuple or a Vector, got {type(item).__name__}", path=path
    )


def check_dense_matrix(values: Sequence[Any], dimension: int, path_of: Any) -> np.ndarray:
    """Stack dense values into (n, dimension) float32, naming the first bad record."""
    try:
        with np.errstate(over="ignore"):  # out-of-range floats become inf and are refused below
            matrix = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        matrix = None
    if matrix is None or matrix.ndim != 2 or matrix.shape[1] != dimension:
        for i, row in enumerate(values):  # find the culprit only on the error path
            try:
                with np.errstate(over="ignore"):
                    arr = np.asarray(row, dtype=np.float32)
            except OverflowError:
                raise InvalidArgumentError("dense values must be finite float32 numbers", path=path_of(i)) from None
            except (TypeError, ValueError):
                raise InvalidArgumentError("dense values must be numbers", path=path_of(i)) from None
            if arr.ndim != 1:
                raise InvalidArgumentError(
                    f"dense values must be a flat list of {dimension} numbers, got an array of shape {arr.shape}",
                    path=path_of(i),
                )
            if arr.size != dimension:
                raise InvalidArgumentError(
                    f"Vector dimension {arr.size} does not match the dimension of the index {dimension}",
                    path=path_of(i),
                )
        raise InvalidArgumentError("dense values must be lists of numbers", path=path_of(0))
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InvalidArgumentError("dense values must be finite float32 numbers (no NaN or Inf)", path=path_of(bad))
    return matrix


def parse_records(
    items: Iterable[Any],
    shape: IndexShape,
    *,
    max_metadata_bytes: int,
    sparse_max_nnz: int,
    max_request_bytes: int | None = MAX_UPSERT_BYTES,
) -> RecordBatch:
    """Validate an upsert request and return it as a columnar batch.

    ``max_request_bytes=None`` lifts the 2 MB request limit, for batches the toolkit builds
    itself (update by filter rewrites whole records that the user never sent).
    """
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise InvalidArgumentError("vectors must be a list of records", path="vectors")
    items = list(items)
    if not items:
        raise InvalidArgumentError("vectors must hold at least one record", path="vectors")
    if len(items) > MAX_UPSERT_RECORDS:
        raise InvalidArgumentError(
            f"at most {MAX_UPSERT_RECORDS} records per upsert request, got {len(items)}", path="vectors"
        )
    ids: list[str] = []
    values: list[Any] = []
    sparse: list[Sparse | None] = []
    metadata: list[dict[str, Any] | None] = []
    metadata_bytes: list[int] = []
    dense_index = shape.vector_type == "dense"
    any_sparse = False
    for i, item in enumerate(items):
        # The common shapes are unpacked inline; error paths ("vectors[i]...") are built only on failure.
        kind = type(item)
        if kind is tuple and 2 <= len(item) <= 3:
            record_id, vals, sparse_raw = item[0], item[1], None
            meta = item[2] if len(item) == 3 else None
        elif kind is dict and "id" in item and item.keys() <= _RECORD_KEYS:
            record_id, vals, sparse_raw, meta = item["id"], item.get("values"), item.get("sparse_values"), item.get(
                "metadata")
        else:
            record_id, vals, sparse_raw, meta = _split_item(item, f"vectors[{i}]")
        if type(record_id) is str and 0 < len(record_id) <= MAX_ID_LENGTH and record_id.isascii() and (
            "\0" not in record_id
        ):
            ids.append(record_id)
        else:
            ids.append(check_record_id(record_id, f"vectors[{i}].id"))
        if dense_index:
            if vals is None or (hasattr(vals, "__len__") and len(vals) == 0):
                raise InvalidArgumentError(
                    f"Vector dimension 0 does not match the dimension of the index {shape.dimension}",
                    path=f"vectors[{i}].values",
                )
            values.append(vals)
        elif vals is not None and len(vals) > 0:
            raise InvalidArgumentError(
                "a sparse index takes only sparse_values; dense values must be empty", path=f"vectors[{i}].values"
            )
        if sparse_raw is None:
            if not dense_index:
                raise InvalidArgumentError("records of a sparse index need sparse_values", path=f"vectors[{i}]")
            sparse.append(None)
        else:
            sparse.append(check_sparse(sparse_raw, sparse_max_nnz, f"vectors[{i}].sparse_values"))
            any_sparse = True
        if meta is None:
            metadata.append(None)
            metadata_bytes.append(0)
        else:
            try:
                clean, size = check_metadata(meta, max_metadata_bytes, "metadata")
            except InvalidArgumentError as exc:
                raise type(exc)(exc.message, path=f"vectors[{i}].{exc.path}") from None
            metadata.append(clean)
            metadata_bytes.append(size)

    dense = None
    dimension = 0
    if dense_index:
        assert shape.dimension is not None
        dimension = shape.dimension
        dense = check_dense_matrix(values, dimension, lambda i: f"vectors[{i}].values")
        zero = ~dense.any(axis=1)
        if zero.any():
            bad = int(np.flatnonzero(zero)[0])
            raise InvalidArgumentError(
                "Dense vectors must contain at least one non-zero value. "
                f"Vector ID '{ids[bad]}' contains only zeros",
                path=f"vectors[{bad}].values",
            )
    rows = SparseRows.from_rows(sparse) if any_sparse else SparseRows.empty(len(ids))
    id_bytes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))  # ASCII: one byte per character
    sizes = record_bytes(id_bytes, dimension, rows.nnz_per_row(), np.asarray(metadata_bytes, dtype=np.int64))
    total = int(sizes.sum())
    if max_request_bytes is not None and total > max_request_bytes:
        raise InvalidArgumentError(
            f"the upsert request is {total} bytes; at most {max_request_bytes} (2 MB) per request — send smaller batches",
            path="vectors",
        )
    return RecordBatch(ids, dense, rows, metadata, sizes.astype(np.int64))


def check_query_vector(vector: Any, dimension: int, path: str = "vector") -> np.ndarray:
    """Validate one dense query or update vector; return it as float32."""
    if isinstance(vector, np.ndarray) and vector.shape == (dimension,) and vector.dtype.kind in "fiu":
        # the common case in one step: a flat numeric array of the right size (no list wrapping)
        with np.errstate(over="ignore"):  # out-of-range floats become inf and are refused below
            out = vector.astype(np.float32)  # a copy: an update stores it, the caller keeps its array
        if np.isfinite(out).all():
            return out
    return check_dense_matrix([vector], dimension, lambda i: path)[0]
