CELLS = [
("md", """
# 07 · Text search and reranking

**Question:** on real text, how do a dense sentence model, a sparse lexical model, a hybrid of
the two and a reranker compare at finding the passages that answer a question — and what does
each cost in time and in the reference's billing units (embedding tokens, rerank units)?

Everything runs offline: the reference model names resolve, through a configurable table, to
local models — a real sentence-embedding model (all-MiniLM-L6-v2, run by a numpy forward pass),
a BM25-style sparse model over its WordPiece tokenizer, and a reranker *stand-in* (MiniLM cosine
fused with candidate-list BM25; no cross-encoder is available offline without torch).

The corpus is the bundled Python-docs passages; the questions are hand-written, each labelled
with the pydoc topic that answers it (`toolkit.inference.evaluation`).
"""),
("code", """
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import toolkit
from toolkit.inference.evaluation import QUERIES, hit_at_k, load_corpus, ndcg_at_k, rrf_merge

%matplotlib inline
"""),
("md", "## The models: reference names and what serves them here"),
("code", """
client = toolkit.Client()
models = pd.DataFrame(client.inference.list_models())
models[["model", "type", "vector_type", "default_dimension", "served_by"]]
"""),
("md", """
## The corpus and the questions

To keep the notebook quick, the haystack is the passages of the questions' topics that have at
most 20 passages each, plus 100 passages drawn at random from the rest of the corpus as
distractors. `benchmarks/bench_inference.py` runs the same comparison on the whole corpus.
"""),
("code", """
full = load_corpus()
sizes = pd.Series(full.topics).value_counts()
queries = [(q, labels) for q, labels in QUERIES if sizes[list(labels)].sum() <= 20]
wanted = {t for _, labels in queries for t in labels}
rng = np.random.default_rng(7)
others = np.flatnonzero(~np.isin(full.topics, list(wanted)))
keep = np.sort(np.concatenate([np.flatnonzero(np.isin(full.topics, list(wanted))),
                               rng.choice(others, 100, replace=False)]))
records = [full.records()[i] for i in keep]
topic_of = {r["_id"]: r["topic"] for r in records}
print(f"{len(records)} passages, {len(queries)} questions")
pd.DataFrame(queries[:5], columns=["question", "answered by topic"])
"""),
("md", "## Two integrated indexes: dense and sparse"),
("code", """
client.create_index_for_model("docs-dense", cloud="aws", region="us-east-1",
                              embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}})
client.create_index_for_model("docs-sparse", cloud="aws", region="us-east-1",
                              embed={"model": "pinecone-sparse-english-v0", "field_map": {"text": "chunk_text"}})
dense, sparse = client.Index("docs-dense"), client.Index("docs-sparse")
ingest = {}
for name, index in [("dense", dense), ("sparse", sparse)]:
    started = time.perf_counter()
    response = index.upsert_records("docs", records)
    ingest[name] = {"seconds": time.perf_counter() - started, "embed tokens": response.usage["embed_total_tokens"],
                    "write units": response.usage["write_units"]}
print(client.describe_index("docs-dense").spec["embed"])
pd.DataFrame(ingest).T
"""),
("md", "One question, searched both ways, then reranked (the hits carry the requested fields):"),
("code", """
question = "Assign to a variable that belongs to an enclosing function scope"
for label, index in [("dense", dense), ("sparse", sparse)]:
    hits = index.search("docs", query={"inputs": {"text": question}, "top_k": 3}, fields=["topic"]).result.hits
    print(label, [(h.id, h.fields["topic"], round(h.score, 3)) for h in hits])
reranked = dense.search("docs", query={"inputs": {"text": question}, "top_k": 20}, fields=["topic", "chunk_text"],
                        rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"], "top_n": 3})
print("reranked", [(h.id, h.fields["topic"], round(h.score, 3)) for h in reranked.result.hits], reranked.usage)
"""),
("md", """
## Quality and latency of four ways to search

* **dense**: the sentence model's cosine;
* **sparse**: BM25-style weights, a dot product (no IDF: the model is stateless);
* **hybrid**: reciprocal rank fusion (k = 60) of the dense and sparse top-20;
* **reranked**: the hybrid top-20 rescored by the reranker stand-in.

A passage is relevant when its topic is the question's label; nDCG@10 with binary relevance.
"""),
("code", """
text_of = {r["_id"]: r["chunk_text"] for r in records}


def ids(response):
    return [h.id for h in response.result.hits]


def run_dense(q, k=10):
    return ids(dense.search("docs", query={"inputs": {"text": q}, "top_k": k}))


def run_sparse(q, k=10):
    return ids(sparse.search("docs", query={"inputs": {"text": q}, "top_k": k}))


def run_hybrid(q, k=10):
    return rrf_merge([run_dense(q, 20), run_sparse(q, 20)])[:k]


def run_reranked(q, k=10):
    candidates = run_hybrid(q, 40)
    result = client.inference.rerank("cohere-rerank-3.5", q, [text_of[c] for c in candidates], top_n=k)
    return [candidates[d.index] for d in result.data]


rows = []
for method, run in [("dense", run_dense), ("sparse", run_sparse), ("hybrid", run_hybrid), ("reranked", run_reranked)]:
    for q, labels in queries:
        started = time.perf_counter()
        ranked = run(q)
        seconds = time.perf_counter() - started
        gains = np.array([topic_of[r] in labels for r in ranked], dtype=float)
        n_relevant = sum(topic_of[r] in labels for r in topic_of)
        rows.append({"method": method, "question": q, "ndcg@10": ndcg_at_k(gains, n_relevant),
                     "hit@1": hit_at_k(gains, 1), "ms": 1000 * seconds})
results = pd.DataFrame(rows)
summary = results.groupby("method", sort=False)[["ndcg@10", "hit@1", "ms"]].mean()
summary
"""),
("code", """
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
summary["ndcg@10"].plot.bar(ax=left, color="tab:blue", rot=0, title="nDCG@10 (higher is better)")
summary["ms"].plot.bar(ax=right, color="tab:orange", rot=0, title="ms per query")
left.set_ylim(0, 1)
plt.tight_layout()
"""),
("md", """
Where the methods disagree: per question, which one scored better, dense or sparse? Questions
that share the topic's own keywords favour sparse; paraphrases favour the sentence model.
"""),
("code", """
per_question = results.pivot_table(index="question", columns="method", values="ndcg@10")
per_question["dense - sparse"] = per_question["dense"] - per_question["sparse"]
per_question.sort_values("dense - sparse")[["dense", "sparse", "hybrid", "reranked"]].iloc[[0, 1, -2, -1]].round(3)
"""),
("md", """
## What it cost

Embedding is billed by token and reranking by rerank unit (one per request of up to 100
documents); both appear on each response and in the index's ledger next to read and write units.
"""),
("code", """
dense.usage()[["operation", "requests", "read_units_reported", "write_units", "embed_tokens", "rerank_units",
               "seconds"]]
"""),
("md", """
## Take-aways

The reference model names work unchanged; `describe_index(...).spec["embed"]` tells which local
model served them and its real dimension (384, not the reference's 1024). The reranker here is a
stand-in, not a cross-encoder: its gain (or loss) is measured, not assumed. What this run shows:
"""),
("code", """
best = summary["ndcg@10"].idxmax()
dense_wins = int((per_question["dense - sparse"] > 0).sum())
sparse_wins = int((per_question["dense - sparse"] < 0).sum())
print(f"best nDCG@10: {best} ({summary.loc[best, 'ndcg@10']:.3f}); "
      f"dense {summary.loc['dense', 'ndcg@10']:.3f}, sparse {summary.loc['sparse', 'ndcg@10']:.3f}, "
      f"hybrid {summary.loc['hybrid', 'ndcg@10']:.3f}, reranked {summary.loc['reranked', 'ndcg@10']:.3f}")
print(f"dense beats sparse on {dense_wins} questions, sparse beats dense on {sparse_wins}, "
      f"{len(per_question) - dense_wins - sparse_wins} ties")
print(f"latency: sparse {summary.loc['sparse', 'ms']:.1f} ms, dense {summary.loc['dense', 'ms']:.1f} ms, "
      f"reranked {summary.loc['reranked', 'ms']:.1f} ms per query (the sentence model dominates the cost)")
usage = dense.usage().set_index("operation")
print(f"billing: {int(usage['embed_tokens'].sum())} embedding tokens and "
      f"{int(usage['rerank_units'].sum())} rerank units on the dense index's ledger")
"""),
]
