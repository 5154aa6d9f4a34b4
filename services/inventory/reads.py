"""The inventory's Graph reads, one function per part: users with their roles and licences,
the recycle bin, subscriptions and SKUs, applications and service principals, security
defaults and Conditional Access (``$select`` keeps each page at 1 resource unit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services import endpoints
from services.errors import GraphError
from services.graph.answers import UnexpectedAnswer, listed_objects, objects_in
from services.graph.client import GraphClient
from services.i18n import _
from services.models import (
    AppRow,
    PolicyRow,
    SubscriptionRow,
    UserRow,
)
from services.timestamps import parse_time

USER_SELECT = "id,userPrincipalName,displayName,userType,accountEnabled,onPremisesSyncEnabled,assignedLicenses"
# Service plans whose data outlives the account: mailboxes and OneDrive/SharePoint.
DATA_PLAN_PREFIXES = ("EXCHANGE_S_", "SHAREPOINT", "ONEDRIVE")


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
    known: Iterable[UserRow] = (),
) -> list[UserRow]:
    """Every user, as rows. ``known``: the rows of an earlier read; a user this read shows with
    the same id, UPN, display name, type, enabled flag and sync state is that earlier row (its
    licences and roles are the earlier read's). For a reader that needs only those fields (step
    1): a second listing of 100,000 users then costs a list, not 100,000 more rows and their
    strings alongside the inventory's."""
    earlier = {u.id: u for u in known}
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
            row = earlier.get(str(u["id"]))
            if row is not None and _reads_as(row, u, user_type):
                users.append(row)
                continue
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


def _reads_as(row: UserRow, user: dict[str, Any], user_type: str) -> bool:
    """Whether Graph's ``user`` shows what ``row`` holds, licences and roles aside."""
    return (
        row.upn == str(user.get("userPrincipalName") or "")
        and row.display_name == str(user.get("displayName") or "")
        and row.user_type == user_type
        and row.account_enabled == bool(user.get("accountEnabled", True))
        and row.synced == (user.get("onPremisesSyncEnabled") is True)
    )


def _shared(pool: dict[Any, Any], value: tuple[str, ...]) -> tuple[str, ...]:
    return pool.setdefault(value, value) if value else ()


def read_deleted_users(
    client: GraphClient, *, known: Iterable[UserRow] = ()
) -> list[dict[str, Any]]:
    """The recycle bin's users, each ``userPrincipalName`` as it was before the deletion.

    Read here once, so that the plan, the status, the TUI and the evidence never show the
    recycle bin's form of it (see :func:`upn_before_deletion`). ``known``: the users of an
    earlier read; a deleted user that was one of them holds that row's strings where they read
    the same, not copies: step 1's 100,000 deleted users are read while the inventory that
    listed them is still held (~20 MB of duplicate strings at the TUI's peak)."""
    earlier = {u.id: u for u in known}
    when: dict[str, str] = {}  # a bulk deletion's users share their deletion times
    users: list[dict[str, Any]] = []
    for page in client.iter_pages(
        endpoints.DELETED_USERS.url(),
        params={"$select": "id,userPrincipalName,displayName,deletedDateTime", "$top": "999"},
    ):
        for user in page:
            upn = user.get("userPrincipalName")
            if isinstance(upn, str):
                user["userPrincipalName"] = upn_before_deletion(str(user.get("id") or ""), upn)
            row = earlier.get(str(user.get("id")))
            if row is not None:
                user["id"] = row.id
                for key, value in (
                    ("userPrincipalName", row.upn),
                    ("displayName", row.display_name),
                ):
                    if user.get(key) == value:
                        user[key] = value
            deleted = user.get("deletedDateTime")
            if isinstance(deleted, str):
                user["deletedDateTime"] = when.setdefault(deleted, deleted)
        users.extend(page)
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
