"""Reading the tenant for the engine: what stops a run (requirements), a fresh inventory
(or the recent one), and, once Graph refuses closeout's sign-in at the portal stage,
watching the tenant's public discovery document until it reports the tenant gone.
"""

from __future__ import annotations

import time

from services.deletion_evidence import reports_tenant_missing
from services.errors import AuthError, CloseoutError, GraphError
from services.heap import settle_after_load
from services.i18n import _
from services.inventory.model import Inventory
from services.inventory.take import PARTS, take_inventory
from services.journal.writer import TENANT_GONE_EVIDENCE
from services.models import Noted
from services.requirements import Missing, hinted_missing, learned_missing, missing_for
from services.steps import directory, registry

from .state import POLICY_REUSE, EngineState


class Reading(EngineState):
    """The engine's reads of the tenant (a layer of :class:`~services.engine.Engine`)."""

    # -- requirements and reading ---------------------------------------------------------------

    def missing(self) -> list[Missing]:
        """What stops a run: missing roles, permissions the sign-in did not get, and, when the
        permissions are unknown, the parts of the tenant Graph refused to show (403)."""
        found = missing_for(
            self.caller,
            registry.STEPS,
            read_only=self.options.read_only,
            disable_security_defaults=self.options.disable_security_defaults,
            disable_ca=self.options.disable_ca_mfa,
        )
        if self.caller.permissions is None and self.inventory is not None:
            found += learned_missing(self.inventory.denied)
        return found

    def hints(self) -> list[Missing]:
        """Permissions a readable token's claims say are missing: a warning, never a stop."""
        return hinted_missing(
            self.caller,
            registry.STEPS,
            read_only=self.options.read_only,
            disable_security_defaults=self.options.disable_security_defaults,
            disable_ca=self.options.disable_ca_mfa,
        )

    def refresh(self) -> Inventory | None:
        """A fresh inventory; None (and ``gone``) once the tenant no longer exists.

        Also None while closeout watches without a sign-in (``signed_out``): then only the
        tenant's public discovery document is read, gently, until it reports the tenant gone.
        """
        if self.gone:
            return None
        if self.signed_out:
            self._probe_discovery()
            return None
        # Conditional Access allows one request per second per tenant: re-use a read that is
        # only seconds old instead of tripping its limit (its 429s carry no Retry-After).
        recent = self.inventory is not None and time.monotonic() - self._policies_at < POLICY_REUSE
        parts = [p for p in PARTS if not (recent and p == "policies")]
        writes = self.client.writes_sent
        try:
            known = self.inventory.users if self.inventory is not None else ()
            inv = take_inventory(self.client, self.caller.tenant, parts, known=known)
        except (GraphError, AuthError) as exc:
            # Gone only when the refusal names this tenant as not found AND its public
            # discovery document agrees: any other 401 is a token problem, not a deletion.
            tenant = self.caller.tenant
            if reports_tenant_missing(exc, tenant.id, self.caller.domains) and (
                directory.tenant_gone(self.authority_base, tenant.id) is True
            ):
                # Two reads in flight (a watch and a refresh) both meet the refusal: the
                # deletion is recorded and said once.
                with self._lock:
                    first, self.gone = not self.gone, True
                if first:
                    if self.recording:
                        self._writing.tenant_gone("watch", TENANT_GONE_EVIDENCE)
                    self.emit(Noted("info", _("The tenant no longer exists.")))
                return None
            if self._sign_in_may_end() and _is_refusal(exc):
                self._start_watching_without_sign_in(exc)
                return None
            raise
        if recent and self.inventory is not None:
            inv.policies = self.inventory.policies
        else:
            self._policies_at = time.monotonic()
        with self._lock:
            self.inventory = inv
            self._read = (writes, time.monotonic())
        settle_after_load(len(inv.users))
        self.emit(inv.as_event())
        return inv

    # -- watching without a sign-in ---------------------------------------------------------------

    @property
    def sign_in_may_end(self) -> bool:
        """Graph refusing closeout's token now is expected (the TUI's log says so calmly)."""
        return self._sign_in_may_end() and not self.gone

    def _sign_in_may_end(self) -> bool:
        """Past the point where closeout's tokens are expected to stop working: it handed the
        portal's part over (the admin may delete closeout's app, then the tenant), or it
        deleted its own app itself."""
        return self._final_stage or self._own_app_deleted

    def _start_watching_without_sign_in(self, exc: CloseoutError) -> None:
        """Graph refuses closeout's token at the portal stage: as expected once its own app or
        the tenant is deleted. A refused token says nothing about the tenant itself, so "gone"
        comes only from the tenant's public discovery document (no token needed), which is
        all that is read from now on."""
        self.signed_out = True
        self.emit(
            Noted(
                "info",
                _(
                    "Microsoft Graph no longer accepts closeout's sign-in ({error}). As expected "
                    "once closeout's app or the tenant is deleted: closeout now watches the "
                    "tenant's public sign-in metadata until it reports the tenant gone."
                ).format(error=exc.message),
            )
        )
        if self.recording:
            self._writing.note("watching without sign-in", reason=exc.message)
        self._probe_discovery(force=True)

    def _probe_discovery(self, *, force: bool = False) -> None:
        # Gently: at most one unauthenticated request per poll interval.
        now = time.monotonic()
        if not force and now - self._probe_at < 0.9 * self.options.poll_interval:
            return
        self._probe_at = now
        if directory.tenant_gone(self.authority_base, self.caller.tenant.id) is True:
            self.gone = True
            self.emit(
                Noted(
                    "info",
                    _(
                        "The tenant no longer exists: its public sign-in metadata answers "
                        "AADSTS90002 (tenant not found)."
                    ),
                )
            )


def _is_refusal(exc: CloseoutError) -> bool:
    """Graph refused the token (401), or a new one could not be had (the app is gone)."""
    if isinstance(exc, GraphError):
        return exc.status == 401
    return isinstance(exc, AuthError)
