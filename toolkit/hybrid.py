"""Hybrid search helpers: client-side alpha weighting and merging of hit lists (search_spec §4).

``hybrid_score_norm`` is the docs' helper (D:28052-28073): the index has no weight parameter,
so the query is scaled instead and a hybrid score becomes
``alpha·dense + (1 − alpha)·sparse``. ``merge_dedup`` is the separate-indexes pipeline's
merge step (D:27484-27491); its default ``last_wins`` policy reproduces the docs' 52-id order
exactly. ``max_score`` and ``rrf`` are toolkit extensions, not in the docs.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Iterable, Mapping, Sequence

from .errors import InvalidArgumentError

MERGE_POLICIES = ("last_wins", "max_score", "rrf")
RRF_K = 60


def hybrid_score_norm(dense: Sequence[float], sparse: Any, alpha: float) -> tuple[list[float], dict[str, list]]:
    """Scale a dense and a sparse query so that the hybrid score is a convex combination.

    Returns ``(alpha · dense, {"indices": ..., "values": (1 − alpha) · values})``; ``sparse`` is a
    ``{"indices", "values"}`` mapping or a ``SparseValues``-like object. An alpha outside 0..1
    raises ``ValueError("Alpha must be between 0 and 1")`` (an ``InvalidArgumentError``).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise InvalidArgumentError("Alpha must be between 0 and 1")
    if isinstance(sparse, Mapping):
        if "indices" not in sparse or "values" not in sparse:
            raise InvalidArgumentError("a sparse vector needs both 'indices' and 'values'", path="sparse")
        indices, values = sparse["indices"], sparse["values"]
    elif hasattr(sparse, "indices") and hasattr(sparse, "values"):
        indices, values = sparse.indices, sparse.values
    else:
        raise InvalidArgumentError(
            f"sparse must be an object with 'indices' and 'values', got {type(sparse).__name__}", path="sparse"
        )
    indices, values = list(indices), list(values)
    if len(indices) != len(values):
        raise InvalidArgumentError(
            f"sparse indices and values must have the same length, got {len(indices)} and {len(values)}",
            path="sparse",
        )
    scaled_sparse = {"indices": indices, "values": [float(v) * (1 - alpha) for v in values]}
    return [float(v) * alpha for v in dense], scaled_sparse


def _field(hit: Any, name: str, what: str, position: str) -> Any:
    """Read ``name`` from a hit: a mapping key, a key of its ``fields``, or an attribute."""
    if isinstance(hit, Mapping):
        if name in hit:
            return hit[name]
        fields = hit.get("fields")
        if isinstance(fields, Mapping) and name in fields:
            return fields[name]
    elif hasattr(hit, name):
        return getattr(hit, name)
    else:
        metadata = getattr(hit, "metadata", None)
        if isinstance(metadata, Mapping) and name in metadata:
            return metadata[name]
    raise InvalidArgumentError(f"hit has no {what} field {name!r}", path=position)


def _score_key(hit: Any, score_key: str | None) -> str:
    if score_key is not None:
        return score_key
    for candidate in ("_score", "score"):
        if (isinstance(hit, Mapping) and candidate in hit) or (not isinstance(hit, Mapping) and hasattr(hit, candidate)):
            return candidate
    return "_score"


def _with_score(hit: Any, score_key: str, score: float) -> Any:
    """Return a copy of ``hit`` carrying ``score`` (the input hit is never changed)."""
    if isinstance(hit, Mapping):
        return {**hit, score_key: score}
    if dataclasses.is_dataclass(hit) and not isinstance(hit, type):
        return dataclasses.replace(hit, **{score_key: score})
    out = copy.copy(hit)
    setattr(out, score_key, score)
    return out


def merge_dedup(
    *hit_lists: Iterable[Any],
    key: str = "_id",
    policy: str = "last_wins",
    score_key: str | None = None,
    descending: bool = True,
    rrf_k: int = RRF_K,
) -> list[Any]:
    """Merge hit lists, keep one hit per ``key`` and sort by score (best first).

    Hits are mappings (``{"_id", "_score", "fields"}`` or ``{"id", "score"}``) or objects such as
    query matches; ``score_key`` defaults to ``_score`` or ``score``, whichever a hit has.

    * ``last_wins`` (the docs' helper): a later list's hit replaces an earlier one with the same
      key, then everything is sorted by the raw, mixed-scale score.
    * ``max_score`` (extension): the hit with the highest score per key is kept.
    * ``rrf`` (extension): reciprocal rank fusion, score = Σ 1 / (rrf_k + rank), rank from 1 in
      each list's own order; the returned hits carry the fused score.

    Ties keep the order in which keys were first seen (the sort is stable).
    """
    if policy not in MERGE_POLICIES:
        raise InvalidArgumentError(f"policy must be one of {list(MERGE_POLICIES)}, got {policy!r}", path="policy")
    if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or rrf_k < 0:
        raise InvalidArgumentError(f"rrf_k must be a non-negative integer, got {rrf_k!r}", path="rrf_k")
    chosen: dict[Any, Any] = {}
    scores: dict[Any, float] = {}
    names: dict[Any, str] = {}
    for list_no, hits in enumerate(hit_lists):
        if isinstance(hits, (str, bytes, Mapping)):
            raise InvalidArgumentError("each hit list must be a list of hits", path=f"hit_lists[{list_no}]")
        for rank, hit in enumerate(hits, start=1):
            position = f"hit_lists[{list_no}][{rank - 1}]"
            hit_id = _field(hit, key, "key", position)
            name = _score_key(hit, score_key)
            score = float(_field(hit, name, "score", position))
            if math.isnan(score):
                raise InvalidArgumentError("hit scores must be numbers, got NaN", path=position)
            if policy == "last_wins":
                chosen[hit_id], scores[hit_id], names[hit_id] = hit, score, name
            elif policy == "max_score":
                if hit_id not in chosen or (score > scores[hit_id] if descending else score < scores[hit_id]):
                    chosen[hit_id], scores[hit_id], names[hit_id] = hit, score, name
            else:
                chosen[hit_id], names[hit_id] = hit, name
                scores[hit_id] = scores.get(hit_id, 0.0) + 1.0 / (rrf_k + rank)
    if policy == "rrf":  # a fused score is always "higher is better"
        order = sorted(chosen, key=lambda i: scores[i], reverse=True)
        return [_with_score(chosen[i], names[i], scores[i]) for i in order]
    order = sorted(chosen, key=lambda i: scores[i], reverse=descending)
    return [chosen[i] for i in order]
