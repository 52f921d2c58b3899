"""A slow, obviously-correct evaluator of one filter on one metadata dict (a test oracle).

It follows search_spec §1.3/§1.4 word for word and assumes the filter is valid; the
vectorised ``toolkit.filters`` must agree with it on every row.
"""

from __future__ import annotations

from typing import Any, Mapping


def reference_match(
    filter: Mapping[str, Any] | None,  # noqa: A002
    metadata: Mapping[str, Any] | None,
    *,
    negation_requires_field: bool = True,
) -> bool:
    """Return whether ``metadata`` matches the (valid) ``filter``; None or {} matches everything."""
    metadata = metadata or {}
    return all(
        _clause(key, value, metadata, negation_requires_field) for key, value in (filter or {}).items()
    )


def _clause(key: str, value: Any, metadata: Mapping[str, Any], policy: bool) -> bool:
    if key == "$and":
        return all(reference_match(f, metadata, negation_requires_field=policy) for f in value)
    if key == "$or":
        return any(reference_match(f, metadata, negation_requires_field=policy) for f in value)
    ops = value if isinstance(value, Mapping) else {"$eq": value}  # shorthand
    return all(_op(op, operand, key, metadata, policy) for op, operand in ops.items())


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same(stored: Any, wanted: Any) -> bool:
    """Equality as the spec defines it: no cross-type matches, bool is not a number."""
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if _is_number(stored) and _is_number(wanted):
        return float(stored) == float(wanted)
    if isinstance(stored, str) and isinstance(wanted, str):
        return stored == wanted
    return False


def _op(op: str, operand: Any, field: str, metadata: Mapping[str, Any], policy: bool) -> bool:
    present = field in metadata
    if op == "$exists":
        return present == bool(operand)
    if not present:
        # Positive operators never match a missing field; negations follow the policy.
        return op in ("$ne", "$nin") and not policy
    value = metadata[field]
    values = list(value) if isinstance(value, (list, tuple)) else [value]  # "takes on" each element
    if op == "$eq":
        return any(_same(v, operand) for v in values)
    if op == "$ne":
        return not any(_same(v, operand) for v in values)
    if op == "$in":
        return any(_same(v, o) for v in values for o in operand)
    if op == "$nin":
        return not any(_same(v, o) for v in values for o in operand)
    if not _is_number(value):  # range operators compare numbers only
        return False
    x, bound = float(value), float(operand)
    if op == "$gt":
        return x > bound
    if op == "$gte":
        return x >= bound
    if op == "$lt":
        return x < bound
    if op == "$lte":
        return x <= bound
    raise AssertionError(f"the reference evaluator does not know {op}")
