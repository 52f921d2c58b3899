"""Display: dict-style access and Jupyter HTML for every response object.

Responses keep the SDK's attribute names; this mixin adds ``resp["matches"]`` style access
(the SDK allows both) and a compact ``_repr_html_`` built from ``to_dict()``.
"""

from __future__ import annotations

import html
from typing import Any

_MAX_ROWS = 20
_MAX_LIST = 8


def _short(value: Any) -> str:
    """Render one cell: long lists are elided so a 1536-d vector stays one line."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_LIST:
            head = ", ".join(_short(v) for v in value[:_MAX_LIST])
            return f"[{head}, … ({len(value)} items)]"
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def _table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows[:_MAX_ROWS]:
        for key in row:
            if key not in columns:
                columns.append(key)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_short(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows[:_MAX_ROWS]
    )
    more = f"<p>… {len(rows) - _MAX_ROWS} more rows</p>" if len(rows) > _MAX_ROWS else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def render_html(title: str, data: dict[str, Any]) -> str:
    """Render a response dict: scalars as a key/value list, lists of records as tables."""
    scalars = []
    tables = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append(f"<b>{html.escape(key)}</b> ({len(value)})" + _table(value))
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            rows = [{"key": k, **v} for k, v in value.items()]
            tables.append(f"<b>{html.escape(key)}</b> ({len(value)})" + _table(rows))
        else:
            scalars.append(f"<b>{html.escape(key)}</b>: {html.escape(_short(value))}")
    return f"<div><b>{html.escape(title)}</b><br>" + " · ".join(scalars) + "".join(tables) + "</div>"


class DisplayMixin:
    """Item access by field name, ``get``, and Jupyter HTML from ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: str) -> bool:
        return hasattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def _repr_html_(self) -> str:
        return render_html(type(self).__name__, self.to_dict())
