"""Graph's tenant-wide sign-in policies: security defaults and Conditional Access policies
(read, and switched on or off), as graph-api.md §4 describes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.sandbox import odata
from services.sandbox.authz import READ_CONDITIONAL_ACCESS, READ_SECURITY_DEFAULTS, need
from services.sandbox.clock import iso
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import CA_ADMIN, GLOBAL_ADMIN, SECURITY_ADMIN

from .objects import not_found

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

CA_STATES = ("enabled", "disabled", "enabledForReportingButNotEnforced")


def _secdef_json(sb: Sandbox) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity",
        "id": "00000000-0000-0000-0000-000000000005",
        "displayName": "Security Defaults",
        "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
        "isEnabled": sb.tenant.security_defaults_enabled,
    }


def get_secdef(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_SECURITY_DEFAULTS, application=READ_SECURITY_DEFAULTS)
    return Response(body=_secdef_json(sb))


def patch_secdef(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(
        req,
        t,
        delegated=("Policy.ReadWrite.SecurityDefaults",),
        application=("Policy.ReadWrite.SecurityDefaults",),
        roles=(GLOBAL_ADMIN, SECURITY_ADMIN),
    )
    body = odata.update_body(req, "identitySecurityDefaultsEnforcementPolicy")
    value = body.get("isEnabled")
    if not isinstance(value, bool):
        raise GraphHttpError(400, "BadRequest", "isEnabled must be true or false.")
    if value and any(p.state == "enabled" for p in t.ca_policies.values()):
        raise GraphHttpError(
            400,
            "BadRequest",
            "Security defaults can't be enabled while Conditional Access policies are enabled.",
        )
    t.security_defaults_enabled = value
    sb.recorder.event(sb.clock.now(), "security-defaults", enabled=value)
    return Response(status=204)


def list_ca(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_CONDITIONAL_ACCESS, application=READ_CONDITIONAL_ACCESS)
    values = [p.to_graph() for p in sb.tenant.ca_policies.values()]
    return Response(
        body=odata.collection_body(
            sb.base_url, req, "identity/conditionalAccess/policies", values, None, "ca"
        )
    )


def get_ca(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_CONDITIONAL_ACCESS, application=READ_CONDITIONAL_ACCESS)
    pol = sb.tenant.ca_policies.get(req.params["id"])
    if pol is None:
        raise not_found(req.params["id"])
    return Response(body=pol.to_graph())


def patch_ca(sb: Sandbox, req: Request) -> Response:
    need(
        req,
        sb.tenant,
        delegated=("Policy.ReadWrite.ConditionalAccess",),
        application=("Policy.ReadWrite.ConditionalAccess",),
        roles=(GLOBAL_ADMIN, CA_ADMIN, SECURITY_ADMIN),
    )
    p = req.principal
    if p is not None and not p.has_permission(("Policy.Read.All",)):
        # CAUPD lists Policy.Read.All together with Policy.ReadWrite.ConditionalAccess.
        raise GraphHttpError(
            403,
            "AccessDenied",
            "You cannot perform the requested operation, required scopes are missing in the token.",
        )
    pol = sb.tenant.ca_policies.get(req.params["id"])
    if pol is None:
        raise not_found(req.params["id"])
    body = odata.update_body(req, "conditionalAccessPolicy")
    state = body.get("state")
    if state not in CA_STATES or set(body) != {"state"}:
        raise GraphHttpError(
            400,
            "BadRequest",
            "Only 'state' can be changed here, to enabled, disabled or enabledForReportingButNotEnforced.",
        )
    pol.state = state
    pol.modified = iso(sb.clock.now_dt())
    sb.recorder.event(sb.clock.now(), "ca-policy-changed", id=pol.id, state=state)
    return Response(status=204)
