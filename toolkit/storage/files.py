"""Files: atomic replacement, checksummed JSON, file checksums and crash points.

Every file the store names in a manifest is written completely and fsync'd before the
manifest that names it is replaced, and a replacement is ``write temp + fsync + os.replace +
fsync(directory)``, so a crash leaves either the old or the new version, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import zlib
from pathlib import Path
from typing import Any

from ..errors import DataLossError

CHECKED_MAGIC = b"TKJSON1"
_CHUNK = 1 << 22


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (created, renamed or removed files) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file and fsync it (the directory entry is the caller's business)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def replace_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: write a temp file, fsync, rename over, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    write_file(tmp, data)
    crash_point("replace-before-rename")
    os.replace(tmp, path)
    fsync_dir(path.parent)


def checked_json_bytes(body: Any) -> bytes:
    """Return ``body`` as JSON behind a header line carrying its length and CRC32."""
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return CHECKED_MAGIC + b" %d %08x\n" % (len(payload), zlib.crc32(payload)) + payload


def write_checked_json(path: Path, body: Any) -> None:
    """Atomically replace ``path`` with checksummed JSON."""
    replace_atomically(path, checked_json_bytes(body))


def crc_of_bytes(data: bytes) -> int:
    return zlib.crc32(data)


def read_checked_json(path: Path) -> Any:
    """Read a file written by ``write_checked_json``; damage raises DataLossError naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DataLossError(f"cannot read {path}: {exc}") from None
    return parse_checked_json(raw, path)


def parse_checked_json(raw: bytes, path: Path) -> Any:
    head, sep, payload = raw.partition(b"\n")
    parts = head.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != CHECKED_MAGIC:
        raise DataLossError(f"damaged file {path}: bad header")
    try:
        length, crc = int(parts[1]), int(parts[2], 16)
    except ValueError:
        raise DataLossError(f"damaged file {path}: bad header") from None
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise DataLossError(f"damaged file {path}: checksum mismatch")
    try:
        return json.loads(payload)
    except ValueError:
        raise DataLossError(f"damaged file {path}: not JSON") from None


def file_crc(path: Path) -> tuple[int, int]:
    """Return (size, CRC32) of a file, reading it in chunks."""
    crc, size = 0, 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return size, crc
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)


def remove_tree(path: Path) -> None:
    """Remove a directory tree; a crash midway leaves garbage that the next open removes."""
    shutil.rmtree(path, ignore_errors=True)


def crash_point(name: str) -> None:
    """Kill this process at a named point when ``TOOLKIT_STORAGE_CRASH_AT`` asks for it (tests).

    The variable holds ``name`` or ``name:n`` (crash on the n-th time the point is reached).
    Costs one dict lookup; it is only called on flush, merge and other rare paths.
    """
    wanted = os.environ.get("TOOLKIT_STORAGE_CRASH_AT")
    if not wanted:
        return
    target, _, count = wanted.partition(":")
    if target != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_crash_counts: dict[str, int] = {}
