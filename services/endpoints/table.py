"""Every Graph call closeout makes, written once (graph-api.md §10, with its source keys).

Each row is one call: method, path template, API version, the least delegated and application
permission, the higher ones the reference also lists, the directory roles a signed-in admin
needs. The scopes a sign-in asks for (:mod:`services.auth.scopes`), what each step requires
(:mod:`services.requirements`) and what a 403 tells the admin (:mod:`services.guidance`) are
derived from these rows; the code that sends a call builds its URL from its row. The sandbox
keeps its own, independent rules; a test holds the two against each other.

Reads that settle a lost answer (:mod:`services.settle`) GET the written object's own URL: each
write has the row of that read too.
"""

from __future__ import annotations

from services.i18n import N_

from .model import Endpoint

_GA = "Global Administrator"
_READ_DIR = ("Directory.Read.All", "Directory.ReadWrite.All")
_USERS_HIGHER = ("User.ReadWrite.All", *_READ_DIR)
_ORG_HIGHER = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All")
_ROLES_HIGHER = ("RoleManagement.ReadWrite.Directory", *_READ_DIR)
_APPS_HIGHER = ("Application.ReadWrite.All", *_READ_DIR)
_USER_ADMINS = ("User Administrator", "Privileged Authentication Administrator", _GA)
_APP_NOTE = N_("step 5 needs a Global Administrator who is a member (not a guest) of the tenant")


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
    "§2.2, §10; Graph reference organization-get (User.Read is its least delegated permission)",
    (*_ORG_HIGHER, "Directory.ReadWrite.All"),
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

# -- the writes ------------------------------------------------------------------------------

ORGANIZATION_UPDATE = Endpoint(
    "organization.update",
    "PATCH",
    "/organization/{id}",
    "v1.0",
    ("Organization.ReadWrite.All",),
    ("Organization.ReadWrite.All",),
    "§2.2, §10; ORGUPD, DIRSYNC, EPS",
    roles=("Hybrid Identity Administrator", _GA),
    note=N_("turning directory sync off cannot be undone for 72 hours"),
)
ORGANIZATION_GET = Endpoint(
    "organization.get",
    "GET",
    "/organization/{id}",
    "v1.0",
    ("User.Read",),
    ("Organization.Read.All",),
    "§2.2; Graph reference organization-get (turning sync off read back)",
    (*_ORG_HIGHER, "Directory.ReadWrite.All"),
)
USER_DELETE = Endpoint(
    "users.delete",
    "DELETE",
    "/users/{id}",
    "v1.0",
    # UDEL's table names User.ReadWrite.All, WN names User.DeleteRestore.All (December 2024).
    ("User.ReadWrite.All", "User.DeleteRestore.All"),
    ("User.ReadWrite.All", "User.DeleteRestore.All"),
    "§2.3, §10; UDEL, WN, USERS",
    roles=_USER_ADMINS,
    for_admins="Directory.AccessAsUser.All",
)
DELETED_USER_PURGE = Endpoint(
    "deletedItems.purgeUser",
    "DELETE",
    "/directory/deletedItems/{id}",
    "v1.0",
    ("User.DeleteRestore.All", "User.ReadWrite.All"),
    # DIDEL's older table: application "Not supported"; WN's permission covers it (UNCONFIRMED).
    ("User.DeleteRestore.All",),
    "§2.4, §10; DIDEL, WN",
    roles=_USER_ADMINS,
    target=N_("users"),
)
DELETED_APP_PURGE = Endpoint(
    "deletedItems.purgeApplication",
    "DELETE",
    "/directory/deletedItems/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All"),
    "§2.4, §6.2; DIDEL",
    target=N_("applications and service principals"),
    note=_APP_NOTE,
)
MFA_STATE = Endpoint(
    "mfa.get",
    "GET",
    "/users/{id}/authentication/requirements",
    "beta",
    ("Policy.Read.All",),
    ("Policy.Read.All",),
    "§5.1, §10; AGET",
    ("Policy.ReadWrite.AuthenticationMethod",),
    roles=(
        "Global Reader",
        "Authentication Policy Administrator",
        "Privileged Authentication Administrator",
        _GA,
    ),
)
MFA_UPDATE = Endpoint(
    "mfa.update",
    "PATCH",
    "/users/{id}/authentication/requirements",
    "beta",
    ("Policy.ReadWrite.AuthenticationMethod",),
    ("Policy.ReadWrite.AuthenticationMethod",),
    "§5.1, §10; AUPD",
    roles=("Authentication Policy Administrator", "Privileged Authentication Administrator", _GA),
)
SECURITY_DEFAULTS_UPDATE = Endpoint(
    "securityDefaults.update",
    "PATCH",
    "/policies/identitySecurityDefaultsEnforcementPolicy",
    "v1.0",
    ("Policy.ReadWrite.SecurityDefaults",),
    ("Policy.ReadWrite.SecurityDefaults",),
    "§5.2, §10; SECDEF (role: Microsoft365DSC, UNCONFIRMED)",
    roles=("Security Administrator", _GA),
    option="disable_security_defaults",
)
CA_POLICY_UPDATE = Endpoint(
    "conditionalAccess.update",
    "PATCH",
    "/identity/conditionalAccess/policies/{id}",
    "v1.0",
    ("Policy.ReadWrite.ConditionalAccess",),
    ("Policy.ReadWrite.ConditionalAccess",),
    "§5.3, §10; CAUPD (role UNCONFIRMED)",
    together=("Policy.Read.All",),
    roles=("Conditional Access Administrator", "Security Administrator", _GA),
    option="disable_ca_mfa",
)
APPLICATION_DELETE = Endpoint(
    "applications.delete",
    "DELETE",
    "/applications/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All",),
    "§6.2, §10; DELTEN",
    note=_APP_NOTE,
)
SERVICE_PRINCIPAL_DELETE = Endpoint(
    "servicePrincipals.delete",
    "DELETE",
    "/servicePrincipals/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All",),
    "§6.2, §10; DELTEN, KB2967860",
    note=_APP_NOTE,
)
SERVICE_PRINCIPAL_DISABLE = Endpoint(
    "servicePrincipals.disable",
    "PATCH",
    "/servicePrincipals/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All",),
    "§6.2, §10; DELTEN",
    note=_APP_NOTE,
)

# -- the envelope: each request inside is one of the rows above ------------------------------

BATCH = Endpoint("batch", "POST", "/$batch", "v1.0", None, None, "§7, §10; BATCH")
BATCH_BETA = Endpoint("batch.beta", "POST", "/$batch", "beta", None, None, "§7, §10; BATCH")

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

ENDPOINTS: tuple[Endpoint, ...] = (
    ORGANIZATION,
    ME,
    MY_ROLES,
    ROLE_ASSIGNMENTS,
    DIRECTORY_ROLES,
    ROLE_MEMBERS,
    SUBSCRIBED_SKUS,
    USERS,
    USERS_COUNT,
    USER,
    DELETED_USERS,
    SUBSCRIPTIONS,
    APPLICATIONS,
    APPLICATION,
    DELETED_APPLICATIONS,
    SERVICE_PRINCIPALS,
    SERVICE_PRINCIPAL,
    DELETED_SERVICE_PRINCIPALS,
    DELETED_USER,
    DELETED_APP,
    SECURITY_DEFAULTS,
    CA_POLICIES,
    CA_POLICY,
    ORGANIZATION_UPDATE,
    ORGANIZATION_GET,
    USER_DELETE,
    DELETED_USER_PURGE,
    DELETED_APP_PURGE,
    MFA_STATE,
    MFA_UPDATE,
    SECURITY_DEFAULTS_UPDATE,
    CA_POLICY_UPDATE,
    APPLICATION_DELETE,
    SERVICE_PRINCIPAL_DELETE,
    SERVICE_PRINCIPAL_DISABLE,
    BATCH,
    BATCH_BETA,
    REPORT_MAILBOX,
    REPORT_ONEDRIVE,
)
