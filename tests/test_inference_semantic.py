"""Held-out semantic check: the real sentence model finds paraphrases a lexical model cannot.

Eight short records on distinct topics; each query paraphrases one record while sharing no
content word with it (checked below with the sparse model's own tokenizer). The BM25 stand-in
can only match shared tokens, so it fails; all-MiniLM-L6-v2 ranks the target first.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import require_text_models

require_text_models()

from toolkit.inference import Inference  # noqa: E402
from toolkit.inference.builtin import STOPWORDS  # noqa: E402

RECORDS = [
    "Sourdough loaves rise slowly thanks to a wild yeast starter kept in the kitchen.",
    "The striker scored twice in the final minutes, sealing the championship for her club.",
    "Interest rates were raised again by the central bank to cool rising prices.",
    "Volcanic eruptions spew ash and molten rock high into the atmosphere.",
    "The violinist performed a concerto with the symphony orchestra last night.",
    "Regular brushing and flossing prevent cavities and gum disease.",
    "The rover collected soil samples from the surface of Mars.",
    "Kittens need frequent meals and plenty of sleep during their first weeks.",
]
QUERIES = [
    "How do I make homemade bread with natural fermentation?",  # bread
    "Which team won the soccer tournament?",                       # football
    "Why is borrowing money getting more expensive?",              # monetary policy
    "What happens when a mountain explodes with lava?",            # volcano
    "Classical music concert featuring a string soloist",          # violin
    "Tips for keeping teeth healthy",                              # dental
    "Robotic exploration of the red planet",                       # mars rover
    "Caring for a young cat",                                      # kittens
]


@pytest.fixture(scope="module")
def inference() -> Inference:
    return Inference()


def _content_tokens(inference: Inference, texts: list[str]) -> list[set[str]]:
    model = inference.registry.embedder("bm25-wordpiece").model
    return [{t for t in toks if t not in STOPWORDS and any(c.isalnum() for c in t)} for toks in model.tokenize(texts)]


def test_queries_share_almost_no_words_with_their_targets(inference):
    queries, records = _content_tokens(inference, QUERIES), _content_tokens(inference, RECORDS)
    shared = [len(q & r) for q, r in zip(queries, records)]
    assert sum(shared) <= 1, shared


def _top1(scores: np.ndarray) -> np.ndarray:
    return scores.argmax(axis=1)


def test_real_sentence_model_finds_every_paraphrase(inference):
    docs = np.array([d.values for d in inference.embed("llama-text-embed-v2", RECORDS).data])
    queries = np.array([d.values for d in inference.embed("llama-text-embed-v2", QUERIES,
                                                          {"input_type": "query"}).data])
    hits = _top1(queries @ docs.T)
    assert (hits == np.arange(len(QUERIES))).sum() >= 7, hits


def test_lexical_stand_in_fails_the_same_check(inference):
    def dense(rows, vocab):
        out = np.zeros((len(rows), vocab), dtype=np.float32)
        for n, row in enumerate(rows):
            out[n, row.sparse_indices] = row.sparse_values
        return out

    docs = inference.embed("pinecone-sparse-english-v0", RECORDS).data
    queries = inference.embed("pinecone-sparse-english-v0", QUERIES, {"input_type": "query"}).data
    vocab = 1 + max(max(r.sparse_indices, default=0) for r in [*docs, *queries])
    scores = dense(queries, vocab) @ dense(docs, vocab).T
    correct = ((scores.max(axis=1) > 0) & (_top1(scores) == np.arange(len(QUERIES)))).sum()
    assert correct <= 2, scores


def test_the_numpy_forward_pass_reproduces_the_published_similarities(inference):
    """sentence-transformers' quickstart prints these cosine similarities for all-MiniLM-L6-v2
    (torch): 0.6660, 0.1046 and 0.1411. The numpy forward pass must give the same numbers."""
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    vectors = np.array([d.values for d in inference.embed("all-minilm-l6-v2", texts).data])
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=1e-3)
