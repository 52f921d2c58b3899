"""Response headers: request ids and the LSN headers every data-plane response carries.

SDK 10.x reads ``lsn_committed`` from ``x-pinecone-request-lsn`` (falling back to
``x-pinecone-lsn-committed``) and ``lsn_reconciled`` from ``x-pinecone-max-indexed-lsn``
(falling back to ``x-pinecone-lsn-reconciled``); 9.x reads only the newer pair (sdk_wire §6).
So all four are sent. LSNs are per namespace (dataplane_spec §10): a write reports its own
LSN; a read reports the namespace's newest committed LSN and the highest LSN it reflects;
index-wide calls (stats, namespace listing) report the maximum over namespaces.
"""

from __future__ import annotations

import itertools
import os


_PREFIX = os.urandom(4).hex()
_COUNTER = itertools.count(1)


def request_id() -> str:
    """A unique id per request (``x-pinecone-request-id``); cheap: process prefix + counter."""
    return f"{_PREFIX}-{next(_COUNTER):08x}"


def lsn_headers(committed: int | None, reconciled: int | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if committed is not None:
        out["x-pinecone-request-lsn"] = out["x-pinecone-lsn-committed"] = str(int(committed))
    if reconciled is not None:
        out["x-pinecone-max-indexed-lsn"] = out["x-pinecone-lsn-reconciled"] = str(int(reconciled))
    return out
