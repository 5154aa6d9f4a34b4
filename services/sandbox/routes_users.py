"""Graph routes for users, the signed-in user, directory roles, the recycle bin and the
organization (directory sync), as graph-api.md §1–2 describes them."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from . import odata
from .authz import READ_ORG, READ_ROLES, READ_USERS, caller_id, forbidden, need
from .clock import iso
from .http import GraphHttpError, Request, Response
from .tenant import (
    GLOBAL_ADMIN,
    HYBRID_ADMIN,
    PRIV_AUTH_ADMIN,
    USER_ADMIN,
    USER_DEFAULT_SELECT,
    DirectoryRole,
    User,
)

if TYPE_CHECKING:
    from .core import Sandbox

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


def not_found(key: str) -> GraphHttpError:
    return GraphHttpError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def register(sb: Sandbox) -> None:
    t = sb.tenant

    def user_or_404(key: str) -> User:
        user = t.find_user(key)
        if user is None:
            raise not_found(key)
        return user

    def list_users(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        odata.reject_unsupported(req)
        top = odata.page_size(req)
        count = odata.wants_count(req)
        now = sb.clock.now()
        pred = odata.parse_filter(req, "user", USER_FILTERABLE)
        keep = (lambda u: pred(u.to_graph(now))) if pred else None
        items, nxt = t.users.page(odata.decode_skiptoken(req, "users"), top, keep)
        values = [
            odata.project(u.to_graph(now), req, "user", USER_PROPS, USER_DEFAULT_SELECT)
            for u in items
        ]
        total = None
        if count:
            total = sum(1 for u in t.users.values() if keep is None or keep(u))
        return Response(
            body=odata.collection_body(sb.base_url, req, "users", values, nxt, "users", total)
        )

    def count_users(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        odata.require_eventual_for_count(req)
        now = sb.clock.now()
        pred = odata.parse_filter(req, "user", USER_FILTERABLE)
        n = sum(1 for u in t.users.values() if pred is None or pred(u.to_graph(now)))
        return Response(body=str(n), content_type="text/plain")

    def get_user(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        user = user_or_404(req.params["id"])
        return Response(
            body=odata.project(
                user.to_graph(sb.clock.now()), req, "user", USER_PROPS, USER_DEFAULT_SELECT
            )
        )

    def me(req: Request) -> Response:
        if req.principal is None or req.principal.is_app_only:
            raise GraphHttpError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        user = user_or_404(req.principal.user_id or "")
        return Response(
            body=odata.project(
                user.to_graph(sb.clock.now()), req, "user", USER_PROPS, USER_DEFAULT_SELECT
            )
        )

    def role_json(role: DirectoryRole) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.directoryRole",
            "id": role.id,
            "deletedDateTime": None,
            "description": f"{role.display_name} role.",
            "displayName": role.display_name,
            "roleTemplateId": role.template_id,
        }

    def member_roles(req: Request, user_id: str) -> Response:
        # MEMBEROF: ConsistencyLevel and $count "are required when using ... OData cast".
        if not (odata.is_eventual(req) and req.query.get("$count", "").lower() == "true"):
            raise GraphHttpError(
                400,
                "Request_UnsupportedQuery",
                "The specified type cast is only supported with ConsistencyLevel: eventual and $count=true.",
            )
        roles = [role_json(r) for r in t.roles_of(user_id)]
        values = [
            odata.project(
                r,
                req,
                "directoryRole",
                ("id", "displayName", "roleTemplateId", "description", "deletedDateTime"),
            )
            if "$select" in req.query
            else r
            for r in roles
        ]
        return Response(
            body=odata.collection_body(
                sb.base_url, req, "directoryObjects", values, None, "roles", len(values)
            )
        )

    def my_roles(req: Request) -> Response:
        if req.principal is None or req.principal.is_app_only:
            raise GraphHttpError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        return member_roles(req, req.principal.user_id or "")

    def user_roles(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        return member_roles(req, user_or_404(req.params["id"]).id)

    def delete_user(req: Request) -> Response:
        need(
            req,
            t,
            delegated=DELETE_USER_DELEGATED,
            application=DELETE_USER_APP,
            roles=(USER_ADMIN, PRIV_AUTH_ADMIN, GLOBAL_ADMIN),
        )
        user = user_or_404(req.params["id"])
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

    def patch_user(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("User.ReadWrite.All", "Directory.AccessAsUser.All"),
            application=("User.ReadWrite.All",),
            roles=(USER_ADMIN, GLOBAL_ADMIN, PRIV_AUTH_ADMIN),
        )
        user = user_or_404(req.params["id"])
        body = req.json()
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

    # -- directory roles ---------------------------------------------------------------------

    def list_roles(req: Request) -> Response:
        need(req, t, delegated=READ_ROLES, application=READ_ROLES)
        values = [role_json(r) for r in t.roles.values()]
        return Response(
            body=odata.collection_body(sb.base_url, req, "directoryRoles", values, None, "roles")
        )

    def role_members_by(role: DirectoryRole | None, req: Request) -> Response:
        need(req, t, delegated=READ_ROLES, application=READ_ROLES)
        if role is None:
            raise not_found(req.params.get("id") or req.params.get("tid", ""))
        now = sb.clock.now()
        values = []
        for uid in role.members:
            user = t.users.get(uid)
            if user is not None:
                data = odata.project(
                    user.to_graph(now), req, "user", USER_PROPS, USER_DEFAULT_SELECT
                )
                values.append({"@odata.type": "#microsoft.graph.user", **data})
        return Response(
            body=odata.collection_body(
                sb.base_url, req, "directoryObjects", values, None, "members"
            )
        )

    def role_members(req: Request) -> Response:
        role = next((r for r in t.roles.values() if r.id == req.params["id"]), None)
        return role_members_by(role, req)

    def role_members_by_template(req: Request) -> Response:
        return role_members_by(t.roles.get(req.params["tid"]), req)

    def role_assignments(req: Request) -> Response:
        need(req, t, delegated=READ_ROLES, application=READ_ROLES)
        rows = [
            {
                "id": f"{r.template_id[:8]}-{uid}",
                "principalId": uid,
                "roleDefinitionId": r.template_id,
                "directoryScopeId": "/",
            }
            for r in t.roles.values()
            for uid in r.members
        ]
        pred = odata.parse_filter(req, "unifiedRoleAssignment", ("principalId", "roleDefinitionId"))
        values = [row for row in rows if pred is None or pred(row)]
        return Response(
            body=odata.collection_body(
                sb.base_url, req, "roleManagement/directory/roleAssignments", values, None, "ra"
            )
        )

    # -- recycle bin -------------------------------------------------------------------------

    def deleted_items_without_cast(req: Request) -> Response:
        raise GraphHttpError(
            400,
            "Request_BadRequest",
            "Calling /directory/deletedItems without a type cast is not supported. "
            "Use e.g. /directory/deletedItems/microsoft.graph.user.",
        )

    def list_deleted_users(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        odata.reject_unsupported(req)
        top = odata.page_size(req)
        count = odata.wants_count(req)
        now = sb.clock.now()
        items, nxt = t.deleted_users.page(odata.decode_skiptoken(req, "deleted"), top)
        values = [
            odata.project(u.to_graph(now), req, "user", USER_PROPS, USER_DEFAULT_SELECT)
            for u in items
        ]
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

    def get_deleted(req: Request) -> Response:
        need(req, t, delegated=READ_USERS, application=READ_USERS)
        user = t.deleted_users.get(req.params["id"])
        if user is None:
            raise not_found(req.params["id"])
        return Response(body=odata.project(user.to_graph(sb.clock.now()), req, "user", USER_PROPS))

    def purge(req: Request) -> Response:
        need(
            req,
            t,
            delegated=DELETE_USER_DELEGATED,
            application=("User.DeleteRestore.All",),
            roles=(USER_ADMIN, GLOBAL_ADMIN, PRIV_AUTH_ADMIN),
        )
        key = req.params["id"]
        if t.deleted_users.remove(key) is not None:
            sb.recorder.event(sb.clock.now(), "user-purged", id=key)
        elif t.deleted_applications.remove(key) is not None:
            sb.recorder.event(sb.clock.now(), "application-purged", id=key)
        else:
            raise not_found(key)
        return Response(status=204)

    # -- organization and directory sync ------------------------------------------------------

    def org_json() -> dict[str, Any]:
        o = t.org
        domains = [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": not o.custom_domains,
                "isInitial": True,
                "name": o.initial_domain,
                "type": "Managed",
            }
        ]
        domains += [
            {
                "capabilities": "Email",
                "isDefault": True,
                "isInitial": False,
                "name": d,
                "type": "Federated" if o.sync_enabled else "Managed",
            }
            for d in o.custom_domains
        ]
        sync: bool | None = (
            True if o.sync_enabled else (False if o.sync_disabled_at is not None else None)
        )
        return {
            "id": o.id,
            "displayName": o.display_name,
            "countryLetterCode": o.country,
            "createdDateTime": o.created,
            "tenantType": "AAD",
            "verifiedDomains": domains,
            "onPremisesSyncEnabled": sync,
            "onPremisesLastSyncDateTime": iso(sb.clock.at(-3600))
            if (o.sync_enabled or o.sync_disabled_at is not None)
            else None,
        }

    org_props = (
        "id",
        "displayName",
        "countryLetterCode",
        "createdDateTime",
        "tenantType",
        "verifiedDomains",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
    )

    def list_org(req: Request) -> Response:
        need(req, t, delegated=READ_ORG, application=READ_ORG)
        values = [odata.project(org_json(), req, "organization", org_props)]
        return Response(
            body=odata.collection_body(sb.base_url, req, "organization", values, None, "org")
        )

    def get_org(req: Request) -> Response:
        need(req, t, delegated=READ_ORG, application=READ_ORG)
        if req.params["id"] != t.org.id:
            raise not_found(req.params["id"])
        return Response(body=odata.project(org_json(), req, "organization", org_props))

    def patch_org(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("Organization.ReadWrite.All",),
            application=("Organization.ReadWrite.All",),
            roles=(GLOBAL_ADMIN, HYBRID_ADMIN),
        )
        if req.params["id"] != t.org.id:
            raise not_found(req.params["id"])
        body = req.json()
        o = t.org
        now = sb.clock.now()
        for key, value in body.items():
            if key != "onPremisesSyncEnabled" or not isinstance(value, bool):
                raise GraphHttpError(
                    400,
                    "Request_BadRequest",
                    f"Property '{key}' is read-only or not supported here.",
                )
            if value is False and o.sync_enabled:
                o.sync_enabled = False
                o.sync_disabled_at = now
                duration = sb.sync_duration()
                rng = random.Random(sb.config.seed * 31 + 17)
                for user in t.users.values():
                    if user.synced:
                        user.synced_until = now + duration * (0.2 + 0.8 * rng.random())
                sb.recorder.event(now, "sync-disabled", duration=duration)
            elif value is True and not o.sync_enabled:
                if o.sync_disabled_at is not None and now < o.sync_disabled_at + 72 * 3600:
                    raise GraphHttpError(
                        400,
                        "Request_BadRequest",
                        "Directory synchronization is being turned off. It can't be turned back on "
                        "until that has finished and 72 hours have passed.",
                    )
                o.sync_enabled = True
                o.sync_disabled_at = None
                o.sync_done_at = None
                for user in t.users.values():
                    user.synced_until = None
        return Response(status=204)

    for v in ("/v1.0", "/beta"):
        r = sb.graph
        r.add("GET", f"{v}/users", list_users)
        r.add("GET", f"{v}/users/$count", count_users)
        r.add("GET", f"{v}/users/{{id}}", get_user)
        r.add("DELETE", f"{v}/users/{{id}}", delete_user)
        r.add("PATCH", f"{v}/users/{{id}}", patch_user)
        r.add("GET", f"{v}/me", me)
        r.add("GET", f"{v}/me/transitiveMemberOf/microsoft.graph.directoryRole", my_roles)
        r.add("GET", f"{v}/me/memberOf/microsoft.graph.directoryRole", my_roles)
        r.add(
            "GET", f"{v}/users/{{id}}/transitiveMemberOf/microsoft.graph.directoryRole", user_roles
        )
        r.add("GET", f"{v}/users/{{id}}/memberOf/microsoft.graph.directoryRole", user_roles)
        r.add("GET", f"{v}/directoryRoles", list_roles)
        r.add("GET", f"{v}/directoryRoles/roleTemplateId={{tid}}/members", role_members_by_template)
        r.add(
            "GET", f"{v}/directoryRoles(roleTemplateId='{{tid}}')/members", role_members_by_template
        )
        r.add("GET", f"{v}/directoryRoles/{{id}}/members", role_members)
        r.add("GET", f"{v}/roleManagement/directory/roleAssignments", role_assignments)
        r.add("GET", f"{v}/directory/deletedItems", deleted_items_without_cast)
        r.add("GET", f"{v}/directory/deletedItems/microsoft.graph.user", list_deleted_users)
        r.add("GET", f"{v}/directory/deletedItems/{{id}}", get_deleted)
        r.add("DELETE", f"{v}/directory/deletedItems/{{id}}", purge)
        r.add("GET", f"{v}/organization", list_org)
        r.add("GET", f"{v}/organization/{{id}}", get_org)
        r.add("PATCH", f"{v}/organization/{{id}}", patch_org)
