"""The device code flow's two requests: ``/devicecode`` starts a sign-in and hands out a user
code, and the token endpoint's device code grant answers each poll until the person at the
browser has decided (state in :mod:`.provider`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .oauth import IdentityError, error_response, json_response, parse_form, require
from .resolution import require_registered_app, resolve_tenant, split_scopes
from .user_tokens import issue_user_tokens

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.http import Request, Response


def devicecode(sb: Sandbox, req: Request) -> Response:
    idp = sb.identity_provider
    try:
        tenant = resolve_tenant(sb, req.params["tenant"])
        form = parse_form(req)
        client_id = require(form, "client_id")
        require_registered_app(sb, client_id)
        scope = require(form, "scope")
        graph, _ = split_scopes(sb, scope)
        if not graph:
            raise IdentityError(
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter naming at "
                "least one Microsoft Graph permission.",
            )
    except IdentityError as err:
        return error_response(sb, req, err)
    code = idp.issue_device_code(client_id, tuple(scope.split()), tenant)
    uri = f"{sb.base_url}/devicelogin"
    return json_response(
        {
            "user_code": code.user_code,
            "device_code": code.device_code,
            "verification_uri": uri,
            "expires_in": int(idp.device_code_lifetime),
            "interval": int(idp.poll_interval),
            "message": (
                f"To sign in, use a web browser to open the page {uri} and enter the code "
                f"{code.user_code} to authenticate."
            ),
        }
    )


def device_code_grant(sb: Sandbox, form: dict[str, str], tenant: str) -> dict[str, Any]:
    client_id = require(form, "client_id")
    device_code = require(form, "device_code")
    return sb.identity_provider.redeem(
        client_id,
        device_code,
        tenant,
        lambda code: issue_user_tokens(sb, client_id, code.user_id or "", " ".join(code.scopes)),
    )
