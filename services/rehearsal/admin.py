"""The admin's part in the portals during a rehearsal, played when closeout hands it over.

A person cancels subscriptions once closeout shows step 2's handoff, deletes the disabled ones
once step 3's lists them, and selects "Delete tenant" once step 5 says the portal's checks
pass; a partner cancels what it sold. This plays exactly that, on the replica, through the
sandbox's admin-center part (:class:`services.sandbox.portal.PortalPlayer`): a rehearsal is a
sandbox run, the one place besides the demo where that part may be played. Nothing here is on
closeout's own code path.

What a person meets on the way is kept for the report: a subscription with more than 25
licences must be reduced first (the admin center's rule, graph-api.md §3.2), a partner-bought
one waits for the partner.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.i18n import _
from services.models import Event, Handoff, HandoffUpdated, StepId

if TYPE_CHECKING:
    from services.sandbox import Sandbox

log = logging.getLogger("closeout.rehearsal")

# The admin center cancels a subscription online only with 25 licences or fewer.
CANCEL_LICENCE_LIMIT = 25


@dataclass(frozen=True)
class Played:
    step: StepId
    text: str
    at: float
    """Simulated seconds since the snapshot was taken."""


class RehearsalAdmin:
    """Listens to the engine's handoffs and plays each step's portal part in its own thread."""

    def __init__(self, sandbox: Sandbox) -> None:
        from services.sandbox.portal import PortalPlayer

        self.sandbox = sandbox
        self.portal = PortalPlayer(sandbox)
        self.played: list[Played] = []
        self.met: list[tuple[StepId, str]] = []
        """What the person meets on the way (for the report's blockers)."""
        self._queue: queue.Queue[Handoff | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def on_event(self, event: Event) -> None:
        """The engine's sink calls this: a handoff not yet done is the person's cue."""
        if isinstance(event, HandoffUpdated) and not event.handoff.done:
            self._queue.put(event.handoff)

    def start(self) -> RehearsalAdmin:
        self._thread = threading.Thread(target=self._loop, name="rehearsal-admin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            handoff = self._queue.get()
            if handoff is None:
                return
            try:
                self._play(handoff)
            except Exception:  # the stand-in must never take the rehearsal down
                log.exception("rehearsal admin failed at step %s", int(handoff.step))

    def _play(self, handoff: Handoff) -> None:
        step = handoff.step
        if step == StepId.CANCEL_SUBSCRIPTIONS:
            self._prepare_cancel()
        if step == StepId.DELETE_DIRECTORY:
            self._delete_named_apps(handoff)
        for line in self.portal.play(int(step)):
            self.played.append(Played(step, line, self.sandbox.clock.now()))

    def _delete_named_apps(self, handoff: Handoff) -> None:
        """Step 5's handoff names closeout's own app for the admin to delete last: App
        registrations (else Enterprise applications) > the app > Delete."""
        sb = self.sandbox
        for item in handoff.items:
            with sb.lock:
                is_app = item.object_id in sb.tenant.applications
                is_sp = item.object_id in sb.tenant.service_principals
            if not (is_app or is_sp):
                continue
            if is_app:
                sb.portal_delete_application(item.object_id)
            else:
                sb.portal_delete_service_principal(item.object_id)
            self.played.append(
                Played(StepId.DELETE_DIRECTORY, f"deleted the app {item.label}", sb.clock.now())
            )

    def _prepare_cancel(self) -> None:
        """What the person does before Cancel works: reduce licences to 25 or fewer."""
        sb = self.sandbox
        with sb.lock:
            for sub in sb.tenant.subscriptions.values():
                if (
                    sub.status in ("Enabled", "Warning")
                    and not sub.owner_tenant_id
                    and not sub.self_service
                    and sub.total_licenses > CANCEL_LICENCE_LIMIT
                ):
                    name = _sku(sb, sub)
                    self.met.append(
                        (
                            StepId.CANCEL_SUBSCRIPTIONS,
                            _(
                                "{name} has {n:,} licences: the admin center cancels online only "
                                "25 or fewer. Remove licences first (Billing > Your products > "
                                "{name} > Add/Remove licenses), or ask Microsoft support."
                            ).format(name=name, n=sub.total_licenses),
                        )
                    )
                    sub.total_licenses = CANCEL_LICENCE_LIMIT
                    self.played.append(
                        Played(
                            StepId.CANCEL_SUBSCRIPTIONS,
                            f"reduced {name} to {CANCEL_LICENCE_LIMIT} licences",
                            sb.clock.now(),
                        )
                    )


def _sku(sb: Any, sub: Any) -> str:
    sku = sb.tenant.skus.get(sub.sku_id)
    return sku.sku_part_number if sku else sub.id
