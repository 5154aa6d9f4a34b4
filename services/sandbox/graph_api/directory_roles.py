"""Graph's directory roles: who holds which role (``memberOf`` casts, role members, unified role
assignments), as graph-api.md §2 describes them. Read-only: the sandbox's roles change only when
their holders are deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.sandbox import odata
from services.sandbox.authz import READ_MY_MEMBERSHIPS, READ_ROLES, READ_USERS, need
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import DirectoryRole

from .objects import not_found, user_body, user_or_404
from .user_accounts import require_delegated

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox


def role_json(role: DirectoryRole) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": role.id,
        "deletedDateTime": None,
        "description": f"{role.display_name} role.",
        "displayName": role.display_name,
        "roleTemplateId": role.template_id,
    }


def _member_roles(sb: Sandbox, req: Request, user_id: str) -> Response:
    # MEMBEROF: ConsistencyLevel and $count "are required when using ... OData cast".
    if not (odata.is_eventual(req) and req.query.get("$count", "").lower() == "true"):
        raise GraphHttpError(
            400,
            "Request_UnsupportedQuery",
            "The specified type cast is only supported with ConsistencyLevel: eventual and $count=true.",
        )
    roles = [role_json(r) for r in sb.tenant.roles_of(user_id)]
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


def my_roles(sb: Sandbox, req: Request) -> Response:
    return _member_roles(sb, req, require_delegated(req, sb.tenant, READ_MY_MEMBERSHIPS))


def user_roles(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_USERS, application=READ_USERS)
    return _member_roles(sb, req, user_or_404(sb.tenant, req.params["id"]).id)


EXPAND_CAP = 20
"""Related items ``$expand`` returns on directory objects, with no nextLink (query-parameters)."""


def list_roles(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_ROLES, application=READ_ROLES)
    values = [role_json(r) for r in sb.tenant.roles.values()]
    expand = req.query.get("$expand", "")
    if expand and sb.config.role_expand == "refused":
        raise GraphHttpError(
            400,
            "Request_UnsupportedQuery",
            "Unsupported query: $expand is not supported on directoryRoles.",
        )
    if expand.split("(")[0].strip() == "members" and sb.config.role_expand == "capped":
        now = sb.clock.now()
        for value, role in zip(values, sb.tenant.roles.values(), strict=True):
            members = [sb.tenant.users.get(uid) for uid in role.members]
            value["members"] = [
                {"@odata.type": "#microsoft.graph.user", **user_body(user, req, now)}
                for user in members
                if user is not None
            ][:EXPAND_CAP]
    return Response(
        body=odata.collection_body(sb.base_url, req, "directoryRoles", values, None, "roles")
    )


def _role_members(sb: Sandbox, role: DirectoryRole | None, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_ROLES, application=READ_ROLES)
    if role is None:
        raise not_found(req.params.get("id") or req.params.get("tid", ""))
    now = sb.clock.now()
    values = []
    for uid in role.members:
        user = t.users.get(uid)
        if user is not None:
            values.append({"@odata.type": "#microsoft.graph.user", **user_body(user, req, now)})
    return Response(
        body=odata.collection_body(sb.base_url, req, "directoryObjects", values, None, "members")
    )


def role_members(sb: Sandbox, req: Request) -> Response:
    role = next((r for r in sb.tenant.roles.values() if r.id == req.params["id"]), None)
    return _role_members(sb, role, req)


def role_members_by_template(sb: Sandbox, req: Request) -> Response:
    return _role_members(sb, sb.tenant.roles.get(req.params["tid"]), req)


def role_assignments(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
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
