"""Self-service sign-up ("viral") products: recognising them in ``directory/subscriptions``.

A user's free Power BI, Power Apps or Power Automate sign-up shows up in Graph's subscription
list like any bought subscription, but the Microsoft 365 admin center cannot cancel it: only
the Entra admin center deletes it (Licenses > Self-service sign-up products > Delete; DELTEN
"Delete a self-service sign-up product"). So step 5 hands it over there, and steps 2 and 3
leave it out.

What closeout relies on, and why: the product, i.e. ``skuPartNumber``. A ``companySubscription``
has no property that marks a self-service sign-up: ``isTrial`` is true for ordinary trials too
(which the admin center does cancel), and ``ownerType`` is ``"User"`` in the docs' own example
of a bought subscription (CSUB). The part numbers below are those Microsoft's product names
and service plan identifiers list gives the self-service programs (free and viral-trial SKUs),
plus its ``_VIRAL`` suffix for viral sign-ups. A sign-up product missing from the list falls
back to steps 2 and 3, where the admin center shows it cannot be cancelled: slower, never
silent.
"""

from __future__ import annotations

from .models import SubscriptionRow

SELF_SERVICE_SKUS = frozenset(
    {
        "POWER_BI_STANDARD",  # Microsoft Fabric (Free), formerly Power BI (free)
        "POWER_BI_INDIVIDUAL_USER",  # Power BI for Office 365 Individual
        "FLOW_FREE",  # Microsoft Power Automate Free
        "POWERAPPS_VIRAL",  # Microsoft Power Apps Plan 2 Trial
        "POWERAPPS_DEV",  # Microsoft Power Apps for Developer
        "CCIBOTS_PRIVPREV_VIRAL",  # Power Virtual Agents Viral Trial
        "RIGHTSMANAGEMENT_ADHOC",  # Rights Management Adhoc (Azure RMS for individuals)
        "DYN365_ENTERPRISE_P1_IW",  # Dynamics 365 P1 Trial for Information Workers
        "PROJECT_MADEIRA_PREVIEW_IW_SKU",  # Dynamics 365 Business Central for IWs
        "FORMS_PRO",  # Dynamics 365 Customer Voice Trial
    }
)


def is_self_service(sub: SubscriptionRow) -> bool:
    return is_self_service_sku(sub.sku_part_number)


def is_self_service_sku(sku_part_number: str) -> bool:
    """The same, by the SKU alone (a snapshot's replica builds its subscriptions from it)."""
    part = sku_part_number.upper()
    return part in SELF_SERVICE_SKUS or part.endswith("_VIRAL")


def split(subs: list[SubscriptionRow]) -> tuple[list[SubscriptionRow], list[SubscriptionRow]]:
    """(bought subscriptions for steps 2 and 3, self-service sign-up products for step 5)."""
    bought = [s for s in subs if not is_self_service(s)]
    return bought, [s for s in subs if is_self_service(s)]
