"""Shared helpers of the core conformance tests (test_core_*.py): fixtures and ranking checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import toolkit

DATA = Path(__file__).resolve().parent / "data"
FIXTURES_PATH = DATA / "search_fixtures.json"

# search_spec §2.1: scores within 1e-6·max(1, |s|) are a tie, and tied matches are unordered.
TIE_TOLERANCE = 1e-6


def fixtures() -> dict[str, Any]:
    """Return search_fixtures.json (copied verbatim from ../shared/spec)."""
    with FIXTURES_PATH.open() as handle:
        return json.load(handle)


def new_index(
    name: str = "idx",
    *,
    dimension: int | None = 8,
    metric: str | None = None,
    vector_type: str = "dense",
    engine: Any = None,
    settings: Any = None,
    client: toolkit.Client | None = None,
) -> toolkit.Index:
    """Create an in-memory index on a fresh client (or on ``client``) and return its handle."""
    client = client or toolkit.Client(settings=settings)
    if vector_type == "sparse":
        client.create_index(name=name, vector_type="sparse", metric=metric or "dotproduct", engine=engine)
    else:
        client.create_index(name=name, dimension=dimension, metric=metric or "cosine", engine=engine)
    return client.Index(name)


def is_tie(a: float, b: float) -> bool:
    return abs(a - b) <= TIE_TOLERANCE * max(1.0, abs(a), abs(b))


def tie_groups(matches: Sequence[Any]) -> list[set[str]]:
    """Split matches (best first) into runs of tied scores; return each run's ids as a set."""
    groups: list[set[str]] = []
    last = None
    for m in matches:
        if last is not None and is_tie(last, m.score):
            groups[-1].add(m.id)
        else:
            groups.append({m.id})
        last = m.score
    return groups


def assert_ranked(matches: Sequence[Any], expected: Iterable[tuple[str, float]], *, rel: float = 1e-6) -> None:
    """Assert ids and scores in order, where expected scores that tie may come in any order."""
    expected = list(expected)
    assert len(matches) == len(expected), ([m.id for m in matches], expected)
    by_id = dict(expected)
    for m in matches:
        assert m.id in by_id, (m.id, expected)
        assert abs(m.score - by_id[m.id]) <= rel * max(1.0, abs(by_id[m.id])), (m.id, m.score, by_id[m.id])

    class _E:  # adapt expected pairs to tie_groups
        def __init__(self, pair: tuple[str, float]) -> None:
            self.id, self.score = pair

    assert tie_groups(matches) == tie_groups([_E(p) for p in expected])
