"""IVF slabs save their exact kernel's norms, so a reopen maps them instead of reading every vector (issue #14)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

from plugins.faiss_ivf import IvfFlatBuilder, IvfPqBuilder, IvfQuery  # noqa: E402
from toolkit.plugin import SlabData  # noqa: E402


def _data(n: int = 3000, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, dim))[rng.integers(8, size=n)] * 2 + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
@pytest.mark.parametrize("builder", [IvfFlatBuilder(nlist=16), IvfPqBuilder(nlist=16, m=4)])
def test_reloaded_slab_maps_its_norms_and_answers_the_same(tmp_path, builder, metric):
    data = SlabData(_data(), None)
    built = builder.build(data, metric)
    built.save(tmp_path)
    loaded = builder.load(tmp_path, data, metric)
    saved = loaded._kernel.norms if metric == "cosine" else loaded._kernel.sq_norms
    if metric == "dotproduct":
        assert saved is None and not (tmp_path / "norms.npy").exists()
    else:
        assert isinstance(saved, np.memmap)  # mapped, not recomputed from the vectors
        want = built._kernel.norms if metric == "cosine" else built._kernel.sq_norms
        np.testing.assert_array_equal(np.asarray(saved), want)
    queries = _data(20, seed=1)
    params = IvfQuery(nprobe=4)
    for a, b in zip(built.search_many(queries, 10, None, params), loaded.search_many(queries, 10, None, params)):
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.distance_computations == b.distance_computations
    assert loaded.nbytes == built.nbytes > 0


def test_norms_that_do_not_fit_are_recomputed(tmp_path):
    data = SlabData(_data(), None)
    builder = IvfFlatBuilder(nlist=16)
    builder.build(data, "cosine").save(tmp_path)
    np.save(tmp_path / "norms.npy", np.ones(7, np.float32))  # the wrong length
    loaded = builder.load(tmp_path, data, "cosine")
    assert not isinstance(loaded._kernel.norms, np.memmap)
    np.testing.assert_allclose(loaded._kernel.norms, np.linalg.norm(data.dense, axis=1), rtol=1e-6)
