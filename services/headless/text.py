"""``closeout plan`` and ``closeout status`` as text (or JSON): the plan step by step, each
step's state, and the subscriptions steps 2 and 3 wait on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from services.engine import Engine
from services.errors import CloseoutError
from services.i18n import _
from services.keep import keep_reason
from services.models import (
    StepId,
    StepState,
    SubscriptionRow,
)
from services.names import phase_word, status_word, step_name
from services.plan.labels import action_label, own_app_text, subscription_label
from services.steps import registry


def print_plan(engine: Engine, out: TextIO = sys.stdout, *, json_mode: bool = False) -> None:
    plan = engine.plan
    if plan is None:
        raise CloseoutError(_("No plan."))
    if json_mode:
        plan.write_json(out)
        return
    t = plan.tenant
    out.write(f"{_('Plan for')} {t.display_name} ({t.initial_domain}, {t.id})\n")
    out.write(f"{_('Kept')}:\n")
    for k in plan.keep:
        out.write(f"  {k.upn} — {keep_reason(k)}\n")
    out.write(f"{_('Sign-in app')}: {own_app_text(plan.own_app)}\n")
    for w in plan.warnings:
        out.write(f"! {w}\n")
    for step in registry.ids():
        actions = plan.for_step(step)
        out.write(f"\n{_('Step')} {int(step)} — {step_name(step)}: {len(actions)} {_('actions')}\n")
        by_action: dict[str, list[Any]] = {}
        for a in actions:
            by_action.setdefault(a.action, []).append(a)
        for action, items in by_action.items():
            out.write(f"  {action_label(action)} × {len(items):,}\n")
            for a in items[:10]:
                detail = f" ({a.detail})" if a.detail else ""
                out.write(f"    {a.label}{detail}\n")
            if len(items) > 10:
                out.write(f"    … {_('and')} {len(items) - 10:,} {_('more')}\n")


def subscriptions_left(step: StepId, subs: Sequence[SubscriptionRow]) -> list[SubscriptionRow]:
    """What ``step`` still has to see go, by its registry entry: step 2 the active or expired
    subscriptions, step 3 the disabled ones; none for the other steps."""
    phases = registry.step(step).subscriptions
    return [s for s in subs if s.phase in phases]


def print_status(
    states: dict[StepId, StepState],
    out: TextIO,
    *,
    json_mode: bool = False,
    subscriptions: Sequence[SubscriptionRow] = (),
) -> None:
    """Each step's state; steps 2 and 3 also list the subscriptions they wait on."""
    if json_mode:
        doc: dict[str, dict[str, Any]] = {}
        for s, v in states.items():
            doc[str(int(s))] = {
                "status": str(v.status),
                "summary": v.summary,
                "done": v.done,
                "total": v.total,
                "waiting_for": v.waiting_for,
                "waiting_until": v.waiting_until,
                "link": v.link,
                "blockers": list(v.blockers),
            }
            if registry.step(s).subscriptions:
                doc[str(int(s))]["subscriptions"] = [
                    {
                        "id": sub.id,
                        **sub.product.to_json(),
                        "status": sub.status,
                        "phase": str(sub.phase),
                        "isTrial": sub.is_trial,
                        "nextLifecycleDateTime": sub.next_lifecycle,
                    }
                    for sub in subscriptions_left(s, subscriptions)
                ]
        out.write(json.dumps(doc, default=str, indent=2, ensure_ascii=False) + "\n")
        return
    for s, v in states.items():
        until = f" ({_('until')} {v.waiting_until:%Y-%m-%d %H:%M} UTC)" if v.waiting_until else ""
        out.write(f"{int(s)} {step_name(s):<36} {status_word(v.status):<16} {v.summary}{until}\n")
        for b in v.blockers:
            out.write(f"    - {b}\n")
        for sub in subscriptions_left(s, subscriptions):
            out.write(f"    · {subscription_label(sub)}: {phase_word(sub.phase)}\n")
