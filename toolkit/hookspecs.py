"""Hook specifications: the plugin contract (pluggy). Plugins write ``from toolkit import hookimpl``."""

from __future__ import annotations

import pluggy

from .engine import SlabBuilder

PROJECT_NAME = "vector_toolkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_slab_builders() -> list[type[SlabBuilder]]:
    """Return the SlabBuilder classes this plugin provides, each with a unique ``name``."""
