"""Control plane: create / describe / list / has / configure / delete index and Index(name | host)."""

from __future__ import annotations

import pytest

import toolkit
from toolkit.errors import AlreadyExistsError, ForbiddenError, InvalidArgumentError, NotFoundError


def test_create_and_describe_a_dense_index():
    client = toolkit.Client()
    model = client.create_index(name="docs-1", dimension=8, metric="euclidean",
                                spec=toolkit.ServerlessSpec(cloud="aws", region="us-east-1"),
                                tags={"env": "test"})
    assert (model.name, model.dimension, model.metric, model.vector_type) == ("docs-1", 8, "euclidean", "dense")
    assert model.status.ready is True and model.status.state == "Ready"
    assert model.spec == {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    assert model.deletion_protection == "disabled" and model.tags == {"env": "test"}
    assert model.engine["tiers"][0]["builder"] == "exact"
    assert client.describe_index("docs-1").to_dict() == model.to_dict()
    assert model["name"] == "docs-1" and model.get("missing", 7) == 7  # SDK-style item access


def test_defaults_cosine_dense_and_dotproduct_sparse():
    client = toolkit.Client()
    assert client.create_index(name="d", dimension=3).metric == "cosine"
    sparse = client.create_index(name="s", vector_type="sparse")
    assert (sparse.metric, sparse.dimension, sparse.vector_type) == ("dotproduct", None, "sparse")
    assert client.create_index(name="s2", vector_type="sparse", metric="dotproduct").metric == "dotproduct"


def test_spec_accepts_the_dict_form_and_other_clouds():
    client = toolkit.Client()
    model = client.create_index(name="g", dimension=2, spec={"serverless": {"cloud": "gcp", "region": "europe-west4"}})
    assert model.spec == {"serverless": {"cloud": "gcp", "region": "europe-west4"}}
    with pytest.raises(InvalidArgumentError):
        client.create_index(name="bad", dimension=2, spec="aws")


def test_list_has_and_delete():
    client = toolkit.Client()
    for name in ("b-index", "a-index", "c-index"):
        client.create_index(name=name, dimension=2)
    assert client.list_indexes().names() == ["a-index", "b-index", "c-index"]
    assert len(client.list_indexes()) == 3 and [m.name for m in client.list_indexes()] == client.list_indexes().names()
    assert client.has_index("a-index") and not client.has_index("nope")
    assert client.delete_index("b-index") is None
    assert not client.has_index("b-index")
    with pytest.raises(NotFoundError):
        client.Index("b-index")
    assert client.list_indexes().to_dict()["indexes"][0]["name"] == "a-index"


def test_duplicate_name_is_409_and_changes_nothing():
    client = toolkit.Client()
    client.create_index(name="x", dimension=2, metric="cosine")
    with pytest.raises(AlreadyExistsError) as info:
        client.create_index(name="x", dimension=4, metric="euclidean")
    assert info.value.status == 409
    assert client.describe_index("x").dimension == 2


@pytest.mark.parametrize("name", ["a", "a" * 45, "my-index-2", "0"])
def test_valid_index_names(name):
    assert toolkit.Client().create_index(name=name, dimension=2).name == name


@pytest.mark.parametrize("name", ["", "a" * 46, "-a", "a-", "A", "a_b", "a.b", "ü", None, 3])
def test_invalid_index_names(name):
    with pytest.raises(InvalidArgumentError, match="lowercase alphanumeric") as info:
        toolkit.Client().create_index(name=name, dimension=2)
    assert info.value.path == "name"


def test_configure_deletion_protection_and_tags():
    client = toolkit.Client()
    client.create_index(name="x", dimension=2, tags={"env": "dev", "team": "a"})
    model = client.configure_index("x", deletion_protection="enabled", tags={"env": "prod", "team": "", "new": "1"})
    assert model.deletion_protection == "enabled"
    assert model.tags == {"env": "prod", "new": "1"}  # "" removes a tag, others merge
    with pytest.raises(ForbiddenError):
        client.delete_index("x")
    client.configure_index("x", deletion_protection="disabled")
    assert client.configure_index("x", tags={"env": "", "new": ""}).tags is None
    client.delete_index("x")
    assert not client.has_index("x")


def test_configure_cannot_change_fixed_fields():
    client = toolkit.Client()
    client.create_index(name="x", dimension=2)
    for change in ({"dimension": 3}, {"metric": "euclidean"}, {"vector_type": "sparse"}, {"spec": {}}):
        with pytest.raises(InvalidArgumentError, match="only deletion_protection and tags"):
            client.configure_index("x", **change)
    model = client.configure_index("x")  # nothing to change is fine
    assert model.dimension == 2 and model.metric == "cosine"


def test_deletion_protection_does_not_block_delete_namespace():
    client = toolkit.Client()
    client.create_index(name="x", dimension=2, deletion_protection="enabled")
    index = client.Index("x")
    index.upsert(vectors=[("a", [1.0, 0.0])], namespace="ns")
    index.delete_namespace("ns")
    assert list(index.list_namespaces()) == []


def test_index_handle_by_name_or_host():
    client = toolkit.Client()
    model = client.create_index(name="x", dimension=2)
    by_name = client.Index("x")
    by_host = client.Index(host=model.host)
    assert by_name is by_host
    assert client.Index(name="x") is by_name
    by_name.upsert(vectors=[("a", [1.0, 0.0])])
    assert client.Index(host=model.host).describe_index_stats().total_vector_count == 1
    assert model.host == "local://x"


def test_index_hosts_under_a_custom_base_url():
    client = toolkit.Client(host="http://127.0.0.1:5080/")
    model = client.create_index(name="films", dimension=2)
    assert model.host == "http://127.0.0.1:5080/films"
    assert client.Index(host=model.host) is client.Index(host=model.host + "/") is client.Index("films")


def test_indexes_are_isolated_per_client_and_per_index():
    c1, c2 = toolkit.Client(), toolkit.Client()
    c1.create_index(name="x", dimension=2)
    c2.create_index(name="x", dimension=2)
    c1.create_index(name="y", dimension=2)
    c1.Index("x").upsert(vectors=[("a", [1.0, 0.0])])
    assert c2.Index("x").describe_index_stats().total_vector_count == 0
    assert c1.Index("y").describe_index_stats().total_vector_count == 0


def test_delete_index_drops_its_data():
    client = toolkit.Client()
    client.create_index(name="x", dimension=2)
    client.Index("x").upsert(vectors=[("a", [1.0, 0.0])])
    client.delete_index("x")
    client.create_index(name="x", dimension=2)
    assert client.Index("x").describe_index_stats().total_vector_count == 0


def test_enum_like_arguments_are_accepted():
    class Enumish:
        def __init__(self, value):
            self.value = value

    model = toolkit.Client().create_index(name="e", dimension=2, metric=Enumish("dotproduct"),
                                          vector_type=Enumish("dense"), deletion_protection=Enumish("enabled"))
    assert (model.metric, model.deletion_protection) == ("dotproduct", "enabled")


def test_repr_and_html_of_models():
    client = toolkit.Client()
    model = client.create_index(name="x", dimension=2)
    assert "<b>IndexModel</b>" in model._repr_html_()
    assert "x" in repr(client)
    index = client.Index("x")
    assert "Index(name='x'" in repr(index)
    assert "total_vector_count" in index._repr_html_()
