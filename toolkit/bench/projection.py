"""Cost at scale: what each measured configuration would be billed at 1M, 10M and 100M records.

A *projection*, not a measurement: the documented formulas (arch_cost_spec §2.2 and §3;
``toolkit.cost``) applied to the record size measured in the benchmark. A record is billed
``len(id) + 4 × dimension + 9 × sparse non-zeros + metadata bytes``; a namespace of N such
records is ``N × record_bytes``; a query is billed ``max(0.25, namespace GB)`` read units
whatever the engine does; storage is billed per GB-month (the rate lives on an external
pricing page, so this reports GB-months, not money).

The measured true work (distances computed and bytes scanned per query, at the measured
size) sits beside the projection, because that is what the bill does not see: the read units
of every engine are the same at every size, while the work they do differs by orders of
magnitude.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..cost import GB, query_read_units
from .tables import query_rows

SCALES: tuple[int, ...] = (1_000_000, 10_000_000, 100_000_000)


def _scale_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def record_bytes_measured(results: pd.DataFrame) -> pd.Series:
    """Return each row's billed bytes per record: the measured namespace size over its records."""
    return results["namespace_bytes"] / results["n"]


def cost_projection(results: pd.DataFrame, scales: Sequence[int] = SCALES) -> pd.DataFrame:
    """Return one row per unfiltered query configuration: measured work and size, and the projected bill.

    Columns: dataset, engine, configuration, measured n, record bytes, recall, measured
    distances and bytes scanned per query, measured RU/query, then per scale the projected
    RU/query and storage GB-month.
    """
    rows = query_rows(results)
    rows = rows[rows["namespace_bytes"].notna() & (rows["n"] > 0)]
    if rows.empty:
        return pd.DataFrame()
    record = record_bytes_measured(rows).to_numpy(dtype=np.float64)
    out = pd.DataFrame({
        "dataset": rows["dataset"].to_numpy(),
        "engine": rows["engine"].to_numpy(),
        "configuration": rows["label"].to_numpy(),
        "measured n": rows["n"].to_numpy(dtype=np.int64),
        "record bytes": record,
        "recall@k": rows["recall_mean"].to_numpy(dtype=np.float64),
        "measured distances/query": rows["distance_computations_per_query"].to_numpy(dtype=np.float64),
        "measured bytes scanned/query": rows["bytes_scanned_per_query"].to_numpy(dtype=np.float64),
        "measured RU/query": rows["read_units_per_query"].to_numpy(dtype=np.float64),
    })
    for n in scales:
        namespace = n * record
        out[f"projected RU/query @{_scale_label(n)}"] = [query_read_units(int(b)) for b in namespace]
        out[f"projected storage GB-month @{_scale_label(n)}"] = namespace / GB
    return out.sort_values(["dataset", "engine", "recall@k"]).reset_index(drop=True)


def projection_note(scales: Sequence[int] = SCALES) -> str:
    """Return the caption that labels the table as a projection and says how it is computed."""
    sizes = ", ".join(_scale_label(n) for n in scales)
    return (f"PROJECTION, not a measurement: each unfiltered configuration's bill at {sizes} records, from the "
            "documented formulas (record = id + 4 × dimension + 9 × sparse non-zeros + metadata bytes; query = "
            "max(0.25, namespace GB) read units; storage billed per GB-month) and the record size measured in this "
            "run. The measured columns are true work at the measured size: the bill is the same for every engine, "
            "the work is not.")
