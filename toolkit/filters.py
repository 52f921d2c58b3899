"""Metadata filters: compile the filter language of search_spec §1 and evaluate it on columns.

Grammar (search_spec §1.2)::

    filter   := {} | { clause, ... }                 several keys = implicit AND
    clause   := "$and": [filter, ...] | "$or": [filter, ...]
              | field: scalar                        shorthand for {"$eq": scalar}
              | field: { "$op": operand, ... }       several operators = implicit AND
    $eq $ne            string, number or boolean (never a list, object or null)
    $gt $gte $lt $lte  number
    $in $nin           list of strings and numbers (booleans excluded), at most max_in_values
    $exists            boolean

``$and``/``$or`` nest to any depth up to ``max_depth``; the root filter is depth 1 and each
``$and``/``$or`` adds one. Every operator is described once, in ``_FIELD_OPERATORS`` and
``_LOGICAL_OPERATORS``: those tables drive validation, evaluation and the error messages.

Semantics (search_spec §1.3/§1.4)
---------------------------------
* A list-of-strings field "takes on" every element: ``$eq x`` matches when any element is
  ``x``, ``$in S`` when any element is in ``S``. ``$ne``/``$nin`` are exactly the negations of
  ``$eq``/``$in``. Range operators only ever match numbers, never strings, lists or booleans.
* Numbers compare as float64 (``2020 == 2020.0``); a boolean is never a number (``true != 1``);
  strings are case-sensitive; a comparison across types is simply false, never an error.
* Missing fields: ``$eq $in $gt $gte $lt $lte`` never match a record that lacks the field.
  ``$exists: true`` matches records that hold the field, ``$exists: false`` those that lack it.
  ``$ne``/``$nin`` depend on ``negation_requires_field``:

  - ``True`` (default; the reference service's behaviour since 2024, Haystack issue #590):
    they match only records that HOLD the field, so ``{"year": {"$ne": 2019}}`` skips a
    record without ``year``;
  - ``False`` (MongoDB): they also match records that lack the field.

* A field outside the ``filterable`` set given to ``Filter.mask`` counts as missing
  (search_spec §0.1).

Errors
------
Invalid filters raise ``FilterError`` (HTTP 400 INVALID_ARGUMENT) before any search. ``path``
locates the offending clause with ``$and[1]``-style steps and field names, e.g.
``FilterError("expected a number for $gt, got str", path="$and[1].price")``; a bad element of
an ``$in`` list adds ``.$in[i]``; a problem with the filter object itself has ``path=None``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .columns import FieldColumn, MetadataColumns
from .errors import FilterError

# --- operands ---------------------------------------------------------------------------------


class ValueSet:
    """The operand of ``$in``/``$nin``: strings and numbers kept apart for vectorised lookups."""

    __slots__ = ("values", "strings", "numbers")

    def __init__(self, values: tuple[str | float, ...]) -> None:
        self.values = values
        self.strings = frozenset(v for v in values if isinstance(v, str))
        self.numbers = np.array([v for v in values if not isinstance(v, str)], dtype=np.float64)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueSet) and self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return "[" + ", ".join(_format(v) for v in self.values) + "]"


_INVALID: Final = object()  # a parser's answer for "wrong type": the caller words the message


@dataclass(frozen=True)
class _Limits:
    max_depth: int
    max_in_values: int


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _finite(value: Any, op: str, path: str | None) -> float:
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64
        number = math.inf
    if not math.isfinite(number):
        raise FilterError(f"expected a finite number for {op}, got {value!r}", path=path)
    return number


def _parse_scalar(value: Any, op: str, path: str | None, limits: _Limits) -> Any:
    if isinstance(value, str):
        return str(value)
    if _is_bool(value):
        return bool(value)
    if _is_number(value):
        return _finite(value, op, path)
    return _INVALID


def _parse_number(value: Any, op: str, path: str | None, limits: _Limits) -> Any:
    return _finite(value, op, path) if _is_number(value) else _INVALID


def _parse_boolean(value: Any, op: str, path: str | None, limits: _Limits) -> Any:
    return bool(value) if _is_bool(value) else _INVALID


def _parse_value_list(value: Any, op: str, path: str | None, limits: _Limits) -> Any:
    if not isinstance(value, (list, tuple)):
        return _INVALID
    if len(value) > limits.max_in_values:
        raise FilterError(
            f"{op} holds {len(value)} values, more than max_in_values={limits.max_in_values}", path=path
        )
    items: list[str | float] = []
    for i, item in enumerate(value):
        where = f"{path}.{op}[{i}]"
        if isinstance(item, str):
            items.append(str(item))
        elif _is_number(item):
            items.append(_finite(item, op, where))
        else:
            raise FilterError(f"expected a string or number in {op}, got {_type_name(item)}", path=where)
    return ValueSet(tuple(items))


@dataclass(frozen=True)
class _OperandKind:
    """What an operator accepts: a description for error messages and a parser."""

    description: str
    # Return the normalised operand, or _INVALID for a wrong type; raise FilterError for
    # finer problems (non-finite numbers, bad list elements, too many values).
    parse: Callable[[Any, str, str | None, _Limits], Any]


_SCALAR = _OperandKind("a string, number or boolean", _parse_scalar)
_NUMBER = _OperandKind("a number", _parse_number)
_VALUE_LIST = _OperandKind("a list of strings and numbers", _parse_value_list)
_BOOLEAN = _OperandKind("a boolean", _parse_boolean)


# --- the operator tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldOperator:
    """One field operator: its operand and the positive mask it computes on a column."""

    name: str
    operand: _OperandKind
    evaluate: Callable[[FieldColumn, Any], np.ndarray]
    # $ne/$nin: the complement of `evaluate`, restricted to present fields by the policy.
    negated: bool = False


_FIELD_OPERATORS: Final[dict[str, _FieldOperator]] = {
    op.name: op
    for op in (
        _FieldOperator("$eq", _SCALAR, FieldColumn.equals),
        _FieldOperator("$ne", _SCALAR, FieldColumn.equals, negated=True),
        _FieldOperator("$gt", _NUMBER, lambda col, x: col.compare(np.greater, x)),
        _FieldOperator("$gte", _NUMBER, lambda col, x: col.compare(np.greater_equal, x)),
        _FieldOperator("$lt", _NUMBER, lambda col, x: col.compare(np.less, x)),
        _FieldOperator("$lte", _NUMBER, lambda col, x: col.compare(np.less_equal, x)),
        _FieldOperator("$in", _VALUE_LIST, lambda col, s: col.isin(s.strings, s.numbers)),
        _FieldOperator("$nin", _VALUE_LIST, lambda col, s: col.isin(s.strings, s.numbers), negated=True),
        _FieldOperator("$exists", _BOOLEAN, lambda col, b: col.present() if b else ~col.present()),
    )
}


@dataclass(frozen=True)
class _LogicalOperator:
    """``$and``/``$or``: the tree node that combines the children's masks."""

    name: str
    node: type[_Logical]


# --- the compiled tree ------------------------------------------------------------------------


class _Context:
    """What one ``mask`` call needs: the columns, the missing-field policy, the filterable set."""

    __slots__ = ("columns", "n", "negation_requires_field", "filterable", "_cache")

    def __init__(
        self, columns: MetadataColumns, negation_requires_field: bool, filterable: Collection[str] | None
    ) -> None:
        self.columns = columns
        self.n = len(columns)
        self.negation_requires_field = negation_requires_field
        self.filterable = filterable
        self._cache: dict[str, FieldColumn] = {}

    def column(self, name: str) -> FieldColumn:
        found = self._cache.get(name)
        if found is None:
            if self.filterable is not None and name not in self.filterable:
                found = FieldColumn.absent(self.n)
            else:
                found = self.columns.field(name)
            self._cache[name] = found
        return found


class Filter(ABC):
    """A compiled metadata filter; build one with ``compile_filter``."""

    __slots__ = ()

    def mask(
        self,
        columns: MetadataColumns,
        *,
        negation_requires_field: bool = True,
        filterable: Collection[str] | None = None,
    ) -> np.ndarray:
        """Return which rows of ``columns`` match, as a boolean array of ``len(columns)``.

        ``filterable`` (None = every field) lists the indexed fields; any other field is
        treated as missing (search_spec §0.1).
        """
        out = self._mask(_Context(columns, negation_requires_field, filterable))
        return out.astype(bool, copy=False)

    @property
    def matches_all(self) -> bool:
        """Return whether the filter matches every record, e.g. ``{"$and": [{}]}``."""
        return self == _MATCH_ALL

    def fields(self) -> list[str]:
        """Return the field names the filter references, in order of first appearance."""
        found: dict[str, None] = {}
        self._collect_fields(found)
        return list(found)

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Return the filter in the explicit JSON form (every shorthand spelled out)."""

    def __repr__(self) -> str:
        return f"Filter({self._expr()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @abstractmethod
    def _mask(self, ctx: _Context) -> np.ndarray: ...

    @abstractmethod
    def _collect_fields(self, found: dict[str, None]) -> None: ...

    @abstractmethod
    def _expr(self) -> str: ...

    @abstractmethod
    def _key(self) -> tuple[Any, ...]: ...


class Condition(Filter):
    """One operator applied to one field, e.g. ``year $gte 2020``."""

    __slots__ = ("field", "op", "operand")

    def __init__(self, field: str, op: str, operand: Any) -> None:
        self.field = field
        self.op = op
        self.operand = operand

    def _mask(self, ctx: _Context) -> np.ndarray:
        spec = _FIELD_OPERATORS[self.op]
        column = ctx.column(self.field)
        hit = spec.evaluate(column, self.operand)
        if not spec.negated:
            return hit
        miss = ~hit
        if ctx.negation_requires_field:
            miss &= column.present()
        return miss

    def _collect_fields(self, found: dict[str, None]) -> None:
        found[self.field] = None

    def to_dict(self) -> dict[str, Any]:
        operand = list(self.operand.values) if isinstance(self.operand, ValueSet) else self.operand
        return {self.field: {self.op: operand}}

    def _expr(self) -> str:
        return f"{self.field} {self.op} {_format(self.operand)}"

    def _key(self) -> tuple[Any, ...]:
        # The type goes into the key because True == 1.0 in Python but not in a filter.
        return ("cond", self.field, self.op, type(self.operand).__name__, self.operand)


class _Logical(Filter):
    __slots__ = ("children",)
    name: str = ""

    def __init__(self, children: tuple[Filter, ...]) -> None:
        self.children = children

    def _collect_fields(self, found: dict[str, None]) -> None:
        for child in self.children:
            child._collect_fields(found)

    def to_dict(self) -> dict[str, Any]:
        return {self.name: [child.to_dict() for child in self.children]}

    def _key(self) -> tuple[Any, ...]:
        # $and and $or are commutative, so identity ignores the children's order (and with it
        # the order of a mapping's keys): {"a": 1, "b": 2} and {"b": 2, "a": 1} are one filter.
        return (self.name, frozenset(child._key() for child in self.children))

    def _expr(self) -> str:
        if not self.children:
            return "all"
        word = f" {self.name[1:]} "
        return word.join(f"({c._expr()})" if isinstance(c, _Logical) else c._expr() for c in self.children)


class And(_Logical):
    """All children match (``$and``, and the implicit AND of several keys or operators)."""

    __slots__ = ()
    name = "$and"

    def _mask(self, ctx: _Context) -> np.ndarray:
        out = np.ones(ctx.n, bool)
        for child in self.children:
            out &= child._mask(ctx)
            if not out.any():  # nothing left to narrow down: skip the remaining children
                break
        return out

    def to_dict(self) -> dict[str, Any]:
        # Only {"$and": [{}]}-like filters compile to an empty AND; {} itself compiles to None.
        return super().to_dict() if self.children else {"$and": [{}]}


class Or(_Logical):
    """At least one child matches (``$or``)."""

    __slots__ = ()
    name = "$or"

    def _mask(self, ctx: _Context) -> np.ndarray:
        out = np.zeros(ctx.n, bool)
        for child in self.children:
            out |= child._mask(ctx)
            if out.all():
                break
        return out


_LOGICAL_OPERATORS: Final[dict[str, _LogicalOperator]] = {
    op.name: op for op in (_LogicalOperator("$and", And), _LogicalOperator("$or", Or))
}


_MATCH_ALL: Final = And(())  # what {} compiles to inside $and/$or


def _combine(node: type[_Logical], children: list[Filter]) -> Filter:
    """Return the children combined by ``node``, simplified so that equal filters compare equal.

    A match-all child (``{}``) vanishes from an AND and swallows an OR; a single remaining
    child stands for itself.
    """
    if node is Or and _MATCH_ALL in children:
        return _MATCH_ALL
    children = [c for c in children if c != _MATCH_ALL]
    if not children:
        return _MATCH_ALL
    return children[0] if len(children) == 1 else node(tuple(children))


# --- compiling --------------------------------------------------------------------------------


def compile_filter(
    filter: Mapping[str, Any] | Filter | None,  # noqa: A002 - the service's own parameter name
    *,
    max_depth: int = 16,
    max_in_values: int = 10_000,
) -> Filter | None:
    """Validate a filter and compile it; return None for "no filter" (None or ``{}``).

    A non-empty filter that can only match everything, such as ``{"$and": [{}]}``, compiles
    to a match-all ``Filter`` (``filter.matches_all`` is True), not to None.

    Raise ``FilterError`` with a ``path`` for anything search_spec §1.5 rejects. A ``Filter``
    passes through unchanged.
    """
    if filter is None or isinstance(filter, Filter):
        return filter
    if not isinstance(filter, Mapping):
        raise FilterError(f"expected a filter object, got {_type_name(filter)}")
    if not filter:
        return None
    return _Compiler(_Limits(max_depth, max_in_values)).filter(filter, None, 1)


def _join(path: str | None, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Compiler:
    def __init__(self, limits: _Limits) -> None:
        self.limits = limits

    def filter(self, obj: Mapping[Any, Any], path: str | None, depth: int) -> Filter:
        if depth > self.limits.max_depth:
            raise FilterError(f"filter is nested deeper than max_depth={self.limits.max_depth}", path=path)
        clauses: list[Filter] = []
        for key, value in obj.items():
            if not isinstance(key, str):
                raise FilterError(f"expected a string field name, got {_type_name(key)} {key!r}", path=path)
            if key.startswith("$"):
                clauses.append(self.logical(key, value, _join(path, key), depth))
            elif not key:
                raise FilterError("field names must not be empty", path=path)
            else:
                clauses.extend(self.field(key, value, _join(path, key)))
        return _combine(And, clauses)

    def logical(self, key: str, value: Any, path: str, depth: int) -> Filter:
        spec = _LOGICAL_OPERATORS.get(key)
        if spec is None:
            allowed = " and ".join(_LOGICAL_OPERATORS)
            if key in _FIELD_OPERATORS:
                raise FilterError(
                    f"{key} must be applied to a field, as in {{\"field\": {{\"{key}\": ...}}}}; "
                    f"only {allowed} may appear at the top level of a filter",
                    path=path,
                )
            raise FilterError(
                f"unknown operator {key}; only {allowed} may appear at the top level of a filter", path=path
            )
        if not isinstance(value, (list, tuple)) or not value:
            got = "an empty list" if isinstance(value, (list, tuple)) else _type_name(value)
            raise FilterError(f"expected a non-empty list of filter objects for {key}, got {got}", path=path)
        children: list[Filter] = []
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                raise FilterError(f"expected a filter object in {key}, got {_type_name(item)}", path=where)
            children.append(self.filter(item, where, depth + 1))
        return _combine(spec.node, children)

    def field(self, name: str, value: Any, path: str) -> list[Filter]:
        if isinstance(value, Mapping):
            if not value:
                raise FilterError("expected at least one operator such as $eq, got an empty object", path=path)
            pairs = list(value.items())
        else:
            pairs = [("$eq", value)]  # the {"genre": "comedy"} shorthand
        return [Condition(name, op, self.operand(op, operand, path)) for op, operand in pairs]

    def operand(self, op: Any, value: Any, path: str) -> Any:
        spec = _FIELD_OPERATORS.get(op) if isinstance(op, str) else None
        if spec is None:
            known = ", ".join(_FIELD_OPERATORS)
            if op in _LOGICAL_OPERATORS:
                raise FilterError(
                    f"{op} combines filters, it cannot be applied to a field; use it at the top level", path=path
                )
            if not (isinstance(op, str) and op.startswith("$")):
                raise FilterError(
                    f"expected an operator ({known}), got key {op!r}; nested metadata objects are not allowed",
                    path=path,
                )
            raise FilterError(f"unknown operator {op}; expected one of {known}", path=path)
        parsed = spec.operand.parse(value, op, path, self.limits)
        if parsed is _INVALID:
            hint = ""
            if spec.operand is _SCALAR and isinstance(value, (list, tuple)):
                hint = " (use $in to match any of several values)"
            raise FilterError(
                f"expected {spec.operand.description} for {op}, got {_type_name(value)}{hint}", path=path
            )
        return parsed


# --- formatting -------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _format(value: Any) -> str:
    if _is_bool(value):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


__all__ = ["compile_filter", "Filter", "Condition", "And", "Or", "ValueSet"]
