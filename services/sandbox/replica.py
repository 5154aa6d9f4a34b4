"""A sandbox tenant built from a snapshot of a real one (``sandbox serve --from-snapshot``).

The seeded generator (:mod:`.seed`) invents a tenant; this module rebuilds the one a snapshot
recorded: the same ids, names, states, licences, roles, sync rules, subscriptions with their
lifecycle dates, applications, service principals, recycle bin and policies. The sandbox's
clock starts at the snapshot's capture time, so a subscription's next lifecycle date falls
where it fell in the real tenant, and the throttling quotas are those of the tenant's size.

What a snapshot cannot hold is filled in the way that makes the rehearsal the stricter one:
every check no API can make (an unpaid invoice, a self-service product, an Azure subscription)
is there until the admin's part is played; per-user MFA is on where the snapshot did not read
it (``--mfa``); Microsoft's own service principals refuse deletion, others allow it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.i18n import _
from services.self_service import is_self_service_sku
from services.snapshot.fileformat import Snapshot, SnapshotError
from services.timestamps import parse_time

from .config import SandboxConfig
from .seed import MANUAL_BLOCKERS
from .tenant import (
    GLOBAL_ADMIN,
    MICROSOFT_TENANT_IDS,
    Application,
    ConditionalAccessPolicy,
    DirectoryRole,
    ManualBlocker,
    Organization,
    ServicePrincipal,
    Sku,
    Subscription,
    Tenant,
    User,
)

if TYPE_CHECKING:
    from .core import Sandbox

__all__ = ["Replica", "build_replica", "replica_config", "start_replica"]

UNKNOWN_MFA = "enabled"
"""A user's per-user MFA state when the snapshot did not read it: on, so step 4 has it to do."""
_EPOCH = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class Replica:
    tenant: Tenant
    start: datetime
    """The capture time: simulated time 0."""
    settings: dict[str, object]
    """Behaviour switches the snapshot shows (e.g. how direct subscriptions name their owner)."""


def _sim(value: object, start: datetime, what: str) -> float | None:
    """Seconds from the capture to ``value`` (the snapshot's ``what``) on the sandbox's clock.

    None where the snapshot recorded no time (Graph's null). A time without an offset is read
    as UTC, as :func:`services.timestamps.parse_time` reads every time closeout is handed; a
    value that is not a time at all raises :class:`SnapshotError` naming it, rather than
    quietly dropping a subscription's lifecycle date or a deletion's.
    """
    if value is None or value == "":
        return None
    moment = parse_time(value)
    if moment is None:
        raise SnapshotError(
            _("The snapshot's {what} {value!r} is not a time.").format(what=what, value=value),
            _("Take the snapshot again with closeout snapshot: the file was changed."),
        )
    return (moment - start).total_seconds()


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _binned_upn(object_id: str, upn: str) -> str:
    """The recycle bin's form of a deleted user's UPN, as Graph lists it: a snapshot records
    the UPN as it was (closeout reads it back that way), the replica serves it as Graph does."""
    prefix = object_id.replace("-", "")
    return upn if not upn or upn.casefold().startswith(prefix.casefold()) else prefix + upn


def build_replica(snapshot: Snapshot) -> Replica:
    """The tenant ``snapshot`` recorded. A snapshot with no Global Administrator to act as
    raises :class:`SnapshotError`."""
    body = snapshot.body
    start = snapshot.captured_at
    org_raw = body["organization"]
    domains = [d for d in org_raw.get("verifiedDomains") or [] if isinstance(d, dict)]
    initial = next((d for d in domains if d.get("isInitial")), domains[0] if domains else {})
    users_raw = snapshot.part("users")
    org = Organization(
        id=snapshot.tenant_id,
        display_name=_text(org_raw.get("displayName")),
        initial_domain=_text(initial.get("name"), f"{snapshot.tenant_id}.onmicrosoft.com"),
        custom_domains=[_text(d.get("name")) for d in domains if d is not initial],
        sync_enabled=org_raw.get("onPremisesSyncEnabled") is True
        or any(u.get("onPremisesSyncEnabled") is True for u in users_raw),
    )
    tenant = Tenant(org=org)
    mfa = body.get("mfaStates") or {}
    for u in users_raw:
        user = User(
            id=u["id"],
            user_principal_name=_text(u.get("userPrincipalName")),
            display_name=_text(u.get("displayName")),
            given_name=None,
            surname=None,
            user_type=_text(u.get("userType"), "Member"),
            account_enabled=u.get("accountEnabled") is not False,
            # Only "synced now" matters to the close-out: a formerly synced user is cloud-only.
            synced=u.get("onPremisesSyncEnabled") is True,
            assigned_licenses=[
                str(a["skuId"])
                for a in u.get("assignedLicenses") or []
                if isinstance(a, dict) and a.get("skuId")
            ],
            mfa_state=str(mfa.get(u["id"], UNKNOWN_MFA)),
        )
        tenant.users.add(user.id, user)
    for d in snapshot.part("deletedUsers"):
        gone = User(
            id=d["id"],
            user_principal_name=_binned_upn(d["id"], _text(d.get("userPrincipalName"))),
            display_name=_text(d.get("displayName")),
            given_name=None,
            surname=None,
            deleted_at=_text(d.get("deletedDateTime")) or None,
            deleted_sim=_sim(d.get("deletedDateTime"), start, "deletedDateTime"),
        )
        tenant.deleted_users.add(gone.id, gone)
    _roles(tenant, snapshot)
    tenant.admin_id = _acting_admin(tenant, snapshot)
    _licensing(tenant, snapshot, start)
    _apps(tenant, snapshot)
    _policies(tenant, snapshot)
    # A snapshot cannot tell whether the checks no API makes hold: all wait for the admin.
    for key, text in MANUAL_BLOCKERS:
        tenant.manual_blockers[key] = ManualBlocker(key=key, description=text)
    return Replica(tenant, start, _settings(snapshot))


def _roles(tenant: Tenant, snapshot: Snapshot) -> None:
    for r in snapshot.part("directoryRoles"):
        template = _text(r.get("roleTemplateId"))
        if not template:
            continue
        members = [m for m in r.get("members") or [] if m in tenant.users]
        tenant.roles[template] = DirectoryRole(
            id=r["id"], template_id=template, members=members, name=_text(r.get("displayName"))
        )
    if GLOBAL_ADMIN not in tenant.roles:
        # Always activated in a real tenant; a snapshot that could not read roles lacks it.
        role_id = str(uuid.uuid5(uuid.UUID(tenant.org.id), GLOBAL_ADMIN))
        tenant.roles[GLOBAL_ADMIN] = DirectoryRole(id=role_id, template_id=GLOBAL_ADMIN)


def _acting_admin(tenant: Tenant, snapshot: Snapshot) -> str:
    """Who signs in to the replica: whoever took the snapshot, else the first enabled member
    Global Administrator (an app-only snapshot)."""
    signed_in = snapshot.signed_in_id
    if signed_in and signed_in in tenant.users:
        return signed_in
    for uid in tenant.roles[GLOBAL_ADMIN].members:
        user = tenant.users.get(uid)
        if user is not None and user.account_enabled and user.user_type == "Member":
            return uid
    raise SnapshotError(
        _("The snapshot holds no enabled Global Administrator to rehearse as."),
        _("Take the snapshot signed in as the Global Administrator who will close the tenant."),
    )


def _plans(items: object) -> list[tuple[str, str]]:
    """(servicePlanId, servicePlanName) of a SKU's plans or a subscription's service status."""
    return [
        (_text(p.get("servicePlanId")), _text(p.get("servicePlanName")))
        for p in (items if isinstance(items, list) else [])
        if isinstance(p, dict)
    ]


def _licensing(tenant: Tenant, snapshot: Snapshot, start: datetime) -> None:
    for s in snapshot.part("subscribedSkus"):
        sku_id = _text(s.get("skuId"))
        if not sku_id:
            continue
        tenant.skus[sku_id] = Sku(
            sku_id,
            _text(s.get("skuPartNumber"), sku_id),
            _plans(s.get("servicePlans")),
            _text(s.get("appliesTo"), "User"),
        )
    for s in snapshot.part("subscriptions"):
        sku_id = _text(s.get("skuId"), s["id"])
        part = _text(s.get("skuPartNumber"), sku_id)
        if sku_id not in tenant.skus:
            # A subscription whose licences are gone from subscribedSkus (one being deleted).
            tenant.skus[sku_id] = Sku(sku_id, part, _plans(s.get("serviceStatus")))
        owner = _text(s.get("ownerTenantId")) or None
        partner = owner if owner and owner.lower() != tenant.org.id.lower() else None
        sub = Subscription(
            id=s["id"],
            commerce_subscription_id=_text(s.get("commerceSubscriptionId"), s["id"]),
            sku_id=sku_id,
            status=_text(s.get("status"), "Enabled"),
            is_trial=s.get("isTrial") is True,
            total_licenses=int(s.get("totalLicenses") or 0),
            created=_text(s.get("createdDateTime"), _EPOCH),
            next_lifecycle=_sim(s.get("nextLifecycleDateTime"), start, "nextLifecycleDateTime"),
            owner_tenant_id=partner,
            owner_id=(_text(s.get("ownerId")) or None) if partner else None,
            owner_type=(_text(s.get("ownerType")) or None) if partner else None,
            self_service=is_self_service_sku(part),
        )
        tenant.subscriptions.add(sub.id, sub)


def _apps(tenant: Tenant, snapshot: Snapshot) -> None:
    for part, collection in (
        ("applications", tenant.applications),
        ("deletedApplications", tenant.deleted_applications),
    ):
        for a in snapshot.part(part):
            app = Application(
                id=a["id"],
                app_id=_text(a.get("appId")),
                display_name=_text(a.get("displayName")),
                created=_text(a.get("createdDateTime"), _EPOCH),
                deleted_at=(_text(a.get("deletedDateTime")) or _EPOCH)
                if part == "deletedApplications"
                else None,
            )
            collection.add(app.id, app)
    for part, sps in (
        ("servicePrincipals", tenant.service_principals),
        ("deletedServicePrincipals", tenant.deleted_service_principals),
    ):
        for s in snapshot.part(part):
            owner = _text(s.get("appOwnerOrganizationId"))
            sp = ServicePrincipal(
                id=s["id"],
                app_id=_text(s.get("appId")),
                display_name=_text(s.get("displayName")),
                app_owner_organization_id=owner,
                account_enabled=s.get("accountEnabled") is not False,
                delete_behaviour="refuse" if owner in MICROSOFT_TENANT_IDS else "ok",
                deleted_at=(_text(s.get("deletedDateTime")) or _EPOCH)
                if part == "deletedServicePrincipals"
                else None,
            )
            sps.add(sp.id, sp)


def _policies(tenant: Tenant, snapshot: Snapshot) -> None:
    sd = snapshot.body.get("securityDefaults")
    tenant.security_defaults_enabled = isinstance(sd, dict) and sd.get("isEnabled") is True
    for p in snapshot.part("conditionalAccessPolicies"):
        controls = p.get("grantControls")
        grant = controls if isinstance(controls, dict) else {}
        users = (p.get("conditions") or {}).get("users") or {}
        strength = grant.get("authenticationStrength")
        policy = ConditionalAccessPolicy(
            id=p["id"],
            display_name=_text(p.get("displayName")),
            state=_text(p.get("state"), "disabled"),
            built_in_controls=list(grant.get("builtInControls") or []),
            include_users=list(users.get("includeUsers") or []),
            exclude_users=list(users.get("excludeUsers") or []),
            include_roles=list(users.get("includeRoles") or []),
            authentication_strength=_text(strength.get("displayName"), "strength")
            if isinstance(strength, dict)
            else None,
            created=_text(p.get("createdDateTime"), _EPOCH),
            modified=_text(p.get("modifiedDateTime")) or None,
        )
        tenant.ca_policies.add(policy.id, policy)


def _settings(snapshot: Snapshot) -> dict[str, Any]:
    """The switches whose setting the snapshot shows: a direct subscription with no
    ``ownerTenantId`` means Graph answers this tenant the ``no-owner`` way."""
    tenant_id = snapshot.tenant_id.lower()
    direct = [
        s
        for s in snapshot.part("subscriptions")
        if not s.get("ownerTenantId") or str(s.get("ownerTenantId")).lower() == tenant_id
    ]
    if direct and all(not s.get("ownerTenantId") for s in direct):
        return {"subscription_owner": "none"}
    return {}


def replica_config(
    snapshot: Snapshot, config: SandboxConfig, chosen: dict[str, Any] | None = None
) -> SandboxConfig:
    """``config`` for serving the snapshot's replica: its size, and the switches the snapshot
    shows unless ``chosen`` (``--behaviour``) sets them."""
    settings = {k: v for k, v in _settings(snapshot).items() if k not in (chosen or {})}
    return replace(config, users=len(snapshot.part("users")), **settings)


def start_replica(snapshot: Snapshot, config: SandboxConfig) -> Sandbox:
    """Serve the snapshot's replica on loopback; call ``.stop()`` when done."""
    from .core import Sandbox

    replica = build_replica(snapshot)
    return Sandbox(config, tenant=replica.tenant, start=replica.start).start()
