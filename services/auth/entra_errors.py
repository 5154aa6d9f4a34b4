"""Entra's sign-in errors in words an admin can act on.

msal hands back error results (``error``, ``error_description``, ``error_codes``); this module
turns them, and transport failures, into :class:`~services.errors.AuthError` with a hint.
Messages are built from Entra's error codes and the first sentence of its description
(redacted), never from a token or a device code.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.auth.scopes import OIDC_SCOPES, bare_scope
from services.auth.static_token import ENV_ACCESS_TOKEN
from services.errors import AuthError, redact
from services.i18n import _

__all__ = ["AADSTS", "auth_error", "error_codes", "network_error"]

AADSTS = re.compile(r"AADSTS(\d+)")


def error_codes(result: Mapping[str, Any]) -> set[int]:
    codes: set[int] = set()
    for code in result.get("error_codes") or ():
        with contextlib.suppress(TypeError, ValueError):
            codes.add(int(code))
    codes.update(int(m) for m in AADSTS.findall(str(result.get("error_description") or "")))
    return codes


def _first_sentence(description: str) -> str:
    """Entra's description without the trace/correlation ids and timestamp it appends."""
    text = description.split(" Trace ID:")[0].split("\r\n")[0].split("\n")[0].strip()
    return redact(text)[:300]


def auth_error(
    result: Mapping[str, Any],
    *,
    client_id: str,
    scopes: Sequence[str] = (),
    authority: str = "",
    thumbprint: str | None = None,
) -> AuthError:
    """An msal error result (``error``, ``error_description``) in words an admin can act on."""
    error = str(result.get("error") or "")
    codes = error_codes(result)
    detail = _first_sentence(str(result.get("error_description") or ""))
    names = ", ".join(sorted({bare_scope(s) for s in scopes} - OIDC_SCOPES))

    if 53003 in codes or "conditional access" in detail.lower():
        return AuthError(
            _(
                "Sign-in was blocked by a Conditional Access policy (AADSTS53003). The "
                "organization blocks the device code flow (the 'Authentication flows' condition), "
                "which closeout uses by default."
            ),
            hint=_(
                "sign in app-only with a certificate (--certificate), or bring your own token in "
                "{env}, e.g. from `az account get-access-token "
                "--resource-type ms-graph --query accessToken -o tsv`"
            ).format(env=ENV_ACCESS_TOKEN),
        )
    if 65001 in codes or result.get("suberror") == "consent_required":
        return AuthError(
            _(
                "Admin consent is missing: the app {client_id} has not been granted the "
                "permissions closeout needs ({names}) (AADSTS65001)."
            ).format(client_id=client_id, names=names or _("the requested scopes")),
            hint=_(
                "a Global Administrator must grant tenant-wide admin consent for these "
                "permissions (Entra admin center → Enterprise applications → the app → "
                "Permissions → Grant admin consent), or sign in with --client-id of an app "
                "registration that has them"
            ),
        )
    if 90002 in codes or error == "invalid_tenant":
        tenant = authority.rstrip("/").rsplit("/", 1)[-1] if authority else _("the tenant")
        return AuthError(
            _("Tenant '{tenant}' was not found (AADSTS90002).").format(tenant=tenant),
            hint=_(
                "check --tenant (the tenant id or the initial *.onmicrosoft.com domain) and "
                "--cloud; a tenant that has been deleted is reported the same way"
            ),
        )
    if error == "expired_token" or codes & {70019, 70020}:
        return AuthError(
            _("The sign-in code expired before it was used."),
            hint=_("start the sign-in again and enter the new code within 15 minutes"),
        )
    if error == "authorization_declined" or 65004 in codes:
        return AuthError(
            _("The sign-in was declined in the browser."),
            hint=_("start the sign-in again and approve it as a Global Administrator"),
        )
    if 700016 in codes:
        return AuthError(
            _("The app {client_id} was not found in this tenant (AADSTS700016).").format(
                client_id=client_id
            ),
            hint=_("check --client-id and --tenant; the app must be registered in that tenant"),
        )
    if 700027 in codes or 700024 in codes:
        message = (
            _(
                "The certificate (thumbprint {thumbprint}) was not accepted for app {client_id}: {detail}"
            )
            if thumbprint
            else _("The certificate was not accepted for app {client_id}: {detail}")
        )
        return AuthError(
            message.format(thumbprint=thumbprint, client_id=client_id, detail=detail),
            hint=_(
                "upload the certificate's public part to the app registration "
                "(Certificates & secrets) and check that it has not expired"
            ),
        )
    if 7000218 in codes:
        return AuthError(
            _("The app {client_id} does not allow public client sign-in (AADSTS7000218).").format(
                client_id=client_id
            ),
            hint=_(
                "in the app registration → Authentication, set 'Allow public client flows' to "
                "Yes, or use another --client-id"
            ),
        )
    if 50076 in codes or 50079 in codes or result.get("suberror") == "basic_action":
        return AuthError(
            _("Multi-factor authentication is required to sign in again."),
            hint=_("run the sign-in again; the device code page will ask for the second factor"),
        )
    if error == "invalid_grant":
        return AuthError(
            _("The saved sign-in is no longer valid: {detail}").format(detail=detail or error),
            hint=_("sign in again"),
        )
    what = f"{error}: {detail}" if detail else (error or _("unknown error"))
    return AuthError(
        _("Sign-in failed: {what}").format(what=what),
        hint=_("check --tenant, --client-id and --cloud"),
    )


def network_error(exc: BaseException, url_host: str) -> AuthError:
    reason = redact(" ".join(str(exc).split()))[:200] or type(exc).__name__
    return AuthError(
        _("Could not reach the sign-in service at {host}: {kind}: {reason}").format(
            host=url_host, kind=type(exc).__name__, reason=reason
        ),
        hint=_("check the network (proxy, VPN, DNS) and the --cloud/--authority options"),
    )
