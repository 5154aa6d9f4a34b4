"""The words the app shows about a step's progress: its detail pane and the notes on connecting.

Plain functions of the engine's state, so the app only decides when to show them. What a step
asks before it acts is worded by the step itself (its registry entry's ``confirm``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.i18n import _, ngettext
from services.models import StepId, StepState, StepStatus
from services.names import status_word, step_name

if TYPE_CHECKING:
    from app.bridge import Tally
    from services.inventory.model import Inventory
    from services.plan.model import Plan


@dataclass(frozen=True)
class Detail:
    title: str
    will_do: list[str]
    did: list[str]
    blockers: list[str]


def step_detail(st: StepState, plan: Plan | None) -> Detail:
    will_do: list[str] = []
    if plan is not None:
        # Imported here: the app's first paint need not wait for the planning and step code
        # (and the Graph client they load); they are loaded by then.
        from services.plan.labels import action_label

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


def read_only_notice() -> str:
    """Shown once a read-only session is connected (a function: the language may change)."""
    return _(
        "Read-only: nothing is sent to the tenant and nothing is recorded — no journal, no saved "
        "plan, and manual checks you tick here are forgotten when you quit."
    )


def connect_summary(plan: Plan | None, inventory: Inventory | None) -> str:
    if plan is None or inventory is None:
        return _("Connected.")
    from services.steps.prepare import inventory_counts

    t = plan.tenant
    actions = len(plan.actions)
    return _("Connected to {name} ({domain}) as {who}: {counts}. Plan {digest}: {actions}.").format(
        name=t.display_name,
        domain=t.initial_domain,
        who=t.signed_in_upn or _("app-only"),
        counts=inventory_counts(inventory),
        digest=plan.digest(),
        actions=ngettext("{n:,} action", "{n:,} actions", actions).format(n=actions),
    )


def _result_words(n: int) -> dict[str, str]:
    """A run's results, each in words for ``n`` objects (plural-correct)."""
    return {
        "deleted": ngettext("{n:,} deleted", "{n:,} deleted", n),
        "done": ngettext("{n:,} done", "{n:,} done", n),
        "disabled": ngettext("{n:,} disabled", "{n:,} disabled", n),
        "failed": ngettext("{n:,} failed", "{n:,} failed", n),
        "skipped": ngettext("{n:,} not finished", "{n:,} not finished", n),
        "unknown": ngettext(
            "{n:,} unknown (a fresh read settles it)",
            "{n:,} unknown (a fresh read settles them)",
            n,
        ),
    }


def stop_summary(step: StepId, tally: Tally, *, stopped: bool) -> str:
    """The one line a stopped (or cut short) run of a step leaves: "Step 1 stopped: 4,599 not
    sent, 400 deleted — run again to continue (r)"."""
    n = tally.not_sent_total
    parts = [ngettext("{n:,} not sent", "{n:,} not sent", n).format(n=n)] if n else []
    for key, count in sorted(tally.results.items(), key=lambda kv: _ORDER.get(kv[0], 9)):
        word = _result_words(count).get(key)
        parts.append(word.format(n=count) if word else f"{count:,} {key}")
    head = (
        _("Step {step} stopped").format(step=int(step))
        if stopped
        else _("Step {step} ended early").format(step=int(step))
    )
    counts = ", ".join(parts) or _("nothing sent")
    return _("{head}: {counts} — run again to continue (r).").format(head=head, counts=counts)


_ORDER = {"deleted": 0, "done": 1, "disabled": 2, "failed": 3, "skipped": 4, "unknown": 5}


def waits_go_on(
    states: Iterable[StepState], graph_wait_until: datetime | None, relaunch: str
) -> str:
    """Said on quitting while something waits (directory sync's 72 hours, a handoff, Graph's
    Retry-After): the wait goes on without closeout, and how to pick it up later. Empty if
    nothing waits."""
    now = datetime.now(UTC)
    lines = []
    for st in states:
        if st.status == StepStatus.DONE:
            continue
        name = step_name(st.step)
        if st.waiting_until is not None and st.waiting_until > now:
            lines.append(
                _("Step {step} {name} waits until {when}: {what}").format(
                    step=int(st.step),
                    name=name,
                    when=f"{st.waiting_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                    what=st.waiting_for or st.summary,
                )
            )
        elif st.status == StepStatus.WAITING_PERSON:
            lines.append(
                _("Step {step} {name} waits on you: {what}").format(
                    step=int(st.step), name=name, what=st.summary
                )
            )
    if graph_wait_until is not None and graph_wait_until > now:
        lines.append(
            _("Graph asked closeout to wait until {when}.").format(
                when=f"{graph_wait_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            )
        )
    if not lines:
        return ""
    tail = _(
        "These waits go on without closeout: nothing needs it running. Start it again later "
        "with: {command}\nor let closeout run --headless --notify COMMAND_OR_URL wait, and "
        "tell you when a wait ends."
    ).format(command=relaunch)
    return "\n".join([*(f"• {line}" for line in lines), tail])
