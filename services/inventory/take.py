"""Taking an inventory: the parts asked for, each read in turn; a part Graph refuses or
does not know is recorded with the reason instead of failing the whole inventory.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from services.errors import GraphError
from services.graph.client import GraphClient
from services.models import TenantInfo, UserRow

from .model import Inventory
from .reads import (
    read_applications,
    read_deleted_applications,
    read_deleted_service_principals,
    read_deleted_users,
    read_policies,
    read_roles,
    read_service_principals,
    read_skus,
    read_subscriptions,
    read_users,
)

PARTS = ("users", "roles", "deleted", "subscriptions", "skus", "apps", "policies")


def take_inventory(
    client: GraphClient,
    tenant: TenantInfo,
    parts: Iterable[str] = PARTS,
    *,
    raw: dict[str, list[dict[str, Any]]] | None = None,
    known: Iterable[UserRow] = (),
) -> Inventory:
    """Read the requested parts; a 403 on a part is recorded in ``errors`` and skipped.

    ``raw``: also gets, per part, the objects exactly as Graph returned them (``users``,
    ``roles``, ``subscriptions``, ``applications``, ``servicePrincipals``, ``policies``), for a
    snapshot of the tenant; a part that could not be read is left out. ``known``: the users of
    the inventory this one replaces (:func:`read_deleted_users` shares their strings)."""
    wanted = set(parts)
    began = client.server_time() or datetime.now(UTC)
    inv = Inventory(tenant=tenant, taken_at=began, began_at=began)

    def keep(part: str) -> list[dict[str, Any]] | None:
        if raw is None:
            return None
        raw[part] = []
        return raw[part]

    def attempt(part: str, fn: Any, kept: str | None = None) -> None:
        try:
            fn()
        except GraphError as exc:
            if raw is not None and kept is not None:
                raw.pop(kept, None)  # half a list would pass for all of it
            if exc.status not in (400, 403, 404):
                raise
            inv.errors[part] = f"{exc.status} {exc.code}: {exc.message}"
            if exc.status == 403:
                inv.denied[part] = exc

    def roles() -> None:
        inv.roles, inv.role_names = read_roles(client, keep("roles"))

    def users() -> None:
        inv.users = read_users(
            client, roles=inv.roles, role_names=inv.role_names, skus=inv.skus, keep=keep("users")
        )

    if "roles" in wanted or "users" in wanted:
        attempt("roles", roles, "roles")
    if "skus" in wanted or "users" in wanted:
        attempt("skus", lambda: setattr(inv, "skus", read_skus(client)))
    if "users" in wanted:
        users()  # essential: a failure here propagates
    if "deleted" in wanted:
        attempt(
            "deleted",
            lambda: setattr(inv, "deleted_users", read_deleted_users(client, known=known)),
        )
    if "subscriptions" in wanted:
        attempt(
            "subscriptions",
            lambda: setattr(
                inv, "subscriptions", read_subscriptions(client, tenant.id, keep("subscriptions"))
            ),
            "subscriptions",
        )
    if "apps" in wanted:
        attempt(
            "apps",
            lambda: setattr(inv, "applications", read_applications(client, keep("applications"))),
            "applications",
        )
        attempt(
            "deletedApps",
            lambda: setattr(inv, "deleted_applications", read_deleted_applications(client)),
        )
        attempt(
            "servicePrincipals",
            lambda: setattr(
                inv,
                "service_principals",
                read_service_principals(client, keep("servicePrincipals")),
            ),
            "servicePrincipals",
        )
        attempt(
            "deletedServicePrincipals",
            lambda: setattr(
                inv, "deleted_service_principals", read_deleted_service_principals(client)
            ),
        )
    if "policies" in wanted:
        attempt(
            "policies",
            lambda: setattr(inv, "policies", read_policies(client, keep("policies"))),
            "policies",
        )
    inv.taken_at = client.server_time() or inv.taken_at
    return inv
