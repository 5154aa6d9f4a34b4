"""Graph's recycle bin (``/directory/deletedItems``): deleted users, app registrations and
service principals, read and purged for good. Graph refuses the collection without a type
cast; purging needs the permission of the object's own type (DIDEL's table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.sandbox import odata
from services.sandbox.authz import (
    READ_APPS,
    READ_DELETED_USERS,
    WRITE_APPS,
    WRITE_APPS_APPLICATION,
    need,
    need_app_write,
)
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import (
    APP_ADMIN,
    CLOUD_APP_ADMIN,
    GLOBAL_ADMIN,
    HYBRID_ADMIN,
    USER_ADMIN,
)

from .applications import APP_PROPS, SP_PROPS, app_json, sp_json
from .objects import USER_PROPS, not_found, user_body
from .user_accounts import DELETE_USER_DELEGATED

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox


def deleted_items_without_cast(sb: Sandbox, req: Request) -> Response:
    raise GraphHttpError(
        400,
        "Request_BadRequest",
        "Calling /directory/deletedItems without a type cast is not supported. "
        "Use e.g. /directory/deletedItems/microsoft.graph.user.",
    )


def list_deleted_users(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_DELETED_USERS, application=READ_DELETED_USERS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    count = odata.wants_count(req)
    now = sb.clock.now()
    items, nxt = t.deleted_users.page(odata.decode_skiptoken(req, "deleted"), top)
    values = [user_body(u, req, now) for u in items]
    return Response(
        body=odata.collection_body(
            sb.base_url,
            req,
            "directoryObjects",
            values,
            nxt,
            "deleted",
            len(t.deleted_users) if count else None,
        )
    )


def list_deleted_apps(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_APPS, application=READ_APPS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    items, nxt = t.deleted_applications.page(odata.decode_skiptoken(req, "dapps"), top)
    values = [odata.project(app_json(a), req, "application", APP_PROPS) for a in items]
    return Response(
        body=odata.collection_body(sb.base_url, req, "directoryObjects", values, nxt, "dapps")
    )


def list_deleted_sps(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_APPS, application=READ_APPS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    items, nxt = t.deleted_service_principals.page(odata.decode_skiptoken(req, "dsps"), top)
    values = [odata.project(sp_json(s), req, "servicePrincipal", SP_PROPS) for s in items]
    return Response(
        body=odata.collection_body(sb.base_url, req, "directoryObjects", values, nxt, "dsps")
    )


def get_deleted(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    key = req.params["id"]
    user = t.deleted_users.get(key)
    # Any deleted directory object is found by its id: an app registration or a service
    # principal too (a purge read back must not pass for done while the object is still binned).
    # Each kind is read under its own permissions (DILIST, WN); that nothing is there, under any.
    app = None if user is not None else t.deleted_applications.get(key)
    sp = None if user is not None or app is not None else t.deleted_service_principals.get(key)
    reads: tuple[str, ...]
    if user is not None:
        reads = READ_DELETED_USERS
    elif app is not None or sp is not None:
        reads = READ_APPS
    else:
        reads = (*READ_DELETED_USERS, *READ_APPS)
    need(req, t, delegated=reads, application=reads)
    if user is not None:
        return Response(body=odata.project(user.to_graph(sb.clock.now()), req, "user", USER_PROPS))
    if app is not None:
        return Response(body=odata.project(app_json(app), req, "application", APP_PROPS))
    if sp is None:
        raise not_found(key)
    return Response(body=odata.project(sp_json(sp), req, "servicePrincipal", SP_PROPS))


def purge(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    key = req.params["id"]
    if key in t.deleted_users:
        need(
            req,
            t,
            delegated=DELETE_USER_DELEGATED,
            application=("User.DeleteRestore.All",),
            # DIDEL's rbac include names User Administrator alone for users (and a Global
            # Administrator holds every role); deleting one (UDEL) admits more.
            roles=(USER_ADMIN, GLOBAL_ADMIN),
        )
        t.deleted_users.remove(key)
        sb.recorder.event(sb.clock.now(), "user-purged", id=key)
        return Response(status=204)
    binned = t.deleted_applications.get(key) or t.deleted_service_principals.get(key)
    if binned is None:
        need(req, t, delegated=WRITE_APPS, application=WRITE_APPS_APPLICATION)
        raise not_found(key)
    owners = binned.owners
    # DIDEL's rbac include names these three roles (and a Global Administrator holds every
    # role), not owners; its table's Application.ReadWrite.OwnedBy reaches the caller's own.
    if req.principal is not None and req.principal.is_app_only:
        need_app_write(req, t, owners, roles=())
    else:
        need(
            req,
            t,
            delegated=WRITE_APPS,
            roles=(CLOUD_APP_ADMIN, APP_ADMIN, HYBRID_ADMIN, GLOBAL_ADMIN),
        )
    if t.deleted_applications.remove(key) is not None:
        sb.recorder.event(sb.clock.now(), "application-purged", id=key)
    else:
        t.deleted_service_principals.remove(key)
        sb.recorder.event(sb.clock.now(), "service-principal-purged", id=key)
    return Response(status=204)
