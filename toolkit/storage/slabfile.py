"""Slab files: one immutable directory per slab (or per backed-up namespace).

    <slab>/arrays/<name>.npy one plain .npy file per array: dense float32 rows, sparse CSR, per-row
                             LSN and billed size, the ids sorted bytewise (id_keys, ``S``) with the
                             row of each (id_order) and each row's rank (id_rank; slabs written
                             before it derive it when first read), and the metadata columns' arrays
                             (MetadataColumns.state()); large ones are memory-mapped when opened
    <slab>/columns.json      the metadata fields: names, vocabularies, which arrays exist
    <slab>/records.arrow     Arrow IPC file (uncompressed, memory-mapped): id (string) and metadata
                             (the record's metadata as compact JSON text or null, parsed per access)
    <slab>/engine/           the engine's own index files (SlabIndex.save), when it can save them
    <slab>/SLAB.json         checksummed: rows, tier, level, builder and its parameters, metric, and
                             the size and CRC32 of every other file — written last

The directory is written under a temporary name, fsync'd and renamed into place, so a crash
never leaves a half-written slab under a live name.

Opening is proportional to the manifest, not to the data (``toolkit.slab/2``): SLAB.json is
checked against the CRC the manifest holds; every file it lists must exist with its recorded
size; files up to ``VERIFY_AT_OPEN_BYTES`` (default 4 MiB, environment variable
``TOOLKIT_VERIFY_AT_OPEN_BYTES``) are CRC-checked in full; larger ones are memory-mapped after
a size and header check (a .npy header, an Arrow footer) and their pages are read when queries
touch them. Their full CRC32 is checked by ``verify_rows_dir`` (``toolkit.storage.verify``,
``python -m toolkit verify PATH``) and whenever the whole slab is read anyway (a backup
restore). Damage found raises DataLossError naming the file. Slabs written in the first format
(``toolkit.slab/1``: arrays.npz + records.parquet) are still read, fully verified and loaded.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..columns import MetadataColumns
from ..engine import SlabBuilder, SlabIndex
from ..errors import DataLossError, InternalError, UnimplementedError
from ..ids import IdColumn
from ..metadata_json import JsonMetadata, metadata_texts
from ..segment import Rows, Slab
from ..sparse import SparseRows
from .files import (
    checked_json_bytes,
    crc_of_bytes,
    file_crc,
    fsync_dir,
    fsync_file,
    parse_checked_json,
    remove_tree,
    write_file,
)

log = logging.getLogger(__name__)

SLAB_META = "SLAB.json"
FORMAT = "toolkit.slab/2"
FORMAT_V1 = "toolkit.slab/1"
ARRAYS = "arrays"
RECORDS = "records.arrow"
_COLUMN_ARRAYS = ("kind", "str_codes", "num", "list_indptr", "list_codes")
_MMAP_MIN_BYTES = 1 << 16  # smaller arrays are read into memory (one read beats a mapping)


def verify_at_open_bytes() -> int:
    """Return the size up to which a slab file is CRC-checked when it is opened (larger: size + header)."""
    raw = os.environ.get("TOOLKIT_VERIFY_AT_OPEN_BYTES", "")
    try:
        return int(raw) if raw else 4 << 20
    except ValueError:
        raise InternalError(f"TOOLKIT_VERIFY_AT_OPEN_BYTES must be an integer number of bytes, got {raw!r}") from None


def write_rows_dir(
    parent: Path, name: str, rows: Rows, info: Mapping[str, Any], index: SlabIndex | None = None
) -> int:
    """Write ``rows`` (and ``index``'s own files) as ``parent/name``; return the CRC32 of SLAB.json."""
    import pyarrow as pa

    tmp = parent / f".tmp-{name}"
    if tmp.exists():
        remove_tree(tmp)
    (tmp / ARRAYS).mkdir(parents=True)
    arrays: dict[str, Any] = {
        "lsns": np.asarray(rows.lsns, np.int64),
        "sizes": np.asarray(rows.sizes, np.int64),
        "sparse_indptr": np.asarray(rows.sparse.indptr, np.int64),
        "sparse_indices": np.asarray(rows.sparse.indices, np.uint32),
        "sparse_values": np.asarray(rows.sparse.values, np.float32),
    }
    if rows.dense is not None:
        arrays["dense"] = np.asarray(rows.dense, np.float32)
    if len(rows):  # the sorted ids, their rows and each row's rank: reopening maps them, sorts nothing
        arrays["id_keys"], arrays["id_order"], arrays["id_rank"] = rows.ids.keys, rows.ids.order, rows.ids.rank
    state = rows.columns.state()
    fields = []
    for i, (field, saved) in enumerate(state["fields"].items()):
        present = []
        for attr in _COLUMN_ARRAYS:
            array = np.asarray(saved[attr])
            if attr == "kind" or array.size:
                arrays[f"m{i}_{attr}"] = array
                present.append(attr)
        fields.append({"name": field, "vocab": list(saved["vocab"]), "arrays": present})
    for key, array in arrays.items():
        with open(tmp / ARRAYS / f"{key}.npy", "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
    write_file(tmp / "columns.json", json.dumps({"n_rows": state["n_rows"], "fields": fields}).encode("utf-8"))
    table = pa.table({"id": rows.ids.arrow(), "metadata": metadata_texts(rows.metadata)})
    with pa.OSFile(str(tmp / RECORDS), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    engine_saved = False
    if index is not None:
        try:
            (tmp / "engine").mkdir()
            index.save(tmp / "engine")
            engine_saved = True
        except (UnimplementedError, NotImplementedError):
            remove_tree(tmp / "engine")
    files = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        fsync_file(path)
        files[str(path.relative_to(tmp))] = list(file_crc(path))
    for directory in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
        fsync_dir(directory)
    meta = {"format": FORMAT, "rows": len(rows), "engine_saved": engine_saved, "files": files, **info}
    data = checked_json_bytes(meta)
    write_file(tmp / SLAB_META, data)
    fsync_dir(tmp)
    os.replace(tmp, parent / name)
    fsync_dir(parent)
    return crc_of_bytes(data)


def read_slab_meta(directory: Path, expected_crc: int | None) -> dict[str, Any]:
    """Read and check SLAB.json (against the manifest's CRC when given)."""
    meta_path = directory / SLAB_META
    try:
        raw = meta_path.read_bytes()
    except FileNotFoundError:
        raise DataLossError(f"missing slab file {meta_path}") from None
    if expected_crc is not None and crc_of_bytes(raw) != expected_crc:
        raise DataLossError(f"damaged slab file {meta_path}: checksum does not match the manifest")
    meta = parse_checked_json(raw, meta_path)
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, FORMAT_V1):
        got = meta.get("format") if isinstance(meta, dict) else meta
        raise DataLossError(f"damaged slab file {meta_path}: unknown format {got!r}")
    return meta


def check_slab_files(directory: Path, meta: Mapping[str, Any], *, full: bool) -> tuple[int, int]:
    """Check every file SLAB.json lists: present, its recorded size, and its CRC32 when ``full`` or small.

    Return (files CRC-checked, bytes CRC-checked). Damage raises DataLossError naming the file.
    """
    limit = verify_at_open_bytes()
    checked = checked_bytes = 0
    for relative, (size, crc) in meta["files"].items():
        path = directory / relative
        try:
            found_size = path.stat().st_size
        except FileNotFoundError:
            raise DataLossError(f"missing slab file {path}") from None
        if found_size != size:
            raise DataLossError(f"damaged slab file {path}: size mismatch (expected {size} bytes, "
                                f"found {found_size})")
        if full or size <= limit:
            found = file_crc(path)
            if found != (size, crc):
                raise DataLossError(f"damaged slab file {path}: size/checksum mismatch (expected {size} bytes "
                                    f"crc {crc:08x}, found {found[0]} bytes crc {found[1]:08x})")
            checked, checked_bytes = checked + 1, checked_bytes + size
    return checked, checked_bytes


def verify_rows_dir(directory: Path, expected_crc: int | None) -> tuple[int, int]:
    """CRC-check every file of a slab directory in full; return (files, bytes) checked."""
    meta = read_slab_meta(directory, expected_crc)
    files, nbytes = check_slab_files(directory, meta, full=True)
    return files + 1, nbytes + (directory / SLAB_META).stat().st_size


def read_rows_dir(directory: Path, expected_crc: int | None, *, full: bool = False) -> tuple[dict[str, Any], Rows]:
    """Check and open a directory written by ``write_rows_dir``; return (SLAB.json, rows).

    Large files are memory-mapped after a size and header check (``full``: CRC-checked first).
    """
    meta = read_slab_meta(directory, expected_crc)
    metadata: np.ndarray | JsonMetadata
    if meta["format"] == FORMAT_V1:  # the first format is read whole, so it is verified whole
        check_slab_files(directory, meta, full=True)
        arrays, columns_info, ids, metadata = _read_v1(directory)
    else:
        check_slab_files(directory, meta, full=full)
        arrays, columns_info, ids, metadata = _read_v2(directory, meta)
    fields = {}
    for i, field in enumerate(columns_info["fields"]):
        saved: dict[str, Any] = {"vocab": field["vocab"]}
        for attr in _COLUMN_ARRAYS:
            saved[attr] = arrays.get(f"m{i}_{attr}", np.empty(0))
        fields[field["name"]] = saved
    try:
        columns = MetadataColumns.from_state(
            {"format": "toolkit.metadata_columns/1", "n_rows": columns_info["n_rows"], "fields": fields}
        )
    except InternalError as exc:
        raise DataLossError(f"damaged metadata columns in {directory}: {exc}") from None
    if "id_keys" in arrays and "id_order" in arrays:  # the saved sorted ids (mapped): no string per row
        keys, order, rank = arrays["id_keys"], arrays["id_order"], arrays.get("id_rank")
        if keys.dtype.kind != "S" or keys.shape != order.shape or len(order) != len(ids) \
                or order.dtype.kind != "i" or (rank is not None and (rank.shape != order.shape
                                                                     or rank.dtype.kind != "i")):
            raise DataLossError(f"inconsistent slab {directory}: the sorted ids do not match the rows")
        id_column = IdColumn(keys, order, rank)
    else:  # the first format, or an empty slab: encode the ids read from the records
        id_column = IdColumn.from_strings(ids.to_pylist() if hasattr(ids, "to_pylist") else ids.tolist())
    try:
        sparse = SparseRows(arrays["sparse_indptr"], arrays["sparse_indices"], arrays["sparse_values"])
        rows = Rows(id_column, arrays.get("dense"), sparse, metadata, columns, arrays["lsns"], arrays["sizes"])
    except KeyError as exc:
        raise DataLossError(f"unreadable slab {directory}: missing array {exc}") from None
    counts = {len(rows), len(ids), len(columns), len(sparse), len(metadata), len(rows.lsns), len(rows.sizes)}
    if rows.dense is not None:
        counts.add(len(rows.dense))
    if counts != {meta["rows"]}:
        raise DataLossError(f"inconsistent slab {directory}: row counts disagree")
    return meta, rows


def _read_v2(directory: Path, meta: Mapping[str, Any]) -> tuple[dict[str, Any], Any, Any, JsonMetadata]:
    """Map the arrays and the Arrow records of a ``toolkit.slab/2`` directory (sizes already checked)."""
    import pyarrow as pa

    arrays: dict[str, Any] = {}
    prefix = f"{ARRAYS}/"
    for relative, (size, _) in meta["files"].items():
        if not (relative.startswith(prefix) and relative.endswith(".npy")):
            continue
        path = directory / relative
        try:
            array = np.load(path, mmap_mode="r" if size >= _MMAP_MIN_BYTES else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataLossError(f"damaged slab file {path}: {exc}") from None
        arrays[relative[len(prefix):-4]] = array
    path = directory / RECORDS
    try:
        columns_info = json.loads((directory / "columns.json").read_bytes())
        with pa.memory_map(str(path), "r") as source:
            table = pa.ipc.open_file(source).read_all()
        ids = table.column("id")  # read as strings only when the slab has no saved sorted ids
        metadata = JsonMetadata(table.column("metadata").combine_chunks())
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise DataLossError(f"damaged slab file {path}: {exc}") from None
    return arrays, columns_info, ids, metadata


def _read_v1(directory: Path) -> tuple[dict[str, Any], Any, np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq

    try:  # every file matched its checksum, so a failure here means a bug or a foreign file
        with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        columns_info = json.loads((directory / "columns.json").read_bytes())
        table = pq.read_table(directory / "records.parquet")
        ids = np.asarray(table.column("id").to_numpy(zero_copy_only=False), dtype=object)
        texts = table.column("metadata").to_pylist()
        metadata = np.empty(len(texts), dtype=object)
        if texts:  # one JSON parse for all rows: far faster than one per row
            metadata[:] = json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
    except (OSError, ValueError, KeyError) as exc:
        raise DataLossError(f"unreadable slab {directory}: {exc}") from None
    return arrays, columns_info, ids, metadata


def slab_info(slab: Slab, metric: str) -> dict[str, Any]:
    """Return what SLAB.json records about a slab beside its files (builder None: index not built yet)."""
    return {
        "kind": "slab",
        "tier": slab.tier,
        "level": slab.level,
        "builder": None if slab.builder is None or slab.index is None else slab.builder.name,
        "params": None if slab.builder is None or slab.index is None else _json_params(slab.builder),
        "query_params": _plain_params(slab.query_params),
        "metric": metric,
        "build_seconds": slab.build_seconds,
        "created_at": slab.created_at,
    }


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    try:
        json.dumps(out)
    except TypeError:
        raise InternalError(f"query parameters {out!r} are not JSON; the slab cannot be persisted") from None
    return out


def _json_params(builder: SlabBuilder) -> dict[str, Any]:
    params = builder.get_params()
    try:
        json.dumps(params)
    except TypeError:
        raise InternalError(f"build parameters of {builder!r} are not JSON; the slab cannot be persisted") from None
    return params


def load_slab(
    directory: Path, expected_crc: int | None, builders: Mapping[str, type[SlabBuilder]], tiers: int
) -> Slab:
    """Load a slab: verify, read the rows, then load the engine's files or rebuild its index."""
    meta, rows = read_rows_dir(directory, expected_crc)
    alive = np.ones(len(rows), bool)
    if meta["builder"] is None:  # persisted before its index was built: the namespace builds it again
        return Slab(rows, None, None, None, int(meta["level"]), 0.0, alive, created_at=meta["created_at"])
    builder_class = builders.get(meta["builder"])
    if builder_class is None:
        raise InternalError(f"slab {directory} was built by {meta['builder']!r}, which is not registered; "
                            f"registered: {sorted(builders)}")
    builder = builder_class(**meta["params"])
    started = time.perf_counter()
    index = None
    if meta["engine_saved"]:
        try:
            index = builder.load(directory / "engine", rows.slab_data(), meta["metric"])
        except Exception as exc:  # noqa: BLE001 - a stale or foreign engine file: rebuild instead
            message = f"cannot load the saved {meta['builder']} index of {directory} ({exc}); rebuilding it"
            log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
    if index is None:
        index = builder.build(rows.slab_data(), meta["metric"])
    build_seconds = meta["build_seconds"] if meta["engine_saved"] else time.perf_counter() - started
    tier = min(int(meta["tier"]), tiers - 1)
    return Slab(rows, builder, index, tier, int(meta["level"]), build_seconds, alive,
                query_params=dict(meta.get("query_params") or {}), created_at=meta["created_at"])
