"""The persistence half of ``Client``: close, backups and restore (arch_cost_spec §5.2-5.3).

``Client`` inherits this mixin; ``self._storage`` is the client's MemoryStorage or DiskStorage.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Mapping

from ..errors import InvalidArgumentError, NotFoundError
from .backups import (
    BackupList,
    BackupModel,
    RestoreJobModel,
    batches_of,
    capture,
    materialise,
    model_for,
    new_backup_id,
    now_iso,
)
from .config import config_from_dict


class ClientStorageMixin:
    """Adds ``close``, backups and restores to ``Client``."""

    _storage: Any
    _restore_jobs: dict[str, RestoreJobModel]

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def path(self) -> str | None:
        """The database folder of a persistent client (None in memory)."""
        root = getattr(self._storage, "root", None)
        return None if root is None else str(root)

    @property
    def read_only(self) -> bool:
        return bool(self._storage.read_only)

    def close(self) -> None:
        """Stop background work, close the logs and release the folder lock (idempotent)."""
        if self._storage.closed:
            return
        with self._lock:  # type: ignore[attr-defined]
            indexes = list(self._indexes.values())  # type: ignore[attr-defined]
        self._storage.close(indexes)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- backups -------------------------------------------------------------------------------
    def create_backup(self, index_name: str, backup_name: str | None = None, description: str | None = None,
                      **_: Any) -> BackupModel:
        """Back up an index: a consistent snapshot of its live records, kept until deleted."""
        self._storage.check_writable()
        index = self._get(index_name)  # type: ignore[attr-defined]
        if backup_name is not None and not isinstance(backup_name, str):
            raise InvalidArgumentError("backup_name must be a string", path="backup_name")
        config, parts = capture(index)
        snapshot = materialise(config, parts)
        meta = dict(self._meta.get(index_name, {}))  # type: ignore[attr-defined]
        model = model_for(new_backup_id(), backup_name, description, index_name, meta, snapshot)
        self._storage.backups.save(model, snapshot)
        return model

    def list_backups(self, index_name: str | None = None, **_: Any) -> BackupList:
        """Return the backups (of one index, or all), newest first."""
        models = self._storage.backups.models()
        if index_name is not None:
            models = [m for m in models if m.source_index_name == index_name]
        return BackupList(sorted(models, key=lambda m: m.created_at, reverse=True))

    def describe_backup(self, backup_id: str, **_: Any) -> BackupModel:
        """Return one backup's description."""
        return self._storage.backups.model(self._backup_id(backup_id))

    def delete_backup(self, backup_id: str, **_: Any) -> None:
        """Delete a backup."""
        self._storage.backups.delete(self._backup_id(backup_id))

    def _backup_id(self, key: Any) -> str:
        """Resolve a backup id, or a backup name that is unique."""
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError("backup_id must be a non-empty string", path="backup_id")
        models = self._storage.backups.models()
        if any(m.backup_id == key for m in models):
            return key
        named = [m for m in models if m.name == key]
        if len(named) == 1:
            return named[0].backup_id
        if len(named) > 1:
            raise InvalidArgumentError(f"{len(named)} backups are named {key!r}; pass a backup_id", path="backup_id")
        raise NotFoundError(f"backup {key!r} not found", path="backup_id")

    def create_index_from_backup(self, backup_id: str, name: str, tags: Mapping[str, str] | None = None,
                                 deletion_protection: str = "disabled", **_: Any) -> Any:
        """Create index ``name`` from a backup (by id or unique name); only name, tags and protection change."""
        started = now_iso()
        key = self._backup_id(backup_id)
        model = self._storage.backups.model(key)
        snapshot = self._storage.backups.snapshot(key)
        config = config_from_dict(snapshot.config)
        self.create_index(  # type: ignore[attr-defined]
            name=name, dimension=config.dimension, metric=config.metric, spec=dict(config.spec),
            vector_type=config.vector_type, deletion_protection=deletion_protection,
            tags=model.tags if tags is None else tags, engine=config.engine,
        )
        index = self._get(name)  # type: ignore[attr-defined]
        if isinstance(config.spec.get("embed"), Mapping):  # an integrated index keeps its model (D:18690)
            from ..integrated import attach_embed

            attach_embed(self, name, config.spec["embed"])
        for ns_name, rows, _ in snapshot.namespaces:
            for batch in batches_of(rows):
                with index._lock:
                    ns = index._namespace(ns_name, create=True)
                    _, ticket = index._commit(ns, "upsert", batch)
                index._journal.sync(ticket)
        job = RestoreJobModel(str(uuid.uuid4()), key, name, name, "Completed", started, now_iso(), 100.0)
        with _jobs_lock:
            if not hasattr(self, "_restore_jobs"):
                self._restore_jobs = {}
            self._restore_jobs[job.restore_job_id] = job
        return self.describe_index(name)  # type: ignore[attr-defined]

    def list_restore_jobs(self, **_: Any) -> list[RestoreJobModel]:
        """Return the restore jobs of this client session, oldest first."""
        with _jobs_lock:
            return sorted(getattr(self, "_restore_jobs", {}).values(), key=lambda j: j.created_at)

    def describe_restore_job(self, job_id: str, **_: Any) -> RestoreJobModel:
        with _jobs_lock:
            job = getattr(self, "_restore_jobs", {}).get(job_id)
        if job is None:
            raise NotFoundError(f"restore job {job_id!r} not found", path="job_id")
        return job


_jobs_lock = threading.Lock()
