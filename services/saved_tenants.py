"""Tenants closeout has reached before, found in its state folders without creating any.

A tenant counts as reached when its folder holds a journal with records or a saved plan of that
very tenant: closeout writes either only after Graph confirmed the sign-in. Used where Graph
cannot answer: weighing the evidence that a tenant was deleted, and ``export --offline``.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AuthError, CloseoutError
from .i18n import _
from .journal.records import JOURNAL_NAME
from .json_text import read_member
from .paths import existing_tenant_dir, existing_tenant_dirs, tenants_path

PLAN_NAME = "plan.json"
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class SavedTenant:
    id: str
    """The folder's tenant id (the GUID Graph gave when closeout reached the tenant)."""
    folder: Path
    plan_tenant: dict[str, Any] | None
    """The saved plan's ``tenant`` object, as written (None without a readable plan)."""
    has_journal: bool

    @property
    def initial_domain(self) -> str:
        return str((self.plan_tenant or {}).get("initial_domain") or "")

    @property
    def plan_is_its_own(self) -> bool:
        """The saved plan is this tenant's (a plan copied from another folder is not)."""
        return str((self.plan_tenant or {}).get("id") or "").lower() == self.id

    @property
    def reached(self) -> bool:
        return self.has_journal or self.plan_is_its_own


def _plan_tenant(folder: Path) -> dict[str, Any] | None:
    try:
        # Only the tenant: a 100,000-user plan is 200,000 actions.
        tenant = read_member(folder / PLAN_NAME, "tenant")
    except (OSError, ValueError):
        return None
    return tenant if isinstance(tenant, dict) else None


def _has_records(path: Path) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


def _read(folder: Path) -> SavedTenant:
    return SavedTenant(
        id=folder.name.lower(),
        folder=folder,
        plan_tenant=_plan_tenant(folder),
        has_journal=_has_records(folder / JOURNAL_NAME),
    )


def find_saved_tenant(name: str, *, root: Path | None = None) -> SavedTenant | None:
    """The folder closeout keeps for ``name``: a tenant id, or the initial domain a saved plan
    names (any letter case). None when there is no such folder; nothing is created."""
    name = (name or "").strip().lower()
    if not name:
        return None
    if _GUID.fullmatch(name):
        folder = existing_tenant_dir(name, root=root)
        return _read(folder) if folder is not None else None
    for folder in existing_tenant_dirs(root=root):
        if not _GUID.fullmatch(folder.name):
            continue
        saved = _read(folder)
        if saved.plan_is_its_own and saved.initial_domain.lower() == name:
            return saved
    return None


def reached_tenant(name: str, *, root: Path | None = None) -> SavedTenant | None:
    """Like :func:`find_saved_tenant`, but only a tenant closeout has really reached before."""
    saved = find_saved_tenant(name, root=root)
    return saved if saved is not None and saved.reached else None


class ForeignPlan(AuthError):
    """The plan saved in a tenant's folder is another tenant's: nothing is exported from it."""


class UnreadablePlan(CloseoutError):
    """A saved plan is there but cannot be read (damaged, edited, or not closeout's)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            _("The saved plan {path} cannot be read: it is damaged or not closeout's.").format(
                path=path
            ),
            _("Put back the plan.json closeout wrote (from a backup); nothing was exported."),
        )


def saved_plan_tenant(name: str, *, root: Path | None = None) -> SavedTenant:
    """The folder of the named tenant (id or initial domain) with that tenant's own saved plan.

    Raises :class:`~services.errors.CloseoutError` if closeout has none, :class:`ForeignPlan`
    if the plan there names another tenant (copied in by hand).
    """
    saved = find_saved_tenant(name, root=root)
    if saved is not None and saved.plan_tenant is None and (saved.folder / PLAN_NAME).exists():
        raise UnreadablePlan(saved.folder / PLAN_NAME)
    if saved is None or saved.plan_tenant is None:
        raise CloseoutError(
            _("closeout has no saved plan for tenant {tenant} in {path}.").format(
                tenant=name, path=saved.folder if saved else tenants_path(root=root)
            ),
            _("Check --tenant (the tenant id or initial domain) and --state-dir."),
        )
    if not saved.plan_is_its_own:
        other = saved.plan_tenant
        raise ForeignPlan(
            _(
                "Wrong tenant: the plan saved for {asked} in {path} is for {name} ({domain}, "
                "tenant id {id}). Nothing was exported."
            ).format(
                asked=name,
                path=saved.folder,
                name=other.get("display_name") or "?",
                domain=other.get("initial_domain") or "?",
                id=other.get("id") or "?",
            ),
            _(
                "make a new plan for {asked} with closeout plan while it can still be reached"
            ).format(asked=name),
        )
    return saved
