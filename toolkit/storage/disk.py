"""Disk storage: a persistent client's folder — request logs, slab files and manifests.

    <folder>/toolkit.json                      format marker (checksummed JSON)
    <folder>/LOCK                              the writer's flock (holds its pid)
    <folder>/indexes/<index>/index.json        config, deletion protection, tags (replaced atomically)
    <folder>/indexes/<index>/namespaces/<id>/  one directory per namespace (ids are never reused)
        MANIFEST                               name, checkpoint LSN, live slabs + their CRCs, masks file
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
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from ..errors import DataLossError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError
from ..lsn import Lsn
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
from .journal import apply_op
from .lock import LOCK_FILE, FolderLock
from .log import NamespaceLog, Ticket, read_log
from .memory import MemoryStorage
from .slabfile import load_slab, slab_info, write_rows_dir

if TYPE_CHECKING:
    from ..index import Index
    from ..namespace import Namespace
    from ..segment import Slab

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

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, consistency: str = "strong",
                 apply_delay: float = 0.0) -> None:
        super().__init__(consistency, apply_delay)
        self.root = Path(path).expanduser()
        self.read_only = read_only
        self._lock: FolderLock | None = None
        self._stores: list[IndexStore] = []
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
            others = [p.name for p in self.root.iterdir() if p.name not in (LOCK_FILE, f".{FORMAT_FILE}.tmp")]
            if others:
                raise InvalidArgumentError(
                    f"{str(self.root)!r} is not empty and is not a toolkit database (found {sorted(others)[:5]})",
                    path="path")
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
    def load(self, client: Any) -> None:
        """Restore every stored index into ``client``: slabs, masks, then the log tail.

        A failed load leaves nothing open: the builders started so far are stopped, the logs
        closed and the folder lock released, so the folder can be repaired and opened again.
        """
        try:
            self._load_all(client)
        except BaseException as exc:
            for index in list(client._indexes.values()):
                index._stop_builder()
            for store in self._stores:
                store.close()
            self._stores.clear()
            self._release_lock()
            if isinstance(exc, FileNotFoundError):
                raise DataLossError(f"missing file {exc.filename}") from None
            if isinstance(exc, OSError):
                raise DataLossError(f"cannot read {exc.filename or self.root}: {exc.strerror or exc}") from None
            raise

    def _load_all(self, client: Any) -> None:
        folder = self.root / "indexes"
        for index_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            loaded = self._retrying(lambda d=index_dir: self._load_index(client, d))
            if loaded is None:  # deleted by the writer while a reader opened
                continue
            index, meta = loaded
            client._indexes[index.name] = index
            client._meta[index.name] = meta

    def _retrying(self, load: Any) -> Any:
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

    def _load_index(self, client: Any, index_dir: Path) -> tuple[Index, dict[str, Any]] | None:
        from ..index import Index

        try:
            info = read_checked_json(index_dir / INDEX_FILE)
        except FileNotFoundError:
            if not index_dir.exists():
                return None
            raise DataLossError(f"missing index file {index_dir / INDEX_FILE}") from None
        config = config_from_dict(info["config"])
        index = Index(config, client.settings, client.builders())
        store = IndexStore(self, index, index_dir, info["meta"])
        listed = info.get("namespaces")  # absent in folders written before the list existed
        try:
            store.recover(None if listed is None else set(listed))
        except BaseException:
            self._stores.remove(store)
            store.close()
            raise
        self.attach(index)
        return index, dict(info["meta"])

    def journal_for(self, index: Index) -> IndexStore:
        for store in self._stores:
            if store.index is index:
                return store
        raise InternalError(f"index {index.name!r} has no store")  # pragma: no cover

    def index_created(self, index: Index, meta: Mapping[str, Any]) -> None:
        self.check_writable()
        final = self.root / "indexes" / index.name
        if final.exists():  # left by a delete that crashed before its rename
            self.trash(final)
        tmp = self.root / "indexes" / f".tmp-{index.name}"
        remove_tree(tmp)
        (tmp / "namespaces").mkdir(parents=True)
        write_checked_json(tmp / INDEX_FILE, _index_info(index, meta, []))
        fsync_dir(tmp / "namespaces")
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        IndexStore(self, index, final, meta)
        self.attach(index)

    def meta_changed(self, index: Index, meta: Mapping[str, Any]) -> None:
        self.check_writable()
        store = self.journal_for(index)
        write_checked_json(store.directory / INDEX_FILE, _index_info(index, meta, store.ns_dirs))
        store.meta = dict(meta)

    def index_deleted(self, index: Index) -> None:
        self.check_writable()
        index._stop_builder()
        store = self.journal_for(index)
        store.close()
        self._stores.remove(store)
        self.trash(store.directory)

    def trash(self, directory: Path) -> None:
        """Delete a directory durably: rename it into trash/ (atomic), then remove it."""
        target = self.root / "trash" / f"{directory.name}-{uuid.uuid4().hex[:12]}"
        os.replace(directory, target)
        fsync_dir(directory.parent)
        fsync_dir(target.parent)
        remove_tree(target)

    def close(self, indexes: Iterable[Index]) -> None:
        super().close(indexes)
        for store in self._stores:
            if not self.read_only:
                with store.index._lock:
                    store.save_config_if_changed()  # e.g. rebuild(engine=...) of an index without slabs
                    store.record_high_water()
            store.close()
        self._stores.clear()
        self._release_lock()


def _index_info(index: Index, meta: Mapping[str, Any], namespaces: Iterable[str]) -> dict[str, Any]:
    # "namespaces" lists the namespace folders that must exist, so a vanished one is named at open
    return {"format": "toolkit.index/1", "config": config_to_dict(index.config), "meta": plain(meta),
            "namespaces": sorted(namespaces)}


class IndexStore:
    """The journal of one persistent index: a log and a slab store per namespace."""

    def __init__(self, storage: DiskStorage, index: Index, directory: Path, meta: Mapping[str, Any]) -> None:
        self.storage = storage
        self.index = index
        self.directory = directory
        self.ns_root = directory / "namespaces"
        self.saved_config = index.config
        self.meta: dict[str, Any] = dict(meta)
        self._restoring = False
        self._next_ns = 1
        self._namespace_stores: dict[int, NamespaceStore] = {}  # id(namespace) -> its store
        self.ns_dirs: set[str] = set()  # the namespace folders index.json lists
        storage._stores.append(self)

    def write_index_file(self) -> None:
        """Replace index.json (config, meta and the list of namespace folders)."""
        write_checked_json(self.directory / INDEX_FILE, _index_info(self.index, self.meta, self.ns_dirs))
        self.saved_config = self.index.config

    # -- Journal -------------------------------------------------------------------------------
    def attach(self, ns: Namespace) -> None:
        if self._restoring:
            return
        self.storage.check_writable()
        name = f"{self._next_ns:06d}"
        self._next_ns += 1
        tmp = self.ns_root / f".tmp-{name}"
        remove_tree(tmp)
        (tmp / "log").mkdir(parents=True)
        (tmp / "slabs").mkdir()
        manifest = _manifest(ns.name, 0, 0, 1, [], None)
        write_checked_json(tmp / MANIFEST, manifest)
        for directory in (tmp / "log", tmp / "slabs", tmp):
            fsync_dir(directory)
        os.replace(tmp, self.ns_root / name)
        fsync_dir(self.ns_root)
        self.ns_dirs.add(name)
        self.write_index_file()  # before any write to it is acknowledged
        directory = self.ns_root / name
        self._adopt(ns, NamespaceStore(self, directory, manifest, NamespaceLog(directory / "log", []), {}))

    def append(self, ns: Namespace, lsn: Lsn, op: str, payload: Any) -> Ticket:
        self.storage.check_writable()
        store = self._namespace_stores.get(id(ns))
        if store is None or store.ns is not ns or store.closed:
            raise InternalError(f"namespace {ns.name!r} of index {self.index.name!r} has no open log")
        return store.log.append(lsn, op, payload)

    def sync(self, ticket: Ticket | None) -> None:
        if ticket is not None:
            NamespaceLog.sync(ticket)

    def drop_namespace(self, ns: Namespace) -> None:
        self.storage.check_writable()
        store = self._namespace_stores.pop(id(ns), None)
        if store is not None:
            ns.on_slabs_changed = None
            store.close()
            self.ns_dirs.discard(store.directory.name)
            self.write_index_file()  # unlisted first: a crash before the trash leaves a folder open ignores
            self.storage.trash(store.directory)

    def _adopt(self, ns: Namespace, store: NamespaceStore) -> None:
        store.ns = ns
        self._namespace_stores[id(ns)] = store
        ns.on_slabs_changed = store.slabs_changed  # the namespace's persistence hook

    # -- recovery ------------------------------------------------------------------------------
    def recover(self, listed: set[str] | None = None) -> None:
        """Restore every namespace of the index from its directory.

        ``listed``: the namespace folders index.json names; a missing one is data loss, an
        unlisted one is what a crash left of a namespace being created or deleted.
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
        with self.index._lock:  # replayed flushes may start the merge worker, which commits under this lock
            for ns_dir in dirs:
                self._recover_namespace(ns_dir, writer)

    def _recover_namespace(self, ns_dir: Path, writer: bool) -> None:
        manifest = read_checked_json(ns_dir / MANIFEST)
        if manifest.get("format") != MANIFEST_FORMAT:
            raise DataLossError(f"damaged file {ns_dir / MANIFEST}: unknown format {manifest.get('format')!r}")
        index = self.index
        tiers = len(index.config.engine.tiers)
        slabs, persisted = [], {}
        for entry in manifest["slabs"]:
            slab = load_slab(ns_dir / "slabs" / entry["dir"], entry["crc32"], index._builders, tiers)
            slabs.append(slab)
            persisted[slab.number] = (entry["dir"], slab.rows, slab.index, entry["crc32"])
        if manifest["masks"] is not None:
            _apply_masks(ns_dir / manifest["masks"]["file"], manifest["masks"]["crc32"], manifest["slabs"], slabs)
        checkpoint = int(manifest["checkpoint_lsn"])
        self._restoring = True
        try:
            ns = index._namespace(manifest["name"], create=True)
        finally:
            self._restoring = False
        ns.restore(slabs, Lsn(checkpoint))
        torn: list[Path] = []
        records, segments = read_log(ns_dir / "log", checkpoint, repair=writer, namespace=manifest["name"],
                                     quiet_tail=not writer, torn=torn)
        for lsn, op, payload in records:
            apply_op(ns, Lsn(lsn), op, payload)
        ns.last_lsn = Lsn(records[-1][0] if records else checkpoint)
        durable = int(manifest.get("durable_lsn", 0))
        if ns.last_lsn < durable and torn:  # a crash cut the tail (already warned): the log is the truth
            durable = int(ns.last_lsn)
            if writer:
                manifest = {**manifest, "durable_lsn": durable}
                write_checked_json(ns_dir / MANIFEST, manifest)
        if ns.last_lsn < durable:
            raise DataLossError(
                f"the request log of namespace {manifest['name']!r} ends at LSN {int(ns.last_lsn)}, but "
                f"{ns_dir / MANIFEST} recorded LSN {durable} as durable: log segments in {ns_dir / 'log'} "
                "were deleted or cut short")
        if not writer:
            # The writer replaces MANIFEST before it deletes the slabs and log segments it no
            # longer needs, so if the manifest is unchanged, everything read above was consistent.
            if read_checked_json(ns_dir / MANIFEST)["generation"] != manifest["generation"]:
                raise _SnapshotMoved(ns_dir)
            return  # pending slabs stay pending (searched by exact scan); nothing is written
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
        self._adopt(ns, store)
        if any(slab.index is None and slab.error is None for slab in ns.slabs):
            ns.run_jobs()  # build the indexes of slabs persisted before their build finished

    def save_config_if_changed(self) -> None:
        """Rewrite index.json when the index's config changed (e.g. a rebuild with another engine)."""
        if self.index.config is not self.saved_config:
            self.write_index_file()
            self.saved_config = self.index.config

    def close(self) -> None:
        for store in self._namespace_stores.values():
            store.close()

    def record_high_water(self) -> None:
        for store in self._namespace_stores.values():
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
    """Persists one namespace's slab set; ``slabs_changed`` is the namespace's ``on_slabs_changed`` hook."""

    def __init__(self, index_store: IndexStore, directory: Path, manifest: Mapping[str, Any], log_: NamespaceLog,
                 persisted: dict[int, tuple[str, Any, Any, int]]) -> None:
        self.index_store = index_store
        self.directory = directory
        self.log = log_
        self.name = manifest["name"]
        self.checkpoint_lsn = int(manifest["checkpoint_lsn"])
        self.generation = int(manifest["generation"])
        self.masks_file: str | None = manifest["masks"]["file"] if manifest["masks"] else None
        self.durable_lsn = int(manifest.get("durable_lsn", 0))
        self.manifest = dict(manifest)  # as last written
        existing = [int(p.name) for p in (directory / "slabs").iterdir() if p.name.isdigit()]
        self._next_slab = max([int(manifest["next_slab"]), *(n + 1 for n in existing)])
        # slab.number -> (directory name, rows, index, CRC of SLAB.json): reused while rows and index are the same
        # objects; these are the slabs MANIFEST names.
        self.persisted = persisted
        self.ns: Namespace | None = None
        self.closed = False
        self._lock = threading.RLock()

    def _slab_name(self) -> str:
        with self._lock:
            name = f"{self._next_slab:08d}"
            self._next_slab += 1
            return name

    def slabs_changed(self, ns: Namespace, added: list[Slab], removed: list[Slab]) -> None:
        """The namespace's ``on_slabs_changed`` hook: a flush, a merge or a delete_all happened."""
        if not ns.engine.background_merges and any(
            slab.index is None and slab.error is None and not self._known(slab) for slab in ns.slabs
        ):
            return  # inline builds follow at once and call again; skip writing rows twice
        self.checkpoint(ns)

    def _known(self, slab: Slab) -> bool:
        known = self.persisted.get(slab.number)
        return known is not None and known[1] is slab.rows and known[2] is slab.index

    def checkpoint(self, ns: Namespace) -> None:
        """Persist the namespace's current slab set (called with the index lock held)."""
        with self._lock:
            if self.closed or self.index_store.storage.read_only:
                return
            try:
                self._checkpoint(ns)
            except OSError as exc:  # nothing is lost: the log still holds every write since the last checkpoint
                log.warning("checkpoint of namespace %r in %s failed (%s); will retry at the next flush",
                            ns.name, self.directory, exc)

    def _checkpoint(self, ns: Namespace) -> None:
        self.index_store.save_config_if_changed()
        entries, current = [], {}
        for slab in ns.slabs:
            known = self.persisted.get(slab.number)
            if known is None or known[1] is not slab.rows or known[2] is not slab.index:
                name = self._slab_name()
                crc = write_rows_dir(self.directory / "slabs", name, slab.rows, slab_info(slab, ns.metric), slab.index)
                known = (name, slab.rows, slab.index, crc)
            current[slab.number] = known
            entries.append({"dir": known[0], "crc32": known[3], "rows": len(slab), "tier": slab.tier,
                            "level": slab.level})
        crash_point("slab-written")
        generation = self.generation + 1
        dead = {known[0]: np.packbits(slab.alive) for slab in ns.slabs
                for known in (current[slab.number],) if not slab.alive.all()}
        masks = None
        if dead:
            buffer = io.BytesIO()
            np.savez(buffer, **dead)
            data = buffer.getvalue()
            masks_name = f"masks-{generation:08d}.npz"
            write_file(self.directory / masks_name, data)
            masks = {"file": masks_name, "crc32": crc_of_bytes(data)}
            crash_point("masks-written")
        if ns.memtable.live_count() == 0:
            checkpoint = max(self.checkpoint_lsn, int(ns.max_indexed_lsn))
        else:
            checkpoint = self.checkpoint_lsn
        durable = self._sync_log()
        manifest = _manifest(ns.name, checkpoint, generation, self._next_slab, entries, masks, durable)
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

    def _sync_log(self) -> int:
        """Make every appended record durable; return the last one's LSN (the new high-water mark)."""
        self.log.sync_all()
        return max(self.durable_lsn, self.log.last_lsn())

    def record_high_water(self) -> None:
        """On a clean close: rewrite MANIFEST with the log's last LSN, so a cut log is noticed at open."""
        with self._lock:
            if self.closed or self.index_store.storage.read_only:
                return
            try:
                durable = self._sync_log()
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
