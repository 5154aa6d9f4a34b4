"""The admin centers' part of the sandbox (no API exists for it; sandbox-only): cancelling
and deleting subscriptions, deleting in the portal what Graph refuses, ticking the checks
only a person can make, and deleting the tenant with the blockers the portal shows.
"""

from __future__ import annotations

from typing import Any

from .graph_api.applications import delete_application, retire_service_principal
from .http import GraphHttpError
from .sim_time import DAY, SimulatedTime
from .tenant import GLOBAL_ADMIN


class AdminCenter(SimulatedTime):
    """What a person does in the admin centers (a part of ``Sandbox``; sandbox-only)."""

    # -- the admin center's part (no API exists; sandbox-only) ------------------------------

    def cancel_subscription(self, sub_id: str, *, as_partner: bool = False) -> dict[str, Any]:
        with self.lock:
            self.tick()
            sub = self.tenant.subscriptions.get(sub_id)
            if sub is None:
                raise GraphHttpError(404, "NotFound", f"No subscription {sub_id}.")
            if sub.status not in ("Enabled", "Warning"):
                raise GraphHttpError(409, "Conflict", f"Subscription is {sub.status}, not active.")
            if sub.self_service:
                raise GraphHttpError(
                    409,
                    "Conflict",
                    "This is a self-service sign-up product: the Microsoft 365 admin center "
                    "cannot cancel it. Delete it in the Microsoft Entra admin center (Licenses > "
                    "Self-service sign-up products).",
                )
            if sub.owner_tenant_id and not as_partner:
                raise GraphHttpError(
                    409,
                    "Conflict",
                    "This subscription was bought through a partner. Contact your partner to cancel it.",
                )
            if as_partner and not sub.owner_tenant_id:
                raise GraphHttpError(
                    409,
                    "Conflict",
                    "This subscription was bought directly, not through a partner: cancel it in "
                    "the admin center.",
                )
            if sub.total_licenses > 25 and not sub.self_service:
                raise GraphHttpError(
                    409, "Conflict", "Reduce the licences to 25 or fewer before cancelling."
                )
            now = self.clock.now()
            sub.status = "LockedOut"
            sub.next_lifecycle = now + 90 * DAY
            self.recorder.event(now, "subscription-cancelled", id=sub_id, partner=as_partner)
            return {"id": sub_id, "status": sub.status}

    def delete_subscription(self, sub_id: str) -> dict[str, Any]:
        with self.lock:
            self.tick()
            sub = self.tenant.subscriptions.get(sub_id)
            if sub is None:
                raise GraphHttpError(404, "NotFound", f"No subscription {sub_id}.")
            if sub.status not in ("Suspended", "LockedOut"):
                raise GraphHttpError(
                    409,
                    "Conflict",
                    f"Only disabled subscriptions can be deleted; this one is {sub.status}.",
                )
            now = self.clock.now()
            if not sub.marked_for_deletion:
                sub.marked_for_deletion = True
                sub.next_lifecycle = now + self.config.deprovision_hours * 3600.0
                self.recorder.event(now, "subscription-deleted", id=sub_id)
            return {"id": sub_id, "status": sub.status, "deprovisionAt": sub.next_lifecycle}

    def delete_self_service_product(self, sub_id: str) -> dict[str, Any]:
        """Entra admin center > Licenses > Self-service sign-up products > Delete: immediate."""
        with self.lock:
            sub = self.tenant.subscriptions.get(sub_id)
            if sub is None or not sub.self_service:
                raise GraphHttpError(404, "NotFound", f"No self-service sign-up product {sub_id}.")
            sub.status, sub.next_lifecycle = "Deleted", None
            self.recorder.event(self.clock.now(), "self-service-product-deleted", id=sub_id)
            return {"id": sub_id, "status": sub.status}

    def portal_delete_application(self, object_id: str) -> dict[str, Any]:
        """App registrations > the app > Delete, then Deleted applications > Delete permanently.

        The portal's permanent delete is taken to remove the app's soft-deleted service
        principal with it (not documented; service principals have no page in the portal).
        """
        with self.lock:
            app = self.tenant.deleted_applications.get(object_id)
            if app is None:  # still live: Delete first
                app = delete_application(self, object_id)
            self.tenant.deleted_applications.remove(app.id)
            for sp in list(self.tenant.deleted_service_principals.values()):
                if sp.app_id == app.app_id:
                    self.tenant.deleted_service_principals.remove(sp.id)
            self.recorder.event(self.clock.now(), "portal-application-deleted", id=object_id)
            return {"id": object_id, "deleted": True}

    def portal_delete_service_principal(self, object_id: str) -> dict[str, Any]:
        """Enterprise applications > the app > Properties > Delete."""
        with self.lock:
            sp = self.tenant.service_principals.get(object_id)
            if sp is None:
                raise GraphHttpError(404, "NotFound", f"No service principal {object_id}.")
            retire_service_principal(self, sp)
            self.recorder.event(self.clock.now(), "portal-service-principal-deleted", id=object_id)
            return {"id": object_id, "deleted": True}

    def resolve_manual(self, key: str) -> dict[str, Any]:
        with self.lock:
            blocker = self.tenant.manual_blockers.get(key)
            if blocker is None:
                raise GraphHttpError(404, "NotFound", f"No manual item {key!r}.")
            blocker.resolved = True
            self.recorder.event(self.clock.now(), "manual-resolved", key=key)
            return {"key": key, "resolved": True}

    def deletion_blockers(self, caller_id: str | None = None) -> list[str]:
        """The portal's 'Delete tenant' checks (DELTEN, KB2967860 wording)."""
        caller_id = caller_id or self.admin_id
        t = self.tenant
        blockers: list[str] = []
        if not t.has_role(caller_id, GLOBAL_ADMIN):
            blockers.append("Only a Global Administrator can delete the organization.")
        if any(u.id != caller_id for u in t.users.values()):
            blockers.append("Delete all users except yourself.")
        if len(t.deleted_users):
            blockers.append(
                "Directory has one or more deleted users that are not permanently deleted."
            )
        if any(s.status != "Deleted" for s in t.subscriptions.values()):
            blockers.append("Directory has one or more subscriptions to Microsoft Online Services.")
        if len(t.applications):
            blockers.append("Directory has one or more applications.")
        if any(not sp.is_microsoft and sp.account_enabled for sp in t.service_principals.values()):
            blockers.append(
                "Directory contains one or more applications that were added by a user or administrator."
            )
        if self.config.portal_refuses_microsoft_sps and any(
            sp.is_microsoft and sp.account_enabled for sp in t.service_principals.values()
        ):
            blockers.append(
                "Directory contains enterprise applications that can't be deleted here "
                "(Microsoft service principals)."
            )
        for blocker in t.manual_blockers.values():
            if not blocker.resolved:
                blockers.append(blocker.description)
        return blockers

    def delete_tenant(self, caller_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.tick()
            blockers = self.deletion_blockers(caller_id)
            if blockers:
                raise GraphHttpError(409, "TenantDeletionBlocked", " ".join(blockers))
            now = self.clock.now()
            self.tenant.deleted = True
            self.tenant.deleted_at = now
            self.tokens.tenant_deleted = True
            self.recorder.event(
                now,
                "tenant-deleted",
                users=[u.id for u in self.tenant.users.values()],
            )
            return {"deleted": True}
