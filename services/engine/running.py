"""Running steps: what a step can do now through the API, then its state re-read from
Graph, the typed-domain check before anything irreversible, and the last resort (every
service principal, after the portal refused Delete tenant). Completes
:class:`services.engine.Engine`.
"""

from __future__ import annotations

from services.control import RunControl
from services.errors import CloseoutError
from services.i18n import _, ngettext
from services.models import StepId, StepState, StepStatus
from services.steps import delete_directory, last_resort, registry
from services.steps.step import Ran

from .assessing import Assessment
from .state import POLICY_REUSE


class ConfirmationMismatch(CloseoutError):
    """The typed domain is not the tenant's initial domain: nothing is sent to the tenant.

    Only closeout's own record of the run is written (the journal keeps the refused
    confirmation, which is why the message does not say that nothing changed)."""


class Engine(Assessment):
    """The closure engine (see :mod:`services.engine`): its last layer runs the steps."""

    # -- acting --------------------------------------------------------------------------------

    def check_domain(self, typed: str | None, what: str = "delete-directory") -> None:
        expected = self.caller.tenant.initial_domain
        if (typed or "").strip() != expected:
            if self.recording:
                self._writing.confirm(what, 0, matched=False, expected=expected)
            raise ConfirmationMismatch(
                _(
                    "The domain given does not match the initial domain {domain}; nothing was "
                    "sent to the tenant."
                ).format(domain=expected),
                _("Give the initial domain exactly as shown, *.onmicrosoft.com included."),
            )

    def run_step(
        self, step: StepId, *, confirm_domain: str | None = None, control: RunControl | None = None
    ) -> StepState:
        """Do what ``step`` can do now through the API, then re-assess it from Graph.

        ``control``: the step's own (a child of :attr:`control`, so that a session stop reaches
        it); the step's reads wait on it too, so stopping the step interrupts them."""
        with self.client.waits_on(control or self.control):
            return self._run_step(step, confirm_domain=confirm_domain, control=control)

    def _run_step(
        self, step: StepId, *, confirm_domain: str | None, control: RunControl | None
    ) -> StepState:
        spec = registry.step(step)
        if self.plan is None:
            self.ensure_plan()
        if spec.typed_domain:
            self.check_domain(confirm_domain)  # before anything is sent
        ctx = self.context(control)
        self._policies_at = -POLICY_REUSE  # what this step changes must be read afresh after
        before = self.states[step]
        self._set_state(
            StepState(
                step, StepStatus.RUNNING, before.summary, before.done, before.total, before.failed
            )
        )
        try:
            if spec.typed_domain and self.recording:
                self._writing.confirm(
                    "delete-directory",
                    len(ctx.plan.for_step(step)),
                    matched=True,
                    expected=self.caller.tenant.initial_domain,
                )
            ran = spec.run(ctx, self) if spec.run is not None else Ran()
            self._after_run(ran)
            self.assess(refresh=not ran.fresh)
        except CloseoutError:
            self._set_state(before)
            raise
        if ran.state is not None and ran.state.status == StepStatus.FAILED:
            return self._keep(ran.state)  # the step's own count of what failed stands
        return self._outcome(step, ran.failures)

    def _after_run(self, ran: Ran) -> None:
        if ran.state is not None:
            self._set_state(ran.state)
        if ran.sign_in_ends:
            self._own_app_deleted = True
        if ran.handoff is not None:
            self._publish_handoff(ran.handoff)

    def _outcome(self, step: StepId, failures: tuple[str, ...]) -> StepState:
        """The step as Graph now shows it, or failed with what failed if it is not done."""
        after = self.states[step]
        if failures and after.status != StepStatus.DONE:
            return self._keep(
                StepState(
                    step,
                    StepStatus.FAILED,
                    ngettext("{n} action failed.", "{n} actions failed.", len(failures)).format(
                        n=len(failures)
                    ),
                    after.done,
                    after.total,
                    len(failures),
                    blockers=failures + after.blockers,
                )
            )
        return after

    def _keep(self, state: StepState) -> StepState:
        self._set_state(state)
        return state

    # -- the last resort: every service principal ------------------------------------------------

    def last_resort_available(self) -> bool:
        """Only at the portal stage, while closeout can still sign in: the portal can have
        refused "Delete tenant" only once closeout handed it over."""
        return (
            self._final_stage
            and not self.signed_out
            and not self.gone
            and not self.options.read_only
            and self.inventory is not None
        )

    def last_resort_consequences(self) -> list[str]:
        inv = self.inventory
        return last_resort.consequences(self.context(), inv) if inv is not None else []

    def remove_all_service_principals(
        self, confirm_domain: str | None, *, control: RunControl | None = None
    ) -> StepState:
        """DELTEN's "Remove enterprise apps that you can't delete", after the portal refused."""
        with self.client.waits_on(control or self.control):
            return self._remove_all_service_principals(confirm_domain, control=control)

    def _remove_all_service_principals(
        self, confirm_domain: str | None, *, control: RunControl | None
    ) -> StepState:
        if not self.last_resort_available():
            raise CloseoutError(
                _(
                    "Removing every service principal is offered only after closeout handed "
                    "Delete tenant over and the portal refused it; nothing was changed."
                ),
                _("Follow step 5's handoff first; if the portal refuses, come back to this."),
            )
        self.check_domain(confirm_domain, last_resort.CONFIRM_WHAT)
        inv = self.refresh()
        if inv is None:
            return self.states[StepId.DELETE_DIRECTORY]
        ctx = self.context(control)
        rest, graph, _own = last_resort.targets(ctx, inv)
        if self.recording:
            self._writing.confirm(
                last_resort.CONFIRM_WHAT,
                len(rest) + len(graph),
                matched=True,
                expected=self.caller.tenant.initial_domain,
            )
        self._last_resort = True
        ran = delete_directory.after_cleanup(ctx, self, last_resort.run(ctx, inv))
        self._after_run(ran)
        self.assess(refresh=True)
        return self._outcome(StepId.DELETE_DIRECTORY, ran.failures)
