"""The sandbox's simulated time: what changes by itself as the clock runs (directory sync
turning off, or on again; subscriptions moving through their lifecycle) and how long
turning directory sync off takes.
"""

from __future__ import annotations

from typing import Any

from .host import SandboxHost
from .tenant import SYNC_LOCK_SECONDS

DAY = 86400.0


class SimulatedTime(SandboxHost):
    """What changes by itself as the sandbox's clock runs (a part of ``Sandbox``)."""

    # -- simulated time ----------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every time-driven change due by now. Call with the lock held."""
        now = self.clock.now()
        org = self.tenant.org
        if org.sync_disabled_at is not None and org.sync_done_at is None:
            pending = [
                u.synced_until for u in self.tenant.users.values() if u.synced and u.synced_until
            ]
            last = max(pending, default=org.sync_disabled_at)
            if now >= last:
                org.sync_done_at = last
                self.recorder.event(now, "sync-complete")
        if (
            self.config.connect_still_running
            and org.sync_disabled_at is not None
            and now >= org.sync_disabled_at + SYNC_LOCK_SECONDS
        ):
            self._connect_turns_sync_back_on(now)
        for sub in self.tenant.subscriptions.values():
            for _ in range(6):
                if sub.next_lifecycle is None or now < sub.next_lifecycle:
                    break
                self._advance_subscription(sub)

    def _connect_turns_sync_back_on(self, now: float) -> None:
        # What DIRSYNC warns of: a sync server nobody stopped turns sync on again as soon as
        # Entra allows it, and the users it still finds in AD are synced once more.
        org = self.tenant.org
        org.sync_enabled = True
        org.sync_disabled_at = None
        org.sync_done_at = None
        for user in self.tenant.users.values():
            user.synced_until = None
        self.recorder.event(now, "sync-reenabled")

    def _advance_subscription(self, sub: Any) -> None:
        at = sub.next_lifecycle
        if sub.marked_for_deletion or sub.status in ("Suspended", "LockedOut"):
            sub.status, sub.next_lifecycle = "Deleted", None
            self.recorder.event(at, "subscription-deprovisioned", id=sub.id)
        elif sub.status == "Warning":
            sub.status, sub.next_lifecycle = "Suspended", at + 90 * DAY
        elif sub.status == "Enabled" and sub.is_trial:
            sub.status, sub.next_lifecycle = "Warning", at + 30 * DAY
        elif sub.status == "Enabled":
            sub.next_lifecycle = at + 365 * DAY  # renews
        else:
            sub.next_lifecycle = None

    def sync_duration(self) -> float:
        """Simulated seconds that turning directory sync off takes for this tenant."""
        if self.config.dirsync_hours is not None:
            return self.config.dirsync_hours * 3600.0
        if self.config.sync_conversion == "at-end":
            return 72 * 3600.0  # Microsoft's "up to 72 hours", every user at its very end
        synced = sum(1 for u in self.tenant.users.values() if u.synced)
        return min(72 * 3600.0, 2 * 3600.0 + synced * 36.0)
