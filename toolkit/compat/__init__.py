"""Thin adapters that expose other vector stores' contracts over the toolkit's one core.

``ChromaClient``/``ChromaCollection`` (seed 004) and ``VectorizerClient`` (seed 002) only
translate arguments and filter dialects; every rule lives in ``Index.delete_records``
(toolkit/deletes.py), the filter compiler and the ``$document`` filter (toolkit/documents.py).
"""

from .chroma import ChromaClient, ChromaCollection
from .dialect import translate
from .vectorizer import VectorizerClient

__all__ = ["ChromaClient", "ChromaCollection", "VectorizerClient", "translate"]
