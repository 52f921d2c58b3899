"""Filter language and metadata columns: the spec's examples (search_spec §1, §9.1, §9.5) replayed.

Tests whose outcome depends on the missing-field policy name it in their id
(``negation_requires_field=True`` is the default, ``False`` is MongoDB's).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from toolkit.columns import MetadataColumns
from toolkit.errors import FilterError, InvalidArgumentError
from toolkit.filters import Filter, compile_filter

try:  # tests/ may or may not become a package
    from .filter_reference import reference_match
except ImportError:
    from filter_reference import reference_match


# --- fixture data -----------------------------------------------------------------------------


def _fixture_path() -> Path | None:
    """Find search_fixtures.json: the copy next to the tests, then $TOOLKIT_SHARED_SPEC, then ../shared."""
    candidates = [Path(__file__).resolve().parent / "data" / "search_fixtures.json"]
    if os.environ.get("TOOLKIT_SHARED_SPEC"):
        candidates.insert(0, Path(os.environ["TOOLKIT_SHARED_SPEC"]) / "search_fixtures.json")
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "spec" / "search_fixtures.json")
    return next((p for p in candidates if p.is_file()), None)


def _load_ad() -> dict[str, Any] | None:
    path = _fixture_path()
    return json.loads(path.read_text("utf-8"))["ad_filter_dataset_DERIVED"] if path else None


AD = _load_ad()
needs_fixtures = pytest.mark.skipif(AD is None, reason="search_fixtures.json not found (tests/data or $TOOLKIT_SHARED_SPEC)")
AD_CASES = AD["filter_cases"] if AD else []
AD_IDS = [r["id"] for r in AD["records"]] if AD else []
LIST_CASES = AD["list_field_cases_QUOTED_26747_26779"] if AD else {"match": [], "no_match": [], "compile_error": []}


def _ad_columns() -> MetadataColumns:
    assert AD is not None
    return MetadataColumns.from_records([r["metadata"] for r in AD["records"]])


def _matched_ids(mask: np.ndarray) -> list[str]:
    return [AD_IDS[i] for i in np.flatnonzero(mask)]


def _mask(filter: Any, metadatas: list[Any], **kwargs: Any) -> list[bool]:
    compiled = compile_filter(filter)
    if compiled is None:
        return [True] * len(metadatas)
    return compiled.mask(MetadataColumns.from_records(metadatas), **kwargs).tolist()


# --- §9.5: the A–D dataset ---------------------------------------------------------------------


def _case_id(case: dict[str, Any]) -> str:
    policy = "-policy" if "policy" in case and case["policy"].startswith("negation") else ""
    return json.dumps(case["filter"], separators=(",", ":")) + policy


@needs_fixtures
@pytest.mark.parametrize("case", [c for c in AD_CASES if "error" not in c], ids=_case_id)
def test_ad_dataset_default_policy(case: dict[str, Any]) -> None:
    """negation_requires_field=True: every row of the §9.5 table."""
    compiled = compile_filter(case["filter"])
    assert compiled is not None
    assert _matched_ids(compiled.mask(_ad_columns())) == case["match"]


@needs_fixtures
@pytest.mark.parametrize("case", [c for c in AD_CASES if "error" not in c], ids=_case_id)
def test_ad_dataset_mongodb_policy(case: dict[str, Any]) -> None:
    """negation_requires_field=False: the $ne/$nin rows add D, the others do not change."""
    compiled = compile_filter(case["filter"])
    assert compiled is not None
    expected = case.get("alt_match", case["match"])
    assert _matched_ids(compiled.mask(_ad_columns(), negation_requires_field=False)) == expected


@needs_fixtures
@pytest.mark.parametrize("case", [c for c in AD_CASES if "error" not in c], ids=_case_id)
@pytest.mark.parametrize("policy", [True, False], ids=["negation_requires_field=True", "negation_requires_field=False"])
def test_reference_evaluator_agrees_with_ad_table(case: dict[str, Any], policy: bool) -> None:
    """The oracle the property tests trust must itself reproduce the spec's table."""
    assert AD is not None
    expected = case["match"] if policy else case.get("alt_match", case["match"])
    got = [r["id"] for r in AD["records"] if reference_match(case["filter"], r["metadata"], negation_requires_field=policy)]
    assert got == expected


@needs_fixtures
@pytest.mark.parametrize("case", [c for c in AD_CASES if "error" in c], ids=_case_id)
def test_ad_dataset_compile_errors(case: dict[str, Any]) -> None:
    with pytest.raises(FilterError):
        compile_filter(case["filter"])


def test_ad_dataset_has_the_expected_shape() -> None:
    """Guard against an emptied fixture silently turning the parametrised tests into no-ops."""
    if AD is None:
        pytest.skip("search_fixtures.json not found")
    assert len(AD_CASES) == 20 and AD_IDS == ["A", "B", "C", "D"]


# --- §9.1 Q1: list-valued metadata -------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("filter", LIST_CASES["match"], ids=json.dumps)
def test_q1_list_field_matches(filter: dict[str, Any]) -> None:
    assert _mask(filter, [LIST_CASES["metadata"]]) == [True]


@needs_fixtures
@pytest.mark.parametrize("filter", LIST_CASES["no_match"], ids=json.dumps)
def test_q1_list_field_does_not_match(filter: dict[str, Any]) -> None:
    assert _mask(filter, [LIST_CASES["metadata"]]) == [False]


@needs_fixtures
@pytest.mark.parametrize("filter", LIST_CASES["compile_error"], ids=json.dumps)
def test_q1_list_operand_is_a_compile_error(filter: dict[str, Any]) -> None:
    with pytest.raises(FilterError, match=r"expected a string, number or boolean for \$eq, got list") as info:
        compile_filter(filter)
    assert info.value.path == "genre"
    assert isinstance(info.value, InvalidArgumentError) and info.value.status == 400


def test_list_field_negations_and_ranges() -> None:
    """$ne/$nin are the negations of $eq/$in on lists; ranges never match a list."""
    rows = [{"genre": ["comedy", "documentary"]}, {"genre": []}]
    assert _mask({"genre": {"$ne": "comedy"}}, rows) == [False, True]
    assert _mask({"genre": {"$ne": "drama"}}, rows) == [True, True]
    assert _mask({"genre": {"$nin": ["drama", "documentary"]}}, rows) == [False, True]
    assert _mask({"genre": {"$exists": True}}, rows) == [True, True]
    assert _mask({"genre": {"$gt": 0}}, rows) == [False, False]
    assert _mask({"genre": {"$eq": "Comedy"}}, rows) == [False, False]  # case-sensitive


# --- §9.1 Q2–Q4 --------------------------------------------------------------------------------

# D:26730-26740, the operator table's own examples.
Q2_OPERATOR_EXAMPLES = [
    {"genre": {"$eq": "documentary"}},
    {"genre": {"$ne": "drama"}},
    {"year": {"$gt": 2019}},
    {"year": {"$gte": 2020}},
    {"year": {"$lt": 2020}},
    {"year": {"$lte": 2020}},
    {"genre": {"$in": ["comedy", "documentary"]}},
    {"genre": {"$nin": ["comedy", "documentary"]}},
    {"genre": {"$exists": True}},
    {"$and": [{"genre": {"$eq": "drama"}}, {"year": {"$gte": 2020}}]},
    {"$or": [{"genre": {"$eq": "drama"}}, {"year": {"$gte": 2020}}]},
]


@pytest.mark.parametrize("filter", Q2_OPERATOR_EXAMPLES, ids=json.dumps)
def test_q2_operator_examples_compile(filter: dict[str, Any]) -> None:
    compiled = compile_filter(filter)
    assert isinstance(compiled, Filter)
    assert compiled.to_dict() == json.loads(json.dumps(filter).replace("2019", "2019.0").replace("2020", "2020.0"))


def test_q3_shorthand_is_eq() -> None:
    """D:26359 vs D:26550."""
    short = compile_filter({"category": "digestive system"})
    long = compile_filter({"category": {"$eq": "digestive system"}})
    assert short == long
    rows: list[dict[str, Any] | None] = [
        {"category": "digestive system"}, {"category": "Digestive system"}, {"category": ["digestive system"]}, None
    ]
    assert short is not None and long is not None
    columns = MetadataColumns.from_records(rows)
    assert short.mask(columns).tolist() == long.mask(columns).tolist() == [True, False, True, False]


def test_q4_implicit_and_with_numeric_in() -> None:
    """D:4364-4367 over chunks 1–3 of document1 (plus a document2 chunk the AND must exclude)."""
    records = {
        "document1#chunk1": {"document_id": "document1", "chunk_number": 1},
        "document1#chunk2": {"document_id": "document1", "chunk_number": 2},
        "document1#chunk3": {"document_id": "document1", "chunk_number": 3},
        "document2#chunk1": {"document_id": "document2", "chunk_number": 1},
    }
    compiled = compile_filter({"document_id": {"$eq": "document1"}, "chunk_number": {"$in": [1, 3]}})
    assert compiled is not None
    mask = compiled.mask(MetadataColumns.from_records(list(records.values())))
    assert [rid for rid, hit in zip(records, mask) if hit] == ["document1#chunk1", "document1#chunk3"]


# --- types and missing fields (search_spec §1.2–§1.4) -----------------------------------------

MIXED: list[dict[str, Any] | None] = [
    {"x": 1},
    {"x": 1.0},
    {"x": True},
    {"x": "1"},
    {"x": ["1"]},
    {"y": 1},
    None,
    {"x": False},
]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"x": 1}, [1, 1, 0, 0, 0, 0, 0, 0]),
        ({"x": 1.0}, [1, 1, 0, 0, 0, 0, 0, 0]),
        ({"x": True}, [0, 0, 1, 0, 0, 0, 0, 0]),  # true is not 1
        ({"x": False}, [0, 0, 0, 0, 0, 0, 0, 1]),  # false is not 0
        ({"x": "1"}, [0, 0, 0, 1, 1, 0, 0, 0]),
        ({"x": {"$in": [1, "1"]}}, [1, 1, 0, 1, 1, 0, 0, 0]),
        ({"x": {"$gte": 1}}, [1, 1, 0, 0, 0, 0, 0, 0]),  # ranges: numbers only
        ({"x": {"$lt": 2}}, [1, 1, 0, 0, 0, 0, 0, 0]),
        ({"x": {"$exists": False}}, [0, 0, 0, 0, 0, 1, 1, 0]),
        ({"x": {"$gt": 0, "$lt": 2}}, [1, 1, 0, 0, 0, 0, 0, 0]),  # several operators = AND
    ],
    ids=json.dumps,
)
def test_type_rules(filter: dict[str, Any], expected: list[int]) -> None:
    assert _mask(filter, MIXED) == [bool(e) for e in expected]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(True, [0, 0, 1, 1, 1, 0, 0, 1]), (False, [0, 0, 1, 1, 1, 1, 1, 1])],
    ids=["negation_requires_field=True", "negation_requires_field=False"],
)
def test_missing_field_policy_for_ne_and_nin(policy: bool, expected: list[int]) -> None:
    assert _mask({"x": {"$ne": 1}}, MIXED, negation_requires_field=policy) == [bool(e) for e in expected]
    assert _mask({"x": {"$nin": [1]}}, MIXED, negation_requires_field=policy) == [bool(e) for e in expected]


def test_non_filterable_fields_behave_as_missing() -> None:
    """search_spec §0.1: a field outside the filterable set "does not exist"."""
    columns = MetadataColumns.from_records([{"genre": "drama", "year": 2020}, {"genre": "comedy"}])
    compiled = compile_filter({"$or": [{"year": {"$exists": True}}, {"genre": "comedy"}]})
    assert compiled is not None
    assert compiled.mask(columns).tolist() == [True, True]
    assert compiled.mask(columns, filterable={"year"}).tolist() == [True, False]
    assert compiled.mask(columns, filterable=set()).tolist() == [False, False]
    ne = compile_filter({"genre": {"$ne": "drama"}})
    assert ne is not None
    assert ne.mask(columns, filterable=set()).tolist() == [False, False]
    assert ne.mask(columns, filterable=set(), negation_requires_field=False).tolist() == [True, True]


def test_no_filter_and_empty_filters() -> None:
    assert compile_filter(None) is None
    assert compile_filter({}) is None
    nested_empty = compile_filter({"$and": [{}], "x": {"$exists": True}})
    assert nested_empty is not None
    assert nested_empty.mask(MetadataColumns.from_records([{"x": 1}, {}])).tolist() == [True, False]
    assert nested_empty == compile_filter({"x": {"$exists": True}})  # {} vanishes from an AND
    # Only None and {} are "no filter"; other filters that match everything say so.
    everything = MetadataColumns.from_records([{"x": 1}, None])
    match_all: list[dict[str, Any]] = [{"$and": [{}]}, {"$or": [{"x": 1}, {}]}, {"$or": [{"$and": [{}, {}]}], "$and": [{}]}]
    for filter in match_all:
        compiled = compile_filter(filter)
        assert compiled is not None and compiled.matches_all, filter
        assert compiled.mask(everything).tolist() == [True, True]
        assert compile_filter(compiled.to_dict()) == compiled
        assert repr(compiled) == "Filter(all)"
    assert not nested_empty.matches_all


def test_filter_identity_ignores_key_and_clause_order() -> None:
    a, b = compile_filter({"a": 1, "b": 2}), compile_filter({"b": 2, "a": 1})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.to_dict() != b.to_dict()  # the spelling keeps the caller's order
    ops = compile_filter({"y": {"$gte": 1, "$lt": 5}}), compile_filter({"y": {"$lt": 5, "$gte": 1}})
    assert ops[0] == ops[1] and hash(ops[0]) == hash(ops[1])
    ors = compile_filter({"$or": [{"a": 1}, {"b": {"$in": [1, "x"]}}]}), compile_filter({"$or": [{"b": {"$in": [1, "x"]}}, {"a": 1}]})
    assert ors[0] == ors[1] and hash(ors[0]) == hash(ors[1])
    # Order is all that is ignored: other operands, fields or connectives still differ.
    assert compile_filter({"a": 1, "b": 3}) != a
    assert compile_filter({"$or": [{"a": 1}, {"b": 2}]}) != a
    assert compile_filter({"a": 1, "b": True}) != compile_filter({"b": 1, "a": 1})


def test_compiled_filter_passes_through_and_has_fields_and_repr() -> None:
    compiled = compile_filter({"$or": [{"genre": "drama"}, {"$and": [{"year": {"$gte": 2020}}, {"tags": {"$in": ["a", 2]}}]}]})
    assert compile_filter(compiled) is compiled  # type: ignore[arg-type]
    assert compiled is not None
    assert compiled.fields() == ["genre", "year", "tags"]
    assert repr(compiled) == "Filter(genre $eq 'drama' or (year $gte 2020 and tags $in ['a', 2]))"
    assert compile_filter(compiled.to_dict()) == compiled


def test_empty_columns_give_an_empty_mask() -> None:
    compiled = compile_filter({"genre": {"$ne": "drama"}})
    assert compiled is not None
    assert compiled.mask(MetadataColumns()).shape == (0,)
    assert compiled.mask(MetadataColumns()).dtype == bool


# --- §1.5: compile errors with paths ----------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "path", "message"),
    [
        ({"$and": [{"genre": "x"}, {"price": {"$gt": "a"}}]}, "$and[1].price", r"expected a number for \$gt, got str"),
        ({"price": {"$lte": True}}, "price", r"expected a number for \$lte, got bool"),
        ({"genre": {"$regex": "c.*"}}, "genre", r"unknown operator \$regex"),
        ({"genre": {"$not": {"$eq": "x"}}}, "genre", r"unknown operator \$not"),
        ({"$eq": "comedy"}, "$eq", r"\$eq must be applied to a field"),
        ({"$or": [{"$nor": []}]}, "$or[0].$nor", r"unknown operator \$nor; only \$and and \$or"),
        ({"$and": []}, "$and", r"non-empty list of filter objects for \$and, got an empty list"),
        ({"$or": {"genre": "x"}}, "$or", r"non-empty list of filter objects for \$or, got object"),
        ({"$and": [{"a": 1}, "b"]}, "$and[1]", r"expected a filter object in \$and, got str"),
        ({"genre": {"$in": "comedy"}}, "genre", r"expected a list of strings and numbers for \$in, got str"),
        ({"genre": {"$nin": ["a", True]}}, r"genre.$nin[1]", r"expected a string or number in \$nin, got bool"),
        ({"genre": {"$in": [["a"]]}}, r"genre.$in[0]", r"got list"),
        ({"genre": {"$in": [None]}}, r"genre.$in[0]", r"got null"),
        ({"genre": {"$exists": 1}}, "genre", r"expected a boolean for \$exists, got int"),
        ({"genre": None}, "genre", r"for \$eq, got null"),
        ({"genre": {"$ne": None}}, "genre", r"for \$ne, got null"),
        ({"genre": {"$eq": {"a": 1}}}, "genre", r"for \$eq, got object"),
        ({"genre": {"$ne": ["a"]}}, "genre", r"for \$ne, got list \(use \$in"),
        ({"genre": {}}, "genre", r"at least one operator"),
        ({"genre": {"a": 1}}, "genre", r"nested metadata objects are not allowed"),
        ({"genre": {"$and": [{"x": 1}]}}, "genre", r"\$and combines filters"),
        ({"year": {"$gt": float("nan")}}, "year", r"finite number"),
        ({"year": {"$eq": float("inf")}}, "year", r"finite number"),
        ({"year": {"$in": [10**400]}}, "year.$in[0]", r"finite number"),
        ({"": 1}, None, r"field names must not be empty"),
        ({"$or": [{"ok": 1}, {1: 1}]}, "$or[1]", r"expected a string field name, got int"),
    ],
    ids=lambda v: json.dumps(v, default=str) if isinstance(v, dict) else str(v),
)
def test_errors_locate_the_problem(filter: dict[Any, Any], path: str | None, message: str) -> None:
    with pytest.raises(FilterError, match=message) as info:
        compile_filter(filter)
    assert info.value.path == path


@pytest.mark.parametrize("bad", [[], [{"a": 1}], "genre", 3, True])
def test_a_filter_must_be_an_object(bad: Any) -> None:
    with pytest.raises(FilterError, match="expected a filter object") as info:
        compile_filter(bad)
    assert info.value.path is None


# --- §1.6: limits -----------------------------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    """Return a filter whose depth (root = 1, each $and/$or adds one) is ``depth``."""
    f: dict[str, Any] = {"x": 1}
    for i in range(depth - 1):
        f = {"$and" if i % 2 else "$or": [f]}
    return f


def test_depth_limit() -> None:
    assert compile_filter(_nested(16)) is not None
    with pytest.raises(FilterError, match="deeper than max_depth=16") as info:
        compile_filter(_nested(17))
    assert info.value.path == ".".join(["$and[0]" if i % 2 else "$or[0]" for i in reversed(range(16))])
    assert compile_filter(_nested(3), max_depth=3) is not None
    with pytest.raises(FilterError):
        compile_filter(_nested(4), max_depth=3)


def test_depth_limit_survives_absurd_nesting() -> None:
    with pytest.raises(FilterError, match="max_depth"):
        compile_filter(_nested(5000))


def test_depth_limit_keeps_semantics() -> None:
    compiled = compile_filter(_nested(16))
    assert compiled is not None
    assert compiled.mask(MetadataColumns.from_records([{"x": 1}, {"x": 2}])).tolist() == [True, False]


def test_in_size_limit() -> None:
    assert compile_filter({"x": {"$in": list(range(10_000))}}) is not None
    with pytest.raises(FilterError, match="10001 values, more than max_in_values=10000") as info:
        compile_filter({"$and": [{"x": {"$nin": list(range(10_001))}}]})
    assert info.value.path == "$and[0].x"
    assert compile_filter({"x": {"$in": [1, 2, 3]}}, max_in_values=3) is not None
    with pytest.raises(FilterError, match="max_in_values=3"):
        compile_filter({"x": {"$in": [1, 2, 3, 4]}}, max_in_values=3)


def test_large_in_list_matches() -> None:
    compiled = compile_filter({"x": {"$in": [f"v{i}" for i in range(5000)] + list(range(5000))}})
    assert compiled is not None
    rows: list[dict[str, Any]] = [{"x": "v4999"}, {"x": 4999}, {"x": "v5000"}, {"x": ["nope", "v17"]}, {"x": 5000.5}]
    assert compiled.mask(MetadataColumns.from_records(rows)).tolist() == [True, True, False, True, False]


# --- columns: take, concat, state, append ----------------------------------------------------

ROWS: list[dict[str, Any] | None] = [
    {"genre": "comedy", "year": 2020, "tags": ["a", "b"], "public": True},
    {"genre": "drama", "year": 2019.5, "tags": []},
    None,
    {"genre": ["comedy", "x"], "public": False, "only_here": "z"},
    {},
    {"year": "2020", "tags": ["b"], "genre": 3},
]
PROBES: list[dict[str, Any]] = [
    {"genre": "comedy"},
    {"genre": {"$ne": "comedy"}},
    {"genre": {"$in": ["x", 3]}},
    {"tags": "b"},
    {"tags": {"$nin": ["a"]}},
    {"tags": {"$exists": True}},
    {"year": {"$gte": 2019.5}},
    {"year": "2020"},
    {"public": True},
    {"public": {"$ne": True}},
    {"only_here": {"$exists": False}},
    {"$or": [{"genre": "drama"}, {"public": False}]},
]


def _all_masks(columns: MetadataColumns, policy: bool = True) -> list[list[bool]]:
    out = []
    for probe in PROBES:
        compiled = compile_filter(probe)
        assert compiled is not None
        out.append(compiled.mask(columns, negation_requires_field=policy).tolist())
    return out


def _expected_masks(rows: list[Any], policy: bool = True) -> list[list[bool]]:
    return [[reference_match(p, r, negation_requires_field=policy) for r in rows] for p in PROBES]


@pytest.mark.parametrize("policy", [True, False], ids=["negation_requires_field=True", "negation_requires_field=False"])
def test_columns_match_reference(policy: bool) -> None:
    assert _all_masks(MetadataColumns.from_records(ROWS), policy) == _expected_masks(ROWS, policy)


def test_to_records_round_trip_stores_numbers_as_float() -> None:
    columns = MetadataColumns.from_records(ROWS)
    assert len(columns) == len(ROWS)
    assert columns.fields() == ["genre", "year", "tags", "public", "only_here"]
    assert columns.to_records() == [dict(r or {}) for r in ROWS]
    assert isinstance(columns.to_records()[0]["year"], float)


@pytest.mark.parametrize("sizes", [[6], [1, 5], [2, 2, 2], [1, 1, 1, 1, 1, 1], [3, 0, 3]])
def test_append_in_batches_equals_one_batch(sizes: list[int]) -> None:
    columns = MetadataColumns()
    start = 0
    for size in sizes:
        columns.append(ROWS[start : start + size])
        start += size
        # Read between appends, so consolidated and pending chunks are mixed.
        assert _all_masks(columns) == _expected_masks(ROWS[:start])
    assert columns == MetadataColumns.from_records(ROWS)
    assert _all_masks(columns, False) == _expected_masks(ROWS, False)


def test_append_many_batches_without_reads() -> None:
    rows = [{"i": i, "s": f"v{i % 7}", "l": [f"v{i % 3}"]} if i % 5 else None for i in range(300)]
    columns = MetadataColumns()
    for i in range(0, 300, 7):
        columns.append(rows[i : i + 7])
    assert len(columns) == 300
    assert columns == MetadataColumns.from_records(rows)
    compiled = compile_filter({"$or": [{"s": "v3"}, {"l": "v2"}]})
    assert compiled is not None
    assert compiled.mask(columns).tolist() == [reference_match({"$or": [{"s": "v3"}, {"l": "v2"}]}, r) for r in rows]


def test_append_rejects_unstorable_values_and_leaves_the_store_unchanged() -> None:
    columns = MetadataColumns.from_records([{"genre": "comedy"}])
    before = columns.state()
    with pytest.raises(InvalidArgumentError, match=r"metadata\[1\]\.genre"):
        columns.append([{"genre": "new"}, {"genre": {"nested": 1}}])
    with pytest.raises(InvalidArgumentError):
        columns.append([{"tags": ["ok", 3]}])
    assert len(columns) == 1
    after = columns.state()
    assert after["fields"].keys() == before["fields"].keys()
    assert after["fields"]["genre"]["vocab"] == ["comedy"]


@pytest.mark.parametrize(
    "rows",
    [[5, 0, 3], [0, 0, 0], [], [2, 4], [-1, 0], [3, 1, 0, 5]],
    ids=str,
)
def test_take_subsets_in_order(rows: list[int]) -> None:
    columns = MetadataColumns.from_records(ROWS)
    taken = columns.take(np.asarray(rows, dtype=np.int64))
    chosen = [ROWS[i] for i in rows]
    assert len(taken) == len(rows)
    assert taken == MetadataColumns.from_records(chosen)
    assert taken.to_records() == [dict(r or {}) for r in chosen]
    assert _all_masks(taken) == _expected_masks(chosen)
    assert _all_masks(taken, False) == _expected_masks(chosen, False)


def test_take_accepts_a_boolean_mask_and_drops_unused_fields_and_strings() -> None:
    columns = MetadataColumns.from_records(ROWS)
    keep = np.array([True, True, False, False, False, False])
    taken = columns.take(keep)
    assert taken.fields() == ["genre", "year", "tags", "public"]
    assert taken.state()["fields"]["genre"]["vocab"] == ["comedy", "drama"]  # "x" only lived in row 3
    with pytest.raises(IndexError):
        columns.take(np.array([6]))


@pytest.mark.parametrize("split", [[0, 6], [2, 4], [1, 2, 3], [3, 3], [6, 0]], ids=str)
def test_concat_equals_the_whole(split: list[int]) -> None:
    parts, start = [], 0
    for size in split:
        parts.append(MetadataColumns.from_records(ROWS[start : start + size]))
        start += size
    whole = MetadataColumns.concat(parts)
    assert whole == MetadataColumns.from_records(ROWS)
    assert _all_masks(whole) == _expected_masks(ROWS)
    assert _all_masks(whole, False) == _expected_masks(ROWS, False)


def test_concat_merges_vocabularies_and_stays_appendable() -> None:
    a = MetadataColumns.from_records([{"s": "x", "l": ["y"]}, {"s": "z"}])
    b = MetadataColumns.from_records([{"s": "z", "l": ["w", "x"]}, {"n": 1}])
    merged = MetadataColumns.concat([b.take(np.array([1, 0])), a])
    rows = [{"n": 1}, {"s": "z", "l": ["w", "x"]}, {"s": "x", "l": ["y"]}, {"s": "z"}]
    assert merged.to_records() == [{"n": 1.0}, rows[1], rows[2], rows[3]]
    merged.append([{"s": "x", "l": ["q"]}])
    rows.append({"s": "x", "l": ["q"]})
    for probe in ({"s": "x"}, {"l": "x"}, {"l": {"$in": ["q", "y"]}}, {"s": {"$ne": "z"}}):
        compiled = compile_filter(probe)
        assert compiled is not None
        assert compiled.mask(merged).tolist() == [reference_match(probe, r) for r in rows]
    assert len(MetadataColumns.concat([])) == 0


def test_state_round_trip_through_npz(tmp_path: Path) -> None:
    columns = MetadataColumns()
    columns.append(ROWS[:3])
    columns.append(ROWS[3:])
    state = columns.state()
    # Write it the way a slab file would: flat arrays, vocabularies as unicode arrays.
    flat: dict[str, Any] = {}
    for name, arrays in state["fields"].items():
        for key, value in arrays.items():
            flat[f"{name}/{key}"] = np.asarray(value, dtype=str) if key == "vocab" else value
    np.savez(tmp_path / "cols.npz", **flat)
    loaded = np.load(tmp_path / "cols.npz")
    restored_state = {"format": state["format"], "n_rows": state["n_rows"], "fields": {}}
    for key in loaded.files:
        name, part = key.split("/")
        restored_state["fields"].setdefault(name, {})[part] = loaded[key]
    restored = MetadataColumns.from_state(restored_state)
    assert restored == columns
    assert _all_masks(restored) == _expected_masks(ROWS)
    restored.append([{"genre": "drama"}])
    assert restored.to_records()[-1] == {"genre": "drama"}


def test_state_arrays_are_read_only_and_damage_is_detected() -> None:
    columns = MetadataColumns.from_records(ROWS)
    state = columns.state()
    with pytest.raises(ValueError):
        state["fields"]["genre"]["kind"][0] = 0
    assert MetadataColumns.from_state(state) == columns
    damaged = {**state, "fields": {**state["fields"], "genre": {**state["fields"]["genre"], "vocab": ["comedy"]}}}
    with pytest.raises(Exception, match="outside the vocabulary"):
        MetadataColumns.from_state(damaged)
    with pytest.raises(Exception, match="format"):
        MetadataColumns.from_state({**state, "format": "other"})


def test_equality_compares_values_not_codes() -> None:
    a = MetadataColumns.from_records([{"s": "x"}, {"s": "y"}])
    b = MetadataColumns.from_records([{"s": "y"}, {"s": "x"}]).take(np.array([1, 0]))
    assert a == b
    assert a != MetadataColumns.from_records([{"s": "x"}, {"s": "z"}])
    assert a != MetadataColumns.from_records([{"s": "x"}, {"s": ["y"]}])
    assert MetadataColumns.from_records([{"l": ["a"]}, {"l": ["b", "c"]}]) != MetadataColumns.from_records(
        [{"l": ["a", "b"]}, {"l": ["c"]}]
    )
