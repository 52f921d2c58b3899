"""A local vector database with the reference serverless service's semantics, for research.

A short tour::

    import toolkit
    client = toolkit.Client()                                   # in memory
    client.create_index(name="demo", dimension=8, metric="cosine", engine="exact")
    index = client.Index("demo")
    index.upsert(vectors=[("a", [0.1] * 8, {"genre": "drama"})], namespace="films")
    resp = index.query(vector=[0.1] * 8, top_k=3, filter={"genre": "drama"}, namespace="films")
    resp.matches[0].id, resp.usage.read_units, resp.max_indexed_lsn
    index.usage()                                               # billed units vs true work

Engines are pluggy plugins: subclass ``SlabBuilder`` and return it from a
``@hookimpl def register_slab_builders()``; see ``toolkit.hookspecs``.
"""

from .client import Client, ServerlessSpec
from .deletes import DeleteResponse
from .engine import SlabBuilder, SlabData, SlabIndex
from .engine_config import EngineConfig, TierConfig
from .errors import (
    AlreadyExistsError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    FilterError,
    ForbiddenError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ToolkitError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from .hookspecs import hookimpl, hookspec
from .hybrid import hybrid_score_norm, merge_dedup
from .index import Index
from .lsn import Lsn
from .plugin_manager import PluginRegistrationError
from .scoring import Query, SearchResult
from .settings import Settings
from .vectors import SparseValues, Vector

__all__ = [
    "Client",
    "ServerlessSpec",
    "Index",
    "Settings",
    "EngineConfig",
    "TierConfig",
    "SlabBuilder",
    "SlabData",
    "SlabIndex",
    "Query",
    "SearchResult",
    "Vector",
    "SparseValues",
    "Lsn",
    "hookimpl",
    "hybrid_score_norm",
    "merge_dedup",
    "hookspec",
    "ToolkitError",
    "InvalidArgumentError",
    "FilterError",
    "UnauthenticatedError",
    "ForbiddenError",
    "QuotaExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "RateLimitedError",
    "UnimplementedError",
    "PluginRegistrationError",
    "InternalError",
    "UnavailableError",
    "DataLossError",
    "DeadlineExceededError",
    "DeleteResponse",
]
