"""Graph routes for subscriptions and SKUs (read-only, as in Graph), per-user MFA (beta only),
security defaults, Conditional Access, applications and service principals (graph-api.md §3–6)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from . import odata
from .authz import READ_APPS, READ_ORG, READ_POLICY, WRITE_APPS, need
from .clock import iso
from .http import GraphHttpError, Request, Response
from .routes_users import not_found
from .tenant import (
    AUTH_POLICY_ADMIN,
    CA_ADMIN,
    GLOBAL_ADMIN,
    PRIV_AUTH_ADMIN,
    SECURITY_ADMIN,
    Application,
    ServicePrincipal,
    Subscription,
)

if TYPE_CHECKING:
    from .core import Sandbox

MFA_STATES = ("disabled", "enabled", "enforced")
APP_PROPS = ("id", "appId", "displayName", "createdDateTime", "signInAudience", "deletedDateTime")
SP_PROPS = (
    "id",
    "appId",
    "displayName",
    "appOwnerOrganizationId",
    "accountEnabled",
    "servicePrincipalType",
    "tags",
)
SUB_PROPS = (
    "id",
    "commerceSubscriptionId",
    "createdDateTime",
    "isTrial",
    "nextLifecycleDateTime",
    "ownerId",
    "ownerTenantId",
    "ownerType",
    "serviceStatus",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
)
_STATUS_RANK = ("Enabled", "Warning", "Suspended", "LockedOut", "Deleted")


def register(sb: Sandbox) -> None:
    t = sb.tenant

    # -- subscriptions (read-only in Graph) ---------------------------------------------------

    def sub_json(sub: Subscription) -> dict[str, Any]:
        sku = t.skus[sub.sku_id]
        plan_status = "Success" if sub.status in ("Enabled", "Warning") else "Disabled"
        return {
            "id": sub.id,
            "commerceSubscriptionId": sub.commerce_subscription_id,
            "createdDateTime": sub.created,
            "isTrial": sub.is_trial,
            "nextLifecycleDateTime": iso(sb.clock.at(sub.next_lifecycle))
            if sub.next_lifecycle is not None
            else None,
            "ownerId": sub.owner_id,
            "ownerTenantId": sub.owner_tenant_id,
            "ownerType": sub.owner_type,
            "serviceStatus": [
                {
                    "servicePlanId": pid,
                    "servicePlanName": name,
                    "provisioningStatus": plan_status,
                    "appliesTo": sku.applies_to,
                }
                for pid, name in sku.service_plans
            ],
            "skuId": sub.sku_id,
            "skuPartNumber": sku.sku_part_number,
            "status": sub.status,
            "totalLicenses": sub.total_licenses,
        }

    def list_subscriptions(req: Request) -> Response:
        need(req, t, delegated=READ_ORG, application=READ_ORG)
        odata.reject_unsupported(req)
        top = odata.page_size(req)
        items, nxt = t.subscriptions.page(odata.decode_skiptoken(req, "subs"), top)
        values = [odata.project(sub_json(s), req, "companySubscription", SUB_PROPS) for s in items]
        return Response(
            body=odata.collection_body(
                sb.base_url, req, "directory/subscriptions", values, nxt, "subs"
            )
        )

    def get_subscription(req: Request) -> Response:
        need(req, t, delegated=READ_ORG, application=READ_ORG)
        sub = t.subscriptions.get(req.params["id"])
        if sub is None:
            raise not_found(req.params["id"])
        return Response(body=odata.project(sub_json(sub), req, "companySubscription", SUB_PROPS))

    def subscribed_skus(req: Request) -> Response:
        need(req, t, delegated=READ_ORG, application=READ_ORG)
        if "$filter" in req.query:
            raise GraphHttpError(
                400, "Request_UnsupportedQuery", "Query filter expressions aren't supported."
            )
        by_sku: dict[str, list[Subscription]] = defaultdict(list)
        for sub in t.subscriptions.values():
            by_sku[sub.sku_id].append(sub)
        consumed: dict[str, int] = defaultdict(int)
        for user in t.users.values():
            for sku_id in user.assigned_licenses:
                consumed[sku_id] += 1
        values = []
        for sku_id, subs in by_sku.items():
            sku = t.skus[sku_id]
            status = min((s.status for s in subs), key=_STATUS_RANK.index)
            units = {
                k: sum(s.total_licenses for s in subs if s.status == st)
                for k, st in (
                    ("enabled", "Enabled"),
                    ("warning", "Warning"),
                    ("suspended", "Suspended"),
                    ("lockedOut", "LockedOut"),
                )
            }
            values.append(
                {
                    "accountId": t.org.id,
                    "accountName": t.org.display_name,
                    "appliesTo": sku.applies_to,
                    "capabilityStatus": status,
                    "consumedUnits": consumed.get(sku_id, 0),
                    "id": f"{t.org.id}_{sku_id}",
                    "prepaidUnits": units,
                    "servicePlans": [
                        {
                            "servicePlanId": pid,
                            "servicePlanName": name,
                            "provisioningStatus": "Success",
                            "appliesTo": sku.applies_to,
                        }
                        for pid, name in sku.service_plans
                    ],
                    "skuId": sku_id,
                    "skuPartNumber": sku.sku_part_number,
                    "subscriptionIds": [s.commerce_subscription_id for s in subs],
                }
            )
        return Response(
            body=odata.collection_body(sb.base_url, req, "subscribedSkus", values, None, "skus")
        )

    # -- per-user MFA (beta only) -------------------------------------------------------------

    def mfa_target(req: Request) -> Any:
        user = t.find_user(req.params["id"])
        if user is None:
            raise not_found(req.params["id"])
        return user

    def get_mfa(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"),
            application=("Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"),
            roles=(
                GLOBAL_ADMIN,
                AUTH_POLICY_ADMIN,
                PRIV_AUTH_ADMIN,
                "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
            ),
        )
        user = mfa_target(req)
        return Response(
            body={
                "@odata.context": f"https://graph.microsoft.com/beta/$metadata#users('{user.id}')/authentication/requirements",
                "perUserMfaState": user.mfa_state,
            }
        )

    def patch_mfa(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("Policy.ReadWrite.AuthenticationMethod",),
            application=("Policy.ReadWrite.AuthenticationMethod",),
            roles=(GLOBAL_ADMIN, AUTH_POLICY_ADMIN, PRIV_AUTH_ADMIN),
        )
        user = mfa_target(req)
        body = req.json()
        state = body.get("perUserMfaState")
        if state not in MFA_STATES or set(body) != {"perUserMfaState"}:
            raise GraphHttpError(400, "BadRequest", "Invalid value for perUserMfaState.")
        before = user.mfa_state
        user.mfa_state = state
        sb.recorder.event(sb.clock.now(), "mfa-changed", id=user.id, before=before, after=state)
        return Response(status=204)

    def mfa_on_v1(req: Request) -> Response:
        if req.in_batch:
            # BATCH: a beta-only API in a v1.0 $batch answers 405 Request_BadRequest.
            raise GraphHttpError(
                405,
                "Request_BadRequest",
                "The requested API is only available in the beta endpoint.",
            )
        raise GraphHttpError(
            400, "BadRequest", "Resource not found for the segment 'authentication'."
        )

    # -- security defaults and Conditional Access -------------------------------------------

    def secdef_json() -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity",
            "id": "00000000-0000-0000-0000-000000000005",
            "displayName": "Security Defaults",
            "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
            "isEnabled": t.security_defaults_enabled,
        }

    def get_secdef(req: Request) -> Response:
        need(req, t, delegated=READ_POLICY, application=READ_POLICY)
        return Response(body=secdef_json())

    def patch_secdef(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("Policy.ReadWrite.SecurityDefaults",),
            application=("Policy.ReadWrite.SecurityDefaults",),
            roles=(GLOBAL_ADMIN, SECURITY_ADMIN),
        )
        body = req.json()
        value = body.get("isEnabled")
        if not isinstance(value, bool):
            raise GraphHttpError(400, "BadRequest", "isEnabled must be true or false.")
        if value and any(p.state == "enabled" for p in t.ca_policies.values()):
            raise GraphHttpError(
                400,
                "BadRequest",
                "Security defaults can't be enabled while Conditional Access policies are enabled.",
            )
        t.security_defaults_enabled = value
        sb.recorder.event(sb.clock.now(), "security-defaults", enabled=value)
        return Response(status=204)

    def list_ca(req: Request) -> Response:
        need(req, t, delegated=READ_POLICY, application=READ_POLICY)
        values = [p.to_graph() for p in t.ca_policies.values()]
        return Response(
            body=odata.collection_body(
                sb.base_url, req, "identity/conditionalAccess/policies", values, None, "ca"
            )
        )

    def get_ca(req: Request) -> Response:
        need(req, t, delegated=READ_POLICY, application=READ_POLICY)
        pol = t.ca_policies.get(req.params["id"])
        if pol is None:
            raise not_found(req.params["id"])
        return Response(body=pol.to_graph())

    def patch_ca(req: Request) -> Response:
        need(
            req,
            t,
            delegated=("Policy.ReadWrite.ConditionalAccess",),
            application=("Policy.ReadWrite.ConditionalAccess",),
            roles=(GLOBAL_ADMIN, CA_ADMIN, SECURITY_ADMIN),
        )
        p = req.principal
        if p is not None and not p.has_permission(("Policy.Read.All",)):
            # CAUPD lists Policy.Read.All together with Policy.ReadWrite.ConditionalAccess.
            raise GraphHttpError(
                403,
                "AccessDenied",
                "You cannot perform the requested operation, required scopes are missing in the token.",
            )
        pol = t.ca_policies.get(req.params["id"])
        if pol is None:
            raise not_found(req.params["id"])
        body = req.json()
        state = body.get("state")
        if state not in ("enabled", "disabled", "enabledForReportingButNotEnforced") or set(
            body
        ) != {"state"}:
            raise GraphHttpError(
                400,
                "BadRequest",
                "Only 'state' can be changed here, to enabled, disabled or enabledForReportingButNotEnforced.",
            )
        pol.state = state
        pol.modified = iso(sb.clock.now_dt())
        sb.recorder.event(sb.clock.now(), "ca-policy-changed", id=pol.id, state=state)
        return Response(status=204)

    # -- applications and service principals -------------------------------------------------

    def app_json(app: Application) -> dict[str, Any]:
        return {
            "id": app.id,
            "appId": app.app_id,
            "displayName": app.display_name,
            "createdDateTime": app.created,
            "signInAudience": "AzureADMyOrg",
            "deletedDateTime": app.deleted_at,
        }

    def sp_json(sp: ServicePrincipal) -> dict[str, Any]:
        return {
            "id": sp.id,
            "appId": sp.app_id,
            "displayName": sp.display_name,
            "appOwnerOrganizationId": sp.app_owner_organization_id,
            "accountEnabled": sp.account_enabled,
            "servicePrincipalType": "Application",
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
        }

    def list_apps(req: Request) -> Response:
        need(req, t, delegated=READ_APPS, application=READ_APPS)
        odata.reject_unsupported(req)
        top = odata.page_size(req)
        count = odata.wants_count(req)
        items, nxt = t.applications.page(odata.decode_skiptoken(req, "apps"), top)
        values = [odata.project(app_json(a), req, "application", APP_PROPS) for a in items]
        return Response(
            body=odata.collection_body(
                sb.base_url,
                req,
                "applications",
                values,
                nxt,
                "apps",
                len(t.applications) if count else None,
            )
        )

    def count_apps(req: Request) -> Response:
        need(req, t, delegated=READ_APPS, application=READ_APPS)
        odata.require_eventual_for_count(req)
        return Response(body=str(len(t.applications)), content_type="text/plain")

    def list_deleted_apps(req: Request) -> Response:
        need(req, t, delegated=READ_APPS, application=READ_APPS)
        top = odata.page_size(req)
        items, nxt = t.deleted_applications.page(odata.decode_skiptoken(req, "dapps"), top)
        values = [odata.project(app_json(a), req, "application", APP_PROPS) for a in items]
        return Response(
            body=odata.collection_body(sb.base_url, req, "directoryObjects", values, nxt, "dapps")
        )

    def delete_app(req: Request) -> Response:
        need(req, t, delegated=WRITE_APPS, application=("Application.ReadWrite.All",))
        app = t.applications.remove(req.params["id"])
        if app is None:
            raise not_found(req.params["id"])
        app.deleted_at = iso(sb.clock.now_dt())
        t.deleted_applications.add(app.id, app)
        # Deleting an app registration also removes its service principal in the home tenant.
        for sp in t.service_principals.values():
            if sp.app_id == app.app_id and sp.app_owner_organization_id == t.org.id:
                t.service_principals.remove(sp.id)
        sb.recorder.event(sb.clock.now(), "application-deleted", id=app.id)
        return Response(status=204)

    def list_sps(req: Request) -> Response:
        need(req, t, delegated=READ_APPS, application=READ_APPS)
        odata.reject_unsupported(req)
        top = odata.page_size(req)
        items, nxt = t.service_principals.page(odata.decode_skiptoken(req, "sps"), top)
        values = [odata.project(sp_json(s), req, "servicePrincipal", SP_PROPS) for s in items]
        return Response(
            body=odata.collection_body(sb.base_url, req, "servicePrincipals", values, nxt, "sps")
        )

    def sp_or_404(key: str) -> ServicePrincipal:
        sp = t.service_principals.get(key)
        if sp is None:
            raise not_found(key)
        return sp

    def delete_sp(req: Request) -> Response:
        need(req, t, delegated=WRITE_APPS, application=("Application.ReadWrite.All",))
        sp = sp_or_404(req.params["id"])
        if sp.delete_behaviour == "refuse" or (
            sp.delete_behaviour == "dependency" and sp.failed_attempts < 1
        ):
            sp.failed_attempts += 1
            raise GraphHttpError(
                400,
                "Request_BadRequest",
                "The service principal can't be deleted because other objects depend on it."
                if sp.delete_behaviour == "dependency"
                else "The service principal can't be deleted: it is used by a Microsoft service.",
            )
        t.service_principals.remove(sp.id)
        sb.recorder.event(sb.clock.now(), "service-principal-deleted", id=sp.id)
        return Response(status=204)

    def patch_sp(req: Request) -> Response:
        need(req, t, delegated=WRITE_APPS, application=("Application.ReadWrite.All",))
        sp = sp_or_404(req.params["id"])
        body = req.json()
        if set(body) != {"accountEnabled"} or not isinstance(body["accountEnabled"], bool):
            raise GraphHttpError(
                400, "Request_BadRequest", "Only accountEnabled can be changed here."
            )
        sp.account_enabled = body["accountEnabled"]
        sb.recorder.event(
            sb.clock.now(), "service-principal-updated", id=sp.id, enabled=sp.account_enabled
        )
        return Response(status=204)

    r = sb.graph
    for v in ("/v1.0", "/beta"):
        r.add("GET", f"{v}/subscribedSkus", subscribed_skus)
        r.add("GET", f"{v}/directory/subscriptions", list_subscriptions)
        r.add("GET", f"{v}/directory/subscriptions/{{id}}", get_subscription)
        r.add("GET", f"{v}/policies/identitySecurityDefaultsEnforcementPolicy", get_secdef)
        r.add("PATCH", f"{v}/policies/identitySecurityDefaultsEnforcementPolicy", patch_secdef)
        r.add("GET", f"{v}/identity/conditionalAccess/policies", list_ca)
        r.add("GET", f"{v}/identity/conditionalAccess/policies/{{id}}", get_ca)
        r.add("PATCH", f"{v}/identity/conditionalAccess/policies/{{id}}", patch_ca)
        r.add("GET", f"{v}/applications", list_apps)
        r.add("GET", f"{v}/applications/$count", count_apps)
        r.add("DELETE", f"{v}/applications/{{id}}", delete_app)
        r.add("GET", f"{v}/directory/deletedItems/microsoft.graph.application", list_deleted_apps)
        r.add("GET", f"{v}/servicePrincipals", list_sps)
        r.add("DELETE", f"{v}/servicePrincipals/{{id}}", delete_sp)
        r.add("PATCH", f"{v}/servicePrincipals/{{id}}", patch_sp)
    r.add("GET", "/beta/users/{id}/authentication/requirements", get_mfa)
    r.add("PATCH", "/beta/users/{id}/authentication/requirements", patch_mfa)
    r.add("GET", "/v1.0/users/{id}/authentication/requirements", mfa_on_v1)
    r.add("PATCH", "/v1.0/users/{id}/authentication/requirements", mfa_on_v1)
