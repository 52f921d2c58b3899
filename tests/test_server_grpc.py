"""gRPC and REST on one index host, driven by the official SDK (``PineconeGRPC``, REST and asyncio)
against ``python -m toolkit serve``, plus raw-gRPC robustness checks (malformed and oversized
messages, unknown RPCs, clients that vanish mid-stream, concurrent clients).

One session-scoped server (with an API key) serves every test here.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pinecone = pytest.importorskip("pinecone")
grpc = pytest.importorskip("grpc")
from pinecone import Pinecone, PineconeAsyncio, ServerlessSpec  # noqa: E402
from pinecone.grpc import PineconeGRPC  # noqa: E402

from toolkit.server.proto import db_data_pb2 as pb  # noqa: E402
from toolkit.server.proto import db_data_pb2_grpc as pb_grpc  # noqa: E402
from toolkit.server.protocol_switch import PREFACE, is_http2, peer_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "grpc-secret"
SPEC = ServerlessSpec(cloud="aws", region="us-east-1")
_names = itertools.count()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificates(folder: Path) -> tuple[Path, Path, Path] | None:
    """A throwaway CA and a 127.0.0.1 server certificate signed by it (openssl); None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=toolkit test CA"],
        [openssl, "req", *ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "cert.pem", "-days", "2", "-extfile", str(ext)],
    ]
    for step in steps:
        if subprocess.run(step, cwd=folder, capture_output=True).returncode != 0:
            return None
    return folder / "ca.pem", folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def served(tmp_path_factory, certificates):
    """``python -m toolkit serve --api-key KEY`` (+ TLS when openssl exists) on a free port."""
    log = tmp_path_factory.mktemp("grpc-server") / "server.log"
    tls = [] if certificates is None else ["--tls-cert", str(certificates[1]), "--tls-key", str(certificates[2])]
    for _attempt in range(3):
        port = _free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TOOLKIT_API_KEY", None)
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "toolkit", "serve", "--port", str(port), "--api-key", KEY,
                                     "--index-port-start", "0", *tls], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                    env=env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", headers={"Api-Key": KEY}, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            proc.kill()
            continue
        yield url, log
        proc.terminate()
        proc.wait(30)
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text
        return
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def url(served):
    return served[0]


@pytest.fixture(scope="session")
def pc(url):
    return Pinecone(api_key=KEY, host=url)


@pytest.fixture(scope="session")
def pcg(url):
    return PineconeGRPC(api_key=KEY, host=url, grpc_scheme="http")


def make_index(pc, dimension=3, metric="cosine", **kw):
    name = f"g-{os.getpid() % 1000}-{next(_names)}"
    return pc.create_index(name=name, dimension=dimension, metric=metric, spec=SPEC, **kw)


@pytest.fixture()
def host(pc):
    model = make_index(pc)
    yield model.host
    pc.delete_index(model.name, timeout=-1)


def records(n: int, ns: str = "ns"):
    return [(f"r{i:03d}", [1.0, float(i), 0.5], {"g": "even" if i % 2 == 0 else "odd", "i": i}) for i in range(n)]


# -- the one host serves both ---------------------------------------------------------------------------


def test_index_host_is_its_own_port_serving_rest_and_grpc(pc, pcg, url, host):
    assert host.startswith("http://127.0.0.1:") and host != url and "/index/" not in host
    g = pcg.Index(host=host)
    r = pc.Index(host=host)
    assert g.upsert(vectors=records(10), namespace="ns").upserted_count == 10
    assert r.describe_index_stats().namespaces["ns"].vector_count == 10  # REST sees gRPC's write
    r.upsert(vectors=[("z", [0.0, 0.0, 1.0])], namespace="ns")
    assert g.describe_index_stats().total_vector_count == 11  # and gRPC sees REST's


def test_every_data_plane_rpc_matches_rest(pc, pcg, host):
    g, r = pcg.Index(host=host), pc.Index(host=host)
    g.upsert(vectors=records(20), namespace="ns")
    # query: vector, id, filter, include values/metadata — same answer on both transports
    for kwargs in ({"vector": [1.0, 3.0, 0.5]}, {"id": "r004"}, {"vector": [1.0, 3.0, 0.5], "filter": {"g": "odd"}}):
        qg = g.query(top_k=5, namespace="ns", include_values=True, include_metadata=True, **kwargs)
        qr = r.query(top_k=5, namespace="ns", include_values=True, include_metadata=True, **kwargs)
        assert [m.id for m in qg.matches] == [m.id for m in qr.matches]
        assert [round(m.score, 5) for m in qg.matches] == [round(m.score, 5) for m in qr.matches]
        assert qg.matches[0].metadata == qr.matches[0].metadata and len(qg.matches[0].values) == 3
    assert all(m.metadata["g"] == "odd" for m in g.query(vector=[1, 1, 1], top_k=5, namespace="ns",
                                                         filter={"g": "odd"}, include_metadata=True).matches)
    # fetch
    fetched = g.fetch(ids=["r001", "nope"], namespace="ns")
    assert list(fetched.vectors) == ["r001"] and fetched.vectors["r001"].metadata == {"g": "odd", "i": 1.0}
    # fetch by metadata, paged
    seen, token = [], None
    while True:
        page = g.fetch_by_metadata(filter={"g": "even"}, namespace="ns", limit=4, pagination_token=token)
        seen += list(page.vectors)
        token = page.pagination.next if page.pagination else None
        if not token:
            break
    assert sorted(seen) == [f"r{i:03d}" for i in range(0, 20, 2)]
    # update by id, then by metadata (dry run first)
    g.update(id="r001", values=[0.0, 1.0, 0.0], set_metadata={"tag": "x"}, namespace="ns")
    got = r.fetch(ids=["r001"], namespace="ns").vectors["r001"]
    assert got.values == [0.0, 1.0, 0.0] and got.metadata["tag"] == "x"
    assert g.update(filter={"g": "even"}, set_metadata={"tag": "e"}, dry_run=True, namespace="ns").matched_records == 10
    assert "tag" not in r.fetch(ids=["r002"], namespace="ns").vectors["r002"].metadata
    assert g.update(filter={"g": "even"}, set_metadata={"tag": "e"}, namespace="ns").matched_records == 10
    assert r.fetch(ids=["r002"], namespace="ns").vectors["r002"].metadata["tag"] == "e"
    # list, paged
    ids = [i for page in g.list(namespace="ns", limit=7) for i in (page if isinstance(page, list) else
                                                                  [v.id for v in page.vectors])]
    assert ids == [f"r{i:03d}" for i in range(20)]
    # delete: ids, filter, delete_all
    g.delete(ids=["r000", "r001"], namespace="ns")
    g.delete(filter={"g": "odd"}, namespace="ns")
    assert r.describe_index_stats().namespaces["ns"].vector_count == 9
    g.delete(delete_all=True, namespace="ns")
    assert "ns" not in r.describe_index_stats().namespaces


def test_sparse_queries_over_grpc(pc, pcg):
    model = pc.create_index(name=f"gs-{os.getpid() % 1000}-{next(_names)}", vector_type="sparse",
                            metric="dotproduct", spec=SPEC)
    try:
        g = pcg.Index(host=model.host)
        g.upsert(vectors=[{"id": "a", "sparse_values": {"indices": [1, 5], "values": [0.5, 1.0]}},
                          {"id": "b", "sparse_values": {"indices": [2], "values": [2.0]}}])
        res = g.query(sparse_vector={"indices": [5], "values": [1.0]}, top_k=2, include_values=True)
        assert [m.id for m in res.matches] == ["a"]
        assert res.matches[0].sparse_values.indices == [1, 5]
    finally:
        pc.delete_index(model.name, timeout=-1)


def test_namespace_rpcs(pcg, pc, host):
    g = pcg.Index(host=host)
    g.upsert(vectors=records(3), namespace="a")
    created = g.create_namespace(name="fresh", schema={"fields": {"g": {"filterable": True}}})
    assert created.name == "fresh" and created.record_count == 0
    with pytest.raises(pinecone.errors.ConflictError):
        g.create_namespace(name="fresh")
    assert g.describe_namespace(namespace="a").record_count == 3
    names = {d.name for d in g.list_namespaces_paginated().namespaces}
    assert {"a", "fresh"} <= names
    g.delete_namespace(namespace="fresh")
    with pytest.raises(pinecone.errors.NotFoundError):
        g.describe_namespace(namespace="fresh")
    with pytest.raises(pinecone.errors.ConflictError):  # REST says the same
        pc.Index(host=host).create_namespace(name="a")


def test_errors_carry_the_toolkit_status_and_leave_data_unchanged(pcg, url, host):
    g = pcg.Index(host=host)
    g.upsert(vectors=records(2), namespace="ns")
    with pytest.raises(pinecone.errors.PineconeError) as info:
        g.upsert(vectors=[("bad", [1.0, 2.0])], namespace="ns")  # wrong dimension
    assert "dimension" in str(info.value)
    with pytest.raises(pinecone.errors.PineconeError) as info:  # one bad record rejects the whole request
        g.upsert(vectors=[("ok", [1.0, 0.0, 0.0]), ("short", [1.0, 0.0])], namespace="ns")
    assert "vectors[1]" in str(info.value)
    with pytest.raises(pinecone.errors.PineconeError):
        g.query(vector=[1, 0, 0], top_k=0, namespace="ns")
    bad_key = PineconeGRPC(api_key="wrong", host=url, grpc_scheme="http").Index(host=host)
    with pytest.raises(pinecone.errors.UnauthorizedError):
        bad_key.upsert(vectors=[("x", [1, 0, 0])], namespace="ns")
    assert g.describe_index_stats().namespaces["ns"].vector_count == 2


def test_asyncio_sdk_on_the_index_host(url, host):
    async def run():
        async with PineconeAsyncio(api_key=KEY, host=url) as apc:
            async with apc.IndexAsyncio(host=host) as ix:
                await ix.upsert(vectors=records(4), namespace="as")
                res = await ix.query(vector=[1.0, 2.0, 0.5], top_k=2, namespace="as")
                stats = await ix.describe_index_stats()
                return [m.id for m in res.matches], stats.namespaces["as"].vector_count

    ids, count = asyncio.run(run())
    assert count == 4 and len(ids) == 2


# -- raw gRPC: metadata and robustness ---------------------------------------------------------------------


def _target(host: str) -> str:
    return host.split("://", 1)[1]


def test_lsn_headers_travel_as_response_metadata(pcg, host):
    pcg.Index(host=host).upsert(vectors=records(3), namespace="ns")
    with grpc.insecure_channel(_target(host)) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        _, call = stub.Query.with_call(pb.QueryRequest(namespace="ns", top_k=1, vector=[1, 0, 0]),
                                       metadata=(("api-key", KEY),), timeout=10)
        md = dict(call.initial_metadata())
        assert int(md["x-pinecone-request-lsn"]) >= 1 and "x-pinecone-max-indexed-lsn" in md
        assert md["x-pinecone-request-id"]


def _raw(host: str, method: str, payload: bytes, metadata=(("api-key", KEY),)):
    with grpc.insecure_channel(_target(host)) as channel:
        call = channel.unary_unary(f"/VectorService/{method}")
        try:
            call(payload, metadata=metadata, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            return exc.code()


def test_malformed_oversized_and_unknown_rpcs_get_clean_statuses(pcg, host):
    g = pcg.Index(host=host)
    g.upsert(vectors=records(5), namespace="ns")
    before = g.describe_index_stats().total_vector_count
    assert _raw(host, "Upsert", b"\xff\xff\xff\xff\x0f garbage") == grpc.StatusCode.INVALID_ARGUMENT
    # a valid UpsertRequest frame cut in half
    whole = pb.UpsertRequest(vectors=[pb.Vector(id="cut", values=[1, 2, 3])], namespace="ns").SerializeToString()
    assert _raw(host, "Upsert", whole[: len(whole) // 2]) == grpc.StatusCode.INVALID_ARGUMENT
    assert _raw(host, "Upsert", b"\x00" * 20_000_000) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _raw(host, "Teleport", b"") == grpc.StatusCode.UNIMPLEMENTED
    # the SDK sends its deadline (grpc-timeout, in ns); a call whose deadline passed is not run
    with pytest.raises(pinecone.errors.PineconeTimeoutError):
        g.upsert(vectors=[("late", [1.0, 0.0, 0.0])], namespace="ns", timeout=0.000001)
    assert g.query(vector=[1.0, 0.0, 0.0], top_k=1, namespace="ns", timeout=30).matches
    assert _raw(host, "Upsert", whole, metadata=()) == grpc.StatusCode.UNAUTHENTICATED
    over = pb.UpsertRequest(vectors=[pb.Vector(id=f"o{i}", values=[1, 2, 3]) for i in range(1001)]).SerializeToString()
    assert _raw(host, "Upsert", over) == grpc.StatusCode.INVALID_ARGUMENT  # the core's 1000-record limit
    assert g.describe_index_stats().total_vector_count == before


def test_clients_that_vanish_mid_stream_do_not_hurt_the_server(pcg, host):
    port = int(host.rsplit(":", 1)[1])
    for cut in (2, len(PREFACE), len(PREFACE) + 5):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall((PREFACE + b"\x00\x00\x12\x04\x00\x00\x00\x00\x00")[:cut])
    with socket.create_connection(("127.0.0.1", port)) as sock:  # an HTTP/1 request cut mid-body
        sock.sendall(b"POST /vectors/upsert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Api-Key: " + KEY.encode() + b"\r\nContent-Length: 500\r\n\r\n{\"vectors\": [")
    g = pcg.Index(host=host)
    g.upsert(vectors=records(3), namespace="ns")
    assert g.describe_index_stats().total_vector_count == 3


def test_concurrent_grpc_and_rest_clients(pc, pcg, host):
    g, r = pcg.Index(host=host), pc.Index(host=host)

    def work(worker: int) -> int:
        ix = g if worker % 2 else r
        for j in range(5):
            ix.upsert(vectors=[(f"w{worker}-{j}", [1.0, float(worker), float(j)])], namespace="c")
            assert ix.query(vector=[1.0, 0.0, 0.0], top_k=3, namespace="c").matches
        return worker

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))
    assert r.describe_index_stats().namespaces["c"].vector_count == 40


def test_a_direct_connection_to_the_internal_grpc_server_is_refused(pcg, host, served):
    """Only the fronts' connections are mapped to an index; a direct dial gets NOT_FOUND."""
    import re

    pcg.Index(host=host).upsert(vectors=records(1), namespace="ns")
    port = re.search(r"gRPC server on 127\.0\.0\.1:(\d+)", served[1].read_text()).group(1)
    request = pb.DescribeIndexStatsRequest().SerializeToString()
    assert _raw(f"http://127.0.0.1:{port}", "DescribeIndexStats", request) == grpc.StatusCode.NOT_FOUND
    assert _raw(host, "DescribeIndexStats", request) == grpc.StatusCode.OK
    assert peer_port("ipv4:127.0.0.1:5081") == 5081 and peer_port("ipv6:[::1]:443") == 443
    assert peer_port("unix:/tmp/x") is None


def test_protocol_detection():
    assert is_http2(PREFACE) and is_http2(PREFACE[:3]) and is_http2(PREFACE + b"more")
    for first in (b"GET / HTTP/1.1\r\n", b"POST", b"PR", b"\x16\x03\x01", b"PRX"):
        assert not is_http2(first)


def test_http1_garbage_on_an_index_port_gets_a_400(host):
    port = int(host.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"BLAH\x00\x01 nonsense\r\n\r\n")
        answer = sock.recv(100)
    assert answer.startswith(b"HTTP/1.1 400")


def test_generated_code_is_current(tmp_path):
    tools = pytest.importorskip("grpc_tools.protoc")
    proto = "toolkit/server/proto/db_data.proto"
    import grpc_tools

    include = str(Path(grpc_tools.__file__).parent / "_proto")
    rc = tools.main(["protoc", "-I", str(ROOT), "-I", include, f"--python_out={tmp_path}",
                     f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", str(ROOT / proto)])
    assert rc == 0
    committed_dir = ROOT / "toolkit/server/proto"
    fresh_dir = tmp_path / "toolkit/server/proto"

    def schema(path: Path) -> bytes:  # the serialized descriptor: what the messages are on the wire
        text = path.read_text()
        return text[text.index("AddSerializedFile("):].split("\n", 1)[0].encode()

    def without_versions(path: Path) -> list[str]:  # generator-version lines differ across grpcio-tools
        return [line for line in path.read_text().splitlines()
                if "VERSION" not in line and "Version" not in line]

    assert schema(fresh_dir / "db_data_pb2.py") == schema(committed_dir / "db_data_pb2.py"), \
        f"db_data_pb2.py is stale: regenerate it (command in {proto})"
    for name in ("db_data_pb2_grpc.py", "db_data_pb2.pyi"):
        assert without_versions(fresh_dir / name) == without_versions(committed_dir / name), \
            f"{name} is stale: regenerate it (command in {proto})"


TLS_CLIENT = """
import sys
from pinecone.grpc import PineconeGRPC
url, host, key = sys.argv[1:4]
ix = PineconeGRPC(api_key=key, host=url, grpc_scheme="https").Index(host=host.replace("http://", "https://"))
ix.upsert(vectors=[("tls-a", [1.0, 0.0, 0.0]), ("tls-b", [0.0, 1.0, 0.0])], namespace="tls")
print(",".join(m.id for m in ix.query(vector=[1.0, 0.0, 0.0], top_k=2, namespace="tls").matches))
"""


def test_tls_clients_on_the_same_index_port(certificates, url, host):
    """An SDK that dials gRPC over TLS (the default) works when the server has a certificate."""
    if certificates is None:
        pytest.skip("openssl is not installed: no certificate to serve TLS with")
    ca = certificates[0]
    proc = subprocess.run([sys.executable, "-c", TLS_CLIENT, url, host, KEY], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "SSL_CERT_FILE": str(ca)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "tls-a,tls-b"
    https = host.replace("http://", "https://")  # REST over TLS on the same port
    resp = httpx.post(f"{https}/describe_index_stats", json={}, headers={"Api-Key": KEY},
                      verify=ssl.create_default_context(cafile=str(ca)))
    assert resp.status_code == 200 and resp.json()["namespaces"]["tls"]["vectorCount"] == 2
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate is refused by the client
        httpx.get(f"{https}/describe_index_stats", headers={"Api-Key": KEY})
