"""Graph's users: list, count, read, update and delete, and the signed-in user (``/me``).

Deletes refuse what Graph refuses: synced users, admins without the right role and scope, the
last Global Administrator, and the signed-in account itself (graph-api.md §1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.sandbox import odata
from services.sandbox.authz import READ_ME, READ_USERS, caller_id, forbidden, need
from services.sandbox.clock import iso
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import GLOBAL_ADMIN, PRIV_AUTH_ADMIN, USER_ADMIN, Tenant

from .objects import user_body, user_or_404

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

USER_FILTERABLE = (
    "id",
    "userPrincipalName",
    "displayName",
    "userType",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "mail",
    "department",
    "jobTitle",
)
SYNCED_WRITE_MESSAGE = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects "
    "or objects currently undergoing migration."
)
DELETE_USER_DELEGATED = (
    "User.ReadWrite.All",
    "User.DeleteRestore.All",
    "Directory.AccessAsUser.All",
)
DELETE_USER_APP = ("User.ReadWrite.All", "User.DeleteRestore.All")


def list_users(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_USERS, application=READ_USERS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    count = odata.wants_count(req)
    now = sb.clock.now()
    pred = odata.parse_filter(req, "user", USER_FILTERABLE)
    keep = (lambda u: pred(u.to_graph(now))) if pred else None
    items, nxt = t.users.page(odata.decode_skiptoken(req, "users"), top, keep)
    values = [user_body(u, req, now) for u in items]
    total = None
    if count:
        total = sum(1 for u in t.users.values() if keep is None or keep(u))
    return Response(
        body=odata.collection_body(sb.base_url, req, "users", values, nxt, "users", total)
    )


def count_users(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_USERS, application=READ_USERS)
    odata.require_eventual_for_count(req)
    now = sb.clock.now()
    pred = odata.parse_filter(req, "user", USER_FILTERABLE)
    n = sum(1 for u in t.users.values() if pred is None or pred(u.to_graph(now)))
    return Response(body=str(n), content_type="text/plain")


def get_user(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_USERS, application=READ_USERS)
    user = user_or_404(sb.tenant, req.params["id"])
    return Response(body=user_body(user, req, sb.clock.now()))


def require_delegated(req: Request, tenant: Tenant, reads: tuple[str, ...] = READ_ME) -> str:
    """The signed-in user's id; app-only callers have no ``/me``, and a user's token needs
    a permission to read their own profile (User.Read at least)."""
    if req.principal is None or req.principal.is_app_only:
        raise GraphHttpError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
    need(req, tenant, delegated=reads)
    return req.principal.user_id or ""


def me(sb: Sandbox, req: Request) -> Response:
    user = user_or_404(sb.tenant, require_delegated(req, sb.tenant))
    return Response(body=user_body(user, req, sb.clock.now()))


def delete_user(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(
        req,
        t,
        delegated=DELETE_USER_DELEGATED,
        application=DELETE_USER_APP,
        roles=(USER_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN),
    )
    user = user_or_404(t, req.params["id"])
    now = sb.clock.now()
    me_id = caller_id(req)
    if user.is_synced(now):
        sb.recorder.event(now, "synced-delete-refused", id=user.id)
        raise GraphHttpError(400, "Request_BadRequest", SYNCED_WRITE_MESSAGE)
    held = t.roles_of(user.id)
    if held:
        p = req.principal
        if p is None or p.is_app_only:
            # UDEL: User.ReadWrite.All isn't enough to delete admins; the app needs a role.
            raise forbidden()
        if "Directory.AccessAsUser.All" not in p.scopes or not t.has_role(
            me_id or "", GLOBAL_ADMIN, PRIV_AUTH_ADMIN
        ):
            raise forbidden()
        ga = t.roles.get(GLOBAL_ADMIN)
        if ga and user.id in ga.members and len(ga.members) == 1:
            sb.recorder.event(now, "last-global-admin-delete-refused", id=user.id)
            raise GraphHttpError(
                400,
                "Request_BadRequest",
                "The last Global Administrator of the organization can't be deleted.",
            )
    if user.id == me_id:
        sb.recorder.event(now, "self-delete-refused", id=user.id)
        raise GraphHttpError(
            400, "Request_BadRequest", "You can't delete the account you're signed in with."
        )
    t.users.remove(user.id)
    for role in held:
        role.members.remove(user.id)
    user.deleted_at = iso(sb.clock.now_dt())
    user.deleted_sim = now
    user.user_principal_name = user.id.replace("-", "") + user.user_principal_name
    t.deleted_users.add(user.id, user)
    sb.recorder.event(
        now,
        "user-deleted",
        id=user.id,
        was_synced=user.synced,
        sync_disabled_at=t.org.sync_disabled_at,
        roles=[r.template_id for r in held],
    )
    return Response(status=204)


def patch_user(sb: Sandbox, req: Request) -> Response:
    need(
        req,
        sb.tenant,
        delegated=("User.ReadWrite.All", "Directory.AccessAsUser.All"),
        application=("User.ReadWrite.All",),
        roles=(USER_ADMIN, GLOBAL_ADMIN, PRIV_AUTH_ADMIN),
    )
    user = user_or_404(sb.tenant, req.params["id"])
    body = odata.update_body(req, "user")
    if user.is_synced(sb.clock.now()):
        raise GraphHttpError(400, "Request_BadRequest", SYNCED_WRITE_MESSAGE)
    for key, value in body.items():
        if key == "accountEnabled" and isinstance(value, bool):
            user.account_enabled = value
        elif key == "displayName" and isinstance(value, str):
            user.display_name = value
        else:
            raise GraphHttpError(
                400,
                "Request_BadRequest",
                f"Property '{key}' is read-only or not supported here.",
            )
    return Response(status=204)
