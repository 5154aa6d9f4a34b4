"""The Graph reads closeout makes, one row each (graph-api.md §10, with its source keys): who is
signed in and to which tenant (step 0), the inventory every step is assessed from, and the usage
reports read before step 1. The rows are listed together in :mod:`.table`.
"""

from __future__ import annotations

from services.i18n import N_

from .model import Endpoint

_READ_DIR = ("Directory.Read.All", "Directory.ReadWrite.All")
_USERS_HIGHER = ("User.ReadWrite.All", *_READ_DIR)
_ORG_HIGHER = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All")
ORG_FULL_READ = (*_ORG_HIGHER, "Directory.ReadWrite.All")
"""What reads every property of the organization, ``onPremisesSyncEnabled`` included (ORGGET)."""
_ROLES_HIGHER = ("RoleManagement.ReadWrite.Directory", *_READ_DIR)
_APPS_HIGHER = ("Application.ReadWrite.All", *_READ_DIR)


def _read(
    name: str,
    path: str,
    least: str,
    higher: tuple[str, ...],
    source: str,
    *,
    asks: str | None = None,
    target: str | None = None,
) -> Endpoint:
    """A v1.0 read whose least permission is the same for a user and an application."""
    return Endpoint(
        name, "GET", path, "v1.0", (least,), (least,), source, higher, asks=asks, target=target
    )


# -- step 0: who is signed in, and to which tenant -------------------------------------------

ORGANIZATION = Endpoint(
    "organization.list",
    "GET",
    "/organization",
    "v1.0",
    ("User.Read",),
    ("Organization.Read.All",),
    # User.Read reads id, displayName and verifiedDomains only; the sync flag (step 1) needs a
    # full read (ORGGET).
    "§2.2, §10; ORGGET",
    ORG_FULL_READ,
    full_read=ORG_FULL_READ,
)
ME = Endpoint(
    "me.get",
    "GET",
    "/me",
    "v1.0",
    ("User.Read",),
    (),  # Graph refuses /me to an application: that is how closeout tells one (MEMBEROF)
    "§1, §10; MEMBEROF",
    ("User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", *_READ_DIR),
)
MY_ROLES = Endpoint(
    "me.roles",
    "GET",
    "/me/transitiveMemberOf/microsoft.graph.directoryRole",
    "v1.0",
    ("User.Read",),
    (),
    "§1 option A, §10; MEMBEROF",
    ("User.Read.All", *_READ_DIR, "Group.Read.All", "GroupMember.Read.All"),
)
ROLE_ASSIGNMENTS = _read(
    "roleAssignments.list",
    "/roleManagement/directory/roleAssignments",
    "RoleManagement.Read.Directory",
    _ROLES_HIGHER,
    "§1 option C, §10; RA",
)

# -- the inventory ---------------------------------------------------------------------------

DIRECTORY_ROLES = _read(
    "directoryRoles.list",
    "/directoryRoles",
    "RoleManagement.Read.Directory",
    _ROLES_HIGHER,
    "§1 option D, §10; DRM",
)
ROLE_MEMBERS = _read(
    "directoryRoles.members",
    "/directoryRoles/{id}/members",
    "RoleManagement.Read.Directory",
    _ROLES_HIGHER,
    "§1 option D, §10; DRM",
)
SUBSCRIBED_SKUS = _read(
    "subscribedSkus.list",
    "/subscribedSkus",
    "Organization.Read.All",
    ("Organization.ReadWrite.All", *_READ_DIR),
    "§3.1, §10; SKU",
    asks="Organization.ReadWrite.All",
)
USERS = _read(
    "users.list",
    "/users",
    "User.Read.All",  # User.ReadBasic.All lacks userType and the sync state (USERS)
    _USERS_HIGHER,
    "§2.1, §10; ULIST, USERS",
    asks="User.ReadWrite.All",
)
USERS_COUNT = _read(
    "users.count",
    "/users/$count",
    "User.Read.All",
    _USERS_HIGHER,
    "§2.1; ULIST (how many users, for a snapshot's ETA)",
    asks="User.ReadWrite.All",
)
USER = _read(
    "users.get",
    "/users/{id}",
    "User.Read.All",
    _USERS_HIGHER,
    "§2.1; ULIST (a deletion read back)",
    asks="User.ReadWrite.All",
)
DELETED_USERS = _read(
    "deletedUsers.list",
    "/directory/deletedItems/microsoft.graph.user",
    "User.Read.All",
    ("User.DeleteRestore.All", *_USERS_HIGHER),
    "§2.4, §10; DILIST, WN",
    asks="User.ReadWrite.All",
)
SUBSCRIPTIONS = _read(
    "subscriptions.list",
    "/directory/subscriptions",
    "Organization.Read.All",
    # CSUB lists Organization.ReadWrite.All for applications; a run that may write asks for it
    # (its sign-in turns directory sync off), and reads subscriptions with it.
    ("Organization.ReadWrite.All", *_READ_DIR),
    "§3.1, §10; CSUB",
    asks="Organization.ReadWrite.All",
)
APPLICATIONS = _read(
    "applications.list",
    "/applications",
    "Application.Read.All",
    _APPS_HIGHER,
    "§6.2, §10; DELTEN",
    asks="Application.ReadWrite.All",
)
APPLICATION = _read(
    "applications.get",
    "/applications/{id}",
    "Application.Read.All",
    _APPS_HIGHER,
    "§6.2; DELTEN (a deletion read back)",
    asks="Application.ReadWrite.All",
)
DELETED_APPLICATIONS = _read(
    "deletedApplications.list",
    "/directory/deletedItems/microsoft.graph.application",
    "Application.Read.All",
    _APPS_HIGHER,
    "§2.4, §6.2; DILIST",
    asks="Application.ReadWrite.All",
)
SERVICE_PRINCIPALS = _read(
    "servicePrincipals.list",
    "/servicePrincipals",
    "Application.Read.All",
    _APPS_HIGHER,
    "§6.2, §10; DELTEN",
    asks="Application.ReadWrite.All",
)
SERVICE_PRINCIPAL = _read(
    "servicePrincipals.get",
    "/servicePrincipals/{id}",
    "Application.Read.All",
    _APPS_HIGHER,
    "§6.2; DELTEN (a deletion or a disabling read back)",
    asks="Application.ReadWrite.All",
)
DELETED_SERVICE_PRINCIPALS = _read(
    "deletedServicePrincipals.list",
    "/directory/deletedItems/microsoft.graph.servicePrincipal",
    "Application.Read.All",
    _APPS_HIGHER,
    "§2.4, §6.2; DILIST",
    asks="Application.ReadWrite.All",
)
DELETED_USER = _read(
    "deletedItems.getUser",
    "/directory/deletedItems/{id}",
    "User.Read.All",
    ("User.DeleteRestore.All", *_USERS_HIGHER),
    "§2.4; DILIST, WN (a purge read back)",
    asks="User.ReadWrite.All",
    target=N_("users"),
)
DELETED_APP = _read(
    "deletedItems.getApplication",
    "/directory/deletedItems/{id}",
    "Application.Read.All",
    _APPS_HIGHER,
    "§2.4; DILIST (a purge read back)",
    asks="Application.ReadWrite.All",
    target=N_("applications and service principals"),
)
SECURITY_DEFAULTS = _read(
    "securityDefaults.get",
    "/policies/identitySecurityDefaultsEnforcementPolicy",
    "Policy.Read.All",
    ("Policy.ReadWrite.SecurityDefaults",),
    "§5.2, §10; SECDEF",
)
CA_POLICIES = _read(
    "conditionalAccess.list",
    "/identity/conditionalAccess/policies",
    "Policy.Read.All",
    ("Policy.ReadWrite.ConditionalAccess",),
    "§5.3, §10; CAUPD, TL (1 request per second per tenant)",
)
CA_POLICY = _read(
    "conditionalAccess.get",
    "/identity/conditionalAccess/policies/{id}",
    "Policy.Read.All",
    ("Policy.ReadWrite.ConditionalAccess",),
    "§5.3; CAUPD (a change read back)",
)

# -- data before step 1: who holds mailbox and OneDrive data, and how much (graph-api.md §14) -

_REPORTS = ("Reports.Read.All",)
_REPORT_SOURCE = (
    "§14; Graph reference reportroot-getmailboxusagedetail, -getonedriveusageaccountdetail"
)
REPORT_MAILBOX = Endpoint(
    "reports.mailboxUsageDetail",
    "GET",
    "/reports/getMailboxUsageDetail(period='{period}')",
    "v1.0",
    _REPORTS,
    _REPORTS,
    _REPORT_SOURCE,
    option="usage_reports",
    note=N_(
        "usage reports also need a role that may read them (Reports Reader, or an admin role); "
        "they exist in the global cloud only"
    ),
)
REPORT_ONEDRIVE = Endpoint(
    "reports.oneDriveUsageAccountDetail",
    "GET",
    "/reports/getOneDriveUsageAccountDetail(period='{period}')",
    "v1.0",
    _REPORTS,
    _REPORTS,
    _REPORT_SOURCE,
    option="usage_reports",
    note=REPORT_MAILBOX.note,
)
