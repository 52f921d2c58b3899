"""Integrated inference: embedder and reranker plugins, the model table, and the inference API.

``client.inference.embed(model, inputs, parameters)`` and ``client.inference.rerank(...)``
run local, offline models; the reference's model names resolve through ``ModelTable``.
Integrated indexes (``create_index_for_model`` / ``upsert_records`` / ``search``) live in
``toolkit.integrated``.
"""

from .api import Inference
from .base import Embedder, Embeddings, Reranker, SparseRows
from .models import DEFAULT_ALIASES, ModelTable, RerankLimits
from .registry import ModelRegistry, default_registry

__all__ = ["DEFAULT_ALIASES", "Embedder", "Embeddings", "Inference", "ModelRegistry", "ModelTable", "Reranker",
           "RerankLimits", "SparseRows", "default_registry"]
