"""Cost: the reference service's read- and write-unit formulas, and a per-index ledger.

Formulas follow arch_cost_spec §2.2 (KB = 1000 B, GB = 1e9 B, ceil at the request total).
Beside the billed units the ledger keeps the work really done (distance computations,
bytes scanned), so notebooks can contrast the bill with the true cost.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

KB = 1_000
GB = 1_000_000_000
MIN_QUERY_READ_UNITS = 0.25
MIN_WRITE_UNITS = 5
DELETE_ALL_WRITE_UNITS = 5
LIST_READ_UNITS = 1
FETCH_RECORDS_PER_READ_UNIT = 10
SPARSE_BYTES_PER_NONZERO = 9
DENSE_BYTES_PER_DIMENSION = 4


def record_bytes(id_bytes, dimension, sparse_nnz, metadata_bytes):
    """Return the billed size of records: id + 4 × dimension + 9 × sparse non-zeros + metadata.

    Works on scalars and on numpy arrays alike (arch_cost_spec §3, D:13150-13155).
    """
    return (
        id_bytes
        + DENSE_BYTES_PER_DIMENSION * dimension
        + SPARSE_BYTES_PER_NONZERO * sparse_nnz
        + metadata_bytes
    )


def ceil_units(units: float) -> int:
    """Round units up the way responses report them; 6 decimals first so 7.000000001 stays 7."""
    return int(math.ceil(round(units, 6)))


def query_read_units(namespace_bytes: int) -> float:
    """Return the exact (fractional) read units of one query: max(0.25, namespace GB)."""
    return max(MIN_QUERY_READ_UNITS, namespace_bytes / GB)


def fetch_read_units(found_unique: int) -> int:
    """Return the read units of a fetch: 1 per 10 distinct records found, at least 1."""
    return max(1, math.ceil(found_unique / FETCH_RECORDS_PER_READ_UNIT))


def write_units(request_bytes: float, existing_bytes: float = 0) -> int:
    """Return the write units of an upsert, update or delete: 1 per KB, at least 5.

    ``request_bytes`` is the new data (upsert, update) or the deleted records (delete);
    ``existing_bytes`` is what an overwrite or update also pays for the old records.
    """
    return max(MIN_WRITE_UNITS, ceil_units((request_bytes + existing_bytes) / KB))


@dataclass(frozen=True)
class LedgerEntry:
    """One metered request."""

    operation: str
    namespace: str
    read_units: float = 0.0
    read_units_reported: int = 0
    write_units: int = 0
    records: int = 0
    distance_computations: int = 0
    bytes_scanned: int = 0
    lsn: int | None = None
    seconds: float = 0.0
    at: float = field(default_factory=time.time)
    embed_tokens: int = 0    # integrated inference: tokens embedded (the reference bills embedding by token)
    rerank_units: int = 0    # integrated inference: rerank units


@dataclass(frozen=True)
class _Batch:
    """The n requests of one batched call, kept as columns until someone reads the ledger."""

    template: LedgerEntry
    records: list[int]
    distance_computations: list[int]
    bytes_scanned: list[int]
    seconds: float
    at: float

    def expand(self) -> list[LedgerEntry]:
        return [replace(self.template, records=r, distance_computations=d, bytes_scanned=b, seconds=self.seconds,
                        at=self.at)
                for r, d, b in zip(self.records, self.distance_computations, self.bytes_scanned)]


class UsageLedger:
    """Every metered request of one index, in order; thread-safe appends."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry | _Batch] = []
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> None:
        """Append one request's usage."""
        with self._lock:
            self._entries.append(entry)

    def record_batch(self, template: LedgerEntry, records: list[int], distance_computations: list[int],
                     bytes_scanned: list[int], started: float) -> None:
        """Record n requests of one batch (``query_batch``): ``template`` with each request's own
        records and work; each gets 1/n of the batch's seconds. Stored compactly, expanded on read."""
        seconds = (time.perf_counter() - started) / max(1, len(records))
        batch = _Batch(template, records, distance_computations, bytes_scanned, seconds, time.time())
        with self._lock:
            self._entries.append(batch)

    def entries(self) -> list[LedgerEntry]:
        """Return a copy of all entries so far (a batch's requests one by one)."""
        with self._lock:
            stored = list(self._entries)
        out: list[LedgerEntry] = []
        for entry in stored:
            if isinstance(entry, _Batch):
                out.extend(entry.expand())
            else:
                out.append(entry)
        return out

    def frame(self) -> pd.DataFrame:
        """Return one row per request."""
        columns = list(LedgerEntry.__dataclass_fields__)
        return pd.DataFrame([asdict(e) for e in self.entries()], columns=columns)

    def summary(self) -> pd.DataFrame:
        """Return totals by operation and namespace (requests, units, true work, time)."""
        frame = self.frame()
        if frame.empty:
            return pd.DataFrame(
                columns=["operation", "namespace", "requests", "read_units", "read_units_reported",
                         "write_units", "records", "distance_computations", "bytes_scanned", "seconds",
                         "embed_tokens", "rerank_units"]
            )
        grouped = frame.groupby(["operation", "namespace"], sort=True)
        summary = grouped.agg(
            requests=("operation", "size"),
            read_units=("read_units", "sum"),
            read_units_reported=("read_units_reported", "sum"),
            write_units=("write_units", "sum"),
            records=("records", "sum"),
            distance_computations=("distance_computations", "sum"),
            bytes_scanned=("bytes_scanned", "sum"),
            seconds=("seconds", "sum"),
            embed_tokens=("embed_tokens", "sum"),
            rerank_units=("rerank_units", "sum"),
        )
        return summary.reset_index().astype({"requests": np.int64})
