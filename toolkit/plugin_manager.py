"""Plugin manager: built on demand from entry points; no work happens at import time."""

from __future__ import annotations

from types import ModuleType
from typing import Iterable

import pluggy

from . import hookspecs
from .engine import SlabBuilder
from .errors import FailedPreconditionError

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


class PluginRegistrationError(FailedPreconditionError):
    """The installed or given plugins do not form a valid set (a builder name twice, a bad builder).

    Raised when a ``Client`` is created, never on first use: the process cannot serve any
    request until its plugins are fixed (FAILED_PRECONDITION, HTTP 412).
    """


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
        returned = impl.function()
        if returned is None:  # nothing to offer
            continue
        if not isinstance(returned, (list, tuple)):
            raise PluginRegistrationError(
                f"plugin {impl.plugin_name!r}: register_slab_builders must return a list, got {returned!r}",
                path="plugins")
        for builder in returned:
            if not (isinstance(builder, type) and issubclass(builder, SlabBuilder)):
                raise PluginRegistrationError(
                    f"plugin {impl.plugin_name!r} returned {builder!r}, which is not a SlabBuilder subclass",
                    path="plugins")
            name = getattr(builder, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginRegistrationError(
                    f"slab builder {builder.__qualname__} of {impl.plugin_name!r} has no name", path="plugins")
            if name in found and found[name][0] is not builder:
                raise PluginRegistrationError(
                    f"slab builder name {name!r} is registered twice: by plugin {found[name][1]!r} "
                    f"and by plugin {impl.plugin_name!r}", path="plugins")
            found[name] = (builder, impl.plugin_name)
    return {name: builder for name, (builder, _) in found.items()}


def check_plugins(extra_plugins: Iterable[object] = ()) -> dict[str, type[SlabBuilder]]:
    """Return the slab builders of the installed plugins plus ``extra_plugins``, checked now.

    ``Client`` calls this when it is created, so a builder name registered twice is a
    start-up ``PluginRegistrationError`` naming both plugins, not an error on first use.
    """
    return slab_builders(get_plugin_manager(extra_plugins))
