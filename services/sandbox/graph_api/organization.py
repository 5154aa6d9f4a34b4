"""Graph's organization: the tenant's own record, and turning directory sync off (which takes
up to 72 simulated hours, and can't be undone for 72 hours), as graph-api.md §1 describes."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from services.sandbox import odata
from services.sandbox.authz import READ_LICENSING, READ_ORG, need
from services.sandbox.clock import iso
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import GLOBAL_ADMIN, HYBRID_ADMIN, SYNC_LOCK_SECONDS

from .objects import not_found

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

ORG_PROPS = (
    "id",
    "displayName",
    "countryLetterCode",
    "createdDateTime",
    "tenantType",
    "verifiedDomains",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
)


def org_json(sb: Sandbox) -> dict[str, Any]:
    o = sb.tenant.org
    domains = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": not o.custom_domains,
            "isInitial": True,
            "name": o.initial_domain,
            "type": "Managed",
        }
    ]
    domains += [
        {
            "capabilities": "Email",
            "isDefault": True,
            "isInitial": False,
            "name": d,
            "type": "Federated" if o.sync_enabled else "Managed",
        }
        for d in o.custom_domains
    ]
    return {
        "id": o.id,
        "displayName": o.display_name,
        "countryLetterCode": o.country,
        "createdDateTime": o.created,
        "tenantType": "AAD",
        "verifiedDomains": domains,
        "onPremisesSyncEnabled": sync_flag(sb),
        "onPremisesLastSyncDateTime": iso(sb.clock.at(-3600))
        if (o.sync_enabled or o.sync_disabled_at is not None)
        else None,
    }


def sync_flag(sb: Sandbox) -> bool | None:
    """The organization's ``onPremisesSyncEnabled``: documented ``true`` while synced, ``false``
    once no longer synced, ``null`` if never; while turning off is under way it reads as the
    ``sync_flag`` switch says, since Microsoft documents no pending value."""
    o = sb.tenant.org
    if o.sync_enabled:
        return True
    if o.sync_disabled_at is None:
        return None
    if sb.config.sync_flag == "lags":
        return o.sync_done_at is None
    return None if sb.config.sync_flag == "null" else False


USER_READ_PROPS = frozenset({"id", "displayName", "verifiedDomains"})
"""What User.Read alone reads of the organization: Graph answers null for the rest (ORGGET)."""


def _visible_org(sb: Sandbox, req: Request) -> dict[str, Any]:
    body = org_json(sb)
    if req.principal is not None and not req.principal.has_permission(READ_LICENSING):
        body = {k: (v if k in USER_READ_PROPS else None) for k, v in body.items()}
    return body


def list_org(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_ORG, application=READ_ORG)
    values = [odata.project(_visible_org(sb, req), req, "organization", ORG_PROPS)]
    return Response(
        body=odata.collection_body(sb.base_url, req, "organization", values, None, "org")
    )


def get_org(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_ORG, application=READ_ORG)
    if req.params["id"] != sb.tenant.org.id:
        raise not_found(req.params["id"])
    return Response(body=odata.project(_visible_org(sb, req), req, "organization", ORG_PROPS))


def patch_org(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(
        req,
        t,
        delegated=("Organization.ReadWrite.All",),
        application=("Organization.ReadWrite.All",),
        roles=(GLOBAL_ADMIN, HYBRID_ADMIN),
    )
    if req.params["id"] != t.org.id:
        raise not_found(req.params["id"])
    body = odata.update_body(req, "organization")
    o = t.org
    now = sb.clock.now()
    for key, value in body.items():
        if key != "onPremisesSyncEnabled" or not isinstance(value, bool):
            raise GraphHttpError(
                400,
                "Request_BadRequest",
                f"Property '{key}' is read-only or not supported here.",
            )
        if value is False and o.sync_enabled:
            o.sync_enabled = False
            o.sync_disabled_at = now
            duration = sb.sync_duration()
            rng = random.Random(sb.config.seed * 31 + 17)
            at_end = sb.config.sync_conversion == "at-end"
            for user in t.users.values():
                if user.synced:
                    share = 1.0 if at_end else 0.2 + 0.8 * rng.random()
                    user.synced_until = now + duration * share
            sb.recorder.event(now, "sync-disabled", duration=duration)
        elif value is True and not o.sync_enabled:
            if o.sync_disabled_at is not None and now < o.sync_disabled_at + SYNC_LOCK_SECONDS:
                raise GraphHttpError(
                    400,
                    "Request_BadRequest",
                    "Directory synchronization is being turned off. It can't be turned back on "
                    "until that has finished and 72 hours have passed.",
                )
            o.sync_enabled = True
            o.sync_disabled_at = None
            o.sync_done_at = None
            for user in t.users.values():
                user.synced_until = None
    return Response(status=204)
