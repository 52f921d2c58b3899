"""Helpers of the storage and durability tests: deterministic records and whole-index snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import toolkit


def records(prefix: str, n: int, dimension: int = 8, seed: int = 0, *, metadata: bool = True) -> list[dict[str, Any]]:
    """Return ``n`` deterministic dense records with ids ``prefix-0..n-1``."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, dimension)).astype(np.float32)
    out = []
    for i in range(n):
        record: dict[str, Any] = {"id": f"{prefix}-{i}", "values": values[i].tolist()}
        if metadata:
            record["metadata"] = {"i": i, "prefix": prefix, "even": i % 2 == 0, "tags": [f"t{i % 3}", "all"]}
        out.append(record)
    return out


def state(index: toolkit.Index) -> dict[str, dict[str, Any]]:
    """Return every namespace's records: id -> (values, sparse indices/values, metadata)."""
    out: dict[str, dict[str, Any]] = {}
    for ns in index.list_namespaces():
        ids = [i for page in index.list(namespace=ns.name) for i in page]
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 1000):
            fetched = index.fetch(ids=ids[start : start + 1000], namespace=ns.name).vectors
            for record_id, v in fetched.items():
                sparse = None if v.sparse_values is None else (tuple(v.sparse_values.indices),
                                                                tuple(np.float32(v.sparse_values.values).tolist()))
                found[record_id] = (tuple(np.float32(v.values).tolist()), sparse, v.metadata)
        out[ns.name] = found
    return out


def lsns(index: toolkit.Index) -> dict[str, int]:
    """Return each namespace's last assigned LSN."""
    return {name: int(ns.last_lsn) for name, ns in index._namespaces.items()}


def namespace_dir(db: Path, index: str, namespace: str) -> Path:
    """Return the directory of a namespace in a database folder (by reading the manifests)."""
    from toolkit.storage.files import read_checked_json

    for directory in sorted((db / "indexes" / index / "namespaces").iterdir()):
        if directory.is_dir() and read_checked_json(directory / "MANIFEST")["name"] == namespace:
            return directory
    raise KeyError(namespace)


def log_segments(db: Path, index: str, namespace: str) -> list[Path]:
    return sorted((namespace_dir(db, index, namespace) / "log").glob("*.log"))


def flip_byte(path: Path, offset: int) -> None:
    """Invert one byte of a file (negative offsets count from the end)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
