"""Hardening of the persistent store's open path and recovery checks (issue #17 items 1-4, 9, 10)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import toolkit
from toolkit.errors import DataLossError, InvalidArgumentError, ToolkitError
from toolkit.storage.files import read_checked_json, write_checked_json

from storage_helpers import log_segments, namespace_dir, records, state


def _db_with_data(db: Path, *, close: bool = True) -> toolkit.Client:
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 5), namespace="ns1")
    ix.upsert(records("b", 5, seed=1), namespace="ns2")
    if close:
        client.close()
    return client


# -- item 1: a failed open releases the writer lock ------------------------------------------------


def test_failed_open_releases_the_lock_so_a_repaired_folder_opens(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    manifest = namespace_dir(db, "i", "ns1") / "MANIFEST"
    good = manifest.read_bytes()
    manifest.write_bytes(good[:-3] + b"xyz")
    with pytest.raises(DataLossError, match="MANIFEST"):
        toolkit.Client(path=str(db))
    manifest.write_bytes(good)
    client = toolkit.Client(path=str(db))  # not "already open for writing by process <our pid>"
    assert sorted(state(client.Index("i"))["ns1"]) == [f"a-{i}" for i in range(5)]
    client.close()


def test_failed_open_of_a_damaged_marker_releases_the_lock(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    marker = db / "toolkit.json"
    good = marker.read_bytes()
    marker.write_bytes(b"junk")
    with pytest.raises(DataLossError, match="toolkit.json"):
        toolkit.Client(path=str(db))
    marker.write_bytes(good)
    toolkit.Client(path=str(db)).close()


# -- item 2: nothing is written into a refused folder -------------------------------------------------


def test_a_foreign_folder_is_refused_without_writing_a_lock(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(InvalidArgumentError, match="not a toolkit database") as info:
        toolkit.Client(path=str(folder))
    assert info.value.path == "path"
    assert sorted(os.listdir(folder)) == ["cat.jpg"]


def test_an_empty_path_is_refused_and_nothing_is_written_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError, match="empty"):
        toolkit.Client(path="")
    assert os.listdir(tmp_path) == []


# -- item 4: no raw OS errors -----------------------------------------------------------------------


def test_proc_self_is_a_typed_error():
    with pytest.raises(ToolkitError):
        toolkit.Client(path="/proc/self")


def test_a_deleted_manifest_is_named_data_loss(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    (namespace_dir(db, "i", "ns1") / "MANIFEST").unlink()
    with pytest.raises(DataLossError, match="MANIFEST"):
        toolkit.Client(path=str(db))


def test_a_namespaces_path_that_is_a_file_is_named_data_loss(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    shutil.rmtree(db / "indexes" / "i" / "namespaces")
    (db / "indexes" / "i" / "namespaces").write_text("x")
    with pytest.raises(DataLossError, match="namespaces"):
        toolkit.Client(path=str(db))


def test_a_deleted_marker_beside_indexes_is_named_data_loss(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    (db / "toolkit.json").unlink()
    with pytest.raises(DataLossError, match="toolkit.json"):
        toolkit.Client(path=str(db))
    assert not (db / "toolkit.json").exists()  # nothing was re-created over the damage


# -- item 3: silent loss is named ---------------------------------------------------------------------


def test_deleted_log_segments_are_named(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    for segment in log_segments(db, "i", "ns1"):
        segment.unlink()
    with pytest.raises(DataLossError, match="ns1"):
        toolkit.Client(path=str(db))


def test_a_log_cut_at_a_record_boundary_is_named(tmp_path):
    db = tmp_path / "db"
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 5), namespace="ns1")
    first_end = log_segments(db, "i", "ns1")[-1].stat().st_size
    ix.upsert(records("b", 5, seed=1), namespace="ns1")
    client.close()
    segment = log_segments(db, "i", "ns1")[-1]
    os.truncate(segment, first_end)  # exactly one whole record remains: no torn bytes to see
    with pytest.raises(DataLossError, match="LSN 2"):
        toolkit.Client(path=str(db))


def test_a_vanished_namespace_folder_is_named(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    shutil.rmtree(namespace_dir(db, "i", "ns2"))
    with pytest.raises(DataLossError, match="missing"):
        toolkit.Client(path=str(db))


def test_high_water_survives_checkpoints_and_reopen(tmp_path):
    db = tmp_path / "db"
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8, engine={"memtable_max_records": 1000})
    ix = client.Index("i")
    ix.upsert(records("a", 5), namespace="ns1")
    ix.flush(namespace="ns1")
    ix.upsert(records("b", 5, seed=1), namespace="ns1")
    ix.delete(ids=["a-0"], namespace="ns1")
    client.close()
    manifest = read_checked_json(namespace_dir(db, "i", "ns1") / "MANIFEST")
    assert manifest["durable_lsn"] == 3
    again = toolkit.Client(path=str(db))
    assert "a-0" not in state(again.Index("i"))["ns1"]
    again.close()


def test_a_namespace_deleted_then_crashed_before_trash_stays_deleted(tmp_path):
    db = tmp_path / "db"
    client = _db_with_data(db, close=False)
    victim = namespace_dir(db, "i", "ns2")
    copy = tmp_path / "copy"
    shutil.copytree(victim, copy)
    client.Index("i").delete_namespace("ns2")
    client.close()
    shutil.copytree(copy, victim)  # as if the process died between unlisting and trashing
    again = toolkit.Client(path=str(db))
    assert "ns2" not in state(again.Index("i"))
    again.close()
    assert not victim.exists()


def test_a_new_namespace_is_listed_before_its_first_write_returns(tmp_path):
    db = tmp_path / "db"
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8)
    index_file = db / "indexes" / "i" / "index.json"
    assert read_checked_json(index_file)["namespaces"] == []
    client.Index("i").upsert(records("a", 2), namespace="fresh")
    listed = read_checked_json(index_file)["namespaces"]  # the client is still open: no close wrote it
    assert listed == [namespace_dir(db, "i", "fresh").name]
    client.Index("i").delete_namespace("fresh")
    assert read_checked_json(index_file)["namespaces"] == []
    client.close()


def test_an_unlisted_namespace_folder_is_a_crash_leftover(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    index_file = db / "indexes" / "i" / "index.json"
    info = read_checked_json(index_file)
    victim = namespace_dir(db, "i", "ns2")
    info["namespaces"] = [n for n in info["namespaces"] if n != victim.name]
    write_checked_json(index_file, info)  # as if the process died before ns2's first write was acknowledged
    reader = toolkit.Client(path=str(db), read_only=True)
    assert set(state(reader.Index("i"))) == {"ns1"}  # a reader ignores it and removes nothing
    reader.close()
    assert victim.exists()
    client = toolkit.Client(path=str(db))
    assert set(state(client.Index("i"))) == {"ns1"}
    client.close()
    assert not victim.exists()


def test_folders_written_before_the_listing_still_open(tmp_path):
    db = tmp_path / "db"
    _db_with_data(db)
    index_file = db / "indexes" / "i" / "index.json"
    info = read_checked_json(index_file)
    del info["namespaces"]
    write_checked_json(index_file, info)
    client = toolkit.Client(path=str(db))
    assert set(state(client.Index("i"))) == {"ns1", "ns2"}
    client.close()


# -- item 9: one damaged backup does not hide the others ------------------------------------------


def test_a_damaged_backup_is_reported_and_the_healthy_ones_listed(tmp_path):
    db = tmp_path / "db"
    client = _db_with_data(db, close=False)
    first = client.create_backup(index_name="i", backup_name="one")
    second = client.create_backup(index_name="i", backup_name="two")
    path = db / "backups" / first.backup_id / "backup.json"
    raw = bytearray(path.read_bytes())
    raw[-2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match=first.backup_id):
        listed = client.list_backups()
    assert [b.backup_id for b in listed] == [second.backup_id]
    with pytest.raises(DataLossError, match="backup.json"), pytest.warns(RuntimeWarning):
        client.describe_backup(first.backup_id)
    client.close()


# -- item 10: import folders confined to the operator's roots ---------------------------------------


def test_confine_accepts_folders_under_a_root_only(tmp_path):
    from toolkit.confine import confine
    from toolkit.errors import ForbiddenError

    root = tmp_path / "imports"
    (root / "batch" / "ns1").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    assert confine(f"file://{root / 'batch'}", [root]) == (root / "batch").resolve()
    assert confine(str(root / "batch"), [root]) == (root / "batch").resolve()
    with pytest.raises(ForbiddenError, match="--import-root"):
        confine(str(root / "batch"), [])  # no roots: off over the wire
    for escape in (f"file://{root}/../secret", str(outside), "file:///etc", "relative/dir"):
        with pytest.raises(ForbiddenError):
            confine(escape, [root])
    (root / "link").symlink_to(outside)
    with pytest.raises(ForbiddenError, match="outside"):
        confine(f"file://{root / 'link'}", [root])
    (root / "batch" / "ns1" / "x.parquet").symlink_to("/etc/passwd")
    with pytest.raises(ForbiddenError, match="links outside"):
        confine(str(root / "batch"), [root])
    with pytest.raises(ForbiddenError):
        confine("file://evil.example/data", [root])
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        confine(str(root / "nope"), [root])


def test_a_torn_tail_warns_once_and_then_opens_quietly(tmp_path):
    import warnings

    db = tmp_path / "db"
    client = toolkit.Client(path=str(db))
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    for b in range(3):
        ix.upsert(records(f"b{b}", 2, seed=b), namespace="ns1")
    client.close()  # the high-water mark is LSN 3
    segment = log_segments(db, "i", "ns1")[-1]
    os.truncate(segment, segment.stat().st_size - 5)  # a crash mid-append: torn bytes, not a clean cut
    with pytest.warns(RuntimeWarning, match="torn write"):
        toolkit.Client(path=str(db)).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = toolkit.Client(path=str(db))  # no second warning, and no false DataLossError
    assert sorted(state(again.Index("i"))["ns1"]) == sorted(f"b{b}-{i}" for b in range(2) for i in range(2))
    again.close()
