"""Steps 2 and 3 — cancel active subscriptions, delete disabled ones. No API can do either
(graph-api.md §3.2, §4, §11), so closeout hands the admin the exact link and click path from
the article and watches ``/directory/subscriptions`` until the change is really there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.i18n import N_, _, ngettext
from services.inventory.reads import read_subscriptions
from services.models import (
    BILLING_ADMIN,
    GLOBAL_ADMIN,
    Handoff,
    HandoffItem,
    StepId,
    StepState,
    StepStatus,
    SubscriptionPhase,
    SubscriptionRow,
)
from services.plan.labels import subscription_label, subscription_name
from services.requirements import StepNeeds
from services.self_service import split

from .base import StepContext, state
from .step import Assessing, Assessment, Step

ARTICLE_PRODUCTS_LINK = "https://go.microsoft.com/fwlink/p/?linkid=842054"
DEPROVISION_HOURS = 72
CANCELLING = (SubscriptionPhase.ACTIVE, SubscriptionPhase.EXPIRED)
"""What step 2 waits to see go: active subscriptions, and expired ones (disabled by themselves)."""
DELETING = (SubscriptionPhase.DISABLED,)
"""What step 3 waits to see go (its wait on the active ones is step 2's)."""


def products_link(admin_center_url: str) -> str:
    if admin_center_url.rstrip("/") == "https://admin.microsoft.com":
        return ARTICLE_PRODUCTS_LINK  # the article's own link to Billing > Your products
    return f"{admin_center_url.rstrip('/')}/Adminportal/Home#/subscriptions"


def read(ctx: StepContext) -> list[SubscriptionRow]:
    return read_subscriptions(ctx.client, ctx.caller.tenant.id)


def _item(
    s: SubscriptionRow, state_word: str, until: datetime | None = None, note: str = ""
) -> HandoffItem:
    return HandoffItem(
        s.id,
        subscription_label(s),
        state_word,
        until,
        note,
        product=s.product,
        name=subscription_name(s),
    )


def cancel_handoff(subs: list[SubscriptionRow], link: str) -> Handoff:
    items = []
    for s in subs:
        if s.phase == SubscriptionPhase.ACTIVE:
            note = (
                _("Bought through a partner: contact your partner to cancel it.")
                if s.partner
                else _("More than 25 licences: reduce to 25 or fewer first.")
                if s.total_licenses > 25
                else ""
            )
            items.append(_item(s, _("active"), None, note))
        elif s.phase == SubscriptionPhase.EXPIRED:
            items.append(
                _item(
                    s,
                    _("expired"),
                    s.next_lifecycle,
                    _("Becomes disabled by itself at the date shown."),
                )
            )
        else:
            items.append(
                _item(
                    s,
                    _("disabled") if s.phase == SubscriptionPhase.DISABLED else _("deleted"),
                    None,
                    _("Done for this step."),
                )
            )
    pending = [s for s in subs if s.phase in CANCELLING]
    return Handoff(
        step=StepId.CANCEL_SUBSCRIPTIONS,
        title=_("Cancel all active subscriptions"),
        link=link,
        # The current "Cancel your subscription" article (CANCEL), MOSA billing account.
        click_path=(
            _(
                "In the Microsoft 365 admin center, go to Billing > Your products "
                "(in the Simplified view: Subscriptions)."
            ),
            _("Select the subscription you want to cancel."),
            _(
                "On the subscription details page, in the Subscription and payment settings "
                "section, select Cancel subscription."
            ),
            _(
                "In the Options for canceling your subscription pane, select Cancel now (Cancel "
                "before the next renewal date keeps it active until then), then select Next."
            ),
            _(
                "Select a reason for canceling, optionally give feedback, then select Cancel now "
                "to confirm."
            ),
            _("Repeat for every active subscription."),
        ),
        items=tuple(items),
        notes=(
            _("If you added your own domain, remove it before you cancel."),
            _(
                "Under a Microsoft Customer Agreement, Cancel subscription is under Billing "
                "settings > Subscription status, and cancelling is possible only within seven "
                "days of the start or renewal; after that, turn off recurring billing instead "
                "(Edit recurring billing: Off, Save): the subscription then ends at the end of "
                "its term."
            ),
        ),
        done=not pending,
    )


def deprovisioning(s: SubscriptionRow, now: datetime) -> bool:
    """A disabled subscription due to go within 72 h: deleted in the portal (or lapsing anyway).

    Graph shows no "marked for deletion" flag; the lifecycle date is the only sign of it.
    """
    return (
        s.phase == SubscriptionPhase.DISABLED
        and s.next_lifecycle is not None
        and s.next_lifecycle - now <= timedelta(hours=DEPROVISION_HOURS + 1)
    )


def delete_handoff(subs: list[SubscriptionRow], link: str, now: datetime) -> Handoff:
    items = []
    for s in subs:
        if s.phase == SubscriptionPhase.DISABLED:
            items.append(
                _item(
                    s,
                    _("disabled"),
                    s.next_lifecycle,
                    _("Being deprovisioned: data is deleted when the countdown ends.")
                    if deprovisioning(s, now)
                    else _("Delete it in the admin center."),
                )
            )
        elif s.phase in CANCELLING:
            items.append(_item(s, _("active"), None, _("Cancel it first (step 2).")))
        else:
            items.append(_item(s, _("deleted")))
    remaining = [s for s in subs if s.phase != SubscriptionPhase.DELETED]
    return Handoff(
        step=StepId.DELETE_SUBSCRIPTIONS,
        title=_("Delete all disabled subscriptions"),
        link=link,
        click_path=(
            _("In the Microsoft 365 admin center, go to Billing > Your products."),
            _("On the Products tab, select a disabled subscription."),
            _(
                "On the subscription details page, in Subscription and payment settings, select Delete subscription."
            ),
            _("In the Delete subscription pane, select Delete subscription."),
            _("Select Yes in the Delete subscription dialog."),
            _("Repeat for every disabled subscription."),
        ),
        items=tuple(items),
        notes=(
            _(
                "A deleted subscription is deprovisioned 72 hours later; until then it can be reactivated."
            ),
            _("If you can't delete a disabled subscription, contact support."),
        ),
        done=not remaining,
    )


def assess_cancel(subs: list[SubscriptionRow], link: str) -> StepState:
    step = StepId.CANCEL_SUBSCRIPTIONS
    active = [s for s in subs if s.phase == SubscriptionPhase.ACTIVE]
    expired = [s for s in subs if s.phase == SubscriptionPhase.EXPIRED]
    total = len(subs)
    done = total - len(active) - len(expired)
    if active:
        partner = sum(1 for s in active if s.partner)
        summary = ngettext(
            "{n} active subscription to cancel in the admin center.",
            "{n} active subscriptions to cancel in the admin center.",
            len(active),
        ).format(n=len(active))
        if partner:
            summary += " " + _("{n} bought through a partner.").format(n=partner)
        return state(
            step,
            StepStatus.WAITING_PERSON,
            summary,
            done=done,
            total=total,
            waiting_for=_("you to cancel them in the admin center"),
            link=link,
        )
    if expired:
        until = max((s.next_lifecycle for s in expired if s.next_lifecycle), default=None)
        return state(
            step,
            StepStatus.WAITING_TIME,
            ngettext(
                "{n} expired subscription becomes disabled by itself.",
                "{n} expired subscriptions become disabled by themselves.",
                len(expired),
            ).format(n=len(expired)),
            done=done,
            total=total,
            waiting_for=_("expired subscriptions to become disabled"),
            waiting_until=until,
            link=link,
        )
    return state(step, StepStatus.DONE, _("No active subscription."), done=total, total=total)


def assess_delete(subs: list[SubscriptionRow], link: str, now: datetime) -> StepState:
    step = StepId.DELETE_SUBSCRIPTIONS
    left = [s for s in subs if s.phase != SubscriptionPhase.DELETED]
    total = len(subs)
    done = total - len(left)
    if not left:
        return state(
            step, StepStatus.DONE, _("Every subscription is deleted."), done=total, total=total
        )
    active = [s for s in left if s.phase in CANCELLING]
    disabled = [s for s in left if s.phase in DELETING]
    to_delete = [s for s in disabled if not deprovisioning(s, now)]
    if to_delete:
        return state(
            step,
            StepStatus.WAITING_PERSON,
            ngettext(
                "{n} disabled subscription to delete in the admin center.",
                "{n} disabled subscriptions to delete in the admin center.",
                len(to_delete),
            ).format(n=len(to_delete)),
            done=done,
            total=total,
            waiting_for=_("you to delete them in the admin center"),
            link=link,
        )
    if disabled:
        until = max((s.next_lifecycle for s in disabled if s.next_lifecycle), default=None)
        return state(
            step,
            StepStatus.WAITING_TIME,
            ngettext(
                "{n} subscription is being deprovisioned.",
                "{n} subscriptions are being deprovisioned.",
                len(disabled),
            ).format(n=len(disabled)),
            done=done,
            total=total,
            waiting_for=_("subscriptions to be deprovisioned"),
            waiting_until=until,
            link=link,
        )
    return state(
        step,
        StepStatus.BLOCKED,
        ngettext(
            "{n} subscription must be cancelled first (step 2).",
            "{n} subscriptions must be cancelled first (step 2).",
            len(active),
        ).format(n=len(active)),
        done=done,
        total=total,
        blockers=(_("Step 2 is not done."),),
    )


def _products_link(ctx: StepContext) -> str:
    return ctx.options.portal_links.get("products", "")


def _bought(a: Assessing) -> list[SubscriptionRow]:
    # Self-service sign-up products are deleted in the Entra admin center (step 5's handoff),
    # never cancelled in the Microsoft 365 admin center.
    bought, _self_service = split(a.inventory.subscriptions)
    return bought


def _assess_cancel(a: Assessing) -> Assessment:
    subs, link = _bought(a), _products_link(a.ctx)
    return Assessment(assess_cancel(subs, link), cancel_handoff(subs, link))


def _assess_delete(a: Assessing) -> Assessment:
    subs, link, now = _bought(a), _products_link(a.ctx), a.ctx.server_now()
    return Assessment(assess_delete(subs, link, now), delete_handoff(subs, link, now))


# Two steps of the article in one module: both are the same handoff-and-watch over one list.
# The article lets a Billing Administrator do the subscription steps; both are handoffs.
NEEDS = StepNeeds(roles=(GLOBAL_ADMIN, BILLING_ADMIN))

CANCEL_SUBSCRIPTIONS = Step(
    id=StepId.CANCEL_SUBSCRIPTIONS,
    name=N_("Cancel active subscriptions"),
    short_name=N_("Cancel subs"),
    help=N_(
        "No API can do this: closeout shows the link and the clicks, and watches until none is active. "
        "Partner-bought subscriptions: contact your partner."
    ),
    assess=_assess_cancel,
    requires=NEEDS,
    subscriptions=CANCELLING,
    reads=("subscriptions",),
)
DELETE_SUBSCRIPTIONS = Step(
    id=StepId.DELETE_SUBSCRIPTIONS,
    name=N_("Delete disabled subscriptions"),
    short_name=N_("Delete subs"),
    help=N_(
        "Also in the admin center. A deleted subscription is deprovisioned after 72 hours; closeout counts down."
    ),
    assess=_assess_delete,
    requires=NEEDS,
    subscriptions=DELETING,
    depends_on=(StepId.CANCEL_SUBSCRIPTIONS,),
    reads=("subscriptions",),
)
