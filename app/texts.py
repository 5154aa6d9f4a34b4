"""The words the app shows about a step: its detail pane and the confirmations before acting.

Plain functions of the engine's state, so the app only decides when to show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.i18n import _, ngettext
from services.models import StepId, StepState, StepStatus
from services.names import status_word, step_name

if TYPE_CHECKING:
    from services.inventory import Inventory
    from services.plan import Plan


@dataclass(frozen=True)
class Detail:
    title: str
    will_do: list[str]
    did: list[str]
    blockers: list[str]


@dataclass(frozen=True)
class Confirmation:
    title: str
    body: str
    confirm_label: str


def step_detail(st: StepState, plan: Plan | None) -> Detail:
    will_do: list[str] = []
    if plan is not None:
        # Imported here, as connect_advice below: the app's first paint need not wait for the
        # planning and step code (and the Graph client they load); they are loaded by then.
        from services.plan import action_label

        groups: dict[str, list[str]] = {}
        for a in plan.for_step(st.step):
            groups.setdefault(a.action, []).append(a.label)
        for action, labels in groups.items():
            sample = ", ".join(labels[:3]) + (
                f" … (+{len(labels) - 3:,})" if len(labels) > 3 else ""
            )
            will_do.append(f"{action_label(action)} × {len(labels):,}: {sample}")
    did = [st.summary] if st.summary else []
    if st.total:
        did.append(
            _("{done:,} of {total:,} done, {failed:,} failed").format(
                done=st.done, total=st.total, failed=st.failed
            )
        )
    if st.waiting_until:
        did.append(_("Waiting until {when:%Y-%m-%d %H:%M} UTC").format(when=st.waiting_until))
    if st.link:
        did.append(st.link)
    blockers = list(st.blockers)
    if st.status == StepStatus.DONE:
        did += blockers  # a done step's remarks are notes, not blockers
        blockers = []
    title = f"{int(st.step)} {step_name(st.step)} — {status_word(st.status)}"
    return Detail(title, will_do, did, blockers)


def run_confirmation(
    st: StepState, inventory: Inventory | None, *, sync_turn_off: bool = False
) -> Confirmation:
    """What to ask before step 1 or 4 runs: the count and the consequence.

    ``sync_turn_off``: this run of step 1 turns directory sync off (the engine says when).
    """
    remaining = max(st.total - st.done, 0)
    if st.step == StepId.DISABLE_MFA:
        return Confirmation(
            _("Turn multifactor authentication off?"),
            _("Per-user MFA will be turned off for {n:,} accounts; yours stays on.").format(
                n=remaining
            ),
            _("Continue"),
        )
    if sync_turn_off and inventory is not None:
        from services.steps.dirsync import connect_advice

        synced = len(inventory.synced_users)
        return Confirmation(
            _("Turn directory synchronization off?"),
            _(
                "{synced:,} users are synchronized from on-premises AD. Turning sync off takes up "
                "to 72 hours and cannot be undone during that time; closeout sends it once. The "
                "{now:,} users who are not synchronized are deleted now, the others once they are "
                "converted. They can be restored for 30 days."
            ).format(synced=synced, now=max(remaining - synced, 0))
            + "\n\n"
            + connect_advice(),
            _("Continue"),
        )
    return Confirmation(
        ngettext("Delete {n:,} user?", "Delete {n:,} users?", remaining).format(n=remaining),
        _(
            "{n:,} users will be deleted, guests and other admins included; you are kept. "
            "They can be restored for 30 days."
        ).format(n=remaining),
        _("Delete"),
    )


def cleanup_consequences(plan: Plan | None) -> list[str]:
    """What step 5's typed confirmation allows, with the counts."""
    from services.plan import own_app_text  # as above: not before the first paint

    def count(action: str) -> int:
        return len(plan.ids(action)) if plan else 0

    # closeout's own app first: at 80x24 the first lines are the ones in view.
    own = own_app_text(plan.own_app) if plan else ""
    lines = [own] if own else []
    lines += [
        _("Permanently delete {n:,} users from the recycle bin (no restore after this).").format(
            n=count("purge-user")
        ),
        _(
            "Delete {n:,} applications and {s:,} service principals, and empty the recycle bin "
            "of them."
        ).format(n=count("delete-application"), s=count("delete-service-principal")),
    ]
    if count("delete-self-service-product"):
        lines.append(
            _(
                "You delete {n:,} self-service sign-up products in the Entra admin center "
                "(the handoff lists them)."
            ).format(n=count("delete-self-service-product"))
        )
    lines.append(_("Then you delete the tenant in the Microsoft Entra admin center."))
    return lines


def read_only_notice() -> str:
    """Shown once a read-only session is connected (a function: the language may change)."""
    return _(
        "Read-only: nothing is sent to the tenant and nothing is recorded — no journal, no saved "
        "plan, and manual checks you tick here are forgotten when you quit."
    )


def connect_summary(plan: Plan | None, inventory: Inventory | None) -> str:
    if plan is None or inventory is None:
        return _("Connected.")
    t = plan.tenant
    return _(
        "Connected to {name} ({domain}) as {who}: {users:,} users, {subs} subscriptions, "
        "{apps} applications. Plan {digest}: {actions:,} actions."
    ).format(
        name=t.display_name,
        domain=t.initial_domain,
        who=t.signed_in_upn or _("app-only"),
        users=len(inventory.users),
        subs=len(inventory.subscriptions),
        apps=len(inventory.applications),
        digest=plan.digest(),
        actions=len(plan.actions),
    )
