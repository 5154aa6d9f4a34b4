"""What a request to the identity endpoints names: its tenant segment (id, domain,
``organizations``), and the Graph resource and scopes in its ``scope`` parameter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .oauth import IdentityError, https_base

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Resource identifiers that mean "Microsoft Graph" in a scope, per cloud. The sandbox's own
# loopback URL is accepted too (see graph_resources).
GRAPH_RESOURCES = frozenset(
    {
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        GRAPH_APP_ID,
    }
)


def resolve_tenant(sb: Sandbox, name: str) -> str:
    """``organizations``/``common`` as given, else this tenant's id; IdentityError if unknown."""
    key = name.lower()
    org = sb.tenant.org
    known = {
        org.id.lower(),
        org.initial_domain.lower(),
        *(d.lower() for d in org.custom_domains),
    }
    if not sb.tenant.deleted:
        if key in ("organizations", "common"):
            return key
        if key in known:
            return org.id
    raise IdentityError(
        "invalid_tenant",
        90002,
        f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, "
        "this may happen if there are no active subscriptions for the tenant.",
    )


def require_registered_app(sb: Sandbox, client_id: str) -> None:
    """AADSTS700016 for an app whose registration or service principal left the tenant."""
    if client_id and sb.tokens.app_gone(client_id):
        raise IdentityError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{sb.initial_domain}'. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant. You "
            "may have sent your authentication request to the wrong tenant.",
        )


def graph_resources(sb: Sandbox) -> frozenset[str]:
    base = sb.base_url.rstrip("/")
    return GRAPH_RESOURCES | {base, https_base(sb).rstrip("/")}


def split_scopes(sb: Sandbox, raw: str) -> tuple[list[tuple[str, str]], set[str]]:
    """``[(as_sent, bare_name)]`` for Graph scopes, and the OIDC scopes that were asked for.

    Scopes arrive bare (``User.Read``), prefixed with a Graph resource
    (``https://graph.microsoft.com/User.Read``) or with the sandbox's own URL.
    """
    resources = {r.lower() for r in graph_resources(sb)}
    graph: list[tuple[str, str]] = []
    oidc: set[str] = set()
    seen: set[str] = set()
    for scope in raw.split():
        if scope in OIDC_SCOPES:
            oidc.add(scope)
            continue
        resource, sep, name = scope.rpartition("/")
        if sep and resource.lower().rstrip("/") not in resources:
            raise IdentityError(
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant "
                f"named {sb.initial_domain}. This can happen if the application "
                "has not been installed by the administrator of the tenant or consented to "
                "by any user in the tenant. You might have sent your authentication request "
                "to the wrong tenant.",
            )
        bare = name if sep else scope
        if bare and bare not in seen:
            seen.add(bare)
            graph.append((scope, bare))
    return graph, oidc
