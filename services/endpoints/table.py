"""Every Graph call closeout makes, written once (graph-api.md §10, with its source keys).

Each row is one call: method, path template, API version, the least delegated and application
permission, the higher ones the reference also lists, the directory roles a signed-in admin
needs. The scopes a sign-in asks for (:mod:`services.auth.scopes`), what each step requires
(:mod:`services.requirements`) and what a 403 tells the admin (:mod:`services.guidance`) are
derived from these rows; the code that sends a call builds its URL from its row. The sandbox
keeps its own, independent rules; a test holds the two against each other.

Reads that settle a lost answer (:mod:`services.settle`) GET the written object's own URL: each
write has the row of that read too.

The rows are written in :mod:`.reads` and :mod:`.writes`; this module lists them in one tuple.
"""

from __future__ import annotations

from .model import Endpoint
from .reads import (
    APPLICATION,
    APPLICATIONS,
    CA_POLICIES,
    CA_POLICY,
    DELETED_APP,
    DELETED_APPLICATIONS,
    DELETED_SERVICE_PRINCIPALS,
    DELETED_USER,
    DELETED_USERS,
    DIRECTORY_ROLES,
    ME,
    MY_ROLES,
    ORGANIZATION,
    REPORT_MAILBOX,
    REPORT_ONEDRIVE,
    ROLE_ASSIGNMENTS,
    ROLE_MEMBERS,
    SECURITY_DEFAULTS,
    SERVICE_PRINCIPAL,
    SERVICE_PRINCIPALS,
    SUBSCRIBED_SKUS,
    SUBSCRIPTIONS,
    USER,
    USERS,
    USERS_COUNT,
)
from .writes import (
    APPLICATION_DELETE,
    BATCH,
    BATCH_BETA,
    CA_POLICY_UPDATE,
    DELETED_APP_PURGE,
    DELETED_USER_PURGE,
    MFA_STATE,
    MFA_UPDATE,
    ORGANIZATION_GET,
    ORGANIZATION_UPDATE,
    SECURITY_DEFAULTS_UPDATE,
    SERVICE_PRINCIPAL_DELETE,
    SERVICE_PRINCIPAL_DISABLE,
    USER_DELETE,
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
