"""The official TypeScript SDK (npm ``@pinecone-database/pinecone`` 8.x, unmodified) through node.

The SDK is installed once per machine into a cache folder (``npm install``; the npm registry is
the only network this needs) and ``tests/ts/sdk_roundtrip.cjs`` drives a served toolkit. Skipped,
with the reason, when node/npm are absent or the install fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import toolkit.server

SCRIPT = Path(__file__).parent / "ts" / "sdk_roundtrip.cjs"
PACKAGE = "@pinecone-database/pinecone@8"


@pytest.fixture(scope="session")
def ts_sdk() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not installed: the TypeScript SDK cannot run")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vector-toolkit" / "ts-sdk-8"
    marker = cache / "node_modules" / "@pinecone-database" / "pinecone" / "package.json"
    if not marker.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), PACKAGE],
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE} timed out")
        if proc.returncode != 0 or not marker.exists():
            pytest.skip(f"npm install {PACKAGE} failed: {proc.stderr[-500:]}")
    version = json.loads(marker.read_text())["version"]
    assert version.startswith("8."), version
    return cache


def test_typescript_sdk_round_trip(ts_sdk):
    with toolkit.server.start(api_key="ts-key") as srv:
        proc = subprocess.run(["node", str(SCRIPT), srv.url, "ts-key"], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "TS_SDK_DIR": str(ts_sdk)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["host"].startswith("http://127.0.0.1:") and "/index/" not in out["host"]
    assert out["query"] == [["a", "x"], ["b", "y"]]
    assert out["fetch"] == ["b"] and out["fetchByMetadata"] == ["a", "c"] and out["updated"] == "z"
    assert out["listFirstPage"] == ["a", "b"] and out["listHasNext"] is True
    assert out["statsNs"] == 2 and out["created"] == "fresh" and out["namespaces"] == ["fresh", "ns"]
    assert out["described"] == 2
    assert out["afterDelete"] == []  # deleteNamespace resolved (it used to throw on the empty body)
    assert out["badUpsert"] == "PineconeBadRequestError"
