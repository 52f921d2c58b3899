"""Fuzz the Python API: random operation sequences checked against a dict model.

Each example runs a random sequence of upserts, deletes (by id, by filter, all), metadata
updates, flushes, merges and (persistent) reopens on a small-memtable index, so records
move through the memtable, slabs and merges. Ids, namespaces and values are drawn to
include unicode, NUL, empty, very long and non-finite inputs. After every step:

- an exception is a ``toolkit.errors.ToolkitError`` (never an untyped one);
- a refused call changed nothing; an accepted one did exactly what the model says;
- fetch, list and stats agree with the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_profiles import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

import toolkit
from toolkit.errors import ToolkitError

DIM = 4
ENGINE = {"memtable_max_records": 6, "merge_fanout": 2}

ids = st.one_of(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "é", "键", "a b/c?d", "x\x00y", "", " ", "#"]),
    st.text(min_size=0, max_size=8),
    st.text(alphabet="xy", min_size=500, max_size=520),  # around the 512-character limit
)
namespaces = st.sampled_from(["", "ns", "__default__", "ünï", "a/b", "x\x00"])
finite = st.floats(-10, 10, allow_nan=False, width=32)
vectors = st.one_of(
    st.lists(finite, min_size=DIM, max_size=DIM),
    st.lists(st.floats(width=32), min_size=DIM, max_size=DIM),  # nan, inf
    st.lists(finite, min_size=0, max_size=DIM + 2),  # wrong dimension
)
metadata = st.one_of(
    st.none(),
    st.fixed_dictionaries({"g": st.integers(0, 3)}, optional={"s": st.text(max_size=5),
                                                              "bad": st.sampled_from([None, [1, 2], {"x": 1}])}),
)
records = st.lists(st.tuples(ids, vectors, metadata), min_size=0, max_size=5)
ops = st.one_of(
    st.tuples(st.just("upsert"), namespaces, records),
    st.tuples(st.just("delete"), namespaces, st.lists(ids, max_size=4)),
    st.tuples(st.just("delete_filter"), namespaces, st.integers(0, 3)),
    st.tuples(st.just("delete_all"), namespaces, st.none()),
    st.tuples(st.just("update"), namespaces, st.tuples(ids, st.fixed_dictionaries({"g": st.integers(0, 3)}))),
    st.tuples(st.just("flush"), namespaces, st.none()),
    st.tuples(st.just("merge"), namespaces, st.none()),
    st.tuples(st.just("reopen"), namespaces, st.none()),
    st.tuples(st.just("bad_kwarg"), namespaces, st.sampled_from(["top_k", "filter", "include_values"])),
)

Model = dict[str, dict[str, tuple[tuple[float, ...], dict[str, Any] | None]]]


def _ns(name: str) -> str:
    return "__default__" if name == "" else name


def _plain_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if not meta:
        return None
    return {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in meta.items()}


def _observed(index: toolkit.Index) -> Model:
    out: Model = {}
    for desc in index.list_namespaces():
        listed = [i for page in index.list(namespace=desc.name) for i in page]
        found: dict[str, Any] = {}
        for start in range(0, len(listed), 100):
            for record_id, v in index.fetch(ids=listed[start:start + 100], namespace=desc.name).vectors.items():
                found[record_id] = (tuple(np.float32(v.values).tolist()), _plain_meta(v.metadata))
        assert len(found) == len(listed) == desc.record_count
        if found:
            out[desc.name] = found
    return out


def _apply(model: Model, kind: str, ns: str, arg: Any) -> None:
    """Apply an accepted call to the model."""
    space = model.setdefault(_ns(ns), {})
    if kind == "upsert":
        for record_id, values, meta in arg:
            space[record_id] = (tuple(np.float32(values).tolist()), _plain_meta(meta))
    elif kind == "delete":
        for record_id in arg:
            space.pop(record_id, None)
    elif kind == "delete_filter":
        for record_id in [i for i, (_, m) in space.items() if m is not None and m.get("g") == float(arg)]:
            del space[record_id]
    elif kind == "delete_all":
        space.clear()
    elif kind == "update":
        record_id, meta = arg
        if record_id in space:
            values, old = space[record_id]
            space[record_id] = (values, _plain_meta({**(old or {}), **meta}))
    if not space:
        model.pop(_ns(ns), None)


def _call(client: toolkit.Client, kind: str, ns: str, arg: Any) -> None:
    index = client.Index("f")
    if kind == "upsert":
        index.upsert(vectors=[{"id": i, "values": v, **({} if m is None else {"metadata": m})} for i, v, m in arg],
                     namespace=ns)
    elif kind == "delete":
        index.delete(ids=arg, namespace=ns)
    elif kind == "delete_filter":
        index.delete(filter={"g": {"$eq": arg}}, namespace=ns)
    elif kind == "delete_all":
        index.delete(delete_all=True, namespace=ns)
    elif kind == "update":
        index.update(id=arg[0], set_metadata=arg[1], namespace=ns)
    elif kind == "flush":
        index.flush()
    elif kind == "merge":
        index.compact(show_progress=False)
    elif kind == "bad_kwarg":  # a real keyword with a wrong type must be refused, typed
        index.query(vector=[1.0] * DIM, namespace=ns, **{arg: "not-a-valid-value"})


def _run(tmp: Path | None, sequence: list[tuple[str, str, Any]]) -> None:
    def open_client() -> toolkit.Client:
        return toolkit.Client(path=None if tmp is None else str(tmp))

    client = open_client()
    client.create_index("f", dimension=DIM, metric="euclidean", engine=ENGINE)
    model: Model = {}
    try:
        for kind, ns, arg in sequence:
            if kind == "reopen":
                if tmp is not None:
                    client.close()
                    client = open_client()
                continue
            before = _observed(client.Index("f"))
            try:
                _call(client, kind, ns, arg)
            except ToolkitError:
                assert _observed(client.Index("f")) == before, f"a refused {kind} changed stored data"
                continue
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"untyped {type(exc).__name__} from {kind}({ns!r}, {arg!r}): {exc}")
            if kind not in ("flush", "merge", "bad_kwarg"):
                _apply(model, kind, ns, arg)
            observed = _observed(client.Index("f"))
            assert observed == model, f"after {kind}({ns!r}, {arg!r})"
        if tmp is not None:
            client.close()
            client = open_client()
            assert _observed(client.Index("f")) == model, "after the final reopen"
    finally:
        client.close()


@fuzz_settings(1.0)
@given(st.lists(ops, min_size=1, max_size=12))
def test_fuzz_memory_client_against_a_dict_model(sequence):
    _run(None, sequence)


@fuzz_settings(0.6)
@given(st.lists(ops, min_size=1, max_size=12))
def test_fuzz_persistent_client_against_a_dict_model_across_reopens(tmp_path_factory, sequence):
    _run(tmp_path_factory.mktemp("fuzz") / "db", sequence)


@fuzz_settings(1.0)
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                                        st.lists(st.integers(), max_size=2)), max_size=3),
       st.one_of(st.none(), st.recursive(st.one_of(st.integers(), st.text(max_size=4), st.floats()),
                                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3)),
                                         max_leaves=8)))
def test_fuzz_query_arguments_are_typed(kwargs, flt):
    client = toolkit.Client()
    client.create_index("q", dimension=DIM)
    index = client.Index("q")
    index.upsert(vectors=[{"id": "a", "values": [1.0, 0, 0, 0], "metadata": {"g": 1}}])
    allowed = {"top_k", "namespace", "include_values", "include_metadata", "id", "vector"}
    call = {k: v for k, v in kwargs.items() if k in allowed}
    try:
        index.query(**{"top_k": 1, "vector": [1.0, 0, 0, 0], **call, "filter": flt})
    except ToolkitError:
        pass
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"untyped {type(exc).__name__} from query({call!r}, filter={flt!r}): {exc}")
    assert index.fetch(ids=["a"]).vectors["a"].metadata == {"g": 1.0}
