"""Graph's documented throttling numbers (graph-api.md §8), in one place.

The sandbox throttles with them, closeout paces its reads and writes by them, and a rehearsal
predicts a close-out's real duration from them, so all three always mean the same Graph.
Identity and access service limits, per application and tenant unless named otherwise (TL).
"""

from __future__ import annotations

WRITE_QUOTA = (3000, 150.0)
"""Writes per app+tenant: 3,000 per 2 min 30 s (simulated seconds in the sandbox)."""
TENANT_WRITE_QUOTA = (18000, 300.0)
"""Writes per tenant, all apps together."""
APP_WRITE_QUOTA = (35000, 300.0)
"""Writes per app, all tenants together."""
RU_WINDOW = 10.0
"""Resource units are counted per 10 seconds per app+tenant."""
REPORTS_LIMIT = (5, 10.0)
"""Identity and access reports: 5 requests per 10 s per app+tenant. Whether per-user MFA reads
and writes fall under it is unconfirmed (graph-api.md §5.1)."""
CA_REQUESTS_PER_SECOND = 1.0
"""Conditional Access: one request per second per tenant, all apps, no Retry-After."""


def ru_budget(tenant_users: int) -> int:
    """Resource units per 10 s for a tenant of this many users: S under 50, M to 500, L above."""
    if tenant_users < 50:
        return 3500
    return 5000 if tenant_users <= 500 else 8000
