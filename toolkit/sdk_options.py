"""SDK options: the reference SDK's extra keyword names, accepted by name and nothing else.

The reference SDK forwards some keyword arguments of its public methods to its HTTP layer
(``async_req``, ``_request_timeout``, ...) and takes transport options when a client or an
index handle is made (``pool_threads``, ``proxy_url``, ...). Code written for it passes
them, so the toolkit accepts exactly those names — they change nothing in process — and
refuses every other unknown keyword with an InvalidArgumentError naming it, so a misspelt
argument (``include_metdata=True``) is never dropped silently.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping, TypeVar

from .errors import InvalidArgumentError

_T = TypeVar("_T")

# Per-request options of the SDK's generated API client (openapi-generator's names).
REQUEST_OPTIONS = frozenset({
    "async_req", "_request_timeout", "_preload_content", "_return_http_data_only", "_check_input_type",
    "_check_return_type", "_host_index", "_content_type", "_request_auths",
})
# Options of ``Pinecone(...)``: transport and configuration of a remote client.
CLIENT_OPTIONS = frozenset({
    "proxy_url", "proxy_headers", "ssl_ca_certs", "ssl_verify", "additional_headers", "pool_threads",
    "source_tag", "config", "openapi_config", "index_api",
})
# Options of ``pc.Index(...)``: its connection pool.
INDEX_OPTIONS = frozenset({"pool_threads", "connection_pool_maxsize", "connection_pool_size", "openapi_config"})


def check_options(method: str, options: Mapping[str, object], accepted: frozenset[str] = REQUEST_OPTIONS) -> None:
    """Refuse keyword arguments ``method`` does not take; the SDK's pass-through names are accepted."""
    for name in options:
        if name not in accepted:
            raise InvalidArgumentError(f"{method}() got an unexpected keyword argument {name!r}", path=name)
    if options.get("async_req"):
        raise InvalidArgumentError("async_req=True is not available in process; call from a thread instead",
                                   path="async_req")


def strict_keywords(cls: type[_T]) -> type[_T]:
    """Make every public method of ``cls`` refuse an unknown keyword with an InvalidArgumentError.

    Python would raise TypeError; the toolkit's callers (and the REST layer) expect its typed
    errors, which name the argument in ``path``. Methods that take ``**options`` validate
    them themselves with ``check_options``.
    """
    for name, function in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        parameters = inspect.signature(function).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            continue
        known = frozenset(p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                   inspect.Parameter.KEYWORD_ONLY))
        setattr(cls, name, _refusing(function, known))
    return cls


def _refusing(function: Callable[..., Any], known: frozenset[str]) -> Callable[..., Any]:
    method = function.__name__

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not known.issuperset(kwargs):
            name = sorted(set(kwargs) - known)[0]
            raise InvalidArgumentError(f"{method}() got an unexpected keyword argument {name!r}", path=name)
        return function(*args, **kwargs)

    return call
