"""Is the tenant Graph says we are signed in to the one the admin named?

The admin names a tenant with ``--tenant`` or with the tenant in ``--authority``: its id or any
of its verified domains, in any letter case. A token carries its own tenant, whatever was
named (a bring-your-own token ignores the authority altogether), so the only truth is Graph's
``GET /organization`` (``id`` and ``verifiedDomains``). Token claims are not asked: access
tokens are opaque to clients and a forged ``tid`` would read like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import AuthError
from .i18n import _

# Authority segments that name no tenant in particular.
GENERIC_AUTHORITY_TENANTS = frozenset({"organizations", "common", "consumers"})


def named_tenants(tenant: str | None, authority: str | None) -> tuple[str, ...]:
    """What the admin named: ``--tenant`` and the tenant segment of ``--authority``."""
    names: list[str] = []
    if tenant and tenant.strip():
        names.append(tenant.strip())
    if authority:
        segment = urlsplit(authority.strip()).path.rstrip("/").rsplit("/", 1)[-1].strip()
        if (
            segment
            and segment.lower() not in GENERIC_AUTHORITY_TENANTS
            and segment.lower() not in (n.lower() for n in names)
        ):
            names.append(segment)
    return tuple(names)


def organization_names(org: Mapping[str, Any]) -> tuple[str, frozenset[str]]:
    """The tenant id and every verified domain of a ``GET /organization`` item, lower-cased."""
    domains = frozenset(
        str(d.get("name") or "").strip().lower()
        for d in org.get("verifiedDomains") or []
        if isinstance(d, Mapping) and d.get("name")
    )
    return str(org.get("id") or "").strip().lower(), domains


def is_tenant(name: str, tenant_id: str, domains: Iterable[str]) -> bool:
    """``name`` is this tenant's id or one of its domains (letter case ignored)."""
    key = name.strip().lower()
    return bool(key) and (key == tenant_id.lower() or key in {d.lower() for d in domains})


class TenantMismatch(AuthError):
    """The token is for another tenant than the one named: nothing was done."""

    def __init__(self, asked: str, tenant_id: str, initial_domain: str, display_name: str) -> None:
        self.asked = asked
        self.tenant_id = tenant_id
        name = display_name or initial_domain or tenant_id
        super().__init__(
            _(
                "Wrong tenant: you named {asked}, but the token is for {name} ({domain}, "
                "tenant id {id}). closeout stopped: nothing was changed or saved."
            ).format(asked=asked, name=name, domain=initial_domain or "?", id=tenant_id),
            _(
                "sign in to {asked} (or use a token issued for it), or leave out --tenant and "
                "--authority if {name} is the organization to close"
            ).format(asked=asked, name=name),
        )


def initial_domain(org: Mapping[str, Any]) -> str:
    """The ``*.onmicrosoft.com`` domain of a ``GET /organization`` item ("" if none)."""
    for domain in org.get("verifiedDomains") or []:
        if isinstance(domain, Mapping) and domain.get("isInitial"):
            return str(domain.get("name") or "")
    return ""


def check_tenant(named: Sequence[str], org: Mapping[str, Any]) -> None:
    """Raise :class:`TenantMismatch` unless ``org`` is every tenant in ``named``."""
    tenant_id, domains = organization_names(org)
    for asked in named:
        if not is_tenant(asked, tenant_id, domains):
            raise TenantMismatch(
                asked,
                str(org.get("id") or ""),
                initial_domain(org),
                str(org.get("displayName") or ""),
            )
