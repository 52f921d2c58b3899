"""Flushes, tiers and background merges: queries never block on a build and never see half a merge.

The ``gated`` engine of tests/plugins_tiny.py holds builds at a gate, so a test can act
while a flush build or a merge is in flight and check what happens when it is swapped in.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import toolkit
from toolkit.errors import InternalError, InvalidArgumentError

try:
    from . import plugins_tiny
except ImportError:
    import plugins_tiny

CONTROLS = plugins_tiny.CONTROLS
DIM = 8


@pytest.fixture(autouse=True)
def open_gate():
    CONTROLS.reset()
    yield
    CONTROLS.release()
    CONTROLS.reset()


def make_index(engine, metric="euclidean", name="m"):
    client = toolkit.Client(plugins=[plugins_tiny])
    client.create_index(name=name, dimension=DIM, metric=metric, engine=engine)
    return client.Index(name)


def records(start, stop, version=0):
    rng = np.random.default_rng(start * 31 + version)
    return [(f"r{i:04d}", rng.normal(size=DIM).astype(np.float32), {"i": i, "odd": i % 2 == 1, "v": version})
            for i in range(start, stop)]


def brute(index_records, q, k, keep=lambda meta: True):
    """Brute-force euclidean top-k over {id: (vector, metadata)}."""
    items = [(float(((v - q) ** 2).sum()), i) for i, (v, m) in index_records.items() if keep(m)]
    return [i for _, i in sorted(items)[:k]]


def model_of(*batches):
    model = {}
    for batch in batches:
        for i, v, m in batch:
            model[i] = (v, m)
    return model


def test_flush_moves_the_memtable_into_a_ready_slab():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 1000})
    index.upsert(vectors=records(0, 50))
    index.upsert(vectors=records(50, 60))
    index.flush()
    slabs = index.describe_slabs()
    assert slabs.attrs["memtables"] == [{"namespace": "__default__", "memtable_rows": 0, "memtable_live_rows": 0}]
    row = slabs.iloc[0]
    assert (row.builder, row.state, row.rows, row.live_rows, row.min_lsn, row.max_lsn) == ("gated", "ready", 60, 60,
                                                                                             1, 2)
    assert row.params == "gated(reach=1.0)" and row.index_bytes >= 0 and row.build_seconds >= 0
    assert list(index.describe_merges()["kind"]) == ["build"]
    index.flush()  # nothing to flush: a no-op
    assert len(index.describe_slabs()) == 1


def test_tiers_build_each_slab_by_its_size_and_merges_climb_levels():
    engine = {
        "memtable_max_records": 100, "merge_fanout": 2, "background_merges": False,
        "tiers": [{"builder": "exact", "max_records": 150},
                  {"builder": "gated", "max_records": 500, "query": {"boost": 1}},
                  {"builder": "annoy", "build": {"n_trees": 4}}],
    }
    index = make_index(engine)
    for start in range(0, 800, 100):
        index.upsert(vectors=records(start, start + 100))
    slabs = index.describe_slabs()  # inline merges: 8 flushes → 4 × 200 → 2 × 400 → 1 × 800
    assert list(zip(slabs.builder, slabs.level, slabs.rows)) == [("annoy", 3, 800)]
    merges = index.describe_merges()
    assert list(merges.kind).count("build") == 8 and list(merges.kind).count("merge") == 7
    by_level = merges[merges.kind == "merge"].groupby("level")["builder"].first().to_dict()
    assert by_level[1].startswith("gated(") and by_level[2].startswith("gated(") and by_level[3].startswith("annoy(")
    index.upsert(vectors=records(800, 900))
    slabs = index.describe_slabs()
    assert list(zip(slabs.builder, slabs.level, slabs.rows)) == [("annoy", 3, 800), ("exact", 0, 100)]
    assert slabs.query_params.tolist() == [{}, {}]
    index.upsert(vectors=records(900, 1000))
    gated = index.describe_slabs().query("builder == 'gated'")
    assert gated.query_params.tolist() == [{"boost": 1}]  # a tier's query table rides on its slabs


def test_merges_drop_dead_rows():
    index = make_index({"tiers": ["exact"], "memtable_max_records": 100, "merge_fanout": 2,
                        "background_merges": False})
    index.upsert(vectors=records(0, 100))
    index.delete(ids=[f"r{i:04d}" for i in range(0, 100, 4)])
    index.upsert(vectors=records(100, 200))
    merge = index.describe_merges().query("kind == 'merge'").iloc[0]
    assert (merge.rows_in, merge.dropped_dead, merge.rows_out, merge.level) == (200, 25, 175, 1)
    assert index.describe_slabs().rows.tolist() == [175]


def test_queries_do_not_block_on_a_flush_build_and_writes_during_it_are_kept():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 100})
    CONTROLS.hold()
    first = records(0, 100)
    index.upsert(vectors=first)  # the flush freezes the memtable; its build waits at the gate
    assert CONTROLS.building.wait(5)
    assert index.describe_slabs().state.tolist() == ["building"]
    q = first[3][1]
    started = time.perf_counter()
    got = index.query(vector=q, top_k=5).ids()
    assert time.perf_counter() - started < 2, "a query waited for a build"
    model = model_of(first)
    assert got == brute(model, q, 5)  # the building slab is scanned exactly meanwhile
    # Deletes and overwrites of rows inside the slab being built.
    index.delete(ids=["r0003", "r0010"])
    newer = records(20, 30, version=1)
    index.upsert(vectors=newer)
    for i in ("r0003", "r0010"):
        model.pop(i)
    model.update(model_of(newer))
    CONTROLS.release()
    assert index.wait_for_merges(timeout=10)
    slab = index.describe_slabs().iloc[0]
    assert (slab.state, slab.rows, slab.live_rows) == ("ready", 100, 88)
    assert index.describe_merges().iloc[-1].died_during_build == 12
    for q in (first[3][1], first[25][1], newer[0][1]):
        assert index.query(vector=q, top_k=7).ids() == brute(model, q, 7)
    assert index.fetch(ids=["r0003"]).vectors == {}
    assert index.fetch(ids=["r0025"]).vectors["r0025"].metadata["v"] == 1
    assert index.describe_index_stats().total_vector_count == 98


def test_a_merge_swaps_in_atomically_and_reapplies_writes_made_while_it_built():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 100, "merge_fanout": 2})
    index.upsert(vectors=records(0, 100))
    index.wait_for_merges()
    CONTROLS.hold(after=1)  # the second flush builds; the merge of the two slabs waits
    index.upsert(vectors=records(100, 200))
    assert CONTROLS.building.wait(5)
    before = index.describe_slabs()
    assert before.rows.tolist() == [100, 100] and before.state.tolist() == ["merging", "merging"]
    model = model_of(records(0, 100), records(100, 200))
    dead = [f"r{i:04d}" for i in range(0, 200, 20)]
    index.delete(ids=dead)
    newer = records(5, 200, version=1)[::20]
    index.upsert(vectors=newer)
    for i in dead:
        model.pop(i)
    model.update(model_of(newer))
    stop = threading.Event()
    seen: list[int] = []

    def reader():  # every query, before, during and after the swap, sees exactly the live records
        q = np.zeros(DIM, np.float32)
        while not stop.is_set():
            seen.append(len(index.query(vector=q, top_k=1000).matches))

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.05)
    CONTROLS.release()
    assert index.wait_for_merges(timeout=10)
    time.sleep(0.05)
    stop.set()
    thread.join()
    assert seen and set(seen) == {len(model)}
    slabs = index.describe_slabs()
    assert slabs.level.tolist() == [1] and slabs.rows.tolist() == [200] and slabs.live_rows.tolist() == [180]
    merge = index.describe_merges().iloc[-1]
    assert (merge.kind, merge.outcome, merge.dropped_dead, merge.died_during_build) == ("merge", "done", 0, 20)
    q = records(0, 1)[0][1]
    assert index.query(vector=q, top_k=20).ids() == brute(model, q, 20)


def test_delete_all_during_a_merge_abandons_it():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 50, "merge_fanout": 2})
    index.upsert(vectors=records(0, 50))
    index.wait_for_merges()
    CONTROLS.hold(after=1)
    index.upsert(vectors=records(50, 100))
    assert CONTROLS.building.wait(5)
    index.delete(delete_all=True)
    index.upsert(vectors=records(200, 210))
    CONTROLS.release()
    assert index.wait_for_merges(timeout=10)
    assert index.describe_merges().outcome.tolist()[-1] == "abandoned", index.describe_merges()[["kind", "outcome", "sources", "rows_in", "finished_at"]].to_string()
    assert index.describe_slabs().empty
    assert sorted(index.query(vector=np.zeros(DIM), top_k=100).ids()) == [f"r{i:04d}" for i in range(200, 210)]


def test_a_failed_build_is_reported_and_its_slab_stays_searchable():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 40})
    CONTROLS.fail = True
    batch = records(0, 40)
    index.upsert(vectors=batch)
    with pytest.raises(InternalError, match="failed on purpose"):
        index.wait_for_merges(timeout=10)
    assert index.wait_for_merges(timeout=10)  # reported once
    assert index.describe_slabs().state.tolist() == ["failed"]
    q = batch[7][1]
    assert index.query(vector=q, top_k=3).ids() == brute(model_of(batch), q, 3)
    CONTROLS.fail = False
    index.compact()  # a compaction retries it
    assert index.describe_slabs().state.tolist() == ["ready"]


def test_wait_for_merges_times_out_while_a_build_is_held():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 1000})
    index.upsert(vectors=records(0, 10))
    CONTROLS.hold()
    index.flush(wait=False)
    assert CONTROLS.building.wait(5)
    assert index.wait_for_merges(timeout=0.1) is False
    CONTROLS.release()
    assert index.wait_for_merges(timeout=10) is True


def test_inline_merges_need_no_waiting():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 10, "merge_fanout": 2,
                        "background_merges": False})
    for start in range(0, 40, 10):
        index.upsert(vectors=records(start, start + 10))
    assert index._shard.merges_busy is False
    assert index.describe_slabs()[["level", "rows", "state"]].values.tolist() == [[2, 40, "ready"]]


def test_rebuild_swaps_the_engine_on_existing_data():
    client = toolkit.Client()
    client.create_index(name="rb", dimension=DIM, metric="cosine",
                        engine={"tiers": ["exact"], "memtable_max_records": 60})
    index = client.Index("rb")
    batch = records(0, 150)
    index.upsert(vectors=batch, batch_size=50)
    index.delete(ids=["r0001", "r0002"])
    q = batch[10][1]
    before = index.query(vector=q, top_k=10)
    index.rebuild(engine={"tiers": [{"builder": "annoy", "build": {"n_trees": 8}, "query": {"search_k": 2000}}]})
    slabs = index.describe_slabs()
    assert slabs.builder.tolist() == ["annoy"] and slabs.live_rows.tolist() == [148]
    assert slabs.query_params.tolist() == [{"search_k": 2000}]
    assert client.describe_index("rb").engine["tiers"][0]["builder"] == "annoy"
    after = index.query(vector=q, top_k=10)
    assert after.ids() == before.ids()  # search_k covers the whole slab: exact results
    assert index.describe_merges().kind.tolist()[-1] == "rebuild"
    index.upsert(vectors=records(500, 560))  # new flushes use the new engine too
    index.wait_for_merges()
    assert set(index.describe_slabs().builder) == {"annoy"}
    with pytest.raises(InvalidArgumentError, match="unknown slab builder 'nope'"):
        index.rebuild(engine="nope")
    with pytest.raises(InvalidArgumentError, match="does not support metric 'cosine'"):
        index.rebuild(engine="sparse_csr")
    assert client.describe_index("rb").engine["tiers"][0]["builder"] == "annoy"


def test_filter_strategy_chooses_the_path_on_approximate_slabs():
    index = make_index({"tiers": ["gated"], "memtable_max_records": 4000})
    batch = records(0, 4000)
    index.upsert(vectors=batch, batch_size=1000)
    index.flush()
    model = model_of(batch)
    q = batch[0][1]
    rare = {"i": {"$lt": 30}}  # 0.75% of the slab
    for strategy, flt, ann_used in [("prefilter", {"odd": True}, False), ("ann", rare, True),
                                    ("auto", rare, False), ("auto", {"odd": True}, True)]:
        CONTROLS.searches.clear()
        got = index.query(vector=q, top_k=10, filter=flt, filter_strategy=strategy).ids()
        keep = (lambda m: m["odd"]) if "odd" in flt else (lambda m: m["i"] < 30)
        assert got == brute(model, q, 10, keep)
        assert bool(CONTROLS.searches) is ann_used, strategy
        if ann_used:
            assert CONTROLS.searches[0] > 10  # the ANN is asked for more than k (over-fetch)
    with pytest.raises(InvalidArgumentError, match="filter_strategy"):
        index.query(vector=q, top_k=3, filter=rare, filter_strategy="postfilter")


def test_the_ann_path_falls_back_to_exact_when_the_engine_misses_allowed_rows():
    # reach=0.5: the engine can only ever return even rows; a filter for odd rows starves it.
    index = make_index({"tiers": [{"builder": "gated", "build": {"reach": 0.5}}], "memtable_max_records": 400})
    batch = records(0, 400)
    index.upsert(vectors=batch)
    index.wait_for_merges()
    model = model_of(batch)
    q = batch[1][1]
    CONTROLS.searches.clear()
    got = index.query(vector=q, top_k=10, filter={"odd": True}, filter_strategy="ann").ids()
    assert got == brute(model, q, 10, lambda m: m["odd"])
    assert CONTROLS.searches == [40, 80, 100]  # doubled up to a quarter of the slab, then scanned exactly
    assert len(index.query(vector=q, top_k=10, filter={"i": {"$in": [1, 3]}}, filter_strategy="ann").matches) == 2


def test_search_params_override_the_tier_and_are_checked():
    index = make_index({"tiers": [{"builder": "exact", "max_records": 50},
                                  {"builder": "gated", "query": {"boost": 1}}], "memtable_max_records": 100})
    index.upsert(vectors=records(0, 100))
    index.flush()
    q = np.ones(DIM)
    CONTROLS.searches.clear()
    index.query(vector=q, top_k=4, search_params={"boost": 3})
    assert CONTROLS.searches == [4]
    with pytest.raises(InvalidArgumentError, match="not query parameters") as err:
        index.query(vector=q, top_k=4, search_params={"search_k": 10})
    assert err.value.path == "search_params"


def test_concurrent_writers_and_readers_end_in_the_model_state():
    client = toolkit.Client()
    client.create_index(name="cc", dimension=DIM, metric="euclidean",
                        engine={"tiers": [{"builder": "exact", "max_records": 200},
                                          {"builder": "annoy", "build": {"n_trees": 4}, "query": {"search_k": 10**6}}],
                                "memtable_max_records": 50, "merge_fanout": 2})
    index = client.Index("cc")
    model: dict = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                for m in index.query(vector=np.zeros(DIM), top_k=20, filter={"odd": True}).matches:
                    assert int(m.id[1:]) % 2 == 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for round_ in range(12):
        batch = records(round_ * 40, round_ * 40 + 60, version=round_)
        index.upsert(vectors=batch)
        model.update(model_of(batch))
        dead = [f"r{i:04d}" for i in range(round_ * 40, round_ * 40 + 60, 9)]
        index.delete(ids=dead)
        for i in dead:
            model.pop(i, None)
    stop.set()
    thread.join()
    assert not errors, errors
    index.wait_for_merges(timeout=30)
    assert index.describe_index_stats().total_vector_count == len(model)
    q = np.full(DIM, 0.3, np.float32)
    assert index.query(vector=q, top_k=15).ids() == brute(model, q, 15)
    assert set(index.describe_merges().outcome) == {"done"}
