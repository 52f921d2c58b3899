"""Confinement: which local folders a remote caller may name (imports over HTTP or gRPC).

A process reading a path for someone else reads with its own rights, so a server must not
read any folder a request names. ``confine`` resolves the folder of a ``file://`` URI or a
plain path (symlinks and ``..`` first, then the check) and accepts it only inside one of the
roots the operator gave at start (``toolkit serve --import-root DIR``). No roots (the
default) means imports are off over the wire. The Python API itself is not confined: its
caller already has the process's rights.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Iterable

from .errors import ForbiddenError, InvalidArgumentError, UnimplementedError

MAX_ENTRIES_CHECKED = 100_000  # a folder with more entries is refused rather than walked forever


def resolve_roots(roots: Iterable[str | os.PathLike] | None) -> tuple[Path, ...]:
    """Resolve the operator's roots once (each must be an existing folder)."""
    out = []
    for root in roots or ():
        path = Path(root).expanduser()
        if not path.is_dir():
            raise InvalidArgumentError(f"the import root {str(path)!r} is not a folder", path="import_root")
        out.append(path.resolve(strict=True))
    return tuple(out)


def uri_path(uri: object) -> Path:
    """Return the local path a ``file://`` URI or a plain path names (other schemes: 501)."""
    if not isinstance(uri, str) or not uri:
        raise InvalidArgumentError("uri must be a non-empty string", path="uri")
    if "\x00" in uri:
        raise InvalidArgumentError("uri must not contain NUL", path="uri")
    if uri.startswith("file://"):
        parsed = urllib.parse.urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise ForbiddenError(f"file:// URIs must name a local path, not host {parsed.netloc!r}", path="uri")
        return Path(urllib.parse.unquote(parsed.path))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise UnimplementedError(
            f"imports from {scheme[:20]}:// are not available locally; use a file:// URI", path="uri")
    return Path(uri)


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def confine(uri: object, roots: Iterable[str | os.PathLike] | None) -> Path:
    """Return the resolved folder ``uri`` names if it, and everything in it, lies inside ``roots``.

    Raise ForbiddenError (403) when no root is configured or the folder (after resolving
    symlinks and ``..``) or any entry below it escapes them; InvalidArgumentError when it
    does not exist. Pass the returned path on, not ``uri``: it is what was checked.
    """
    resolved_roots = resolve_roots(roots)
    if not resolved_roots:
        raise ForbiddenError("imports are off over the wire: start the server with --import-root DIR to allow "
                             "folders under DIR", path="uri")
    raw = uri_path(uri)
    if not raw.is_absolute():
        raise ForbiddenError("give an absolute path or file:// URI under an import root", path="uri")
    try:
        folder = raw.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidArgumentError(f"the import folder {str(raw)!r} does not exist", path="uri") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission
        raise ForbiddenError(f"cannot resolve {str(raw)!r}: {exc}", path="uri") from None
    if not _inside(folder, resolved_roots):
        raise ForbiddenError(f"{str(raw)!r} is outside the import roots", path="uri")
    if not folder.is_dir():
        raise InvalidArgumentError(f"the import folder {str(raw)!r} is not a folder", path="uri")
    for count, entry in enumerate(folder.rglob("*")):
        if count >= MAX_ENTRIES_CHECKED:
            raise ForbiddenError(f"{str(raw)!r} holds more than {MAX_ENTRIES_CHECKED} entries", path="uri")
        if entry.is_symlink() and not _inside(entry.resolve(), resolved_roots):
            raise ForbiddenError(f"{str(entry.relative_to(folder))!r} in {str(raw)!r} links outside the import "
                                 "roots", path="uri")
    return folder
