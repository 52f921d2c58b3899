"""Where the shipped data files and the caches live.

Shipped files sit in the repository's top-level ``datasets/`` folder; the package reaches
them through ``toolkit/datasets/shipped`` (a symlink to that folder, which setuptools
follows when it builds a wheel). When the link is missing — a checkout without symlink
support — the repository folder next to the package is used instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NotFoundError

CACHE_ENV = "VECTOR_TOOLKIT_CACHE"


def shipped_dir() -> Path:
    """Return the folder of the shipped data files."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "shipped", here.parents[1] / "datasets"):
        if candidate.is_dir():
            return candidate
    raise NotFoundError("the shipped datasets folder is missing; reinstall with `pip install -e .`")


def shipped_file(name: str) -> Path:
    """Return the path of one shipped data file."""
    path = shipped_dir() / name
    if not path.is_file():
        raise NotFoundError(f"shipped data file {name!r} is missing from {path.parent}")
    return path


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return (and create) the cache folder: ``override``, $VECTOR_TOOLKIT_CACHE or ~/.cache/vector-toolkit."""
    if override is not None:
        path = Path(override).expanduser()
    elif os.environ.get(CACHE_ENV):
        path = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "vector-toolkit"
    path.mkdir(parents=True, exist_ok=True)
    return path
