"""Translate the Chroma and Vectorizer filter dialects into the toolkit's one filter language.

Both dialects are MongoDB-like, like the toolkit's: ``{field: value}`` (equality),
``{field: {"$op": operand}}`` and ``$and``/``$or`` lists, with the operators ``$eq $ne $gt
$gte $lt $lte $in $nin``. Those pass through unchanged, and the toolkit's own compiler then
validates them (``toolkit.filters``; its semantics, e.g. for missing fields, apply). What
has no counterpart — ``$contains``/``$not_contains``/``$regex`` on metadata, ``$exists``
(not in either dialect's documents) or an unknown operator — is refused with an
``InvalidArgumentError`` whose ``path`` names the clause, e.g. ``where.$or[1].tags.$regex``.

A dialect may rewrite one operand: the Vectorizer adapter turns range comparisons on ISO-8601
timestamps into numbers (``rewrite`` gets (field, operator, operand, path) and returns the
field and operand to use, or None to keep them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import FilterError, InvalidArgumentError
from ..filters import compile_filter

OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"})
LOGICAL = frozenset({"$and", "$or"})
Rewrite = Callable[[str, str, Any, str], "tuple[str, Any] | None"]


def translate(where: Any, *, path: str, rewrite: Rewrite | None = None) -> dict[str, Any]:
    """Return ``where`` (a dialect filter) in the toolkit's filter language, or raise a located error."""
    if not isinstance(where, Mapping):
        raise InvalidArgumentError(f"a filter is an object, got {type(where).__name__}", path=path)
    out: dict[str, Any] = {}
    for key, value in where.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(f"field names are strings, got {type(key).__name__}", path=path)
        here = f"{path}.{key}"
        if key in LOGICAL:
            if not isinstance(value, list) or not value:
                raise InvalidArgumentError(f"{key} takes a non-empty list of filters", path=here)
            out[key] = [translate(child, path=f"{here}[{i}]", rewrite=rewrite) for i, child in enumerate(value)]
        elif key.startswith("$"):
            raise InvalidArgumentError(f"operator {key!r} has no counterpart in the toolkit's filter language",
                                       path=here)
        elif isinstance(value, Mapping):
            for op, operand in value.items():
                if op not in OPERATORS:
                    raise InvalidArgumentError(
                        f"operator {op!r} has no counterpart in the toolkit's filter language; "
                        f"use one of {sorted(OPERATORS)}", path=f"{here}.{op}")
                field, operand = _rewritten(rewrite, key, op, operand, f"{here}.{op}")
                out.setdefault(field, {})[op] = operand
        else:
            field, operand = _rewritten(rewrite, key, "$eq", value, here)
            out.setdefault(field, {})["$eq"] = operand
    return out


def _rewritten(rewrite: Rewrite | None, field: str, op: str, operand: Any, path: str) -> tuple[str, Any]:
    changed = None if rewrite is None else rewrite(field, op, operand, path)
    return (field, operand) if changed is None else changed


def translate_checked(where: Any, *, path: str, rewrite: Rewrite | None = None) -> dict[str, Any]:
    """``translate``, then compile the result once so that its errors carry ``path`` too."""
    out = translate(where, path=path, rewrite=rewrite)
    try:
        compile_filter(out)
    except FilterError as error:
        raise FilterError(error.message, path=f"{path}.{error.path}" if error.path else path) from None
    return out
