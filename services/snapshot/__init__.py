"""Snapshots of a real tenant, for rehearsing its close-out (``closeout snapshot``).

:mod:`.capture` reads everything the close-out touches, read-only, with the inventory's own
reads; :mod:`.mfa` adds per-user MFA states (batched beta reads, paced); :mod:`.redact`
pseudonymises names and UPNs; :mod:`.fileformat` writes and checks the versioned file. The
sandbox builds a replica from one (:mod:`services.sandbox.replica`) and
:mod:`services.rehearsal` closes that replica out.
"""

from __future__ import annotations

from .fileformat import SCHEMA_VERSION, Snapshot, SnapshotError, load_snapshot, save_snapshot

__all__ = ["SCHEMA_VERSION", "Snapshot", "SnapshotError", "load_snapshot", "save_snapshot"]
