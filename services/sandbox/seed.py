"""Deterministic tenants: the same config and seed always give the same objects and ids.

A seeded tenant has what a real small business tenant has when it is closed: members, guests,
admins in roles, users synced from on-premises AD, licences with mailboxes, subscriptions in
every lifecycle state (one bought through a partner, trials), per-user MFA, Conditional Access,
app registrations, Microsoft and third-party service principals, and a few deleted users.

This module builds the organization, its users and roles; the names and SKUs it draws from
are in :mod:`.seed_lists`, the rest of the tenant is added by :mod:`.seed_parts`, and the
hostile names by :mod:`.seed_hostile`.
"""

from __future__ import annotations

import random
import uuid

from .config import SandboxConfig
from .seed_hostile import rename_hostile
from .seed_lists import COMPANIES, DEPARTMENTS, GIVEN, SURNAMES
from .seed_parts import (
    DAY,
    seed_apps,
    seed_policies,
    seed_skus,
    seed_subscriptions,
    seed_viral_product,
    seeded_created,
    seeded_id,
)
from .tenant import (
    AUTH_POLICY_ADMIN,
    BILLING_ADMIN,
    GLOBAL_ADMIN,
    LATER_ROLES,
    ROLE_TEMPLATES,
    USER_ADMIN,
    DirectoryRole,
    ManualBlocker,
    Organization,
    Tenant,
    User,
)

# The portal's checks no API can clear, as the portal words them (a replica has them all too).
MANUAL_BLOCKERS = (
    ("invoices", "An invoice is unpaid (Billing > Bills & payments)."),
    ("self-service", "A self-service sign-up product is active (Power Automate Free)."),
    ("azure", "An Azure subscription is associated with the directory."),
    ("mfa-providers", "Directory has one or more Multi-Factor Authentication providers."),
    ("partners", "A partner holds delegated admin roles in the directory."),
)


def build_tenant(config: SandboxConfig) -> Tenant:
    """Create the tenant described by ``config``; deterministic for a given seed."""
    rng = random.Random(config.seed)
    company = config.tenant_name or COMPANIES[config.seed % len(COMPANIES)]
    slug = "".join(ch for ch in company.lower() if ch.isalnum()) or "sandbox"
    domain = f"{slug}{config.seed}.onmicrosoft.com"
    org = Organization(
        id=seeded_id(rng),
        display_name=f"{company} (sandbox)",
        initial_domain=domain,
        custom_domains=[f"{slug}.example"],
        sync_enabled=config.synced_fraction > 0,
    )
    tenant = Tenant(org=org)
    for template in ROLE_TEMPLATES:
        role_id = (
            str(uuid.uuid5(uuid.UUID(org.id), template))
            if template in LATER_ROLES
            else seeded_id(rng)
        )
        tenant.roles[template] = DirectoryRole(id=role_id, template_id=template)

    seed_skus(tenant)
    sku_weights = (
        ["05e9a617-0261-4cee-bb44-138d3ef5d965"] * 6
        + ["f245ecc8-75af-4f8e-b61f-27d8114de5f3"] * 3
        + ["f8a1db68-be16-40ed-86d5-cb42ce701560"]
    )

    admin = User(
        id=seeded_id(rng),
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
        given = rng.choice(GIVEN)
        surname = rng.choice(SURNAMES)
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
            id=seeded_id(rng),
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
            department=None if is_guest else rng.choice(DEPARTMENTS),
            created=seeded_created(rng),
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
        given, surname = rng.choice(GIVEN), rng.choice(SURNAMES)
        uid = seeded_id(rng)
        gone = User(
            id=uid,
            user_principal_name=f"{uid.replace('-', '')}{given.lower()}.{surname.lower()}@{domain}",
            display_name=f"{given} {surname}",
            given_name=given,
            surname=surname,
            created=seeded_created(rng),
            deleted_at="2024-02-01T12:00:00Z",
            deleted_sim=-5 * DAY,
        )
        tenant.deleted_users.add(uid, gone)

    if config.subscriptions == "standard":
        seed_subscriptions(tenant, rng)
    if config.viral_enabled:
        seed_viral_product(tenant, rng)
    seed_apps(tenant, config, rng)
    seed_policies(tenant, config, rng)
    if config.manual_blockers:
        for key, text in MANUAL_BLOCKERS:
            tenant.manual_blockers[key] = ManualBlocker(key=key, description=text)
    if config.hostile_names:
        rename_hostile(tenant, domain)
    return tenant
