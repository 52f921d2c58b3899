"""The REST server driven by the official ``pinecone`` SDK (10.x), unmodified, over loopback.

A session-scoped fixture starts ``python -m toolkit serve`` in a subprocess on a free port and
polls it until it answers. The older SDK generations (7.3.0 / 9.1.0, API 2025-04 / 2025-10)
are covered by replaying their recorded request bodies (sdk_wire.md) with httpx.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

pinecone = pytest.importorskip("pinecone")
from pinecone import Pinecone, ServerlessSpec  # noqa: E402

import toolkit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = ServerlessSpec(cloud="aws", region="us-east-1")
_names = itertools.count()
_logs = itertools.count()


def serve_command() -> list[str]:
    return [sys.executable, "-m", "toolkit", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_server(log_dir: Path, *args: str, key: str = "local", attempts: int = 3) -> Server:
    """Start ``python -m toolkit serve`` on a free port and poll until it answers.

    The port is picked, then bound by the server; on a busy machine another process can take
    it in between, so a server that exits at once is retried on a new port.
    """
    for attempt in range(attempts):
        port = free_port()
        log = log_dir / f"server-{port}-{next(_logs)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TOOLKIT_API_KEY", None)
        with log.open("wb") as out:
            proc = subprocess.Popen([*serve_command(), "--port", str(port), *args], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        server = Server(f"http://127.0.0.1:{port}", port, proc, log)
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            try:
                if httpx.get(f"{server.url}/health", headers={"Api-Key": key}, timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"server did not become ready:\n{server.output()}")
            time.sleep(0.05)
        if "address already in use" not in server.output().lower() or attempt == attempts - 1:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.output()}")
    raise AssertionError("unreachable")


def assert_clean_stop(srv: Server) -> None:
    """SIGTERM: in-flight requests finish, the app shuts down (closing the store), the process exits.

    uvicorn re-raises the signal after its graceful shutdown, so the exit status is -SIGTERM (or 0).
    """
    rc = srv.stop()
    out = srv.output()
    assert rc in (0, -signal.SIGTERM), out
    assert "Application shutdown complete" in out and "Traceback" not in out, out


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    assert_clean_stop(srv)


@pytest.fixture(scope="session")
def pc(server):
    return Pinecone(api_key="local", host=server.url)


def assert_index_port_host(host: str, hostname: str, main_port: int) -> None:
    """Index hosts are ``http://<the host the client dialled>:<the index's own port>`` (REST + gRPC)."""
    assert host.startswith(f"http://{hostname}:"), host
    port = int(host.rsplit(":", 1)[1])
    assert port != main_port and "/index/" not in host


def new_name(prefix: str = "t") -> str:
    return f"{prefix}-{os.getpid() % 1000}-{next(_names)}"


@pytest.fixture()
def dense(pc):
    name = new_name("dense")
    pc.create_index(name=name, dimension=4, metric="cosine", spec=SPEC)
    yield pc.Index(name=name)
    pc.delete_index(name, timeout=-1)


@pytest.fixture()
def hybrid(pc):
    name = new_name("hybrid")
    pc.create_index(name=name, dimension=2, metric="dotproduct", spec=SPEC)
    yield pc.Index(name=name)
    pc.delete_index(name, timeout=-1)


@pytest.fixture()
def sparse(pc):
    name = new_name("sparse")
    pc.create_index(name=name, vector_type="sparse", metric="dotproduct", spec=SPEC)
    yield pc.Index(name=name)
    pc.delete_index(name, timeout=-1)


# -- the start-up contract ---------------------------------------------------------------------------

def test_server_binds_loopback_and_says_keys_are_ignored(server):
    out = server.output()
    assert "Api-Key headers are ignored" in out
    assert f"127.0.0.1:{server.port}" in out


# -- control plane ---------------------------------------------------------------------------------

def test_control_plane_lifecycle(pc, server):
    name = new_name("cp")
    model = pc.create_index(name=name, dimension=8, metric="euclidean", spec=SPEC,
                            deletion_protection="disabled", tags={"env": "test"})
    assert model.name == name and model.status.ready and model.status.state == "Ready"
    assert_index_port_host(model.host, "127.0.0.1", server.port)
    d = pc.describe_index(name)
    assert (d.dimension, d.metric, d.vector_type) == (8, "euclidean", "dense")
    assert d.spec.serverless.cloud == "aws" and d.spec.serverless.region == "us-east-1"
    assert d.deletion_protection == "disabled" and dict(d.tags) == {"env": "test"}
    assert name in pc.list_indexes().names()
    assert pc.has_index(name) and not pc.has_index("no-such-index")

    model = pc.configure_index(name, deletion_protection="enabled", tags={"env": "", "team": "ml"})
    assert model.deletion_protection == "enabled" and dict(model.tags) == {"team": "ml"}
    with pytest.raises(pinecone.ForbiddenError) as err:
        pc.delete_index(name)
    assert err.value.status_code == 403 and "Deletion protection is enabled" in err.value.message
    assert pc.has_index(name)
    pc.configure_index(name, deletion_protection="disabled")
    pc.delete_index(name)  # default: polls describe until it answers 404
    assert not pc.has_index(name) and name not in pc.list_indexes().names()


def test_localhost_spelling_round_trips(server):
    pc = Pinecone(api_key="local", host=f"http://localhost:{server.port}")
    name = new_name("lh")
    assert_index_port_host(pc.create_index(name=name, dimension=2, spec=SPEC).host, "localhost", server.port)
    assert pc.Index(name=name).upsert(vectors=[("a", [1, 0])]).upserted_count == 1
    pc.delete_index(name, timeout=-1)


def test_sparse_index_model(pc):
    name = new_name("sp")
    pc.create_index(name=name, vector_type="sparse", metric="dotproduct", spec=SPEC)
    d = pc.describe_index(name)
    assert (d.dimension, d.metric, d.vector_type) == (None, "dotproduct", "sparse")
    assert d.tags is None
    pc.delete_index(name, timeout=-1)


def test_control_plane_errors(pc):
    taken = new_name("taken")
    pc.create_index(name=taken, dimension=4, spec=SPEC)
    with pytest.raises(pinecone.ConflictError) as err:
        pc.create_index(name=taken, dimension=4, spec=SPEC)
    assert err.value.status_code == 409 and err.value.error_code == "ALREADY_EXISTS"
    pc.delete_index(taken, timeout=-1)
    with pytest.raises(pinecone.ApiError) as err:
        pc.create_index(name=new_name(), dimension=20001, metric="cosine", spec=SPEC)
    assert err.value.status_code == 400 and "dimension" in err.value.message
    with pytest.raises(pinecone.NotFoundError):
        pc.create_index(name=new_name(), dimension=4, spec=ServerlessSpec(cloud="aws", region="mars-north-1"))
    with pytest.raises(pinecone.NotFoundError) as err:
        pc.describe_index("no-such-index")
    assert err.value.error_code == "NOT_FOUND"
    with pytest.raises(pinecone.NotFoundError):
        pc.Index(name="no-such-index")
    with pytest.raises(pinecone.NotFoundError):
        pc.delete_index("no-such-index")


# -- data plane ------------------------------------------------------------------------------------

def test_upsert_query_fetch_with_metadata_and_lsns(dense):
    r1 = dense.upsert(vectors=[
        {"id": "a", "values": [1, 0, 0, 0], "metadata": {"genre": "drama", "year": 2020, "tags": ["x", "y"], "ok": True}},
        ("b", [0.9, 0.1, 0, 0], {"genre": "comedy", "year": 2021}),
        ("c", [0, 1, 0, 0]),
    ], namespace="films")
    assert r1.upserted_count == 3
    assert r1.response_info.lsn_committed == 1
    r2 = dense.upsert(vectors=[("d", [0, 0, 1, 0], {"genre": "drama", "year": 1999})], namespace="films")
    assert r2.response_info.lsn_committed == 2
    other = dense.upsert(vectors=[("z", [0, 0, 0, 1])])  # LSNs are per namespace
    assert other.response_info.lsn_committed == 1

    q = dense.query(vector=[1, 0, 0, 0], top_k=5, namespace="films", filter={"genre": {"$eq": "drama"}},
                    include_metadata=True)
    assert q.namespace == "films" and [m.id for m in q.matches] == ["a", "d"]
    assert q.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert q.matches[0].metadata == {"genre": "drama", "year": 2020, "tags": ["x", "y"], "ok": True}
    assert q.matches[0].values == [] and q.usage.read_units >= 1
    assert q.response_info.lsn_reconciled == 2 and q.response_info.is_reconciled(r2.response_info.lsn_committed)
    assert q.response_info.request_id

    q = dense.query(vector=[1, 0, 0, 0], top_k=2, namespace="films", include_values=True,
                    filter={"$and": [{"year": {"$gte": 2000}}, {"genre": {"$in": ["drama", "comedy"]}}]})
    assert [m.id for m in q.matches] == ["a", "b"] and q.matches[1].values == pytest.approx([0.9, 0.1, 0, 0])

    q = dense.query(id="c", top_k=1, namespace="films")
    assert [m.id for m in q.matches] == ["c"]
    assert dense.query(id="nope", top_k=3, namespace="films").matches == []
    assert dense.query(vector=[1, 0, 0, 0], top_k=3, namespace="empty").matches == []

    f = dense.fetch(ids=["a", "d", "missing"], namespace="films")
    assert set(f.vectors) == {"a", "d"} and f.namespace == "films" and f.usage.read_units == 1
    assert f.vectors["d"].values == [0, 0, 1, 0] and f.vectors["d"].metadata == {"genre": "drama", "year": 1999}
    assert f.response_info.lsn_reconciled == 2


def test_default_namespace_aliases(dense):
    dense.upsert(vectors=[("a", [1, 0, 0, 0])])
    dense.upsert(vectors=[("b", [0, 1, 0, 0])], namespace="__default__")
    for ns in (None, "", "__default__"):
        kwargs = {} if ns is None else {"namespace": ns}
        assert set(dense.fetch(ids=["a", "b"], **kwargs).vectors) == {"a", "b"}
        assert len(dense.query(vector=[1, 1, 0, 0], top_k=5, **kwargs).matches) == 2
    stats = dense.describe_index_stats()
    assert stats.namespaces["__default__"].vector_count == 2 and stats.total_vector_count == 2
    dense.delete(ids=["a"])  # the SDK sends namespace ""
    assert set(dense.fetch(ids=["a", "b"], namespace="__default__").vectors) == {"b"}


def test_ids_with_url_specials(dense):
    ids = ["a b/c?d", "doc1#chunk+2", "x&y=z", "%41"]
    dense.upsert(vectors=[(i, [1, 0, 0, 0]) for i in ids], namespace="n s/1")
    assert set(dense.fetch(ids=ids, namespace="n s/1").vectors) == set(ids)
    assert [v.id for v in dense.list_paginated(prefix="doc1#", namespace="n s/1").vectors] == ["doc1#chunk+2"]
    assert dense.describe_namespace(namespace="n s/1").record_count == 4


def test_update_and_delete(dense):
    dense.upsert(vectors=[(f"r{i}", [1, i, 0, 0], {"n": i, "g": "a" if i < 5 else "b"}) for i in range(10)],
                 namespace="ns")
    u = dense.update(id="r1", values=[0, 0, 0, 1], set_metadata={"g": "z", "new": True}, namespace="ns")
    assert u.response_info.lsn_committed == 2
    v = dense.fetch(ids=["r1"], namespace="ns").vectors["r1"]
    assert v.values == [0, 0, 0, 1] and v.metadata == {"n": 1, "g": "z", "new": True}
    dense.update(id="ghost", set_metadata={"g": "q"}, namespace="ns")  # unknown id: 200, nothing created
    assert "ghost" not in dense.fetch(ids=["ghost"], namespace="ns").vectors

    dry = dense.update(filter={"g": {"$eq": "b"}}, set_metadata={"flag": 1}, dry_run=True, namespace="ns")
    assert dry.matched_records == 5
    assert "flag" not in dense.fetch(ids=["r7"], namespace="ns").vectors["r7"].metadata
    done = dense.update(filter={"g": {"$eq": "b"}}, set_metadata={"flag": 1}, namespace="ns")
    assert done.matched_records == 5 and dense.fetch(ids=["r7"], namespace="ns").vectors["r7"].metadata["flag"] == 1

    dense.delete(ids=["r0", "r2", "nope"], namespace="ns")
    assert dense.describe_index_stats().namespaces["ns"].vector_count == 8
    dense.delete(filter={"g": {"$eq": "b"}}, namespace="ns")
    assert dense.describe_index_stats().namespaces["ns"].vector_count == 3
    dense.delete(delete_all=True, namespace="ns")
    assert "ns" not in dense.describe_index_stats().namespaces


def test_list_pagination(dense):
    ids = [f"doc{d}#chunk{c}" for d in range(3) for c in range(5)]
    dense.upsert(vectors=[(i, [1, 0, 0, 1]) for i in ids], namespace="ns")
    page = dense.list_paginated(prefix="doc1#", limit=2, namespace="ns")
    got = [v.id for v in page.vectors]
    while page.pagination is not None:
        page = dense.list_paginated(prefix="doc1#", limit=2, pagination_token=page.pagination.next, namespace="ns")
        got += [v.id for v in page.vectors]
    assert got == sorted(i for i in ids if i.startswith("doc1#"))
    assert page.usage.read_units == 1
    pages = list(dense.list(prefix="doc2#", limit=3, namespace="ns"))  # terminates: no token on the last page
    assert [len(p.vectors) for p in pages] == [3, 2]
    assert sum(len(p.vectors) for p in dense.list(namespace="ns")) == 15
    with pytest.raises(pinecone.ApiError) as err:  # a token of another prefix
        dense.list_paginated(prefix="doc0#", limit=2, pagination_token=dense.list_paginated(
            prefix="doc1#", limit=2, namespace="ns").pagination.next, namespace="ns")
    assert err.value.status_code == 400 and err.value.body["code"] == 3


def test_namespaces(dense):
    for ns in ("alpha", "beta", "gamma/1"):
        dense.upsert(vectors=[(f"{ns}-{i}", [1, i, 0, 0]) for i in range(3)], namespace=ns)
    names = [d.name for page in dense.list_namespaces() for d in page]
    assert names == ["alpha", "beta", "gamma/1"]
    page = dense.list_namespaces_paginated(limit=2)
    assert [n.name for n in page.namespaces] == ["alpha", "beta"] and page.pagination.next
    assert page.total_count == 3 and page.namespaces[0].record_count == 3
    page = dense.list_namespaces_paginated(limit=2, pagination_token=page.pagination.next)
    assert [n.name for n in page.namespaces] == ["gamma/1"] and page.pagination is None
    page = dense.list_namespaces_paginated(prefix="b")
    assert [n.name for n in page.namespaces] == ["beta"] and page.total_count == 1
    assert dense.describe_namespace(namespace="gamma/1").record_count == 3
    dense.delete_namespace(namespace="gamma/1")
    with pytest.raises(pinecone.NotFoundError):
        dense.describe_namespace(namespace="gamma/1")
    with pytest.raises(pinecone.NotFoundError):
        dense.delete_namespace(namespace="gamma/1")
    assert dense.describe_index_stats().total_vector_count == 6


def test_sparse_index(sparse):
    sparse.upsert(vectors=[
        {"id": "s1", "sparse_values": {"indices": [10, 4_000_000_000], "values": [1.0, 2.0]}},
        {"id": "s2", "sparse_values": {"indices": [3, 10], "values": [0.5, 0.5]}, "metadata": {"k": "v"}},
        {"id": "s3", "sparse_values": {"indices": [7], "values": [1]}},
    ])
    q = sparse.query(sparse_vector={"indices": [10, 4_000_000_000], "values": [1.0, 1.0]}, top_k=5,
                     include_values=True, include_metadata=True)
    assert [m.id for m in q.matches] == ["s1", "s2"]  # s3 scores 0 and is dropped
    assert q.matches[0].score == pytest.approx(3.0)
    assert q.matches[0].sparse_values.indices == [10, 4_000_000_000]
    assert q.matches[1].metadata == {"k": "v"}
    f = sparse.fetch(ids=["s2"]).vectors["s2"]
    assert f.values == [] and f.sparse_values.indices == [3, 10] and f.sparse_values.values == [0.5, 0.5]
    stats = sparse.describe_index_stats()
    assert stats.dimension is None and stats.vector_type == "sparse" and stats.total_vector_count == 3
    with pytest.raises(pinecone.ApiError):
        sparse.query(vector=[1.0, 2.0], top_k=1)


def test_hybrid_query(hybrid):
    hybrid.upsert(vectors=[
        {"id": "h1", "values": [1, 0], "sparse_values": {"indices": [1, 5], "values": [1.0, 1.0]}},
        {"id": "h2", "values": [0.5, 0.5], "sparse_values": {"indices": [5], "values": [4.0]}},
        {"id": "h3", "values": [0, 1]},
    ])
    q = hybrid.query(vector=[1, 0], sparse_vector={"indices": [5], "values": [1.0]}, top_k=3, include_values=True)
    scores = {m.id: m.score for m in q.matches}
    assert scores == pytest.approx({"h1": 2.0, "h2": 4.5, "h3": 0.0})
    assert [m.id for m in q.matches] == ["h2", "h1", "h3"]
    assert q.matches[0].sparse_values.indices == [5]
    with pytest.raises(pinecone.ApiError):  # sparse-only query on a dense index
        hybrid.query(sparse_vector={"indices": [5], "values": [1.0]}, top_k=3)


def test_query_namespaces_merges_concurrent_queries(dense):
    for ns in ("n1", "n2"):
        dense.upsert(vectors=[(f"{ns}-a", [1, 0, 0, 0]), (f"{ns}-b", [0, 1, 0, 0])], namespace=ns)
    result = dense.query_namespaces(vector=[1, 0.1, 0, 0], namespaces=["n1", "n2"], metric="cosine", top_k=3)
    assert {m.id for m in result.matches[:2]} == {"n1-a", "n2-a"}


def test_batched_concurrent_upserts(dense):
    rng = np.random.default_rng(0)
    vectors = [(f"v{i:04d}", rng.random(4).tolist(), {"i": i}) for i in range(1000)]
    resp = dense.upsert(vectors=vectors, batch_size=50, namespace="bulk", show_progress=False)
    assert resp.upserted_count == 1000 and not resp.has_errors
    assert dense.describe_index_stats().namespaces["bulk"].vector_count == 1000

    def work(i: int) -> int:  # writers and readers interleaved on 8 threads
        if i % 2:
            dense.upsert(vectors=[(f"w{i}-{j}", [1, j, i, 0]) for j in range(20)], namespace="mixed")
            return 20
        dense.query(vector=[1, 1, 1, 1], top_k=5, namespace="mixed")
        return 0

    with ThreadPoolExecutor(8) as pool:
        expected = sum(pool.map(work, range(64)))
    assert dense.describe_index_stats().namespaces["mixed"].vector_count == expected
    assert dense.describe_namespace(namespace="mixed").record_count == expected


def test_batched_upsert_collects_errors(dense):
    vectors = [(f"ok{i}", [1, 0, 0, 0]) for i in range(4)] + [("bad", [1, 0])]
    resp = dense.upsert(vectors=vectors, batch_size=2, namespace="errs", show_progress=False)
    assert resp.has_errors and resp.failed_item_count == 1
    assert dense.describe_index_stats().namespaces["errs"].vector_count == 4


def test_data_plane_errors(pc, dense):
    with pytest.raises(pinecone.ApiError) as err:
        dense.upsert(vectors=[("a", [1, 0, 0])])
    e = err.value
    assert e.status_code == 400 and e.body["code"] == 3 and e.error_code is None
    assert "Vector dimension 3 does not match the dimension of the index 4" in e.message
    with pytest.raises(pinecone.ApiError) as err:
        dense.upsert(vectors=[{"id": "a", "values": [1, 0, 0, 0], "metadata": {"k": None}}])
    assert err.value.status_code == 400
    with pytest.raises(pinecone.ApiError):
        dense.upsert(vectors=[("x" * 513, [1, 0, 0, 0])])
    with pytest.raises(pinecone.ApiError) as err:
        dense.upsert(vectors=[(f"r{i}", [1, 0, 0, 0]) for i in range(1001)])
    assert "1000" in err.value.message
    with pytest.raises(pinecone.ApiError):
        dense.fetch(ids=[f"r{i}" for i in range(1001)])
    with pytest.raises(pinecone.ApiError) as err:
        dense.query(vector=[1, 0, 0, 0], top_k=1, filter={"g": {"$near": 1}})
    assert err.value.status_code == 400
    with pytest.raises(pinecone.ApiError):
        dense.describe_index_stats(filter={"g": "x"})
    assert dense.describe_index_stats().total_vector_count == 0
    # the index goes away under a live handle: 404 on the data plane
    name = new_name("gone")
    pc.create_index(name=name, dimension=2, spec=SPEC)
    handle = pc.Index(name=name)
    pc.delete_index(name, timeout=-1)
    with pytest.raises(pinecone.NotFoundError) as err:
        handle.query(vector=[1, 0], top_k=1)
    assert err.value.status_code == 404 and err.value.body["code"] == 5


# -- auth (a second server started with --api-key) -----------------------------------------------

@pytest.fixture(scope="session")
def secured(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("secured"), "--api-key", "right-key", key="right-key")
    yield srv
    assert_clean_stop(srv)


def test_api_key_enforced_through_the_sdk(secured):
    good = Pinecone(api_key="right-key", host=secured.url)
    bad = Pinecone(api_key="wrong-key", host=secured.url)
    with pytest.raises(pinecone.UnauthorizedError) as err:
        bad.list_indexes()
    assert err.value.status_code == 401 and err.value.error_code == "UNAUTHENTICATED"
    with pytest.raises(pinecone.UnauthorizedError):
        bad.create_index(name="sneaky", dimension=2, spec=SPEC)
    assert "sneaky" not in good.list_indexes().names()
    good.create_index(name="guarded", dimension=2, spec=SPEC)
    host = good.describe_index("guarded").host
    with pytest.raises(pinecone.UnauthorizedError):
        bad.Index(host=host).upsert(vectors=[("a", [1, 0])])
    with pytest.raises(pinecone.UnauthorizedError):
        bad.delete_index("guarded")
    ix = good.Index(host=host)
    assert ix.describe_index_stats().total_vector_count == 0
    assert ix.upsert(vectors=[("a", [1, 0])]).upserted_count == 1
    assert "Api-Key headers are ignored" not in secured.output()


# -- 429 / 5xx (an in-process server over a client that fails on purpose) --------------------------

class FaultyClient(toolkit.Client):
    """Raise from query() according to the namespace, to exercise the error statuses."""

    FAULTS = {"rate": toolkit.RateLimitedError("slow down"), "down": toolkit.UnavailableError("store is read-only"),
              "bug": RuntimeError("secret internals")}

    def Index(self, name=None, host=None, **kw):  # noqa: N802
        index = super().Index(name=name, host=host, **kw)
        faults = self.FAULTS

        class Faulty:
            def __getattr__(self, attr):
                return getattr(index, attr)

            def query(self, **kwargs):
                fault = faults.get(kwargs.get("namespace"))
                if fault is not None:
                    raise fault
                return index.query(**kwargs)

        return Faulty()


def test_429_and_5xx_map_to_sdk_exceptions(monkeypatch):
    from pinecone._internal import http_client

    from toolkit.server import start

    sleeps: list[float] = []
    monkeypatch.setattr(http_client, "_retry_sleep", sleeps.append)  # the SDK's documented test seam
    tk = FaultyClient()
    tk.create_index(name="faulty", dimension=2, metric="cosine")
    with start(tk) as srv:
        ix = Pinecone(api_key="x", host=srv.url).Index(name="faulty")
        with pytest.raises(pinecone.RateLimitError) as err:
            ix.query(vector=[1, 0], top_k=1, namespace="rate")
        assert err.value.status_code == 429 and err.value.retry_after == 1.0 and err.value.body["code"] == 8
        assert len(sleeps) == 3 and all(1.0 <= s <= 1.5 for s in sleeps)  # retried, honouring Retry-After
        with pytest.raises(pinecone.ServiceError) as err:
            ix.query(vector=[1, 0], top_k=1, namespace="down")
        assert err.value.status_code == 503 and err.value.body["code"] == 14
        with pytest.raises(pinecone.ServiceError) as err:
            ix.query(vector=[1, 0], top_k=1, namespace="bug")
        assert err.value.status_code == 500 and "secret" not in err.value.message
        assert ix.query(vector=[1, 0], top_k=1, namespace="fine").matches == []
        assert len(sleeps) == 9


def test_eventual_consistency_shows_in_lsn_headers():
    """With --consistency eventual the SDK's response_info tells when a write became visible."""
    import argparse

    from toolkit.server import BackgroundServer
    from toolkit.server.cli import add_arguments, build_app

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--consistency", "eventual", "--apply-delay", "0.4"])
    with BackgroundServer(build_app(args), "127.0.0.1", 0).start() as srv:
        pc = Pinecone(api_key="x", host=srv.url)
        pc.create_index(name="eventual", dimension=2, spec=SPEC)
        ix = pc.Index(name="eventual")
        written = ix.upsert(vectors=[("a", [1, 0])], namespace="ns").response_info.lsn_committed
        assert written == 1
        first = ix.query(vector=[1, 0], top_k=1, namespace="ns")
        assert not first.response_info.is_reconciled(written) and first.matches == []
        deadline = time.monotonic() + 10
        while True:
            q = ix.query(vector=[1, 0], top_k=1, namespace="ns")
            if q.response_info.is_reconciled(written):
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [m.id for m in q.matches] == ["a"] and q.response_info.lsn_committed == 1


# -- older SDK generations (recorded bodies, sdk_wire.md) replayed with httpx ----------------------

LEGACY_HEADERS = {"Api-Key": "pclocal", "X-Pinecone-API-Version": "2025-04", "Accept": "application/json",
                  "Accept-Encoding": "identity", "User-Agent": "python-client-7.3.0",
                  "Content-Type": "application/json"}


@pytest.fixture()
def legacy(server):
    with httpx.Client(base_url=server.url, headers=LEGACY_HEADERS, timeout=10) as http:
        yield http


def test_legacy_create_describe_configure_delete(legacy, server):
    name = new_name("legacy")
    body = {"name": name, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}, "dimension": 2,
            "metric": "cosine", "deletion_protection": "disabled", "vector_type": "dense", "tags": {}}  # 7.3.0
    resp = legacy.post("/indexes", json=body)
    assert resp.status_code == 201
    model = resp.json()
    # the 2025 keys 7.3.0/9.1.0 read, and the 2026 keys 10.x reads, in one body
    assert model["dimension"] == 2 and model["metric"] == "cosine" and model["vector_type"] == "dense"
    assert model["spec"] == {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    assert model["status"] == {"ready": True, "state": "Ready"} and model["tags"] is None
    assert_index_port_host(model["host"], "127.0.0.1", server.port)
    assert model["schema"] == {"fields": {"_values": {"type": "dense_vector", "dimension": 2, "metric": "cosine"}}}
    assert model["deployment"] == {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
    assert name in [i["name"] for i in legacy.get("/indexes").json()["indexes"]]  # 7.3.0 has_index
    resp = legacy.patch(f"/indexes/{name}", json={"deletion_protection": "disabled", "tags": {"env": "prod"}})
    assert resp.status_code == 202 and resp.json()["tags"] == {"env": "prod"}
    resp = legacy.delete(f"/indexes/{name}")
    assert resp.status_code == 202 and resp.content == b""
    assert name not in [i["name"] for i in legacy.get("/indexes").json()["indexes"]]  # 7.3.0 delete polling


def test_legacy_sparse_create_9x(legacy):
    name = new_name("legacy-sp")
    body = {"name": name, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
            "metric": "dotproduct", "deletion_protection": "disabled", "vector_type": "sparse"}  # 9.1.0
    model = legacy.post("/indexes", json=body).json()
    assert model["dimension"] is None and model["vector_type"] == "sparse" and model["metric"] == "dotproduct"
    assert model["schema"] == {"fields": {"_sparse_values": {"type": "sparse_vector"}}}
    assert legacy.delete(f"/indexes/{name}").status_code == 202


def test_2026_create_body_10x(legacy):
    name = new_name("v2026")
    body = {"schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 2, "metric": "cosine"},
                                  "genre": {"type": "string", "filterable": True}}},
            "name": name, "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
            "deletion_protection": "disabled", "tags": {"env": "test"}}
    model = legacy.post("/indexes", json=body).json()
    assert model["dimension"] == 2 and model["tags"] == {"env": "test"}
    assert legacy.delete(f"/indexes/{name}").status_code == 202


def test_legacy_data_plane_bodies(legacy, pc):
    name = new_name("legacy-dp")
    pc.create_index(name=name, dimension=2, metric="dotproduct", spec=SPEC)
    d = f"/index/{name}"

    def ok(resp, status=200):
        assert resp.status_code == status, resp.text
        for header in ("x-pinecone-request-lsn", "x-pinecone-max-indexed-lsn", "x-pinecone-lsn-committed",
                       "x-pinecone-lsn-reconciled", "x-pinecone-request-id"):
            assert header in resp.headers
        return resp.json() if resp.content else None

    body = {"vectors": [{"id": "a", "values": [0.1, 0.2], "metadata": {"genre": "drama", "year": 2020,
                                                                        "tags": ["x", "y"], "ok": True}},
                        {"id": "b", "values": [0.3, 0.4], "sparseValues": {"indices": [1, 7], "values": [0.5, 0.25]}},
                        {"id": "a b/c?d", "values": [0.5, 0.5]}], "namespace": "ns1"}
    assert ok(legacy.post(f"{d}/vectors/upsert", json=body)) == {"upsertedCount": 3}
    assert ok(legacy.post(f"{d}/vectors/upsert", json={"vectors": [{"id": "t1", "values": [1.0, 0.0]}]})) == \
        {"upsertedCount": 1}

    q = ok(legacy.post(f"{d}/query", json={"topK": 3, "includeValues": True, "includeMetadata": True,
                                            "namespace": "ns1", "vector": [0.1, 0.2],
                                            "filter": {"genre": {"$eq": "drama"}}}))
    assert q["results"] == [] and q["namespace"] == "ns1" and q["usage"]["readUnits"] >= 1
    assert [m["id"] for m in q["matches"]] == ["a"] and q["matches"][0]["metadata"]["genre"] == "drama"
    assert isinstance(q["matches"][0]["score"], float) and len(q["matches"][0]["values"]) == 2
    q = ok(legacy.post(f"{d}/query", json={"topK": 3, "includeValues": True, "includeMetadata": False,
                                            "namespace": "ns1", "vector": [0.1, 0.2],
                                            "sparseVector": {"indices": [1, 3], "values": [0.5, 0.5]}}))
    match_b = next(m for m in q["matches"] if m["id"] == "b")
    assert match_b["sparseValues"] == {"indices": [1, 7], "values": [0.5, 0.25]} and "metadata" not in match_b

    # urllib3 (7.3.0) encodes a space as %20; httpx (10.x) as +
    for query in ("namespace=ns1&ids=a&ids=b&ids=a%20b%2Fc%3Fd", "ids=a&ids=b&ids=a+b%2Fc%3Fd&namespace=ns1"):
        f = ok(legacy.get(f"{d}/vectors/fetch?{query}"))
        assert set(f["vectors"]) == {"a", "b", "a b/c?d"} and f["namespace"] == "ns1"
        assert f["vectors"]["b"]["sparseValues"] == {"indices": [1, 7], "values": [0.5, 0.25]}
        assert f["usage"] == {"readUnits": 1}

    assert ok(legacy.post(f"{d}/vectors/update", json={"id": "t1", "setMetadata": {"g": "y"}})) == {}  # 7.3.0
    assert ok(legacy.post(f"{d}/vectors/update", json={"namespace": "", "id": "t1", "values": [0.9, 0.9]})) == {}
    f = ok(legacy.get(f"{d}/vectors/fetch?ids=t1"))
    assert f["vectors"]["t1"]["metadata"] == {"g": "y"} and f["vectors"]["t1"]["values"] == pytest.approx([0.9, 0.9])
    upd = ok(legacy.post(f"{d}/vectors/update", json={"namespace": "ns1", "filter": {"genre": {"$eq": "drama"}},
                                                      "setMetadata": {"seen": True}, "dryRun": True}))
    assert upd == {"matchedRecords": 1}

    # list: 7.3.0 omits namespace and may send limit=1000 (clamped to 100)
    lst = ok(legacy.get(f"{d}/vectors/list?limit=1000"))
    assert lst["vectors"] == [{"id": "t1"}] and "pagination" not in lst and lst["usage"] == {"readUnits": 1}
    lst = ok(legacy.get(f"{d}/vectors/list?namespace=ns1&prefix=a&limit=1"))
    assert lst["vectors"] == [{"id": "a"}] and lst["pagination"]["next"]
    nxt = ok(legacy.get(f"{d}/vectors/list", params={"namespace": "ns1", "prefix": "a", "limit": 1,
                                                     "paginationToken": lst["pagination"]["next"]}))
    assert nxt["vectors"] == [{"id": "a b/c?d"}] and "pagination" not in nxt

    stats = ok(legacy.post(f"{d}/describe_index_stats", json={}))
    assert stats == {"namespaces": {"__default__": {"vectorCount": 1}, "ns1": {"vectorCount": 3}},
                     "dimension": 2, "indexFullness": 0.0, "totalVectorCount": 4, "metric": "dotproduct",
                     "vectorType": "dense"}
    assert ok(legacy.get(f"{d}/describe_index_stats")) == stats  # the deprecated GET

    ns = ok(legacy.get(f"{d}/namespaces"))
    assert ns["namespaces"] == [{"name": "__default__", "record_count": 1}, {"name": "ns1", "record_count": 3}]
    assert ok(legacy.get(f"{d}/namespaces/ns1")) == {"name": "ns1", "record_count": 3}

    assert ok(legacy.post(f"{d}/vectors/delete", json={"ids": ["t1"]})) == {}  # 7.3.0: no namespace key
    assert ok(legacy.post(f"{d}/vectors/delete", json={"namespace": "ns1", "filter": {"genre": {"$eq": "drama"}}})) == {}
    assert ok(legacy.post(f"{d}/vectors/delete", json={"namespace": "ns1", "deleteAll": True})) == {}
    assert ok(legacy.post(f"{d}/describe_index_stats", json={}))["totalVectorCount"] == 0
    assert ok(legacy.delete(f"{d}/namespaces/ns1"), 202) == {}  # JSON: the TypeScript SDK parses it
    pc.delete_index(name, timeout=-1)


def test_legacy_error_shapes(legacy, pc):
    resp = legacy.get("/indexes/no-such-index")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND" and resp.json()["status"] == 404
    resp = legacy.post("/index/no-such-index/query", json={"topK": 1, "vector": [1.0]})
    assert resp.status_code == 404 and resp.json()["code"] == 5 and resp.json()["details"] == []
    name = new_name("legacy-err")
    pc.create_index(name=name, dimension=3, spec=SPEC)
    resp = legacy.post(f"/index/{name}/vectors/upsert", json={"vectors": [{"id": "a", "values": [1.0, 2.0]}]})
    assert resp.status_code == 400
    assert resp.json() == {"code": 3, "message": "vectors[0].values: Vector dimension 2 does not match the "
                                                 "dimension of the index 3", "details": []}
    pc.delete_index(name, timeout=-1)


# -- persistence (only once toolkit.Client(path=...) exists) ---------------------------------------

def _persistence_available(tmp_path: Path) -> bool:
    try:
        client = toolkit.Client(path=str(tmp_path / "probe"))
    except toolkit.UnimplementedError:
        return False
    close = getattr(client, "close", None)
    if callable(close):
        close()
    return True


@pytest.fixture()
def store(tmp_path):
    if not _persistence_available(tmp_path):
        pytest.skip("toolkit.Client(path=...) is not available")
    return tmp_path / "vectors.db"


def test_path_survives_sigterm_restart(tmp_path, store):
    srv = start_server(tmp_path, "--path", str(store))
    assert f"persistent at {store}" in srv.output()
    pc = Pinecone(api_key="local", host=srv.url)
    pc.create_index(name="kept", dimension=2, metric="cosine", spec=SPEC, tags={"env": "disk"})
    ix = pc.Index(name="kept")
    ix.upsert(vectors=[(f"r{i}", [1, i + 1]) for i in range(100)], batch_size=10, namespace="ns",
              show_progress=False)
    ix.update(id="r1", set_metadata={"v": 2}, namespace="ns")
    ix.delete(ids=["r99"], namespace="ns")
    assert_clean_stop(srv)
    srv = start_server(tmp_path, "--path", str(store))  # a new port: hosts come from describe_index
    try:
        pc = Pinecone(api_key="local", host=srv.url)
        assert dict(pc.describe_index("kept").tags) == {"env": "disk"}
        ix = pc.Index(name="kept")
        assert ix.describe_index_stats().namespaces["ns"].vector_count == 99
        assert ix.fetch(ids=["r1"], namespace="ns").vectors["r1"].metadata == {"v": 2}
        assert ix.query(id="r5", top_k=1, namespace="ns").matches[0].id == "r5"
    finally:
        assert_clean_stop(srv)
    # the same store, served read-only: reads work, writes answer 503 and change nothing
    srv = start_server(tmp_path, "--path", str(store), "--read-only")
    try:
        ix = Pinecone(api_key="local", host=srv.url).Index(name="kept")
        assert set(ix.fetch(ids=["r1", "r2"], namespace="ns").vectors) == {"r1", "r2"}
        resp = httpx.post(f"{srv.url}/index/kept/vectors/upsert", json={"vectors": [{"id": "b", "values": [0, 1]}]})
        assert resp.status_code == 503 and resp.json()["code"] == 14
        resp = httpx.delete(f"{srv.url}/indexes/kept")
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "UNAVAILABLE"
        assert ix.describe_index_stats().total_vector_count == 99
    finally:
        assert_clean_stop(srv)


def test_sigterm_during_writes_keeps_every_acknowledged_write(tmp_path, store):
    srv = start_server(tmp_path, "--path", str(store))
    httpx.post(f"{srv.url}/indexes", json={"name": "busy", "dimension": 2,
                                           "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}})
    acked: list[str] = []
    stop = time.monotonic() + 20

    def writer(t: int) -> None:
        with httpx.Client(base_url=f"{srv.url}/index/busy", timeout=10) as http:
            for i in itertools.count():
                ids = [f"t{t}-{i}-{j}" for j in range(10)]
                try:
                    resp = http.post("/vectors/upsert", json={"vectors": [{"id": x, "values": [1, j + 1]}
                                                                          for j, x in enumerate(ids)]})
                except httpx.TransportError:
                    return  # the server went away
                if resp.status_code != 200 or time.monotonic() > stop:
                    return
                acked.extend(ids)

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(writer, t) for t in range(6)]
        while len(acked) < 300 and not all(f.done() for f in futures):
            time.sleep(0.01)
        assert_clean_stop(srv)
        for f in futures:
            f.result()
    assert len(acked) >= 300, srv.output()
    srv = start_server(tmp_path, "--path", str(store))
    try:
        ix = Pinecone(api_key="local", host=srv.url).Index(name="busy")
        found: set[str] = set()
        for i in range(0, len(acked), 1000):
            found |= set(ix.fetch(ids=acked[i : i + 1000]).vectors)
        missing = sorted(set(acked) - found)
        assert not missing, f"{len(missing)} acknowledged ids lost, e.g. {missing[:5]}"
    finally:
        assert_clean_stop(srv)


def test_cli_refuses_bad_options(tmp_path):
    out = subprocess.run([*serve_command(), "--port", str(free_port()), "--read-only"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "--read-only needs --path" in out.stderr


def test_socket_level_guards(server, pc):
    name = new_name("guard")
    pc.create_index(name=name, dimension=2, spec=SPEC)
    url = f"{server.url}/index/{name}/vectors/upsert"
    # an oversize body over a real socket: the client still reads our 400
    resp = httpx.post(url, content=b'{"vectors": [' + b" " * 20_000_000 + b"]}",
                      headers={"content-type": "application/json"}, timeout=60)
    assert resp.status_code == 400 and "at most" in resp.json()["message"]
    # a page on another origin (DNS rebinding) cannot reach a loopback-bound server
    resp = httpx.post(url, json={"vectors": [{"id": "a", "values": [1, 0]}]}, headers={"host": "attacker.example"})
    assert resp.status_code == 400 and "not served here" in resp.json()["message"]
    # ... and a plain cross-site form post is refused for its content type
    resp = httpx.post(url, content=json.dumps({"vectors": [{"id": "a", "values": [1, 0]}]}),
                      headers={"content-type": "text/plain"})
    assert resp.status_code == 400
    assert pc.Index(name=name).describe_index_stats().total_vector_count == 0
    # a fetch of 1000 ids of 500+ characters is a ~0.5 MB request line, arriving in pieces
    query = "&".join(f"ids={'y' * 500}{i}" for i in range(1000))
    request = f"GET /index/{name}/vectors/fetch?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for i in range(0, len(request), 8192):
            sock.sendall(request[i : i + 8192])
            time.sleep(0.0005)
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
    pc.delete_index(name, timeout=-1)


def test_server_json_is_compact_and_typed(server, pc):
    name = new_name("typed")
    pc.create_index(name=name, dimension=2, spec=SPEC)
    resp = httpx.post(f"{server.url}/index/{name}/vectors/upsert", headers={"Api-Key": "x"},
                      json={"vectors": [{"id": "a", "values": [1, 2]}]})
    assert resp.headers["content-type"] == "application/json" and json.loads(resp.content) == {"upsertedCount": 1}
    pc.delete_index(name, timeout=-1)
