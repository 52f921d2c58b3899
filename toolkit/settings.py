"""Settings: every place where the reference docs contradict themselves or stay silent.

Each field names the spec section that discusses it; the default is the spec's
recommendation, and the documented alternative is one keyword away:

    toolkit.Client(settings=toolkit.Settings(negation_requires_field=False))
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from .errors import InvalidArgumentError


@dataclass(frozen=True)
class Settings:
    """Compatibility policies and limits of one client (all indexes share them)."""

    # search_spec §1.4: do $ne / $nin match records that lack the field? The reference service
    # answers "no" since 2024 (Haystack #590); MongoDB semantics answer "yes".
    negation_requires_field: bool = True
    # dataplane_spec §2 / §12.1: 2048 in the limits table, 1000 in the sparse preview list.
    sparse_max_nnz: int = 2048
    # dataplane_spec §2: top_k is 1..10000, and at most 1000 on a sparse index.
    max_top_k: int = 10_000
    sparse_max_top_k: int = 1_000
    # dataplane_spec §6.1 / §12.5: 40 KB read as 40960 bytes of compact UTF-8 JSON.
    max_metadata_bytes: int = 40_960
    # dataplane_spec §3.2 / §12.4: the key describe_index_stats uses for the default namespace.
    default_namespace_stats_key: Literal["__default__", ""] = "__default__"
    # dataplane_spec §7.8 / §12.2: delete by metadata filter on serverless (False = 2024-10 docs).
    delete_by_filter: bool = True
    # dataplane_spec §7.6 / §12.8: list page size default and the clamp above it.
    list_default_limit: int = 100
    list_max_limit: int = 100
    # dataplane_spec §7.8: after delete_all, does the empty namespace stay in list_namespaces?
    keep_empty_namespaces: bool = True
    # arch_cost_spec §2.4 (C-4): None = the formula; an int reproduces the docs' toy "6 RU".
    query_read_units_override: int | None = None
    # search_spec §1.6: non-authoritative filter limits.
    filter_max_depth: int = 16
    filter_max_in_values: int = 10_000
    # search_spec §2.2 [CHOICE]: a query by an unknown id answers [] (dataplane) or raises NotFound.
    query_unknown_id_raises: bool = False
    # issue #16: the metadata field a "$document" filter reads; None = the integrated index's
    # mapped text field, else "document" (toolkit/documents.py).
    document_field: str | None = None

    def __post_init__(self) -> None:
        for name, low in (
            ("sparse_max_nnz", 1),
            ("max_top_k", 1),
            ("sparse_max_top_k", 1),
            ("max_metadata_bytes", 1),
            ("list_default_limit", 1),
            ("list_max_limit", 1),
            ("filter_max_depth", 1),
            ("filter_max_in_values", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(f"must be an integer >= {low}, got {value!r}", path=f"settings.{name}")
        if self.document_field is not None and (not isinstance(self.document_field, str) or not self.document_field):
            raise InvalidArgumentError(f"must be a non-empty field name or None, got {self.document_field!r}",
                                       path="settings.document_field")
        if self.default_namespace_stats_key not in ("__default__", ""):
            raise InvalidArgumentError(
                "must be '__default__' or ''", path="settings.default_namespace_stats_key"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        """Build settings from a mapping, naming any unknown key."""
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                raise InvalidArgumentError(f"unknown setting {key!r}; known: {sorted(known)}", path="settings")
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed."""
        return replace(self, **changes)
