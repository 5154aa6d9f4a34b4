"""Sandbox-only control endpoints under ``/_sandbox/``: the admin center's part that no API
offers (cancel or delete a subscription, clear manual checks, delete the tenant), the clock,
fault injection, ready tokens, the person at the device login page, and the recorder's summary.

The real code path never calls these; ``GraphClient`` refuses any ``/_sandbox`` path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .faults import FaultRule
from .http import GraphHttpError, Request, Response

if TYPE_CHECKING:
    from .core import Sandbox


def _body(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    data = req.json()
    if not isinstance(data, dict):
        raise GraphHttpError(400, "BadRequest", "Expected a JSON object.")
    return data


def state_summary(sb: Sandbox) -> dict[str, Any]:
    with sb.lock:
        sb.tick()
        t = sb.tenant
        now = sb.clock.now()
        users = list(t.users.values())
        return {
            "tenantId": t.org.id,
            "displayName": t.org.display_name,
            "initialDomain": t.org.initial_domain,
            "simulatedNow": sb.clock.now_dt().isoformat(),
            "timeScale": sb.clock.time_scale,
            "users": len(users),
            "syncedUsers": sum(1 for u in users if u.is_synced(now)),
            "guests": sum(1 for u in users if u.user_type == "Guest"),
            "deletedUsers": len(t.deleted_users),
            "directorySync": {
                "enabled": t.org.sync_enabled,
                "disabledAt": t.org.sync_disabled_at,
                "doneAt": t.org.sync_done_at,
            },
            "subscriptions": [
                {
                    "id": s.id,
                    "sku": t.skus[s.sku_id].sku_part_number,
                    "status": s.status,
                    "partner": bool(s.owner_tenant_id),
                    "markedForDeletion": s.marked_for_deletion,
                    "trial": s.is_trial,
                    "selfService": s.self_service,
                }
                for s in t.subscriptions.values()
            ],
            "applications": len(t.applications),
            "servicePrincipals": len(t.service_principals),
            "deletedApplications": len(t.deleted_applications),
            "deletedServicePrincipals": len(t.deleted_service_principals),
            "conditionalAccess": {p.display_name: p.state for p in t.ca_policies.values()},
            "securityDefaults": t.security_defaults_enabled,
            "manual": {k: b.resolved for k, b in t.manual_blockers.items()},
            "deletionBlockers": sb.deletion_blockers() if not t.deleted else [],
            "tenantDeleted": t.deleted,
        }


def state(sb: Sandbox, req: Request) -> Response:
    return Response(body=state_summary(sb))


def stats(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.recorder.summary())


def cancel_subscription(sb: Sandbox, req: Request) -> Response:
    return Response(
        body=sb.cancel_subscription(req.params["id"], as_partner=bool(_body(req).get("asPartner")))
    )


def delete_subscription(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.delete_subscription(req.params["id"]))


def delete_self_service_product(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.delete_self_service_product(req.params["id"]))


def portal_delete_application(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.portal_delete_application(req.params["id"]))


def portal_delete_service_principal(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.portal_delete_service_principal(req.params["id"]))


def resolve_manual(sb: Sandbox, req: Request) -> Response:
    return Response(body=sb.resolve_manual(req.params["key"]))


def delete_tenant(sb: Sandbox, req: Request) -> Response:
    upn = _body(req).get("upn")
    caller = None
    if upn:
        user = sb.tenant.find_user(upn)
        if user is None:
            raise GraphHttpError(404, "NotFound", f"No user {upn}.")
        caller = user.id
    return Response(body=sb.delete_tenant(caller))


def advance_clock(sb: Sandbox, req: Request) -> Response:
    data = _body(req)
    seconds = float(data.get("seconds", 0)) + float(data.get("hours", 0)) * 3600
    sb.clock.advance(seconds)
    with sb.lock:
        sb.tick()
    return Response(body={"simulatedNow": sb.clock.now_dt().isoformat()})


def add_fault(sb: Sandbox, req: Request) -> Response:
    data = _body(req)
    allowed = set(FaultRule.__dataclass_fields__) - {"hits"}
    unknown = set(data) - allowed
    if unknown:
        raise GraphHttpError(400, "BadRequest", f"Unknown fault fields: {sorted(unknown)}")
    sb.faults.add(FaultRule(**data))
    return Response(status=204)


def clear_faults(sb: Sandbox, req: Request) -> Response:
    sb.faults.clear()
    return Response(status=204)


def issue_token(sb: Sandbox, req: Request) -> Response:
    data = _body(req)
    scopes = data.get("scopes")
    try:
        tok = sb.issue_token(
            scopes=set(scopes) if scopes is not None else None,
            lifetime=data.get("lifetime"),
            upn=data.get("upn"),
        )
    except KeyError as exc:
        raise GraphHttpError(404, "NotFound", str(exc)) from None
    return Response(body={"access_token": tok, "token_type": "Bearer"})


def revoke_token(sb: Sandbox, req: Request) -> Response:
    sb.revoke(str(_body(req).get("token", "")))
    return Response(status=204)


def pending_sign_ins(sb: Sandbox, req: Request) -> Response:
    return Response(body={"value": sb.identity_provider.pending()})


def decide_sign_in(sb: Sandbox, req: Request) -> Response:
    """Approve (as ``upn``, default the admin) or deny a device code, as the browser would."""
    idp = sb.identity_provider
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("user_code"), str):
        raise GraphHttpError(400, "BadRequest", 'Expected {"user_code": "..."}.')
    upn = body.get("upn")
    if upn is not None and not isinstance(upn, str):
        raise GraphHttpError(400, "BadRequest", "'upn' must be a string.")
    try:
        user_code = body["user_code"]
        result = idp.deny(user_code) if body.get("deny") else idp.approve(user_code, upn)
    except LookupError as exc:
        raise GraphHttpError(404, "NotFound", str(exc)) from None
    return Response(body=result)
