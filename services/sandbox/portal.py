"""Plays the admin's part in the portals, for the demo only: cancel and delete subscriptions
(asking the partner for partner-bought ones), delete self-service sign-up products in Entra,
clear the checks no API can make, and select "Delete tenant" once the portal's checks pass.

It acts on the in-process :class:`~services.sandbox.core.Sandbox` directly; the real code
path never imports it. The TUI binds it to a sandbox-only key; the headless demo runs it on a
timer so that ``closeout run --headless --demo`` finishes by itself.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .http import GraphHttpError

if TYPE_CHECKING:
    from .core import Sandbox

log = logging.getLogger("closeout.sandbox.portal")


class PortalPlayer:
    def __init__(
        self, sandbox: Sandbox, engine: Any = None, *, interval: float = 1.0, delay: float = 2.0
    ) -> None:
        self.sandbox = sandbox
        self.engine = engine
        self.interval = interval
        self.delay = delay
        self.actions: list[str] = []

    def cancel_active(self) -> list[str]:
        """Step 2's handoff: cancel every active or expired subscription."""
        done = []
        for sub in list(self.sandbox.tenant.subscriptions.values()):
            if sub.status in ("Enabled", "Warning") and not sub.self_service:
                try:
                    self.sandbox.cancel_subscription(sub.id, as_partner=bool(sub.owner_tenant_id))
                    how = " (by the partner)" if sub.owner_tenant_id else ""
                    done.append(f"cancelled {self._name(sub)}{how}")
                except GraphHttpError as exc:
                    done.append(f"could not cancel {self._name(sub)}: {exc.message}")
        return self._log(done)

    def delete_disabled(self) -> list[str]:
        """Step 3's handoff: delete every disabled subscription."""
        done = []
        for sub in list(self.sandbox.tenant.subscriptions.values()):
            if sub.status in ("Suspended", "LockedOut") and not sub.marked_for_deletion:
                self.sandbox.delete_subscription(sub.id)
                done.append(f"deleted {self._name(sub)}")
        return self._log(done)

    def delete_self_service(self) -> list[str]:
        """Step 5's handoff: Entra admin center > Licenses > Self-service sign-up products."""
        done = []
        for sub in list(self.sandbox.tenant.subscriptions.values()):
            if sub.self_service and sub.status != "Deleted":
                self.sandbox.delete_self_service_product(sub.id)
                done.append(f"deleted the self-service product {self._name(sub)}")
        return self._log(done)

    def resolve_manual(self) -> list[str]:
        done = []
        for key, blocker in self.sandbox.tenant.manual_blockers.items():
            if not blocker.resolved:
                self.sandbox.resolve_manual(key)
                done.append(f"resolved {key}")
        return self._log(done)

    def delete_tenant(self) -> list[str]:
        """Select Delete in the Entra admin center; the portal refuses while a check fails."""
        if self.sandbox.tenant.deleted:
            return []
        try:
            self.sandbox.delete_tenant()
        except GraphHttpError as exc:
            return self._log([f"Delete tenant refused: {exc.message}"])
        return self._log(["deleted the tenant"])

    def play(self, step: int) -> list[str]:
        """The portal part of one step's handoff."""
        if step == 2:
            return self.cancel_active()
        if step == 3:
            return self.delete_disabled()
        if step == 5:
            out = self.resolve_manual() + self.delete_self_service()
            if not self.sandbox.deletion_blockers():
                out += self.delete_tenant()
            return out
        return []

    def play_all(self) -> list[str]:
        out = (
            self.cancel_active()
            + self.delete_disabled()
            + self.resolve_manual()
            + self.delete_self_service()
        )
        if not self.sandbox.deletion_blockers():
            out += self.delete_tenant()
        return out

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            if stop.wait(self.delay):
                return
            while not stop.is_set() and not self.sandbox.tenant.deleted:
                try:
                    self.play_all()
                except Exception:  # the demo's stand-in must never take the run down
                    log.exception("portal player failed")
                if stop.wait(self.interval):
                    return

        thread = threading.Thread(target=loop, name="sandbox-portal-player", daemon=True)
        thread.start()
        return thread

    def _name(self, sub: Any) -> str:
        sku = self.sandbox.tenant.skus.get(sub.sku_id)
        return sku.sku_part_number if sku else sub.id

    def _log(self, lines: list[str]) -> list[str]:
        for line in lines:
            log.info("[sandbox portal] %s", line)
        self.actions += lines
        return lines
