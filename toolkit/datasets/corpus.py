"""The bundled Python-docs corpus as *dense* vectors: the hook for a text-embedding model.

``python-docs`` (``text.py``) is the corpus as sparse BM25 vectors. For hybrid and filtered
studies on real text the same passages are needed as dense embeddings, which takes a text
model (the inference package's job). This module holds everything but the model:

* ``python_docs_passages()`` — the 2,176 passages (``topic``, ``text``) in corpus order;
* ``EmbeddedPythonDocs`` — an abstract ``DatasetSource``: subclass it, give it a ``name``,
  implement ``embed(texts, kind)`` with the model, and register it through
  ``register_datasets``; ``load()`` holds out ``n_queries`` passages as queries, keeps the
  topic (and passage length) as metadata and builds one filter set, ``topic@own``: each
  query may only see passages of its own topic (a real, uneven selectivity, ~1-13%).

No subclass is registered here: none ships until a model does (nothing may download one at
run time). A plugin with a model writes, for example::

    class DocsMiniLM(EmbeddedPythonDocs):
        name = "python-docs-dense"
        def embed(self, texts, kind):
            return my_model.encode(texts, input_type=kind)   # (len(texts), dim) float32
"""

from __future__ import annotations

import gzip
import json
from abc import abstractmethod
from functools import lru_cache
from typing import Literal

import numpy as np

from ..errors import InvalidArgumentError
from .base import Dataset, DatasetSource, FilterSet
from .files import shipped_file

CORPUS_FILE = "python-docs.jsonl.gz"


@lru_cache(maxsize=1)
def _passages() -> tuple[tuple[str, str], ...]:
    with gzip.open(shipped_file(CORPUS_FILE), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple((str(r["topic"]), str(r["text"])) for r in rows)


def python_docs_passages() -> list[dict[str, str]]:
    """Return the bundled Python-documentation passages, each ``{"topic": ..., "text": ...}``, in order."""
    return [{"topic": topic, "text": text} for topic, text in _passages()]


class EmbeddedPythonDocs(DatasetSource):
    """The Python-docs passages embedded by ``embed`` (abstract: a text model's plugin subclasses it)."""

    description = "the bundled Python-docs passages as dense embeddings of a text model; topic metadata and filters"
    vector_type = "dense"
    size = 2_176

    def __init__(self, n_queries: int = 200, metric: str = "cosine", seed: int = 0) -> None:
        if isinstance(n_queries, bool) or not isinstance(n_queries, int) or not 1 <= n_queries < self.size:
            raise InvalidArgumentError(f"must be an integer in 1..{self.size - 1}, got {n_queries!r}",
                                       path="n_queries")
        self.n_queries, self.metric, self.seed = n_queries, metric, seed

    @abstractmethod
    def embed(self, texts: list[str], kind: Literal["passage", "query"]) -> np.ndarray:
        """Return one float32 row per text; ``kind`` says whether they are stored passages or queries."""

    def _vectors(self, texts: list[str], kind: Literal["passage", "query"]) -> np.ndarray:
        vectors = np.asarray(self.embed(texts, kind), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise InvalidArgumentError(f"{type(self).__name__}.embed returned shape {vectors.shape} for "
                                       f"{len(texts)} texts; expected ({len(texts)}, dimension)", path="embed")
        return vectors

    def load(self) -> Dataset:
        passages = _passages()
        rng = np.random.default_rng(self.seed)
        held_out = np.zeros(len(passages), dtype=bool)
        held_out[rng.choice(len(passages), self.n_queries, replace=False)] = True
        train_rows, query_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
        topics = np.array([topic for topic, _ in passages], dtype=object)
        train = self._vectors([passages[i][1] for i in train_rows.tolist()], "passage")
        queries = self._vectors([passages[i][1] for i in query_rows.tolist()], "query")
        if train.shape[1] != queries.shape[1]:
            raise InvalidArgumentError("embed returned different dimensions for passages and queries", path="embed")
        metadata = [{"topic": topics[i], "words": float(len(passages[i][1].split()))} for i in train_rows.tolist()]
        masks = topics[train_rows][None, :] == topics[query_rows][:, None]
        own = FilterSet("topic@own", "tag", tuple({"topic": t} for t in topics[query_rows].tolist()), masks)
        ids = np.array([f"doc-{i}" for i in train_rows.tolist()], dtype=object)
        return Dataset(repr(self), self.metric, train, queries, ids=ids, metadata=metadata, filter_sets=(own,),
                       description=self.description, info={"query_rows": query_rows})
