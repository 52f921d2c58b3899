"""Hook specifications: the plugin contract (pluggy). Plugins write ``from toolkit import hookimpl``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from .engine import SlabBuilder

if TYPE_CHECKING:
    from .datasets import DatasetSource
    from .inference.base import Embedder, Reranker

PROJECT_NAME = "vector_toolkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_slab_builders() -> list[type[SlabBuilder]]:
    """Return the SlabBuilder classes this plugin provides, each with a unique ``name``."""
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def register_datasets() -> list[type[DatasetSource]]:
    """Return the DatasetSource classes this plugin provides, each with a unique ``name``."""
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def register_embedders() -> list[type[Embedder]]:
    """Return the Embedder classes (text -> dense or sparse vectors) this plugin provides, each with a unique ``name``."""
    return []  # a specification: pluggy calls the plugins' implementations, never this body


@hookspec
def register_rerankers() -> list[type[Reranker]]:
    """Return the Reranker classes (query + documents -> scores) this plugin provides, each with a unique ``name``."""
    return []  # a specification: pluggy calls the plugins' implementations, never this body
