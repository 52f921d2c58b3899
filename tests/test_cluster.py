"""DistributedShard (issue #15): slabs held and searched on a 2-worker LocalCluster.

The whole conformance suite runs against the cluster with ``TOOLKIT_TEST_CLUSTER=local``
(.ci/run); these tests cover what only the cluster has: answers equal to a local client's,
placement by bytes shown in ``describe_slabs()``, one task per worker per batch, builds and
merges run on the workers while the coordinator keeps no vectors, recovery after a worker
process is killed with SIGKILL (persistent: reloaded from the files the workers wrote), and
the typed error or opt-in partial results when an in-memory slab's only copy is lost.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pytest

import toolkit
import toolkit.cluster
from toolkit.cluster_vectors import is_hollow

DIM = 16


def _fill(client: toolkit.Client, n: int = 2400, step: int = 400, engine: str = "exact") -> np.ndarray:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    client.create_index("c", dimension=DIM, metric="cosine", engine=engine)
    index = client.Index("c")
    for a in range(0, n, step):
        index.upsert([(f"r{i}", vectors[i].tolist(), {"g": i % 5}) for i in range(a, a + step)])
        index.flush(wait=True)
    index.delete(ids=[f"r{i}" for i in range(0, n, 7)])
    index.upsert([(f"r{i}", (vectors[i] * -1).tolist(), {"g": 9}) for i in range(0, 50)])  # memtable overwrites
    return vectors


@pytest.mark.parametrize("engine", ["exact", "annoy"])
def test_cluster_answers_equal_a_local_client(dask_client: Any, engine: str) -> None:
    local, remote = toolkit.Client(), toolkit.Client(cluster=dask_client)
    _fill(local, engine=engine)
    _fill(remote, engine=engine)
    queries = np.random.default_rng(1).normal(size=(12, DIM)).astype(np.float32)
    for flt in (None, {"g": 1}, {"g": 9}):
        for q in queries[:4]:
            a = local.Index("c").query(vector=q.tolist(), top_k=10, filter=flt, include_metadata=True)
            b = remote.Index("c").query(vector=q.tolist(), top_k=10, filter=flt, include_metadata=True)
            assert [m.id for m in a.matches] == [m.id for m in b.matches]
            assert np.allclose([m.score for m in a.matches], [m.score for m in b.matches], atol=1e-5)
            assert a.usage == b.usage
        a_batch = local.Index("c").query_batch(queries, top_k=7, filter=flt)
        b_batch = remote.Index("c").query_batch(queries, top_k=7, filter=flt)
        assert [[m.id for m in r.matches] for r in a_batch] == [[m.id for m in r.matches] for r in b_batch]
    deleted = remote.Index("c").query(vector=queries[0].tolist(), top_k=2400)
    assert not {f"r{i}" for i in range(56, 2400, 7)} & {m.id for m in deleted.matches}


def test_slabs_are_placed_by_bytes_and_shown_per_worker(dask_client: Any) -> None:
    client = toolkit.Client(cluster=dask_client)
    _fill(client)
    slabs = client.Index("c").describe_slabs()
    workers = set(dask_client.scheduler_info()["workers"])
    assert set(slabs["worker"]) <= workers and len(set(slabs["worker"])) == 2
    held = client.Index("c")._shard.worker_bytes()
    assert max(held.values()) - min(held.values()) <= slabs["vector_bytes"].max() + slabs["index_bytes"].max()


def test_a_batch_is_one_task_per_worker(dask_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = toolkit.Client(cluster=dask_client)
    _fill(client)
    keys: list[str] = []
    submit = dask_client.submit

    def counting(*args: Any, **kwargs: Any) -> Any:
        keys.append(kwargs["key"])
        return submit(*args, **kwargs)

    monkeypatch.setattr(dask_client, "submit", counting)
    client.Index("c").query_batch(np.ones((40, DIM), np.float32), top_k=5)
    assert len(keys) == 2 and all(key.startswith("search_batch-c-") for key in keys)
    assert {key.split("-")[3] for key in keys} == set(dask_client.scheduler_info()["workers"])


def test_sigkill_of_a_worker_loses_no_acknowledged_write(dask_client: Any, tmp_path: Any) -> None:
    client = toolkit.Client(path=str(tmp_path / "db"), cluster=dask_client)
    vectors = _fill(client)
    index = client.Index("c")
    old = {"g": {"$gte": 0}}  # the records written before the kill
    before = index.query(vector=vectors[1].tolist(), top_k=5, filter=old)
    pids = dask_client.run(os.getpid)
    victim = sorted(pids)[0]
    acknowledged = []
    for i in range(2400, 2600):  # the workload goes on while the worker dies
        index.upsert([(f"r{i}", vectors[i % 2400].tolist())])
        acknowledged.append(f"r{i}")
        if i == 2450:
            os.kill(pids[victim], signal.SIGKILL)
        if i % 50 == 0:
            index.flush(wait=True)
    deadline = time.monotonic() + 60
    while victim in dask_client.scheduler_info()["workers"] and time.monotonic() < deadline:
        time.sleep(0.2)
    after = index.query(vector=vectors[1].tolist(), top_k=5, filter=old)
    assert [m.id for m in after.matches] == [m.id for m in before.matches]
    assert set(index.fetch(ids=acknowledged).vectors) == set(acknowledged)
    assert victim not in set(index.describe_slabs()["worker"])
    client.close()
    reopened = toolkit.Client(path=str(tmp_path / "db"), cluster=dask_client)
    assert set(reopened.Index("c").fetch(ids=acknowledged).vectors) == set(acknowledged)
    assert reopened.Index("c").query(vector=vectors[1].tolist(), top_k=5, filter=old).matches == after.matches
    slabs = [slab for ns in reopened.Index("c")._shard.namespaces() for slab in ns.slabs]
    assert slabs and all(is_hollow(slab) for slab in slabs if slab.index is not None)  # loaded by the workers
    reopened.close()
    alone = toolkit.Client(path=str(tmp_path / "db"))  # the slab files the workers wrote, read without a cluster
    got = alone.Index("c").fetch(ids=acknowledged)
    assert all(np.allclose(got.vectors[f"r{i}"].values, vectors[i % 2400], atol=1e-6) for i in range(2400, 2600))
    assert alone.Index("c").query(vector=vectors[1].tolist(), top_k=5, filter=old).matches == after.matches
    alone.close()


def test_with_no_worker_a_build_fails_and_its_slab_is_still_searched_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client as DaskClient, LocalCluster

    monkeypatch.setattr(toolkit.cluster, "WORKER_WAIT_SECONDS", 0.2)  # how long a build waits for a worker

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, DaskClient(cluster) as dask:
        client = toolkit.Client(cluster=dask)
        client.create_index("c", dimension=2, metric="euclidean")
        index = client.Index("c")
        index.upsert([("a", [1.0, 0.0])], namespace="memtable")
        assert index.query(vector=[1.0, 0.0], top_k=1, namespace="memtable").matches[0].id == "a"
        index.upsert([("b", [0.0, 1.0])], namespace="slabs")
        with pytest.raises(toolkit.errors.InternalError) as raised:
            index.flush(wait=True)  # the build has no worker to run on
        assert "'slabs'" in raised.value.message and "no worker" in raised.value.message
        assert index.query(vector=[0.0, 1.0], top_k=1, namespace="slabs").matches[0].id == "b"  # scanned here
        assert index.fetch(ids=["b"], namespace="slabs").vectors["b"].values == [0.0, 1.0]
        client.close()


def _held_on_worker(dask_worker: Any) -> tuple[int, int]:
    """Return (slabs, bytes of dense vectors) the worker holds."""
    from toolkit.segment import Slab

    slabs = [value for value in dask_worker.data.values() if isinstance(value, Slab)]
    return len(slabs), sum(0 if s.rows.dense is None else s.rows.dense.nbytes for s in slabs)


def test_builds_run_on_the_workers_and_the_coordinator_keeps_no_vectors(
        dask_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.cluster_vectors import RemoteVectors

    tasks: list[tuple[str, list[str]]] = []
    submit = dask_client.submit

    def recording(*args: Any, **kwargs: Any) -> Any:
        tasks.append((kwargs["key"], kwargs["workers"]))
        return submit(*args, **kwargs)

    monkeypatch.setattr(dask_client, "submit", recording)
    client = toolkit.Client(cluster=dask_client)
    vectors = _fill(client, step=300)  # 8 flushes: 4 per worker, which merge there
    index = client.Index("c")
    kinds = {key.split("-")[0] for key, _ in tasks}
    assert {"build", "merge"} <= kinds and all(len(workers) == 1 for _, workers in tasks)
    slabs = [slab for ns in index._shard.namespaces() for slab in ns.slabs]
    assert slabs and all(is_hollow(s) and isinstance(s.rows.dense, RemoteVectors) for s in slabs)
    coordinator_bytes = sum(s.rows.dense.nbytes for s in slabs)  # what the slabs would hold here
    held = dask_client.run(_held_on_worker)
    assert sum(n for n, _ in held.values()) >= len(slabs)
    assert sum(b for _, b in held.values()) >= coordinator_bytes > 0
    with pytest.raises(toolkit.errors.InternalError):
        np.concatenate([slabs[0].rows.dense])  # no silent zeros: the coordinator has no values to compute with
    got = index.fetch(ids=["r61", "r62", "r1000"])  # read from the workers
    for i in (61, 62, 1000):
        assert np.allclose(got.vectors[f"r{i}"].values, vectors[i], atol=1e-6)
    match = index.query(vector=vectors[62].tolist(), top_k=1, include_values=True).matches[0]
    assert match.id == "r62" and np.allclose(match.values, vectors[62], atol=1e-6)
    index.update(id="r61", set_metadata={"g": 42})  # the write path reads the stored vector from its worker
    assert np.allclose(index.fetch(ids=["r61"]).vectors["r61"].values, vectors[61], atol=1e-6)


def test_a_lost_in_memory_slab_is_unavailable_unless_partial_results_are_asked_for(dask_client: Any) -> None:
    client = toolkit.Client(cluster=dask_client)
    vectors = _fill(client)
    index = client.Index("c")
    slabs = index.describe_slabs()
    pids = dask_client.run(os.getpid)
    victim = str(slabs["worker"].iloc[0])
    lost = {int(n) for n, w in zip(slabs["slab"], slabs["worker"]) if w == victim}
    os.kill(pids[victim], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while victim in dask_client.scheduler_info()["workers"] and time.monotonic() < deadline:
        time.sleep(0.2)
    with pytest.raises(toolkit.errors.UnavailableError) as raised:
        index.query(vector=vectors[1].tolist(), top_k=5)
    assert raised.value.path == "cluster" and "allow_partial" in raised.value.message
    answer = index.query(vector=vectors[1].tolist(), top_k=50, allow_partial=True)
    assert answer.partial is not None and {m.slab for m in answer.partial.missing} == lost
    assert all(m.worker == victim and m.namespace == "__default__" for m in answer.partial.missing)
    missing = answer.partial.missing_ids
    assert missing and len(answer.matches) == 50 and not missing & set(answer.ids())
    batch = index.query_batch(vectors[:3], top_k=5, allow_partial=True)
    assert batch.partial is not None and not missing & {i for r in batch for i in r.ids()}
    fetched = index.fetch(ids=sorted(missing)[:3] + ["r1"], allow_partial=True)
    assert fetched.partial is not None and not missing & set(fetched.vectors)
    complete = index.query(vector=vectors[1].tolist(), top_k=5, namespace="elsewhere", allow_partial=True)
    assert complete.partial is None


def test_bytes_per_worker_stay_balanced_as_merges_grow_slabs(dask_client: Any) -> None:
    """Merges combine slabs of one worker: no slab outgrows its worker's share (the old planner
    merged the 16 flushes below into one 800-row slab, all on one worker)."""
    dask_client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is restarted by its nanny
    engine = {"memtable_max_records": 50, "merge_fanout": 4, "background_merges": False}
    local, remote = toolkit.Client(), toolkit.Client(cluster=dask_client)
    vectors = np.random.default_rng(3).normal(size=(800, DIM)).astype(np.float32)
    for client in (local, remote):
        client.create_index("b", dimension=DIM, metric="euclidean", engine=engine)
        index = client.Index("b")
        for a in range(0, 800, 50):  # 16 flushes of 50 records
            index.upsert([(f"r{i}", vectors[i].tolist()) for i in range(a, a + 50)])
        index.flush(wait=True)
    slabs = remote.Index("b").describe_slabs()
    assert int(slabs["rows"].sum()) == 800 and int(slabs["level"].max()) >= 1  # merges of small slabs go on
    held = remote.Index("b")._shard.worker_bytes()
    assert len(held) == 2 and max(held.values()) <= 1.25 * min(held.values())
    for worker in held:  # each worker holds its share in slabs no bigger than that share
        assert int(slabs.loc[slabs["worker"] == worker, "rows"].sum()) <= 1.25 * 400
    for q in vectors[:5]:  # same answers and the same LSNs as a local client
        a = local.Index("b").query(vector=q.tolist(), top_k=10)
        b = remote.Index("b").query(vector=q.tolist(), top_k=10)
        assert [m.id for m in a.matches] == [m.id for m in b.matches]
    assert local.Index("b").describe_slabs()["max_lsn"].max() == slabs["max_lsn"].max()
    assert [ns.last_lsn for ns in local.Index("b")._shard.namespaces()] == \
        [ns.last_lsn for ns in remote.Index("b")._shard.namespaces()]
    for client in (local, remote):  # a compaction drops dead rows and makes one slab per worker
        client.Index("b").delete(ids=[f"r{i}" for i in range(0, 800, 8)])
        client.Index("b").compact(show_progress=False)
    slabs = remote.Index("b").describe_slabs()
    assert len(slabs) == 2 and set(slabs["worker"]) == set(held) and int(slabs["rows"].sum()) == 700
    held = remote.Index("b")._shard.worker_bytes()
    assert max(held.values()) <= 1.25 * min(held.values())
    for q in vectors[:3]:
        a = local.Index("b").query(vector=q.tolist(), top_k=10)
        b = remote.Index("b").query(vector=q.tolist(), top_k=10)
        assert [m.id for m in a.matches] == [m.id for m in b.matches]


def _lose_slabs_of(index: Any, worker: str) -> set[int]:
    """Forget the placements on ``worker`` as the shard does when it dies (in memory: no other copy)."""
    shard = index._shard
    with shard._placing:
        lost = {n for n, placement in shard._placed.items() if placement.worker == worker}
        for number in lost:
            del shard._placed[number]
            shard._lost[number] = worker
    return lost


def test_served_missing_slab_is_unavailable_unless_partial_results_are_asked_for(dask_client: Any) -> None:
    """REST: 503 / code 14 (UNAVAILABLE); ``allowPartial`` answers with a "partial" object and the
    x-toolkit-partial header. gRPC: UNAVAILABLE; metadata x-toolkit-allow-partial answers, flagged."""
    import warnings

    grpc = pytest.importorskip("grpc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from toolkit.server import create_app
    from toolkit.server.grpc_service import make_server
    from toolkit.server.proto import db_data_pb2 as pb
    from toolkit.server.proto import db_data_pb2_grpc as pb_grpc

    dask_client.wait_for_workers(2, timeout=60)
    client = toolkit.Client(cluster=dask_client)
    vectors = _fill(client)
    index = client.Index("c")
    http = TestClient(create_app(client), raise_server_exceptions=False)
    query = {"vector": vectors[1].tolist(), "topK": 20}
    complete = http.post("/index/c/query", json={**query, "allowPartial": True})
    assert complete.status_code == 200 and "partial" not in complete.json()
    assert "x-toolkit-partial" not in complete.headers
    victim = str(index.describe_slabs()["worker"].iloc[0])
    lost = _lose_slabs_of(index, victim)
    missing_rows = sum(s.live_rows() for ns in index._shard.namespaces() for s in ns.slabs if s.number in lost)
    refused = http.post("/index/c/query", json=query)
    assert refused.status_code == 503 and refused.json()["code"] == 14 and "allow_partial" in refused.json()["message"]
    answer = http.post("/index/c/query", json={**query, "allowPartial": True})
    assert answer.status_code == 200 and len(answer.json()["matches"]) == 20
    partial = answer.json()["partial"]
    assert {s["slab"] for s in partial["missingSlabs"]} == lost and partial["missingRecords"] == missing_rows
    assert answer.headers["x-toolkit-partial"] == str(missing_rows)
    gone = sorted(index.query(vector=vectors[1].tolist(), top_k=1, allow_partial=True).partial.missing_ids)[:2]
    ids = {"ids": [*gone, "r1"]}
    refused = http.get("/index/c/vectors/fetch", params=ids)
    assert refused.status_code == 503 and refused.json()["code"] == 14
    fetched = http.get("/index/c/vectors/fetch", params={**ids, "allowPartial": "true"})
    partial = fetched.json()["partial"]  # the slabs holding the ids asked for
    assert fetched.status_code == 200 and 0 < partial["missingRecords"] <= missing_rows
    assert {s["slab"] for s in partial["missingSlabs"]} <= lost and "r1" in fetched.json()["vectors"]
    assert not set(gone) & set(fetched.json()["vectors"])
    assert fetched.headers["x-toolkit-partial"] == str(partial["missingRecords"])
    assert http.get("/index/c/vectors/fetch", params={**ids, "allowPartial": "yes"}).status_code == 400

    server, port = make_server(lambda context: index)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.VectorServiceStub(channel)
            request = pb.QueryRequest(vector=vectors[1].tolist(), top_k=20)
            with pytest.raises(grpc.RpcError) as raised:
                stub.Query(request)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            reply, call = stub.Query.with_call(request, metadata=(("x-toolkit-allow-partial", "true"),))
            assert len(reply.matches) == 20
            assert dict(call.initial_metadata())["x-toolkit-partial"] == str(missing_rows)
            assert [m.id for m in reply.matches] == [m["id"] for m in answer.json()["matches"]]
    finally:
        server.stop(None)
    client.close()
