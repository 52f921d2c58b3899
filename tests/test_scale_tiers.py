"""The 10M tier layout (benchmarks/engines/scale_10m.toml, issue #14), checked at 1/1000 scale.

The claim the layout rests on: every row is merged a bounded number of times and each
IVF-PQ slab is built once, so 10M rows end as four 2.5M IVF-PQ slabs and no multi-million
row index is ever rebuilt. Here the same file, with its sizes divided by 1000, must end
10k rows as four 2,500-row IVF-PQ slabs after exactly four IVF-PQ builds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import toolkit
from toolkit.engine_config import EngineConfig, check_engine

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytest.importorskip("faiss")

ENGINES = Path(__file__).resolve().parents[1] / "benchmarks" / "engines"


@pytest.mark.parametrize("name", ["scale_10m.toml", "scale_1m.toml"])
def test_scale_engines_are_valid(name):
    engine = EngineConfig.parse(str(ENGINES / name))
    check_engine(engine, toolkit.Client().builders(), "cosine", "dense")  # raises on a bad tier
    assert [t.builder for t in engine.tiers] == ["exact", "ivf_pq"]
    exact_max = engine.tiers[0].max_records
    assert exact_max == engine.memtable_max_records * engine.merge_fanout
    assert set(engine.tiers[1].query) == {"nprobe", "k_factor"}


def test_scaled_down_layout_builds_each_ivf_slab_once():
    with (ENGINES / "scale_10m.toml").open("rb") as handle:
        engine = tomllib.load(handle)
    engine["memtable_max_records"] //= 1000  # 100
    engine["tiers"][0]["max_records"] //= 1000  # 500
    engine["tiers"][1]["build"]["nlist"] = 32
    engine["background_merges"] = False
    client = toolkit.Client()
    client.create_index(name="s", dimension=32, metric="cosine", engine=engine)
    index = client.Index("s")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(16, 32)) * 2
    data = (centres[rng.integers(16, size=10_000)] + rng.normal(size=(10_000, 32))).astype(np.float32)
    for start in range(0, len(data), 100):
        index.upsert(vectors=[(f"r{start + j}", v) for j, v in enumerate(data[start:start + 100])], show_progress=False)
    index.flush()
    index.wait_for_merges()
    slabs = index.describe_slabs()
    assert sorted(slabs["rows"].tolist()) == [2500] * 4
    assert set(slabs["builder"].str.split("(").str[0]) == {"ivf_pq"}
    merges = index.describe_merges()
    ivf_builds = merges[merges["builder"].fillna("").str.startswith("ivf_pq")]
    assert len(ivf_builds) == 4 and (ivf_builds["rows_out"] == 2500).all()
    assert (merges["rows_in"] <= 2500).all()  # nothing bigger than one IVF slab was ever merged
    # the tier's query parameters answer: the query vector itself comes back first
    for row in (0, 4321, 9999):
        assert index.query(vector=data[row], top_k=10).matches[0].id == f"r{row}"
    client.close()
