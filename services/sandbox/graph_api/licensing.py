"""Graph's view of the tenant's subscriptions (``/directory/subscriptions``) and licence SKUs
(``/subscribedSkus``): read-only in Graph, as graph-api.md §3 says; cancelling and deleting are
the admin center's part, played through :mod:`services.sandbox.control_api`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from services.sandbox import odata
from services.sandbox.authz import READ_LICENSING, need
from services.sandbox.clock import iso
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import Subscription

from .objects import not_found

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

SUB_PROPS = (
    "id",
    "commerceSubscriptionId",
    "createdDateTime",
    "isTrial",
    "nextLifecycleDateTime",
    "ownerId",
    "ownerTenantId",
    "ownerType",
    "serviceStatus",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
)
_STATUS_RANK = ("Enabled", "Warning", "Suspended", "LockedOut", "Deleted")


def sub_json(sb: Sandbox, sub: Subscription) -> dict[str, Any]:
    sku = sb.tenant.skus[sub.sku_id]
    plan_status = "Success" if sub.status in ("Enabled", "Warning") else "Disabled"
    return {
        "id": sub.id,
        "commerceSubscriptionId": sub.commerce_subscription_id,
        "createdDateTime": sub.created,
        "isTrial": sub.is_trial,
        "nextLifecycleDateTime": iso(sb.clock.at(sub.next_lifecycle))
        if sub.next_lifecycle is not None
        else None,
        **_owner(sb, sub),
        "serviceStatus": [
            {
                "servicePlanId": pid,
                "servicePlanName": name,
                "provisioningStatus": plan_status,
                "appliesTo": sku.applies_to,
            }
            for pid, name in sku.service_plans
        ],
        "skuId": sub.sku_id,
        "skuPartNumber": sku.sku_part_number,
        "status": sub.status,
        "totalLicenses": sub.total_licenses,
    }


def _owner(sb: Sandbox, sub: Subscription) -> dict[str, Any]:
    """Who bought it: a partner-bought one names the partner's tenant; a direct one, as the
    docs' example shows, the buying user in the tenant's own (switch ``subscription_owner``)."""
    if sub.owner_tenant_id is not None:
        return {
            "ownerId": sub.owner_id,
            "ownerTenantId": sub.owner_tenant_id,
            "ownerType": sub.owner_type,
        }
    if sb.config.subscription_owner == "own-tenant":
        buyer = str(uuid.uuid5(uuid.NAMESPACE_URL, f"buyer/{sub.id}"))
        return {"ownerId": buyer, "ownerTenantId": sb.tenant.org.id, "ownerType": "User"}
    return {"ownerId": None, "ownerTenantId": None, "ownerType": None}


def list_subscriptions(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_LICENSING, application=READ_LICENSING)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    items, nxt = t.subscriptions.page(odata.decode_skiptoken(req, "subs"), top)
    values = [odata.project(sub_json(sb, s), req, "companySubscription", SUB_PROPS) for s in items]
    return Response(
        body=odata.collection_body(sb.base_url, req, "directory/subscriptions", values, nxt, "subs")
    )


def get_subscription(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_LICENSING, application=READ_LICENSING)
    sub = sb.tenant.subscriptions.get(req.params["id"])
    if sub is None:
        raise not_found(req.params["id"])
    return Response(body=odata.project(sub_json(sb, sub), req, "companySubscription", SUB_PROPS))


def subscribed_skus(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_LICENSING, application=READ_LICENSING)
    if "$filter" in req.query:
        raise GraphHttpError(
            400, "Request_UnsupportedQuery", "Query filter expressions aren't supported."
        )
    by_sku: dict[str, list[Subscription]] = defaultdict(list)
    for sub in t.subscriptions.values():
        by_sku[sub.sku_id].append(sub)
    consumed: dict[str, int] = defaultdict(int)
    for user in t.users.values():
        for sku_id in user.assigned_licenses:
            consumed[sku_id] += 1
    values = []
    for sku_id, subs in by_sku.items():
        sku = t.skus[sku_id]
        status = min((s.status for s in subs), key=_STATUS_RANK.index)
        units = {
            k: sum(s.total_licenses for s in subs if s.status == st)
            for k, st in (
                ("enabled", "Enabled"),
                ("warning", "Warning"),
                ("suspended", "Suspended"),
                ("lockedOut", "LockedOut"),
            )
        }
        values.append(
            {
                "accountId": t.org.id,
                "accountName": t.org.display_name,
                "appliesTo": sku.applies_to,
                "capabilityStatus": status,
                "consumedUnits": consumed.get(sku_id, 0),
                "id": f"{t.org.id}_{sku_id}",
                "prepaidUnits": units,
                "servicePlans": [
                    {
                        "servicePlanId": pid,
                        "servicePlanName": name,
                        "provisioningStatus": "Success",
                        "appliesTo": sku.applies_to,
                    }
                    for pid, name in sku.service_plans
                ],
                "skuId": sku_id,
                "skuPartNumber": sku.sku_part_number,
                "subscriptionIds": [s.commerce_subscription_id for s in subs],
            }
        )
    return Response(
        body=odata.collection_body(sb.base_url, req, "subscribedSkus", values, None, "skus")
    )
