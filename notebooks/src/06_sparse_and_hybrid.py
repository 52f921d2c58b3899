CELLS = [
("md", """
# 06 · Sparse and hybrid search

**Question:** when the words of a query matter (a rare product code, a name), how do lexical
(sparse) search, semantic (dense) search, a hybrid query weighted by `alpha`, and merging the
results of separate dense and sparse indexes compare at finding the right documents?

The corpus is synthetic and seeded: 1,500 documents in 8 topics. Each document's *dense*
vector knows its topic but not its rare words (as a small embedding model would blur them); its
*sparse* vector holds BM25 weights of its words. Some documents carry a rare code word. A query
asks for "documents of topic *t* that mention code *c*" — the relevant documents are known exactly.
"""),
("code", """
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import toolkit

%matplotlib inline
"""),
("md", "## The corpus"),
("code", """
rng = np.random.default_rng(6)
N_DOCS, TOPICS, DIM, K = 1_500, 8, 32, 10
TOPIC_WORDS, GENERAL_WORDS, CODES = 40, 400, 20
vocabulary = ([f"topic{t}_w{i}" for t in range(TOPICS) for i in range(TOPIC_WORDS)]
              + [f"word{i}" for i in range(GENERAL_WORDS)] + [f"CODE-{i:03d}" for i in range(CODES)])
term_id = {term: i for i, term in enumerate(vocabulary)}
code_base = TOPICS * TOPIC_WORDS + GENERAL_WORDS

topic_of = rng.integers(0, TOPICS, N_DOCS)
docs = []
for d in range(N_DOCS):
    t = topic_of[d]
    words = list(rng.integers(t * TOPIC_WORDS, (t + 1) * TOPIC_WORDS, 18)) + list(TOPICS * TOPIC_WORDS
                                                                                 + rng.integers(0, GENERAL_WORDS, 12))
    if rng.random() < 0.4:  # a rare code word, from any topic
        words += [code_base + int(rng.integers(0, CODES))]
    docs.append(words)

# BM25 weights (k1 = 1.2, b = 0.75), one sparse vector per document, L2-normalised.
df = np.zeros(len(vocabulary))
for words in docs:
    df[np.unique(words)] += 1
idf = np.log(1 + (N_DOCS - df + 0.5) / (df + 0.5))
avg_len = np.mean([len(w) for w in docs])
sparse_docs = []
for words in docs:
    terms, tf = np.unique(words, return_counts=True)
    weights = idf[terms] * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / avg_len))
    sparse_docs.append({"indices": terms.tolist(), "values": (weights / np.linalg.norm(weights)).tolist()})

# Dense vectors: the topic's direction plus noise, unit length; the code word leaves no trace.
topic_directions = rng.normal(size=(TOPICS, DIM))
dense_docs = topic_directions[topic_of] + 0.9 * rng.normal(size=(N_DOCS, DIM))
dense_docs = (dense_docs / np.linalg.norm(dense_docs, axis=1, keepdims=True)).astype(np.float32)
doc_ids = [f"doc-{d:04d}" for d in range(N_DOCS)]
codes_of = [{vocabulary[w] for w in words if w >= code_base} for words in docs]
print("doc 0:", " ".join(vocabulary[w] for w in docs[0][:6]), "...", "| codes:", codes_of[0] or "none")
print(f"documents per code word: {np.mean([sum(c in cs for cs in codes_of) for c in vocabulary[code_base:]]):.0f} "
      f"on average, spread over all {TOPICS} topics")
"""),
("md", """
## Queries with a known answer

Each query names a topic and a code that occurs in at least one document of that topic: the
relevant documents are those of the topic that mention the code. The query's sparse vector has
the code and one general word (the words a user types rarely name the topic's vocabulary); its
dense vector is the topic direction plus noise.
"""),
("code", """
pairs = sorted({(int(topic_of[d]), c) for d in range(N_DOCS) for c in codes_of[d]})
chosen = [pairs[i] for i in rng.choice(len(pairs), size=min(60, len(pairs)), replace=False)]
queries = []
for t, code in chosen:
    words = [term_id[code], TOPICS * TOPIC_WORDS + int(rng.integers(0, GENERAL_WORDS))]
    terms = np.unique(words)
    weights = idf[terms] / np.linalg.norm(idf[terms])
    dense = topic_directions[t] + 0.9 * rng.normal(size=DIM)
    relevant = {doc_ids[d] for d in range(N_DOCS) if topic_of[d] == t and code in codes_of[d]}
    queries.append({"sparse": {"indices": terms.tolist(), "values": weights.tolist()},
                    "dense": (dense / np.linalg.norm(dense)).astype(np.float32), "relevant": relevant,
                    "code": code})


def recall(got_ids, relevant):
    return len(set(got_ids) & relevant) / min(K, len(relevant))


print(f"{len(queries)} queries; relevant documents per query: "
      f"{np.mean([len(q['relevant']) for q in queries]):.1f} on average")
"""),
("md", """
## Lexical search: a sparse index

A sparse index (`vector_type="sparse"`, dotproduct) served by the sparse CSR engine when it is
installed (otherwise by the exact engine, which also handles sparse vectors).
"""),
("code", """
client = toolkit.Client()
builders = client.builders()
SPARSE_ENGINE = "sparse_csr" if "sparse_csr" in builders else "exact"
client.create_index(name="lexical", vector_type="sparse", metric="dotproduct",
                    engine={"memtable_max_records": N_DOCS, "tiers": [{"builder": SPARSE_ENGINE}]})
lexical = client.Index("lexical")
lexical.upsert(vectors=[{"id": i, "sparse_values": s, "metadata": {"topic": int(t)}}
                        for i, s, t in zip(doc_ids, sparse_docs, topic_of)], batch_size=500, show_progress=False)
lexical.compact()
print("sparse engine:", SPARSE_ENGINE, "| slabs:", list(lexical.describe_slabs().builder))

example = queries[0]
resp = lexical.query(sparse_vector=example["sparse"], top_k=5, include_metadata=True)
print("query terms:", [vocabulary[i] for i in example["sparse"]["indices"]])
pd.DataFrame([{"id": m.id, "score": m.score, "topic": m.metadata["topic"],
               "mentions code": example["code"] in codes_of[int(m.id[4:])],
               "relevant": m.id in example["relevant"]} for m in resp.matches])
"""),
("md", """
## Hybrid queries on one dotproduct index, weighted by alpha

One dense index with `metric="dotproduct"` stores both parts of every record. The index has no
weight parameter, so `toolkit.hybrid_score_norm(dense, sparse, alpha)` scales the *query*:
the score becomes `alpha · dense + (1 − alpha) · sparse`. `alpha = 1` is pure dense search,
`alpha = 0` pure lexical.
"""),
("code", """
client.create_index(name="hybrid", dimension=DIM, metric="dotproduct")
hybrid = client.Index("hybrid")
hybrid.upsert(vectors=[{"id": i, "values": v, "sparse_values": s} for i, v, s in zip(doc_ids, dense_docs, sparse_docs)],
              batch_size=500, show_progress=False)

ALPHAS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
rows = []
for alpha in ALPHAS:
    recalls, latencies = [], []
    for q in queries:
        dense, sparse = toolkit.hybrid_score_norm(q["dense"].tolist(), q["sparse"], alpha)
        if alpha == 0.0:  # a dotproduct query vector may not be all zeros: keep a negligible dense part
            dense = (1e-6 * q["dense"]).tolist()
        if alpha == 1.0:  # and the sparse part of a pure dense query is dropped
            sparse = None
        started = time.perf_counter()
        got = hybrid.query(vector=dense, sparse_vector=sparse, top_k=K).ids()
        latencies.append(time.perf_counter() - started)
        recalls.append(recall(got, q["relevant"]))
    rows.append({"alpha": alpha, "recall": np.mean(recalls), "p50_ms": 1e3 * np.median(latencies)})
by_alpha = pd.DataFrame(rows)
by_alpha.round(3)
"""),
("md", """
## Separate dense and sparse indexes, merged on the client

The other pipeline: query a dense index and a sparse index separately, then merge the two hit
lists with `toolkit.merge_dedup` — keeping the later list's hit for a duplicate (`last_wins`, the
docs' helper), the higher score (`max_score`), or fusing ranks (`rrf`, reciprocal rank fusion).
"""),
("code", """
client.create_index(name="semantic", dimension=DIM, metric="cosine")
semantic = client.Index("semantic")
semantic.upsert(vectors=[{"id": i, "values": v} for i, v in zip(doc_ids, dense_docs)], batch_size=500,
                show_progress=False)

merge_rows, merge_example = [], None
for policy in ("last_wins", "max_score", "rrf"):
    recalls = []
    for q in queries:
        dense_hits = [{"_id": m.id, "_score": m.score} for m in semantic.query(vector=q["dense"], top_k=2 * K).matches]
        sparse_hits = [{"_id": m.id, "_score": m.score}
                       for m in lexical.query(sparse_vector=q["sparse"], top_k=2 * K).matches]
        merged = toolkit.merge_dedup(dense_hits, sparse_hits, policy=policy)
        recalls.append(recall([h["_id"] for h in merged[:K]], q["relevant"]))
        if merge_example is None:
            merge_example = pd.DataFrame(merged[:5])
    merge_rows.append({"pipeline": f"separate indexes, merge_dedup({policy!r})", "recall": np.mean(recalls)})
merge_example
"""),
("code", """
best = by_alpha.loc[by_alpha.recall.idxmax()]
comparison = pd.DataFrame(
    [{"pipeline": "dense only (alpha=1)", "recall": by_alpha.recall.iloc[-1]},
     {"pipeline": "sparse only (alpha=0)", "recall": by_alpha.recall.iloc[0]},
     {"pipeline": f"hybrid, best alpha={best.alpha:g}", "recall": best.recall}] + merge_rows)

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
axes[0].plot(by_alpha.alpha, by_alpha.recall, "o-")
axes[0].set(xlabel="alpha (0 = sparse only, 1 = dense only)", ylabel=f"recall@{K} of relevant documents",
            title="one hybrid index, alpha sweep", ylim=(0, 1.05))
axes[0].grid(alpha=0.3)
axes[1].barh(comparison.pipeline, comparison.recall, color=["C0", "C1", "C2", "C3", "C3", "C3"][: len(comparison)])
axes[1].set(xlabel=f"recall@{K}", xlim=(0, 1.05), title="pipelines compared")
axes[1].invert_yaxis()
plt.tight_layout()
plt.show()
comparison.round(3)
"""),
("md", "## What the numbers show"),
("code", """
dense_only, sparse_only = by_alpha.recall.iloc[-1], by_alpha.recall.iloc[0]
print(f"Recall@{K} of the relevant documents over {len(queries)} queries: dense only {dense_only:.3f}, "
      f"sparse only {sparse_only:.3f}, hybrid at the best alpha ({best.alpha:g}) {best.recall:.3f}.")
if best.recall > max(dense_only, sparse_only):
    print(f"Weighting both signals beat either alone by {best.recall - max(dense_only, sparse_only):+.3f}: the dense "
          f"part finds the topic, the sparse part the rare code word.")
else:
    print("No alpha beat the better single signal on this corpus.")
good = by_alpha[by_alpha.recall >= best.recall - 0.02].alpha
print(f"Alphas within 0.02 of the best recall: {good.min():g}-{good.max():g}.")
for row in merge_rows:
    print(f"{row['pipeline']}: {row['recall']:.3f} ({row['recall'] - best.recall:+.3f} vs the best hybrid alpha).")
top_merge = max(merge_rows, key=lambda r: r["recall"])
print(f"Best client-side merge: {top_merge['pipeline']}. A raw-score merge mixes a cosine scale with a "
      f"BM25 scale, so it is {'no better than' if top_merge['recall'] <= best.recall else 'better than'} "
      f"one hybrid index with a tuned alpha here.")
"""),
]
