"""Damage injection: delete, truncate or flip each kind of file of a closed database.

Every case must end in one of three ways, never in silence: a ``DataLossError`` that names
the damaged file (or its folder); a warning (RuntimeWarning or a logged warning); or a
database whose records, backups and restores are exactly what they were. Anything else
(an untyped exception, changed records without a word) fails.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import pytest
from storage_helpers import namespace_dir, records, state

import toolkit
from toolkit.errors import DataLossError

ENGINE = {"memtable_max_records": 10, "merge_fanout": 16}  # no merge compacts the dead rows away


def _build(db: Path) -> tuple[dict, dict]:
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8, engine=ENGINE)
    ix = client.Index("i")
    ix.upsert(records("a", 25), namespace="ns1")
    ix.upsert(records("b", 5, seed=1), namespace="ns2")
    ix.flush()
    ix.delete(ids=["a-1", "a-2"], namespace="ns1")
    ix.upsert(records("c", 3, seed=2), namespace="ns1")
    ix.flush()  # a checkpoint with dead rows: a masks file
    ix.upsert(records("d", 2, seed=3), namespace="ns1")  # these stay in the log
    ix.delete(ids=["a-3"], namespace="ns1")
    client.create_backup(index_name="i", backup_name="bk")
    expected = state(ix)
    client.close()
    return expected, {k: v for k, v in expected.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    db = tmp_path_factory.mktemp("damage") / "db"
    expected, backup_expected = _build(db)
    return db, expected, backup_expected


def _targets(db: Path) -> dict[str, Path]:
    ns1 = namespace_dir(db, "i", "ns1")
    slab = sorted((ns1 / "slabs").iterdir())[0]
    backup = next(p for p in (db / "backups").iterdir() if p.is_dir())
    masks = sorted(ns1.glob("masks-*.npz"))
    out = {
        "toolkit.json": db / "toolkit.json",
        "index.json": db / "indexes" / "i" / "index.json",
        "MANIFEST": ns1 / "MANIFEST",
        "log segment": sorted((ns1 / "log").glob("*.log"))[-1],
        "backup.json": backup / "backup.json",
    }
    if masks:
        out["masks"] = masks[0]
    for f in sorted(p for p in slab.rglob("*") if p.is_file()):
        out[f"slab {f.relative_to(slab)}"] = f
    backup_slab = sorted(p for p in backup.iterdir() if p.is_dir())[0]
    for f in sorted(p for p in backup_slab.rglob("*") if p.is_file()):
        out[f"backup slab {f.relative_to(backup_slab)}"] = f
    return out


def test_the_base_has_every_kind_of_file(base):
    db, _, _ = base
    kinds = set(_targets(db))
    assert {"masks", "log segment", "MANIFEST", "backup.json", "index.json", "toolkit.json"} <= kinds
    assert any(k.startswith("slab ") for k in kinds) and any(k.startswith("backup slab ") for k in kinds)
    assert set(KINDS) <= kinds, f"damage kinds this layout no longer has: {sorted(set(KINDS) - kinds)}"


def _damage(path: Path, mode: str) -> None:
    if mode == "delete":
        path.unlink()
    elif mode == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        data = bytearray(path.read_bytes())
        at = len(data) // 2
        data[at] ^= 0x5A
        path.write_bytes(bytes(data))


def _observe(db: Path) -> tuple[dict, dict]:
    client = toolkit.Client(path=str(db))
    try:
        live = state(client.Index("i"))
        restored = {}
        for backup in client.list_backups():
            client.create_index_from_backup(backup_id=backup.backup_id, name="restored")
            restored = state(client.Index("restored"))
        return live, restored
    finally:
        client.close()


KINDS = ["toolkit.json", "index.json", "MANIFEST", "masks", "log segment", "backup.json", "slab SLAB.json",
         "slab arrays/dense.npy", "slab arrays/sizes.npy", "slab arrays/m0_kind.npy", "slab columns.json",
         "slab records.arrow", "slab engine/norms.npy", "slab engine/exact.json", "backup slab SLAB.json",
         "backup slab arrays/dense.npy", "backup slab records.arrow"]


@pytest.mark.parametrize("mode", ["delete", "truncate", "flip"])
@pytest.mark.parametrize("kind", KINDS)
def test_damage_is_named_or_warned_never_silent(base, tmp_path, caplog, kind, mode):
    source, expected, backup_expected = base
    db = tmp_path / "db"
    shutil.copytree(source, db)
    targets = _targets(db)
    if kind not in targets:
        pytest.skip(f"no {kind} in this layout")
    target = targets[kind]
    _damage(target, mode)
    caplog.set_level(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            live, restored = _observe(db)
        except DataLossError as exc:
            names = {target.name, target.parent.name}
            assert any(n in str(exc) for n in names), f"DataLossError does not name {target}: {exc}"
            return
        except toolkit.errors.ToolkitError as exc:
            pytest.fail(f"{kind} {mode}: a typed but misleading {type(exc).__name__}: {exc}")
    warned = [w for w in caught if issubclass(w.category, RuntimeWarning)] or \
        [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("toolkit")]
    if warned:
        return
    assert live == expected, f"{kind} {mode}: records changed without a word"
    assert restored == backup_expected, f"{kind} {mode}: the restored backup changed without a word"
