"""The simulated tenant's state: directory objects and their Graph projections.

Plain dataclasses held in memory; one lock in :class:`~services.sandbox.core.Sandbox` guards
them. Collections keep an append-only order so that ``$skiptoken`` cursors stay valid while
objects are deleted between pages, as Graph's do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

MICROSOFT_TENANT_IDS = frozenset(
    {
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a",  # Microsoft Services (first-party apps)
        "72f988bf-86f1-41af-91ab-2d7cd011db47",  # Microsoft corporate tenant
    }
)

# Well-known application ids: Microsoft Graph itself, and Microsoft's public client that
# closeout signs in with by default ("Microsoft Graph Command Line Tools").
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_CLI_APP_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
# The app registration closeout signs in with when the ``own_app`` switch is on.
OWN_APP_ID = "c1053a11-5e0d-4b2a-9c3e-0a0b0c0d0e0f"

ROLE_TEMPLATES: dict[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "0526716b-113d-4c15-b2c8-68e3c22b9f80": "Authentication Policy Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "cf1c38e5-3621-4004-a7cb-879624dced7c": "Application Developer",
}
# Once turned off, directory sync cannot be turned back on for 72 hours (DIRSYNC, EPS).
SYNC_LOCK_SECONDS = 72 * 3600.0

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
BILLING_ADMIN = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIV_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
AUTH_POLICY_ADMIN = "0526716b-113d-4c15-b2c8-68e3c22b9f80"
CA_ADMIN = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
HYBRID_ADMIN = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
CLOUD_APP_ADMIN = "158c047a-c907-4556-b7ef-446551a6b5f7"
APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
APP_DEVELOPER = "cf1c38e5-3621-4004-a7cb-879624dced7c"
LATER_ROLES = frozenset({CLOUD_APP_ADMIN, APP_ADMIN, APP_DEVELOPER})
"""Roles the sandbox learned after its seeds were fixed: their ids take nothing from a seed's
random stream, so that every seed still makes the tenant it always made."""
# Roles whose holders only a Global or Privileged Authentication Administrator may delete (USERS).
PRIVILEGED_ROLES = frozenset(
    {GLOBAL_ADMIN, PRIV_AUTH_ADMIN, "e8611ab8-c189-46e8-94e1-60213ab1f814"}
)

T = TypeVar("T")


class Collection(Generic[T]):
    """Live objects by id plus an append-only order for stable paging cursors."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._live: dict[str, T] = {}

    def add(self, key: str, obj: T) -> None:
        if key not in self._live:
            self._order.append(key)
        self._live[key] = obj

    def remove(self, key: str) -> T | None:
        return self._live.pop(key, None)

    def get(self, key: str) -> T | None:
        return self._live.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    def values(self) -> Iterator[T]:
        return iter(list(self._live.values()))

    def page(
        self, start: int, top: int, keep: Callable[[T], bool] | None = None
    ) -> tuple[list[T], int | None]:
        """Up to ``top`` live objects at or after order position ``start``; next position."""
        out: list[T] = []
        pos = start
        n = len(self._order)
        while pos < n and len(out) < top:
            obj = self._live.get(self._order[pos])
            pos += 1
            if obj is not None and (keep is None or keep(obj)):
                out.append(obj)
        if pos >= n:
            return out, None
        # Graph hands out a next link while more may follow; look ahead so the last page has none.
        for rest in range(pos, n):
            obj = self._live.get(self._order[rest])
            if obj is not None and (keep is None or keep(obj)):
                return out, pos
        return out, None


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    given_name: str | None
    surname: str | None
    user_type: str = "Member"
    account_enabled: bool = True
    synced: bool = False
    # With sync being turned off, a synced user becomes cloud-only at this simulated instant.
    synced_until: float | None = None
    assigned_licenses: list[str] = field(default_factory=list)  # sku ids
    job_title: str | None = None
    department: str | None = None
    created: str = "2021-03-01T09:00:00Z"
    mfa_state: str = "disabled"
    deleted_at: str | None = None
    deleted_sim: float | None = None
    hard_delete_protected: bool = False

    def is_synced(self, now: float) -> bool:
        if not self.synced:
            return False
        return self.synced_until is None or now < self.synced_until

    def to_graph(self, now: float) -> dict[str, Any]:
        synced = self.is_synced(now)
        mail = (
            None if self.user_type == "Guest" and not self.given_name else self.user_principal_name
        )
        data: dict[str, Any] = {
            "id": self.id,
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": self.job_title,
            "mail": mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "userType": self.user_type,
            "accountEnabled": self.account_enabled,
            # Graph's description: true while synced, false once "originally synced ... but
            # no longer synced", null if never synced.
            "onPremisesSyncEnabled": True if synced else (False if self.synced else None),
            "onPremisesImmutableId": f"imm-{self.id[:8]}" if self.synced else None,
            "department": self.department,
            "createdDateTime": self.created,
            "assignedLicenses": [{"disabledPlans": [], "skuId": s} for s in self.assigned_licenses],
            "deletedDateTime": self.deleted_at,
        }
        return data


USER_DEFAULT_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


@dataclass
class Sku:
    sku_id: str
    sku_part_number: str
    service_plans: list[tuple[str, str]]  # (servicePlanId, servicePlanName)
    applies_to: str = "User"


@dataclass
class Subscription:
    id: str
    commerce_subscription_id: str
    sku_id: str
    status: str  # Enabled, Warning, Suspended, LockedOut, Deleted
    is_trial: bool
    total_licenses: int
    created: str
    next_lifecycle: float | None  # simulated seconds; None = no scheduled change
    # Set only when a partner (CSP) bought it; a direct one's owner, as Graph shows it, comes
    # from the subscription_owner switch (graph_api/licensing.py).
    owner_tenant_id: str | None = None
    owner_id: str | None = None
    owner_type: str | None = None
    marked_for_deletion: bool = False
    self_service: bool = False


@dataclass
class DirectoryRole:
    id: str
    template_id: str
    members: list[str] = field(default_factory=list)
    name: str | None = None
    """The role's name as a real tenant showed it (a replica); None: from the template."""

    @property
    def display_name(self) -> str:
        return self.name or ROLE_TEMPLATES.get(self.template_id, "Directory role")


@dataclass
class Application:
    id: str
    app_id: str
    display_name: str
    created: str
    deleted_at: str | None = None
    owners: list[str] = field(default_factory=list)
    """Ids of its owners: users, or service principals (an app's own or another's). An owner
    manages and deletes the app as an Application Administrator would, scoped to it; an
    application granted ``Application.ReadWrite.OwnedBy`` reaches only the apps it owns."""


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    app_owner_organization_id: str
    account_enabled: bool = True
    # "ok": deletable; "dependency": refuses the first attempts (DELTEN: "some might fail on the
    # first attempt due to dependencies"); "refuse": never deletable, can only be disabled.
    delete_behaviour: str = "ok"
    failed_attempts: int = 0
    deleted_at: str | None = None
    owners: list[str] = field(default_factory=list)
    """Ids of its owners (an enterprise app's owners), as :attr:`Application.owners`."""

    @property
    def is_microsoft(self) -> bool:
        return self.app_owner_organization_id in MICROSOFT_TENANT_IDS


@dataclass
class ConditionalAccessPolicy:
    id: str
    display_name: str
    state: str
    built_in_controls: list[str]
    include_users: list[str]
    exclude_users: list[str] = field(default_factory=list)
    include_roles: list[str] = field(default_factory=list)
    authentication_strength: str | None = None
    created: str = "2022-01-10T08:00:00Z"
    modified: str | None = None

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "state": self.state,
            "createdDateTime": self.created,
            "modifiedDateTime": self.modified,
            "conditions": {
                "users": {
                    "includeUsers": self.include_users,
                    "excludeUsers": self.exclude_users,
                    "includeRoles": self.include_roles,
                    "excludeRoles": [],
                    "includeGroups": [],
                    "excludeGroups": [],
                },
                "applications": {"includeApplications": ["All"], "excludeApplications": []},
                "clientAppTypes": ["all"],
            },
            "grantControls": {
                "operator": "OR",
                "builtInControls": self.built_in_controls,
                "customAuthenticationFactors": [],
                "termsOfUse": [],
                "authenticationStrength": (
                    {
                        "id": "00000000-0000-0000-0000-000000000002",
                        "displayName": self.authentication_strength,
                    }
                    if self.authentication_strength
                    else None
                ),
            },
            "sessionControls": None,
        }


@dataclass
class Organization:
    id: str
    display_name: str
    initial_domain: str
    custom_domains: list[str] = field(default_factory=list)
    sync_enabled: bool = False
    sync_disabled_at: float | None = None  # simulated instant of the PATCH that turned it off
    sync_done_at: float | None = None
    created: str = "2019-06-01T10:00:00Z"
    country: str = "SE"


@dataclass
class ManualBlocker:
    """A tenant-deletion check with no API (invoices, self-service products, Azure)."""

    key: str
    description: str
    resolved: bool = False


@dataclass
class Tenant:
    org: Organization
    users: Collection[User] = field(default_factory=Collection)
    deleted_users: Collection[User] = field(default_factory=Collection)
    roles: dict[str, DirectoryRole] = field(default_factory=dict)  # by template id
    skus: dict[str, Sku] = field(default_factory=dict)
    subscriptions: Collection[Subscription] = field(default_factory=Collection)
    applications: Collection[Application] = field(default_factory=Collection)
    deleted_applications: Collection[Application] = field(default_factory=Collection)
    service_principals: Collection[ServicePrincipal] = field(default_factory=Collection)
    deleted_service_principals: Collection[ServicePrincipal] = field(default_factory=Collection)
    ca_policies: Collection[ConditionalAccessPolicy] = field(default_factory=Collection)
    security_defaults_enabled: bool = False
    manual_blockers: dict[str, ManualBlocker] = field(default_factory=dict)
    admin_id: str = ""
    deleted: bool = False
    deleted_at: float | None = None

    def roles_of(self, user_id: str) -> list[DirectoryRole]:
        return [r for r in self.roles.values() if user_id in r.members]

    def has_role(self, user_id: str, *template_ids: str) -> bool:
        return any(user_id in self.roles[t].members for t in template_ids if t in self.roles)

    def find_user(self, key: str) -> User | None:
        """By object id or userPrincipalName, as ``/users/{id | userPrincipalName}`` accepts."""
        user = self.users.get(key)
        if user is not None:
            return user
        lowered = key.lower()
        for u in self.users.values():
            if u.user_principal_name.lower() == lowered:
                return u
        return None
