"""OpenID discovery: the configuration document msal reads before anything else, and an
empty key set (the sandbox's id tokens are unsigned)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .oauth import IdentityError, error_response, https_base, json_response
from .resolution import resolve_tenant

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.http import Request, Response


def openid_configuration(sb: Sandbox, req: Request) -> Response:
    try:
        tenant = resolve_tenant(sb, req.params["tenant"])
    except IdentityError as err:
        return error_response(sb, req, err)
    base = https_base(sb)
    issuer_tenant = "{tenantid}" if tenant in ("organizations", "common") else tenant
    return json_response(
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            # The sandbox's id tokens are unsigned; msal decodes them without checking.
            "id_token_signing_alg_values_supported": ["none"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "tid",
                "ver",
                "oid",
                "preferred_username",
            ],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "closeout.sandbox",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


def keys(sb: Sandbox, req: Request) -> Response:
    try:
        resolve_tenant(sb, req.params["tenant"])
    except IdentityError as err:
        return error_response(sb, req, err)
    return json_response({"keys": []})
