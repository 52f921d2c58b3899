"""Client: the control plane — create, describe, list, configure and delete indexes."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from .engine import SlabBuilder
from .engine_config import EngineConfig, check_engine
from .errors import (
    AlreadyExistsError,
    ForbiddenError,
    InvalidArgumentError,
    NotFoundError,
)
from . import backup_jobs
from .cluster import connect
from .freshness import check_freshness
from .identifiers import check_index_name
from .index import Index, IndexConfig
from .inference import Inference
from .journal import Journal
from .plugin_manager import get_plugin_manager, slab_builders
from .responses import IndexList, IndexModel
from .scoring import METRICS
from .sdk_options import CLIENT_OPTIONS, INDEX_OPTIONS, check_options, strict_keywords
from .settings import Settings
from .storage import Storage, open_storage
from .storage.backups import BackupList, BackupModel, RestoreJobModel, model_for, new_backup_id, now_iso
from .storage.config import config_from_dict

MAX_DIMENSION = 20_000
# dataplane_spec §4.1: the regions the reference service offers per cloud.
REGIONS = {
    "aws": {"us-east-1", "us-west-2", "eu-west-1"},
    "gcp": {"us-central1", "europe-west4"},
    "azure": {"eastus2"},
}
_TAG_KEY = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9;@_\-.+ ]{0,120}$")


@dataclass(frozen=True)
class ServerlessSpec:
    """Where a serverless index lives (kept for SDK parity; it changes nothing locally)."""

    cloud: str = "aws"
    region: str = "us-east-1"


def _parse_spec(spec: Any) -> dict[str, Any]:
    if spec is None:
        spec = ServerlessSpec()
    if isinstance(spec, ServerlessSpec) or (hasattr(spec, "cloud") and hasattr(spec, "region")):
        cloud, region = str(getattr(spec.cloud, "value", spec.cloud)), str(getattr(spec.region, "value", spec.region))
    elif isinstance(spec, Mapping) and isinstance(spec.get("serverless"), Mapping):
        cloud, region = spec["serverless"].get("cloud"), spec["serverless"].get("region")
    else:
        raise InvalidArgumentError("spec must be a ServerlessSpec or {'serverless': {cloud, region}}", path="spec")
    if cloud not in REGIONS:
        raise NotFoundError(f"unknown cloud {cloud!r}; one of {sorted(REGIONS)}", path="spec.serverless.cloud")
    if region not in REGIONS[cloud]:
        raise NotFoundError(f"unknown region {region!r} for {cloud}; one of {sorted(REGIONS[cloud])}",
                            path="spec.serverless.region")
    return {"serverless": {"cloud": cloud, "region": region}}


def _check_tags(tags: Any, *, allow_unset: bool) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError("tags must be an object of string keys and values", path="tags")
    for key, value in tags.items():
        if not isinstance(key, str) or not _TAG_KEY.match(key):
            raise InvalidArgumentError("tag keys are 1-80 characters of A-Z a-z 0-9 _ -", path=f"tags.{key}")
        if not isinstance(value, str) or not _TAG_VALUE.match(value) or (value == "" and not allow_unset):
            raise InvalidArgumentError("tag values are up to 120 characters of A-Z a-z 0-9 ; @ _ - . + space",
                                       path=f"tags.{key}")
    return dict(tags)


def _check_page_limit(limit: Any) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}", path="limit")
    return limit


def _check_protection(value: Any) -> str:
    value = getattr(value, "value", value)
    if value not in ("enabled", "disabled"):
        raise InvalidArgumentError("deletion_protection must be 'enabled' or 'disabled'", path="deletion_protection")
    return value


@strict_keywords
class Client:
    """A local vector database holding any number of indexes: in memory, or in the folder ``path``.

    ``Client(path="vectors.db")`` creates or reopens a persistent database: every write is
    durable when it returns, and one process may write while others open it ``read_only=True``.
    ``consistency="eventual"`` applies writes ``apply_delay`` seconds after their ack (reads
    report ``max_indexed_lsn``; ``Index.wait_for_lsn`` waits for a write to be visible).

    ``plugins`` registers extra engine plugins (modules or objects with ``hookimpl``
    functions) beside the installed ones; ``settings`` chooses the documented
    alternatives where the reference docs disagree.
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        settings: Settings | Mapping[str, Any] | None = None,
        plugins: Iterable[object] = (),
        api_key: str | None = None,
        host: str = "local://",
        read_only: bool = False,
        consistency: str = "strong",
        apply_delay: float = 0.0,
        cluster: Any = None,
        **sdk_options: Any,
    ) -> None:
        check_options("Client", sdk_options, CLIENT_OPTIONS)  # the SDK's transport options change nothing here
        if isinstance(settings, Mapping):
            settings = Settings.from_dict(dict(settings))
        self.settings = settings or Settings()
        self._plugins = tuple(plugins)
        self._builders: Mapping[str, type[SlabBuilder]] | None = None
        self._builders = MappingProxyType(slab_builders(get_plugin_manager(self._plugins)))  # checked at start-up
        self._inference = Inference(self._plugins)  # embedders and rerankers, checked at start-up too
        # The prefix of every index host: "local://" + name, or e.g. "http://127.0.0.1:5080/" + name.
        self._host = host if host.endswith("://") else host.rstrip("/") + "/"
        self._indexes: dict[str, Index] = {}
        self._meta: dict[str, dict[str, Any]] = {}  # deletion_protection and tags per index
        self._lock = threading.RLock()
        self._restore_jobs: dict[str, RestoreJobModel] = {}
        self._freshness = check_freshness(consistency, apply_delay)
        # cluster=: a dask.distributed.Client, LocalCluster or scheduler address; slabs live on its workers.
        self._dask: Any = None
        self._owns_dask = False
        if cluster is not None:
            self._dask, self._owns_dask = connect(cluster)
        # Persistence seam: MemoryStorage, or DiskStorage for a folder (locks it, reads its indexes).
        self._storage: Storage = open_storage(path, read_only=read_only)
        try:
            for stored in self._storage.load(self.builders):  # builders are made when an index needs them
                self._indexes[stored.config.name] = self._open_index(stored.config, stored.journal)
                self._meta[stored.config.name] = stored.meta
        except BaseException:  # a failed open leaves nothing running: no builder, no open log, no folder lock
            for index in self._indexes.values():
                index._shard.close()
            self._storage.close()
            raise

    def _open_index(self, config: IndexConfig, journal: Journal) -> Index:
        """Make the façade of an index over its journal, in this client's freshness mode."""
        if self._dask is None:
            index = Index(config, self.settings, self.builders(), journal)
        else:  # slabs on the cluster's workers; reads may opt in to partial results (cluster_index.py)
            from .cluster_index import ClusterIndex

            index = ClusterIndex(config, self.settings, self.builders(), journal, cluster=self._dask)
        index.set_consistency(*self._freshness)
        return index

    # -- engines ---------------------------------------------------------------------------
    def builders(self) -> Mapping[str, type[SlabBuilder]]:
        """Return every registered slab builder by name (installed plugins + ``plugins``)."""
        if self._builders is None:
            self._builders = MappingProxyType(slab_builders(get_plugin_manager(self._plugins)))
        return self._builders

    def _check_engine(self, engine: EngineConfig, metric: str, vector_type: str) -> None:
        """Refuse at create time an engine that cannot serve this index."""
        check_engine(engine, self.builders(), metric, vector_type)

    # -- control plane ---------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        dimension: int | None = None,
        metric: str | None = None,
        spec: Any = None,
        vector_type: str = "dense",
        deletion_protection: str = "disabled",
        tags: Mapping[str, str] | None = None,
        engine: Any = None,
        timeout: int | None = None,
    ) -> IndexModel:
        """Create an index; ``engine`` picks the slab builders (a name, a mapping or a TOML path).

        ``timeout`` is the SDK's wait for readiness: a local index is ready at once.
        """
        check_index_name(name)
        vector_type = getattr(vector_type, "value", vector_type)
        metric = getattr(metric, "value", metric)
        if vector_type not in ("dense", "sparse"):
            raise InvalidArgumentError("vector_type must be 'dense' or 'sparse'", path="vector_type")
        if vector_type == "sparse":
            if dimension is not None:
                raise InvalidArgumentError("a sparse index has no dimension; leave it out", path="dimension")
            metric = metric or "dotproduct"
            if metric != "dotproduct":
                raise InvalidArgumentError("a sparse index must use the dotproduct metric", path="metric")
        else:
            if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
                raise InvalidArgumentError(
                    f"dimension must be an integer from 1 to {MAX_DIMENSION}, got {dimension!r}", path="dimension")
            metric = metric or "cosine"
            if metric not in METRICS:
                raise InvalidArgumentError(f"metric must be one of {list(METRICS)}, got {metric!r}", path="metric")
        parsed_spec = _parse_spec(spec)
        protection = _check_protection(deletion_protection)
        clean_tags = _check_tags(tags, allow_unset=False)
        engine_config = EngineConfig.parse(engine)
        self._check_engine(engine_config, metric, vector_type)
        config = IndexConfig(name, dimension, metric, vector_type, engine_config, parsed_spec)
        with self._lock:
            if name in self._indexes:
                raise AlreadyExistsError(f"Index of given name already exists: {name!r}", path="name")
            meta = {"deletion_protection": protection, "tags": clean_tags}
            journal = self._storage.index_created(config, meta)  # persistence seam: durable before it is listed
            self._indexes[name] = self._open_index(config, journal)
            self._meta[name] = meta
        return self.describe_index(name)

    def _get(self, name: str) -> Index:
        with self._lock:
            index = self._indexes.get(name)
        if index is None:
            raise NotFoundError(f"index {name!r} not found", path="name")
        return index

    def describe_index(self, name: str) -> IndexModel:
        """Return an index's configuration and status."""
        index = self._get(name)
        meta = self._meta[name]
        c = index.config
        return IndexModel(
            name=c.name, dimension=c.dimension, metric=c.metric, vector_type=c.vector_type,
            host=f"{self._host}{c.name}", spec=dict(c.spec), deletion_protection=meta["deletion_protection"],
            tags=dict(meta["tags"]) or None, engine=c.engine.to_dict(),
        )

    def list_indexes(self) -> IndexList:
        """Return every index, sorted by name."""
        with self._lock:
            names = sorted(self._indexes)
        return IndexList([self.describe_index(n) for n in names])

    def has_index(self, name: str) -> bool:
        """Return True if an index of this name exists."""
        with self._lock:
            return name in self._indexes

    def configure_index(
        self, name: str, deletion_protection: str | None = None, tags: Mapping[str, str] | None = None, **changes: Any
    ) -> IndexModel:
        """Change deletion protection or tags; a tag set to "" is removed. Nothing else can change."""
        fixed = {k for k, v in changes.items() if v is not None}
        if fixed:
            raise InvalidArgumentError(
                f"only deletion_protection and tags can change on a serverless index, not {sorted(fixed)}",
                path=sorted(fixed)[0],
            )
        self._get(name)
        protection = None if deletion_protection is None else _check_protection(deletion_protection)
        new_tags = _check_tags(tags, allow_unset=True)
        with self._lock:
            meta = {**self._meta[name], "tags": dict(self._meta[name]["tags"])}
            if protection is not None:
                meta["deletion_protection"] = protection
            for key, value in new_tags.items():
                if value == "":
                    meta["tags"].pop(key, None)
                else:
                    meta["tags"][key] = value
            self._storage.meta_changed(self._indexes[name].config, meta)  # persistence seam
            self._meta[name] = meta
        return self.describe_index(name)

    def delete_index(self, name: str, timeout: int | None = None) -> None:
        """Delete an index and all its data; refused while deletion protection is enabled.

        ``timeout`` is the SDK's wait for the deletion: a local one is done when this returns.
        """
        self._get(name)
        with self._lock:
            if self._meta[name]["deletion_protection"] == "enabled":
                raise ForbiddenError(
                    "Deletion protection is enabled for this index. Disable deletion protection before retrying."
                )
            self._storage.check_writable()
            self._indexes[name]._shard.stop()
            self._storage.index_deleted(name)  # persistence seam
            del self._indexes[name]
            del self._meta[name]

    def Index(self, name: str | None = None, host: str | None = None, **sdk_options: Any) -> Index:  # noqa: N802
        """Return the data-plane handle of an index, by name or by its host (the SDK's name)."""
        check_options("Index", sdk_options, INDEX_OPTIONS)  # its connection-pool options change nothing here
        if name is None and host is not None:
            prefix = self._host
            name = host[len(prefix):].rstrip("/") if host.startswith(prefix) else host.rstrip("/").rsplit("/", 1)[-1]
        if name is None:
            raise InvalidArgumentError("Index() needs a name or a host", path="name")
        return self._get(name)

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
        with self._lock:
            indexes = list(self._indexes.values())
        for index in indexes:
            index._shard.close()
        self._storage.close()
        if self._owns_dask:  # made from an address: ours to close
            self._dask.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backups -------------------------------------------------------------------------------
    def create_backup(self, index_name: str, backup_name: str | None = None,
                      description: str | None = None) -> BackupModel:
        """Back up an index: a consistent snapshot of its live records, kept until deleted."""
        self._storage.check_writable()
        index = self._get(index_name)
        if backup_name is not None and not isinstance(backup_name, str):
            raise InvalidArgumentError("backup_name must be a string", path="backup_name")
        snapshot = backup_jobs.capture(index.config, index._shard)
        meta = dict(self._meta.get(index_name, {}))
        model = model_for(new_backup_id(), backup_name, description, index_name, meta, snapshot)
        self._storage.backups.save(model, snapshot)
        return model

    def list_backups(self, index_name: str | None = None, limit: int | None = None,
                     pagination_token: str | None = None) -> BackupList:
        """Return the backups (of one index, or all), newest first (at most ``limit``).

        ``pagination_token`` is accepted for SDK parity; every backup fits one page here.
        """
        models = self._storage.backups.models()
        if index_name is not None:
            models = [m for m in models if m.source_index_name == index_name]
        return BackupList(sorted(models, key=lambda m: m.created_at, reverse=True)[:_check_page_limit(limit)])

    def describe_backup(self, backup_id: str) -> BackupModel:
        """Return one backup's description."""
        return self._storage.backups.model(self._backup_id(backup_id))

    def delete_backup(self, backup_id: str) -> None:
        """Delete a backup."""
        self._storage.backups.delete(self._backup_id(backup_id))

    def _backup_id(self, key: Any) -> str:
        """Resolve a backup id, or a backup name that is unique."""
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError("backup_id must be a non-empty string", path="backup_id")
        models = self._storage.backups.models()
        if any(m.backup_id == key for m in models) or key in self._storage.backups.damaged:
            return key  # a damaged one too: describing it names the damage
        named = [m for m in models if m.name == key]
        if len(named) == 1:
            return named[0].backup_id
        if len(named) > 1:
            raise InvalidArgumentError(f"{len(named)} backups are named {key!r}; pass a backup_id", path="backup_id")
        raise NotFoundError(f"backup {key!r} not found", path="backup_id")

    def create_index_from_backup(self, backup_id: str, name: str, tags: Mapping[str, str] | None = None,
                                 deletion_protection: str = "disabled", timeout: int | None = None) -> IndexModel:
        """Create index ``name`` from a backup (by id or unique name); only name, tags and protection change.

        The restore is complete when this returns (``timeout``, the SDK's wait, changes nothing).
        """
        started = now_iso()
        key = self._backup_id(backup_id)
        model = self._storage.backups.model(key)
        snapshot = self._storage.backups.snapshot(key)
        config = config_from_dict(snapshot.config)
        self.create_index(
            name=name, dimension=config.dimension, metric=config.metric, spec=dict(config.spec),
            vector_type=config.vector_type, deletion_protection=deletion_protection,
            tags=model.tags if tags is None else tags, engine=config.engine,
        )
        if isinstance(config.spec.get("embed"), Mapping):  # an integrated index keeps its model (D:18690)
            self.attach_embed(name, config.spec["embed"])
        backup_jobs.restore(snapshot, self._get(name)._shard)
        job = RestoreJobModel(str(uuid.uuid4()), key, name, name, "Completed", started, now_iso(), 100.0)
        with self._lock:
            self._restore_jobs[job.restore_job_id] = job
        return self.describe_index(name)

    def list_restore_jobs(self, limit: int | None = None, pagination_token: str | None = None) -> list[RestoreJobModel]:
        """Return the restore jobs of this client session, oldest first (at most ``limit``)."""
        with self._lock:
            return sorted(self._restore_jobs.values(), key=lambda j: j.created_at)[:_check_page_limit(limit)]

    def describe_restore_job(self, job_id: str) -> RestoreJobModel:
        """Return one restore job of this client session."""
        with self._lock:
            job = self._restore_jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"restore job {job_id!r} not found", path="job_id")
        return job

    def __repr__(self) -> str:
        return f"Client(indexes={sorted(self._indexes)})"

    # -- integrated inference (toolkit.inference, toolkit.integrated) ------------------------
    @property
    def inference(self) -> Inference:
        """Return the inference API (``embed``, ``rerank``, ``list_models``) of the local models."""
        return self._inference

    def create_index_for_model(self, name: str, cloud: Any = "aws", region: Any = "us-east-1", embed: Any = None,
                               tags: Mapping[str, str] | None = None, deletion_protection: str = "disabled",
                               engine: Any = None, timeout: int | None = None, **options: Any) -> IndexModel:
        """Create an index whose records are text embedded by ``embed['model']`` (see toolkit.integrated).

        ``timeout`` is the SDK's wait for readiness: a local index is ready at once.
        """
        check_options("create_index_for_model", options)
        from .integrated import create_index_for_model

        return create_index_for_model(self, name, cloud, region, embed, tags=tags,
                                      deletion_protection=deletion_protection, engine=engine)

    def attach_embed(self, name: str, embed: Mapping[str, Any]) -> None:
        """Make index ``name`` integrated with the checked ``embed`` configuration, durably.

        Internal API of toolkit.integrated (create_index_for_model) and of restores: the
        configuration rides in ``IndexConfig.spec["embed"]``, persisted with the index config,
        so a reopened folder or a backup brings it back.
        """
        if not isinstance(embed, Mapping):
            raise InvalidArgumentError("embed must be an object", path="embed")
        index = self._get(name)
        with self._lock:
            index.set_spec({**dict(index.config.spec), "embed": dict(embed)})
            self._storage.meta_changed(index.config, self._meta[name])  # persistence seam: config + meta
