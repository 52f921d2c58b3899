"""Client: the control plane — create, describe, list, configure and delete indexes."""

from __future__ import annotations

import re
import threading
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
from .identifiers import check_index_name
from .index import Index, IndexConfig
from .plugin_manager import get_plugin_manager, slab_builders
from .responses import IndexList, IndexModel
from .scoring import METRICS
from .settings import Settings
from .storage import open_storage
from .storage.client_api import ClientStorageMixin

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


def _check_protection(value: Any) -> str:
    value = getattr(value, "value", value)
    if value not in ("enabled", "disabled"):
        raise InvalidArgumentError("deletion_protection must be 'enabled' or 'disabled'", path="deletion_protection")
    return value


class Client(ClientStorageMixin):
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
        **_: Any,
    ) -> None:
        if isinstance(settings, Mapping):
            settings = Settings.from_dict(dict(settings))
        self.settings = settings or Settings()
        self._plugins = tuple(plugins)
        self._builders: Mapping[str, type[SlabBuilder]] | None = None
        # The prefix of every index host: "local://" + name, or e.g. "http://127.0.0.1:5080/" + name.
        self._host = host if host.endswith("://") else host.rstrip("/") + "/"
        self._indexes: dict[str, Index] = {}
        self._meta: dict[str, dict[str, Any]] = {}  # deletion_protection and tags per index
        self._lock = threading.RLock()
        # Persistence seam: MemoryStorage, or DiskStorage for a folder (locks it, restores its indexes).
        self._storage = open_storage(path, read_only=read_only, consistency=consistency, apply_delay=apply_delay)
        self._storage.load(self)

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
        **_: Any,
    ) -> IndexModel:
        """Create an index; ``engine`` picks the slab builders (a name, a mapping or a TOML path)."""
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
            index = Index(config, self.settings, self.builders())
            meta = {"deletion_protection": protection, "tags": clean_tags}
            self._storage.index_created(index, meta)  # persistence seam: durable before it is listed
            self._indexes[name] = index
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
            self._storage.meta_changed(self._indexes[name], meta)  # persistence seam
            self._meta[name] = meta
        return self.describe_index(name)

    def delete_index(self, name: str, **_: Any) -> None:
        """Delete an index and all its data; refused while deletion protection is enabled."""
        self._get(name)
        with self._lock:
            if self._meta[name]["deletion_protection"] == "enabled":
                raise ForbiddenError(
                    "Deletion protection is enabled for this index. Disable deletion protection before retrying."
                )
            self._storage.index_deleted(self._indexes[name])  # persistence seam
            del self._indexes[name]
            del self._meta[name]

    def Index(self, name: str | None = None, host: str | None = None, **_: Any) -> Index:  # noqa: N802 - SDK name
        """Return the data-plane handle of an index, by name or by its host."""
        if name is None and host is not None:
            prefix = self._host
            name = host[len(prefix):].rstrip("/") if host.startswith(prefix) else host.rstrip("/").rsplit("/", 1)[-1]
        if name is None:
            raise InvalidArgumentError("Index() needs a name or a host", path="name")
        return self._get(name)

    def __repr__(self) -> str:
        return f"Client(indexes={sorted(self._indexes)})"

    # -- integrated inference (toolkit.inference, toolkit.integrated) ------------------------
    @property
    def inference(self) -> Any:
        """Return the inference API (``embed``, ``rerank``, ``list_models``) of the local models."""
        if getattr(self, "_inference", None) is None:
            from .inference import Inference

            self._inference = Inference(self._plugins)
        return self._inference

    def create_index_for_model(self, name: str, cloud: Any = "aws", region: Any = "us-east-1", embed: Any = None,
                               tags: Mapping[str, str] | None = None, deletion_protection: str = "disabled",
                               engine: Any = None, **_: Any) -> IndexModel:
        """Create an index whose records are text embedded by ``embed['model']`` (see toolkit.integrated)."""
        from .integrated import create_index_for_model

        return create_index_for_model(self, name, cloud, region, embed, tags=tags,
                                      deletion_protection=deletion_protection, engine=engine)
