"""What a sandbox tenant looks like and how it behaves: size, seed, clock, limits, faults.

Defaults are Graph's documented numbers (graph-api.md §8); tests may shrink a quota to exercise
the same mechanism in seconds instead of minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from services.graph_limits import (
    APP_WRITE_QUOTA,
    CA_REQUESTS_PER_SECOND,
    TENANT_WRITE_QUOTA,
    WRITE_QUOTA,
)
from services.i18n import N_, _

from .tenant import GLOBAL_ADMIN


@dataclass(frozen=True)
class SandboxConfig:
    users: int = 300
    """Users in the tenant, the signed-in admin included."""
    seed: int = 1
    time_scale: float = 1.0
    """Simulated seconds per real second (3600: a 72-hour wait passes in 72 s)."""
    latency_ms: float = 0.0
    """Added to every top-level request, in real milliseconds."""
    faults: str = ""
    """Random faults, e.g. ``"5xx=0.02,429=0.01,drop=0.005,slow=0.01:1.5"`` (see faults.py)."""
    host: str = "127.0.0.1"
    port: int = 0

    # Throttling (TL): (requests, simulated seconds).
    write_quota: tuple[int, float] = WRITE_QUOTA
    """Identity writes per application and tenant."""
    tenant_write_quota: tuple[int, float] = TENANT_WRITE_QUOTA
    app_write_quota: tuple[int, float] = APP_WRITE_QUOTA
    write_limit: Literal["window", "bucket"] = "window"
    """How Graph's "token bucket" gives quota back (graph-api.md §8.2 leaves it open): a sliding
    window, or a full bucket refilled steadily (see throttle.py)."""
    ru_quota: int | None = None
    """Resource units per 10 s per app and tenant; None = by tenant size (3,500/5,000/8,000)."""
    ca_requests_per_second: float = CA_REQUESTS_PER_SECOND

    # Shape of the tenant.
    synced_fraction: float = 0.3
    """Share of members synced from on-premises AD; 0 means directory sync was never on."""
    guest_fraction: float = 0.1
    admin_count: int = 4
    """Role holders besides the signed-in admin (one of them a second Global Administrator)."""
    deleted_users: int | None = None
    """Users already in the recycle bin; None = 2 % of ``users``."""
    applications: int = 4
    third_party_service_principals: int = 3
    microsoft_service_principals: int = 12
    security_defaults: bool = False
    """Seed security defaults on (and no Conditional Access policies, which exclude them)."""
    subscriptions: Literal["standard", "none"] = "standard"
    manual_blockers: bool = True
    """Seed the checks no API can clear (unpaid invoice, self-service product, Azure)."""
    server_page_size: int | None = None
    """Serve at most this many items per page whatever ``$top`` asks: Graph treats ``$top``
    as an upper bound and may page smaller (Paging Microsoft Graph data). None: ``$top``."""
    hostile_names: bool = False
    """Give some objects names any tenant user could choose to attack the admin's terminal:
    escape sequences, C1 controls, bidi overrides, markup, spreadsheet formulas (seed.py)."""

    # Durations, in simulated hours.
    dirsync_hours: float | None = None
    """How long turning directory sync off takes; None = by object count, at most 72
    (``sync_conversion`` ``at-end``: 72)."""
    deprovision_hours: float = 72.0

    # Identity.
    admin_roles: tuple[str, ...] = (GLOBAL_ADMIN,)
    granted_scopes: frozenset[str] | None = None
    """Scopes the tenant has consented to; None = whatever the client asks for."""
    token_lifetime: float = 3600.0
    """Access-token lifetime in real seconds."""
    device_code_auto_approve: float | None = None
    """Approve device codes as the admin after this many real seconds (the demo's browser)."""
    tenant_name: str | None = None

    # Behaviour switches: how a request is answered where Graph or Entra may answer either
    # way (graph-api.md "UNCONFIRMED") or where a tenant's policies change the answer. One
    # field per switch, read as ``sb.config.<name>`` where it takes effect (a handler in
    # graph_api/ or identity/, the throttle, token checks); closeout must survive every setting.
    mfa_limit: Literal["identity", "reports"] = "identity"
    """Which documented limit governs per-user MFA calls (graph-api.md §5.1: unconfirmed)."""
    conditional_access_blocks_device_code: bool = False
    """A Conditional Access policy blocks the device code flow (AADSTS53003 on redemption)."""
    opaque_tokens: bool = False
    """Issue access tokens no client can read (encrypted, JWE-shaped), as Entra may: Microsoft
    says clients must treat access tokens as opaque. False: readable JWTs, as Graph's are today."""

    sync_flag: Literal["flips", "lags", "null"] = "flips"
    """What the organization's ``onPremisesSyncEnabled`` reads once turning directory sync off
    has begun. Microsoft documents no "pending" value (graph-api.md §2.2): ``false`` at once,
    ``true`` until every synced user is converted, or (undocumented) ``null``."""
    sync_conversion: Literal["spread", "at-end"] = "spread"
    """When each synced user becomes cloud-only once sync is turned off: at a moment spread over
    the turn-off's duration, or every one at its very end. Microsoft only says "up to 72 hours"
    (graph-api.md §2.2): ``at-end`` takes it at its word, every user at the 72nd hour exactly
    (or at ``dirsync_hours``, if set: above 72, later than Microsoft says)."""
    connect_still_running: bool = False
    """An Entra Connect server nobody stopped: 72 hours after sync was turned off it turns it
    back on, and the users it syncs that still exist read synced again (DIRSYNC's warning)."""
    subscription_owner: Literal["own-tenant", "none"] = "own-tenant"
    """``ownerTenantId`` of a directly bought subscription: the tenant's own id, as the docs'
    example shows (graph-api.md §3.1, CSUB), or null. Partner-bought ones carry the partner's."""
    own_app: bool = False
    """The app closeout signs in with is registered in the tenant (an app registration and its
    service principal) and issued tokens carry its app id. Deleting either invalidates those
    tokens at once and later sign-ins fail with AADSTS700016, as Entra does. Off: tokens come
    from Microsoft's public client, whose service principal is Microsoft's."""
    sp_soft_delete: bool = True
    """Deleting a service principal (or the app registration it belongs to) moves it to the
    recycle bin, ``directory/deletedItems/microsoft.graph.servicePrincipal``, for 30 days, as
    Graph documents it (servicePrincipal resource: "List deleted", "Permanently delete";
    deletion-and-recovery FAQ). False (``sp-hard-delete``): gone at once, the old behaviour."""
    viral_enabled: bool = False
    """A self-service sign-up product (free Power BI, bought by nobody) is enabled in
    ``directory/subscriptions``; only the Entra admin center deletes it (DELTEN)."""
    role_expand: Literal["capped", "ignored", "refused"] = "capped"
    """``GET /directoryRoles?$expand=members``: Graph's query-parameter docs say ``$expand`` on
    directory objects returns at most 20 related items and no nextLink (later docs say 100);
    the list's own page said it supports no query parameters. ``capped``: members expanded, at
    most 20 per role; ``ignored``: roles without members; ``refused``: 400."""
    report_names: Literal["concealed", "shown"] = "concealed"
    """User names in the usage reports: pseudonyms, as Microsoft shows them by default since
    September 2021 (graph-api.md §14), or the real ones, where the admin turned that off."""
    mfa_write_roles: Literal["policy-admin", "priv-auth-admin-too"] = "policy-admin"
    """Who may set another user's per-user MFA state: an Authentication Policy Administrator
    (or a Global Administrator), all AUPD's rbac include names (default), or a Privileged
    Authentication Administrator too, which no page names or rules out (graph-api.md §5.1)."""
    sp_disable_roles: Literal["app-admins", "ga-only"] = "app-admins"
    """Who may turn a service principal off (``PATCH accountEnabled``): the roles and owners
    that may delete it (APPDEL/SPDEL's include; SPUPD's page names none), the default, or a
    Global Administrator only (graph-api.md §6.2: unconfirmed)."""
    portal_refuses_microsoft_sps: bool = False
    """The portal's "Delete tenant" refuses while any Microsoft service principal is enabled
    (DELTEN: enterprise apps that can't be deleted "might block you"; KB2967860 says they
    don't). Off: Microsoft's own service principals never block, as KB2967860 says."""


@dataclass(frozen=True)
class Behaviour:
    """A name for one setting of one behaviour switch (``closeout sandbox serve --behaviour``)."""

    name: str
    field: str
    value: object
    help: str
    """What it means, in English (``N_``: translated where shown)."""


# One row per name; a switch with more than two settings has a name for each, its default too,
# so that a test or a demo can say which Graph it means.
BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        "opaque-tokens",
        "opaque_tokens",
        True,
        N_("access tokens no client can read (encrypted, JWE-shaped) instead of readable JWTs"),
    ),
    Behaviour(
        "sync-flag-flips",
        "sync_flag",
        "flips",
        N_(
            "the organization's onPremisesSyncEnabled reads false as soon as sync is turned off (default)"
        ),
    ),
    Behaviour(
        "sync-flag-lags",
        "sync_flag",
        "lags",
        N_(
            "the organization's onPremisesSyncEnabled stays true until every synced user is converted"
        ),
    ),
    Behaviour(
        "sync-flag-null",
        "sync_flag",
        "null",
        N_("the organization's onPremisesSyncEnabled reads null once sync is turned off"),
    ),
    Behaviour(
        "sync-converts-spread",
        "sync_conversion",
        "spread",
        N_("synced users become cloud-only one by one while sync turns off (default)"),
    ),
    Behaviour(
        "sync-converts-at-end",
        "sync_conversion",
        "at-end",
        N_("synced users all become cloud-only at the very end of the turn-off (the 72nd hour)"),
    ),
    Behaviour(
        "connect-still-running",
        "connect_still_running",
        True,
        N_(
            "an Entra Connect server still runs and turns sync back on 72 hours after it was turned off"
        ),
    ),
    Behaviour(
        "write-limit-window",
        "write_limit",
        "window",
        N_("the write quota slides: a write counts until a window after it was admitted (default)"),
    ),
    Behaviour(
        "write-limit-bucket",
        "write_limit",
        "bucket",
        N_("the write quota is a bucket that starts full and refills steadily, a quota per window"),
    ),
    Behaviour(
        "own-tenant-owner",
        "subscription_owner",
        "own-tenant",
        N_("directly bought subscriptions carry the tenant's own ownerTenantId (default)"),
    ),
    Behaviour(
        "no-owner",
        "subscription_owner",
        "none",
        N_("directly bought subscriptions carry no ownerTenantId"),
    ),
    Behaviour(
        "own-app",
        "own_app",
        True,
        N_(
            "the app closeout signs in with is registered in the tenant; deleting it kills its "
            "tokens"
        ),
    ),
    Behaviour(
        "sp-soft-delete",
        "sp_soft_delete",
        True,
        N_("deleted service principals wait in the recycle bin, as Graph documents (default)"),
    ),
    Behaviour(
        "sp-hard-delete",
        "sp_soft_delete",
        False,
        N_("deleted service principals are gone at once, skipping the recycle bin"),
    ),
    Behaviour(
        "viral-enabled",
        "viral_enabled",
        True,
        N_("a self-service sign-up product (free Power BI) is enabled in directory/subscriptions"),
    ),
    Behaviour(
        "role-expand-capped",
        "role_expand",
        "capped",
        N_("directoryRoles?$expand=members lists at most 20 members per role (default)"),
    ),
    Behaviour(
        "role-expand-ignored",
        "role_expand",
        "ignored",
        N_("directoryRoles ignores $expand=members: roles come without their members"),
    ),
    Behaviour(
        "role-expand-refused",
        "role_expand",
        "refused",
        N_("directoryRoles refuses $expand=members with 400"),
    ),
    Behaviour(
        "report-names-concealed",
        "report_names",
        "concealed",
        N_("the usage reports name users by pseudonyms, as Microsoft's default is (default)"),
    ),
    Behaviour(
        "report-names-shown",
        "report_names",
        "shown",
        N_("the usage reports name users by their userPrincipalName and display name"),
    ),
    Behaviour(
        "mfa-write-policy-admin",
        "mfa_write_roles",
        "policy-admin",
        N_(
            "per-user MFA is set by an Authentication Policy Administrator or a Global "
            "Administrator, as the docs name (default)"
        ),
    ),
    Behaviour(
        "mfa-write-paa-too",
        "mfa_write_roles",
        "priv-auth-admin-too",
        N_("a Privileged Authentication Administrator may set per-user MFA too"),
    ),
    Behaviour(
        "sp-disable-app-admins",
        "sp_disable_roles",
        "app-admins",
        N_("turning a service principal off needs the roles that delete it (default)"),
    ),
    Behaviour(
        "sp-disable-ga-only",
        "sp_disable_roles",
        "ga-only",
        N_("only a Global Administrator may turn a service principal off"),
    ),
    Behaviour(
        "portal-refuses-ms-sps",
        "portal_refuses_microsoft_sps",
        True,
        N_("the portal's Delete tenant refuses while a Microsoft service principal is enabled"),
    ),
)


def behaviour_settings(names: str | Iterable[str]) -> dict[str, Any]:
    """The config fields that behaviour ``names`` (a comma list or names) set.

    Raises ValueError naming the unknown name, or the two names that set one switch twice.
    """
    if isinstance(names, str):
        names = [n for n in (part.strip() for part in names.split(",")) if n]
    by_name = {b.name: b for b in BEHAVIOURS}
    # Keyword arguments for SandboxConfig: each value has its own field's type.
    settings: dict[str, Any] = {}
    chosen: dict[str, str] = {}
    for name in names:
        b = by_name.get(name)
        if b is None:
            raise ValueError(
                _("unknown behaviour {name!r}; choose from: {names}").format(
                    name=name, names=", ".join(by_name)
                )
            )
        if b.field in chosen and chosen[b.field] != name:
            raise ValueError(
                _("behaviours {a!r} and {b!r} contradict each other").format(
                    a=chosen[b.field], b=name
                )
            )
        chosen[b.field] = name
        settings[b.field] = b.value
    return settings
