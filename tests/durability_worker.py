"""A writer process for the SIGKILL tests: applies a deterministic plan of writes and acks each one.

``run`` is the child's entry point (started through a forkserver that preloaded toolkit, so a
child starts in milliseconds). Op ``n`` of the plan is ``plan_op(n)``. After a write returns
(it is durable then), the child appends ``"<n> <lsn>\\n"`` to the ack file with one
``os.write``, so the file holds exactly the acknowledged ops. It sets ``ready`` once the
database is open and never stops on its own.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

POOL = 300  # ids per namespace: upserts overwrite and deletes hit existing records
DIMENSION = 8
ENGINE = {"memtable_max_records": 120, "merge_fanout": 2}


def plan_op(n: int) -> tuple[str, str, Any]:
    """Return op ``n``: (kind, namespace, argument) — deterministic, shared with the verifier."""
    rng = np.random.default_rng(n)
    ns = "a" if n % 2 == 0 else "b"
    roll = 0 if n < 2 else rng.random()
    if roll < 0.72:
        ids = sorted({f"r{int(i)}" for i in rng.integers(0, POOL, 40)})
        values = rng.normal(size=(len(ids), DIMENSION)).astype(np.float32) + np.float32(0.01)
        records = [{"id": i, "values": v.tolist(), "metadata": {"op": n, "id": i}} for i, v in zip(ids, values)]
        return "upsert", ns, records
    if roll < 0.88:
        return "delete", ns, sorted({f"r{int(i)}" for i in rng.integers(0, POOL, 15)})
    if roll < 0.99:
        return "update", ns, (f"r{int(rng.integers(0, POOL))}", {"updated": n})
    return "delete_all", ns, None


def apply_to_model(model: dict[str, dict[str, Any]], n: int) -> None:
    """Apply op ``n`` to the expected state: ns -> id -> (values, metadata), plus "_lsn" per ns."""
    kind, ns, arg = plan_op(n)
    records = model.setdefault(ns, {})
    lsns = model.setdefault("_lsn", {})
    lsns[ns] = lsns.get(ns, 0) + 1
    if kind == "upsert":
        for r in arg:
            records[r["id"]] = (tuple(np.float32(r["values"]).tolist()),
                                {k: float(v) if isinstance(v, int) else v for k, v in r["metadata"].items()})
    elif kind == "delete":
        for i in arg:
            records.pop(i, None)
    elif kind == "update":
        record_id, meta = arg
        if record_id in records:
            values, old = records[record_id]
            records[record_id] = (values, {**old, **{k: float(v) for k, v in meta.items()}})
    else:
        records.clear()


def run(db: str, ack_path: str, first: int, background: bool, crash_at: str | None, ready: Any) -> None:
    """Open the database and apply ops ``first, first + 1, ...`` until killed."""
    if crash_at:
        os.environ["TOOLKIT_STORAGE_CRASH_AT"] = crash_at
    import toolkit

    client = toolkit.Client(path=db)
    if not client.has_index("k"):
        client.create_index("k", dimension=DIMENSION, metric="euclidean",
                            engine={**ENGINE, "background_merges": background})
    ix = client.Index("k")
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ready.set()
    n = first
    while True:
        kind, ns, arg = plan_op(n)
        if kind == "upsert":
            lsn = ix.upsert(arg, namespace=ns).lsn
        elif kind == "delete":
            lsn = ix.delete(ids=arg, namespace=ns).lsn
        elif kind == "update":
            lsn = ix.update(id=arg[0], set_metadata=arg[1], namespace=ns).lsn
        else:
            lsn = ix.delete(delete_all=True, namespace=ns).lsn
        os.write(ack, f"{n} {lsn}\n".encode())
        n += 1
