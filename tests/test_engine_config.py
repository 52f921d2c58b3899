"""Engine configuration: a builder name, a mapping or a TOML file; mistakes fail at create time."""

from __future__ import annotations

import textwrap

import pytest

import toolkit
from toolkit.engine_config import EngineConfig
from toolkit.errors import InvalidArgumentError

TIERED = {
    "memtable_max_records": 5000, "merge_fanout": 4,
    "tiers": [{"builder": "exact", "max_records": 20000},
              {"builder": "annoy", "max_records": 200000, "build": {"n_trees": 50}, "query": {"search_k": 4000}},
              {"builder": "nndescent", "build": {"n_neighbors": 30}, "query": {"epsilon": 0.1}}],
}
TIERED_TOML = """
memtable_max_records = 5000
merge_fanout = 4

[[tiers]]
builder = "exact"
max_records = 20000

[[tiers]]
builder = "annoy"
max_records = 200000
build = { n_trees = 50 }
query = { search_k = 4000 }

[[tiers]]
builder = "nndescent"
build = { n_neighbors = 30 }
query = { epsilon = 0.1 }
"""


def test_the_three_spellings_of_an_engine(tmp_path):
    path = tmp_path / "fast.toml"
    path.write_text(TIERED_TOML)
    client = toolkit.Client()
    client.create_index(name="a", dimension=8, metric="cosine", engine="annoy")
    client.create_index(name="b", dimension=8, metric="euclidean", engine=TIERED)
    client.create_index(name="c", dimension=8, metric="euclidean", engine=str(path))
    assert client.describe_index("a").engine["tiers"] == [
        {"builder": "annoy", "max_records": None, "build": {}, "query": {}}]
    assert client.describe_index("b").engine == client.describe_index("c").engine
    engine = client.describe_index("c").engine
    assert engine["memtable_max_records"] == 5000 and engine["merge_fanout"] == 4
    assert engine["background_merges"] is True
    assert [t["builder"] for t in engine["tiers"]] == ["exact", "annoy", "nndescent"]
    config = EngineConfig.parse(path)
    assert [config.tier_for(n) for n in (1, 20000, 20001, 200000, 10**7)] == [0, 0, 1, 1, 2]
    assert EngineConfig.parse(config.to_dict()) == config


@pytest.mark.parametrize(("engine", "path", "message"), [
    ({"tiers": ["exact"], "fanout": 3}, "engine", "unknown key(s) ['fanout']"),
    ({"merge_fanout": 1}, "engine.merge_fanout", ">= 2"),
    ({"background_merges": "yes"}, "engine.background_merges", "true or false"),
    ({"tiers": [{"builder": "annoy"}, {"builder": "exact"}]}, "engine.tiers[0]", "needs max_records"),
    ({"tiers": [{"builder": "annoy", "max_records": 10}, {"builder": "exact", "max_records": 5}]},
     "engine.tiers", "increasing max_records"),
    ({"tiers": [{"builder": "annoy", "n_trees": 5}]}, "engine.tiers[0]", "unknown key(s) ['n_trees']"),
    ({"tiers": [{"builder": "nope"}]}, "engine.tiers[0].builder", "unknown slab builder 'nope'; registered: "),
    ({"tiers": [{"builder": "annoy", "build": {"n_trees": 0}}]}, "engine.tiers[0].build", "n_trees must be"),
    ({"tiers": [{"builder": "annoy", "build": {"trees": 5}}]}, "engine.tiers[0].build", "unexpected keyword"),
    ({"tiers": [{"builder": "nndescent", "build": {"n_neighbors": 1}}]}, "engine.tiers[0].build", "n_neighbors"),
    ({"tiers": [{"builder": "annoy", "query": {"search_kk": 5}}]}, "engine.tiers[0].query",
     "takes no query parameter(s) ['search_kk']; it takes ['count_work', 'min_candidates', 'rescore', 'search_k']"),
    ({"tiers": [{"builder": "exact", "query": {"epsilon": 0.1}}]}, "engine.tiers[0].query", "it takes none"),
    ({"tiers": [{"builder": "annoy", "query": {"search_k": 0}}]}, "engine.tiers[0].query",
     "bad query parameters for 'annoy': search_params.search_k: must be a positive integer"),
    ({"tiers": [{"builder": "nndescent", "query": {"epsilon": "wide"}}]}, "engine.tiers[0].query",
     "bad query parameters for 'nndescent': search_params.epsilon: must be a number >= 0"),
    ("sparse_csr", "engine.tiers[0].builder", "does not support metric 'cosine'"),
    (42, "engine", "must be a builder name, a TOML path or a mapping"),
    ("missing.toml", "engine", "does not exist"),
])
def test_bad_engines_fail_at_create_time_naming_the_key(engine, path, message):
    client = toolkit.Client()
    with pytest.raises(InvalidArgumentError) as err:
        client.create_index(name="x", dimension=8, metric="cosine", engine=engine)
    assert err.value.path == path and message in err.value.message, (err.value.path, err.value.message)
    assert not client.has_index("x")


@pytest.mark.parametrize("builder", ["annoy", "nndescent"])
def test_dense_only_engines_refuse_sparse_indexes(builder):
    with pytest.raises(InvalidArgumentError, match=f"builder '{builder}' does not support sparse indexes"):
        toolkit.Client().create_index(name="s", vector_type="sparse", engine=builder)


def test_a_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("merge_fanout = [")
    with pytest.raises(InvalidArgumentError, match="broken.toml"):
        toolkit.Client().create_index(name="x", dimension=4, engine=str(path))


def test_every_builder_serves_the_metrics_it_declares_including_nndescent_dotproduct():
    """nndescent serves dotproduct through the MIPS → euclidean reduction (no fallback needed)."""
    client = toolkit.Client()
    for name, cls in client.builders().items():
        for metric in sorted(cls.metrics):
            if "dense" in cls.vector_types:
                client.create_index(name=f"{name.replace('_', '-')}-{metric}", dimension=4, metric=metric,
                                    engine=name)
    assert client.has_index("nndescent-dotproduct")


def test_inline_merges_from_toml(tmp_path):
    path = tmp_path / "inline.toml"
    path.write_text(textwrap.dedent("""
        background_merges = false
        memtable_max_records = 3
        [[tiers]]
        builder = "exact"
    """))
    client = toolkit.Client()
    client.create_index(name="i", dimension=2, metric="euclidean", engine=str(path))
    index = client.Index("i")
    index.upsert(vectors=[(f"r{i}", [float(i), 1.0]) for i in range(3)])
    assert index.describe_slabs().state.tolist() == ["ready"]  # built inline, no waiting
