"""Cost: the reference service's read- and write-unit formulas, and a per-index ledger.

Formulas follow arch_cost_spec §2.2 (KB = 1000 B, GB = 1e9 B, ceil at the request total).
Beside the billed units the ledger keeps the work really done (distance computations,
bytes scanned), so notebooks can contrast the bill with the true cost.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
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


DEFAULT_LEDGER_WINDOW = 10_000  # requests kept one by one; totals are kept for all of them
_TOTALS = ("read_units", "read_units_reported", "write_units", "records", "distance_computations",
           "bytes_scanned", "seconds", "embed_tokens", "rerank_units")
_INT_TOTALS = ("requests", "read_units_reported", "write_units", "records", "distance_computations",
               "bytes_scanned", "embed_tokens", "rerank_units")


class UsageLedger:
    """Metered requests of one index: exact totals by (operation, namespace) since the start, and
    the most recent ``window`` requests one by one; thread-safe appends.

    A long-running server meters millions of requests, so memory is bounded: the totals are
    one row per (operation, namespace) and older single requests fall out of the window
    (``dropped`` counts them). ``summary()`` always covers every request.
    """

    def __init__(self, window: int = DEFAULT_LEDGER_WINDOW) -> None:
        if type(window) is not int or window < 1:
            raise ValueError("window must be a positive integer")
        self.window = window
        self._entries: deque[LedgerEntry | _Batch] = deque()
        self._kept = 0  # requests in _entries (a batch holds several)
        self.dropped = 0  # requests no longer kept one by one
        self._totals: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _add(self, item: LedgerEntry | _Batch, template: LedgerEntry, n: int, records: int, distances: int,
             scanned: int, seconds: float) -> None:
        totals = self._totals.setdefault((template.operation, template.namespace), [0.0] * (len(_TOTALS) + 1))
        for i, value in enumerate((n, n * template.read_units, n * template.read_units_reported,
                                   n * template.write_units, records, distances, scanned, seconds,
                                   n * template.embed_tokens, n * template.rerank_units)):
            totals[i] += value
        self._entries.append(item)
        self._kept += n
        while self._kept > self.window and len(self._entries) > 1:
            old = self._entries.popleft()
            count = len(old.records) if isinstance(old, _Batch) else 1
            self._kept -= count
            self.dropped += count

    def record(self, entry: LedgerEntry) -> None:
        """Append one request's usage."""
        with self._lock:
            self._add(entry, entry, 1, entry.records, entry.distance_computations, entry.bytes_scanned,
                      entry.seconds)

    def record_batch(self, template: LedgerEntry, records: list[int], distance_computations: list[int],
                     bytes_scanned: list[int], started: float) -> None:
        """Record n requests of one batch (``query_batch``): ``template`` with each request's own
        records and work; each gets 1/n of the batch's seconds. Stored compactly, expanded on read."""
        seconds = (time.perf_counter() - started) / max(1, len(records))
        batch = _Batch(template, records, distance_computations, bytes_scanned, seconds, time.time())
        with self._lock:
            self._add(batch, template, len(records), sum(records), sum(distance_computations), sum(bytes_scanned),
                      seconds * len(records))

    def entries(self) -> list[LedgerEntry]:
        """Return a copy of the recent entries (at most ``window``; a batch's requests one by one)."""
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
        """Return one row per recent request (the last ``window``)."""
        columns = list(LedgerEntry.__dataclass_fields__)
        return pd.DataFrame([asdict(e) for e in self.entries()], columns=columns)

    def summary(self) -> pd.DataFrame:
        """Return totals by operation and namespace over every request (units, true work, time)."""
        columns = ["operation", "namespace", "requests", *_TOTALS]
        with self._lock:
            rows = [[op, ns, *values] for (op, ns), values in sorted(self._totals.items())]
        frame = pd.DataFrame(rows, columns=columns)
        if frame.empty:
            return frame
        return frame.astype({name: np.int64 for name in _INT_TOTALS})
