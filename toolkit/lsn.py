"""LSN: the log sequence number every write request gets (arch_cost_spec §1.5)."""

from __future__ import annotations

from typing import NewType

# Per namespace, strictly increasing by one per accepted write request, starting at 1.
# A read that reports max_indexed_lsn >= L reflects every write with LSN <= L of that
# namespace; LSNs of different namespaces are unrelated.
Lsn = NewType("Lsn", int)
