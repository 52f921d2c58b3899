"""Parameters: an object's parameters are the keyword arguments of its ``__init__`` (as in scikit-learn)."""

from __future__ import annotations

import inspect
from typing import Any

_KINDS = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def init_params(obj: object) -> dict[str, Any]:
    """Return ``{name: value}`` for every ``__init__`` argument, read back from the attribute of that name."""
    signature = inspect.signature(type(obj).__init__)
    return {name: getattr(obj, name) for name, param in signature.parameters.items()
            if name != "self" and param.kind in _KINDS}
