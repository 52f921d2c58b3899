"""Backups: consistent snapshots of an index, and restoring them as a new index (arch_cost_spec §5.2-5.3).

A backup holds the index config and, per namespace, the live rows at one moment (taken by
the client from its shard's views, see toolkit/backup_jobs.py). An in-memory client keeps backups
in memory; a persistent one writes ``<folder>/backups/<backup id>/`` (backup.json plus one
slab-format directory per namespace, see slabfile.py), renamed into place when complete.
Restoring replays the rows through the new index's commit funnel, so they are durable and
indexed like any write. The docs' 15-minute cutoff (D:14554) is not modelled: a backup holds
everything applied when it was taken (in eventual mode: up to each namespace's max_indexed_lsn).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from ..display import DisplayMixin
from ..errors import DataLossError, NotFoundError
from ..segment import Rows
from .files import fsync_dir, read_checked_json, remove_tree, write_checked_json
from .slabfile import read_rows_dir, write_rows_dir

log = logging.getLogger(__name__)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class BackupModel(DisplayMixin):
    """A backup's description (the reference service's BackupModel fields)."""

    backup_id: str
    source_index_name: str
    source_index_id: str
    name: str | None
    description: str | None
    status: str
    cloud: str
    region: str
    dimension: int | None
    metric: str
    record_count: int
    namespace_count: int
    size_bytes: int
    tags: dict[str, str] | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}


@dataclass
class BackupList(DisplayMixin):
    """Backups, newest first; iterate it or call ``names()``."""

    data: list[BackupModel]

    def __iter__(self) -> Iterator[BackupModel]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def names(self) -> list[str | None]:
        return [b.name for b in self.data]

    def to_dict(self) -> dict[str, Any]:
        return {"data": [b.to_dict() for b in self.data]}


@dataclass
class RestoreJobModel(DisplayMixin):
    """A restore job (create index from backup); restores here complete before they return."""

    restore_job_id: str
    backup_id: str
    target_index_name: str
    target_index_id: str
    status: str
    created_at: str
    completed_at: str | None
    percent_complete: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Snapshot:
    """An index's config and, per namespace, its live rows and applied LSN."""

    config: dict[str, Any]
    namespaces: list[tuple[str, Rows, int]] = field(default_factory=list)


def model_for(backup_id: str, name: str | None, description: str | None, index_name: str,
              meta: dict[str, Any], snapshot: Snapshot) -> BackupModel:
    spec = snapshot.config.get("spec") or {}
    serverless = spec.get("serverless", {}) if isinstance(spec, dict) else {}
    return BackupModel(
        backup_id=backup_id, source_index_name=index_name, source_index_id=index_name, name=name,
        description=description, status="Ready", cloud=serverless.get("cloud", "aws"),
        region=serverless.get("region", "us-east-1"), dimension=snapshot.config.get("dimension"),
        metric=snapshot.config["metric"], record_count=sum(len(rows) for _, rows, _ in snapshot.namespaces),
        namespace_count=len(snapshot.namespaces),
        size_bytes=int(sum(int(rows.sizes.sum()) for _, rows, _ in snapshot.namespaces)),
        tags=dict(meta.get("tags") or {}) or None, created_at=now_iso(),
    )


class BackupStore(Protocol):
    """Where a client keeps its backups (``damaged``: the ids the last ``models()`` skipped as damaged)."""

    damaged: list[str]

    def save(self, model: BackupModel, snapshot: Snapshot) -> None: ...

    def models(self) -> list[BackupModel]: ...

    def model(self, backup_id: str) -> BackupModel: ...

    def snapshot(self, backup_id: str) -> Snapshot: ...

    def delete(self, backup_id: str) -> None: ...


class MemoryBackups:
    """Backups of an in-memory client: kept in this process."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[BackupModel, Snapshot]] = {}
        self._lock = threading.Lock()
        self.damaged: list[str] = []  # nothing in memory is ever damaged

    def save(self, model: BackupModel, snapshot: Snapshot) -> None:
        with self._lock:
            self._items[model.backup_id] = (model, snapshot)

    def models(self) -> list[BackupModel]:
        with self._lock:
            return [m for m, _ in self._items.values()]

    def model(self, backup_id: str) -> BackupModel:
        with self._lock:
            item = self._items.get(backup_id)
        if item is None:
            raise NotFoundError(f"backup {backup_id!r} not found", path="backup_id")
        return item[0]

    def snapshot(self, backup_id: str) -> Snapshot:
        self.model(backup_id)
        return self._items[backup_id][1]

    def delete(self, backup_id: str) -> None:
        self.model(backup_id)
        with self._lock:
            del self._items[backup_id]


class DiskBackups:
    """Backups of a persistent client: ``<folder>/backups/<backup id>/``."""

    def __init__(self, root: Path, storage: Any) -> None:
        self.root = root
        self._storage = storage
        self.damaged: list[str] = []  # backup ids the last listing skipped as damaged

    def save(self, model: BackupModel, snapshot: Snapshot) -> None:
        self._storage.check_writable()
        tmp = self.root / f".tmp-{model.backup_id}"
        remove_tree(tmp)
        tmp.mkdir(parents=True)
        namespaces = []
        for i, (name, rows, lsn) in enumerate(snapshot.namespaces):
            crc = write_rows_dir(tmp, f"{i:06d}", rows, {"kind": "backup", "namespace": name, "lsn": lsn})
            namespaces.append({"name": name, "dir": f"{i:06d}", "crc32": crc, "lsn": lsn})
        write_checked_json(tmp / "backup.json", {"format": "toolkit.backup/1", "model": model.to_dict(),
                                                 "config": snapshot.config, "namespaces": namespaces})
        fsync_dir(tmp)
        os.replace(tmp, self.root / model.backup_id)
        fsync_dir(self.root)

    def _info(self, backup_id: str) -> dict[str, Any]:
        path = self.root / str(backup_id) / "backup.json"
        if "/" in str(backup_id) or str(backup_id).startswith(".") or not path.parent.is_dir():
            raise NotFoundError(f"backup {backup_id!r} not found", path="backup_id")
        try:
            return read_checked_json(path)
        except FileNotFoundError:  # saves are renamed into place whole: a folder without it is damaged
            raise DataLossError(f"missing file {path}") from None

    def models(self) -> list[BackupModel]:
        """Return the healthy backups; a damaged one is skipped with a warning naming it (``damaged``)."""
        out, damaged = [], []
        for directory in sorted(self.root.iterdir()):
            if directory.is_dir() and not directory.name.startswith("."):
                try:
                    out.append(BackupModel(**self._info(directory.name)["model"]))
                except NotFoundError:
                    continue
                except (DataLossError, KeyError, TypeError) as exc:  # damaged, or not a backup.json at all
                    damaged.append(directory.name)
                    message = f"skipping damaged backup {directory / 'backup.json'}: {exc}"
                    log.warning(message)
                    warnings.warn(message, RuntimeWarning, stacklevel=3)
        self.damaged = damaged
        return out

    def model(self, backup_id: str) -> BackupModel:
        return BackupModel(**self._info(backup_id)["model"])

    def snapshot(self, backup_id: str) -> Snapshot:
        info = self._info(backup_id)
        snapshot = Snapshot(info["config"])
        for entry in info["namespaces"]:
            _, rows = read_rows_dir(self.root / backup_id / entry["dir"], entry["crc32"], full=True)  # read whole anyway
            snapshot.namespaces.append((entry["name"], rows, int(entry["lsn"])))
        return snapshot

    def delete(self, backup_id: str) -> None:
        self._storage.check_writable()
        self._info(backup_id)
        self._storage.trash(self.root / backup_id)


def new_backup_id() -> str:
    return str(uuid.uuid4())


__all__ = ["BackupModel", "BackupList", "RestoreJobModel", "Snapshot"]
