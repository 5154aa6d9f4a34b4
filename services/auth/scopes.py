"""What closeout asks Entra for, and what a token says it was given.

Owns the client id used when the admin names none, the delegated scopes a run asks for (only
those it needs, derived from the endpoint table :mod:`services.endpoints`), their qualification
per cloud, and the decoding of an access token's claims.

Microsoft says clients must treat access tokens as opaque: they may be encrypted or not JWTs at
all. What a readable token's claims say is therefore only ever a hint (an early, friendly
message); no decision that blocks or permits a run rests on it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from services import endpoints

__all__ = [
    "CONDITIONAL_ACCESS_WRITE",
    "DEFAULT_CLIENT_ID",
    "GLOBAL_GRAPH",
    "GRAPH_SCOPES",
    "OIDC_SCOPES",
    "READ_ONLY_SCOPES",
    "RUN_SCOPES",
    "SECURITY_DEFAULTS_WRITE",
    "bare_scope",
    "claimed_permissions",
    "is_app_only",
    "scoped",
    "scopes_for",
    "token_claims",
]

DEFAULT_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
""""Microsoft Graph Command Line Tools", the public client Graph PowerShell signs in with.

No Microsoft document endorses its reuse by other tools, tenants may block it with Conditional
Access, and every scope it asks for needs admin consent (graph-api.md §9): ``--client-id``
takes an app registration of the organization's own instead.
"""

GLOBAL_GRAPH = "https://graph.microsoft.com"


def scopes_for(
    *,
    read_only: bool,
    disable_security_defaults: bool = False,
    disable_ca_mfa: bool = False,
    usage_reports: bool = False,
) -> tuple[str, ...]:
    """The delegated scopes this run needs, and no more, from the endpoint table.

    A read-only run asks for the least permission of each read. A run that may write asks, per
    call, for what its row says (:attr:`~services.endpoints.Endpoint.asks`, else the least), and
    for what some calls need as well (deleting admins, Conditional Access). Turning security
    defaults or Conditional Access policies off are the only writes that need their own scopes,
    and only a run with the matching option makes them: a tenant that never consented to those
    scopes can still be closed without them. The usage reports' Reports.Read.All is asked for
    only by the command that reads them (``data-owners``).
    """
    chosen: dict[endpoints.Option, bool] = {
        "disable_security_defaults": disable_security_defaults,
        "disable_ca_mfa": disable_ca_mfa,
        "usage_reports": usage_reports,
    }
    names: list[str] = []
    for e in endpoints.ENDPOINTS:
        if not e.delegated or (e.option is not None and not chosen[e.option]):
            continue
        if read_only:
            names += [] if e.writes else [e.delegated[0]]
            continue
        names += [e.asks or e.delegated[0], *e.together]
        names += [e.for_admins] if e.for_admins else []
    # A call whose least permission reads only part of its answer: one that reads it all too.
    for e in endpoints.ENDPOINTS:
        if e.full_read and not set(e.full_read) & set(names):
            names.append(e.full_read[0])
    return tuple(dict.fromkeys(names))


def _write_scope(call: endpoints.Endpoint) -> str:
    return (call.delegated or ("",))[0]


RUN_SCOPES = scopes_for(read_only=False)
"""Delegated permissions every close-out run needs (graph-api.md §9); all need admin consent."""
SECURITY_DEFAULTS_WRITE = _write_scope(endpoints.SECURITY_DEFAULTS_UPDATE)
"""Asked for only with ``--disable-security-defaults``."""
CONDITIONAL_ACCESS_WRITE = _write_scope(endpoints.CA_POLICY_UPDATE)
"""Asked for only with ``--disable-ca-mfa``."""
GRAPH_SCOPES = scopes_for(read_only=False, disable_security_defaults=True, disable_ca_mfa=True)
"""Every delegated permission a run may ask for."""
READ_ONLY_SCOPES = scopes_for(read_only=True)
"""Delegated permissions for ``--read-only``: inventory and plan, no writes."""


OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


def scoped(resource_root: str | None, names: Iterable[str]) -> list[str]:
    """Scope names qualified with a cloud's Graph root (``https://graph.microsoft.us/User.Read``).

    msal needs the qualified form for national clouds; ``resource_root=None`` keeps the bare
    names, which Entra reads as the global Graph. Names already qualified are kept as they are.
    """
    root = (resource_root or "").rstrip("/")
    out: list[str] = []
    for name in names:
        if not root or "/" in name or name in OIDC_SCOPES:
            out.append(name)
        else:
            out.append(f"{root}/{name}")
    return out


def bare_scope(scope: str) -> str:
    return scope.rpartition("/")[2] if "/" in scope else scope


def token_claims(access_token: str) -> dict[str, Any]:
    """The payload of a JWT access token, decoded WITHOUT verifying it (for hints only).

    Graph tokens are JWTs today, but Microsoft says clients must treat them as opaque: anything
    that is not a decodable JWT gives ``{}``.
    """
    parts = access_token.split(".")
    if len(parts) != 3:  # a JWE (5 parts) or an opaque token
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


def is_app_only(token_or_claims: str | Mapping[str, Any]) -> bool:
    """True for an application token (``roles``, no ``scp``), False for delegated or unknown."""
    claims = token_claims(token_or_claims) if isinstance(token_or_claims, str) else token_or_claims
    if claims.get("idtyp") == "app":
        return True
    return "scp" not in claims and bool(claims.get("roles"))


def claimed_permissions(claims: Mapping[str, Any]) -> frozenset[str] | None:
    """What a readable token says it carries (``roles`` for an app token, else ``scp``).

    None when there are no claims to read (an encrypted or opaque token). A hint for a message,
    never the basis of a decision: the token's format is not a contract.
    """
    if not claims:
        return None
    # Claims of an unexpected type say nothing (a token's format is not a contract).
    if is_app_only(claims):
        roles = claims.get("roles")
        return frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset()
    scp = claims.get("scp")
    return frozenset(scp.split()) if isinstance(scp, str) else frozenset()
