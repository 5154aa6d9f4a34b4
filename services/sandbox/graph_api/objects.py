"""What several Graph resources share: the user's projection and Graph's 404 for a missing object."""

from __future__ import annotations

from typing import Any

from services.sandbox import odata
from services.sandbox.http import GraphHttpError, Request
from services.sandbox.tenant import USER_DEFAULT_SELECT, Tenant, User

USER_PROPS = (
    "id",
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
    "userType",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "onPremisesImmutableId",
    "department",
    "createdDateTime",
    "assignedLicenses",
    "deletedDateTime",
)


def not_found(key: str) -> GraphHttpError:
    return GraphHttpError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def user_or_404(tenant: Tenant, key: str) -> User:
    """A live user by id or userPrincipalName."""
    user = tenant.find_user(key)
    if user is None:
        raise not_found(key)
    return user


def user_body(user: User, req: Request, now: float) -> dict[str, Any]:
    """A user as Graph returns it at simulated time ``now``: ``$select`` honoured, else the
    default properties."""
    return odata.project(user.to_graph(now), req, "user", USER_PROPS, USER_DEFAULT_SELECT)
