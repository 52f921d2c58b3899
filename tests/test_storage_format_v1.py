"""Slabs written in the first format (toolkit.slab/1: arrays.npz + records.parquet) still open.

tests/data/storage_v1_db was written by main at dc2d7db: index "old" (euclidean, 4-d), 30 records
v-0..v-29 with metadata in one slab, v-3 deleted (a live mask), and "tail" only in the request log.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from storage_helpers import flip_byte, namespace_dir, state

import toolkit
from toolkit.storage import verify

SOURCE = Path(__file__).parent / "data" / "storage_v1_db"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    target = tmp_path / "db"
    shutil.copytree(SOURCE, target)
    return target


def _expected() -> dict[str, tuple]:
    out = {f"v-{i}": ((float(i), 1.0, 2.0, float(i % 3)), None, {"n": float(i), "tag": ["x", "y"][i % 2]})
           for i in range(30) if i != 3}
    out["tail"] = ((9.0, 9.0, 9.0, 9.0), None, None)
    return out


def _normalise(found: dict[str, dict[str, tuple]]) -> dict[str, tuple]:
    return {k: (v[0], v[1], None if v[2] is None else {m: (float(x) if isinstance(x, (int, float)) else x)
                                                        for m, x in v[2].items()})
            for k, v in found["__default__"].items()}


def test_a_v1_database_reads_and_converts_on_the_next_checkpoint(db):
    for read_only in (True, False):
        client = toolkit.Client(path=str(db), read_only=read_only)
        ix = client.Index("old")
        assert _normalise(state(ix)) == _expected()
        assert ix.query(vector=[4.0, 1.0, 2.0, 1.0], top_k=1).ids() == ["v-4"]
        client.close()
    client = toolkit.Client(path=str(db))
    ix = client.Index("old")
    ix.delete(ids=["v-5"])
    ix.compact()  # rewrites the slab in the current format
    client.close()
    slab = next((namespace_dir(db, "old", "__default__") / "slabs").iterdir())
    assert (slab / "records.arrow").is_file() and not (slab / "arrays.npz").exists()
    expected = _expected()
    del expected["v-5"]
    client = toolkit.Client(path=str(db))
    assert _normalise(state(client.Index("old"))) == expected
    client.close()
    assert verify(db).ok


def test_a_v1_slab_is_fully_verified_at_open(db):
    slab = next((namespace_dir(db, "old", "__default__") / "slabs").iterdir())
    flip_byte(slab / "arrays.npz", len((slab / "arrays.npz").read_bytes()) // 2)
    with pytest.raises(toolkit.DataLossError, match="arrays.npz"):
        toolkit.Client(path=str(db))
    assert not verify(db).ok
