"""The parts of a seeded tenant that :func:`.seed.build_tenant` adds after its users: SKUs,
subscriptions in every lifecycle state, a self-service product, closeout's own app,
app registrations and service principals, and the MFA policies; and the seeded ids and
creation times they all use.
"""

from __future__ import annotations

import random
import uuid

from .config import SandboxConfig
from .seed_lists import MICROSOFT_SERVICES_TENANT, PARTNER_TENANT, SKUS, VIRAL_SKU
from .tenant import (
    GLOBAL_ADMIN,
    GRAPH_APP_ID,
    GRAPH_CLI_APP_ID,
    OWN_APP_ID,
    USER_ADMIN,
    Application,
    ConditionalAccessPolicy,
    ServicePrincipal,
    Sku,
    Subscription,
    Tenant,
)

DAY = 86400.0


def seeded_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seeded_created(rng: random.Random) -> str:
    year = rng.choice([2019, 2020, 2021, 2022, 2023])
    return (
        f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(7, 17):02d}:00:00Z"
    )


def seed_skus(tenant: Tenant) -> None:
    for sku_id, part, plans in SKUS:
        tenant.skus[sku_id] = Sku(sku_id=sku_id, sku_part_number=part, service_plans=plans)


def seed_subscriptions(tenant: Tenant, rng: random.Random) -> None:
    def add(
        sku_id: str,
        status: str,
        *,
        trial: bool = False,
        licenses: int = 25,
        next_days: float | None = 200.0,
        partner: bool = False,
        self_service: bool = False,
    ) -> None:
        sub = Subscription(
            id=seeded_id(rng),
            commerce_subscription_id=seeded_id(rng),
            sku_id=sku_id,
            status=status,
            is_trial=trial,
            total_licenses=licenses,
            created=seeded_created(rng),
            next_lifecycle=None if next_days is None else next_days * DAY,
            owner_tenant_id=PARTNER_TENANT if partner else None,
            owner_id=PARTNER_TENANT if partner else None,
            owner_type="Company" if partner else None,
            self_service=self_service,
        )
        tenant.subscriptions.add(sub.id, sub)

    add("05e9a617-0261-4cee-bb44-138d3ef5d965", "Enabled", licenses=25)
    add("f245ecc8-75af-4f8e-b61f-27d8114de5f3", "Enabled", licenses=20, partner=True)
    add("f8a1db68-be16-40ed-86d5-cb42ce701560", "Enabled", trial=True, licenses=25, next_days=21)
    add("efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "Warning", licenses=10, next_days=12)
    add("6fd2c87f-b296-42f0-b197-1e91e994b900", "Suspended", licenses=5, next_days=60)
    add(
        "f30db892-07e9-47e9-837c-80727f46fd3d",
        "Deleted",
        licenses=10000,
        next_days=None,
        self_service=True,
    )


def seed_viral_product(tenant: Tenant, rng: random.Random) -> None:
    """A user's free Power BI sign-up: enabled, huge seat count, owned by nobody in billing."""
    sku_id, part, plans = VIRAL_SKU
    tenant.skus[sku_id] = Sku(sku_id=sku_id, sku_part_number=part, service_plans=plans)
    sub = Subscription(
        id=seeded_id(rng),
        commerce_subscription_id=seeded_id(rng),
        sku_id=sku_id,
        status="Enabled",
        is_trial=False,
        total_licenses=1000000,
        created=seeded_created(rng),
        next_lifecycle=None,
        self_service=True,
    )
    tenant.subscriptions.add(sub.id, sub)


def seed_own_app(tenant: Tenant) -> None:
    """The app registration closeout signs in with, and its service principal (fixed ids)."""
    ns = uuid.UUID(tenant.org.id)
    app = Application(
        id=str(uuid.uuid5(ns, "own-app")),
        app_id=OWN_APP_ID,
        display_name="closeout (sign-in app)",
        created="2024-05-02T09:00:00Z",
        owners=[tenant.admin_id],  # the admin registered it for closeout
    )
    tenant.applications.add(app.id, app)
    sp = ServicePrincipal(
        id=str(uuid.uuid5(ns, "own-app-sp")),
        app_id=OWN_APP_ID,
        display_name=app.display_name,
        app_owner_organization_id=tenant.org.id,
    )
    tenant.service_principals.add(sp.id, sp)


def _app_owners(tenant: Tenant) -> list[str]:
    """Plain cloud members, in seed order: whoever registers an app owns it (users can register
    applications by default). Chosen without the seed's random stream, so that every seed
    still makes the tenant it always made."""
    return [
        u.id
        for u in tenant.users.values()
        if u.user_type == "Member"
        and not u.synced
        and u.id != tenant.admin_id
        and not tenant.roles_of(u.id)
    ]


def seed_apps(tenant: Tenant, config: SandboxConfig, rng: random.Random) -> None:
    names = [
        "Payroll connector",
        "Intranet SSO",
        "Backup agent",
        "CRM sync",
        "Signage",
        "HR portal",
    ]
    developers = _app_owners(tenant)
    for i in range(config.applications):
        app_id = seeded_id(rng)
        app = Application(
            id=seeded_id(rng),
            app_id=app_id,
            display_name=names[i % len(names)],
            created=seeded_created(rng),
            owners=[developers[(2 * i + 1) % len(developers)]] if developers else [],
        )
        tenant.applications.add(app.id, app)
        sp = ServicePrincipal(
            id=seeded_id(rng),
            app_id=app_id,
            display_name=app.display_name,
            app_owner_organization_id=tenant.org.id,
            delete_behaviour="dependency" if i == 0 else "ok",
        )
        tenant.service_principals.add(sp.id, sp)
    vendors = ["Zoom", "Slack", "DocuSign", "Adobe Sign", "Salesforce"]
    for i in range(config.third_party_service_principals):
        sp = ServicePrincipal(
            id=seeded_id(rng),
            app_id=seeded_id(rng),
            display_name=vendors[i % len(vendors)],
            app_owner_organization_id=seeded_id(rng),
            delete_behaviour="refuse" if i == 1 else "ok",
        )
        tenant.service_principals.add(sp.id, sp)
    first_party = [
        "Microsoft Graph",
        "Office 365 Exchange Online",
        "Office 365 SharePoint Online",
        "Microsoft Teams",
        "Azure Portal",
        "Microsoft Intune",
        "Power BI Service",
        "Microsoft Forms",
        "Microsoft Graph Command Line Tools",
        "Windows Azure Active Directory",
        "Microsoft Office 365 Portal",
        "Office 365 Management APIs",
    ]
    well_known = {
        "Microsoft Graph": GRAPH_APP_ID,
        "Microsoft Graph Command Line Tools": GRAPH_CLI_APP_ID,
    }
    for i in range(config.microsoft_service_principals):
        name = first_party[i % len(first_party)]
        sp_id, drawn_app_id = (
            seeded_id(rng),
            seeded_id(rng),
        )  # drawn either way: same seed, same ids
        sp = ServicePrincipal(
            id=sp_id,
            app_id=well_known.get(name, drawn_app_id) if i < len(first_party) else drawn_app_id,
            display_name=name,
            app_owner_organization_id=MICROSOFT_SERVICES_TENANT,
            delete_behaviour="refuse" if i % 3 == 0 else "ok",
        )
        tenant.service_principals.add(sp.id, sp)
    if config.own_app:
        seed_own_app(tenant)


def seed_policies(tenant: Tenant, config: SandboxConfig, rng: random.Random) -> None:
    if config.security_defaults:
        tenant.security_defaults_enabled = True
        return
    policies = [
        (
            "Require MFA for administrators",
            "enabled",
            ["mfa"],
            [],
            [GLOBAL_ADMIN, USER_ADMIN],
            None,
        ),
        (
            "Require MFA for all users",
            "enabledForReportingButNotEnforced",
            ["mfa"],
            ["All"],
            [],
            None,
        ),
        (
            "Phishing-resistant MFA for admins",
            "enabled",
            [],
            [],
            [GLOBAL_ADMIN],
            "Phishing-resistant MFA",
        ),
        ("Block legacy authentication", "enabled", ["block"], ["All"], [], None),
        ("Compliant devices (pilot)", "disabled", ["compliantDevice"], ["All"], [], None),
    ]
    for name, state, controls, users, roles, strength in policies:
        pol = ConditionalAccessPolicy(
            id=seeded_id(rng),
            display_name=name,
            state=state,
            built_in_controls=controls,
            include_users=users,
            include_roles=roles,
            authentication_strength=strength,
        )
        tenant.ca_policies.add(pol.id, pol)
