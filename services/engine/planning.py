"""The engine's plan: the saved one (re-checked against the tenant and the options), a
fresh one from a fresh inventory, and when a saved plan no longer says what the options
ask, so that what is applied is what the plan shows.
"""

from __future__ import annotations

from pathlib import Path

from services.data_owners import csv_text, data_owners
from services.errors import CloseoutError
from services.evidence.layout import DATA_OWNERS_FILE
from services.heap import settle_after_load
from services.i18n import _
from services.json_text import write_private_chunks
from services.keep import MARKED, entries_for, marks_of
from services.models import StepId
from services.paths import refuse_symlink, tenant_dir, write_private
from services.plan.build import PlanOptions, build_plan
from services.plan.check import check_plan
from services.plan.model import Plan

from .reading import Reading


class Planning(Reading):
    """The engine's plan, saved or fresh (a layer of :class:`~services.engine.Engine`)."""

    # -- the plan ------------------------------------------------------------------------------

    @property
    def plan_path(self) -> Path:
        return self.dir / "plan.json"

    def load_plan(self) -> Plan | None:
        try:
            plan = Plan.from_json(self.plan_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CloseoutError(
                _("The saved plan {path} is unreadable: {error}").format(
                    path=self.plan_path, error=exc
                ),
                _("Make a new one with: closeout plan"),
            ) from None
        if plan.tenant.id != self.caller.tenant.id:
            return None
        # The file may have been edited by hand: hold it to the rules a new plan follows.
        check_plan(plan, self.caller, self.inventory)
        self.plan = plan
        self._adopt_marks(plan)
        settle_after_load(len(plan.actions))
        return plan

    def _adopt_marks(self, plan: Plan | None) -> None:
        """The accounts a saved plan keeps because the admin marked them stay marked in every
        plan this engine makes (taken once, from the first plan it sees)."""
        if self._marks_adopted:
            return
        self._marks_adopted = True
        have = set(self.options.keep_entries)
        self.options.keep_entries += tuple(m for m in marks_of(plan) if m not in have)

    def _saved_plan_quietly(self) -> Plan | None:
        """The saved plan of this tenant as written, or None (missing, unreadable, another
        tenant's): only to carry its marks over."""
        try:
            plan = Plan.from_json(self.plan_path.read_bytes())
        except (OSError, ValueError, CloseoutError):
            return None
        return plan if plan.tenant.id == self.caller.tenant.id else None

    def make_plan(self, *, save: bool | None = None) -> Plan:
        """A fresh plan from a fresh inventory (read-only towards Graph).

        Saved (with the inventory backup, if there is none yet) when ``save``, by default when
        :attr:`recording`: the saved plan is the one a run applies, so only a real run and
        ``closeout plan``, which prints all of it, may save one; a plan a read-only session
        showed in passing must not become it.
        """
        inv = self.inventory or self.refresh()
        if inv is None:
            raise CloseoutError(_("The tenant no longer exists; there is nothing to plan."))
        self._adopt_marks(self.plan or self._saved_plan_quietly())
        plan = build_plan(
            inv,
            self.caller,
            PlanOptions(
                keep_upns=self.options.keep_upns,
                keep_entries=self.options.keep_entries,
                disable_security_defaults=self.options.disable_security_defaults,
                disable_ca_mfa=self.options.disable_ca_mfa,
                own_app_ids=self.options.own_app_ids,
                delete_own_app=self.options.delete_own_app,
            ),
        )
        self.plan = plan
        settle_after_load(len(plan.actions))
        if self.recording if save is None else save:
            tenant_dir(self.caller.tenant.id, root=self.state_root)
            write_private_chunks(self.plan_path, plan.json_chunks())
            # The backup is written once; a link in its place is refused, not taken as it.
            before = refuse_symlink(self.dir / "inventory-before.json")
            if not before.exists():
                write_private_chunks(before, inv.json_chunks())
                # Beside it and from the same read, who holds mailbox or OneDrive data (by
                # licence), for every evidence pack: after step 1 Graph lists none of them.
                owners = refuse_symlink(self.dir / DATA_OWNERS_FILE)
                write_private(owners, csv_text(data_owners(inv, None)))
            if self.recording:
                self._writing.note("plan made", digest=plan.digest(), actions=len(plan.actions))
        return plan

    def ensure_plan(self) -> Plan:
        """The saved plan, re-checked against the current options; else a new one.

        A plan records what step 4 does to security defaults and Conditional Access; when
        ``--disable-security-defaults``/``--disable-ca-mfa`` now say otherwise, the plan is
        made again so that what is applied is what the plan shows.
        """
        plan = self.plan or self.load_plan()
        if (
            plan is not None
            and self._keeps_what_is_named(plan)
            and self._policy_choices_match(plan)
            and self._own_app_choice_matches(plan)
        ):
            return plan
        return self.make_plan()

    def _keeps_what_is_named(self, plan: Plan) -> bool:
        """The saved plan keeps every account the options name (by UPN or id), and keeps the
        MFA of those named to keep it."""
        kept = {k.id.casefold(): k for k in plan.keep} | {k.upn.casefold(): k for k in plan.keep}
        # Marks need no check: they come from a plan, or set_kept made one with them.
        named = [e for e in self.options.keep_entries if e.source != MARKED]
        for entry in entries_for(self.options.keep_upns, named):
            k = kept.get(entry.value.casefold())
            if k is None or (entry.keep_mfa and not k.keep_mfa):
                return False
        return True

    def _own_app_choice_matches(self, plan: Plan) -> bool:
        """The saved plan treats closeout's own app as ``--delete-own-app`` now says."""
        if self.inventory is None:
            return True
        own = self.context_for(plan).own_app()
        planned = {
            a.object_id: a.action
            for a in plan.for_step(StepId.DELETE_DIRECTORY)
            if a.action in ("delete-own-app", "hand-off-own-app")
        }
        wanted = "delete-own-app" if self.options.delete_own_app else "hand-off-own-app"
        return plan.own_app.get("appIds") == sorted(own.app_ids) and planned == {
            o.id: wanted for o in own.blocking
        }

    def _policy_choices_match(self, plan: Plan) -> bool:
        actions = {a.action for a in plan.for_step(StepId.DISABLE_MFA)}
        for turn_off, report, wanted in (
            (
                "disable-security-defaults",
                "report-security-defaults",
                self.options.disable_security_defaults,
            ),
            ("disable-ca-policy", "report-ca-policy", self.options.disable_ca_mfa),
        ):
            if (wanted and report in actions) or (not wanted and turn_off in actions):
                return False
        return True
