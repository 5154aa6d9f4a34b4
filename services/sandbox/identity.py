"""The sandbox's identity endpoints: a small Microsoft Entra look-alike on loopback.

Owns OpenID discovery, the device code flow (issue, approve or deny, expire, poll), refresh
tokens and certificate client credentials, so that the real msal library signs in against the
sandbox exactly as it does against ``login.microsoftonline.com``: same paths, same JSON shapes,
same ``AADSTS`` errors. Access tokens come from :class:`~.tokens.TokenStore`; this module only
decides whether to issue them.

msal insists on https authorities, so discovery advertises ``https://127.0.0.1:PORT/…``
endpoints while the server itself speaks plain http; ``services.auth`` maps them back for
loopback hosts only. A person approves a code in a browser at ``/devicelogin``; the demo and
the tests approve through ``POST /_sandbox/devicelogin`` or :func:`approve_device_code`, or
let ``SandboxConfig.device_code_auto_approve`` do it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .http import GraphHttpError, Request, Response

if TYPE_CHECKING:
    from .core import Sandbox
    from .tenant import User

__all__ = [
    "AppRegistration",
    "IdentityProvider",
    "approve_device_code",
    "deny_device_code",
    "expire_device_code",
    "identity_provider",
    "pending_device_codes",
    "register",
    "register_app",
]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Resource identifiers that mean "Microsoft Graph" in a scope, per cloud. The sandbox's own
# loopback URL is accepted too (see _graph_resources).
GRAPH_RESOURCES = frozenset(
    {
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        GRAPH_APP_ID,
    }
)
_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"
# Real Entra user codes are nine characters; leave out letters and digits that people misread.
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
_USER_CODE_LENGTH = 9
_ASSERTION_SKEW = 300.0  # seconds of clock skew tolerated on a client assertion

CodeStatus = Literal["pending", "approved", "denied", "redeemed", "blocked"]


# -- registrations and device codes ---------------------------------------------------------


@dataclass(frozen=True)
class AppRegistration:
    """An app registration that may use the client-credentials grant with a certificate."""

    client_id: str
    display_name: str
    roles: frozenset[str]
    certificate_pem: str = field(repr=False)
    sha1_thumbprint: str = ""
    """Uppercase hex, as the Entra admin center shows it."""
    _public_key: rsa.RSAPublicKey | None = field(default=None, repr=False, compare=False)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        assert self._public_key is not None
        return self._public_key


@dataclass
class _DeviceCode:
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


class IdentityError(Exception):
    """An Entra-shaped OAuth error: rendered as ``{"error", "error_description", ...}``."""

    def __init__(
        self,
        error: str,
        code: int,
        description: str,
        *,
        status: int = 400,
        suberror: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.status = status
        self.suberror = suberror


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
        self._by_device: dict[str, _DeviceCode] = {}
        self._by_user: dict[str, _DeviceCode] = {}

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
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise ValueError(f"not a PEM certificate: {exc}") from None
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("Entra app certificates must carry an RSA key")
        der = cert.public_bytes(serialization.Encoding.DER)
        app = AppRegistration(
            client_id=client_id.lower(),
            display_name=display_name or f"closeout app {client_id[:8]}",
            roles=frozenset(roles),
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            sha1_thumbprint=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324 - x5t is SHA-1 by definition
            _public_key=public_key,
        )
        with self._lock:
            self._apps[app.client_id] = app
        return app

    def app(self, client_id: str) -> AppRegistration | None:
        with self._lock:
            return self._apps.get(client_id.lower())

    # -- device codes --------------------------------------------------------------------

    def issue_device_code(
        self, client_id: str, scopes: tuple[str, ...], tenant: str
    ) -> _DeviceCode:
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
            code = _DeviceCode(
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

    def _code_for_user(self, user_code: str) -> _DeviceCode:
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

    def _check_decidable(self, code: _DeviceCode) -> None:
        if time.monotonic() > code.expires_at:
            raise LookupError("That code has expired. Start the sign-in again on your device.")
        if code.status != "pending":
            raise LookupError(f"That code was already used ({code.status}).")

    def _describe(self, code: _DeviceCode) -> dict[str, Any]:
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

    # -- helpers for handlers ----------------------------------------------------------------

    @property
    def https_base(self) -> str:
        """The advertised base URL: the server's own, but https (msal refuses anything else)."""
        base = self.sandbox.base_url
        return "https://" + base.split("://", 1)[1] if "://" in base else base

    def resolve_tenant(self, name: str) -> str:
        """``organizations``/``common`` as given, else this tenant's id; IdentityError if unknown."""
        sb = self.sandbox
        key = name.lower()
        org = sb.tenant.org
        known = {
            org.id.lower(),
            org.initial_domain.lower(),
            *(d.lower() for d in org.custom_domains),
        }
        if not sb.tenant.deleted:
            if key in ("organizations", "common"):
                return key
            if key in known:
                return org.id
        raise IdentityError(
            "invalid_tenant",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        )

    def graph_resources(self) -> frozenset[str]:
        base = self.sandbox.base_url.rstrip("/")
        return GRAPH_RESOURCES | {base, self.https_base.rstrip("/")}

    def split_scopes(self, raw: str) -> tuple[list[tuple[str, str]], set[str]]:
        """``[(as_sent, bare_name)]`` for Graph scopes, and the OIDC scopes that were asked for.

        Scopes arrive bare (``User.Read``), prefixed with a Graph resource
        (``https://graph.microsoft.com/User.Read``) or with the sandbox's own URL.
        """
        resources = {r.lower() for r in self.graph_resources()}
        graph: list[tuple[str, str]] = []
        oidc: set[str] = set()
        seen: set[str] = set()
        for scope in raw.split():
            if scope in OIDC_SCOPES:
                oidc.add(scope)
                continue
            resource, sep, name = scope.rpartition("/")
            if sep and resource.lower().rstrip("/") not in resources:
                raise IdentityError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named {resource} was not found in the tenant "
                    f"named {self.sandbox.initial_domain}. This can happen if the application "
                    "has not been installed by the administrator of the tenant or consented to "
                    "by any user in the tenant. You might have sent your authentication request "
                    "to the wrong tenant.",
                )
            bare = name if sep else scope
            if bare and bare not in seen:
                seen.add(bare)
                graph.append((scope, bare))
        return graph, oidc


# -- module-level entry points -----------------------------------------------------------------


def identity_provider(sandbox: Sandbox) -> IdentityProvider:
    """The sandbox's identity state (created by :func:`register`)."""
    provider = getattr(sandbox, "identity_provider", None)
    if not isinstance(provider, IdentityProvider):
        raise RuntimeError("identity endpoints are not registered on this sandbox")
    return provider


def register_app(
    sandbox: Sandbox,
    client_id: str,
    certificate_pem: str | bytes,
    roles: set[str] | frozenset[str] | list[str] | tuple[str, ...],
    *,
    display_name: str | None = None,
) -> AppRegistration:
    """Register an app whose certificate may sign client assertions, with these app roles."""
    return identity_provider(sandbox).register_app(
        client_id, certificate_pem, roles, display_name=display_name
    )


def approve_device_code(sandbox: Sandbox, user_code: str, upn: str | None = None) -> dict[str, Any]:
    """Approve a pending device code as ``upn`` (default: the signed-in admin)."""
    return identity_provider(sandbox).approve(user_code, upn)


def deny_device_code(sandbox: Sandbox, user_code: str) -> dict[str, Any]:
    return identity_provider(sandbox).deny(user_code)


def expire_device_code(sandbox: Sandbox, user_code: str) -> dict[str, Any]:
    return identity_provider(sandbox).expire(user_code)


def pending_device_codes(sandbox: Sandbox) -> list[dict[str, Any]]:
    return identity_provider(sandbox).pending()


def register(sandbox: Sandbox) -> None:
    """Add the OAuth/device-code routes to ``sandbox.identity`` and its control endpoint."""
    provider = IdentityProvider(sandbox)
    sandbox.identity_provider = provider  # type: ignore[attr-defined]
    handlers = _Handlers(provider)
    r = sandbox.identity
    r.add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", handlers.openid_configuration)
    r.add("GET", "/{tenant}/discovery/v2.0/keys", handlers.keys)
    r.add("GET", "/{tenant}/oauth2/v2.0/authorize", handlers.authorize)
    r.add("POST", "/{tenant}/oauth2/v2.0/devicecode", handlers.devicecode)
    r.add("POST", "/{tenant}/oauth2/v2.0/token", handlers.token)
    r.add("GET", "/devicelogin", handlers.devicelogin_page)
    r.add("POST", "/devicelogin", handlers.devicelogin_submit)
    sandbox.control.add("GET", "/_sandbox/devicelogin", handlers.control_list)
    sandbox.control.add("POST", "/_sandbox/devicelogin", handlers.control_decide)


# -- HTTP handlers -------------------------------------------------------------------------------


class _Handlers:
    def __init__(self, provider: IdentityProvider) -> None:
        self.idp = provider
        self.sb = provider.sandbox

    # -- helpers -------------------------------------------------------------------------

    def _error(self, req: Request, err: IdentityError) -> Response:
        now = datetime.now(UTC)
        trace_id = str(uuid.uuid4())
        correlation_id = req.header("client-request-id") or str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        body: dict[str, Any] = {
            "error": err.error,
            "error_description": (
                f"AADSTS{err.code}: {err.description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {stamp}"
            ),
            "error_codes": [err.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{self.idp.https_base}/error?code={err.code}",
        }
        if err.suberror:
            body["suberror"] = err.suberror
        return Response(
            status=err.status, body=body, content_type=_JSON, headers={"Cache-Control": "no-store"}
        )

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> Response:
        # Token responses must not be cached by anything in between (RFC 6749 §5.1).
        return Response(
            status=status,
            body=body,
            content_type=_JSON,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    @staticmethod
    def _form(req: Request) -> dict[str, str]:
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise IdentityError(
                "invalid_request", 900144, "The request body must be form-urlencoded UTF-8."
            ) from None
        return dict(parse_qsl(text, keep_blank_values=True))

    @staticmethod
    def _require(form: dict[str, str], name: str) -> str:
        value = form.get(name, "").strip()
        if not value:
            raise IdentityError(
                "invalid_request",
                900144,
                f"The request body must contain the following parameter: '{name}'.",
            )
        return value

    # -- discovery -----------------------------------------------------------------------

    def openid_configuration(self, req: Request) -> Response:
        try:
            tenant = self.idp.resolve_tenant(req.params["tenant"])
        except IdentityError as err:
            return self._error(req, err)
        base = self.idp.https_base
        issuer_tenant = "{tenantid}" if tenant in ("organizations", "common") else tenant
        return self._json(
            {
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                # The sandbox's id tokens are unsigned; msal decodes them without checking.
                "id_token_signing_alg_values_supported": ["none"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{issuer_tenant}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "name",
                    "tid",
                    "ver",
                    "oid",
                    "preferred_username",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "closeout.sandbox",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    def keys(self, req: Request) -> Response:
        try:
            self.idp.resolve_tenant(req.params["tenant"])
        except IdentityError as err:
            return self._error(req, err)
        return self._json({"keys": []})

    def authorize(self, req: Request) -> Response:
        # Browser-redirect sign-in is not part of the sandbox: closeout signs in with the device
        # code flow (or a certificate), which works over SSH.
        return Response(
            status=400,
            body=_page(
                "Interactive sign-in is not available",
                "<p>The sandbox supports the device code flow and certificate client "
                "credentials only.</p>",
            ),
            content_type=_HTML,
        )

    # -- device code ---------------------------------------------------------------------

    def devicecode(self, req: Request) -> Response:
        try:
            tenant = self.idp.resolve_tenant(req.params["tenant"])
            form = self._form(req)
            client_id = self._require(form, "client_id")
            scope = self._require(form, "scope")
            graph, _ = self.idp.split_scopes(scope)
            if not graph:
                raise IdentityError(
                    "invalid_scope",
                    70011,
                    "The provided request must include a 'scope' input parameter naming at "
                    "least one Microsoft Graph permission.",
                )
        except IdentityError as err:
            return self._error(req, err)
        code = self.idp.issue_device_code(client_id, tuple(scope.split()), tenant)
        uri = f"{self.sb.base_url}/devicelogin"
        return self._json(
            {
                "user_code": code.user_code,
                "device_code": code.device_code,
                "verification_uri": uri,
                "expires_in": int(self.idp.device_code_lifetime),
                "interval": int(self.idp.poll_interval),
                "message": (
                    f"To sign in, use a web browser to open the page {uri} and enter the code "
                    f"{code.user_code} to authenticate."
                ),
            }
        )

    # -- token ---------------------------------------------------------------------------

    def token(self, req: Request) -> Response:
        try:
            tenant = self.idp.resolve_tenant(req.params["tenant"])
            form = self._form(req)
            grant = self._require(form, "grant_type")
            if grant == DEVICE_CODE_GRANT:
                return self._json(self._device_code_grant(form, tenant))
            if grant == "refresh_token":
                return self._json(self._refresh_grant(form, tenant))
            if grant == "client_credentials":
                return self._json(self._client_credentials_grant(form, tenant))
            raise IdentityError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        except IdentityError as err:
            return self._error(req, err)

    def _device_code_grant(self, form: dict[str, str], tenant: str) -> dict[str, Any]:
        client_id = self._require(form, "client_id")
        device_code = self._require(form, "device_code")
        now = time.monotonic()
        idp = self.idp
        with idp._lock:
            code = idp._by_device.get(device_code)
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
                    user = idp._find_user(None)
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
            if code.status == "blocked" or self.sb.config.conditional_access_blocks_device_code:
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
            response = self._issue_user_tokens(client_id, code.user_id, " ".join(code.scopes))
            code.status = "redeemed"
        return response

    def _refresh_grant(self, form: dict[str, str], tenant: str) -> dict[str, Any]:
        client_id = self._require(form, "client_id")
        refresh_token = self._require(form, "refresh_token")
        record = self.sb.tokens.redeem_refresh_token(refresh_token)
        if record is None or record.app_id != client_id:
            raise IdentityError(
                "invalid_grant",
                70000,
                "The provided value for the 'refresh_token' is not valid: it was revoked, "
                "expired, or issued to another application.",
            )
        scope = form.get("scope", "").strip()
        if not self.idp.split_scopes(scope)[0]:
            scope = " ".join([*sorted(record.scopes), *sorted(OIDC_SCOPES)])
        # Refresh tokens are not bound to the tenant segment they were issued on (as in Entra):
        # one from /organizations works on /{tenant id} and the other way round.
        return self._issue_user_tokens(client_id, record.user_id, scope)

    def _issue_user_tokens(self, client_id: str, user_id: str, scope: str) -> dict[str, Any]:
        sb = self.sb
        graph, oidc = self.idp.split_scopes(scope)
        with sb.lock:
            user = sb.tenant.users.get(user_id)
            domain = sb.initial_domain
            if sb.tenant.deleted:
                self.idp.resolve_tenant(sb.tenant_id)  # raises AADSTS90002
        if user is None or not user.account_enabled:
            raise IdentityError(
                "invalid_grant",
                50034 if user is None else 50057,
                f"The user account {user_id} does not exist in the {domain} directory, or it "
                "is disabled. To sign into this application, the account must be added to the "
                "directory.",
            )
        wanted = {bare for _, bare in graph}
        if ".default" in wanted:
            wanted.discard(".default")
            wanted |= set(sb.config.granted_scopes or _all_scopes())
        granted = sb.granted(frozenset(wanted))
        missing = wanted - granted
        if missing:
            raise IdentityError(
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}'. Send an interactive authorization request for this user and "
                "resource.",
                suberror="consent_required",
            )
        access = sb.tokens.issue_user_token(
            user_id=user.id, upn=user.user_principal_name, app_id=client_id, scopes=granted
        )
        refresh = sb.tokens.issue_refresh_token(
            user_id=user.id, upn=user.user_principal_name, app_id=client_id, scopes=granted
        )
        lifetime = int(sb.tokens.lifetime)
        # Echo the scopes in the form they were asked for, as Entra does, so that msal's cache
        # finds the token again for the same request.
        echoed = [as_sent for as_sent, bare in graph if bare == ".default" or bare in granted]
        echoed += sorted(oidc & {"openid", "profile", "email"})
        return {
            "token_type": "Bearer",
            "scope": " ".join(echoed),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": self._id_token(client_id, user),
            "client_info": _b64url(
                json.dumps({"uid": user.id, "utid": sb.tenant_id}, separators=(",", ":")).encode()
            ),
        }

    def _id_token(self, client_id: str, user: User) -> str:
        sb = self.sb
        now = int(time.time())
        claims = {
            "aud": client_id,
            "iss": f"{self.idp.https_base}/{sb.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.user_principal_name,
            # Pairwise subject, as Entra issues it: stable per user and app.
            "sub": _b64url(hashlib.sha256(f"{user.id}:{client_id}".encode()).digest())[:43],
            "tid": sb.tenant_id,
            "ver": "2.0",
        }
        header = _b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}."

    # -- client credentials --------------------------------------------------------------

    def _client_credentials_grant(self, form: dict[str, str], tenant: str) -> dict[str, Any]:
        client_id = self._require(form, "client_id").lower()
        if tenant in ("organizations", "common"):
            raise IdentityError(
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by "
                "any provided credentials.",
            )
        scope = self._require(form, "scope")
        graph, _ = self.idp.split_scopes(scope)
        if len(graph) != 1 or graph[0][1] != ".default":
            raise IdentityError(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != JWT_BEARER_ASSERTION or not assertion:
            raise IdentityError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
                status=401,
            )
        app = self.idp.app(client_id)
        if app is None:
            raise IdentityError(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.sb.initial_domain}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You may have sent your authentication request to the wrong tenant.",
            )
        self._verify_assertion(app, assertion, tenant)
        token = self.sb.tokens.issue_app_token(app_id=app.client_id, roles=app.roles)
        lifetime = int(self.sb.tokens.lifetime)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _verify_assertion(self, app: AppRegistration, assertion: str, tenant: str) -> None:
        """Check a private_key_jwt client assertion (RFC 7523) against the registered cert."""

        def invalid(code: int, why: str) -> IdentityError:
            return IdentityError("invalid_client", code, why, status=401)

        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            header = json.loads(_unb64url(head_b64))
            claims = json.loads(_unb64url(body_b64))
            signature = _unb64url(sig_b64)
        except (ValueError, TypeError):
            raise invalid(50027, "JWT token is invalid or malformed.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise invalid(50027, "JWT token is invalid or malformed.")
        der = x509.load_pem_x509_certificate(app.certificate_pem.encode()).public_bytes(
            serialization.Encoding.DER
        )
        x5t = str(header.get("x5t", "")).rstrip("=")
        x5t256 = str(header.get("x5t#S256", "")).rstrip("=")
        sha1 = _b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by definition
        sha256 = _b64url(hashlib.sha256(der).digest())
        if x5t != sha1 and x5t256 != sha256:
            presented = x5t or x5t256
            shown = _unb64url(presented).hex().upper() if presented else "none"
            raise invalid(
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was not "
                f"found., Thumbprint of key used by client: '{shown}', Please visit the Azure "
                "Portal, Graph Explorer or directly use MS Graph to see configured keys for app "
                f"Id '{app.client_id}'.]",
            )
        alg = header.get("alg")
        if alg == "RS256":
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
        elif alg == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        else:
            raise invalid(50027, f"JWT token is invalid or malformed: unsupported alg {alg!r}.")
        try:
            app.public_key.verify(
                signature, f"{head_b64}.{body_b64}".encode(), pad, hashes.SHA256()
            )
        except InvalidSignature:
            raise invalid(
                700027,
                "Client assertion contains an invalid signature. [Reason - The provided "
                "signature value did not match the expected signature value.]",
            ) from None
        now = time.time()
        if str(claims.get("iss", "")).lower() != app.client_id:
            raise invalid(50027, "JWT token is invalid: 'iss' must be the client id.")
        if str(claims.get("sub", "")).lower() != app.client_id:
            raise invalid(50027, "JWT token is invalid: 'sub' must be the client id.")
        aud = urlsplit(str(claims.get("aud", "")))
        expected = urlsplit(f"{self.idp.https_base}/{tenant}/oauth2/v2.0/token")
        if (aud.netloc, aud.path.rstrip("/").lower()) != (
            expected.netloc,
            expected.path.lower(),
        ):
            raise invalid(
                700212,
                "The client assertion's audience claim does not match the token endpoint "
                f"'{expected.geturl()}'.",
            )
        try:
            exp = float(claims["exp"])
            nbf = float(claims.get("nbf", claims.get("iat", now)))
        except (KeyError, TypeError, ValueError):
            raise invalid(50027, "JWT token is invalid: 'exp' is missing.") from None
        # No replay check on 'jti': msal reuses one assertion for up to ten minutes, and
        # Entra accepts that.
        if exp + _ASSERTION_SKEW < now or nbf - _ASSERTION_SKEW > now:
            raise invalid(700024, "Client assertion is not within its valid time range.")

    # -- the person at the browser ------------------------------------------------------

    def devicelogin_page(self, req: Request) -> Response:
        prefill = html.escape(req.query.get("otc", ""))
        admin = html.escape(self.sb.admin_upn)
        return Response(
            body=_page(
                "Enter code",
                f"""<p>Enter the code displayed on your device to allow access.</p>
<form method="post" action="/devicelogin">
  <p><label>Code <input name="user_code" value="{prefill}" autofocus
     autocomplete="off" size="12"></label></p>
  <p><label>Sign in as <input name="upn" placeholder="{admin}" size="40"></label></p>
  <p><button name="action" value="approve">Sign in</button>
     <button name="action" value="deny">Cancel</button></p>
</form>""",
            ),
            content_type=_HTML,
            headers={"Cache-Control": "no-store"},
        )

    def devicelogin_submit(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        user_code = form.get("user_code", "")
        try:
            if form.get("action") == "deny":
                self.idp.deny(user_code)
                return Response(
                    body=_page("Sign-in cancelled", "<p>You declined the sign-in request.</p>"),
                    content_type=_HTML,
                )
            result = self.idp.approve(user_code, form.get("upn", "").strip() or None)
        except LookupError as exc:
            return Response(
                status=400,
                body=_page(
                    "Sign-in failed",
                    f'<p>{html.escape(str(exc))}</p><p><a href="/devicelogin">Try again</a></p>',
                ),
                content_type=_HTML,
            )
        return Response(
            body=_page(
                "You're signed in",
                f"<p>Signed in as {html.escape(result['upn'] or '')}. You have signed in to the "
                "closeout application on your device. You may now close this window.</p>",
            ),
            content_type=_HTML,
        )

    # -- sandbox control -------------------------------------------------------------------

    def control_list(self, req: Request) -> Response:
        return Response(body={"value": self.idp.pending()})

    def control_decide(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("user_code"), str):
            raise GraphHttpError(400, "BadRequest", 'Expected {"user_code": "..."}.')
        upn = body.get("upn")
        if upn is not None and not isinstance(upn, str):
            raise GraphHttpError(400, "BadRequest", "'upn' must be a string.")
        try:
            user_code = body["user_code"]
            result = (
                self.idp.deny(user_code) if body.get("deny") else self.idp.approve(user_code, upn)
            )
        except LookupError as exc:
            raise GraphHttpError(404, "NotFound", str(exc)) from None
        return Response(body=result)


def _all_scopes() -> frozenset[str]:
    from .core import ALL_SCOPES  # local: core imports this module

    return ALL_SCOPES


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · closeout sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1.1rem;padding:.3rem}} .note{{color:#666;font-size:.9rem}}</style></head>
<body><h1>{html.escape(title)}</h1>{body}
<p class="note">closeout sandbox: a simulated Microsoft Entra sign-in page. Nothing here
talks to Microsoft.</p></body></html>"""
