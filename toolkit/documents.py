"""Document filters: ``$contains`` / ``$not_contains`` over a record's text, in the one filter language.

A record's *document* is the string in one metadata field of its index, chosen by
``document_field``, in this order:

1. ``Settings.document_field`` when set (``Client(settings=Settings(document_field="body"))``);
2. an integrated-embedding index's mapped text field (``embed.field_map["text"]``, e.g. ``"chunk_text"``);
3. otherwise the field ``"document"`` (Chroma's name for a record's text).

Grammar (Chroma's ``where_document``)::

    document := {"$contains": str} | {"$not_contains": str}
              | {"$and": [document, ...]} | {"$or": [document, ...]}

Several operators in one object are an implicit AND. Inside a metadata filter a document
filter sits under the reserved key ``"$document"``, anywhere a clause may, so it works in
``query``, ``query_batch``, ``delete``, ``update`` and over REST without a new parameter::

    {"genre": "drama", "$document": {"$contains": "storm"}}
    {"$or": [{"year": {"$gte": 2020}}, {"$document": {"$not_contains": "draft"}}]}

Semantics: substring match, case-sensitive, on the document string (a list-of-strings field
matches when any element does). ``$contains`` never matches a record without a document.
``$not_contains`` is the negation among records that hold one; records without a document
match it too only when ``negation_requires_field`` is False — the policy of ``$ne``.

Evaluation is vectorised: the substring test runs once per *distinct* string of the field
(``pyarrow.compute.match_substring`` over its vocabulary) and rows pick their answer by code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import FilterError
from .filters import And, Filter, Or, compile_filter

DOCUMENT_KEY: Final = "$document"  # the reserved key of a document filter inside a metadata filter
DEFAULT_DOCUMENT_FIELD: Final = "document"
_TEXT_OPERATORS: Final = ("$contains", "$not_contains")
_LOGICAL: Final[dict[str, type[And] | type[Or]]] = {"$and": And, "$or": Or}


def document_field(config: Any, settings: Any) -> str:
    """Return the metadata field that holds an index's documents (see the module docstring)."""
    chosen = getattr(settings, "document_field", None)
    if chosen:
        return str(chosen)
    embed = getattr(config, "embed", None)
    if embed is None:
        spec = getattr(config, "spec", None)
        embed = spec.get("embed") if isinstance(spec, Mapping) else None
    field_map = embed.get("field_map") if isinstance(embed, Mapping) else getattr(embed, "field_map", None)
    if isinstance(field_map, Mapping) and isinstance(field_map.get("text"), str):
        return str(field_map["text"])
    return DEFAULT_DOCUMENT_FIELD


def contains(strings: np.ndarray, needle: str) -> np.ndarray:
    """Return, per string of an object array, whether it contains ``needle`` (case-sensitive)."""
    found = pc.match_substring(pa.array(strings, type=pa.large_string()), needle)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


class TextCondition(Filter):
    """``$contains`` or ``$not_contains`` of one needle in the document field."""

    __slots__ = ("field", "op", "needle")

    def __init__(self, field: str, op: str, needle: str) -> None:
        self.field = field
        self.op = op
        self.needle = needle

    def _mask(self, ctx: Any) -> np.ndarray:
        column = ctx.column(self.field)
        hit, holds = column.strings_where(lambda strings: contains(strings, self.needle))
        if self.op == "$contains":
            return hit
        out = holds & ~hit
        if not ctx.negation_requires_field:
            out |= ~column.present()
        return out

    def _collect_fields(self, found: dict[str, None]) -> None:
        found[self.field] = None

    def to_dict(self) -> dict[str, Any]:
        return {DOCUMENT_KEY: {self.op: self.needle}}

    def _expr(self) -> str:
        return f"document({self.field}) {self.op} {self.needle!r}"

    def _key(self) -> tuple[Any, ...]:
        return (DOCUMENT_KEY, self.field, self.op, self.needle)


def compile_document_filter(
    filter: Any,  # noqa: A002 - the service's own parameter name
    *,
    field: str,
    max_depth: int = 16,
    max_in_values: int = 10_000,
) -> Filter | None:
    """Compile a metadata filter that may hold ``"$document"`` clauses; None means no filter.

    Without a ``"$document"`` clause this is exactly ``filters.compile_filter``. Errors are
    ``FilterError`` with the path of the clause, e.g. ``$or[1].$document.$contains``.
    """
    if filter is None or isinstance(filter, Filter) or not isinstance(filter, Mapping) or not _mentions(filter):
        return compile_filter(filter, max_depth=max_depth, max_in_values=max_in_values)
    return _Walker(field, max_depth, max_in_values).filter(filter, None, 1)


def compile_where_document(where_document: Any, *, field: str, path: str = "where_document",
                           max_depth: int = 16) -> Filter:
    """Compile a Chroma-style ``where_document`` object on its own (``path`` prefixes its errors)."""
    return _Walker(field, max_depth, 0).document(where_document, path, 1)


def _mentions(obj: Any) -> bool:
    """Return whether a filter object holds a ``"$document"`` clause at any depth."""
    if not isinstance(obj, Mapping):
        return False
    if DOCUMENT_KEY in obj:
        return True
    return any(isinstance(obj.get(key), list) and any(map(_mentions, obj[key])) for key in _LOGICAL)


def _join(path: str | None, key: str) -> str:
    return f"{path}.{key}" if path else key


def _combine(node: type[And] | type[Or], parts: list[Filter]) -> Filter:
    """Return ``parts`` combined by ``node``, simplified as ``compile_filter`` does, so equal filters compare equal.

    A match-all part vanishes from an AND and swallows an OR; a single remaining part stands for itself.
    """
    everything = [p for p in parts if p.matches_all]
    if node is Or and everything:
        return everything[0]
    kept = [p for p in parts if not p.matches_all] or parts[:1]
    return kept[0] if len(kept) == 1 else node(tuple(kept))


class _Walker:
    """Split a filter into its metadata clauses (``compile_filter``) and its document clauses."""

    def __init__(self, field: str, max_depth: int, max_in_values: int) -> None:
        self.field = field
        self.max_depth = max_depth
        self.max_in_values = max(1, max_in_values)

    def _depth(self, depth: int, path: str | None) -> None:
        if depth > self.max_depth:
            raise FilterError(f"filter is nested deeper than max_depth={self.max_depth}", path=path)

    def filter(self, obj: Mapping[str, Any], path: str | None, depth: int) -> Filter:
        self._depth(depth, path)
        parts: list[Filter] = []
        rest: dict[str, Any] = {}
        for key, value in obj.items():
            if key == DOCUMENT_KEY:
                parts.append(self.document(value, _join(path, key), depth))
            elif key in _LOGICAL and isinstance(value, list) and any(map(_mentions, value)):
                children = []
                for i, child in enumerate(value):
                    where = f"{_join(path, key)}[{i}]"
                    if not isinstance(child, Mapping):
                        raise FilterError(f"expected a filter object in {key}, got {type(child).__name__}", path=where)
                    children.append(self.filter(child, where, depth + 1))
                parts.append(_combine(_LOGICAL[key], children))
            else:
                rest[key] = value
        if rest:
            try:
                compiled = compile_filter(rest, max_depth=max(1, self.max_depth - depth + 1),
                                          max_in_values=self.max_in_values)
            except FilterError as error:  # re-locate the error inside the whole filter
                located = _join(path, error.path) if error.path else path
                raise FilterError(error.message, path=located) from None
            if compiled is not None:
                parts.append(compiled)
        if not parts:
            raise FilterError("expected at least one clause", path=path)
        return _combine(And, parts)

    def document(self, obj: Any, path: str, depth: int) -> Filter:
        self._depth(depth, path)
        if not isinstance(obj, Mapping) or not obj:
            raise FilterError("a document filter is an object with $contains, $not_contains, $and or $or",
                              path=path)
        parts: list[Filter] = []
        for key, value in obj.items():
            where = _join(path, str(key))
            if key in _TEXT_OPERATORS:
                if not isinstance(value, str):
                    raise FilterError(f"expected a string for {key}, got {type(value).__name__}", path=where)
                parts.append(TextCondition(self.field, key, value))
            elif key in _LOGICAL:
                if not isinstance(value, list) or not value:
                    raise FilterError(f"{key} takes a non-empty list of document filters", path=where)
                parts.append(_combine(_LOGICAL[key], [self.document(child, f"{where}[{i}]", depth + 1)
                                                      for i, child in enumerate(value)]))
            else:
                raise FilterError(f"unknown document operator {key!r}; use $contains, $not_contains, $and or $or",
                                  path=where)
        return _combine(And, parts)
