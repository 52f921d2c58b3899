"""Imports: bulk-load Parquet files laid out like the reference service's imports (arch_cost_spec §5.1).

    <folder>/<namespace>/*.parquet        one subfolder per target namespace (``__default__`` = default)

Columns (no others allowed): ``id`` (string) and ``values`` (list<float>) for a dense index,
``sparse_values`` (struct<indices: list<uint32>, values: list<float>>) for a sparse one (and
optionally beside ``values`` for hybrid records), ``metadata`` (a JSON string, NULL to omit).

``start_import`` returns at once; a background thread checks every file's columns and every
target namespace first (a namespace that already holds records fails the import with the
documented error text), then loads the rows in request-sized batches through the shard's
commit funnel (logged, durable, one LSN per batch; no write units are billed). Error mode
"abort" fails the import at the first bad record; "continue" skips bad records, and only
``records_imported`` shows the shortfall. Statuses: Pending, InProgress, Completed, Failed,
Cancelled. The reference's 10-minute minimum duration is not modelled.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import cost
from .display import DisplayMixin
from .errors import InvalidArgumentError, NotFoundError, ToolkitError, UnimplementedError
from .identifiers import canonical_namespace
from .journal import Upsert
from .records import RecordBatch, parse_records
from .settings import Settings
from .shard import LocalShard
from .storage.backups import now_iso

MAX_NAMESPACES = 10_000
MAX_FILES = 100_000
ROWS_PER_BATCH = 1000
ERROR_MODES = ("continue", "abort")
_TERMINAL = ("Completed", "Failed", "Cancelled")


@dataclass
class ImportModel(DisplayMixin):
    """One import job, as describe_import answers."""

    id: str
    uri: str
    status: str
    created_at: str
    finished_at: str | None = None
    percent_complete: float = 0.0
    records_imported: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["error"] is None:
            del out["error"]
        return out


@dataclass
class StartImportResponse(DisplayMixin):
    id: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id}


@dataclass
class ListImportsResponse(DisplayMixin):
    data: list[ImportModel]
    pagination: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"data": [m.to_dict() for m in self.data]}
        if self.pagination is not None:
            out["pagination"] = self.pagination.to_dict()
        return out


class _Failed(Exception):
    """Stop an import with status Failed and this message."""


def local_folder(uri: Any) -> Path:
    """Return the folder of a local path or ``file://`` URI; other schemes are not available here."""
    if not isinstance(uri, str) or not uri:
        raise InvalidArgumentError("uri must be a non-empty string", path="uri")
    if uri.startswith("file://"):
        folder = Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
    elif "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise UnimplementedError(
            f"imports from {scheme}:// are not available locally; use a local folder or a file:// URI", path="uri")
    else:
        folder = Path(uri).expanduser()
    if not folder.is_dir():
        raise InvalidArgumentError(f"the import folder {str(folder)!r} does not exist", path="uri")
    return folder


def check_error_mode(error_mode: Any) -> str:
    mode = getattr(error_mode, "value", error_mode)
    if isinstance(mode, dict):  # the REST shape {"onError": "continue"}
        mode = mode.get("onError", mode.get("on_error"))
    if mode is None:
        return "continue"
    if not isinstance(mode, str) or mode.lower() not in ERROR_MODES:
        raise InvalidArgumentError(f"error_mode must be 'continue' or 'abort', got {error_mode!r}", path="error_mode")
    return mode.lower()


class ImportJob:
    """One running or finished import into one index."""

    def __init__(self, shard: LocalShard, settings: Settings, ledger: cost.UsageLedger, job_id: str, uri: str,
                 folder: Path, error_mode: str) -> None:
        self.shard = shard
        self.settings = settings
        self.ledger = ledger
        self.folder = folder
        self.error_mode = error_mode
        self.model = ImportModel(job_id, uri, "Pending", now_iso())
        self._lock = threading.Lock()
        self._cancelled = False
        self.thread = threading.Thread(target=self._run, name=f"import-{shard.name}-{job_id}", daemon=True)

    def describe(self) -> ImportModel:
        with self._lock:
            return ImportModel(**self.model.__dict__)

    def cancel(self) -> None:
        with self._lock:
            if self.model.status in _TERMINAL:
                return  # no effect once finished (D:6260)
            self._cancelled = True
            self._finish("Cancelled")

    def _finish(self, status: str, error: str | None = None) -> None:
        self.model.status = status
        self.model.error = error
        self.model.finished_at = now_iso()

    def _run(self) -> None:
        try:
            with self._lock:
                if self._cancelled:
                    return
                self.model.status = "InProgress"
            plan, total = self._plan()
            done = 0
            lsns: dict[str, int] = {}
            for ns_name, files in plan:
                for path in files:
                    for records in self._read(path):
                        with self._lock:
                            if self._cancelled:
                                return
                        lsn = self._load(ns_name, records)
                        if lsn is not None:
                            lsns[ns_name] = lsn
                        done += len(records)
                        with self._lock:
                            self.model.percent_complete = round(100.0 * done / max(total, 1), 1)
            with self._lock:
                self.model.percent_complete = 100.0
            for ns_name, lsn in lsns.items():  # InProgress at 100% until indexed (D:5937)
                self.shard.wait_for_lsn(lsn, ns_name, timeout=None)
            with self._lock:
                if not self._cancelled:
                    self._finish("Completed")
        except _Failed as exc:
            with self._lock:
                if not self._cancelled:
                    self._finish("Failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - report every failure on the job, never lose it in a thread
            with self._lock:
                if not self._cancelled:
                    self._finish("Failed", f"We were unable to process your request: {type(exc).__name__}: {exc}")

    def _plan(self) -> tuple[list[tuple[str, list[Path]]], int]:
        import pyarrow.parquet as pq

        plan = []
        for directory in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".parquet")
            if files:
                try:
                    name = canonical_namespace(directory.name)
                except ToolkitError as exc:
                    raise _Failed(f"User error: {directory.name!r} is not a valid namespace name: {exc}") from None
                plan.append((name, files))
        if not plan:
            raise _Failed(f"User error: no namespace folder with Parquet files under {self.model.uri}")
        if len(plan) > MAX_NAMESPACES or sum(len(f) for _, f in plan) > MAX_FILES:
            raise _Failed(f"User error: an import takes at most {MAX_NAMESPACES} namespaces and {MAX_FILES} files")
        allowed, required = self._columns()
        total = 0
        for _, files in plan:
            for path in files:
                try:
                    meta = pq.ParquetFile(path)
                except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
                    raise _Failed(f"User error: cannot read {path.name}: {exc}") from None
                columns = set(meta.schema_arrow.names)
                if columns - allowed:
                    raise _Failed(f"User error: {path.relative_to(self.folder)} has unexpected column(s) "
                                  f"{sorted(columns - allowed)}; allowed: {sorted(allowed)}")
                if required - columns:
                    raise _Failed(f"User error: {path.relative_to(self.folder)} lacks required column(s) "
                                  f"{sorted(required - columns)}")
                total += meta.metadata.num_rows
        views = self.shard.views(consistent=True)
        for name, _ in plan:
            view = views.get(name)
            if view is not None and view.live_count():
                raise _Failed(f'User error: The namespace "{name}" already exists. '
                              "Imports are only allowed into nonexistent namespaces.")
        return plan, total

    def _columns(self) -> tuple[set[str], set[str]]:
        config = self.shard.config
        if config.vector_type == "sparse":
            return {"id", "sparse_values", "metadata"}, {"id", "sparse_values"}
        allowed = {"id", "values", "metadata"}
        if config.metric == "dotproduct":
            allowed.add("sparse_values")
        return allowed, {"id", "values"}

    def _read(self, path: Path) -> Iterator[list[dict[str, Any]]]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_BATCH):
            records = []
            for row in batch.to_pylist():
                record = {k: v for k, v in row.items() if v is not None}
                text = record.get("metadata")
                if text is not None:
                    try:
                        record["metadata"] = json.loads(text)
                    except (TypeError, ValueError):
                        if self.error_mode == "abort":
                            raise _Failed(f"User error: record {row.get('id')!r} in {path.name}: metadata is not "
                                          "a JSON object") from None
                        continue
                records.append(record)
            yield records

    def _load(self, ns_name: str, records: list[dict[str, Any]]) -> int | None:
        """Validate and write records; return the last LSN used (None if nothing was written)."""
        lsn = None
        for batch in self._valid_batches(records, self.settings):
            started = time.perf_counter()
            done = self.shard.commit(ns_name, Upsert(batch))
            self.shard.sync(done)
            lsn = done.lsn
            self.ledger.record(cost.LedgerEntry("import", ns_name, seconds=time.perf_counter() - started,
                                                records=len(batch), lsn=lsn))
            with self._lock:
                self.model.records_imported += len(batch)
        return lsn

    def _valid_batches(self, records: list[dict[str, Any]], settings: Settings) -> Iterator[RecordBatch]:
        """Yield validated batches; split on failure to find (skip or abort on) the bad records."""
        if not records:
            return
        try:
            yield parse_records(records, self.shard.config.shape, max_metadata_bytes=settings.max_metadata_bytes,
                                sparse_max_nnz=settings.sparse_max_nnz)
            return
        except InvalidArgumentError as exc:
            if len(records) == 1:
                if self.error_mode == "abort":
                    raise _Failed(f"User error: record {records[0].get('id')!r}: {exc}") from None
                return
        middle = len(records) // 2  # bad records or a batch over 2 MB: halve until each part passes
        yield from self._valid_batches(records[:middle], settings)
        yield from self._valid_batches(records[middle:], settings)


class Imports:
    """The import jobs of one index."""

    def __init__(self) -> None:
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()
        self._next = 1

    def start(self, shard: LocalShard, settings: Settings, ledger: cost.UsageLedger, uri: str,
              error_mode: Any) -> StartImportResponse:
        folder = local_folder(uri)
        mode = check_error_mode(error_mode)
        shard.check_writable()
        with self._lock:
            job_id = str(self._next)
            self._next += 1
            job = self._jobs[job_id] = ImportJob(shard, settings, ledger, job_id, uri, folder, mode)
        job.thread.start()
        return StartImportResponse(job_id)

    def job(self, job_id: Any) -> ImportJob:
        with self._lock:
            job = self._jobs.get(str(job_id))
        if job is None:
            raise NotFoundError(f"import {job_id!r} not found", path="id")
        return job

    def all(self) -> list[ImportJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: int(j.model.id))
