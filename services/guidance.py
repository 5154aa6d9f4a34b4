"""Plain-language guidance for the Graph errors closeout is known to meet.

A data table and one function. A 403 names what the refused call needs, read from its row in
the endpoint table (:mod:`services.endpoints`, graph-api.md §10): the delegated permission, the
directory role, what else to know. ``RULES`` maps status, code and message patterns to a
sentence the admin can act on. The first rule that matches wins, so specific rules come before
general ones. Unknown errors give ``""``: the caller
then shows Graph's own message, which is better than a vague guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from . import endpoints
from .endpoints import split_version
from .i18n import N_, _

__all__ = [
    "RULES",
    "Permission",
    "Rule",
    "guidance_for",
    "permission_for",
    "split_version",
]


@dataclass(frozen=True)
class Permission:
    """What a refused call needed, in words for the admin (from its rows in the endpoint table)."""

    method: str
    path: str
    """The call's path as Graph's reference writes it (``/users/{id}``)."""
    scopes: str
    roles: str | None = None
    note: str | None = None
    """Translated already."""


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


# Endpoints that exist only in the beta API; v1.0 answers them with 405.
_BETA_ONLY = tuple(e.path for e in endpoints.ENDPOINTS if e.version == "beta" and e.delegated)

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


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    alternatives = []
    for alt in pattern.split("|"):
        rx = re.escape(alt).replace(r"\{id\}", "[^/]+").replace(r"\{rest\}", "(?:[/?(].*)?")
        alternatives.append(rx)
    return re.compile("^(?:" + "|".join(alternatives) + ")/?$", re.IGNORECASE)


def permission_for(method: str, path: str) -> Permission | None:
    """What the call ``method path`` needs (``path`` as :func:`guidance_for` takes it), from its
    rows in :mod:`services.endpoints`; None for a call closeout does not make."""
    rows = endpoints.lookup((method or "").upper(), path or "")
    if not rows:
        return None
    several = len(rows) > 1
    scopes = "; ".join(
        _scopes(row) + (f" ({_(row.target)})" if several and row.target else "") for row in rows
    )
    roles = (
        "; ".join(
            _names(row.roles) + (f" ({_(row.target)})" if several and row.target else "")
            for row in rows
            if row.roles
        )
        or None
    )
    notes = [_(n) for n in dict.fromkeys(row.note for row in rows) if n]
    notes += [
        _("deleting admins also needs {permission}").format(permission=row.for_admins)
        for row in rows
        if row.for_admins
    ]
    return Permission(rows[0].method, rows[0].path, scopes, roles, "; ".join(notes) or None)


def _scopes(row: endpoints.Endpoint) -> str:
    """The least delegated permission (or the application's, for a call only an application
    may make), with what closeout's own sign-in asks for, and what is needed as well."""
    least = row.delegated or row.application or ()
    text = " or ".join(least)
    if row.asks and row.asks not in least:
        text += f" (or {row.asks})"
    return " and ".join((text, *row.together))


def _names(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _permission_text(method: str, rel_path: str) -> str:
    """What a 403 on ``method rel_path`` needs, naming the path as it was sent (not the table's
    pattern: ``/organization{rest}`` means nothing to an admin)."""
    perm = permission_for(method, rel_path)
    if perm is not None:
        text = (
            _(
                "Access denied: {method} {path} needs the role {roles} and the delegated "
                "permission {scopes}"
            )
            if perm.roles
            else _("Access denied: {method} {path} needs the delegated permission {scopes}")
        ).format(method=method, path=rel_path, roles=perm.roles, scopes=perm.scopes)
        if perm.note:
            text += f"; {perm.note}"
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
