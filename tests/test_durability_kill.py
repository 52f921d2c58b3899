"""Crash safety: SIGKILL a writer at random moments and at named points of flush and merge.

A child process (durability_worker.py) applies a deterministic plan of upserts, deletes,
updates and delete_alls with a tiny memtable, so flushes and merges happen every few
requests, and appends each acknowledged op to an ack file. After the kill the folder is
reopened and must hold exactly the acknowledged ops — plus, possibly, the one op that was in
flight, applied completely (never half) — with every namespace's LSN clock where it was.
"""

from __future__ import annotations

import copy
import multiprocessing
import random
import signal
import time
import warnings
from pathlib import Path

import pytest

import durability_worker
import toolkit
from durability_worker import apply_to_model
from storage_helpers import state


@pytest.fixture(scope="module")
def spawner():
    """A forkserver with toolkit imported: children start in milliseconds, from a clean process."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["toolkit", "durability_worker"])
    return context


class Run:
    """One database folder, written by a series of worker processes that all get killed."""

    def __init__(self, spawner, tmp_path: Path, background: bool = False) -> None:
        self.spawner = spawner
        self.db = tmp_path / "db"
        self.acks = tmp_path / "acks"
        self.background = background
        self.next_op = 0
        self.model: dict = {}

    def start(self, crash_at: str | None = None):
        ready = self.spawner.Event()
        child = self.spawner.Process(target=durability_worker.run, args=(
            str(self.db), str(self.acks), self.next_op, self.background, crash_at, ready), daemon=True)
        child.start()
        assert ready.wait(60) or child.exitcode == -signal.SIGKILL, "the worker did not open the database"
        return child

    def acked(self) -> list[tuple[int, int]]:
        if not self.acks.exists():
            return []
        lines = self.acks.read_text().split("\n")[:-1]  # a partial last line is not an ack
        return [(int(n), int(lsn)) for n, lsn in (line.split() for line in lines)]

    def verify(self) -> str:
        """Reopen, compare with the model, advance past the in-flight op if it landed."""
        acked = [n for n, _ in self.acked() if n >= self.next_op]
        assert acked == list(range(self.next_op, self.next_op + len(acked)))
        for n in acked:
            apply_to_model(self.model, n)
        self.next_op += len(acked)
        with_next = copy.deepcopy(self.model)
        apply_to_model(with_next, self.next_op)
        with warnings.catch_warnings(record=True):  # a torn tail warns; that is expected here
            warnings.simplefilter("always")
            client = toolkit.Client(path=str(self.db))
        try:
            if not client.has_index("k"):
                assert not acked and self.next_op == 0
                return "empty"
            ix = client.Index("k")
            got = {ns: {i: (values, metadata) for i, (values, _, metadata) in records.items()}
                   for ns, records in state(ix).items()}
            got_lsn = {name: int(ns.last_lsn) for name, ns in ix._namespaces.items()}
            ix.flush()  # the reopened state must also flush and merge cleanly
        finally:
            client.close()
        for candidate, outcome in ((self.model, "without in-flight op"), (with_next, "with in-flight op")):
            expected = {ns: records for ns, records in candidate.items() if ns != "_lsn"}
            if _same(got, expected) and got_lsn == candidate.get("_lsn", {}):
                if candidate is with_next:
                    self.model = with_next
                    self.next_op += 1
                return outcome
        raise AssertionError(f"reopened state matches neither the {self.next_op} acknowledged ops nor them + "
                             f"the in-flight op; LSNs {got_lsn} vs {self.model.get('_lsn')}")


def _same(got: dict, expected: dict) -> bool:
    names = {ns for ns in set(got) | set(expected) if got.get(ns) or expected.get(ns)}
    return all(got.get(ns, {}) == expected.get(ns, {}) for ns in names)


@pytest.mark.parametrize("background", [False, True], ids=["inline-merges", "background-merges"])
def test_sigkill_at_random_moments(spawner, tmp_path, background):
    run = Run(spawner, tmp_path, background)
    rng = random.Random(1234 + background)
    outcomes = []
    for _ in range(5):
        child = run.start()
        time.sleep(rng.uniform(0.1, 0.8))
        child.kill()  # SIGKILL
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
        outcomes.append(run.verify())
    assert run.next_op > 20, outcomes  # the workers did real work between kills


CRASH_POINTS = [
    "log-append-partial",  # half a record written: a torn tail
    "slab-written:2",  # new slab files complete, manifest not yet replaced
    "masks-written",  # live masks written, manifest not yet replaced
    "replace-before-rename:3",  # a temp manifest fsync'd but not renamed
    "manifest-replaced:2",  # manifest replaced, old slabs and log segments not yet removed
    "log-truncated",  # log segments removed, directory not yet fsync'd
]


def test_sigkill_at_named_points_of_flush_and_merge(spawner, tmp_path):
    run = Run(spawner, tmp_path)
    child = run.start()  # a first run without crash points, so later ones start from real state
    time.sleep(0.3)
    child.kill()
    child.join(timeout=30)
    run.verify()
    for point in CRASH_POINTS:
        child = run.start(point)
        child.join(timeout=30)
        if child.exitcode is None:
            child.kill()
        assert child.exitcode == -signal.SIGKILL, f"{point} was never reached"
        run.verify()


def test_read_only_clients_see_a_consistent_prefix_while_a_writer_runs(spawner, tmp_path):
    """Each namespace a reader loads is exactly its first L acknowledged writes (L = its LSN).

    Namespaces are loaded one after the other while the writer goes on, so two namespaces may
    be cut at different moments; that matches LSNs, which are per namespace and unrelated.
    """
    run = Run(spawner, tmp_path)
    child = run.start()
    models: dict[str, dict] = {"a": {}, "b": {}}
    applied = {"a": 0, "b": 0}
    checked = 0
    try:
        for _ in range(8):
            time.sleep(0.1)
            acked_before = len(run.acked())
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a reader drops a half-written tail silently
                reader = toolkit.Client(path=str(run.db), read_only=True)
            try:
                if not reader.has_index("k"):
                    continue
                ix = reader.Index("k")
                got = {ns: {i: (v, m) for i, (v, _, m) in records.items()} for ns, records in state(ix).items()}
                got_lsn = {name: int(ns.last_lsn) for name, ns in ix._namespaces.items()}
            finally:
                reader.close()
            for ns, offset in (("a", 0), ("b", 1)):  # ns "a" takes ops 0, 2, 4, ...; "b" ops 1, 3, 5, ...
                lsn = got_lsn.get(ns, 0)
                assert lsn >= acked_before // 2 - 1
                assert lsn >= applied[ns], "a later reader saw an older state"
                while applied[ns] < lsn:
                    apply_to_model(models[ns], 2 * applied[ns] + offset)
                    applied[ns] += 1
                assert got.get(ns, {}) == models[ns].get(ns, {}), ns
                checked += 1
    finally:
        child.kill()
        child.join(timeout=30)
    assert checked >= 8
