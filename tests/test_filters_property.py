"""Property tests: the vectorised filter agrees with the reference evaluator on random data.

Values and field names come from small pools, so random filters and random rows collide
often (equal strings, equal numbers, 1 vs 1.0 vs true, lists holding the wanted string).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.columns import MetadataColumns
from toolkit.errors import FilterError
from toolkit.filters import Filter, compile_filter

try:  # tests/ may or may not become a package
    from .filter_reference import reference_match
except ImportError:
    from filter_reference import reference_match

FIELDS = ["a", "b", "c", "d"]
STRINGS = ["x", "y", "z", "", "X", "1"]
NUMBERS = [-1, 0, 1, 1.0, 2.5, 2020, -0.0]

strings = st.sampled_from(STRINGS)
numbers = st.sampled_from(NUMBERS) | st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
scalars = strings | numbers | st.booleans()
stored_values = scalars | st.lists(strings, max_size=3)
rows = st.none() | st.dictionaries(st.sampled_from(FIELDS), stored_values, max_size=4)
fields = st.sampled_from(FIELDS + ["missing"])

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def op_exprs(draw: st.DrawFn) -> Any:
    """One field's value in a filter: a shorthand scalar or a dict of 1–3 operators."""
    if draw(st.booleans()):
        return draw(scalars)
    ops = {
        "$eq": scalars,
        "$ne": scalars,
        "$gt": numbers,
        "$gte": numbers,
        "$lt": numbers,
        "$lte": numbers,
        "$in": st.lists(strings | numbers, max_size=4),
        "$nin": st.lists(strings | numbers, max_size=4),
        "$exists": st.booleans(),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(ops)), min_size=1, max_size=3, unique=True))
    return {op: draw(ops[op]) for op in chosen}


def _filters(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    logical = st.dictionaries(st.sampled_from(["$and", "$or"]), st.lists(children, min_size=1, max_size=3), min_size=1)
    field_clauses = st.dictionaries(fields, op_exprs(), max_size=3)
    return st.builds(lambda f, l: {**f, **l}, field_clauses, logical) | field_clauses


valid_filters = st.recursive(st.dictionaries(fields, op_exprs(), max_size=3), _filters, max_leaves=12)


@st.composite
def batched_rows(draw: st.DrawFn) -> tuple[list[Any], list[int]]:
    data = draw(st.lists(rows, max_size=25))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
    return data, [0, *cuts, len(data)]


def _columns_in_batches(data: list[Any], cuts: list[int]) -> MetadataColumns:
    columns = MetadataColumns()
    for start, stop in zip(cuts, cuts[1:]):
        columns.append(data[start:stop])
    return columns


@SETTINGS
@given(filter=valid_filters, batches=batched_rows())
def test_mask_equals_reference_under_both_policies(filter: dict[str, Any], batches: tuple[list[Any], list[int]]) -> None:
    data, cuts = batches
    compiled = compile_filter(filter)
    columns = _columns_in_batches(data, cuts)
    for policy in (True, False):
        expected = [reference_match(filter, row, negation_requires_field=policy) for row in data]
        got = [True] * len(data) if compiled is None else compiled.mask(columns, negation_requires_field=policy).tolist()
        assert got == expected, f"negation_requires_field={policy}"


@SETTINGS
@given(filter=valid_filters, data=st.lists(rows, max_size=20), picks=st.lists(st.integers(0, 19), max_size=20))
def test_mask_after_take_concat_and_state(filter: dict[str, Any], data: list[Any], picks: list[int]) -> None:
    compiled = compile_filter(filter)
    if compiled is None:
        return
    picks = [p for p in picks if p < len(data)]
    whole = MetadataColumns.from_records(data)
    taken = whole.take(np.asarray(picks, dtype=np.int64))
    restored = MetadataColumns.from_state(MetadataColumns.concat([taken, whole]).state())
    combined_rows = [data[p] for p in picks] + data
    assert restored == MetadataColumns.from_records(combined_rows)
    for policy in (True, False):
        expected = [reference_match(filter, row, negation_requires_field=policy) for row in combined_rows]
        assert compiled.mask(restored, negation_requires_field=policy).tolist() == expected


@SETTINGS
@given(filter=valid_filters)
def test_compiled_filter_round_trips_through_to_dict(filter: dict[str, Any]) -> None:
    compiled = compile_filter(filter)
    if compiled is None:
        return
    assert compile_filter(compiled.to_dict()) == compiled
    assert isinstance(repr(compiled), str) and set(compiled.fields()) <= set(FIELDS + ["missing"])


# --- invalid filters --------------------------------------------------------------------------

KEYS = ["a", "", "$eq", "$ne", "$gt", "$in", "$nin", "$exists", "$and", "$or", "$not", "$regex", "nested"]
json_atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # includes NaN and inf, which a filter must reject
    | st.text(max_size=3)
)
garbage = st.recursive(
    json_atoms,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS) | st.integers(0, 2), inner, max_size=3),
    max_leaves=15,
)


@SETTINGS
@given(candidate=garbage)
def test_arbitrary_input_compiles_or_raises_filter_error(candidate: Any) -> None:
    try:
        compiled = compile_filter(candidate, max_depth=4, max_in_values=2)
    except FilterError as error:
        assert error.status == 400 and str(error)
        return
    assert compiled is None or isinstance(compiled, Filter)


BAD_OPERANDS = {
    "$eq": st.none() | st.lists(scalars, max_size=2) | st.just({"k": 1}) | st.just(math.nan),
    "$ne": st.none() | st.lists(scalars, max_size=2) | st.just({}),
    "$gt": st.none() | strings | st.booleans() | st.lists(numbers, max_size=2) | st.just(math.inf),
    "$lte": st.none() | strings | st.booleans(),
    "$in": st.none() | strings | numbers | st.lists(st.booleans() | st.none(), min_size=1, max_size=2),
    "$nin": st.just([1, 2, 3, 4]),  # longer than max_in_values below
    "$exists": st.none() | strings | numbers | st.lists(st.booleans(), max_size=1),
}


@st.composite
def invalid_filters(draw: st.DrawFn) -> dict[str, Any]:
    """A valid filter with one clause made invalid, somewhere inside it."""
    bad_op = draw(st.sampled_from(sorted(BAD_OPERANDS)))
    bad: dict[str, Any] = draw(
        st.sampled_from(
            [
                {draw(fields): {bad_op: draw(BAD_OPERANDS[bad_op])}},
                {draw(fields): {"$regex": "x"}},
                {"$eq": draw(scalars)},
                {"$and": []},
                {"$or": [draw(scalars)]},
                {draw(fields): draw(st.lists(scalars, min_size=1, max_size=2))},
            ]
        )
    )
    for _ in range(draw(st.integers(0, 3))):  # bury it inside $and/$or next to valid siblings
        siblings = draw(st.lists(valid_filters, max_size=2))
        position = draw(st.integers(0, len(siblings)))
        bad = {draw(st.sampled_from(["$and", "$or"])): siblings[:position] + [bad] + siblings[position:]}
    return bad


@SETTINGS
@given(filter=invalid_filters())
def test_invalid_filters_raise_filter_error_with_a_path(filter: dict[str, Any]) -> None:
    try:
        compile_filter(filter, max_in_values=3)
    except FilterError as error:
        assert error.path  # every planted problem sits inside the filter object
    else:
        raise AssertionError(f"compiled an invalid filter: {filter!r}")
