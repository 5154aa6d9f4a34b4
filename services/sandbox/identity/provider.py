"""The sandbox's identity state: app registrations and device codes, one per sandbox.

A device code lives from issue to redemption here: approved or denied by the person at the
browser (or the tests, or ``SandboxConfig.device_code_auto_approve``), expired after 15
minutes, redeemed once. The module-level functions are how tests and the demo play that person.
Thread-safe.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .client_credentials import AppRegistration, load_registration
from .oauth import IdentityError

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.tenant import User

# Real Entra user codes are nine characters; leave out letters and digits that people misread.
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
_USER_CODE_LENGTH = 9

CodeStatus = Literal["pending", "approved", "denied", "redeemed", "blocked"]


@dataclass
class DeviceCode:
    device_code: str = field(repr=False)
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    """As the client sent them (resource prefixes kept, OIDC scopes included)."""
    tenant: str
    """The tenant segment the flow was started on (id, domain or ``organizations``)."""
    expires_at: float  # time.monotonic()
    auto_approve_at: float | None
    status: CodeStatus = "pending"
    user_id: str | None = None
    upn: str | None = None


def _normalize_user_code(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


class IdentityProvider:
    """Per-sandbox identity state: app registrations and device codes. Thread-safe."""

    device_code_lifetime: float = 900.0
    """Real seconds a device code stays usable (Entra: 15 minutes)."""
    poll_interval: int = 1
    """Seconds the client is told to wait between polls (Entra says 5; 1 keeps tests fast)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self._apps: dict[str, AppRegistration] = {}
        self._by_device: dict[str, DeviceCode] = {}
        self._by_user: dict[str, DeviceCode] = {}

    # -- app registrations -------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        certificate_pem: str | bytes,
        roles: set[str] | frozenset[str] | list[str] | tuple[str, ...],
        *,
        display_name: str | None = None,
    ) -> AppRegistration:
        """Register (or replace) an app that authenticates with this certificate."""
        app = load_registration(client_id, certificate_pem, roles, display_name=display_name)
        with self._lock:
            self._apps[app.client_id] = app
        return app

    def app(self, client_id: str) -> AppRegistration | None:
        with self._lock:
            return self._apps.get(client_id.lower())

    # -- device codes --------------------------------------------------------------------

    def issue_device_code(self, client_id: str, scopes: tuple[str, ...], tenant: str) -> DeviceCode:
        now = time.monotonic()
        delay = self.sandbox.config.device_code_auto_approve
        with self._lock:
            self._forget_expired(now)
            while True:
                user_code = "".join(
                    secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH)
                )
                if user_code not in self._by_user:
                    break
            code = DeviceCode(
                device_code=secrets.token_urlsafe(48),
                user_code=user_code,
                client_id=client_id,
                scopes=scopes,
                tenant=tenant,
                expires_at=now + self.device_code_lifetime,
                auto_approve_at=None if delay is None else now + float(delay),
            )
            self._by_device[code.device_code] = code
            self._by_user[code.user_code] = code
        return code

    def _forget_expired(self, now: float) -> None:
        """Drop codes long past their expiry (call with the lock held)."""
        stale = [c for c in self._by_user.values() if now > c.expires_at + 3600]
        for code in stale:
            self._by_user.pop(code.user_code, None)
            self._by_device.pop(code.device_code, None)

    def _code_for_user(self, user_code: str) -> DeviceCode:
        code = self._by_user.get(_normalize_user_code(user_code))
        if code is None:
            raise LookupError(
                "That code wasn't found. Check the code and try again "
                "(AADSTS70018: Invalid verification code)."
            )
        return code

    def approve(self, user_code: str, upn: str | None = None) -> dict[str, Any]:
        """Sign in as ``upn`` (default: the admin) and approve the code, as the browser would."""
        user = self._find_user(upn)
        with self._lock:
            code = self._code_for_user(user_code)
            self._check_decidable(code)
            code.status = "approved"
            code.user_id = user.id
            code.upn = user.user_principal_name
            return self._describe(code)

    def deny(self, user_code: str) -> dict[str, Any]:
        """Decline the sign-in request, as the browser's "Cancel" would."""
        with self._lock:
            code = self._code_for_user(user_code)
            self._check_decidable(code)
            code.status = "denied"
            return self._describe(code)

    def expire(self, user_code: str) -> dict[str, Any]:
        """Let the code run out now (tests: the 15 minutes have passed)."""
        with self._lock:
            code = self._code_for_user(user_code)
            code.expires_at = time.monotonic() - 1.0
            code.auto_approve_at = None
            return self._describe(code)

    def pending(self) -> list[dict[str, Any]]:
        """Codes that wait for a person, oldest first (no device codes: those are secrets)."""
        now = time.monotonic()
        with self._lock:
            return [
                self._describe(c)
                for c in self._by_user.values()
                if c.status == "pending" and now <= c.expires_at
            ]

    def redeem(
        self,
        client_id: str,
        device_code: str,
        tenant: str,
        issue: Callable[[DeviceCode], dict[str, Any]],
    ) -> dict[str, Any]:
        """The device code grant's answer to one poll: an ``IdentityError`` while the code is
        pending, declined, expired, used or blocked, else what ``issue`` makes of the approved
        code, which is then redeemed. Atomic: two polls never redeem one code twice."""
        now = time.monotonic()
        with self._lock:
            code = self._by_device.get(device_code)
            if code is None or code.client_id != client_id or code.tenant != tenant:
                raise IdentityError(
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed: the device code is not known.",
                )
            if (
                code.status == "pending"
                and code.auto_approve_at is not None
                and now >= code.auto_approve_at
                and now <= code.expires_at
            ):
                # The demo's stand-in for the person at the browser.
                try:
                    user = self._find_user(None)
                except LookupError:
                    user = None
                if user is not None:
                    code.status, code.user_id, code.upn = (
                        "approved",
                        user.id,
                        user.user_principal_name,
                    )
            if code.status in ("pending", "approved") and now > code.expires_at:
                raise IdentityError(
                    "expired_token",
                    70019,
                    "Verification code expired. The device code has expired; start the sign-in "
                    "again.",
                )
            if code.status == "pending":
                raise IdentityError(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            if code.status == "denied":
                raise IdentityError(
                    "authorization_declined",
                    65004,
                    "User declined to consent to access the app.",
                )
            if code.status == "redeemed":
                raise IdentityError(
                    "invalid_grant",
                    54005,
                    "The device code was already redeemed, please retry with a new valid code.",
                )
            if (
                code.status == "blocked"
                or self.sandbox.config.conditional_access_blocks_device_code
            ):
                code.status = "blocked"
                raise IdentityError(
                    "invalid_grant",
                    53003,
                    "Access has been blocked by Conditional Access policies. The access policy "
                    "does not allow token issuance.",
                    suberror="message_only",
                )
            assert code.user_id is not None
            # Consent is checked after sign-in, as Entra does; the code stays usable so an
            # admin who grants consent meanwhile is not forced to start over.
            response = issue(code)
            code.status = "redeemed"
        return response

    def _check_decidable(self, code: DeviceCode) -> None:
        if time.monotonic() > code.expires_at:
            raise LookupError("That code has expired. Start the sign-in again on your device.")
        if code.status != "pending":
            raise LookupError(f"That code was already used ({code.status}).")

    def _describe(self, code: DeviceCode) -> dict[str, Any]:
        remaining = max(0.0, code.expires_at - time.monotonic())
        return {
            "user_code": code.user_code,
            "client_id": code.client_id,
            "status": "expired" if remaining <= 0 and code.status == "pending" else code.status,
            "upn": code.upn,
            "scopes": list(code.scopes),
            "expires_in": round(remaining, 1),
        }

    def _find_user(self, upn: str | None) -> User:
        sb = self.sandbox
        with sb.lock:
            if sb.tenant.deleted:
                raise LookupError(f"The organization {sb.tenant_id} no longer exists.")
            user = sb.tenant.find_user(upn) if upn else sb.tenant.users.get(sb.admin_id)
        if user is None:
            raise LookupError(
                f"AADSTS50034: The user account {upn} does not exist in the "
                f"{sb.initial_domain} directory."
            )
        if not user.account_enabled:
            raise LookupError(
                "AADSTS50057: The user account is disabled. "
                f"The user object in Active Directory backing this account ({upn}) was disabled."
            )
        return user


# -- how tests and the demo play the person at the browser ----------------------------------


def identity_provider(sandbox: Sandbox) -> IdentityProvider:
    """The sandbox's identity state."""
    return sandbox.identity_provider


def register_app(
    sandbox: Sandbox,
    client_id: str,
    certificate_pem: str | bytes,
    roles: set[str] | frozenset[str] | list[str] | tuple[str, ...],
    *,
    display_name: str | None = None,
) -> AppRegistration:
    """Register an app whose certificate may sign client assertions, with these app roles."""
    return sandbox.identity_provider.register_app(
        client_id, certificate_pem, roles, display_name=display_name
    )


def approve_device_code(sandbox: Sandbox, user_code: str, upn: str | None = None) -> dict[str, Any]:
    """Approve a pending device code as ``upn`` (default: the signed-in admin)."""
    return sandbox.identity_provider.approve(user_code, upn)


def deny_device_code(sandbox: Sandbox, user_code: str) -> dict[str, Any]:
    return sandbox.identity_provider.deny(user_code)


def expire_device_code(sandbox: Sandbox, user_code: str) -> dict[str, Any]:
    return sandbox.identity_provider.expire(user_code)


def pending_device_codes(sandbox: Sandbox) -> list[dict[str, Any]]:
    return sandbox.identity_provider.pending()
