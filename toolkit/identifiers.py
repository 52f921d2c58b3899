"""Identifiers: index names, namespace names and record ids (dataplane_spec §3)."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidArgumentError

DEFAULT_NAMESPACE = "__default__"
MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 512
_INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")


def check_index_name(name: Any) -> str:
    """Return ``name`` if it is 1-45 lowercase alphanumerics or '-', not starting/ending with '-'."""
    if not isinstance(name, str) or not _INDEX_NAME.match(name):
        raise InvalidArgumentError(
            "Index name must contain only lowercase alphanumeric characters or hyphens, "
            f"and must not begin or end with a hyphen (1-45 characters); got {name!r}",
            path="name",
        )
    return name


def _check_ascii_name(value: Any, what: str, max_length: int, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(value).__name__}", path=path)
    if not 1 <= len(value) <= max_length:
        raise InvalidArgumentError(f"{what} must be 1-{max_length} characters, got {len(value)}", path=path)
    if not value.isascii() or "\0" in value:
        raise InvalidArgumentError(f"{what} must be ASCII without NUL characters: {value[:40]!r}", path=path)
    return value


def check_record_id(record_id: Any, path: str = "id") -> str:
    """Return ``record_id`` if it is a 1-512 character ASCII string without NUL."""
    if type(record_id) is str and 0 < len(record_id) <= MAX_ID_LENGTH and record_id.isascii() and "\0" not in record_id:
        return record_id  # the common case, without building error context
    return _check_ascii_name(record_id, "record id", MAX_ID_LENGTH, path)


def canonical_namespace(namespace: Any) -> str:
    """Map None, "" and "__default__" to "__default__"; validate any other name."""
    if namespace is None or namespace == "" or namespace == DEFAULT_NAMESPACE:
        return DEFAULT_NAMESPACE
    return _check_ascii_name(namespace, "namespace", MAX_NAMESPACE_LENGTH, "namespace")
