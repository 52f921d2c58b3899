"""Disk storage: a persistent client's folder — request logs, slab files and manifests.

    <folder>/toolkit.json                      format marker (checksummed JSON)
    <folder>/LOCK                              the writer's flock (holds its pid)
    <folder>/indexes/<index>/index.json        config, deletion protection, tags, namespace folders (replaced
                                               atomically)
    <folder>/indexes/<index>/namespaces/<id>/  one directory per namespace (ids are never reused)
        MANIFEST                               name, checkpoint LSN, durable LSN, live slabs + their CRCs,
                                               masks file
        masks-<generation>.npz                 packed live masks of the slabs that have dead rows
        slabs/<n>/                             immutable slab directories (see slabfile.py)
        log/<first lsn>.log                    request-log segments (see log.py)
    <folder>/backups/<backup id>/              backups (see backups.py)
    <folder>/trash/                            directories being deleted (emptied on open)

A write is appended to its namespace's log and fsync'd before it is acknowledged. When a
flush or merge changes the slab set, ``NamespaceStore.checkpoint`` writes the new slabs,
then the live masks, then replaces MANIFEST; if the memtable holds no live row the state is
exactly "every write up to max_indexed_lsn", which becomes the checkpoint LSN and the log
segments it covers are deleted. Reopening loads the manifest's slabs, applies the masks and
replays the log records after the checkpoint LSN. Masks written after the checkpoint LSN are
safe to load before the replay: a dead row stays dead, and replaying a kill is idempotent.

Silent loss is named at open (DataLossError): index.json lists the namespace folders (a new
one from its first sync or checkpoint, so before any write to it is acknowledged; a dropped
one before its folder goes), so a listed folder that is missing is loss and an unlisted one
is a crash leftover, removed. MANIFEST's ``durable_lsn`` (written at checkpoints, after a log
fsync, and at a clean close — never per write) is a high-water mark: a log that ends before
it lost segments or was cut at a record boundary. A torn tail lowers it once, with a warning.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..engine import SlabBuilder
from ..errors import DataLossError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError
from ..index_config import IndexConfig
from ..journal import Checkpoint, Journal, Op, Recovered, StoredIndex
from ..journal import Ticket as JournalTicket
from ..lsn import Lsn
from ..segment import Slab
from .backups import DiskBackups
from .config import config_from_dict, config_to_dict, plain
from .files import (
    crash_point,
    crc_of_bytes,
    fsync_dir,
    read_checked_json,
    remove_tree,
    write_checked_json,
    write_file,
)
from .lock import LOCK_FILE, FolderLock
from .log import NamespaceLog, Ticket, read_log
from .memory import MemoryStorage
from .slabfile import load_slab, slab_info, write_rows_dir

log = logging.getLogger(__name__)

FORMAT_FILE = "toolkit.json"
FORMAT = "vector-toolkit.db/1"
INDEX_FILE = "index.json"
MANIFEST = "MANIFEST"
MANIFEST_FORMAT = "toolkit.namespace/1"
READ_ONLY_RETRIES = 40


class _SnapshotMoved(Exception):
    """A read-only reader raced the writer's checkpoint; it reads the namespace again."""


class DiskStorage(MemoryStorage):
    """The storage of ``Client(path=...)``: one folder, one writer, any number of readers."""

    persistent = True

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False) -> None:
        super().__init__()
        self.root = Path(path).expanduser()
        self.read_only = read_only
        self._lock: FolderLock | None = None
        self._stores: dict[str, IndexStore] = {}
        if not str(path):
            raise InvalidArgumentError("path is empty; give the database folder (None: in memory)", path="path")
        try:
            self._open(read_only)
        except BaseException:
            self._release_lock()
            raise
        self.backups = DiskBackups(self.root / "backups", self)

    def _open(self, read_only: bool) -> None:
        """Check the folder, then (writer) lock and prepare it; write nothing into a folder refused."""
        try:
            if self.root.exists() and not self.root.is_dir():
                raise InvalidArgumentError(f"{str(self.root)!r} is a file; a database is a folder", path="path")
            if read_only:
                if not (self.root / FORMAT_FILE).is_file():
                    raise NotFoundError(f"no toolkit database at {str(self.root)!r} to open read-only", path="path")
            else:
                self._refuse_foreign_folder()
                self.root.mkdir(parents=True, exist_ok=True)
                self._lock = FolderLock(self.root)
                self._prepare_folder()
            info = read_checked_json(self.root / FORMAT_FILE)
        except OSError as exc:  # a permission, a /proc folder, a full disk: never a raw OS error
            raise FailedPreconditionError(
                f"cannot open the database folder {str(self.root)!r}: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename else ""), path="path") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            got = info.get("format") if isinstance(info, dict) else info
            raise InvalidArgumentError(f"{self.root} holds format {got!r}, expected {FORMAT!r}", path="path")

    def _refuse_foreign_folder(self) -> None:
        """Refuse an existing folder that holds files but no database, before the lock is taken."""
        if not self.root.is_dir() or (self.root / FORMAT_FILE).exists():
            return
        others = [p.name for p in self.root.iterdir() if p.name not in (LOCK_FILE, f".{FORMAT_FILE}.tmp")]
        if "indexes" in others and (self.root / "indexes").is_dir():
            raise DataLossError(f"missing file {self.root / FORMAT_FILE}: the folder holds indexes/ but no "
                                "format marker")
        if others:
            raise InvalidArgumentError(
                f"{str(self.root)!r} is not empty and is not a toolkit database (found {sorted(others)[:5]})",
                path="path")

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _prepare_folder(self) -> None:
        marker = self.root / FORMAT_FILE
        if not marker.exists():
            self._refuse_foreign_folder()  # again, under the lock: another writer may have raced us
            for sub in ("indexes", "backups", "trash"):
                (self.root / sub).mkdir(exist_ok=True)
            fsync_dir(self.root)
            write_checked_json(marker, {"format": FORMAT, "created_at": time.time()})
        for sub in ("indexes", "backups", "trash"):
            (self.root / sub).mkdir(exist_ok=True)
        for leftover in (self.root / "trash").iterdir():
            remove_tree(leftover)
        for parent in (self.root / "indexes", self.root / "backups"):
            for leftover in parent.glob(".tmp-*"):
                remove_tree(leftover)

    # -- client seams ------------------------------------------------------------------------
    def load(self, builders: Callable[[], Mapping[str, type[SlabBuilder]]]) -> list[StoredIndex]:
        """Read every stored index: config and meta, then its namespaces' slabs, masks and log tails.

        A failed load leaves nothing open: the logs read so far are closed and the folder lock
        released, so the folder can be repaired and opened again; an OS error is a DataLossError
        naming the file.
        """
        try:
            return self._load_all(builders)
        except BaseException as exc:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._release_lock()
            if isinstance(exc, FileNotFoundError):
                raise DataLossError(f"missing file {exc.filename}") from None
            if isinstance(exc, OSError):
                raise DataLossError(f"cannot read {exc.filename or self.root}: {exc.strerror or exc}") from None
            raise

    def _load_all(self, builders: Callable[[], Mapping[str, type[SlabBuilder]]]) -> list[StoredIndex]:
        folder = self.root / "indexes"
        out = []
        for index_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            store = self._retrying(functools.partial(self._load_index, index_dir, builders()))
            if store is None:  # deleted by the writer while a reader opened
                continue
            self._stores[store.config.name] = store
            out.append(StoredIndex(store.config, dict(store.meta), store))
        return out

    def _retrying(self, load: Callable[[], IndexStore | None]) -> IndexStore | None:
        """Load; a read-only reader retries when the live writer replaced files under it."""
        attempts = READ_ONLY_RETRIES if self.read_only else 1
        for attempt in range(attempts):
            try:
                return load()
            except (FileNotFoundError, DataLossError, _SnapshotMoved) as exc:
                if attempt == attempts - 1:
                    if isinstance(exc, _SnapshotMoved):
                        raise InternalError(f"could not read a consistent snapshot of {self.root}: the writer "
                                            "kept checkpointing; try again") from None
                    raise
                time.sleep(0.01 * (attempt + 1))
        return None

    def _load_index(self, index_dir: Path, builders: Mapping[str, type[SlabBuilder]]) -> IndexStore | None:
        try:
            info = read_checked_json(index_dir / INDEX_FILE)
        except FileNotFoundError:
            if not index_dir.exists():
                return None
            raise DataLossError(f"missing index file {index_dir / INDEX_FILE}") from None
        config = config_from_dict(info["config"])
        store = IndexStore(self, config, index_dir, info["meta"])
        listed = info.get("namespaces")  # absent in folders written before the list existed
        try:
            store.read(builders, None if listed is None else set(listed))
        except BaseException:
            store.close()
            raise
        return store

    def _store(self, name: str) -> IndexStore:
        store = self._stores.get(name)
        if store is None:
            raise InternalError(f"index {name!r} has no store")  # pragma: no cover
        return store

    def index_created(self, config: IndexConfig, meta: Mapping[str, Any]) -> Journal:
        self.check_writable()
        final = self.root / "indexes" / config.name
        if final.exists():  # left by a delete that crashed before its rename
            self.trash(final)
        tmp = self.root / "indexes" / f".tmp-{config.name}"
        remove_tree(tmp)
        (tmp / "namespaces").mkdir(parents=True)
        write_checked_json(tmp / INDEX_FILE, _index_info(config, meta, ()))
        fsync_dir(tmp / "namespaces")
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        store = self._stores[config.name] = IndexStore(self, config, final, meta)
        return store

    def meta_changed(self, config: IndexConfig, meta: Mapping[str, Any]) -> None:
        self.check_writable()
        self._store(config.name).meta_changed(meta)

    def index_deleted(self, name: str) -> None:
        self.check_writable()
        store = self._stores.pop(name)
        store.close()
        self.trash(store.directory)

    def trash(self, directory: Path) -> None:
        """Delete a directory durably: rename it into trash/ (atomic), then remove it."""
        target = self.root / "trash" / f"{directory.name}-{uuid.uuid4().hex[:12]}"
        os.replace(directory, target)
        fsync_dir(directory.parent)
        fsync_dir(target.parent)
        remove_tree(target)

    def close(self) -> None:
        for store in self._stores.values():
            store.close()  # the shards closed their journals already (under their write locks)
            if not self.read_only and not self.closed:
                store.record_high_water()  # here, with no shard lock held
        self._stores.clear()
        super().close()
        self._release_lock()


def _index_info(config: IndexConfig, meta: Mapping[str, Any], namespaces: Iterable[str]) -> dict[str, Any]:
    # "namespaces" lists the namespace folders that must exist, so a vanished one is named at open
    return {"format": "toolkit.index/1", "config": config_to_dict(config), "meta": plain(meta),
            "namespaces": sorted(namespaces)}


class IndexStore:
    """The journal of one persistent index (``toolkit.journal.Journal``): a log and slab store per namespace."""

    def __init__(self, storage: DiskStorage, config: IndexConfig, directory: Path, meta: Mapping[str, Any]) -> None:
        self.storage = storage
        self.config = config
        self.directory = directory
        self.ns_root = directory / "namespaces"
        self.saved_config = config
        self.meta: dict[str, Any] = dict(meta)
        self._next_ns = 1
        self._recovered: list[Recovered] = []
        self._namespace_stores: list[NamespaceStore] = []
        self.ns_dirs: set[str] = set()  # the namespace folders index.json lists
        self._lock = threading.RLock()  # guards the list of namespace stores and index.json

    def _write_index_file(self) -> None:
        """Replace index.json: config, meta and the list of namespace folders (call with ``_lock``)."""
        write_checked_json(self.directory / INDEX_FILE, _index_info(self.config, self.meta, self.ns_dirs))
        self.saved_config = self.config

    def meta_changed(self, meta: Mapping[str, Any]) -> None:
        """Store the index's new deletion protection or tags."""
        with self._lock:
            self.meta = dict(meta)
            self._write_index_file()

    def list_namespace(self, store: NamespaceStore) -> None:
        """List a new namespace's folder in index.json, before any write to it is acknowledged."""
        with self._lock:
            if store.listed or store.dropped:
                return
            self.ns_dirs.add(store.directory.name)
            self._write_index_file()
            store.listed = True

    def unlist_namespace(self, store: NamespaceStore) -> None:
        """Remove a namespace's folder from index.json (before the folder goes, so a crash leaves no hole)."""
        with self._lock:
            if store.directory.name in self.ns_dirs:
                self.ns_dirs.discard(store.directory.name)
                self._write_index_file()

    # -- Journal -------------------------------------------------------------------------------
    def check_writable(self) -> None:
        self.storage.check_writable()

    def open_namespace(self, name: str) -> NamespaceStore:
        self.storage.check_writable()
        number = f"{self._next_ns:06d}"
        self._next_ns += 1
        tmp = self.ns_root / f".tmp-{number}"
        remove_tree(tmp)
        (tmp / "log").mkdir(parents=True)
        (tmp / "slabs").mkdir()
        manifest = _manifest(name, 0, 0, 1, [], None)
        write_checked_json(tmp / MANIFEST, manifest)
        for directory in (tmp / "log", tmp / "slabs", tmp):
            fsync_dir(directory)
        os.replace(tmp, self.ns_root / number)
        fsync_dir(self.ns_root)
        directory = self.ns_root / number
        # listed in index.json by the first sync or checkpoint (outside the shard's write lock): until
        # then nothing in it is acknowledged, and a crash leaves an unlisted folder that the next open removes
        store = NamespaceStore(self, directory, manifest, NamespaceLog(directory / "log", []), {}, listed=False)
        return self._track(store)

    def _track(self, store: NamespaceStore) -> NamespaceStore:
        with self._lock:
            self._namespace_stores.append(store)
        return store

    def forget(self, store: NamespaceStore) -> None:
        with self._lock:
            if store in self._namespace_stores:
                self._namespace_stores.remove(store)

    def recover(self, builders: Mapping[str, type[SlabBuilder]], tiers: int) -> list[Recovered]:
        """Return the namespaces read when the index was opened (once)."""
        recovered, self._recovered = self._recovered, []
        return recovered

    def config_changed(self, config: IndexConfig) -> None:
        with self._lock:
            self.config = config

    # -- recovery ------------------------------------------------------------------------------
    def read(self, builders: Mapping[str, type[SlabBuilder]], listed: set[str] | None = None) -> None:
        """Read every namespace of the index from its directory (for ``recover``).

        ``listed``: the namespace folders index.json names (None in folders written before the
        list existed); a missing one is data loss, an unlisted one is what a crash left of a
        namespace being created or deleted (removed by the writer, ignored by a reader).
        """
        writer = not self.storage.read_only
        if not self.ns_root.is_dir():
            raise DataLossError(f"missing namespaces folder {self.ns_root}")
        dirs = sorted(p for p in self.ns_root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if writer:
            for leftover in self.ns_root.glob(".tmp-*"):
                remove_tree(leftover)
        numbers = [int(p.name) for p in dirs if p.name.isdigit()]
        self._next_ns = max(numbers, default=0) + 1
        if listed is not None:
            missing = sorted(listed - {p.name for p in dirs})
            if missing:
                raise DataLossError(f"namespace folders {missing} listed in {self.directory / INDEX_FILE} are "
                                    f"missing from {self.ns_root}; their records are lost")
            for extra in (p for p in dirs if p.name not in listed):
                if writer:
                    log.warning("removing %s: a namespace folder no index file lists (a crash during "
                                "create or delete namespace)", extra)
                    self.storage.trash(extra)
            dirs = [p for p in dirs if p.name in listed]
        self.ns_dirs = {p.name for p in dirs}
        self._recovered = [self._read_namespace(ns_dir, writer, builders) for ns_dir in dirs]

    def _read_namespace(self, ns_dir: Path, writer: bool, builders: Mapping[str, type[SlabBuilder]]) -> Recovered:
        manifest = read_checked_json(ns_dir / MANIFEST)
        if manifest.get("format") != MANIFEST_FORMAT:
            raise DataLossError(f"damaged file {ns_dir / MANIFEST}: unknown format {manifest.get('format')!r}")
        tiers = len(self.config.engine.tiers)
        slabs, persisted = [], {}
        for entry in manifest["slabs"]:
            slab = load_slab(ns_dir / "slabs" / entry["dir"], entry["crc32"], builders, tiers)
            slabs.append(slab)
            persisted[slab.number] = (entry["dir"], slab.rows, slab.index, entry["crc32"])
        if manifest["masks"] is not None:
            _apply_masks(ns_dir / manifest["masks"]["file"], manifest["masks"]["crc32"], manifest["slabs"], slabs)
        checkpoint = int(manifest["checkpoint_lsn"])
        torn: list[Path] = []
        records, segments = read_log(ns_dir / "log", checkpoint, repair=writer, namespace=manifest["name"],
                                     quiet_tail=not writer, torn=torn)
        tail = [(Lsn(lsn), op) for lsn, op in records]
        last = records[-1][0] if records else checkpoint
        durable = int(manifest.get("durable_lsn", 0))
        if last < durable and torn:  # a crash cut the tail (already warned): the log is the truth
            durable = last
            if writer:
                manifest = {**manifest, "durable_lsn": durable}
                write_checked_json(ns_dir / MANIFEST, manifest)
        if last < durable:
            raise DataLossError(
                f"the request log of namespace {manifest['name']!r} ends at LSN {last}, but "
                f"{ns_dir / MANIFEST} recorded LSN {durable} as durable: log segments in {ns_dir / 'log'} "
                "were deleted or cut short")
        if not writer:
            # The writer replaces MANIFEST before it deletes the slabs and log segments it no
            # longer needs, so if the manifest is unchanged, everything read above was consistent.
            if read_checked_json(ns_dir / MANIFEST)["generation"] != manifest["generation"]:
                raise _SnapshotMoved(ns_dir)
            store = NamespaceStore(self, ns_dir, manifest, NamespaceLog(ns_dir / "log", segments), persisted)
            store.close()  # a reader writes nothing: pending slabs stay pending (searched by exact scan)
            return Recovered(manifest["name"], store, slabs, Lsn(checkpoint), tail)
        live = {entry["dir"] for entry in manifest["slabs"]}
        for leftover in (ns_dir / "slabs").iterdir():
            if leftover.name not in live:
                remove_tree(leftover)
        masks = manifest["masks"]["file"] if manifest["masks"] else None
        for leftover in ns_dir.glob("masks-*.npz"):
            if leftover.name != masks:
                leftover.unlink()
        store = NamespaceStore(self, ns_dir, manifest, NamespaceLog(ns_dir / "log", segments), persisted)
        store.log.truncate_upto(checkpoint)  # segments a crash left behind after the manifest covered them
        return Recovered(manifest["name"], self._track(store), slabs, Lsn(checkpoint), tail)

    def save_config_if_changed(self, config: IndexConfig | None = None) -> None:
        """Rewrite index.json when the index's config changed (e.g. a rebuild with another engine)."""
        with self._lock:
            if config is not None:
                self.config = config
            if self.config is not self.saved_config and not self.storage.read_only:
                self._write_index_file()

    def close(self) -> None:
        if not self.storage.closed:
            self.save_config_if_changed()  # e.g. rebuild(engine=...) of an index without slabs
        with self._lock:
            stores = list(self._namespace_stores)
        for store in stores:
            store.close()

    def record_high_water(self) -> None:
        """Record each closed namespace log's last LSN in its MANIFEST (a clean close; no shard lock held)."""
        with self._lock:
            stores = list(self._namespace_stores)
        for store in stores:
            store.record_high_water()


def _manifest(name: str, checkpoint: int, generation: int, next_slab: int, slabs: list[dict[str, Any]],
              masks: dict[str, Any] | None, durable: int = 0) -> dict[str, Any]:
    # durable_lsn: every record up to it was on disk when this manifest was written (a high-water
    # mark, written at checkpoints and clean closes only), so a log that ends before it lost records
    return {"format": MANIFEST_FORMAT, "name": name, "checkpoint_lsn": checkpoint, "generation": generation,
            "next_slab": next_slab, "slabs": slabs, "masks": masks, "durable_lsn": max(durable, checkpoint)}


def _apply_masks(path: Path, crc: int, entries: list[dict[str, Any]], slabs: list[Slab]) -> None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataLossError(f"missing live-mask file {path}") from None
    if crc_of_bytes(raw) != crc:
        raise DataLossError(f"damaged live-mask file {path}: checksum does not match the manifest")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            packed = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise DataLossError(f"damaged live-mask file {path}: {exc}") from None
    for entry, slab in zip(entries, slabs):
        bits = packed.get(entry["dir"])
        if bits is not None:
            slab.alive = np.unpackbits(bits, count=len(slab)).astype(bool)


class NamespaceStore:
    """One namespace's log and slab store (``toolkit.journal.NamespaceJournal``)."""

    def __init__(self, index_store: IndexStore, directory: Path, manifest: Mapping[str, Any], log_: NamespaceLog,
                 persisted: dict[int, tuple[str, Any, Any, int]], *, listed: bool = True) -> None:
        self.index_store = index_store
        self.directory = directory
        self.log = log_
        self.name = manifest["name"]
        self.checkpoint_lsn = int(manifest["checkpoint_lsn"])
        self.generation = int(manifest["generation"])
        self.masks_file: str | None = manifest["masks"]["file"] if manifest["masks"] else None
        self.durable_lsn = int(manifest.get("durable_lsn", 0))
        self.manifest = dict(manifest)  # as last written
        self.listed = listed  # index.json names this folder
        self.dropped = False
        existing = [int(p.name) for p in (directory / "slabs").iterdir() if p.name.isdigit()]
        self._next_slab = max([int(manifest["next_slab"]), *(n + 1 for n in existing)])
        # slab.number -> (directory name, rows, index, CRC of SLAB.json): reused while rows and index are the same
        # objects; these are the slabs MANIFEST names.
        self.persisted = persisted
        self.closed = False
        self._lock = threading.RLock()

    # -- NamespaceJournal ------------------------------------------------------------------------
    def append(self, lsn: Lsn, op: Op) -> Ticket:
        self.index_store.storage.check_writable()
        if self.closed:
            raise InternalError(f"namespace {self.name!r} of index {self.index_store.config.name!r} "
                                "has no open log")
        return self.log.append(lsn, op)

    def sync(self, ticket: JournalTicket | None) -> None:
        if not self.listed:
            self._list()
        if isinstance(ticket, Ticket):
            NamespaceLog.sync(ticket)

    def _list(self) -> None:
        try:
            self.index_store.list_namespace(self)
        except OSError as exc:
            raise InternalError(f"cannot list namespace {self.name!r} in "
                                f"{self.index_store.directory / INDEX_FILE}: {exc}") from None

    def drop(self) -> None:
        self.index_store.storage.check_writable()
        self.close()
        self.dropped = True
        self.index_store.forget(self)
        self.index_store.unlist_namespace(self)  # unlisted first: a crash before the trash leaves a folder open removes
        self.index_store.storage.trash(self.directory)

    def _slab_name(self) -> str:
        with self._lock:
            name = f"{self._next_slab:08d}"
            self._next_slab += 1
            return name

    def checkpoint(self, state: Checkpoint) -> None:
        """Persist a published slab set: new slabs, then masks, then MANIFEST (no shard lock held)."""
        with self._lock:
            if self.closed or self.index_store.storage.read_only:
                return
            try:
                self._checkpoint(state)
            except OSError as exc:  # nothing is lost: the log still holds every write since the last checkpoint
                log.warning("checkpoint of namespace %r in %s failed (%s); will retry at the next flush",
                            state.namespace, self.directory, exc)

    def _checkpoint(self, state: Checkpoint) -> None:
        self.index_store.save_config_if_changed(state.config)
        if not self.listed:
            self.index_store.list_namespace(self)
        entries, current = [], {}
        for slab in state.slabs:
            known = self.persisted.get(slab.number)
            if known is None or known[1] is not slab.rows or known[2] is not slab.index:
                name = self._slab_name()
                crc = write_rows_dir(self.directory / "slabs", name, slab.rows, slab_info(slab, state.metric),
                                     slab.index)
                known = (name, slab.rows, slab.index, crc)
            current[slab.number] = known
            entries.append({"dir": known[0], "crc32": known[3], "rows": len(slab), "tier": slab.tier,
                            "level": slab.level})
        crash_point("slab-written")
        generation = self.generation + 1
        dead: dict[str, Any] = {current[slab.number][0]: np.packbits(alive)
                                for slab, alive in zip(state.slabs, state.masks) if not alive.all()}
        masks: dict[str, Any] | None = None
        if dead:
            buffer = io.BytesIO()
            np.savez(buffer, **dead)
            data = buffer.getvalue()
            masks_name = f"masks-{generation:08d}.npz"
            write_file(self.directory / masks_name, data)
            masks = {"file": masks_name, "crc32": crc_of_bytes(data)}
            crash_point("masks-written")
        if state.applied_lsn is not None:  # the memtable held no live row: the slabs are everything
            checkpoint = max(self.checkpoint_lsn, int(state.applied_lsn))
        else:
            checkpoint = self.checkpoint_lsn
        durable = max(self.durable_lsn, self.log.sync_all())  # the log's records so far are on disk
        manifest = _manifest(state.namespace, checkpoint, generation, self._next_slab, entries, masks, durable)
        write_checked_json(self.directory / MANIFEST, manifest)
        crash_point("manifest-replaced")
        self.manifest, self.durable_lsn = manifest, manifest["durable_lsn"]
        old_dirs = {known[0] for known in self.persisted.values()} - {known[0] for known in current.values()}
        old_masks = self.masks_file
        self.persisted, self.generation, self.checkpoint_lsn = current, generation, checkpoint
        self.masks_file = masks["file"] if masks else None
        for name in old_dirs:
            remove_tree(self.directory / "slabs" / name)
        if old_masks and old_masks != self.masks_file:
            (self.directory / old_masks).unlink(missing_ok=True)
        self.log.truncate_upto(checkpoint)

    def record_high_water(self) -> None:
        """After a clean close: rewrite MANIFEST with the log's last LSN, so a log cut later is noticed at open."""
        with self._lock:
            if self.dropped or self.index_store.storage.read_only:
                return
            try:
                durable = self.log.sync_all()  # closed segments were synced when they were closed
                if durable > 0 and not self.listed:
                    self.index_store.list_namespace(self)
                if durable > self.durable_lsn:
                    manifest = {**self.manifest, "durable_lsn": durable}
                    write_checked_json(self.directory / MANIFEST, manifest)
                    self.manifest, self.durable_lsn = manifest, durable
            except OSError as exc:  # the log is intact; only the extra check is lost
                log.warning("could not record the log's high-water mark in %s (%s)", self.directory, exc)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.log.close()
