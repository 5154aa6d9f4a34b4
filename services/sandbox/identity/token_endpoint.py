"""The token endpoint (``/{tenant}/oauth2/v2.0/token``): picks the grant a request names and
renders its answer or its ``AADSTS`` error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .client_credentials import client_credentials_grant
from .device_code_flow import device_code_grant
from .oauth import (
    DEVICE_CODE_GRANT,
    IdentityError,
    error_response,
    json_response,
    parse_form,
    require,
)
from .resolution import require_registered_app, resolve_tenant
from .user_tokens import refresh_grant

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.http import Request, Response


def token(sb: Sandbox, req: Request) -> Response:
    try:
        tenant = resolve_tenant(sb, req.params["tenant"])
        form = parse_form(req)
        require_registered_app(sb, form.get("client_id", ""))
        grant = require(form, "grant_type")
        if grant == DEVICE_CODE_GRANT:
            return json_response(device_code_grant(sb, form, tenant))
        if grant == "refresh_token":
            return json_response(refresh_grant(sb, form, tenant))
        if grant == "client_credentials":
            return json_response(client_credentials_grant(sb, form, tenant))
        raise IdentityError(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    except IdentityError as err:
        return error_response(sb, req, err)
