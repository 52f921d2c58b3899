"""Verify a database folder: CRC-check every slab file in full (``python -m toolkit verify PATH``).

Opening a database checks each slab file's size and header and the CRC32 of the small ones
only (see ``toolkit.storage.slabfile``): large files are memory-mapped and read when queries
touch them. This command reads every file each live slab and backup lists and compares it
with the CRC32 that its SLAB.json recorded, plus the live-mask files against their manifest.
It only reads; run it on a closed database, or one a writer is not merging (a merge deletes
the slabs it replaced, which would be reported missing). Request-log records carry their own
CRC and are checked whenever they are replayed.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataLossError
from .files import crc_of_bytes, read_checked_json
from .slabfile import verify_rows_dir

HELP = "CRC-check every slab file of a database folder (opening checks sizes and headers only)"
log = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    """What ``verify_database`` read, and the damage it found (one message per damaged slab or file)."""

    slabs: int = 0
    files: int = 0
    bytes: int = 0
    damaged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def raise_if_damaged(self) -> None:
        """Raise DataLossError naming the first damaged file."""
        if self.damaged:
            more = f" (and {len(self.damaged) - 1} more)" if len(self.damaged) > 1 else ""
            raise DataLossError(self.damaged[0] + more)


def verify_database(path: str | os.PathLike[str]) -> VerifyReport:
    """CRC-check every live slab, live-mask file and backup slab of the database at ``path``."""
    from .disk import FORMAT_FILE, INDEX_FILE, MANIFEST

    root = Path(path).expanduser()
    report = VerifyReport()
    if not (root / FORMAT_FILE).is_file():
        raise DataLossError(f"missing file {root / FORMAT_FILE}: {str(root)!r} is not a toolkit database")
    _guard(report, lambda: read_checked_json(root / FORMAT_FILE))
    for index_dir in _subdirs(root / "indexes"):
        _guard(report, lambda: read_checked_json(index_dir / INDEX_FILE))
        for ns_dir in _subdirs(index_dir / "namespaces"):
            manifest = _guard(report, lambda: read_checked_json(ns_dir / MANIFEST))
            if not isinstance(manifest, dict):
                continue
            for entry in manifest.get("slabs", []):
                _slab(report, ns_dir / "slabs" / entry["dir"], entry["crc32"])
            masks = manifest.get("masks")
            if masks:
                _guard(report, lambda: _check_crc(ns_dir / masks["file"], masks["crc32"], report))
    for backup_dir in _subdirs(root / "backups"):
        info = _guard(report, lambda: read_checked_json(backup_dir / "backup.json"))
        if isinstance(info, dict):
            for entry in info.get("namespaces", []):
                _slab(report, backup_dir / entry["dir"], entry["crc32"])
    return report


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _slab(report: VerifyReport, directory: Path, crc: int) -> None:
    counted = _guard(report, lambda: verify_rows_dir(directory, crc))
    if counted is not None:
        report.slabs += 1
        report.files += counted[0]
        report.bytes += counted[1]


def _check_crc(path: Path, crc: int, report: VerifyReport) -> None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataLossError(f"missing file {path}") from None
    if crc_of_bytes(raw) != crc:
        raise DataLossError(f"damaged file {path}: checksum does not match the manifest")
    report.files += 1
    report.bytes += len(raw)


def _guard(report: VerifyReport, check: Any) -> Any:
    """Run one check; record its DataLossError (or a missing file) as damage and go on."""
    try:
        return check()
    except DataLossError as exc:
        report.damaged.append(str(exc))
    except FileNotFoundError as exc:
        report.damaged.append(f"missing file {exc.filename}")
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the database folder (Client(path=...))")


def run(args: argparse.Namespace) -> int:
    report = verify_database(args.path)
    for message in report.damaged:
        log.error("%s", message)
    summary = (f"{args.path}: {report.slabs} slabs, {report.files} files, {report.bytes:,} bytes checked; "
               f"{'no damage' if report.ok else f'{len(report.damaged)} damaged'}")
    (log.info if report.ok else log.error)("%s", summary)
    print(summary)
    return 0 if report.ok else 1
