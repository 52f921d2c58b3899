"""Freshness: eventual consistency, i.e. writes reach the memtable ``apply_delay`` seconds later.

In "strong" mode (the default) an index applies each write inline, right after logging it,
so every read sees every acknowledged write. In "eventual" mode the write is logged and
acknowledged, then queued here; a background thread applies queued writes in LSN order once
they are ``apply_delay`` seconds old (arch_cost_spec §1.5 step 3). Reads report the
namespace's ``max_indexed_lsn`` — the LSN applied so far — and ``LocalShard.wait_for_lsn``
blocks until it reaches a given LSN. Requests that must read the current state first (update,
update and delete by filter) make the builder catch up on that namespace before they run.
The shard owns one builder in eventual mode and gives it its write lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .errors import InvalidArgumentError
from .journal import Op, apply_op
from .lsn import Lsn

if TYPE_CHECKING:
    from .namespace import Namespace

log = logging.getLogger(__name__)

CONSISTENCY_MODES = ("strong", "eventual")


def check_freshness(consistency: Any, apply_delay: Any) -> tuple[str, float]:
    """Validate a consistency mode and apply delay (seconds)."""
    if consistency not in CONSISTENCY_MODES:
        raise InvalidArgumentError(f"consistency must be one of {list(CONSISTENCY_MODES)}, got {consistency!r}",
                                   path="consistency")
    if isinstance(apply_delay, bool) or not isinstance(apply_delay, (int, float)) or not 0 <= apply_delay < 86_400:
        raise InvalidArgumentError(f"apply_delay must be a number of seconds >= 0, got {apply_delay!r}",
                                   path="apply_delay")
    return consistency, float(apply_delay)


class IndexBuilder:
    """Applies one index's logged writes in the background, each ``apply_delay`` s after its ack."""

    def __init__(self, lock: threading.RLock, name: str, apply_delay: float,
                 after_apply: Callable[[], None] = lambda: None) -> None:
        self._lock = lock  # the shard's write lock
        self._name = name
        self._after_apply = after_apply  # runs with no lock held (the shard writes due checkpoints)
        self._apply_delay = apply_delay
        self._queue: deque[tuple[float, Namespace, Lsn, Op]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.error: BaseException | None = None

    @property
    def apply_delay(self) -> float:
        return self._apply_delay

    @apply_delay.setter
    def apply_delay(self, seconds: float) -> None:
        """Change the delay; queued writes become due ``seconds`` after their ack too."""
        with self._cond:
            self._apply_delay = seconds
            self._cond.notify_all()

    def _due(self) -> float | None:
        return None if not self._queue else self._queue[0][0] + self._apply_delay

    def submit(self, ns: Namespace, lsn: Lsn, op: Op) -> None:
        """Queue a logged write (the caller holds the write lock, so LSN order is queue order)."""
        with self._cond:
            self._queue.append((time.monotonic(), ns, lsn, op))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"index-builder-{self._name}",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self, ns: Namespace | None = None) -> int:
        with self._cond:
            return sum(1 for item in self._queue if ns is None or item[1] is ns)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now, due = time.monotonic(), self._due()
                    if due is not None and due <= now:
                        break
                    self._cond.wait(None if due is None else due - now)
                if self._stopped:
                    return
            with self._lock:  # pop under the write lock too, so drain() never overtakes us
                with self._cond:
                    if self._stopped:
                        return
                    due = self._due()
                    if due is None or due > time.monotonic():
                        continue
                    _, ns, lsn, op = self._queue.popleft()
                self._apply(ns, lsn, op)
            self._after_apply()
            with self._cond:
                self._cond.notify_all()

    def _apply(self, ns: Namespace, lsn: Lsn, op: Op) -> None:
        try:
            apply_op(ns, lsn, op)
        except Exception as exc:  # noqa: BLE001 - keep building; the write stays in the log
            self.error = exc
            log.exception("the index builder of %r failed to apply LSN %d of namespace %r",
                          self._name, lsn, ns.name)

    def drain(self, ns: Namespace | None = None) -> None:
        """Apply every queued write (of one namespace) now; the caller holds the write lock."""
        with self._cond:
            if not self._queue:
                return
            take = [item for item in self._queue if ns is None or item[1] is ns]
            if not take:
                return
            self._queue = deque(item for item in self._queue if not (ns is None or item[1] is ns))
        for _, target, lsn, op in take:
            self._apply(target, lsn, op)
        with self._cond:
            self._cond.notify_all()

    def discard(self, ns: Namespace) -> None:
        """Drop the queued writes of a deleted namespace."""
        with self._cond:
            self._queue = deque(item for item in self._queue if item[1] is not ns)

    def wait(self, timeout: float) -> None:
        """Sleep until something is applied or ``timeout`` passes."""
        with self._cond:
            self._cond.wait(timeout)

    def stop(self) -> None:
        """Stop applying (queued writes stay in the log; the thread exits at its next wake-up)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
