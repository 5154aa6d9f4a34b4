"""What the completion view says once the tenant is gone: which tenant, when closeout found it
deleted and on what grounds, what each step did, and where the evidence pack is.

Read from the evidence pack just written (its ``summary.json``), so the screen says exactly
what the evidence says (the steps' states, once the tenant is gone, all say only that). Plain
data; no Textual here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.evidence.layout import SUMMARY_JSON_FILE, default_pack_dir
from services.i18n import _, ngettext
from services.names import step_name
from services.plan.labels import ACTION_LABELS, action_label
from services.steps import load_registry
from services.timestamps import parse_time

from .since_left import when

if TYPE_CHECKING:
    from services.engine import Engine

KEPT_SHOWN = 3
"""Kept accounts named before "+N more"."""

_ORDER = {action: n for n, action in enumerate(ACTION_LABELS)}
"""Actions in the plan's order (a delete before its purge)."""


@dataclass(frozen=True)
class StepDone:
    heading: str
    """"1 Delete users"."""
    lines: list[str]
    """What it did through Graph, by action: "Delete users: 39 done"."""


@dataclass(frozen=True)
class Completion:
    tenant: str
    """"Fabrikam (fabrikam7.onmicrosoft.com)"."""
    found_gone: str
    """When closeout found the tenant deleted, and on what grounds."""
    steps: list[StepDone]
    subscriptions: list[str]
    """Each subscription of the inventory before: its product, status then and now."""
    kept: str
    """The accounts the plan kept (empty if none)."""
    pack: Path


def _results(counts: dict[str, int]) -> str:
    words = {
        "done": ngettext("{n:,} done", "{n:,} done", counts.get("done", 0)),
        "gone": ngettext("{n:,} already gone", "{n:,} already gone", counts.get("gone", 0)),
        "failed": ngettext("{n:,} failed", "{n:,} failed", counts.get("failed", 0)),
        "skipped": ngettext("{n:,} not finished", "{n:,} not finished", counts.get("skipped", 0)),
        "unknown": ngettext("{n:,} unknown", "{n:,} unknown", counts.get("unknown", 0)),
    }
    parts = [words.get(result, "{n:,} " + result).format(n=n) for result, n in counts.items() if n]
    return ", ".join(parts)


def read_completion(pack: Path) -> Completion:
    """The completion view's words, from the pack at ``pack``. Raises OSError or ValueError
    if the pack's summary cannot be read."""
    doc: dict[str, Any] = json.loads((pack / SUMMARY_JSON_FILE).read_text(encoding="utf-8"))
    tenant = doc.get("tenant") or {}
    summary = doc.get("summary") or {}
    by_step: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in doc.get("counts") or ():
        action, result = str(row.get("action")), str(row.get("result"))
        by_step[int(row.get("step") or 0)][action][result] = int(row.get("count") or 0)
    steps = []
    for step in load_registry().ids():
        actions = sorted(by_step.get(int(step), {}).items(), key=lambda kv: _ORDER.get(kv[0], 99))
        lines = [f"{action_label(action)}: {_results(results)}" for action, results in actions]
        steps.append(StepDone(f"{int(step)} {step_name(step)}", lines or [_("no writes by closeout")]))
    subscriptions = [
        _("{name} ({code}): {before} before, {now} now").format(
            name=sub.get("productName") or sub.get("skuPartNumber") or "",
            code=sub.get("skuPartNumber") or "",
            before=sub.get("statusBefore") or "?",
            now=sub.get("statusNow") or "?",
        )
        for sub in summary.get("subscriptions") or ()
        if isinstance(sub, dict)
    ]
    gone = summary.get("tenantDeletion") or {}
    at = parse_time(gone.get("t"))
    found = (
        _("Found deleted at {when}").format(when=when(at))
        if at is not None
        else _("Found deleted")
    )
    if gone.get("evidence"):
        found += f": {gone['evidence']}"
    keep = [str(upn) for upn in summary.get("keep") or ()]
    kept = ""
    if keep:
        named = ", ".join(keep[:KEPT_SHOWN])
        more = len(keep) - KEPT_SHOWN
        kept = _("Kept, as the plan said: {named}").format(named=named)
        if more > 0:
            kept += " " + _("(+{n:,} more)").format(n=more)
    name = f"{tenant.get('display_name', '')} ({tenant.get('initial_domain', '')})"
    return Completion(name, found, steps, subscriptions, kept, pack)


def export_dir(engine: Engine, now: datetime | None = None) -> Path:
    """A folder of its own for each pack the TUI writes (``e``, the completion view): never
    the run's own pack folder, which quitting writes, nor an earlier export's."""
    stamp = f"{now or datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    run = engine.run_id or stamp
    base = default_pack_dir(engine.caller.tenant.id, run, root=engine.state_root)
    target = base.with_name(f"{run}-export-{stamp}")
    for n in range(2, 100):  # e pressed twice within a second
        if not target.exists():
            break
        target = base.with_name(f"{run}-export-{stamp}-{n}")
    return target
