"""Memtable → slabs → merges: every read sees exactly the live version of each record.

A small engine (memtable of 10 records, merge fanout 2) puts records in the memtable and in
slabs of several levels; overwrites and deletes must hide the rows they shadow wherever
those rows sit (arch_cost_spec §1.2-1.3, T-LSN-6).
"""

from __future__ import annotations

import numpy as np
import pytest

try:
    from .core_helpers import new_index
except ImportError:
    from core_helpers import new_index

ENGINE = {"memtable_max_records": 10, "merge_fanout": 2}
DIM = 4


@pytest.fixture(params=[False, True], ids=["inline-merges", "background-merges"])
def engine(request):
    """The small engine, with merges run inline (deterministic) or on the index's worker thread."""
    return {**ENGINE, "background_merges": request.param}


def vec(i: int, version: int = 0) -> list[float]:
    return [float(i + 1), float(version), 1.0, -float(i % 3)]


def small_index(engine, metric: str = "euclidean"):
    return new_index("fm", dimension=DIM, metric=metric, engine=engine)


def fill(index, n: int, version: int = 0, batch: int = 3) -> None:
    for start in range(0, n, batch):
        index.upsert(vectors=[(f"r{i:02d}", vec(i, version), {"v": version, "parity": i % 2})
                              for i in range(start, min(n, start + batch))])


def visible(index) -> dict[str, tuple[list[float], dict]]:
    ids = [i for page in index.list() for i in page]
    fetched = index.fetch(ids=ids).vectors if ids else {}
    assert set(fetched) == set(ids)
    return {i: (v.values, v.metadata) for i, v in fetched.items()}


def all_matches(index, **kwargs):
    return index.query(vector=[0.0] * DIM, top_k=1000, include_metadata=True, **kwargs).matches


def test_records_spread_over_memtable_and_slabs_are_all_visible(engine):
    index = small_index(engine)
    fill(index, 32)  # 2 flushes of 12 merged into one level-1 slab, then 8 memtable rows
    assert len(visible(index)) == 32  # whether or not the merge has finished
    index.wait_for_merges()
    slabs = index.describe_slabs()
    assert list(slabs["level"]) == [1] and list(slabs["rows"]) == [24]
    assert slabs.attrs["memtables"][0]["memtable_rows"] == 8
    fill(index, 35)  # r00..r31 again (overwrites) plus 3 new
    index.wait_for_merges()
    slabs = index.describe_slabs()
    assert len(slabs) >= 2 and slabs.attrs["memtables"][0]["memtable_live_rows"] > 0
    assert len(visible(index)) == 35
    assert sorted(m.id for m in all_matches(index)) == [f"r{i:02d}" for i in range(35)]
    assert index.describe_index_stats().total_vector_count == 35


def test_overwrites_hide_the_slab_versions(engine):
    index = small_index(engine)
    fill(index, 35)
    for i in range(0, 35, 4):  # overwrite some records that live in slabs
        index.upsert(vectors=[(f"r{i:02d}", vec(i, 1), {"v": 1})])
    seen = visible(index)
    assert len(seen) == 35
    for i in range(35):
        values, metadata = seen[f"r{i:02d}"]
        version = 1 if i % 4 == 0 else 0
        assert values == vec(i, version)
        assert metadata["v"] == version
    matches = all_matches(index)
    assert len(matches) == 35 and len({m.id for m in matches}) == 35
    assert {m.id for m in all_matches(index, filter={"v": 0})} == {f"r{i:02d}" for i in range(35) if i % 4}
    assert index.describe_index_stats().total_vector_count == 35


def test_deletes_hide_rows_in_slabs_and_memtable(engine):
    index = small_index(engine)
    fill(index, 32)  # r00-r23 in a slab, r24-r31 in the memtable
    gone = {f"r{i:02d}" for i in (0, 1, 12, 20, 30, 31)}  # slab and memtable rows alike
    index.delete(ids=sorted(gone))
    seen = visible(index)
    assert set(seen) == {f"r{i:02d}" for i in range(32)} - gone
    assert {m.id for m in all_matches(index)} == set(seen)
    assert index.fetch(ids=sorted(gone)).vectors == {}
    assert index.describe_index_stats().total_vector_count == 26
    assert all(index.query(id=g, top_k=5).matches == [] for g in gone)


def test_delete_then_reinsert_brings_the_new_version_back(engine):
    index = small_index(engine)
    fill(index, 25)
    index.delete(ids=["r03"])
    index.upsert(vectors=[("r03", vec(3, 7), {"v": 7})])
    for i in range(12):  # push r03 out of the memtable too
        index.upsert(vectors=[(f"z{i:02d}", vec(i), {"v": 2})])
    index.wait_for_merges()
    assert index.describe_slabs().attrs["memtables"][0]["memtable_rows"] < 12
    seen = visible(index)
    assert seen["r03"] == (vec(3, 7), {"v": 7.0})
    assert [m.id for m in all_matches(index, filter={"v": 7})] == ["r03"]


def test_update_of_a_slab_record_merges_metadata_and_filters_see_it(engine):
    index = small_index(engine)
    fill(index, 30)
    index.update(id="r05", set_metadata={"v": 9, "tag": "new"})
    index.update(id="r06", values=vec(6, 5))
    seen = visible(index)
    assert seen["r05"] == (vec(5), {"v": 9.0, "parity": 1.0, "tag": "new"})
    assert seen["r06"] == (vec(6, 5), {"v": 0.0, "parity": 0.0})
    assert [m.id for m in all_matches(index, filter={"v": 9})] == ["r05"]
    assert "r05" not in {m.id for m in all_matches(index, filter={"v": 0})}


def test_merges_drop_dead_rows_and_compact_leaves_one_slab(engine):
    index = small_index(engine)
    fill(index, 40)
    index.wait_for_merges()  # merges of the fill are done: nothing below runs a merge but compact()
    index.delete(ids=[f"r{i:02d}" for i in range(0, 40, 2)])
    slabs = index.describe_slabs()
    assert slabs["rows"].sum() > slabs["live_rows"].sum()  # the dead rows are still stored
    index.compact()
    slabs = index.describe_slabs()
    assert len(slabs) == 1
    assert int(slabs["rows"].iloc[0]) == int(slabs["live_rows"].iloc[0]) == 20
    assert slabs.attrs["memtables"][0]["memtable_rows"] == 0
    assert set(visible(index)) == {f"r{i:02d}" for i in range(1, 40, 2)}


def test_memtable_overwrite_of_its_own_rows():
    index = new_index("fm", dimension=DIM, metric="dotproduct", engine={"memtable_max_records": 1000})
    index.upsert(vectors=[("a", vec(1)), ("b", vec(2))])
    index.upsert(vectors=[("a", vec(1, 3))])
    index.upsert(vectors=[("a", vec(1, 4))])
    assert visible(index)["a"][0] == vec(1, 4)
    matches = index.query(vector=[0, 1, 0, 0], top_k=10).matches
    assert [m.id for m in matches] == ["a", "b"] and matches[0].score == 4.0


def test_delete_all_drops_slabs_and_memtable(engine):
    index = small_index(engine)
    fill(index, 27)
    index.delete(delete_all=True)
    assert len(index.describe_slabs()) == 0
    assert all_matches(index) == []
    assert index.describe_index_stats().total_vector_count == 0
    fill(index, 12)
    assert len(visible(index)) == 12


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_filtered_query_across_segments_returns_min_k_matches_in_global_order(engine, metric):
    index = small_index(engine, metric)
    rng = np.random.default_rng(3)
    vectors = {f"r{i:02d}": rng.standard_normal(DIM).astype(np.float32) for i in range(47)}
    items = list(vectors.items())
    for start in range(0, 47, 4):
        index.upsert(vectors=[(i, v, {"parity": int(i[1:]) % 2}) for i, v in items[start:start + 4]])
    index.delete(ids=["r01", "r11", "r21"])
    for i in ("r03", "r13"):
        vectors[i] = rng.standard_normal(DIM).astype(np.float32)
        index.upsert(vectors=[(i, vectors[i], {"parity": 1})])
    q = rng.standard_normal(DIM).astype(np.float32)
    odd = [i for i in vectors if int(i[1:]) % 2 and i not in ("r01", "r11", "r21")]

    def score(v):
        v64, q64 = v.astype(np.float64), q.astype(np.float64)
        if metric == "euclidean":
            return float(((v64 - q64) ** 2).sum())
        if metric == "cosine":
            return float(v64 @ q64 / np.linalg.norm(v64) / np.linalg.norm(q64))
        return float(v64 @ q64)

    best_first = sorted(odd, key=lambda i: score(vectors[i]), reverse=metric != "euclidean")
    for k in (1, 5, len(odd), 40):
        matches = index.query(vector=q, top_k=k, filter={"parity": 1}).matches
        assert len(matches) == min(k, len(odd))
        assert [m.id for m in matches] == best_first[:k]
        for m in matches:
            assert m.score == pytest.approx(score(vectors[m.id]), rel=1e-5, abs=1e-5)
