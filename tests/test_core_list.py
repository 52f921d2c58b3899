"""list / list_paginated: bytewise order, prefixes and pagination tokens (dataplane_spec §7.6)."""

from __future__ import annotations

import base64
import json

import pytest

from toolkit.errors import InvalidArgumentError

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index


def listing_index(ids, engine=None, namespace=None):
    index = new_index("listing", dimension=2, metric="dotproduct", engine=engine)
    index.upsert(vectors=[(i, [1.0, 0.5]) for i in ids], namespace=namespace)
    return index


def test_ids_are_sorted_bytewise_10103_0_before_10103_1_before_10103_10():
    index = listing_index(["10103-10", "10103-1", "10103-0", "10103-2"])
    assert [v.id for v in index.list_paginated(prefix="10103-").vectors] == ["10103-0", "10103-1", "10103-10",
                                                                            "10103-2"]


def test_bytewise_not_case_insensitive_or_natural():
    ids = ["b", "B", "a", "A", "_", "a10", "a9", "~", "0"]
    index = listing_index(ids)
    got = [v.id for v in index.list_paginated().vectors]
    assert got == sorted(ids, key=lambda i: i.encode())
    assert got == ["0", "A", "B", "_", "a", "a10", "a9", "b", "~"]


def test_limit_3_pages_and_the_last_page_has_no_token():
    ids = [f"doc1#chunk{i}" for i in range(1, 9)] + ["doc2#chunk1"]
    index = listing_index(ids)
    pages, token = [], None
    while True:
        page = index.list_paginated(prefix="doc1#", limit=3, pagination_token=token)
        pages.append([v.id for v in page.vectors])
        if page.pagination is None:
            break
        token = page.pagination.next
        assert isinstance(token, str) and token
    assert pages == [["doc1#chunk1", "doc1#chunk2", "doc1#chunk3"], ["doc1#chunk4", "doc1#chunk5", "doc1#chunk6"],
                     ["doc1#chunk7", "doc1#chunk8"]]
    assert "pagination" not in page.to_dict()


def test_exact_multiple_of_limit_ends_without_a_token_and_without_an_empty_page():
    index = listing_index([f"id{i}" for i in range(6)])
    first = index.list_paginated(limit=3)
    assert first.pagination is not None
    second = index.list_paginated(limit=3, pagination_token=first.pagination.next)
    assert [v.id for v in second.vectors] == ["id3", "id4", "id5"]
    assert second.pagination is None
    assert list(index.list(limit=3)) == [["id0", "id1", "id2"], ["id3", "id4", "id5"]]


def test_list_generator_yields_pages_of_ids():
    index = listing_index([f"p{i:02d}" for i in range(7)] + ["q1"])
    pages = list(index.list(prefix="p", limit=3))
    assert pages == [["p00", "p01", "p02"], ["p03", "p04", "p05"], ["p06"]]
    assert list(index.list(prefix="zzz")) == []
    assert [i for page in index.list() for i in page] == [f"p{i:02d}" for i in range(7)] + ["q1"]


def test_default_limit_is_100_and_larger_limits_are_clamped():
    index = listing_index([f"r{i:04d}" for i in range(250)])
    assert len(index.list_paginated().vectors) == 100
    assert len(index.list_paginated(limit=1000).vectors) == 100
    assert [len(p) for p in index.list()] == [100, 100, 50]


def test_token_is_base64_json_skip_past_and_prefix():
    index = listing_index(["doc1#chunk1", "doc1#chunk2", "doc1#chunk3"])
    token = index.list_paginated(prefix="doc1#", limit=2).pagination.next
    assert json.loads(base64.b64decode(token)) == {"skip_past": "doc1#chunk2", "prefix": "doc1#"}


@pytest.mark.parametrize("token", ["!!!", "c2Vjb25kY2FsbA==", base64.b64encode(b"[1,2]").decode(), "", 5])
def test_bad_token_is_400(token):
    index = listing_index(["a", "b", "c"])
    with pytest.raises(InvalidArgumentError) as info:
        index.list_paginated(limit=1, pagination_token=token)
    assert info.value.status == 400 and info.value.path == "pagination_token"


def test_token_of_another_prefix_is_400():
    index = listing_index(["a1", "a2", "a3", "b1", "b2"])
    token = index.list_paginated(prefix="a", limit=1).pagination.next
    with pytest.raises(InvalidArgumentError, match="prefix") as info:
        index.list_paginated(prefix="b", limit=1, pagination_token=token)
    assert info.value.status == 400
    with pytest.raises(InvalidArgumentError):
        index.list_paginated(limit=1, pagination_token=token)


def test_bad_limit_and_prefix_are_400():
    index = listing_index(["a"])
    for limit in (0, -1, 1.5, True, "3"):
        with pytest.raises(InvalidArgumentError):
            index.list_paginated(limit=limit)
    with pytest.raises(InvalidArgumentError):
        index.list_paginated(prefix=3)


def test_list_reflects_deletes_overwrites_and_flushes():
    index = listing_index([f"k{i}" for i in range(12)], engine={"memtable_max_records": 4, "merge_fanout": 2})
    index.delete(ids=["k3", "k10"])
    index.upsert(vectors=[("k3", [2.0, 1.0]), ("k99", [1.0, 1.0])])
    expected = sorted({f"k{i}" for i in range(12)} - {"k10"} | {"k99"})
    assert [i for page in index.list(limit=5) for i in page] == expected
    index.compact()
    assert [i for page in index.list(limit=5) for i in page] == expected


def test_token_survives_writes_between_pages():
    index = listing_index(["a", "b", "c", "d"])
    page = index.list_paginated(limit=2)
    index.upsert(vectors=[("a0", [1.0, 1.0]), ("bb", [1.0, 1.0])])
    index.delete(ids=["c"])
    rest = index.list_paginated(limit=10, pagination_token=page.pagination.next)
    assert [v.id for v in rest.vectors] == ["bb", "d"]


def test_list_of_unknown_namespace_is_empty_and_costs_1_ru():
    index = listing_index(["a"])
    page = index.list_paginated(namespace="nowhere")
    assert page.vectors == [] and page.pagination is None
    assert page.usage.read_units == 1
    assert page.namespace == "nowhere"


def test_list_is_per_namespace_and_default_namespace_aliases():
    index = listing_index(["x1", "x2"])
    index.upsert(vectors=[("y1", [1.0, 0.0])], namespace="other")
    for ns in (None, "", "__default__"):
        assert list(index.list(namespace=ns)) == [["x1", "x2"]]
    assert list(index.list(namespace="other")) == [["y1"]]
