"""What a sandbox tenant looks like and how it behaves: size, seed, clock, limits, faults.

Defaults are Graph's documented numbers (graph-api.md §8); tests may shrink a quota to exercise
the same mechanism in seconds instead of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    write_quota: tuple[int, float] = (3000, 150.0)
    """Identity writes per application and tenant."""
    tenant_write_quota: tuple[int, float] = (18000, 300.0)
    app_write_quota: tuple[int, float] = (35000, 300.0)
    write_limit: Literal["window", "bucket"] = "window"
    """How Graph's "token bucket" gives quota back (graph-api.md §8.2 leaves it open): a sliding
    window, or a full bucket refilled steadily (see throttle.py)."""
    ru_quota: int | None = None
    """Resource units per 10 s per app and tenant; None = by tenant size (3,500/5,000/8,000)."""
    ca_requests_per_second: float = 1.0

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
    hostile_names: bool = False
    """Give some objects names any tenant user could choose to attack the admin's terminal:
    escape sequences, C1 controls, bidi overrides, markup, spreadsheet formulas (seed.py)."""

    # Durations, in simulated hours.
    dirsync_hours: float | None = None
    """How long turning directory sync off takes; None = by object count, at most 72."""
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


BEHAVIOURS: dict[str, str] = {
    "opaque-tokens": "opaque_tokens",
}
"""Names for ``closeout sandbox serve --behaviour``: each turns on one switch of
:class:`SandboxConfig` where Graph's behaviour is undocumented or may vary."""


def behaviour_switches(names: str) -> dict[str, bool]:
    """``"opaque-tokens,…"`` as :class:`SandboxConfig` keyword arguments.

    Raises ValueError naming an unknown behaviour and the known ones.
    """
    switches: dict[str, bool] = {}
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if name not in BEHAVIOURS:
            raise ValueError(
                f"unknown behaviour {name!r}; choose from: {', '.join(sorted(BEHAVIOURS))}"
            )
        switches[BEHAVIOURS[name]] = True
    return switches
