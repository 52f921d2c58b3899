"""The persistence and freshness half of ``Index``: the write seam, wait_for_lsn and imports.

``Index`` inherits this mixin. Its write methods call ``_commit`` (log, then apply or queue)
with the index lock held and ``self._journal.sync(ticket)`` after releasing it; requests that
read state before they write call ``_catch_up`` first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import DeadlineExceededError, InvalidArgumentError
from ..identifiers import canonical_namespace
from ..lsn import Lsn
from ..pagination import decode_token, encode_token
from .builder import IndexBuilder, check_freshness
from .imports import Imports, ImportModel, ListImportsResponse, StartImportResponse
from .journal import NULL_JOURNAL, apply_op

if TYPE_CHECKING:
    from ..namespace import Namespace

_POLL_SECONDS = 0.005


class IndexStorageMixin:
    """Adds durable writes, eventual consistency, ``wait_for_lsn`` and imports to ``Index``."""

    _journal: Any = NULL_JOURNAL
    _builder: IndexBuilder | None = None
    _storage: Any = None
    _imports: Imports | None = None

    # -- the write seam ----------------------------------------------------------------------
    def _commit(self, ns: Namespace, op: str, payload: Any) -> tuple[Lsn, Any]:
        """Log a validated write under the namespace's next LSN, then apply it or queue it.

        Call with the index lock held; nothing changes if the journal refuses the write.
        Pass the returned ticket to ``self._journal.sync`` once the lock is released.
        """
        lsn = Lsn(ns.last_lsn + 1)
        ticket = self._journal.append(ns, lsn, op, payload)
        ns.next_lsn()
        if self._builder is None:
            apply_op(ns, lsn, op, payload)
        else:
            self._builder.submit(ns, lsn, op, payload)
        return lsn, ticket

    def _catch_up(self, ns: Namespace | None) -> None:
        """Apply this namespace's queued writes now (eventual mode), before reading state to write."""
        if self._builder is not None and ns is not None:
            self._builder.drain(ns)

    def _forget_namespace(self, ns: Namespace) -> None:
        """Drop a namespace's queued writes and storage (call before removing it; may refuse)."""
        self._journal.drop_namespace(ns)
        if self._builder is not None:
            self._builder.discard(ns)

    def _check_writable(self) -> None:
        if self._storage is not None:
            self._storage.check_writable()

    def _stop_builder(self) -> None:
        builder, self._builder = self._builder, None
        if builder is not None:
            builder.stop()

    # -- freshness -----------------------------------------------------------------------------
    @property
    def consistency(self) -> str:
        """"strong" (reads see every acknowledged write) or "eventual" (after ``apply_delay``)."""
        return "strong" if self._builder is None else "eventual"

    @property
    def apply_delay(self) -> float:
        return 0.0 if self._builder is None else self._builder.apply_delay

    def set_consistency(self, consistency: str, apply_delay: float | None = None) -> None:
        """Switch this index to "strong" or "eventual" consistency (``apply_delay`` seconds)."""
        mode, delay = check_freshness(consistency, self.apply_delay if apply_delay is None else apply_delay)
        with self._lock:  # type: ignore[attr-defined]
            if mode == "strong":
                if self._builder is not None:
                    self._builder.drain()
                self._stop_builder()
            elif self._builder is None:
                self._builder = IndexBuilder(self, delay)
            else:
                self._builder.apply_delay = delay

    def wait_for_lsn(self, lsn: int, namespace: str | None = None, timeout: float | None = 30.0) -> int:
        """Block until reads of ``namespace`` reflect the write with this LSN; return max_indexed_lsn.

        Raises DeadlineExceededError after ``timeout`` seconds (None waits forever).
        """
        if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0:
            raise InvalidArgumentError(f"lsn must be a non-negative integer, got {lsn!r}", path="lsn")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
            raise InvalidArgumentError(f"timeout must be a number of seconds >= 0, got {timeout!r}", path="timeout")
        name = canonical_namespace(namespace)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ns = self._namespaces.get(name)  # type: ignore[attr-defined]
            reached = 0 if ns is None else int(ns.max_indexed_lsn)
            if reached >= lsn:
                return reached
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError(
                    f"namespace {name!r} of index {self.name!r} reflects LSN {reached}, not yet {lsn}, "  # type: ignore[attr-defined]
                    f"after {timeout} s", path="lsn")
            step = _POLL_SECONDS * 10 if remaining is None else min(_POLL_SECONDS * 10, remaining)
            builder = self._builder
            if builder is not None:
                builder.wait(step)
            else:
                time.sleep(min(step, _POLL_SECONDS))

    # -- imports ------------------------------------------------------------------------------
    def _import_jobs(self) -> Imports:
        with self._lock:  # type: ignore[attr-defined]
            if self._imports is None:
                self._imports = Imports()
            return self._imports

    def start_import(self, uri: str, integration_id: str | None = None, error_mode: Any = "continue",
                     **_: Any) -> StartImportResponse:
        """Start importing Parquet files from a local folder or file:// URI (namespace subfolders)."""
        return self._import_jobs().start(self, uri, error_mode)  # type: ignore[arg-type]

    def describe_import(self, id: str, **_: Any) -> ImportModel:  # noqa: A002 - SDK name
        """Return an import's status, progress and records imported."""
        return self._import_jobs().job(id).describe()

    def list_imports_paginated(self, limit: int | None = None, pagination_token: str | None = None,
                               **_: Any) -> ListImportsResponse:
        """Return one page of imports, oldest first."""
        from ..responses import Pagination

        limit = 100 if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}", path="limit")
        jobs = [job.describe() for job in self._import_jobs().all()]
        if pagination_token is not None:
            after = int(decode_token(pagination_token))
            jobs = [j for j in jobs if int(j.id) > after]
        page = jobs[:limit]
        more = len(jobs) > limit
        return ListImportsResponse(page, Pagination(encode_token(page[-1].id)) if more else None)

    def list_imports(self, **kwargs: Any) -> Iterator[ImportModel]:
        """Yield every import of this index."""
        token = None
        while True:
            page = self.list_imports_paginated(pagination_token=token, **kwargs)
            yield from page.data
            if page.pagination is None:
                return
            token = page.pagination.next

    def cancel_import(self, id: str, **_: Any) -> None:  # noqa: A002 - SDK name
        """Cancel a pending or running import (no effect once it finished)."""
        self._import_jobs().job(id).cancel()
