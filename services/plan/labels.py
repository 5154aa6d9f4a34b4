"""The plan's words: what each planned action means, a subscription's name and label, and
one sentence on closeout's own app (for the plan's text and the typed confirmation).
"""

from __future__ import annotations

from typing import Any

from services.i18n import N_, _
from services.models import NotSent, SubscriptionRow

# What each planned action means, in words (translated where shown).
ACTION_LABELS: dict[str, str] = {
    "disable-directory-sync": N_("Turn directory synchronization off"),
    "delete-user": N_("Delete users"),
    "cancel-subscription": N_("Cancel in the admin center"),
    "contact-partner": N_("Ask the partner to cancel"),
    "wait-expired": N_("Wait until it is disabled"),
    "delete-subscription": N_("Delete in the admin center"),
    "disable-mfa": N_("Turn per-user MFA off"),
    "disable-security-defaults": N_("Turn security defaults off"),
    "report-security-defaults": N_("Security defaults stay on (reported)"),
    "disable-ca-policy": N_("Turn Conditional Access policies off"),
    "report-ca-policy": N_("Conditional Access policies stay on (reported)"),
    "purge-user": N_("Permanently delete deleted users"),
    "delete-application": N_("Delete applications"),
    "purge-application": N_("Permanently delete deleted applications"),
    "delete-service-principal": N_("Delete service principals"),
    "purge-service-principal": N_("Permanently delete deleted service principals"),
    "disable-service-principal": N_("Disable service principals that refuse deletion"),
    "remove-service-principal": N_("Delete every service principal (last resort)"),
    "delete-self-service-product": N_(
        "Delete self-service sign-up products in the Entra admin center"
    ),
    "delete-own-app": N_("Delete closeout's own app, as the very last write"),
    "hand-off-own-app": N_("Leave closeout's own app for you to delete, last"),
    "delete-tenant": N_("Delete the tenant in the Entra admin center"),
}


def action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def not_sent_text(event: NotSent) -> str:
    """What a stop left unsent, in a line, for a stop no summary line will count."""
    return _("{action}: {n} not sent (the run stopped first); run again to continue").format(
        action=action_label(event.action), n=f"{event.count:,}"
    )


def subscription_label(s: SubscriptionRow) -> str:
    """``Microsoft 365 E3 (SPE_E3)``, and ``(trial)`` after a trial's."""
    return s.product.label + (_(" (trial)") if s.is_trial else "")


def subscription_name(s: SubscriptionRow) -> str:
    """``Microsoft 365 E3``, and ``(trial)`` after a trial's: the label without the code."""
    return s.product.display_name + (_(" (trial)") if s.is_trial else "")


def own_app_text(summary: dict[str, Any]) -> str:
    """One sentence on closeout's own app, for the plan and the typed confirmation."""
    if not summary:
        return ""
    names = ", ".join(str(o.get("name")) for o in summary.get("objects", [])) or ", ".join(
        summary.get("appIds", [])
    )
    handling = summary.get("handling")
    if handling == "delete-last":
        return _(
            "closeout's own app {name} is deleted as the very last write, once all else is done: "
            "after it closeout can no longer sign in."
        ).format(name=names)
    if handling == "hand-off":
        return _(
            "closeout's own app {name} is left for you to delete last, just before the tenant "
            "(the handoff names it)."
        ).format(name=names)
    if handling == "microsoft":
        return _(
            "closeout signs in with Microsoft's public client {name}: its service principal is "
            "Microsoft's and stays."
        ).format(name=names)
    return _(
        "closeout's sign-in app ({ids}) is not registered in this tenant; nothing of it is deleted."
    ).format(ids=names)
