"""Model-based property test of deletes: three contracts against one dict model (issue #16).

Random sequences mix the reference ``delete`` (ids, filter, delete_all), the Chroma
collection's ``delete`` (ids ∧ where ∧ where_document, limit) and the Vectorizer calls
(batch_delete, delete_by_filter) with upserts, flushes, compactions and reopening the
persistent folder, on an index whose memtable holds 3 records so that records move through
slabs and merges all the time. After every step the index must hold exactly the model's
records (nothing resurrected, nothing lost), and every reported ``deleted`` count must equal
the number of model records that went (nothing double-counted).
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import toolkit
from toolkit.compat import ChromaClient, VectorizerClient

DIM = 3
NS = "ns"
IDS = ["a", "a1", "a10", "B", "b", "c", "d", "~"]
ENGINE = {"memtable_max_records": 3, "merge_fanout": 2, "background_merges": False}
Meta = dict[str, Any]

# (filter, predicate over the model's metadata)
WHERE: list[tuple[dict[str, Any], Callable[[Meta], bool]]] = [
    ({"color": "red"}, lambda m: m.get("color") == "red"),
    ({"n": {"$gte": 2}}, lambda m: "n" in m and m["n"] >= 2),
    ({"$or": [{"color": "blue"}, {"n": {"$lt": 1}}]}, lambda m: m.get("color") == "blue" or m.get("n", 9) < 1),
]
DOCS: list[tuple[dict[str, Any], Callable[[Meta], bool]]] = [
    ({"$contains": "storm"}, lambda m: "storm" in m.get("document", "")),
    ({"$not_contains": "storm"}, lambda m: "document" in m and "storm" not in m["document"]),
    ({"$or": [{"$contains": "gale"}, {"$contains": "calm"}]},
     lambda m: any(w in m.get("document", "") for w in ("gale", "calm"))),
]

ids = st.sampled_from(IDS)
id_lists = st.lists(ids, min_size=1, max_size=5)
vectors = st.lists(st.integers(1, 4), min_size=DIM, max_size=DIM)
metadata = st.fixed_dictionaries({}, optional={
    "color": st.sampled_from(["red", "blue"]), "n": st.integers(0, 3),
    "document": st.sampled_from(["a storm", "calm day", "gale and storm", "nothing"])})
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
upsert = st.tuples(st.just("upsert"), st.lists(st.tuples(ids, vectors, metadata), min_size=2, max_size=6))
chroma = st.tuples(st.just("chroma"), maybe(id_lists), maybe(st.integers(0, len(WHERE) - 1)),
                   maybe(st.integers(0, len(DOCS) - 1)), st.sampled_from([1, 2, None, 0]))
operations = st.one_of(
    upsert, upsert, upsert,  # weighted: enough records for the deletes (and limits) to bite
    chroma, chroma,
    st.tuples(st.just("delete_ids"), id_lists),
    st.tuples(st.just("delete_filter"), st.integers(0, len(WHERE) - 1)),
    st.tuples(st.just("delete_all")),
    st.tuples(st.just("batch_delete"), id_lists),
    st.tuples(st.just("delete_by_filter"), st.integers(0, len(WHERE) - 1)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("compact")),
    st.tuples(st.just("reopen")),
)


def open_client(path: str) -> toolkit.Client:
    client = toolkit.Client(path=path)
    if not client.has_index("p"):
        client.create_index(name="p", dimension=DIM, metric="euclidean", engine=ENGINE)
    return client


def chroma_targets(model: dict[str, Meta], op: tuple) -> list[str] | None:
    _, id_list, where, doc, limit = op
    if id_list is None and where is None and doc is None:
        return None  # the request is refused
    keep = [i for i, m in model.items() if (id_list is None or i in id_list)
            and (where is None or WHERE[where][1](m)) and (doc is None or DOCS[doc][1](m))]
    keep.sort()
    return keep if limit is None else keep[:limit]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(metadata, min_size=len(IDS), max_size=len(IDS)), st.lists(operations, min_size=4, max_size=20))
def test_deletes_match_a_dict_model_across_contracts_and_reopen(start, ops):
    ops = [("upsert", [(i, [1 + n % 4, 1, 2], m) for n, (i, m) in enumerate(zip(IDS, start))]), *ops]
    with tempfile.TemporaryDirectory() as folder:
        client = open_client(folder)
        model: dict[str, Meta] = {}
        try:
            for op in ops:
                index = client.Index("p")
                kind = op[0]
                if kind == "upsert":
                    index.upsert([{"id": i, "values": v, "metadata": m} for i, v, m in op[1]], namespace=NS)
                    model.update({i: dict(m) for i, _, m in op[1]})
                elif kind == "delete_ids":
                    index.delete(ids=op[1], namespace=NS)
                    for i in op[1]:
                        model.pop(i, None)
                elif kind == "delete_filter":
                    index.delete(filter=WHERE[op[1]][0], namespace=NS)
                    model = {i: m for i, m in model.items() if not WHERE[op[1]][1](m)}
                elif kind == "delete_all":
                    index.delete(delete_all=True, namespace=NS)
                    model.clear()
                elif kind == "chroma":
                    targets = chroma_targets(model, op)
                    collection = ChromaClient(index).get_or_create_collection(NS)
                    request = dict(ids=op[1], where=None if op[2] is None else WHERE[op[2]][0],
                                   where_document=None if op[3] is None else DOCS[op[3]][0], limit=op[4])
                    if targets is None:
                        try:
                            collection.delete(**request)
                        except toolkit.errors.InvalidArgumentError:
                            continue
                        raise AssertionError("a delete without selectors was accepted")
                    assert collection.delete(**request) == {"deleted": len(targets)}
                    for i in targets:
                        del model[i]
                elif kind == "batch_delete":
                    gone = len({i for i in op[1] if i in model})
                    result = asyncio.run(VectorizerClient(index).batch_delete(NS, op[1]))
                    assert result == {"deleted": gone}
                    for i in op[1]:
                        model.pop(i, None)
                elif kind == "delete_by_filter":
                    where, predicate = WHERE[op[1]]
                    gone = sorted(i for i, m in model.items() if predicate(m))
                    assert asyncio.run(VectorizerClient(index).delete_by_filter(NS, filter=where)) == \
                        {"deleted": len(gone)}
                    for i in gone:
                        del model[i]
                elif kind == "flush":
                    index.flush(namespace=NS)
                elif kind == "compact":
                    index.compact(namespace=NS, show_progress=False)
                elif kind == "reopen":
                    client.close()
                    client = open_client(folder)
                check(client.Index("p"), model)
        finally:
            client.close()


def check(index: toolkit.Index, model: dict[str, Meta]) -> None:
    listed = [i for page in index.list(namespace=NS) for i in page]
    assert listed == sorted(model), (listed, sorted(model))
    stats = index.describe_index_stats()
    assert stats.total_vector_count == len(model)
    if model:
        fetched = index.fetch(ids=list(model), namespace=NS).vectors
        assert {i: dict(v.metadata or {}) for i, v in fetched.items()} == model
