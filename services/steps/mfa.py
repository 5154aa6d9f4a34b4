"""Step 4 — turn multifactor authentication off for every remaining account except the admin
doing the work (per-user MFA: beta API only, graph-api.md §5), and report security defaults and
MFA-requiring Conditional Access policies, turning them off only when asked.
"""

from __future__ import annotations

from services import endpoints
from services.batch.items import BatchItem
from services.errors import GraphError
from services.i18n import N_, _, ngettext
from services.inventory.reads import read_policies
from services.models import GLOBAL_ADMIN, PolicyRow, StepId, StepState, StepStatus
from services.requirements import StepNeeds, Uses

from .base import StepContext, failed_results, state
from .step import Asking, Assessing, Assessment, Confirmation, Host, Ran, Step

STEP = StepId.DISABLE_MFA
MFA = endpoints.MFA_STATE
DEPENDS_ON = (StepId.DELETE_USERS,)


def targets(ctx: StepContext, existing: set[str]) -> list[tuple[str, str]]:
    return [
        (a.object_id, a.label)
        for a in ctx.plan.for_step(STEP)
        if a.action == "disable-mfa"
        and a.object_id in existing
        and a.object_id not in ctx.mfa_exempt_ids
    ]


def read_mfa(ctx: StepContext, user_ids: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    for uid in user_ids:
        try:
            body = ctx.client.get(MFA.url(id=uid), version=MFA.version)
            states[uid] = str(body.get("perUserMfaState") or "unknown")
        except GraphError as exc:
            if exc.status != 404:
                raise
    return states


def warnings(policies: list[PolicyRow]) -> list[str]:
    out = []
    for p in policies:
        if p.kind == "securityDefaults" and p.state == "enabled":
            out.append(
                _(
                    "Security defaults are on. Turning them off (--disable-security-defaults) also stops "
                    "requiring MFA for you, the remaining admin."
                )
            )
        elif p.kind == "conditionalAccess" and p.requires_mfa and p.state != "disabled":
            out.append(
                _(
                    "Conditional Access policy '{name}' ({state}) requires MFA. Turning it off "
                    "(--disable-ca-mfa) means it no longer asks you for MFA either."
                ).format(name=p.display_name, state=p.state)
            )
    return out


def planned_policy_ids(ctx: StepContext) -> set[str]:
    """The policies the plan turns off (only with --disable-security-defaults/--disable-ca-mfa)."""
    return {
        a.object_id
        for a in ctx.plan.for_step(STEP)
        if a.action in ("disable-security-defaults", "disable-ca-policy")
    }


def assess(
    ctx: StepContext, step1_done: bool, users: set[str], policies: list[PolicyRow]
) -> StepState:
    if not step1_done:
        return state(
            STEP,
            StepStatus.BLOCKED,
            _("Waits for step 1 (users deleted)."),
            blockers=(_("Step 1 is not done."),),
        )
    todo = targets(ctx, users)
    mfa = read_mfa(ctx, [uid for uid, _label in todo])
    pending_users = [uid for uid, _label in todo if mfa.get(uid) not in (None, "disabled")]
    planned = planned_policy_ids(ctx)
    pending_policies = [p for p in policies if p.state != "disabled" and p.id in planned]
    notes = tuple(warnings(policies))
    # Count what the plan turns off, so that "done" keeps its total once policies are off.
    total = len(todo) + len(planned)
    if pending_users or pending_policies:
        return state(
            STEP,
            StepStatus.PENDING,
            ngettext(
                "{n} account still has per-user MFA",
                "{n} accounts still have per-user MFA",
                len(pending_users),
            ).format(n=len(pending_users))
            + "; "
            + ngettext(
                "{n} policy to turn off.", "{n} policies to turn off.", len(pending_policies)
            ).format(n=len(pending_policies)),
            done=total - len(pending_users) - len(pending_policies),
            total=total,
            blockers=notes,
        )
    return state(
        STEP,
        StepStatus.DONE,
        _("Per-user MFA is off for every account except yours."),
        done=total,
        total=total,
        blockers=notes,
    )


def run(ctx: StepContext, existing_users: set[str]) -> list[str]:
    """Turn per-user MFA off (batched, beta) and, if asked, the policies. Returns failures."""
    failures: list[str] = []
    todo = targets(ctx, existing_users)
    mfa = read_mfa(ctx, [uid for uid, _label in todo])
    items = [
        BatchItem.of(
            endpoints.MFA_UPDATE,
            uid,
            body={"perUserMfaState": "disabled"},
            action="disable-mfa",
            label=label,
        )
        for uid, label in todo
        if mfa.get(uid) not in (None, "disabled")
    ]
    for r in failed_results(ctx.execute(STEP, items)):
        failures.append(f"{r.item.label}: {r.code} {r.message}")
    policies = read_policies(ctx.client)
    planned = planned_policy_ids(ctx)
    for p in policies:
        if p.state == "disabled" or p.id not in planned:
            continue  # a policy that appeared after planning is reported, not turned off
        if p.kind == "securityDefaults":
            item = BatchItem.of(
                endpoints.SECURITY_DEFAULTS_UPDATE,
                p.id,
                body={"isEnabled": False},
                action="disable-security-defaults",
                label=p.display_name,
            )
        elif p.kind == "conditionalAccess":
            # One at a time and spaced: Conditional Access throttles at 1 request/s, no Retry-After.
            if ctx.control.wait(ctx.options.ca_spacing):
                break
            item = BatchItem.of(
                endpoints.CA_POLICY_UPDATE,
                p.id,
                body={"state": "disabled"},
                action="disable-ca-policy",
                label=p.display_name,
            )
        else:
            continue
        for r in failed_results(ctx.execute(STEP, [item])):
            failures.append(f"{r.item.label}: {r.code} {r.message}")
    return failures


def _assess(a: Assessing) -> Assessment:
    inv = a.inventory
    return Assessment(assess(a.ctx, a.done(DEPENDS_ON), {u.id for u in inv.users}, inv.policies))


def _run(ctx: StepContext, host: Host) -> Ran:
    return Ran(failures=tuple(run(ctx, {u.id for u in ctx.inventory.users})))


def confirmation(ask: Asking) -> Confirmation:
    plan, st = ask.plan, ask.state
    return Confirmation(
        _("Turn off MFA for {n:,} accounts and the policies you named?").format(
            n=len(plan.ids("disable-mfa"))
        )
        if plan is not None
        else "",
        _("Turn multifactor authentication off?"),
        (
            _("Per-user MFA will be turned off for {n:,} accounts; yours stays on.").format(
                n=max(st.total - st.done, 0)
            ),
        ),
        _("Continue"),
    )


_MFA_OFF = N_("turn per-user MFA off")

NEEDS = StepNeeds(
    roles=(GLOBAL_ADMIN,),
    uses=(
        Uses(endpoints.MFA_STATE, _MFA_OFF),
        Uses(endpoints.MFA_UPDATE, _MFA_OFF),
        Uses(
            endpoints.SECURITY_DEFAULTS_UPDATE,
            N_("turn security defaults off"),
            when="security-defaults",
        ),
        Uses(endpoints.CA_POLICY_UPDATE, N_("turn Conditional Access policies off"), when="ca"),
    ),
)

DISABLE_MFA = Step(
    id=STEP,
    name=N_("Disable multifactor authentication"),
    short_name=N_("MFA off"),
    help=N_(
        "Turns per-user MFA off for every remaining account except yours; reports security defaults and "
        "Conditional Access policies that require MFA (turned off only with the command-line flags)."
    ),
    assess=_assess,
    requires=NEEDS,
    depends_on=DEPENDS_ON,
    run=_run,
    run_label=N_("turn MFA off"),
    confirm=confirmation,
    counts=frozenset({"disable-mfa", "disable-security-defaults", "disable-ca-policy"}),
)
