"""The evidence pack from what closeout kept locally, without Graph: ``closeout export
--offline``, for after the tenant is deleted and no token works any more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.inventory.model import subscriptions_summary
from services.json_text import read_member
from services.models import StepId, StepStatus

from .layout import DATA_OWNERS_FILE, default_pack_dir
from .rows import LatestOutcomes
from .write import write_pack


def export_offline(tenant_id: str, *, root: Path | None = None, out: Path | None = None) -> Path:
    """The evidence pack from what closeout kept locally, without Graph.

    After the tenant is deleted no token works any more, yet that is when the organization
    needs the evidence: the saved plan names the tenant, the journal holds every outcome and
    ``inventory-before.json`` the backup.
    """
    from services.journal.records import new_run_id
    from services.journal.writer import Journal
    from services.models import TenantInfo
    from services.saved_tenants import PLAN_NAME, UnreadablePlan, saved_plan_tenant

    # Reads only: a tenant closeout never reached gets no folder, and a plan copied from
    # another tenant's folder is refused rather than exported under this tenant's name.
    folder = saved_plan_tenant(tenant_id, root=root).folder
    try:
        tenant = TenantInfo(**read_member(folder / PLAN_NAME, "tenant"))
        keep = read_member(folder / PLAN_NAME, "keep") or []
    except (OSError, ValueError, KeyError, TypeError):
        raise UnreadablePlan(folder / PLAN_NAME) from None
    before_path = folder / "inventory-before.json"
    inventory: Any = before_path
    try:
        subscriptions = read_member(before_path, "subscriptions")
    except (OSError, ValueError):
        inventory, subscriptions = {}, None
    journal = Journal(tenant.id, root=root)
    runs: set[str] = set()
    step_5_done = False

    def scan() -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal step_5_done
        for offset, rec in journal.iter_positioned():
            kind = rec.get("kind")
            if kind == "run-start":
                runs.add(str(rec.get("run")))
            elif kind == "step" and rec.get("step") == int(StepId.DELETE_DIRECTORY):
                step_5_done = step_5_done or rec.get("status") == str(StepStatus.DONE)
            yield offset, rec

    outcomes = LatestOutcomes(journal, scan())
    detected = journal.tenant_gone_record()
    run_id = new_run_id()
    summary = {
        "offline": True,
        "tenantDeleted": step_5_done or detected is not None,
        "tenantDeletion": detected,
        "journal": journal.health.to_json(),
        "keep": [k.get("upn") for k in keep if isinstance(k, dict)],
        "runs": sorted(runs),
        "subscriptions": subscriptions_summary({"subscriptions": subscriptions}, None),
    }
    damaged = journal.health.warning(journal.path)
    target = out or default_pack_dir(tenant.id, run_id, root=root)
    return write_pack(
        target,
        tenant=tenant,
        inventory=inventory,
        outcomes=outcomes.rows(),
        summary=summary,
        run_id=run_id,
        replace=out is not None,
        warnings=[damaged] if damaged else [],
        data_owners=owners if (owners := folder / DATA_OWNERS_FILE).exists() else None,
    )
