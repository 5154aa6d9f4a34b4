"""Plain-language guidance for the Graph errors closeout is known to meet.

Two data tables and one function. ``PERMISSIONS`` says, per endpoint, which delegated scope and
which directory role a call needs (from graph-api.md §10), so that a 403 can name them. ``RULES``
maps status, code and message patterns to a sentence the admin can act on. The first rule that
matches wins, so specific rules come before general ones. Unknown errors give ``""``: the caller
then shows Graph's own message, which is better than a vague guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from .i18n import N_, _

__all__ = [
    "PERMISSIONS",
    "RULES",
    "Permission",
    "Rule",
    "guidance_for",
    "permission_for",
    "split_version",
]

_VERSIONS = ("v1.0", "beta")


@dataclass(frozen=True)
class Permission:
    """What one endpoint needs. In ``path``, ``{id}`` is one segment and ``{rest}`` any tail."""

    method: str
    path: str
    scopes: str
    roles: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Rule:
    """A known error. ``None`` fields match anything; ``message`` is a case-insensitive regex."""

    text: str
    status: int | None = None
    code: str | None = None
    message: str | None = None
    method: str | None = None
    path: str | None = None
    version: str | None = None
    max_status: int | None = None  # with ``status``: an inclusive range (5xx)


PERMISSIONS: tuple[Permission, ...] = (
    Permission("GET", "/me", "User.Read"),
    Permission("GET", "/me/transitiveMemberOf{rest}", "User.Read"),
    Permission("GET", "/me/memberOf{rest}", "User.Read"),
    Permission("GET", "/users/{id}/transitiveMemberOf{rest}", "User.Read.All"),
    Permission("GET", "/users/{id}/memberOf{rest}", "User.Read.All"),
    Permission(
        "GET",
        "/users/{id}/authentication/requirements",
        "Policy.Read.All (or Policy.ReadWrite.AuthenticationMethod)",
        "Global Reader or Authentication Policy Administrator",
    ),
    Permission(
        "PATCH",
        "/users/{id}/authentication/requirements",
        "Policy.ReadWrite.AuthenticationMethod",
        "Authentication Policy Administrator",
    ),
    Permission(
        "DELETE",
        "/users/{id}/authentication/{id}/{id}",
        "UserAuthenticationMethod.ReadWrite.All",
        "Authentication Administrator or Privileged Authentication Administrator",
    ),
    Permission(
        "DELETE",
        "/users/{id}",
        "User.ReadWrite.All or User.DeleteRestore.All",
        "User Administrator (or Global/Privileged Authentication Administrator for admins)",
        note=N_("deleting admins also needs Directory.AccessAsUser.All"),
    ),
    Permission("GET", "/users{rest}", "User.Read.All"),
    Permission(
        "GET", "/roleManagement/directory/roleAssignments{rest}", "RoleManagement.Read.Directory"
    ),
    Permission("GET", "/directoryRoles{rest}", "RoleManagement.Read.Directory"),
    Permission(
        "PATCH",
        "/organization/{id}",
        "Organization.ReadWrite.All",
        "Hybrid Identity Administrator or Global Administrator",
        note=N_("turning directory sync off cannot be undone for 72 hours"),
    ),
    Permission("GET", "/organization{rest}", "Organization.Read.All"),
    Permission(
        "DELETE",
        "/directory/deletedItems/{id}",
        "User.ReadWrite.All or User.DeleteRestore.All",
        "User Administrator or Global Administrator",
    ),
    Permission("GET", "/directory/deletedItems{rest}", "User.Read.All (or User.DeleteRestore.All)"),
    Permission("GET", "/subscribedSkus{rest}", "Organization.Read.All"),
    Permission("GET", "/directory/subscriptions{rest}", "Organization.Read.All"),
    Permission(
        "PATCH",
        "/policies/identitySecurityDefaultsEnforcementPolicy",
        "Policy.ReadWrite.SecurityDefaults",
        "Security Administrator or Global Administrator",
    ),
    Permission("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", "Policy.Read.All"),
    Permission(
        "PATCH",
        "/identity/conditionalAccess/policies/{id}",
        "Policy.Read.All and Policy.ReadWrite.ConditionalAccess",
        "Conditional Access Administrator or Security Administrator",
    ),
    Permission("GET", "/identity/conditionalAccess/policies{rest}", "Policy.Read.All"),
    Permission(
        "DELETE",
        "/servicePrincipals/{id}",
        "Application.ReadWrite.All",
        "Global Administrator who is a member (not a guest) of this tenant",
    ),
    Permission(
        "PATCH",
        "/servicePrincipals/{id}",
        "Application.ReadWrite.All",
        "Global Administrator who is a member (not a guest) of this tenant",
    ),
    Permission(
        "DELETE",
        "/applications/{id}",
        "Application.ReadWrite.All",
        "Global Administrator who is a member (not a guest) of this tenant",
    ),
    Permission(
        "GET", "/servicePrincipals{rest}", "Application.Read.All (or Application.ReadWrite.All)"
    ),
    Permission("GET", "/applications{rest}", "Application.Read.All (or Application.ReadWrite.All)"),
)

# Endpoints that exist only in the beta API; v1.0 answers them with 405.
_BETA_ONLY = ("/users/{id}/authentication/requirements", "/me/authentication/requirements")

RULES: tuple[Rule, ...] = (
    Rule(
        N_(
            "Your sign-in has expired or was revoked. Sign in again "
            "(closeout already retried once with a refreshed token)."
        ),
        status=401,
    ),
    Rule("{permission}", status=403),
    Rule(
        N_(
            "This user is still synchronized from on-premises; turn directory sync off and wait "
            "until it has finished (up to 72 hours), then run this step again."
        ),
        status=400,
        message=r"directory\s*sync|on-?premises mastered",
    ),
    Rule(
        N_(
            "Microsoft Graph is throttling requests for this tenant. closeout waits the time Graph "
            "asks for and retries; nothing needs to be done unless this persists."
        ),
        status=429,
    ),
    Rule(
        N_(
            "The object no longer exists; it was probably deleted already (for a delete this "
            "counts as done). Refresh the inventory."
        ),
        status=404,
    ),
    Rule(
        N_(
            "This API exists only in Microsoft Graph beta (per-user MFA); it must be called "
            "through /beta, including inside a /beta/$batch."
        ),
        status=405,
        version="v1.0",
        path="|".join(_BETA_ONLY),
    ),
    Rule(
        N_(
            "Graph does not allow this method on this resource. If it is a beta-only API it must "
            "be called through /beta."
        ),
        status=405,
    ),
    Rule(
        N_(
            "$count, $search and advanced filters need the request header 'ConsistencyLevel: "
            "eventual' (and $count=true in the query)."
        ),
        status=400,
        message=r"consistencylevel|\$count|advanced quer|count.*not supported",
    ),
    Rule(
        N_("Page size ($top) must be between 1 and 999."),
        status=400,
        message=r"page size",
    ),
    Rule(
        N_(
            "Graph does not support this query on this resource (filter, order or select not "
            "supported here)."
        ),
        status=400,
        code="Request_UnsupportedQuery",
    ),
    Rule(
        N_(
            "A request this one depended on failed, or Graph rejected the whole batch under load; "
            "closeout retries it."
        ),
        status=424,
    ),
    Rule(
        N_(
            "Microsoft Graph had a temporary problem. closeout retries automatically; if it "
            "persists, check the service health page in the admin center and try again later."
        ),
        status=500,
        max_status=599,
    ),
)


def split_version(path: str) -> tuple[str | None, str]:
    """``("v1.0", "/users/x")`` from ``/v1.0/users/x?$top=1`` or a full Graph URL."""
    parts = urlsplit(path)
    rel = parts.path if (parts.scheme or parts.netloc) else path.split("?", 1)[0]
    segments = rel.lstrip("/").split("/", 1)
    if segments and segments[0].lower() in _VERSIONS:
        version = "v1.0" if segments[0].lower() == "v1.0" else "beta"
        return version, "/" + (segments[1] if len(segments) > 1 else "")
    return None, "/" + rel.lstrip("/")


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    alternatives = []
    for alt in pattern.split("|"):
        rx = re.escape(alt).replace(r"\{id\}", "[^/]+").replace(r"\{rest\}", "(?:[/?(].*)?")
        alternatives.append(rx)
    return re.compile("^(?:" + "|".join(alternatives) + ")/?$", re.IGNORECASE)


def permission_for(method: str, path: str) -> Permission | None:
    """What the endpoint of ``method path`` needs (``path`` as :func:`guidance_for` takes it)."""
    method = (method or "").upper()
    rel_path = split_version(path or "")[1]
    return next(
        (p for p in PERMISSIONS if p.method == method and _compile(p.path).match(rel_path)), None
    )


def _permission_text(method: str, rel_path: str) -> str:
    perm = permission_for(method, rel_path)
    if perm is not None:
        text = (
            _(
                "Access denied: {method} {path} needs the role {roles} and the delegated "
                "permission {scopes}"
            )
            if perm.roles
            else _("Access denied: {method} {path} needs the delegated permission {scopes}")
        ).format(method=method, path=perm.path, roles=perm.roles, scopes=perm.scopes)
        if perm.note:
            text += f"; {_(perm.note)}"
        return _(
            "{text}. Sign in with an account that has it, or have a Global Administrator "
            "grant admin consent for the scope, then retry."
        ).format(text=text)
    return _(
        "Access denied: the signed-in account or the app lacks a directory role or a "
        "consented permission for this call. Check the account's roles and the app's granted "
        "scopes, then retry."
    )


def guidance_for(method: str, path: str, status: int, code: str | None, message: str | None) -> str:
    """Plain-language advice for one Graph error, or ``""`` if the error is not a known one.

    ``path`` may be version-prefixed (``/v1.0/users/x``), a full URL, or version-relative.
    """
    method = (method or "").upper()
    version, rel_path = split_version(path or "")
    for rule in RULES:
        if rule.status is not None:
            if rule.max_status is not None:
                if not rule.status <= status <= rule.max_status:
                    continue
            elif rule.status != status:
                continue
        if rule.code is not None and (code or "").lower() != rule.code.lower():
            continue
        if rule.message is not None and not re.search(rule.message, message or "", re.I):
            continue
        if rule.method is not None and rule.method != method:
            continue
        if rule.version is not None and rule.version != version:
            continue
        if rule.path is not None and not _compile(rule.path).match(rel_path):
            continue
        if rule.text == "{permission}":
            return _permission_text(method, rel_path)
        return _(rule.text)
    return ""
