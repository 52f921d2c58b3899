"""Pagination tokens: opaque base64 JSON, shaped like the reference service's (dataplane_spec §7.6)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .errors import InvalidArgumentError

T = TypeVar("T")


def encode_token(skip_past: str, prefix: str | None = None) -> str:
    """Return a token that resumes strictly after ``skip_past``."""
    payload = json.dumps({"skip_past": skip_past, "prefix": prefix or None}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def decode_token(token: Any, prefix: str | None = None) -> str:
    """Return the ``skip_past`` of a token; reject malformed tokens and tokens of another prefix."""
    if not isinstance(token, str) or not token:
        raise InvalidArgumentError("pagination_token must be a non-empty string", path="pagination_token")
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgumentError(f"pagination_token {token[:40]!r} is malformed", path="pagination_token") from None
    if not isinstance(data, dict) or not isinstance(data.get("skip_past"), str):
        raise InvalidArgumentError(f"pagination_token {token[:40]!r} is malformed", path="pagination_token")
    if (data.get("prefix") or None) != (prefix or None):
        raise InvalidArgumentError(
            f"pagination_token was issued for prefix {data.get('prefix')!r}, not {prefix!r}", path="pagination_token"
        )
    return data["skip_past"]


def follow_pages(fetch: Callable[[str | None], Any], items: Callable[[Any], Iterable[T]],
                 token: str | None = None) -> Iterator[T]:
    """Yield ``items(page)`` of every page ``fetch(token)`` returns, following ``pagination.next``."""
    while True:
        page = fetch(token)
        yield from items(page)
        if page.pagination is None:
            return
        token = page.pagination.next
