"""A fresh read of everything the close-out touches: the 'backup' the article asks for.

Users with roles and licences, the recycle bin, subscriptions and SKUs, applications and
service principals, security defaults and Conditional Access. Each part is one or a few paged
Graph reads (``$select`` to keep them at 1 resource unit per page); a part that cannot be read
is recorded with the reason instead of failing the whole inventory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from . import endpoints, json_text
from .errors import GraphError
from .graph import GraphClient, UnexpectedAnswer, listed_objects, objects_in
from .i18n import _
from .models import AppRow, InventoryRefreshed, PolicyRow, SubscriptionRow, TenantInfo, UserRow
from .products import Product, product

USER_SELECT = "id,userPrincipalName,displayName,userType,accountEnabled,onPremisesSyncEnabled,assignedLicenses"
# Service plans whose data outlives the account: mailboxes and OneDrive/SharePoint.
DATA_PLAN_PREFIXES = ("EXCHANGE_S_", "SHAREPOINT", "ONEDRIVE")
NOT_LISTED = "not listed"
"""A subscription's status once Graph no longer returns it (deprovisioned)."""
PARTS = ("users", "roles", "deleted", "subscriptions", "skus", "apps", "policies")


@dataclass
class Inventory:
    tenant: TenantInfo
    taken_at: datetime
    users: list[UserRow] = field(default_factory=list)
    deleted_users: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[SubscriptionRow] = field(default_factory=list)
    skus: list[dict[str, Any]] = field(default_factory=list)
    applications: list[AppRow] = field(default_factory=list)
    deleted_applications: list[dict[str, Any]] = field(default_factory=list)
    service_principals: list[AppRow] = field(default_factory=list)
    deleted_service_principals: list[dict[str, Any]] = field(default_factory=list)
    policies: list[PolicyRow] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)
    """Role template id → member user ids."""
    role_names: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """Parts that could not be read, with the reason."""
    denied: dict[str, GraphError] = field(default_factory=dict)
    """Of those, the ones Graph refused (403): what the caller lacks, when nothing else says."""

    @property
    def synced_users(self) -> list[UserRow]:
        return [u for u in self.users if u.synced]

    @property
    def data_holders(self) -> list[UserRow]:
        """Users whose licences carry mailbox or OneDrive data (back it up first)."""
        return [u for u in self.users if u.has_mailbox_data]

    @property
    def products(self) -> list[Product]:
        """Every SKU the tenant has (licences and subscriptions), each once, by name."""
        seen: dict[str, Product] = {}
        for sku in self.skus:
            p = product(str(sku.get("skuId") or ""), str(sku.get("skuPartNumber") or ""))
            seen.setdefault(p.sku_id or p.sku_part_number, p)
        for sub in self.subscriptions:
            seen.setdefault(sub.sku_id or sub.sku_part_number, sub.product)
        return sorted(seen.values(), key=lambda p: (p.display_name.casefold(), p.sku_id))

    def user(self, user_id: str) -> UserRow | None:
        return next((u for u in self.users if u.id == user_id), None)

    def as_event(self) -> InventoryRefreshed:
        """The inventory as the engine announces it to the UI."""
        return InventoryRefreshed(
            users=tuple(self.users),
            subscriptions=tuple(self.subscriptions),
            apps=tuple(self.applications) + tuple(self.service_principals),
            policies=tuple(self.policies),
            deleted_users=len(self.deleted_users),
        )

    def subscriptions_json(self) -> list[dict[str, Any]]:
        """The subscriptions as :meth:`to_json` writes them."""
        return list(_rows(self.subscriptions, _product_name))

    def _members(self) -> Iterator[tuple[str, Any]]:
        """The backup's members in order; its lists as generators, rendered as consumed."""
        rows = _rows
        yield "tenant", asdict(self.tenant)
        yield "takenAt", self.taken_at.isoformat()
        yield "users", rows(self.users)
        yield "deletedUsers", self.deleted_users
        yield "subscriptions", rows(self.subscriptions, _product_name)
        yield "subscribedSkus", self.skus
        # The names of the codes in users' licences and in subscriptions.
        yield "products", [p.to_json() for p in self.products]
        yield "applications", rows(self.applications)
        yield "deletedApplications", self.deleted_applications
        yield "servicePrincipals", rows(self.service_principals)
        yield "deletedServicePrincipals", self.deleted_service_principals
        yield "policies", rows(self.policies)
        yield "roles", {self.role_names.get(k, k): v for k, v in self.roles.items()}
        # What to back up before step 1: users whose licences carry mailbox/OneDrive data.
        yield "usersWithMailboxOrOneDriveData", (u.upn for u in self.data_holders)
        yield "errors", self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            key: value if isinstance(value, dict | str) else list(value)
            for key, value in self._members()
        }

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_json` as JSON text, one user (or other row) per line, in pieces: the
        backup of 100,000 users is written without its whole text in memory."""
        return json_text.chunks(self._members())


def _rows(items: Iterable[Any], extra: Any = None) -> Iterator[dict[str, Any]]:
    for item in items:
        data = {}
        for name in _row_fields(type(item)):
            value = getattr(item, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        if extra is not None:
            data.update(extra(item))
        yield data


def _product_name(sub: SubscriptionRow) -> dict[str, str]:
    return {"productName": sub.product.display_name}


_FIELDS: dict[type, tuple[str, ...]] = {}


def _row_fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    return names


def subscriptions_summary(
    before: Mapping[str, Any], now: Iterable[SubscriptionRow] | None
) -> list[dict[str, Any]]:
    """Each subscription of the inventory before (``to_json``) by product, with its status then
    and, when ``now`` is given, now ("not listed" once Graph no longer returns it)."""
    current = {s.id: s.status for s in now} if now is not None else None
    out = []
    for sub in before.get("subscriptions") or []:
        if not isinstance(sub, Mapping):
            continue
        sub_id = str(sub.get("id") or "")
        item: dict[str, Any] = {
            "id": sub_id,
            # Packs from before the product names carry no skuId: the code still finds the name.
            **product(
                str(sub.get("sku_id") or ""), str(sub.get("sku_part_number") or "")
            ).to_json(),
            "statusBefore": sub.get("status"),
        }
        if current is not None:
            item["statusNow"] = current.get(sub_id, NOT_LISTED)
        out.append(item)
    return out


def parse_time(value: object) -> datetime | None:
    """A Graph timestamp, or None when it is absent or not one (shown as unknown)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


EXPAND_CAP = 20
"""``$expand`` on directory objects returns at most this many related items and no nextLink
(graph-api.md §1: the query-parameters page; the known issues say 100): a role listed with this
many members or more may have more, and its members are read on their own."""
EXPAND_PAGE = 100
"""With ``$expand`` Graph lists at most this many objects per page (known issue 13635), and
directoryRoles has no paging: an expanded listing this long may be cut short, and the roles are
listed again without the expansion."""


def read_roles(
    client: GraphClient, keep: list[dict[str, Any]] | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Activated directory roles and their members (DRM: no paging on directoryRoles).

    One read with ``$expand=members`` where Graph honours it; a role whose expansion may be cut
    short (see :data:`EXPAND_CAP`) or is missing, or every role if Graph refuses the expansion,
    has its members read on their own, as before.

    ``keep``: also gets each role as Graph gave it, with ``members`` (user ids) in place of
    whatever the expansion listed."""
    try:
        roles = client.get_all(endpoints.DIRECTORY_ROLES.url(), params={"$expand": "members"})
    except GraphError as exc:
        if exc.status != 400:
            raise
        roles = None
    if roles is None or len(roles) >= EXPAND_PAGE:
        roles = client.get_all(endpoints.DIRECTORY_ROLES.url())
    members: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for role in roles:
        template = str(role.get("roleTemplateId"))
        names[template] = str(role.get("displayName"))
        listed = role.get("members")
        if not isinstance(listed, list) or len(listed) >= EXPAND_CAP:
            listed = client.get_all(
                endpoints.ROLE_MEMBERS.url(id=str(role["id"])), params={"$select": "id"}
            )
        ids = [
            m["id"]
            for m in listed_objects(listed, "/directoryRoles")
            if m.get("@odata.type", "#microsoft.graph.user") == "#microsoft.graph.user"
        ]
        if ids:
            members[template] = ids
        if keep is not None:
            keep.append({**role, "members": ids})
    return members, names


def read_skus(client: GraphClient) -> list[dict[str, Any]]:
    return client.get_all(endpoints.SUBSCRIBED_SKUS.url())


def read_users(
    client: GraphClient,
    *,
    roles: dict[str, list[str]] | None = None,
    role_names: dict[str, str] | None = None,
    skus: list[dict[str, Any]] | None = None,
    keep: list[dict[str, Any]] | None = None,
) -> list[UserRow]:
    roles_by_user: dict[str, list[str]] = {}
    for template, ids in (roles or {}).items():
        for uid in ids:
            roles_by_user.setdefault(uid, []).append(template)
    sku_names: dict[str, str] = {}
    data_skus: set[str] = set()
    for sku in skus or []:
        sku_names[str(sku.get("skuId"))] = str(sku.get("skuPartNumber"))
        plans = [
            str(p.get("servicePlanName", ""))
            for p in objects_in(sku.get("servicePlans"), "/subscribedSkus", "servicePlans")
        ]
        if any(p.startswith(DATA_PLAN_PREFIXES) for p in plans):
            data_skus.add(str(sku.get("skuId")))
    users = []
    # 100,000 users hold a handful of distinct user types and licence sets: one object each,
    # shared, instead of one per user.
    shared: dict[Any, Any] = {}
    for page in client.iter_pages(
        endpoints.USERS.url(), params={"$select": USER_SELECT, "$top": "999"}
    ):
        if keep is not None:
            keep.extend(page)
        for u in page:
            licences = objects_in(u.get("assignedLicenses"), "/users", "assignedLicenses")
            lic = tuple(str(a.get("skuId")) for a in licences)
            held = tuple(roles_by_user.get(str(u["id"]), ()))
            user_type = str(u.get("userType") or "Member")
            users.append(
                UserRow(
                    id=str(u["id"]),
                    upn=str(u.get("userPrincipalName") or ""),
                    display_name=str(u.get("displayName") or ""),
                    user_type=shared.setdefault(user_type, user_type),
                    account_enabled=bool(u.get("accountEnabled", True)),
                    synced=u.get("onPremisesSyncEnabled") is True,
                    licenses=_shared(shared, tuple(sku_names.get(s, s) for s in lic)),
                    roles=_shared(shared, tuple((role_names or {}).get(t, t) for t in held)),
                    role_ids=_shared(shared, held),
                    has_mailbox_data=any(s in data_skus for s in lic),
                )
            )
    return users


def _shared(pool: dict[Any, Any], value: tuple[str, ...]) -> tuple[str, ...]:
    return pool.setdefault(value, value) if value else ()


def read_deleted_users(client: GraphClient) -> list[dict[str, Any]]:
    """The recycle bin's users, each ``userPrincipalName`` as it was before the deletion.

    Read here once, so that the plan, the status, the TUI and the evidence never show the
    recycle bin's form of it (see :func:`upn_before_deletion`)."""
    users = client.get_all(
        endpoints.DELETED_USERS.url(),
        params={"$select": "id,userPrincipalName,displayName,deletedDateTime", "$top": "999"},
    )
    for user in users:
        upn = user.get("userPrincipalName")
        if isinstance(upn, str):
            user["userPrincipalName"] = upn_before_deletion(str(user.get("id") or ""), upn)
    return users


def upn_before_deletion(object_id: str, upn: str) -> str:
    """A deleted user's userPrincipalName without the prefix Graph gives it in the recycle bin.

    Graph frees a deleted user's UPN for reuse by prefixing it with the object id without its
    dashes (``3f2c…9a1bada@contoso.com`` for ``ada@contoso.com``); a UPN without that prefix is
    returned as it is.
    """
    prefix = object_id.replace("-", "").casefold()
    if prefix and len(upn) > len(prefix) and upn[: len(prefix)].casefold() == prefix:
        return upn[len(prefix) :]
    return upn


def partner_tenant(owner_tenant_id: object, tenant_id: str) -> str | None:
    """``ownerTenantId`` when it names another tenant, i.e. a partner bought it.

    Graph fills it for directly bought subscriptions too, with the tenant's own id (CSUB's
    example: ``ownerType: "User"``), so "set" alone does not mean "through a partner".
    """
    if not isinstance(owner_tenant_id, str) or not owner_tenant_id.strip():
        return None
    return None if owner_tenant_id.strip().lower() == tenant_id.lower() else owner_tenant_id


def read_subscriptions(
    client: GraphClient, tenant_id: str, keep: list[dict[str, Any]] | None = None
) -> list[SubscriptionRow]:
    found = client.get_all(endpoints.SUBSCRIPTIONS.url())
    if keep is not None:
        keep.extend(found)
    return [
        SubscriptionRow(
            id=str(s["id"]),
            sku_part_number=str(s.get("skuPartNumber") or s.get("skuId") or ""),
            status=str(s.get("status") or ""),
            is_trial=bool(s.get("isTrial")),
            total_licenses=_count(s.get("totalLicenses")),
            next_lifecycle=parse_time(s.get("nextLifecycleDateTime")),
            partner_tenant_id=partner_tenant(s.get("ownerTenantId"), tenant_id),
            sku_id=str(s.get("skuId") or ""),
        )
        for s in found
    ]


def _count(value: object) -> int:
    """A count Graph gives as a whole number; anything else counts as 0 (it is only shown)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def read_applications(
    client: GraphClient, keep: list[dict[str, Any]] | None = None
) -> list[AppRow]:
    found = client.get_all(
        endpoints.APPLICATIONS.url(), params={"$select": "id,appId,displayName", "$top": "999"}
    )
    if keep is not None:
        keep.extend(found)
    return [
        AppRow(
            id=str(a["id"]),
            app_id=str(a.get("appId")),
            display_name=str(a.get("displayName") or ""),
            kind="application",
        )
        for a in found
    ]


def read_deleted_applications(client: GraphClient) -> list[dict[str, Any]]:
    return client.get_all(
        endpoints.DELETED_APPLICATIONS.url(),
        params={"$select": "id,appId,displayName,deletedDateTime", "$top": "999"},
    )


def read_deleted_service_principals(client: GraphClient) -> list[dict[str, Any]]:
    """Graph soft-deletes service principals too: they wait 30 days in the recycle bin."""
    return client.get_all(
        endpoints.DELETED_SERVICE_PRINCIPALS.url(),
        params={"$select": "id,appId,displayName,deletedDateTime", "$top": "999"},
    )


def read_service_principals(
    client: GraphClient, keep: list[dict[str, Any]] | None = None
) -> list[AppRow]:
    found = client.get_all(
        endpoints.SERVICE_PRINCIPALS.url(),
        params={
            "$select": "id,appId,displayName,appOwnerOrganizationId,accountEnabled",
            "$top": "999",
        },
    )
    if keep is not None:
        keep.extend(found)
    return [
        AppRow(
            id=str(s["id"]),
            app_id=str(s.get("appId")),
            display_name=str(s.get("displayName") or ""),
            kind="servicePrincipal",
            owner_tenant_id=_owner(s.get("appOwnerOrganizationId")),
            enabled=bool(s.get("accountEnabled", True)),
        )
        for s in found
    ]


def _owner(value: object) -> str | None:
    """``appOwnerOrganizationId``: it decides whether a principal is Microsoft's and left
    alone, so anything but text or null refuses the answer rather than guess."""
    if value is not None and not isinstance(value, str):
        raise UnexpectedAnswer("/servicePrincipals", _("appOwnerOrganizationId is not text"))
    return value


def requires_mfa(policy: dict[str, Any]) -> bool:
    path = "/identity/conditionalAccess/policies"
    grant = policy.get("grantControls")
    if grant is None:
        return False  # a policy that only blocks or only sets session controls
    if not isinstance(grant, dict):
        raise UnexpectedAnswer(path, _("grantControls is not an object"))
    controls = grant.get("builtInControls") or []
    if not isinstance(controls, list):
        raise UnexpectedAnswer(path, _("builtInControls is not a list"))
    return "mfa" in controls or bool(grant.get("authenticationStrength"))


def read_policies(client: GraphClient, keep: list[dict[str, Any]] | None = None) -> list[PolicyRow]:
    """Security defaults and Conditional Access (one CA read: that service allows 1 request/s).

    ``keep``: also gets the security defaults policy, then each Conditional Access policy, as
    Graph gave them."""
    sd = client.get(endpoints.SECURITY_DEFAULTS.url())
    if keep is not None:
        keep.append(sd)
    rows = [
        PolicyRow(
            id=str(sd.get("id", "securityDefaults")),
            display_name=str(sd.get("displayName") or "Security defaults"),
            kind="securityDefaults",
            state="enabled" if sd.get("isEnabled") else "disabled",
            requires_mfa=bool(sd.get("isEnabled")),
        )
    ]
    for p in client.get_all(endpoints.CA_POLICIES.url()):
        if keep is not None:
            keep.append(p)
        rows.append(
            PolicyRow(
                id=str(p["id"]),
                display_name=str(p.get("displayName") or ""),
                kind="conditionalAccess",
                state=str(p.get("state") or ""),
                requires_mfa=requires_mfa(p),
            )
        )
    return rows


def take_inventory(
    client: GraphClient,
    tenant: TenantInfo,
    parts: Iterable[str] = PARTS,
    *,
    raw: dict[str, list[dict[str, Any]]] | None = None,
) -> Inventory:
    """Read the requested parts; a 403 on a part is recorded in ``errors`` and skipped.

    ``raw``: also gets, per part, the objects exactly as Graph returned them (``users``,
    ``roles``, ``subscriptions``, ``applications``, ``servicePrincipals``, ``policies``), for a
    snapshot of the tenant; a part that could not be read is left out."""
    wanted = set(parts)
    inv = Inventory(tenant=tenant, taken_at=client.server_time() or datetime.now(UTC))

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
        attempt("deleted", lambda: setattr(inv, "deleted_users", read_deleted_users(client)))
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
