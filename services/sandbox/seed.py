"""Deterministic tenants: the same config and seed always give the same objects and ids.

A seeded tenant has what a real small business tenant has when it is closed: members, guests,
admins in roles, users synced from on-premises AD, licences with mailboxes, subscriptions in
every lifecycle state (one bought through a partner, trials), per-user MFA, Conditional Access,
app registrations, Microsoft and third-party service principals, and a few deleted users.
"""

from __future__ import annotations

import random
import uuid

from .config import SandboxConfig
from .tenant import (
    AUTH_POLICY_ADMIN,
    BILLING_ADMIN,
    GLOBAL_ADMIN,
    GRAPH_APP_ID,
    GRAPH_CLI_APP_ID,
    OWN_APP_ID,
    ROLE_TEMPLATES,
    USER_ADMIN,
    Application,
    ConditionalAccessPolicy,
    DirectoryRole,
    ManualBlocker,
    Organization,
    ServicePrincipal,
    Sku,
    Subscription,
    Tenant,
    User,
)

MICROSOFT_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
PARTNER_TENANT = "5b7f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

_COMPANIES = ["Fabrikam", "Contoso", "Northwind", "Tailspin", "Litware", "Adatum", "Wingtip"]
_GIVEN = [
    "Anna",
    "Erik",
    "Maja",
    "Lars",
    "Sara",
    "Johan",
    "Elin",
    "Karl",
    "Emma",
    "Nils",
    "Ida",
    "Olof",
    "Linnea",
    "Per",
    "Astrid",
    "Gustav",
    "Frida",
    "Axel",
    "Klara",
    "Oskar",
    "Alice",
    "Hugo",
    "Ebba",
    "Leo",
    "Saga",
    "Viktor",
    "Tilda",
    "Arvid",
    "Signe",
    "Emil",
]
_SURNAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Holm",
    "Berg",
    "Lund",
    "Sjöberg",
    "Åkesson",
    "Öberg",
]
_DEPARTMENTS = ["Sales", "Finance", "Engineering", "Support", "Marketing", "Operations", "HR"]

# (skuId, skuPartNumber, [(servicePlanId, servicePlanName)])
_SKUS = [
    (
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "SPE_E3",
        [
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
            ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION"),
        ],
    ),
    (
        "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
        "O365_BUSINESS_PREMIUM",
        [
            ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD"),
            ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SHAREPOINTSTANDARD"),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
        ],
    ),
    (
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
        "POWER_BI_PRO",
        [("70d33638-9c74-4d01-bfd3-562de28bd4ba", "BI_AZURE_P2")],
    ),
    (
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        "EMS",
        [("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM")],
    ),
    (
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "ENTERPRISEPACK",
        [
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
        ],
    ),
    (
        "f30db892-07e9-47e9-837c-80727f46fd3d",
        "FLOW_FREE",
        [("50e68c76-46c6-4674-81f9-75456511b170", "FLOW_P2_VIRAL")],
    ),
]
# Free Power BI: a self-service sign-up product (viral_enabled seeds it enabled).
_VIRAL_SKU = (
    "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235",
    "POWER_BI_STANDARD",
    [("2049e525-b859-401b-b2a0-e0a31c4b1fe4", "BI_AZURE_P0")],
)

_DAY = 86400.0
# The portal's checks no API can clear, as the portal words them (a replica has them all too).
MANUAL_BLOCKERS = (
    ("invoices", "An invoice is unpaid (Billing > Bills & payments)."),
    ("self-service", "A self-service sign-up product is active (Power Automate Free)."),
    ("azure", "An Azure subscription is associated with the directory."),
    ("mfa-providers", "Directory has one or more Multi-Factor Authentication providers."),
    ("partners", "A partner holds delegated admin roles in the directory."),
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _created(rng: random.Random) -> str:
    year = rng.choice([2019, 2020, 2021, 2022, 2023])
    return (
        f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(7, 17):02d}:00:00Z"
    )


def build_tenant(config: SandboxConfig) -> Tenant:
    """Create the tenant described by ``config``; deterministic for a given seed."""
    rng = random.Random(config.seed)
    company = config.tenant_name or _COMPANIES[config.seed % len(_COMPANIES)]
    slug = "".join(ch for ch in company.lower() if ch.isalnum()) or "sandbox"
    domain = f"{slug}{config.seed}.onmicrosoft.com"
    org = Organization(
        id=_uuid(rng),
        display_name=f"{company} (sandbox)",
        initial_domain=domain,
        custom_domains=[f"{slug}.example"],
        sync_enabled=config.synced_fraction > 0,
    )
    tenant = Tenant(org=org)
    for template in ROLE_TEMPLATES:
        tenant.roles[template] = DirectoryRole(id=_uuid(rng), template_id=template)

    _seed_skus(tenant)
    sku_weights = (
        ["05e9a617-0261-4cee-bb44-138d3ef5d965"] * 6
        + ["f245ecc8-75af-4f8e-b61f-27d8114de5f3"] * 3
        + ["f8a1db68-be16-40ed-86d5-cb42ce701560"]
    )

    admin = User(
        id=_uuid(rng),
        user_principal_name=f"admin@{domain}",
        display_name="Closing Admin",
        given_name="Closing",
        surname="Admin",
        job_title="IT administrator",
        department="IT",
        assigned_licenses=["05e9a617-0261-4cee-bb44-138d3ef5d965"],
        mfa_state="enforced",
        created="2019-06-01T10:05:00Z",
    )
    tenant.users.add(admin.id, admin)
    tenant.admin_id = admin.id
    for template in config.admin_roles:
        tenant.roles[template].members.append(admin.id)

    name_counts: dict[str, int] = {"admin": 1}
    n_others = max(0, config.users - 1)
    n_guests = int(n_others * config.guest_fraction)
    admin_roles_cycle = [GLOBAL_ADMIN, USER_ADMIN, BILLING_ADMIN, AUTH_POLICY_ADMIN]
    for i in range(n_others):
        given = rng.choice(_GIVEN)
        surname = rng.choice(_SURNAMES)
        is_guest = i >= n_others - n_guests
        base = f"{given}.{surname}".lower().translate(str.maketrans("åäöé", "aaoe"))
        seen = name_counts.get(base, 0) + 1
        name_counts[base] = seen
        if seen > 1:
            base = f"{base}{seen}"
        if is_guest:
            ext = rng.choice(["gmail.com", "outlook.com", "partner.example", "supplier.example"])
            upn = f"{base}_{ext}#EXT#@{domain}"
        else:
            upn = f"{base}@{domain}"
        user = User(
            id=_uuid(rng),
            user_principal_name=upn,
            display_name=f"{given} {surname}" + (" (guest)" if is_guest else ""),
            given_name=given,
            surname=surname,
            user_type="Guest" if is_guest else "Member",
            account_enabled=rng.random() > 0.05,
            synced=(not is_guest) and rng.random() < config.synced_fraction,
            job_title=None
            if is_guest
            else rng.choice(["Consultant", "Manager", "Engineer", "Analyst"]),
            department=None if is_guest else rng.choice(_DEPARTMENTS),
            created=_created(rng),
        )
        if not is_guest and rng.random() < 0.85:
            user.assigned_licenses.append(rng.choice(sku_weights))
        roll = rng.random()
        user.mfa_state = "enforced" if roll < 0.25 else "enabled" if roll < 0.35 else "disabled"
        tenant.users.add(user.id, user)
        if not is_guest and i < config.admin_count:
            # The first role holders are cloud-only, as admin accounts should be.
            user.synced = False
            tenant.roles[admin_roles_cycle[i % len(admin_roles_cycle)]].members.append(user.id)

    n_deleted = config.deleted_users if config.deleted_users is not None else config.users // 50
    for _ in range(n_deleted):
        given, surname = rng.choice(_GIVEN), rng.choice(_SURNAMES)
        uid = _uuid(rng)
        gone = User(
            id=uid,
            user_principal_name=f"{uid.replace('-', '')}{given.lower()}.{surname.lower()}@{domain}",
            display_name=f"{given} {surname}",
            given_name=given,
            surname=surname,
            created=_created(rng),
            deleted_at="2024-02-01T12:00:00Z",
            deleted_sim=-5 * _DAY,
        )
        tenant.deleted_users.add(uid, gone)

    if config.subscriptions == "standard":
        _seed_subscriptions(tenant, rng)
    if config.viral_enabled:
        _seed_viral_product(tenant, rng)
    _seed_apps(tenant, config, rng)
    _seed_policies(tenant, config, rng)
    if config.manual_blockers:
        for key, text in MANUAL_BLOCKERS:
            tenant.manual_blockers[key] = ManualBlocker(key=key, description=text)
    if config.hostile_names:
        _rename_hostile(tenant, domain)
    return tenant


# Names a tenant's users can give themselves, their apps and (as admins) policies: terminal
# escapes (clear screen, window title, OSC 52 clipboard, OSC 8 link), BEL and NUL, C1
# controls (U+009B is a one-byte CSI), bidi overrides and isolates, a lone surrogate, Rich
# markup, spreadsheet formulas; and two harmless non-Latin names that must stay as they are.
HOSTILE_USERS = (
    ("\x1b[2J\x1b[3J\x1b[HScreen Wiper", "\x1b[2Jwiper"),
    ("\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07Clipboard Writer", "clip\x1b]52;c;Zm9v\x07board"),
    (
        "\x1b]8;;https://evil.example/\x1b\\Click Me\x1b]8;;\x1b\\",
        '=HYPERLINK("https://evil.example")',
    ),
    ("Bell\x07Ringer\x00", "+bell\x07\x00"),
    ("\x9b2J\x9d0;title\x9cC1 Controls", "-c1\x9b2J"),
    ("Invoice \u202egpj.exe\u202c \u2066Admin\u2069", "@bidi\u202eexe"),
    ("[red]x[/] [bold", "[red]markup[/]"),
    ("Lone \ud83d Surrogate\u2028Next line", "lone\ud83d"),
    ("Åsa Öberg", "åsa.öberg"),
    ("山田 太郎", "山田.太郎"),
)
HOSTILE_APP = "\x1b]0;pwned\x07\x1b[2JEvil App \u202etxt.exe"
HOSTILE_SERVICE_PRINCIPAL = "\x1b]8;;https://evil.example/\x1b\\Zoom\x1b]8;;\x1b\\\x9b2J"
HOSTILE_POLICY = "=Require MFA \x07\x1b[2J\u2066for admins\u2069\x9b"
HOSTILE_ORGANIZATION = "\x1b]0;owned\x07Fabrikam \u202e(sandbox)"
HOSTILE_SKU = "EMS\x1b[2J\x07"
HOSTILE_DELETED_USER = "\x1b[2Jpurged\x9b"


def _rename_hostile(tenant: Tenant, domain: str) -> None:
    """Rename seeded objects (ids and the random sequence stay as without the option)."""
    tenant.org.display_name = HOSTILE_ORGANIZATION
    plain = [
        u
        for u in tenant.users.values()
        if u.id != tenant.admin_id and not tenant.roles_of(u.id) and u.user_type == "Member"
    ]
    for user, (name, local) in zip(plain, HOSTILE_USERS, strict=False):
        user.display_name = name
        user.user_principal_name = f"{local}@{domain}"
    for gone in list(tenant.deleted_users.values())[:1]:
        gone.user_principal_name = f"{HOSTILE_DELETED_USER}@{domain}"
    first_app = next(iter(tenant.applications.values()), None)
    if first_app is not None:
        first_app.display_name = HOSTILE_APP
    third_party = [
        sp
        for sp in tenant.service_principals.values()
        if sp.app_owner_organization_id not in (tenant.org.id, MICROSOFT_SERVICES_TENANT)
    ]
    if third_party:
        third_party[0].display_name = HOSTILE_SERVICE_PRINCIPAL
    first_policy = next(iter(tenant.ca_policies.values()), None)
    if first_policy is not None:
        first_policy.display_name = HOSTILE_POLICY
    ems = tenant.skus.get("efccb6f7-5641-4e0e-bd10-b4976e1bf68e")
    if ems is not None:
        ems.sku_part_number = HOSTILE_SKU


def _seed_skus(tenant: Tenant) -> None:
    for sku_id, part, plans in _SKUS:
        tenant.skus[sku_id] = Sku(sku_id=sku_id, sku_part_number=part, service_plans=plans)


def _seed_subscriptions(tenant: Tenant, rng: random.Random) -> None:
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
            id=_uuid(rng),
            commerce_subscription_id=_uuid(rng),
            sku_id=sku_id,
            status=status,
            is_trial=trial,
            total_licenses=licenses,
            created=_created(rng),
            next_lifecycle=None if next_days is None else next_days * _DAY,
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


def _seed_viral_product(tenant: Tenant, rng: random.Random) -> None:
    """A user's free Power BI sign-up: enabled, huge seat count, owned by nobody in billing."""
    sku_id, part, plans = _VIRAL_SKU
    tenant.skus[sku_id] = Sku(sku_id=sku_id, sku_part_number=part, service_plans=plans)
    sub = Subscription(
        id=_uuid(rng),
        commerce_subscription_id=_uuid(rng),
        sku_id=sku_id,
        status="Enabled",
        is_trial=False,
        total_licenses=1000000,
        created=_created(rng),
        next_lifecycle=None,
        self_service=True,
    )
    tenant.subscriptions.add(sub.id, sub)


def _seed_own_app(tenant: Tenant) -> None:
    """The app registration closeout signs in with, and its service principal (fixed ids)."""
    ns = uuid.UUID(tenant.org.id)
    app = Application(
        id=str(uuid.uuid5(ns, "own-app")),
        app_id=OWN_APP_ID,
        display_name="closeout (sign-in app)",
        created="2024-05-02T09:00:00Z",
    )
    tenant.applications.add(app.id, app)
    sp = ServicePrincipal(
        id=str(uuid.uuid5(ns, "own-app-sp")),
        app_id=OWN_APP_ID,
        display_name=app.display_name,
        app_owner_organization_id=tenant.org.id,
    )
    tenant.service_principals.add(sp.id, sp)


def _seed_apps(tenant: Tenant, config: SandboxConfig, rng: random.Random) -> None:
    names = [
        "Payroll connector",
        "Intranet SSO",
        "Backup agent",
        "CRM sync",
        "Signage",
        "HR portal",
    ]
    for i in range(config.applications):
        app_id = _uuid(rng)
        app = Application(
            id=_uuid(rng), app_id=app_id, display_name=names[i % len(names)], created=_created(rng)
        )
        tenant.applications.add(app.id, app)
        sp = ServicePrincipal(
            id=_uuid(rng),
            app_id=app_id,
            display_name=app.display_name,
            app_owner_organization_id=tenant.org.id,
            delete_behaviour="dependency" if i == 0 else "ok",
        )
        tenant.service_principals.add(sp.id, sp)
    vendors = ["Zoom", "Slack", "DocuSign", "Adobe Sign", "Salesforce"]
    for i in range(config.third_party_service_principals):
        sp = ServicePrincipal(
            id=_uuid(rng),
            app_id=_uuid(rng),
            display_name=vendors[i % len(vendors)],
            app_owner_organization_id=_uuid(rng),
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
        sp_id, drawn_app_id = _uuid(rng), _uuid(rng)  # drawn either way: same seed, same ids
        sp = ServicePrincipal(
            id=sp_id,
            app_id=well_known.get(name, drawn_app_id) if i < len(first_party) else drawn_app_id,
            display_name=name,
            app_owner_organization_id=MICROSOFT_SERVICES_TENANT,
            delete_behaviour="refuse" if i % 3 == 0 else "ok",
        )
        tenant.service_principals.add(sp.id, sp)
    if config.own_app:
        _seed_own_app(tenant)


def _seed_policies(tenant: Tenant, config: SandboxConfig, rng: random.Random) -> None:
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
            id=_uuid(rng),
            display_name=name,
            state=state,
            built_in_controls=controls,
            include_users=users,
            include_roles=roles,
            authentication_strength=strength,
        )
        tenant.ca_policies.add(pol.id, pol)
