"""Backups and restores (arch_cost_spec §5.2-5.3, T-BAK-*), in memory and on disk."""

from __future__ import annotations

import pytest

import toolkit
from storage_helpers import records, state


def source(client: toolkit.Client) -> toolkit.Index:
    client.create_index("src", dimension=8, metric="euclidean", tags={"team": "a"},
                        spec={"serverless": {"cloud": "gcp", "region": "europe-west4"}},
                        engine={"memtable_max_records": 30})
    ix = client.Index("src")
    ix.upsert(records("a", 50), namespace="one")
    ix.upsert(records("b", 10, seed=2), namespace="two")
    ix.delete(ids=["a-0", "a-1"], namespace="one")
    ix.update(id="a-2", set_metadata={"new": "yes"}, namespace="one")
    return ix


def test_backup_is_a_consistent_snapshot_and_restores(client_factory):
    client = client_factory()
    ix = source(client)
    expected = state(ix)
    backup = client.create_backup("src", "nightly", description="d")
    assert backup.status == "Ready"
    assert (backup.record_count, backup.namespace_count, backup.cloud, backup.region) == (58, 2, "gcp", "europe-west4")
    assert backup.size_bytes > 0 and backup.tags == {"team": "a"} and backup.metric == "euclidean"
    ix.upsert(records("late", 3), namespace="one")  # after the backup: not in it
    ix.delete(delete_all=True, namespace="two")
    client = client_factory.reopen(client)
    assert client.describe_backup(backup.backup_id) == backup
    model = client.create_index_from_backup("nightly", "copy", deletion_protection="enabled")
    assert (model.name, model.dimension, model.metric, model.spec, model.tags, model.deletion_protection) == (
        "copy", 8, "euclidean", {"serverless": {"cloud": "gcp", "region": "europe-west4"}}, {"team": "a"},
        "enabled")
    assert state(client.Index("copy")) == expected
    assert client.list_restore_jobs()[0].status == "Completed"
    client = client_factory.reopen(client)
    assert state(client.Index("copy")) == expected


def test_list_describe_delete(client_factory):
    client = client_factory()
    source(client)
    client.create_index("other", dimension=4)
    first = client.create_backup("src", "one")
    second = client.create_backup(index_name="other", backup_name="two")
    assert {b.backup_id for b in client.list_backups()} == {first.backup_id, second.backup_id}
    assert client.list_backups(index_name="other").names() == ["two"]
    assert second.record_count == 0 and second.namespace_count == 0
    client.delete_backup(first.backup_id)
    with pytest.raises(toolkit.NotFoundError):
        client.describe_backup(first.backup_id)
    with pytest.raises(toolkit.NotFoundError):
        client.create_index_from_backup(first.backup_id, "x")
    with pytest.raises(toolkit.NotFoundError):
        client.create_backup("missing", "b")
    client.create_index_from_backup(second.backup_id, "restored-empty")
    with pytest.raises(toolkit.AlreadyExistsError):
        client.create_index_from_backup(second.backup_id, "restored-empty")
    client = client_factory.reopen(client)
    assert client.list_backups().names() == ["two"]


def test_backup_of_an_eventual_index_holds_what_was_applied():
    client = toolkit.Client(consistency="eventual", apply_delay=30)
    client.create_index("i", dimension=8)
    ix = client.Index("i")
    ix.upsert(records("a", 4))
    backup = client.create_backup("i", "b")
    assert backup.record_count == 0  # nothing applied yet (the docs' "may have 0 vectors", D:14554)
    ix.set_consistency("strong")
    assert client.create_backup("i", "c").record_count == 4
