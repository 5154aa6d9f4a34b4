"""Step 5's checks that no API can make: what the admin confirms, and where to look.

A module of its own, with nothing but words, so that the command line can list the checks in
its help without loading Graph, HTTP or the engine.
"""

from __future__ import annotations

from services.i18n import N_

# The checks no API can answer; the admin ticks them (journalled), each with the exact place to
# look. MFA providers are an old Azure resource with no Graph API; Graph's GDAP API
# (tenantRelationships/delegatedAdminRelationships) answers the partner's tenant only, and the
# customer's side has none: the admin center is the one place to see and remove partner roles.
MANUAL_ITEMS: dict[str, tuple[str, str]] = {
    "invoices": (
        N_("All outstanding invoices are paid."),
        N_("Microsoft 365 admin center > Billing > Bills & payments"),
    ),
    "self-service": (
        N_(
            "The Entra admin center lists no self-service sign-up product, not even one Graph "
            "does not show as such (Power BI, Power Apps, Power Automate…)."
        ),
        N_(
            "Microsoft Entra admin center > Identity > Billing > Licenses > Self-service sign-up products > Delete"
        ),
    ),
    "azure": (
        N_("No Azure subscription (active or cancelled) is associated with the directory."),
        N_(
            "Azure portal > Subscriptions: cancel and delete them, or transfer them to another directory"
        ),
    ),
    "mfa-providers": (
        N_("No multifactor authentication providers are linked to the directory."),
        N_(
            "Microsoft Entra admin center > Protection > Multifactor authentication > Providers: "
            "select … > Delete for each one listed (no API exists)"
        ),
    ),
    "partners": (
        N_("No partner holds delegated admin roles (GDAP or DAP) in the directory."),
        N_(
            "Microsoft 365 admin center > Settings > Partner relationships: select each partner > "
            "Remove roles > Yes; to end a relationship, ask the partner (Graph's GDAP API "
            "answers partners only)"
        ),
    ),
}
