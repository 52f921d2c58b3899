"""A small labelled retrieval set on the bundled Python-docs corpus, and its metrics.

The corpus is ``datasets/python-docs.jsonl.gz`` (passages of pydoc's help topics, each tagged
with its topic). ``QUERIES`` are hand-written questions, phrased the way a user would ask them
(most avoid the topic's own keyword), each labelled with the topic(s) whose passages answer it:
a passage is relevant when its topic is in the query's label set. Where a statement is also
documented under the umbrella topic ``compound`` (if/while/for/try/with/def/class), that topic
is NOT in the label set (it would make 300 passages relevant), so a hit there counts as a miss and
the absolute figures understate every method alike. Relevance is binary; ``ndcg_at_k`` and
``hit_at_k`` score a ranking.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..datasets.files import shipped_file

CORPUS_FILE = "python-docs.jsonl.gz"

QUERIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("How can I check a condition while debugging that disappears when optimizations are on?", ("assert",)),
    ("Writing coroutine functions and awaiting results in asynchronous code", ("async", "await")),
    ("Shorthand operators like += that update a variable in place", ("augassign",)),
    ("Leave a loop early before it has finished", ("break",)),
    ("Skip the rest of the current loop iteration and go to the next one", ("continue",)),
    ("Define a new type of object with base classes and a body of methods", ("class",)),
    ("Objects that set up and tear down resources around a block of code", ("context-managers", "with")),
    ("Step through a program line by line and set breakpoints", ("debugger",)),
    ("Remove a name binding or delete an item from a list", ("del",)),
    ("Literal syntax for mappings written with curly braces and colons", ("dict",)),
    ("What happens when an error is raised and nobody handles it?", ("exceptions", "execmodel")),
    ("Iterate over the items of a sequence one at a time", ("for",)),
    ("Padding, alignment and precision in the format specification mini-language", ("formatstrings",)),
    ("Declaring a function with default parameter values and annotations", ("function",)),
    ("Change a module-level variable from inside a function", ("global",)),
    ("Load a module from a package and bind its name", ("import",)),
    ("Small anonymous functions written inline in an expression", ("lambda",)),
    ("Assign to a variable that belongs to an enclosing function scope", ("nonlocal",)),
    ("A statement that does nothing, used as a placeholder", ("pass",)),
    ("Throw an exception, optionally chaining it from another one", ("raise",)),
    ("Leave a function call and hand back a value to the caller", ("return",)),
    ("Select a range of items from a sequence with start, stop and step", ("slicings",)),
    ("Methods to split, strip and replace parts of text", ("string-methods",)),
    ("Catch errors and always run cleanup code afterwards", ("try",)),
    ("Repeat a block as long as a condition stays true", ("while",)),
    ("Functions that produce a series of values lazily, one at a time", ("yield",)),
    ("Number literals with a decimal point or an exponent", ("floating",)),
    ("Complex number literals with an imaginary part", ("imaginary",)),
    ("Dictionary methods such as get, setdefault, update and items", ("typesmapping",)),
    ("Add, insert and remove elements of a list in place", ("typesseq-mutable",)),
    ("Which operators bind more tightly than others?", ("operator-summary",)),
    ("Which values count as false in an if test?", ("truth", "booleans")),
    ("How names are bound and looked up in nested scopes", ("naming", "execmodel")),
    ("Writing whole numbers in hexadecimal, octal or binary notation", ("integers",)),
    ("Chained comparisons and testing object identity", ("comparisons",)),
    ("Shifting the bits of an integer left or right", ("shifting",)),
    ("Raising a number to a power", ("power",)),
    ("Choose between branches depending on a condition", ("if",)),
    ("Accessing an element of a container by its index or key", ("subscriptions",)),
    ("The object that represents the absence of a value", ("bltin-null-object",)),
)


@dataclass(frozen=True)
class Corpus:
    """The passages of the bundled Python-docs corpus: ``ids``, ``texts``, ``topics``."""

    ids: list[str]
    texts: list[str]
    topics: np.ndarray

    def records(self, text_field: str = "chunk_text") -> list[dict[str, str]]:
        """Return the passages as integrated-index records (``_id``, text field, ``topic``)."""
        return [{"_id": i, text_field: t, "topic": str(p)} for i, t, p in zip(self.ids, self.texts, self.topics)]

    def relevant(self, labels: Sequence[str]) -> np.ndarray:
        """Return a boolean mask of the passages relevant to a query labelled ``labels``."""
        return np.isin(self.topics, list(labels))


def load_corpus(topics: Sequence[str] | None = None) -> Corpus:
    """Return the corpus (only ``topics`` when given)."""
    with gzip.open(shipped_file(CORPUS_FILE), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    if topics is not None:
        wanted = set(topics)
        rows = [r for r in rows if r["topic"] in wanted]
    return Corpus([f"doc-{n}" for n in range(len(rows))], [r["text"] for r in rows],
                  np.array([r["topic"] for r in rows]))


def query_topics(queries: Sequence[tuple[str, Sequence[str]]] = QUERIES) -> list[str]:
    """Return every topic any query is labelled with."""
    return sorted({t for _, labels in queries for t in labels})


def ndcg_at_k(ranked_relevance: np.ndarray, n_relevant: int, k: int = 10) -> float:
    """Return binary-relevance nDCG@k of one ranking (``ranked_relevance``: 0/1 per ranked hit)."""
    gains = np.asarray(ranked_relevance[:k], dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(k, n_relevant)].sum()
    return float((gains * discounts[: len(gains)]).sum() / ideal) if ideal > 0 else 0.0


def hit_at_k(ranked_relevance: np.ndarray, k: int = 1) -> float:
    """Return 1.0 if any of the first ``k`` hits is relevant."""
    return float(np.any(np.asarray(ranked_relevance[:k]) > 0))


def rrf_merge(rankings: Sequence[Sequence[str]], k: int = 60) -> list[str]:
    """Merge ranked id lists by reciprocal rank fusion (k=60); ties by first appearance."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, record_id in enumerate(ranking):
            scores[record_id] = scores.get(record_id, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda r: -scores[r])
