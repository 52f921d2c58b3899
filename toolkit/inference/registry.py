"""Collect embedder and reranker plugins by name; resolve a requested model through the table."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InvalidArgumentError
from ..plugin_manager import PluginRegistrationError, get_plugin_manager
from .base import Embedder, Embeddings, Reranker
from .models import ModelTable, RerankLimits

_instances: dict[type, Any] = {}
_instances_lock = threading.Lock()


def _collect(hook: Any, base: type, what: str) -> dict[str, type]:
    """Return the classes a hook's implementations return, by name; a duplicate name names both plugins.

    A bad set of plugins is a PluginRegistrationError (the Client refuses to start with it).
    """
    found: dict[str, tuple[type, str]] = {}
    for impl in hook.get_hookimpls():
        returned = impl.function()
        if returned is None:
            continue
        if not isinstance(returned, (list, tuple)):
            raise PluginRegistrationError(f"plugin {impl.plugin_name!r}: {hook.name} must return a list, "
                                          f"got {returned!r}", path="plugins")
        for cls in returned:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginRegistrationError(f"plugin {impl.plugin_name!r} returned {cls!r}, which is not "
                                              f"a {base.__name__} subclass", path="plugins")
            name = getattr(cls, "name", "")
            if not isinstance(name, str) or not name:
                raise PluginRegistrationError(f"{what} {cls.__qualname__} of plugin {impl.plugin_name!r} has no name",
                                              path="plugins")
            if name in found and found[name][0] is not cls:
                raise PluginRegistrationError(f"{what} name {name!r} is registered twice: by plugin "
                                              f"{found[name][1]!r} and by plugin {impl.plugin_name!r}",
                                              path="plugins")
            found[name] = (cls, impl.plugin_name)
    return {name: cls for name, (cls, _) in found.items()}


def _instance(cls: type) -> Any:
    with _instances_lock:
        if cls not in _instances:
            _instances[cls] = cls()
        return _instances[cls]


@dataclass(frozen=True)
class Resolved:
    """A requested model name and the local model serving it."""

    requested: str
    local: str
    model: Any  # an Embedder or Reranker instance
    prefixes: Mapping[str, str] = field(default_factory=dict)  # input_type -> text before each input

    def embed(self, texts: Sequence[str], *, input_type: str = "passage", truncate: str = "END",
              return_tokens: bool = False) -> Embeddings:
        """Embed ``texts`` with the local model, after the requested name's input_type prefix (if any).

        The usage counts the caller's text only: the prefix's own tokens are taken off each input.
        """
        prefix = self.prefixes.get(input_type, "")
        if not prefix:
            return self.model.embed(texts, input_type=input_type, truncate=truncate, return_tokens=return_tokens)
        result = self.model.embed([prefix + t for t in texts], input_type=input_type, truncate=truncate,
                                  return_tokens=return_tokens)
        prefix_tokens = len(self.model.tokenize([prefix.strip()])[0])
        return replace(result, token_counts=result.token_counts - prefix_tokens)


class ModelRegistry:
    """The embedders and rerankers of the installed plugins (+ ``plugins``), and the model table."""

    def __init__(self, plugins: Iterable[object] = (), table: ModelTable | None = None) -> None:
        manager = get_plugin_manager(plugins)
        self.embedders: Mapping[str, type[Embedder]] = _collect(manager.hook.register_embedders, Embedder, "embedder")
        self.rerankers: Mapping[str, type[Reranker]] = _collect(manager.hook.register_rerankers, Reranker, "reranker")
        self.table = table or ModelTable.load()

    def _names(self, kind: str) -> list[str]:
        local = self.embedders if kind == "embed" else self.rerankers
        aliases = [a for a, target in self.table.aliases.items() if target in local]
        return sorted(set(aliases) | set(local))

    def embedder(self, model: Any, path: str = "model") -> Resolved:
        """Return the embedder serving ``model``; an unknown name is a 400 naming it and the known ones."""
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError("model must be a non-empty model name", path=path)
        local = self.table.local_name(model)
        cls = self.embedders.get(local)
        if cls is None:
            raise InvalidArgumentError(f"Model '{model}' not found; embedding models here: "
                                       f"{', '.join(self._names('embed'))}", path=path)
        return Resolved(model, local, _instance(cls), dict(self.table.input_prefixes(model)))

    def reranker(self, model: Any, path: str = "model") -> Resolved:
        """Return the reranker serving ``model``; an unknown name is a 400 naming it and the known ones."""
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError("model must be a non-empty model name", path=path)
        local = self.table.local_name(model)
        cls = self.rerankers.get(local)
        if cls is None:
            raise InvalidArgumentError(f"Model '{model}' not found; rerank models here: "
                                       f"{', '.join(self._names('rerank'))}", path=path)
        return Resolved(model, local, _instance(cls))

    def rerank_limits(self, resolved: Resolved) -> RerankLimits:
        """Return the limits of the requested reranker name (the reference's), else the local model's."""
        limits = self.table.limits.get(resolved.requested)
        if limits is not None:
            return limits
        r = resolved.model
        return RerankLimits(r.max_documents, r.max_tokens, r.multiple_rank_fields, r.default_truncate)


_default: ModelRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> ModelRegistry:
    """Return the process-wide registry of the installed plugins (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelRegistry()
        return _default
