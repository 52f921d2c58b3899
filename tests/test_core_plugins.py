"""Third-party engines: a SlabBuilder plugin module registered from tests/ via Client(plugins=[module])."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit.errors import InvalidArgumentError
from toolkit.plugin import PluginRegistrationError

try:
    from . import duplicate_exact_plugin, tiny_engine_plugin
except ImportError:
    import duplicate_exact_plugin
    import tiny_engine_plugin


def data(n=60, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(f"r{i:03d}", rng.standard_normal(dim).astype(np.float32), {"bucket": int(i % 4)}) for i in range(n)]


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_a_tiny_engine_registered_from_tests_serves_queries(metric):
    tiny_engine_plugin.BUILDS.clear()
    tiny_engine_plugin.SEARCHES.clear()
    client = toolkit.Client(plugins=[tiny_engine_plugin])
    assert "tiny" in client.builders() and "exact" in client.builders()
    client.create_index(name="tiny", dimension=5, metric=metric, engine="tiny")
    client.create_index(name="ref", dimension=5, metric=metric, engine="exact")
    tiny, ref = client.Index("tiny"), client.Index("ref")
    records = data()
    tiny.upsert(vectors=records)
    ref.upsert(vectors=records)
    tiny.flush()
    assert tiny_engine_plugin.BUILDS == [{"rows": 60, "metric": metric, "leaf_size": 4}]
    assert client.describe_index("tiny").engine["tiers"][0]["builder"] == "tiny"
    slabs = tiny.describe_slabs()
    assert list(slabs["builder"]) == ["tiny"] and slabs["params"].iloc[0] == "tiny(leaf_size=4)"
    q = np.random.default_rng(9).standard_normal(5)
    for kwargs in ({}, {"filter": {"bucket": 1}}, {"filter": {"bucket": {"$in": [0, 1, 2]}}}):
        got = tiny.query(vector=q, top_k=7, **kwargs)
        want = ref.query(vector=q, top_k=7, **kwargs)
        assert got.ids() == want.ids()
        assert [m.score for m in got.matches] == pytest.approx([m.score for m in want.matches], rel=1e-5)
    assert tiny_engine_plugin.SEARCHES and not any(s["allowed"] for s in tiny_engine_plugin.SEARCHES)


def test_tiny_engine_build_and_query_parameters_from_the_engine_config():
    tiny_engine_plugin.BUILDS.clear()
    tiny_engine_plugin.SEARCHES.clear()
    client = toolkit.Client(plugins=[tiny_engine_plugin])
    engine = {"memtable_max_records": 10, "merge_fanout": 2,
              "tiers": [{"builder": "exact", "max_records": 15},
                        {"builder": "tiny", "build": {"leaf_size": 8}, "query": {"probes": 3}}]}
    client.create_index(name="tiered", dimension=5, metric="dotproduct", engine=engine)
    index = client.Index("tiered")
    index.upsert(vectors=data(n=40))
    index.compact()
    slabs = index.describe_slabs()
    assert list(slabs["builder"]) == ["tiny"] and slabs["rows"].iloc[0] == 40
    assert tiny_engine_plugin.BUILDS[-1] == {"rows": 40, "metric": "dotproduct", "leaf_size": 8}
    index.query(vector=[1, 0, 0, 0, 0], top_k=3)
    assert tiny_engine_plugin.SEARCHES[-1]["probes"] == 3
    index.query(vector=[1, 0, 0, 0, 0], top_k=3, search_params={"probes": 5})
    assert tiny_engine_plugin.SEARCHES[-1]["probes"] == 5


def test_tiny_engine_capabilities_are_checked_at_create_time():
    client = toolkit.Client(plugins=[tiny_engine_plugin])
    with pytest.raises(InvalidArgumentError, match="does not support sparse") as info:
        client.create_index(name="sp", vector_type="sparse", engine="tiny")
    assert info.value.path == "engine.tiers[0].builder"
    with pytest.raises(InvalidArgumentError, match="bad build parameters for 'tiny'") as info:
        client.create_index(name="bad", dimension=2, engine={"tiers": [{"builder": "tiny", "build": {"nope": 1}}]})
    assert info.value.path == "engine.tiers[0].build"
    assert client.list_indexes().names() == []


def test_without_the_plugin_tiny_is_unknown():
    with pytest.raises(InvalidArgumentError, match="unknown slab builder 'tiny'"):
        toolkit.Client().create_index(name="x", dimension=2, engine="tiny")


def test_a_duplicate_builder_name_is_a_start_up_error_naming_both_plugins(tmp_path):
    with pytest.raises(PluginRegistrationError) as info:
        toolkit.Client(plugins=[duplicate_exact_plugin])  # not on first use: at creation
    message = str(info.value)
    assert "'exact'" in message and "registered twice" in message
    assert "by plugin 'exact'" in message  # the installed entry point
    assert f"by plugin '{duplicate_exact_plugin.__name__}'" in message
    # A start-up failure, not a bad request: FAILED_PRECONDITION, never INVALID_ARGUMENT (HTTP 400).
    assert info.value.code == "FAILED_PRECONDITION" and info.value.status == 412
    assert not isinstance(info.value, InvalidArgumentError)
    with pytest.raises(PluginRegistrationError):  # a persistent client refuses before opening its folder
        toolkit.Client(str(tmp_path / "db"), plugins=[duplicate_exact_plugin])
    assert not (tmp_path / "db").exists()


def test_a_plugin_returning_a_non_builder_fails_at_start_up():
    class Bad:
        @toolkit.hookimpl
        def register_slab_builders(self):
            return [object]

    with pytest.raises(PluginRegistrationError, match="not a SlabBuilder subclass"):
        toolkit.Client(plugins=[Bad()])


def test_two_extra_plugins_with_one_name_fail_naming_both(tmp_path, monkeypatch):
    (tmp_path / "tiny_twin_plugin.py").write_text(
        "from toolkit import hookimpl\n"
        "from tiny_engine_plugin import TinyBuilder\n"
        "class Twin(TinyBuilder):\n"
        "    pass\n"
        "@hookimpl\n"
        "def register_slab_builders():\n"
        "    return [Twin]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(tiny_engine_plugin.__file__.rsplit("/", 1)[0]))
    sys.modules.setdefault("tiny_engine_plugin", tiny_engine_plugin)
    twin = importlib.import_module("tiny_twin_plugin")
    with pytest.raises(PluginRegistrationError) as info:
        toolkit.Client(plugins=[tiny_engine_plugin, twin])
    message = str(info.value)
    assert "'tiny'" in message
    assert f"'{tiny_engine_plugin.__name__}'" in message and "'tiny_twin_plugin'" in message


def test_registering_the_same_module_twice_is_harmless():
    client = toolkit.Client(plugins=[tiny_engine_plugin, tiny_engine_plugin])
    assert client.builders()["tiny"] is tiny_engine_plugin.TinyBuilder
