"""Graph's per-user MFA state (``/users/{id}/authentication/requirements``): beta only, as
graph-api.md §5 says; v1.0 answers the way Graph does for a beta-only API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.sandbox import odata
from services.sandbox.authz import need
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import AUTH_POLICY_ADMIN, GLOBAL_ADMIN, GLOBAL_READER, PRIV_AUTH_ADMIN

from .objects import user_or_404

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

MFA_STATES = ("disabled", "enabled", "enforced")


def get_mfa(sb: Sandbox, req: Request) -> Response:
    need(
        req,
        sb.tenant,
        delegated=("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"),
        application=("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"),
        # AGET's rbac include: Global Reader or Authentication Policy Administrator (and a
        # Global Administrator, who holds every role's permissions).
        roles=(GLOBAL_ADMIN, AUTH_POLICY_ADMIN, GLOBAL_READER),
    )
    user = user_or_404(sb.tenant, req.params["id"])
    return Response(
        body={
            "@odata.context": f"https://graph.microsoft.com/beta/$metadata#users('{user.id}')/authentication/requirements",
            "perUserMfaState": user.mfa_state,
        }
    )


def patch_mfa(sb: Sandbox, req: Request) -> Response:
    need(
        req,
        sb.tenant,
        delegated=("Policy.ReadWrite.AuthenticationMethod",),
        application=("Policy.ReadWrite.AuthenticationMethod",),
        # AUPD's rbac include; whether a Privileged Authentication Administrator may as well
        # is not documented either way (the mfa-write switch).
        roles=(GLOBAL_ADMIN, AUTH_POLICY_ADMIN)
        + ((PRIV_AUTH_ADMIN,) if sb.config.mfa_write_roles == "priv-auth-admin-too" else ()),
    )
    user = user_or_404(sb.tenant, req.params["id"])
    body = odata.update_body(req, "strongAuthenticationRequirements")
    state = body.get("perUserMfaState")
    if state not in MFA_STATES or set(body) != {"perUserMfaState"}:
        raise GraphHttpError(400, "BadRequest", "Invalid value for perUserMfaState.")
    before = user.mfa_state
    user.mfa_state = state
    sb.recorder.event(sb.clock.now(), "mfa-changed", id=user.id, before=before, after=state)
    return Response(status=204)


def mfa_on_v1(sb: Sandbox, req: Request) -> Response:
    if req.in_batch:
        # BATCH: a beta-only API in a v1.0 $batch answers 405 Request_BadRequest.
        raise GraphHttpError(
            405,
            "Request_BadRequest",
            "The requested API is only available in the beta endpoint.",
        )
    raise GraphHttpError(400, "BadRequest", "Resource not found for the segment 'authentication'.")
