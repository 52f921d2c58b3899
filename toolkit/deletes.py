"""Deletes, the superset: ids ∧ filter ∧ where_document, an optional limit, and the number deleted.

``Index.delete_records`` is the one delete core the three contracts share: the reference
service's ``Index.delete`` keeps its own stricter rules (one mode per request, ≤1000 ids,
an ``{}`` response), while the Chroma and Vectorizer adapters (``toolkit.compat``) only
translate their arguments to this one call.

Rules of a ``delete_records`` request (checked before anything changes):

* at least one selector: ``ids``, ``filter`` or ``where_document``; the selectors given
  are intersected (a record goes only if it is listed AND matches every filter);
* a request whose only selectors are filters that match everything (``{}``,
  ``{"$and": [{}]}``) is refused: empty a namespace with ``delete(delete_all=True)``;
* ``ids`` may hold any number of ids (unknown ids are ignored, repeats count once);
* ``limit`` (``None`` or an integer ≥ 0) caps how many records go. Which ones is
  deterministic: the first ``limit`` matching ids in **bytewise id order** — the order of
  ``list()`` — so a repeated request with the same limit walks through the matches page
  by page, independent of LSNs, merges and reopen;
* ``dry_run=True`` answers the ids that would go and changes nothing (seed 002's "verify
  before delete"; the compat adapters also read filtered ids through it);
* the whole delete is ONE logged write with one LSN; the response carries ``deleted``
  (records that existed and are now gone), ``lsn`` and the billed write units
  (``max(5, ceil(deleted KB))``, as the reference bills a delete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .errors import InvalidArgumentError
from .identifiers import check_record_id
from .responses import Usage


@dataclass(frozen=True)
class DeleteResponse:
    """What ``Index.delete_records`` answers: how many records went, under which LSN, at what cost."""

    deleted: int  # records that existed and are gone (0 on a dry run)
    lsn: int | None  # None when nothing was logged (unknown namespace, dry run)
    usage: Usage
    ids: list[str]  # the ids that went (or would go, on a dry run), bytewise order

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "lsn": self.lsn, "usage": self.usage.to_dict(), "ids": list(self.ids)}


def check_limit(limit: Any) -> int | None:
    """Validate ``limit``: None (no cap) or an integer ≥ 0 (bool is not an integer)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgumentError(f"limit must be an integer >= 0 or None, got {limit!r}", path="limit")
    return limit


def check_ids(ids: Any) -> list[str] | None:
    """Validate ``ids`` (any number of record ids; repeats are kept once, in first order)."""
    if ids is None:
        return None
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidArgumentError("ids must be a list of record ids", path="ids")
    return list(dict.fromkeys(check_record_id(i, f"ids[{n}]") for n, i in enumerate(ids)))


def choose(matching: Iterable[str], limit: int | None) -> list[str]:
    """Return the ids that go: the first ``limit`` of ``matching`` in bytewise id order."""
    ordered = sorted(matching)  # ASCII record ids: str order is byte order
    return ordered if limit is None else ordered[:limit]
