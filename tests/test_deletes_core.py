"""Index.delete_records, the delete superset, and the ``$document`` text filter (issue #16)."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from toolkit.documents import TextCondition, compile_document_filter, document_field
from toolkit.errors import FilterError, InvalidArgumentError

DIM = 4
DOCS = {
    "a": "The storm hit the coast",
    "b": "calm seas today",
    "c": "Storm warnings (capital S)",
    "d": None,  # no document at all
    "e": "a storm and a gale",
}


def vec(i: int) -> list[float]:
    return (np.random.default_rng(i).random(DIM) + 0.01).tolist()


def make(client_factory, settings=None, engine=None):
    client = client_factory(settings=settings) if settings else client_factory()
    client.create_index(name="docs", dimension=DIM, metric="cosine", engine=engine)
    index = client.Index("docs")
    records = []
    for n, (record_id, text) in enumerate(DOCS.items()):
        metadata = {"topic": "weather" if n % 2 == 0 else "sea", "n": n}
        if text is not None:
            metadata["document"] = text
        records.append({"id": record_id, "values": vec(n), "metadata": metadata})
    index.upsert(records)
    return client, index


def query_ids(index, filter):
    return sorted(m.id for m in index.query(vector=vec(0), top_k=100, filter=filter).matches)


def test_document_filter_in_query(client_factory):
    _, index = make(client_factory)
    assert query_ids(index, {"$document": {"$contains": "storm"}}) == ["a", "e"]  # case-sensitive
    assert query_ids(index, {"$document": {"$not_contains": "storm"}}) == ["b", "c"]  # "d" holds no document
    assert query_ids(index, {"$document": {"$or": [{"$contains": "Storm"}, {"$contains": "calm"}]}}) == ["b", "c"]
    assert query_ids(index, {"$document": {"$and": [{"$contains": "storm"}, {"$not_contains": "gale"}]}}) == ["a"]
    assert query_ids(index, {"topic": "weather", "$document": {"$contains": "storm"}}) == ["a", "e"]
    assert query_ids(index, {"$or": [{"n": 1}, {"$document": {"$contains": "gale"}}]}) == ["b", "e"]
    assert query_ids(index, {"$document": {"$contains": ""}}) == ["a", "b", "c", "e"]


def test_not_contains_follows_the_negation_policy(client_factory):
    _, index = make(client_factory, settings=toolkit.Settings(negation_requires_field=False))
    assert query_ids(index, {"$document": {"$not_contains": "storm"}}) == ["b", "c", "d"]


def test_document_filter_across_memtable_and_slabs(client_factory):
    engine = {"memtable_max_records": 2, "merge_fanout": 2, "background_merges": False}
    client, index = make(client_factory, engine=engine)
    index.upsert([{"id": "f", "values": vec(9), "metadata": {"document": "storm in the memtable"}}])
    assert query_ids(index, {"$document": {"$contains": "storm"}}) == ["a", "e", "f"]
    response = index.delete_records(where_document={"$contains": "storm"})
    assert response.deleted == 3 and response.ids == ["a", "e", "f"]
    index.compact()
    assert query_ids(index, {"$document": {"$contains": "storm"}}) == []
    index = client_factory.reopen(client).Index("docs")
    assert sorted(i for page in index.list() for i in page) == ["b", "c", "d"]


def test_document_field_resolution():
    settings = toolkit.Settings()
    config = toolkit.Client()
    assert document_field(None, settings) == "document"
    assert document_field(None, settings.with_(document_field="body")) == "body"

    class Integrated:  # an integrated-embedding index maps its text field
        embed = {"model": "m", "field_map": {"text": "chunk_text"}}
        spec: dict = {}

    assert document_field(Integrated(), settings) == "chunk_text"
    assert document_field(Integrated(), settings.with_(document_field="body")) == "body"
    with pytest.raises(InvalidArgumentError):
        toolkit.Settings(document_field="")
    config.close()


def test_configured_document_field(client_factory):
    client = client_factory(settings=toolkit.Settings(document_field="chunk_text"))
    client.create_index(name="chunks", dimension=DIM, metric="cosine")
    index = client.Index("chunks")
    index.upsert([{"id": "x", "values": vec(1), "metadata": {"chunk_text": "storm", "document": "calm"}},
                  {"id": "y", "values": vec(2), "metadata": {"chunk_text": "calm", "document": "storm"}}])
    assert query_ids(index, {"$document": {"$contains": "storm"}}) == ["x"]


def test_document_filter_errors_name_the_clause():
    cases = [
        ({"$document": {"$contains": 3}}, "$document.$contains"),
        ({"$document": {}}, "$document"),
        ({"$document": {"$regex": "x"}}, "$document.$regex"),
        ({"$or": [{"a": 1}, {"$document": {"$and": []}}]}, "$or[1].$document.$and"),
        ({"$or": [{"a": {"$gt": "x"}}, {"$document": {"$contains": "y"}}]}, "$or[0].a"),
    ]
    for filter, path in cases:
        with pytest.raises(FilterError) as caught:
            compile_document_filter(filter, field="document")
        assert caught.value.path == path, filter


def test_document_filters_compare_by_value():
    one = compile_document_filter({"g": "x", "$document": {"$contains": "s"}}, field="document")
    two = compile_document_filter({"g": "x", "$document": {"$contains": "s"}}, field="document")
    assert one == two and hash(one) == hash(two)
    assert TextCondition("document", "$contains", "s") != TextCondition("document", "$contains", "t")
    assert compile_document_filter({"g": "x"}, field="document") == toolkit.filters.compile_filter({"g": "x"})
    # identity ignores the order of clauses, as compile_filter's does since the filter-identity change
    swapped = compile_document_filter({"$document": {"$contains": "s"}, "g": "x"}, field="document")
    assert swapped == one and hash(swapped) == hash(one)
    either = compile_document_filter({"$document": {"$or": [{"$contains": "s"}, {"$contains": "t"}]}}, field="document")
    rehung = compile_document_filter({"$document": {"$or": [{"$contains": "t"}, {"$contains": "s"}]}}, field="document")
    assert either == rehung and len({either, rehung}) == 1
    # a match-all clause vanishes from an AND, so the filter is the text condition itself
    alone = compile_document_filter({"$and": [{}], "$document": {"$contains": "s"}}, field="document")
    assert alone == TextCondition("document", "$contains", "s")


def test_delete_records_refuses_unknown_keywords(client_factory):
    _, index = make(client_factory)
    with pytest.raises(InvalidArgumentError) as caught:
        index.delete_records(ids=["a"], namspace="x")
    assert caught.value.path == "namspace"
    assert index.describe_index_stats().total_vector_count == len(DOCS)  # nothing changed


def test_delete_records_intersects_counts_and_logs_once(client_factory):
    _, index = make(client_factory)
    before = index.lsns()[0]
    response = index.delete_records(ids=["a", "b", "c", "zz", "a"], filter={"topic": "weather"},
                                    where_document={"$contains": "torm"})
    assert (response.deleted, response.ids) == (2, ["a", "c"])
    assert response.lsn == before + 1 and index.lsns()[0] == before + 1  # one request, one LSN
    assert response.usage.write_units == 5
    again = index.delete_records(ids=["a", "c"])
    assert again.deleted == 0 and again.lsn == before + 2  # nothing to delete is still an accepted write


def test_delete_records_limit_takes_the_first_ids_bytewise(client_factory):
    client = client_factory()
    client.create_index(name="lim", dimension=DIM, metric="cosine")
    index = client.Index("lim")
    ids = ["b", "B", "a10", "a2", "a1", "~", "c"]
    index.upsert([{"id": i, "values": vec(n), "metadata": {"k": 1}} for n, i in enumerate(ids)])
    order = sorted(ids)  # ASCII: "B" < "a1" < "a10" < "a2" < "b" < "c" < "~"
    assert index.delete_records(filter={"k": 1}, limit=3, dry_run=True).ids == order[:3]
    assert index.delete_records(filter={"k": 1}, limit=0).deleted == 0
    assert index.delete_records(filter={"k": 1}, limit=3).ids == order[:3]
    assert index.delete_records(filter={"k": 1}, limit=3).ids == order[3:6]
    assert index.delete_records(ids=ids, limit=5).ids == order[6:]


def test_delete_records_rejects_before_changing_anything(client_factory):
    _, index = make(client_factory)
    bad = [
        ({}, "delete"),
        ({"filter": {}}, "delete"),
        ({"filter": {"$and": [{}]}}, "delete"),
        ({"ids": "a"}, "ids"),
        ({"ids": [""]}, "ids[0]"),
        ({"ids": ["a"], "limit": -1}, "limit"),
        ({"ids": ["a"], "limit": True}, "limit"),
        ({"ids": ["a"], "dry_run": "yes"}, "dry_run"),
        ({"where_document": {"$contains": 1}}, "where_document.$contains"),
        ({"filter": "topic"}, "filter"),
    ]
    for request, path in bad:
        with pytest.raises(InvalidArgumentError) as caught:
            index.delete_records(**request)
        assert caught.value.path == path, request
    assert index.describe_index_stats().total_vector_count == len(DOCS)


def test_delete_records_in_eventual_mode_counts_acknowledged_writes(tmp_path):
    client = toolkit.Client(path=str(tmp_path / "db"), consistency="eventual", apply_delay=30.0)
    try:
        client.create_index(name="ev", dimension=DIM, metric="cosine")
        index = client.Index("ev")
        index.upsert([{"id": f"r{i}", "values": vec(i), "metadata": {"k": i % 2}} for i in range(10)])
        response = index.delete_records(filter={"k": 1})  # sees the queued upsert
        assert response.deleted == 5
        assert index.describe_index_stats().total_vector_count == 10  # reads lag the acknowledged delete
        index.set_consistency("strong")  # drains the queue
        assert index.lsns() == (response.lsn, response.lsn)
        assert index.describe_index_stats().total_vector_count == 5
    finally:
        client.close()


def test_delete_records_of_unknown_namespace(client_factory):
    _, index = make(client_factory)
    response = index.delete_records(ids=["a"], namespace="nowhere")
    assert (response.deleted, response.lsn, response.usage.write_units) == (0, None, 5)
