"""Plays the admin's part in the portals, for the sandbox only: cancel and delete subscriptions
(asking the partner for partner-bought ones), delete self-service sign-up products in Entra,
clear the checks no API can make, and select "Delete tenant" once the portal's checks pass.

:class:`PortalPlayer` does it on a :class:`Portal`: the in-process
:class:`~services.sandbox.core.Sandbox` itself (:class:`InProcessPortal`: the TUI's sandbox-only
key, and the headless demo's timer so that ``closeout run --headless --demo`` finishes by
itself), or a sandbox served elsewhere, through its ``/_sandbox/`` control endpoints
(:class:`HttpPortal`: ``closeout sandbox portal``, for headless runs against
``closeout sandbox serve``). The real code path never imports this module.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from .http import GraphHttpError

if TYPE_CHECKING:
    from .core import Sandbox

__all__ = ["HttpPortal", "InProcessPortal", "Portal", "PortalPlayer", "SubscriptionView"]

log = logging.getLogger("closeout.sandbox.portal")


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the admin center lists it."""

    id: str
    name: str
    status: str
    partner: bool
    marked_for_deletion: bool
    self_service: bool


class Portal(Protocol):
    """The admin centers' part of a close-out, on some sandbox. Refusals raise
    :class:`~services.sandbox.http.GraphHttpError`, as the portal shows an error."""

    def subscriptions(self) -> list[SubscriptionView]: ...

    def manual_checks(self) -> dict[str, bool]: ...

    def deletion_blockers(self) -> list[str]: ...

    def tenant_deleted(self) -> bool: ...

    def cancel_subscription(self, sub_id: str, *, as_partner: bool) -> None: ...

    def delete_subscription(self, sub_id: str) -> None: ...

    def delete_self_service_product(self, sub_id: str) -> None: ...

    def resolve_manual(self, key: str) -> None: ...

    def delete_tenant(self) -> None: ...


class InProcessPortal:
    """The portal of a sandbox in this process."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def subscriptions(self) -> list[SubscriptionView]:
        t = self.sandbox.tenant
        return [
            SubscriptionView(
                s.id,
                t.skus[s.sku_id].sku_part_number if s.sku_id in t.skus else s.id,
                s.status,
                bool(s.owner_tenant_id),
                s.marked_for_deletion,
                s.self_service,
            )
            for s in list(t.subscriptions.values())
        ]

    def manual_checks(self) -> dict[str, bool]:
        return {k: b.resolved for k, b in self.sandbox.tenant.manual_blockers.items()}

    def deletion_blockers(self) -> list[str]:
        return [] if self.sandbox.tenant.deleted else self.sandbox.deletion_blockers()

    def tenant_deleted(self) -> bool:
        return self.sandbox.tenant.deleted

    def cancel_subscription(self, sub_id: str, *, as_partner: bool) -> None:
        self.sandbox.cancel_subscription(sub_id, as_partner=as_partner)

    def delete_subscription(self, sub_id: str) -> None:
        self.sandbox.delete_subscription(sub_id)

    def delete_self_service_product(self, sub_id: str) -> None:
        self.sandbox.delete_self_service_product(sub_id)

    def resolve_manual(self, key: str) -> None:
        self.sandbox.resolve_manual(key)

    def delete_tenant(self) -> None:
        self.sandbox.delete_tenant()


class HttpPortal:
    """The portal of a sandbox served on loopback (``closeout sandbox serve``), through its
    sandbox-only control endpoints. Refuses any other host: this must never reach a real
    service."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        import requests  # only the command that reaches a served sandbox needs it

        host = urlsplit(base_url).hostname or ""
        if not _loopback(host):
            raise ValueError(f"{base_url}: a sandbox is served on loopback only")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        self._http.trust_env = False  # never through a proxy: loopback, and nothing else

    def close(self) -> None:
        self._http.close()

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def subscriptions(self) -> list[SubscriptionView]:
        return [
            SubscriptionView(
                s["id"],
                s["sku"],
                s["status"],
                s["partner"],
                s["markedForDeletion"],
                s["selfService"],
            )
            for s in self.state()["subscriptions"]
        ]

    def manual_checks(self) -> dict[str, bool]:
        return dict(self.state()["manual"])

    def deletion_blockers(self) -> list[str]:
        return list(self.state()["deletionBlockers"])

    def tenant_deleted(self) -> bool:
        return bool(self.state()["tenantDeleted"])

    def cancel_subscription(self, sub_id: str, *, as_partner: bool) -> None:
        self._call("POST", f"subscriptions/{sub_id}/cancel", {"asPartner": as_partner})

    def delete_subscription(self, sub_id: str) -> None:
        self._call("POST", f"subscriptions/{sub_id}/delete")

    def delete_self_service_product(self, sub_id: str) -> None:
        self._call("POST", f"self-service/{sub_id}/delete")

    def resolve_manual(self, key: str) -> None:
        self._call("POST", f"manual/{key}/resolve")

    def delete_tenant(self) -> None:
        self._call("POST", "tenant/delete")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self._http.request(
            method,
            f"{self.base_url}/_sandbox/{path}",
            json=body if method == "POST" else None,
            timeout=self.timeout,
            allow_redirects=False,
        )
        if r.status_code >= 400:
            try:
                error = r.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "Unexpected", f"HTTP {r.status_code}"
            raise GraphHttpError(r.status_code, code, message)
        if r.status_code == 204 or not r.content:
            return None
        return r.json()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PortalPlayer:
    def __init__(
        self,
        sandbox: Sandbox | Portal,
        engine: Any = None,
        *,
        interval: float = 1.0,
        delay: float = 2.0,
    ) -> None:
        from .core import Sandbox

        self.portal: Portal = InProcessPortal(sandbox) if isinstance(sandbox, Sandbox) else sandbox
        self.engine = engine
        self.interval = interval
        self.delay = delay
        self.actions: list[str] = []

    def cancel_active(self) -> list[str]:
        """Step 2's handoff: cancel every active or expired subscription."""
        done = []
        for sub in self.portal.subscriptions():
            if sub.status in ("Enabled", "Warning") and not sub.self_service:
                try:
                    self.portal.cancel_subscription(sub.id, as_partner=sub.partner)
                    how = " (by the partner)" if sub.partner else ""
                    done.append(f"cancelled {sub.name}{how}")
                except GraphHttpError as exc:
                    done.append(f"could not cancel {sub.name}: {exc.message}")
        return self._log(done)

    def delete_disabled(self) -> list[str]:
        """Step 3's handoff: delete every disabled subscription."""
        done = []
        for sub in self.portal.subscriptions():
            if sub.status in ("Suspended", "LockedOut") and not sub.marked_for_deletion:
                self.portal.delete_subscription(sub.id)
                done.append(f"deleted {sub.name}")
        return self._log(done)

    def delete_self_service(self) -> list[str]:
        """Step 5's handoff: Entra admin center > Licenses > Self-service sign-up products."""
        done = []
        for sub in self.portal.subscriptions():
            if sub.self_service and sub.status != "Deleted":
                self.portal.delete_self_service_product(sub.id)
                done.append(f"deleted the self-service product {sub.name}")
        return self._log(done)

    def resolve_manual(self) -> list[str]:
        done = []
        for key, resolved in self.portal.manual_checks().items():
            if not resolved:
                self.portal.resolve_manual(key)
                done.append(f"resolved {key}")
        return self._log(done)

    def delete_tenant(self) -> list[str]:
        """Select Delete in the Entra admin center; the portal refuses while a check fails."""
        if self.portal.tenant_deleted():
            return []
        try:
            self.portal.delete_tenant()
        except GraphHttpError as exc:
            return self._log([f"Delete tenant refused: {exc.message}"])
        return self._log(["deleted the tenant"])

    def play(self, step: int) -> list[str]:
        """The portal part of one step's handoff."""
        if step == 2:
            return self.cancel_active()
        if step == 3:
            return self.delete_disabled()
        if step == 5:
            out = self.resolve_manual() + self.delete_self_service()
            if not self.portal.deletion_blockers():
                out += self.delete_tenant()
            return out
        return []

    def play_all(self) -> list[str]:
        out = (
            self.cancel_active()
            + self.delete_disabled()
            + self.resolve_manual()
            + self.delete_self_service()
        )
        if not self.portal.deletion_blockers():
            out += self.delete_tenant()
        return out

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            if stop.wait(self.delay):
                return
            while not stop.is_set() and not self.portal.tenant_deleted():
                try:
                    self.play_all()
                except Exception:  # the demo's stand-in must never take the run down
                    log.exception("portal player failed")
                if stop.wait(self.interval):
                    return

        thread = threading.Thread(target=loop, name="sandbox-portal-player", daemon=True)
        thread.start()
        return thread

    def _log(self, lines: list[str]) -> list[str]:
        for line in lines:
            log.info("[sandbox portal] %s", line)
        self.actions += lines
        return lines
