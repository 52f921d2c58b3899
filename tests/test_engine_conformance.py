"""One conformance suite over every registered slab builder (STYLE.md §16).

Every builder installed through the ``vector_toolkit`` entry points is checked through the
public API on a fixed, seeded clustered dataset:

- exact builders return what brute force returns (ids up to ties, and scores);
- approximate builders reach recall@10 >= 0.9 with their default parameters;
- every builder returns exact scores in the index metric;
- every builder honours filters (all three strategies), deletes and overwrites across the
  memtable, slabs of several levels and merges that ran in the background;
- in both storage modes (STYLE.md §23): in memory, and persistent — the lifecycle index is
  closed and reopened, so its slabs come back through the engine's save/load and its
  memtable through the log, and must answer exactly as before.

PyNNDescent compiles with numba for tens of seconds per process, so the nndescent cases
share one session-scoped warm-up (``nndescent_warm``) and small datasets.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pytest

import toolkit
from toolkit.scoring import METRICS

BUILDERS = toolkit.Client().builders()
DENSE_CASES = [(name, metric) for name, cls in sorted(BUILDERS.items()) if "dense" in cls.vector_types
               for metric in METRICS if metric in cls.metrics]
SPARSE_BUILDERS = [name for name, cls in sorted(BUILDERS.items()) if "sparse" in cls.vector_types]
K = 10
RECALL_FLOOR = 0.9
# Recall counts a hit when its true score is within the k-th true score + 1e-3 (STYLE.md §18).
SCORE_SLACK = 1e-3


# -- data -----------------------------------------------------------------------------------
def clustered(n: int, dim: int, clusters: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return n float32 points around ``clusters`` centres (low intrinsic dimension) and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 2.0
    bases = rng.normal(size=(clusters, 8, dim)) / np.sqrt(8)
    labels = rng.integers(clusters, size=n)
    points = centres[labels] + np.einsum("ni,nid->nd", rng.normal(size=(n, 8)), bases[labels])
    points += 0.05 * rng.normal(size=(n, dim))
    return points.astype(np.float32), labels


def true_scores(vectors: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Brute-force scores in float64 (independent of the toolkit's scoring code)."""
    v, q = vectors.astype(np.float64), q.astype(np.float64)
    if metric == "euclidean":
        return ((v - q) ** 2).sum(axis=1)
    dots = v @ q
    if metric == "cosine":
        return dots / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    return dots


def ranking_keys(scores: np.ndarray, metric: str) -> np.ndarray:
    return scores if metric == "euclidean" else -scores


def recall(got_ids: list[str], ids: np.ndarray, scores: np.ndarray, metric: str, k: int) -> float:
    """Share of the true top-k found; a returned id within the k-th true key + slack counts as a hit."""
    keys = ranking_keys(scores, metric)
    want = min(k, keys.size)
    if want == 0:
        return 1.0
    kth = np.partition(keys, want - 1)[want - 1]
    key_of = dict(zip(ids.tolist(), keys.tolist()))
    hits = sum(1 for i in got_ids[:want] if key_of.get(i, np.inf) <= kth + SCORE_SLACK)
    return hits / want


def check_exact_scores(matches: list[Any], vector_of: dict[str, np.ndarray], q: np.ndarray, metric: str) -> None:
    """Every returned score is the exact score of the record's live vector, best first."""
    ids = [m.id for m in matches]
    assert len(set(ids)) == len(ids), "duplicate ids in one response"
    want = true_scores(np.stack([vector_of[i] for i in ids]), q, metric) if ids else np.empty(0)
    got = np.array([m.score for m in matches], dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    keys = ranking_keys(got, metric)
    assert np.all(np.diff(keys) >= -1e-5), "matches are not best first"


def check_equals_brute_force(matches: list[Any], ids: np.ndarray, scores: np.ndarray, metric: str, k: int) -> None:
    """Exact engines: the same top-k as brute force, up to the order of ties."""
    assert len(matches) == min(k, ids.size)
    assert recall([m.id for m in matches], ids, scores, metric, k) == 1.0
    expected = np.sort(ranking_keys(scores, metric))[: len(matches)]
    got = ranking_keys(np.array([m.score for m in matches], dtype=np.float64), metric)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# ``nndescent_warm`` (session scope, conftest.py) compiles PyNNDescent's kernels once per session.
def _warm_if_needed(request: pytest.FixtureRequest, builder: str) -> None:
    if builder == "nndescent":
        request.getfixturevalue("nndescent_warm")


# -- recall and exactness on the fixed dataset ------------------------------------------------
@pytest.fixture(scope="session")
def recall_data() -> tuple[np.ndarray, np.ndarray]:
    points, _ = clustered(5000 + 40, 32, clusters=20, seed=7)
    return points[40:], points[:40]


@pytest.fixture(scope="session")
def recall_index(request: pytest.FixtureRequest, recall_data) -> Any:
    """One index per (builder, metric), built once: 5000 × 32 in one slab plus 200 memtable rows."""
    builder, metric = request.param
    _warm_if_needed(request, builder)
    vectors, _ = recall_data
    client = toolkit.Client()
    client.create_index(name="conf", dimension=32, metric=metric,
                        engine={"tiers": [builder], "memtable_max_records": 4800})
    index = client.Index("conf")
    index.upsert(vectors=[(f"v{i}", v) for i, v in enumerate(vectors)], batch_size=200, show_progress=False)
    index.wait_for_merges()
    return index


@pytest.mark.parametrize("recall_index", DENSE_CASES, indirect=True, ids=[f"{b}-{m}" for b, m in DENSE_CASES])
def test_default_parameters_reach_the_recall_floor_with_exact_scores(recall_index, recall_data):
    builder = recall_index.config.engine.tiers[0].builder
    metric = recall_index.config.metric
    slabs = recall_index.describe_slabs()
    assert list(slabs["builder"]) == [builder] and list(slabs["state"]) == ["ready"]
    assert slabs.attrs["memtables"][0]["memtable_rows"] == 200  # the memtable is searched too
    vectors, queries = recall_data
    ids = np.array([f"v{i}" for i in range(len(vectors))])
    vector_of = dict(zip(ids.tolist(), vectors))
    recalls = []
    for q in queries:
        matches = recall_index.query(vector=q, top_k=K).matches
        scores = true_scores(vectors, q, metric)
        check_exact_scores(matches, vector_of, q, metric)
        if BUILDERS[builder].exact:
            check_equals_brute_force(matches, ids, scores, metric, K)
        assert len(matches) == K
        recalls.append(recall([m.id for m in matches], ids, scores, metric, K))
    assert np.mean(recalls) >= (1.0 if BUILDERS[builder].exact else RECALL_FLOOR), np.mean(recalls)


@pytest.mark.parametrize("builder", SPARSE_BUILDERS)
def test_sparse_builders_equal_brute_force_and_drop_zero_scores(builder):
    rng = np.random.default_rng(3)
    client = toolkit.Client()
    client.create_index(name="sp", vector_type="sparse", metric="dotproduct",
                        engine={"tiers": [builder], "memtable_max_records": 300})
    index = client.Index("sp")
    vocab, rows = 400, {}
    for i in range(700):
        indices = np.sort(rng.choice(vocab, size=rng.integers(1, 12), replace=False))
        rows[f"s{i}"] = dict(zip(indices.tolist(), rng.random(indices.size).round(3).tolist()))
    index.upsert(vectors=[{"id": i, "sparse_values": {"indices": list(r), "values": list(r.values())}}
                          for i, r in rows.items()], batch_size=200, show_progress=False)
    index.wait_for_merges()
    assert set(index.describe_slabs()["builder"]) == {builder}
    for _ in range(20):
        qi = np.sort(rng.choice(vocab, size=6, replace=False))
        qv = rng.random(6)
        query = dict(zip(qi.tolist(), qv.tolist()))
        ids = np.array(list(rows))
        scores = np.array([sum(v * query.get(d, 0.0) for d, v in r.items()) for r in rows.values()])
        nonzero = scores != 0
        matches = index.query(sparse_vector={"indices": qi.tolist(), "values": qv.tolist()}, top_k=K).matches
        assert all(m.score != 0 for m in matches)
        check_equals_brute_force(matches, ids[nonzero], scores[nonzero], "dotproduct", K)


# -- filters, deletes and overwrites across memtable + slabs + merges ----------------------------
LIFECYCLE_DIM = 16
FILTERS = {
    "rare": {"$and": [{"m": 0}, {"c": {"$in": [1, 2]}}]},  # ~1%: pre-filtered under "auto"
    "cluster": {"c": {"$in": [3, 4]}},  # ~10%
    "third": {"m": {"$in": [1, 2, 3]}},  # ~30%
    "half": {"even": True},  # ~50%
    "none": {"m": 99},  # no match at all
}


def _matches(meta: dict[str, Any], name: str) -> bool:
    return {
        "rare": meta["m"] == 0 and meta["c"] in (1, 2),
        "cluster": meta["c"] in (3, 4),
        "third": meta["m"] in (1, 2, 3),
        "half": meta["even"] is True,
        "none": meta["m"] == 99,
    }[name]


class Lifecycle(NamedTuple):
    index: Any
    vectors: dict[str, np.ndarray]  # the reference model: every live id's vector ...
    metadata: dict[str, dict]  # ... and metadata
    merges: Any  # describe_merges() before any reopen (the merge history is not persisted)
    probes: list[tuple[list[str], list[float]]]  # answers to PROBES before any reopen


@pytest.fixture(scope="session")
def lifecycle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """An index whose records went through flushes, background merges, deletes and overwrites.

    Persistent: the client is then closed and the folder reopened; the reopened index is returned.
    """
    builder, metric, storage = request.param
    _warm_if_needed(request, builder)
    points, labels = clustered(3000, LIFECYCLE_DIM, clusters=20, seed=11)
    path = str(tmp_path_factory.mktemp(f"life-{builder}") / "db") if storage == "persistent" else None
    client = toolkit.Client(path=path)
    client.create_index(name="life", dimension=LIFECYCLE_DIM, metric=metric,
                        engine={"tiers": [builder], "memtable_max_records": 300, "merge_fanout": 3})
    index = client.Index("life")
    vectors: dict[str, np.ndarray] = {}
    metadata: dict[str, dict] = {}

    def upsert(ids: list[int], source: np.ndarray, version: int) -> None:
        records = []
        for i in ids:
            meta = {"c": int(labels[i if version == 0 else (i * 7) % 3000]), "m": i % 10, "even": i % 2 == 0,
                    "version": version}
            records.append((f"r{i}", source[i], meta))
            vectors[f"r{i}"], metadata[f"r{i}"] = source[i], meta
        index.upsert(vectors=records, batch_size=100, show_progress=False)

    upsert(list(range(2000)), points, 0)
    # Deletes and overwrites race with the background flush builds and merges.
    dead = [f"r{i}" for i in range(0, 2000, 7)]
    for start in range(0, len(dead), 1000):
        index.delete(ids=dead[start:start + 1000])
    for i in dead:
        vectors.pop(i), metadata.pop(i)
    moved = np.roll(points, 1000, axis=0)  # new vectors from elsewhere in the data
    upsert([i for i in range(1, 2000, 5) if f"r{i}" in vectors], moved, 1)
    for i in range(3, 600, 50):
        if f"r{i}" in vectors:
            index.update(id=f"r{i}", set_metadata={"m": 99})
            metadata[f"r{i}"] = {**metadata[f"r{i}"], "m": 99}
    index.flush()
    upsert(list(range(2000, 2150)), points, 0)  # fewer than memtable_max_records: stays in the memtable
    index.delete(ids=["r2001", "r13"])
    for i in ("r2001", "r13"):
        vectors.pop(i, None), metadata.pop(i, None)
    index.wait_for_merges()
    probes = [(response.ids(), [m.score for m in response.matches])
              for response in (index.query(vector=points[i], top_k=K) for i in PROBES)]
    merges = index.describe_merges()
    if path is not None:
        client.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # "cannot load the saved ... index; rebuilding it"
            client = toolkit.Client(path=path)
        index = client.Index("life")
    return Lifecycle(index, vectors, metadata, merges, probes)


PROBES = (5, 500, 1999, 2100)
STORAGES = ("memory", "persistent")
# One metric per builder keeps the suite short (the recall test covers every metric):
# nndescent's dotproduct goes through the MIPS reduction, sparse_csr serves dotproduct only.
PREFERRED_METRIC = {"annoy": "cosine", "nndescent": "dotproduct", "sparse_csr": "dotproduct"}
LIFECYCLE_CASES = [
    (name, PREFERRED_METRIC.get(name, "euclidean") if PREFERRED_METRIC.get(name, "euclidean") in cls.metrics
     else sorted(cls.metrics)[0], storage)
    for name, cls in sorted(BUILDERS.items()) if "dense" in cls.vector_types for storage in STORAGES
]


def _lifecycle_ids(cases: list[tuple[str, str, str]]) -> list[str]:
    return [f"{b}-{m}-{s}" for b, m, s in cases]


@pytest.mark.parametrize("lifecycle", LIFECYCLE_CASES, indirect=True, ids=_lifecycle_ids(LIFECYCLE_CASES))
def test_lifecycle_spreads_records_over_memtable_slabs_and_merges(lifecycle):
    index, vectors = lifecycle.index, lifecycle.vectors
    builder = index.config.engine.tiers[0].builder
    slabs = index.describe_slabs()
    assert set(slabs["builder"]) == {builder} and set(slabs["state"]) == {"ready"}
    assert slabs["level"].max() >= 1, "no merge happened"
    assert slabs.attrs["memtables"][0]["memtable_live_rows"] > 0
    merges = lifecycle.merges
    assert {"build", "merge"} <= set(merges["kind"]) and set(merges["outcome"]) == {"done"}
    assert (slabs["live_rows"] <= slabs["rows"]).all()
    assert index.describe_index_stats().total_vector_count == len(vectors)
    fetched = index.fetch(ids=list(vectors)[:1000]).vectors
    for record_id, record in fetched.items():
        np.testing.assert_allclose(record.values, vectors[record_id], rtol=1e-6)


@pytest.mark.parametrize("lifecycle", LIFECYCLE_CASES, indirect=True, ids=_lifecycle_ids(LIFECYCLE_CASES))
def test_lifecycle_answers_the_same_after_a_reopen(lifecycle):
    """Persistent: the slabs loaded from the engine's saved files answer as the built ones did."""
    points, _ = clustered(3000, LIFECYCLE_DIM, clusters=20, seed=11)
    for i, (ids, scores) in zip(PROBES, lifecycle.probes):
        response = lifecycle.index.query(vector=points[i], top_k=K)
        assert response.ids() == ids
        np.testing.assert_allclose([m.score for m in response.matches], scores, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("strategy", ["prefilter", "ann", "auto"])
@pytest.mark.parametrize("lifecycle", LIFECYCLE_CASES, indirect=True, ids=_lifecycle_ids(LIFECYCLE_CASES))
def test_lifecycle_filtered_queries_return_min_k_live_matches(lifecycle, strategy):
    index, vectors, metadata = lifecycle.index, lifecycle.vectors, lifecycle.metadata
    builder, metric = index.config.engine.tiers[0].builder, index.config.metric
    exact_path = BUILDERS[builder].exact or BUILDERS[builder].native_filtering or strategy == "prefilter"
    rng = np.random.default_rng(5)
    ids = np.array(list(vectors))
    matrix = np.stack([vectors[i] for i in ids])
    recalls = []
    for name, flt in FILTERS.items():
        mask = np.array([_matches(metadata[i], name) for i in ids])
        for q in matrix[rng.choice(len(ids), size=6, replace=False)] + 0.01:
            response = index.query(vector=q, top_k=K, filter=flt, filter_strategy=strategy, include_metadata=True)
            matches = response.matches
            assert len(matches) == min(K, int(mask.sum())), (name, strategy)
            assert all(m.id in vectors and _matches(metadata[m.id], name) for m in matches)
            assert all(m.metadata == metadata[m.id] for m in matches)  # the live version, not an old row
            check_exact_scores(matches, vectors, q, metric)
            scores = true_scores(matrix[mask], q, metric)
            if exact_path:
                check_equals_brute_force(matches, ids[mask], scores, metric, K)
            recalls.append(recall([m.id for m in matches], ids[mask], scores, metric, K))
    assert np.mean(recalls) >= RECALL_FLOOR


@pytest.mark.parametrize("lifecycle", LIFECYCLE_CASES, indirect=True, ids=_lifecycle_ids(LIFECYCLE_CASES))
def test_lifecycle_unfiltered_queries_never_return_deleted_or_shadowed_rows(lifecycle):
    index, vectors = lifecycle.index, lifecycle.vectors
    builder, metric = index.config.engine.tiers[0].builder, index.config.metric
    ids = np.array(list(vectors))
    matrix = np.stack([vectors[i] for i in ids])
    recalls = []
    for q in matrix[:: max(1, len(ids) // 25)][:25]:
        matches = index.query(vector=q, top_k=K).matches
        assert len(matches) == K and all(m.id in vectors for m in matches)
        check_exact_scores(matches, vectors, q, metric)  # an old version would score differently
        scores = true_scores(matrix, q, metric)
        if BUILDERS[builder].exact:
            check_equals_brute_force(matches, ids, scores, metric, K)
        recalls.append(recall([m.id for m in matches], ids, scores, metric, K))
    assert np.mean(recalls) >= RECALL_FLOOR
    # Querying with a deleted record's id is refused or empty; its rows never come back.
    assert "r0" not in vectors and all(m.id != "r0" for m in index.query(vector=matrix[0], top_k=50).matches)


def test_every_builder_declares_its_capabilities_as_data():
    for name, cls in BUILDERS.items():
        assert cls.name == name
        assert cls.metrics and cls.metrics <= set(METRICS)
        assert cls.vector_types and cls.vector_types <= {"dense", "sparse", "hybrid"}
        assert isinstance(cls.exact, bool) and isinstance(cls.native_filtering, bool)
        builder = cls()
        assert repr(builder).startswith(f"{name}(")  # the legend of every plot
        assert set(builder.get_params()) >= set()
        assert all(isinstance(k, str) for k in cls.query_defaults)
    assert {"exact", "annoy", "nndescent", "sparse_csr"} <= set(BUILDERS)
