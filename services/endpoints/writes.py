"""The Graph writes closeout makes, one row each (graph-api.md §10, with its source keys), and the
``$batch`` envelope they travel in. Turning directory sync off has its read-back here too (one
organization by id); the other writes are read back by rows of :mod:`.reads`. The rows are
listed together in :mod:`.table`.
"""

from __future__ import annotations

from services.i18n import N_

from .model import Endpoint
from .reads import ORGANIZATION

_GA = "Global Administrator"
_USER_ADMINS = ("User Administrator", "Privileged Authentication Administrator", _GA)
# Deleting or turning off any app or service principal (APPDEL, SPDEL: the rbac include also
# lists owners, Application Developers, Directory Writers and Hybrid Identity Administrators,
# each for their own apps or some properties only).
_APP_ROLES = (
    "Cloud Application Administrator",
    "Application Administrator",
    "Security Administrator",
    _GA,
)
_APP_NOTE = N_(
    "step 5 needs a Global Administrator who is a member (not a guest) of the tenant; an "
    "application needs Application.ReadWrite.All, since Application.ReadWrite.OwnedBy reaches "
    "only the apps it owns"
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
    "§2.2, §10; ORGGET (turning sync off read back)",
    ORGANIZATION.higher,
    full_read=ORGANIZATION.full_read,
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
    "§2.4, §10; DIDEL, DIROLES, WN",
    roles=("User Administrator", _GA),
    target=N_("users"),
)
DELETED_APP_PURGE = Endpoint(
    "deletedItems.purgeApplication",
    "DELETE",
    "/directory/deletedItems/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    # DIDEL's least for an application is Application.ReadWrite.OwnedBy, which reaches only the
    # apps the calling app owns (PERMREF); closeout purges every one, as it deletes every one.
    ("Application.ReadWrite.All",),
    "§2.4, §6.2, §10; DIDEL, PERMREF",
    roles=(
        "Cloud Application Administrator",
        "Application Administrator",
        "Hybrid Identity Administrator",
        _GA,
    ),
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
    roles=("Global Reader", "Authentication Policy Administrator", _GA),
)
MFA_UPDATE = Endpoint(
    "mfa.update",
    "PATCH",
    "/users/{id}/authentication/requirements",
    "beta",
    ("Policy.ReadWrite.AuthenticationMethod",),
    ("Policy.ReadWrite.AuthenticationMethod",),
    "§5.1, §10; AUPD",
    roles=("Authentication Policy Administrator", _GA),
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
    "§6.2, §10; APPDEL, DELTEN",
    roles=_APP_ROLES,
    note=_APP_NOTE,
)
SERVICE_PRINCIPAL_DELETE = Endpoint(
    "servicePrincipals.delete",
    "DELETE",
    "/servicePrincipals/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All",),
    "§6.2, §10; SPDEL, DELTEN, KB2967860",
    roles=_APP_ROLES,
    note=_APP_NOTE,
)
SERVICE_PRINCIPAL_DISABLE = Endpoint(
    "servicePrincipals.disable",
    "PATCH",
    "/servicePrincipals/{id}",
    "v1.0",
    ("Application.ReadWrite.All",),
    ("Application.ReadWrite.All",),
    "§6.2, §10; SPUPD (roles as SPDEL, UNCONFIRMED), DELTEN",
    roles=_APP_ROLES,
    note=_APP_NOTE,
)

# -- the envelope: each request inside is one of the rows above ------------------------------

BATCH = Endpoint("batch", "POST", "/$batch", "v1.0", None, None, "§7, §10; BATCH")
BATCH_BETA = Endpoint("batch.beta", "POST", "/$batch", "beta", None, None, "§7, §10; BATCH")
