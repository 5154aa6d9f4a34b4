"""``closeout snapshot --redact``: names and UPNs replaced by pseudonyms, structure kept.

Each pseudonym is an HMAC-SHA256 of the original under a random key made for this one snapshot
and never written anywhere: the same name always gets the same pseudonym within the file (a
user's UPN in the users list, in a role's members, in a policy; an application and its service
principal), so the replica lines up as the tenant did, but nobody can reverse it or match it
with another snapshot's.

What is replaced: the organization's name, every user's and deleted user's display name and
UPN, application, service principal and Conditional Access policy names, and domain names.
The domain structure stays: the initial domain is still ``<label>.onmicrosoft.com``, a custom
domain keeps its top-level domain, a UPN keeps its ``local@domain`` form, a guest's
``name_external.domain#EXT#@initial`` form and a deleted user's id prefix. What stays as read:
every id, every state and flag, Microsoft's own service principals' names, SKUs and products.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from services.models import MICROSOFT_TENANT_IDS

__all__ = ["Redactor", "redact_body"]

_EXT = "#EXT#"
_ONMICROSOFT = ".onmicrosoft.com"


class Redactor:
    """Pseudonyms under one random key (``key`` for tests only)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _tag(self, kind: str, value: str) -> str:
        mac = hmac.new(self._key, f"{kind}\0{value.casefold()}".encode(), hashlib.sha256)
        return mac.hexdigest()[:10]

    def name(self, kind: str, value: object) -> object:
        """``User 3fa9c1d20b``: a display name of kind ``kind``; None and "" stay as they are."""
        if not isinstance(value, str) or not value:
            return value
        return f"{kind} {self._tag(kind, value)}"

    def domain(self, value: str) -> str:
        """A domain with every label but the top-level one pseudonymised; ``*.onmicrosoft.com``
        stays an onmicrosoft.com domain."""
        lowered = value.lower()
        if lowered.endswith(_ONMICROSOFT):
            return f"t{self._tag('domain', lowered)}{_ONMICROSOFT}"
        if "." not in lowered:
            return f"d{self._tag('domain', lowered)}"
        top = lowered.rsplit(".", 1)[1]
        return f"d{self._tag('domain', lowered)}.{top}"

    def upn(self, value: object) -> object:
        if not isinstance(value, str) or "@" not in value:
            return self.name("user", value)
        local, _, domain = value.rpartition("@")
        prefix = ""
        # A deleted user's UPN is prefixed with its object id (32 hex digits, no dashes).
        head = local[:32]
        if len(local) > 32 and all(c in "0123456789abcdefABCDEF" for c in head):
            prefix, local = head, local[32:]
        if _EXT in local:
            # A guest: name_external.domain#EXT#@initial domain.
            invited, _, tail = local.partition(_EXT)
            name, sep, external = invited.rpartition("_")
            if sep and "." in external:
                local = f"g{self._tag('local', name)}_{self.domain(external)}{_EXT}{tail}"
            else:
                local = f"g{self._tag('local', invited)}{_EXT}{tail}"
        else:
            local = f"u{self._tag('local', local)}"
        return f"{prefix}{local}@{self.domain(domain)}"


def _each(items: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    for item in items or []:
        if isinstance(item, dict):
            fn(item)


def redact_body(body: dict[str, Any], header: dict[str, Any], redactor: Redactor) -> None:
    """Pseudonymise ``body`` and ``header`` in place."""
    r = redactor

    org = body.get("organization") or {}
    org["displayName"] = r.name("Organization", org.get("displayName"))
    for domain in org.get("verifiedDomains") or []:
        if isinstance(domain, dict) and isinstance(domain.get("name"), str):
            domain["name"] = r.domain(domain["name"])

    def user(u: dict[str, Any]) -> None:
        kind = "Guest" if u.get("userType") == "Guest" else "User"
        u["displayName"] = r.name(kind, u.get("displayName"))
        u["userPrincipalName"] = r.upn(u.get("userPrincipalName"))
        for key in ("givenName", "surname", "mail"):
            if u.get(key):
                u[key] = r.name(kind, u[key]) if key != "mail" else r.upn(u[key])

    _each(body.get("users"), user)
    _each(body.get("deletedUsers"), user)

    def app(a: dict[str, Any]) -> None:
        a["displayName"] = r.name("App", a.get("displayName"))

    def service_principal(sp: dict[str, Any]) -> None:
        if sp.get("appOwnerOrganizationId") not in MICROSOFT_TENANT_IDS:
            app(sp)

    _each(body.get("applications"), app)
    _each(body.get("deletedApplications"), app)
    _each(body.get("servicePrincipals"), service_principal)
    _each(body.get("deletedServicePrincipals"), service_principal)
    _each(
        body.get("conditionalAccessPolicies"),
        lambda p: p.__setitem__("displayName", r.name("Policy", p.get("displayName"))),
    )
    signed_in = header.get("signedIn")
    if isinstance(signed_in, dict):
        signed_in["upn"] = r.upn(signed_in.get("upn"))
    header["redacted"] = True
