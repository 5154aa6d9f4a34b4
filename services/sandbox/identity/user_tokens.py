"""Tokens for a signed-in user: access, refresh and id token, issued once consent allows the
scopes asked for, and the ``refresh_token`` grant that issues them again. Access tokens come
from :class:`~services.sandbox.tokens.TokenStore`; this module only decides whether to issue."""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from services.sandbox.authz import ALL_SCOPES

from .oauth import IdentityError, b64url, https_base, require
from .resolution import OIDC_SCOPES, resolve_tenant, split_scopes

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.tenant import User


def refresh_grant(sb: Sandbox, form: dict[str, str], tenant: str) -> dict[str, Any]:
    client_id = require(form, "client_id")
    refresh_token = require(form, "refresh_token")
    record = sb.tokens.redeem_refresh_token(refresh_token)
    if record is None or record.app_id != client_id:
        raise IdentityError(
            "invalid_grant",
            70000,
            "The provided value for the 'refresh_token' is not valid: it was revoked, "
            "expired, or issued to another application.",
        )
    scope = form.get("scope", "").strip()
    if not split_scopes(sb, scope)[0]:
        scope = " ".join([*sorted(record.scopes), *sorted(OIDC_SCOPES)])
    # Refresh tokens are not bound to the tenant segment they were issued on (as in Entra):
    # one from /organizations works on /{tenant id} and the other way round.
    return issue_user_tokens(sb, client_id, record.user_id, scope)


def issue_user_tokens(sb: Sandbox, client_id: str, user_id: str, scope: str) -> dict[str, Any]:
    graph, oidc = split_scopes(sb, scope)
    with sb.lock:
        user = sb.tenant.users.get(user_id)
        domain = sb.initial_domain
        if sb.tenant.deleted:
            resolve_tenant(sb, sb.tenant_id)  # raises AADSTS90002
    if user is None or not user.account_enabled:
        raise IdentityError(
            "invalid_grant",
            50034 if user is None else 50057,
            f"The user account {user_id} does not exist in the {domain} directory, or it "
            "is disabled. To sign into this application, the account must be added to the "
            "directory.",
        )
    wanted = {bare for _, bare in graph}
    if ".default" in wanted:
        wanted.discard(".default")
        wanted |= set(sb.config.granted_scopes or ALL_SCOPES)
    granted = sb.granted(frozenset(wanted))
    missing = wanted - granted
    if missing:
        raise IdentityError(
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID "
            f"'{client_id}'. Send an interactive authorization request for this user and "
            "resource.",
            suberror="consent_required",
        )
    access = sb.tokens.issue_user_token(
        user_id=user.id, upn=user.user_principal_name, app_id=client_id, scopes=granted
    )
    refresh = sb.tokens.issue_refresh_token(
        user_id=user.id, upn=user.user_principal_name, app_id=client_id, scopes=granted
    )
    lifetime = int(sb.tokens.lifetime)
    # Echo the scopes in the form they were asked for, as Entra does, so that msal's cache
    # finds the token again for the same request.
    echoed = [as_sent for as_sent, bare in graph if bare == ".default" or bare in granted]
    echoed += sorted(oidc & {"openid", "profile", "email"})
    return {
        "token_type": "Bearer",
        "scope": " ".join(echoed),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
        "refresh_token": refresh,
        "id_token": _id_token(sb, client_id, user),
        "client_info": b64url(
            json.dumps({"uid": user.id, "utid": sb.tenant_id}, separators=(",", ":")).encode()
        ),
    }


def _id_token(sb: Sandbox, client_id: str, user: User) -> str:
    now = int(time.time())
    claims = {
        "aud": client_id,
        "iss": f"{https_base(sb)}/{sb.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.user_principal_name,
        # Pairwise subject, as Entra issues it: stable per user and app.
        "sub": b64url(hashlib.sha256(f"{user.id}:{client_id}".encode()).digest())[:43],
        "tid": sb.tenant_id,
        "ver": "2.0",
    }
    header = b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}."
