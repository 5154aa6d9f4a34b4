"""Delegated sign-in with the device code flow (msal ``PublicClientApplication``).

Works over SSH: the admin opens the verification page on any device and enters the code.
Owns the prompt shown to the admin, the polling loop (stoppable within a second), the silent
sign-in from the token cache and the scopes the last token was granted.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msal

from services.auth.entra_errors import error_codes
from services.auth.loopback import HTTP_TIMEOUT
from services.auth.msal_app import MsalAuth
from services.auth.scopes import OIDC_SCOPES, bare_scope
from services.auth.token_cache import TokenCacheFile
from services.errors import AuthError
from services.i18n import _

__all__ = ["DeviceCodeAuth", "DeviceCodePrompt"]

log = logging.getLogger("closeout.auth")

_ORGANIZATION_TENANTS = frozenset({"organizations", "common", "consumers"})


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What to show the admin: open ``verification_uri`` and enter ``user_code``."""

    user_code: str
    verification_uri: str
    expires_at: datetime
    message: str


class DeviceCodeAuth(MsalAuth):
    """Delegated sign-in with the device code flow (msal ``PublicClientApplication``).

    Typical use: ``if not auth.try_silent(): prompt = auth.start(); show(prompt);
    auth.wait(prompt, stop)``, then hand ``auth`` to GraphClient as its TokenProvider.
    Thread-safe: GraphClient may call :meth:`token` from several threads.
    """

    def __init__(
        self,
        client_id: str,
        authority: str,
        scopes: Sequence[str],
        *,
        cache: TokenCacheFile | None,
        http_client: Any = None,
    ) -> None:
        super().__init__(client_id, authority, scopes, cache=cache, http_client=http_client)
        if not self.scopes:
            raise AuthError("No scopes to sign in for", hint="this is a bug in the caller")
        self._account: dict[str, Any] | None = None
        self._flows: dict[str, dict[str, Any]] = {}
        self._granted: frozenset[str] | None = None

    def _build(self) -> msal.ClientApplication:
        return msal.PublicClientApplication(
            self.client_id,
            authority=self._route.authority,
            token_cache=self._token_cache,
            http_client=self._route.http_client,
            instance_discovery=self._route.instance_discovery,
            timeout=HTTP_TIMEOUT if self._route.http_client is None else None,
        )

    # -- state -----------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self._account is not None

    @property
    def account_upn(self) -> str | None:
        """The signed-in user's UPN (from the id token), or None before sign-in."""
        return (self._account or {}).get("username") or None

    @property
    def tenant_id(self) -> str | None:
        """The signed-in user's home tenant id, or None before sign-in."""
        home = (self._account or {}).get("home_account_id") or ""
        return home.split(".", 1)[1] if "." in home else None

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """Delegated permissions the last token was issued for, bare (``User.ReadWrite.All``).

        From msal's token response (its ``scope``) or msal's cache entry for the token, never
        from the token itself; None when neither says.
        """
        return self._granted

    # -- silent ----------------------------------------------------------------------------

    def _pick_account(self, app: msal.ClientApplication) -> dict[str, Any] | None:
        accounts = app.get_accounts()
        tenant = str(app.authority.tenant).lower()
        if tenant not in _ORGANIZATION_TENANTS:
            accounts = [
                a
                for a in accounts
                if str(a.get("realm", "")).lower() == tenant
                or str(a.get("home_account_id", "")).lower().endswith("." + tenant)
            ]
        if len(accounts) == 1:
            return accounts[0]
        if accounts:
            # Acting as the wrong admin in a tool that deletes a tenant is not a risk worth a
            # guess: several cached accounts mean "sign in again" (or name the tenant).
            log.info(
                "%d cached accounts match %s; a new sign-in is needed",
                len(accounts),
                self.authority,
            )
        return None

    def try_silent(self) -> bool:
        """Sign in from the token cache (refreshing with the refresh token if needed)."""
        with self._lock:
            app = self._msal()
            account = self._pick_account(app)
            if account is None:
                return False
            result = self._call(app.acquire_token_silent_with_error, self.scopes, account)
            if not result or "access_token" not in result:
                if result:
                    log.info(
                        "Cached sign-in could not be used (%s, codes %s); a new sign-in is needed",
                        result.get("error"),
                        sorted(error_codes(result)),
                    )
                return False
            self._accept(result, account)
            return True

    # -- interactive ---------------------------------------------------------------------

    def start(self) -> DeviceCodePrompt:
        """Ask for a device code; show the returned prompt to the admin, then call :meth:`wait`."""
        with self._lock:
            app = self._msal()
            if not app.authority.device_authorization_endpoint:
                raise AuthError(
                    _("The authority {authority} does not offer the device code flow").format(
                        authority=self.authority
                    ),
                    hint=_("check --authority"),
                )
            flow = self._call(app.initiate_device_flow, scopes=self.scopes)
            if "user_code" not in flow:
                raise self._error(flow)
            self._flows[flow["user_code"]] = flow
            return DeviceCodePrompt(
                user_code=flow["user_code"],
                verification_uri=flow.get("verification_uri") or flow.get("verification_url", ""),
                expires_at=datetime.fromtimestamp(float(flow["expires_at"]), UTC),
                message=str(flow.get("message") or ""),
            )

    def wait(self, prompt: DeviceCodePrompt, stop: threading.Event) -> None:
        """Poll until the admin has signed in, or until ``stop`` is set.

        Returns normally in both cases (check :attr:`signed_in`); a ``stop`` is noticed
        within a second. Raises :class:`AuthError` for an expired, declined or refused
        sign-in (Conditional Access, missing consent, wrong tenant).
        """
        flow = self._flows.get(prompt.user_code)
        if flow is None:
            raise AuthError(
                _("No sign-in is in progress for code {code}").format(code=prompt.user_code),
                hint=_("start the sign-in again"),
            )
        while not stop.is_set():
            if time.time() > float(flow["expires_at"]):
                self._flows.pop(prompt.user_code, None)
                raise self._error({"error": "expired_token"})
            with self._lock:
                result = self._call(
                    self._msal().acquire_token_by_device_flow,
                    flow,
                    exit_condition=lambda _flow: True,  # one poll; the loop is ours
                )
            if "access_token" in result:
                self._flows.pop(prompt.user_code, None)
                self._accept(result, None)
                return
            if result.get("error") not in ("authorization_pending", "slow_down"):
                self._flows.pop(prompt.user_code, None)
                raise self._error(result)
            # Event.wait wakes at once on stop, whatever the server's interval. A stopped
            # flow stays known, so calling wait() again with the same prompt resumes it.
            stop.wait(max(1, int(flow.get("interval", 5))))

    def cancel(self, prompt: DeviceCodePrompt) -> None:
        """Forget a started sign-in (its code can no longer be redeemed by this process)."""
        self._flows.pop(prompt.user_code, None)

    # -- tokens ----------------------------------------------------------------------------

    def _accept(self, result: Mapping[str, Any], account: dict[str, Any] | None) -> None:
        token = str(result["access_token"])
        if account is None:
            app = self._msal()
            home = (result.get("id_token_claims") or {}).get("oid")
            info = _client_info(result)
            home_account_id = f"{info['uid']}.{info['utid']}" if info else None
            candidates = app.get_accounts()
            account = next(
                (a for a in candidates if a.get("home_account_id") == home_account_id),
                next((a for a in candidates if a.get("local_account_id") == home), None),
            )
        if account is None:
            raise AuthError(
                _("Signed in, but the sign-in service returned no account information"),
                hint=_("the authority does not look like Microsoft Entra; check --authority"),
            )
        self._account = account
        scope = result.get("scope")
        if scope:
            self._granted = frozenset(bare_scope(s) for s in str(scope).split()) - OIDC_SCOPES
        else:
            # A token msal served from its cache comes without ``scope``; the cache entry it
            # came from records the scopes the token response gave for it.
            self._granted = self._cached_targets(account, token)

    def _cached_targets(self, account: Mapping[str, Any], token: str) -> frozenset[str] | None:
        for entry in self._token_cache.search(
            msal.TokenCache.CredentialType.ACCESS_TOKEN,
            query={"home_account_id": account.get("home_account_id"), "client_id": self.client_id},
        ):
            if entry.get("secret") == token:
                targets = {bare_scope(s) for s in str(entry.get("target", "")).split()}
                return frozenset(targets) - OIDC_SCOPES
        return None

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token; ``force_refresh`` redeems the refresh token (after a 401)."""
        with self._lock:
            if self._account is None:
                raise AuthError(_("Not signed in"), hint=_("sign in first (device code)"))
            app = self._msal()
            result = self._call(
                app.acquire_token_silent_with_error,
                self.scopes,
                self._account,
                force_refresh=force_refresh,
            )
            if not result:
                raise AuthError(
                    _("The saved sign-in has no refresh token any more"), hint=_("sign in again")
                )
            if "access_token" not in result:
                raise self._error(result)
            self._accept(result, self._account)
            return str(result["access_token"])

    def sign_out(self) -> None:
        """Remove this account's tokens from the cache (and the cache file)."""
        with self._lock:
            if self._account is not None:
                self._call(self._msal().remove_account, self._account)
            self._account = None
            self._granted = None


def _client_info(result: Mapping[str, Any]) -> dict[str, str] | None:
    raw = result.get("client_info")
    if not isinstance(raw, str):
        return None
    try:
        info = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return None
    if isinstance(info, dict) and "uid" in info and "utid" in info:
        return {"uid": str(info["uid"]), "utid": str(info["utid"])}
    return None
