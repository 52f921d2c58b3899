"""Request log: the durable, append-only record of one namespace's write requests.

The log is a directory of segment files named by the LSN of their first record. A write
appends one record (``codec.encode_record``) under the index lock, then waits outside the
lock until the record is fsync'd; concurrent writers share one fsync (group commit). A
checkpoint (a flush that persisted the namespace's state up to LSN C) rotates the active
segment and deletes every segment whose records are all <= C.

Reading checks every record's CRC32. A bad record at the end of the last segment is a torn
write from a crash: it is dropped with a warning (and cut off when opened for writing). A bad
record followed by a good one, a bad record in an older segment, or a gap in the LSNs is
damage, and raises DataLossError naming the file.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import DataLossError, InternalError
from ..journal import Op
from .codec import BODY_HEAD, HEADER, MAGIC, decode_body, encode_record
from .files import crash_point, fsync_dir

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".log"
MAX_SEGMENT_BYTES = 64 << 20
_fdatasync = getattr(os, "fdatasync", os.fsync)


def segment_name(first_lsn: int) -> str:
    return f"{first_lsn:020d}{SEGMENT_SUFFIX}"


class Segment:
    """One segment file; ``written``/``synced`` are byte offsets (synced <= written)."""

    def __init__(self, path: Path, first_lsn: int, fd: int | None = None, size: int = 0, last_lsn: int = 0) -> None:
        self.path = path
        self.first_lsn = first_lsn
        self.last_lsn = last_lsn
        self.fd = fd
        self.written = size
        self.synced = size
        self._sync_lock = threading.Lock()

    def sync_to(self, offset: int) -> None:
        """Return once bytes [0, offset) are on disk; one caller fsyncs for all waiting ones."""
        if self.synced >= offset:
            return
        with self._sync_lock:
            if self.synced >= offset or self.fd is None:
                return
            target = self.written  # everything written before this fsync starts is covered
            _fdatasync(self.fd)
            self.synced = max(self.synced, target)

    def close(self) -> None:
        with self._sync_lock:
            if self.fd is None:
                return
            if self.synced < self.written:
                _fdatasync(self.fd)
                self.synced = self.written
            os.close(self.fd)
            self.fd = None


@dataclass(frozen=True)
class Ticket:
    """What a writer waits on: its record is durable once ``segment`` is synced to ``end``."""

    segment: Segment
    end: int


class NamespaceLog:
    """The writable request log of one namespace (its directory already exists)."""

    def __init__(self, directory: Path, segments: list[Segment]) -> None:
        self.directory = directory
        self.closed_segments = segments  # older segments, read at recovery, no longer appended to
        self.active: Segment | None = None
        self.failed: str | None = None
        self._lock = threading.Lock()  # the index lock already orders writers; this guards against misuse

    def append(self, lsn: int, op: Op) -> Ticket:
        """Write one record (not yet durable: pass the ticket to ``sync``)."""
        data = encode_record(lsn, op)
        with self._lock:
            return self._append(lsn, data)

    def _append(self, lsn: int, data: bytes) -> Ticket:
        if self.failed:
            raise InternalError(f"the request log {self.directory} failed earlier ({self.failed}); reopen the client")
        segment = self.active
        if segment is None or segment.written > MAX_SEGMENT_BYTES:
            segment = self._rotate(lsn)
        assert segment.fd is not None
        start = segment.written
        try:
            if os.environ.get("TOOLKIT_STORAGE_CRASH_AT", "").startswith("log-append-partial"):
                os.write(segment.fd, data[: len(data) // 2])
                crash_point("log-append-partial")
                os.ftruncate(segment.fd, start)
            _write_all(segment.fd, data)
        except OSError as exc:
            try:  # cut the partial record off, so the next append does not follow garbage
                os.ftruncate(segment.fd, start)
            except OSError:
                self.failed = str(exc)
            raise InternalError(f"cannot append to the request log {segment.path}: {exc}") from None
        segment.written = start + len(data)
        segment.last_lsn = lsn
        return Ticket(segment, segment.written)

    @staticmethod
    def sync(ticket: Ticket) -> None:
        try:
            ticket.segment.sync_to(ticket.end)
        except OSError as exc:
            raise InternalError(f"cannot fsync the request log {ticket.segment.path}: {exc}") from None

    def _rotate(self, first_lsn: int) -> Segment:
        if self.active is not None:
            self.active.close()
            self.closed_segments.append(self.active)
        path = self.directory / segment_name(first_lsn)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.ftruncate(fd, 0)  # a leftover empty or cut-off file of the same name
        fsync_dir(self.directory)
        self.active = Segment(path, first_lsn, fd)
        return self.active

    def last_lsn(self) -> int:
        """Return the LSN of the last record appended (0 when no segment holds one)."""
        with self._lock:
            segments = [*self.closed_segments, *([self.active] if self.active else [])]
            return max((segment.last_lsn for segment in segments), default=0)

    def sync_all(self) -> int:
        """Make every record appended so far durable; return the last one's LSN (0: none).

        Closed segments were synced when closed; the active one is fsync'd up to what it held
        when this was called (records appended meanwhile are not covered, nor counted).
        """
        with self._lock:
            active = self.active
            end = active.written if active is not None else 0
            last = max((segment.last_lsn for segment in [*self.closed_segments, *([active] if active else [])]),
                       default=0)
        if active is not None:
            active.sync_to(end)  # an OSError propagates: the caller decides what a failed fsync means
        return last

    def truncate_upto(self, lsn: int) -> None:
        """Forget records <= lsn: rotate the active segment and delete fully covered ones."""
        with self._lock:
            self._truncate_upto(lsn)

    def _truncate_upto(self, lsn: int) -> None:
        if self.active is not None and self.active.first_lsn <= lsn:
            self.active.close()
            self.closed_segments.append(self.active)
            self.active = None
        keep, removed = [], False
        for segment in self.closed_segments:
            if segment.last_lsn <= lsn:
                segment.close()
                try:
                    segment.path.unlink()
                except FileNotFoundError:
                    pass
                removed = True
            else:
                keep.append(segment)
        self.closed_segments = keep
        if removed:
            crash_point("log-truncated")
            fsync_dir(self.directory)

    def close(self) -> None:
        with self._lock:
            for segment in [*self.closed_segments, *([self.active] if self.active else [])]:
                segment.close()
            self.failed = self.failed or "closed"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    out = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        try:
            out.append((int(path.name[: -len(SEGMENT_SUFFIX)]), path))
        except ValueError:
            continue
    return sorted(out)


def read_log(
    directory: Path, after_lsn: int, *, repair: bool, namespace: str = "", quiet_tail: bool = False,
    torn: list[Path] | None = None,
) -> tuple[list[tuple[int, Op]], list[Segment]]:
    """Return the records with LSN > ``after_lsn`` in order, and the segments found.

    ``repair`` (the writer) cuts a torn tail off the last segment and removes empty ones;
    ``quiet_tail`` (a read-only reader racing a live writer) drops a torn tail silently.
    ``torn``: a list that gets the path of a segment whose torn tail was dropped.
    """
    records: list[tuple[int, Op]] = []
    segments: list[Segment] = []
    found = list_segments(directory)
    expected = after_lsn + 1
    for position, (first_lsn, path) in enumerate(found):
        last = position == len(found) - 1
        data = path.read_bytes()
        good_end, seg_last = 0, 0
        for end, body in _scan(data, path, last, quiet_tail, namespace):
            lsn = BODY_HEAD.unpack_from(body, 0)[0]
            if lsn > after_lsn:
                if lsn != expected:
                    raise DataLossError(
                        f"the request log of namespace {namespace!r} jumps from LSN {expected - 1} to {lsn} "
                        f"in {path}; a segment is missing or damaged"
                    )
                records.append(decode_body(body))
                expected = lsn + 1
            good_end, seg_last = end, lsn
        if good_end < len(data) and torn is not None:
            torn.append(path)
        if repair and good_end < len(data):
            with open(path, "r+b") as handle:
                handle.truncate(good_end)
                handle.flush()
                os.fsync(handle.fileno())
        if good_end == 0:
            if repair:
                path.unlink()
                fsync_dir(directory)
            continue
        segments.append(Segment(path, first_lsn, None, good_end, seg_last))
    return records, segments


def _scan(data: bytes, path: Path, last: bool, quiet_tail: bool, namespace: str) -> Iterator[tuple[int, memoryview]]:
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        body_end = _valid_record_end(data, view, offset)
        if body_end is None:
            _bad_record(data, view, offset, path, last, quiet_tail, namespace)
            return
        yield body_end, view[offset + HEADER.size : body_end]
        offset = body_end


def _valid_record_end(data: bytes, view: memoryview, offset: int) -> int | None:
    if len(data) - offset < HEADER.size:
        return None
    magic, length, crc = HEADER.unpack_from(data, offset)
    end = offset + HEADER.size + length
    if magic != MAGIC or end > len(data) or zlib.crc32(view[offset + HEADER.size : end]) != crc:
        return None
    return end


def _bad_record(data: bytes, view: memoryview, offset: int, path: Path, last: bool, quiet: bool, ns: str) -> None:
    candidate = data.find(MAGIC, offset + 1)
    while candidate != -1:
        if _valid_record_end(data, view, candidate) is not None:
            raise DataLossError(
                f"damaged record at byte {offset} of the request log {path} (namespace {ns!r}); "
                "later records are intact, so this is not a torn write"
            )
        candidate = data.find(MAGIC, candidate + 1)
    if not last:
        raise DataLossError(f"damaged record at byte {offset} of the request log {path} (namespace {ns!r})")
    message = (f"dropping a torn write at the end of the request log {path} (namespace {ns!r}): "
               f"{len(data) - offset} bytes that fail their checksum (a write cut short by a crash)")
    if quiet:
        log.debug(message)
        return
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=2)
