"""The dataset registry: every ``DatasetSource`` that installed plugins register, by name."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Iterable, Mapping

import pluggy

from ..errors import InvalidArgumentError, NotFoundError
from ..plugin_manager import get_plugin_manager
from .base import Dataset, DatasetSource

log = logging.getLogger(__name__)


def _plugin_label(impl: Any) -> str:
    """Return a plugin's registered name, or its class name when pluggy only knows an id."""
    name = str(impl.plugin_name)
    if name.isdigit():
        plugin = impl.plugin
        return getattr(plugin, "__name__", None) or type(plugin).__qualname__
    return name


def dataset_sources(manager: pluggy.PluginManager) -> dict[str, type[DatasetSource]]:
    """Collect sources by name; a name registered twice is an error naming both plugins."""
    found: dict[str, tuple[type[DatasetSource], str]] = {}
    for impl in manager.hook.register_datasets.get_hookimpls():
        returned: Iterable[Any] = impl.function() or []  # type: ignore[assignment]
        for source in returned:
            if not (isinstance(source, type) and issubclass(source, DatasetSource)):
                raise InvalidArgumentError(
                    f"plugin {_plugin_label(impl)!r} returned {source!r}, which is not a DatasetSource subclass")
            name = getattr(source, "name", None)
            if not isinstance(name, str) or not name:
                raise InvalidArgumentError(f"dataset source {source.__qualname__} of {_plugin_label(impl)!r} has no name")
            if name in found and found[name][0] is not source:
                raise InvalidArgumentError(
                    f"dataset name {name!r} is registered twice: by plugin {found[name][1]!r} "
                    f"and by plugin {_plugin_label(impl)!r}")
            found[name] = (source, _plugin_label(impl))
    return {name: source for name, (source, _) in sorted(found.items())}


def registry(plugins: Iterable[object] = ()) -> Mapping[str, type[DatasetSource]]:
    """Return every registered dataset source by name (installed plugins + ``plugins``)."""
    from . import builtin

    manager = get_plugin_manager(plugins)
    if not any(p is builtin for p in manager.get_plugins()):
        # An install from before the entry point existed: say so, and still work.
        log.warning("the built-in datasets entry point is not installed; run `pip install -e .` again")
        manager.register(builtin, name="datasets")
    return dataset_sources(manager)


def make_source(name: str, params: Mapping[str, Any] | None = None, *, plugins: Iterable[object] = (),
                path: str = "dataset") -> DatasetSource:
    """Instantiate a registered source; an unknown name or parameter is an error naming it."""
    sources = registry(plugins)
    source = sources.get(name)
    if source is None:
        raise NotFoundError(f"unknown dataset {name!r}; registered: {sorted(sources)}", path=f"{path}.name")
    params = dict(params or {})
    accepted = set(inspect.signature(source.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InvalidArgumentError(f"dataset {name!r} has no parameter {unknown[0]!r}; it takes {sorted(accepted)}",
                                   path=f"{path}.{unknown[0]}")
    try:
        return source(**params)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(exc.message, path=f"{path}.{exc.path}" if exc.path else path) from None


def load_dataset(name: str, *, plugins: Iterable[object] = (), **params: Any) -> Dataset:
    """Build or read a registered dataset, e.g. ``load_dataset("clustered", n=5000)``."""
    return make_source(name, params, plugins=plugins).load()
