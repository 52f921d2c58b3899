"""Plugin manager: built on demand from entry points; no work happens at import time."""

from __future__ import annotations

from types import ModuleType
from typing import Iterable

import pluggy

from . import hookspecs
from .engine import SlabBuilder
from .errors import InvalidArgumentError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


def get_plugin_manager(extra_plugins: Iterable[object] = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    """Return a fresh plugin manager with every installed plugin and ``extra_plugins`` registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        if manager.is_registered(plugin):
            continue
        name = plugin.__name__ if isinstance(plugin, ModuleType) else None
        manager.register(plugin, name=name)
    return manager


def slab_builders(manager: pluggy.PluginManager) -> dict[str, type[SlabBuilder]]:
    """Collect builders by name; a name registered twice is an error naming both plugins."""
    found: dict[str, tuple[type[SlabBuilder], str]] = {}
    for impl in manager.hook.register_slab_builders.get_hookimpls():
        for builder in impl.function() or []:
            if not (isinstance(builder, type) and issubclass(builder, SlabBuilder)):
                raise InvalidArgumentError(
                    f"plugin {impl.plugin_name!r} returned {builder!r}, which is not a SlabBuilder subclass"
                )
            name = getattr(builder, "name", None)
            if not isinstance(name, str) or not name:
                raise InvalidArgumentError(f"slab builder {builder.__qualname__} of {impl.plugin_name!r} has no name")
            if name in found and found[name][0] is not builder:
                raise InvalidArgumentError(
                    f"slab builder name {name!r} is registered twice: by plugin {found[name][1]!r} "
                    f"and by plugin {impl.plugin_name!r}"
                )
            found[name] = (builder, impl.plugin_name)
    return {name: builder for name, (builder, _) in found.items()}
