"""Certificate client credentials: app registrations with their certificate, the
``client_credentials`` grant, and the check of its ``private_key_jwt`` client assertion
(RFC 7523) against the registered certificate, with Entra's ``AADSTS`` answers."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .oauth import JWT_BEARER_ASSERTION, IdentityError, b64url, https_base, require, unb64url
from .resolution import split_scopes

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

_ASSERTION_SKEW = 300.0  # seconds of clock skew tolerated on a client assertion


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


def load_registration(
    client_id: str,
    certificate_pem: str | bytes,
    roles: set[str] | frozenset[str] | list[str] | tuple[str, ...],
    *,
    display_name: str | None = None,
) -> AppRegistration:
    """An app registration for this certificate; ValueError unless it is a PEM RSA certificate."""
    pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from None
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("Entra app certificates must carry an RSA key")
    der = cert.public_bytes(serialization.Encoding.DER)
    return AppRegistration(
        client_id=client_id.lower(),
        display_name=display_name or f"closeout app {client_id[:8]}",
        roles=frozenset(roles),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=hashlib.sha1(der).hexdigest().upper(),  # noqa: S324 - x5t is SHA-1 by definition
        _public_key=public_key,
    )


def client_credentials_grant(sb: Sandbox, form: dict[str, str], tenant: str) -> dict[str, Any]:
    client_id = require(form, "client_id").lower()
    if tenant in ("organizations", "common"):
        raise IdentityError(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by "
            "any provided credentials.",
        )
    scope = require(form, "scope")
    graph, _ = split_scopes(sb, scope)
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
    app = sb.identity_provider.app(client_id)
    if app is None:
        raise IdentityError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{sb.initial_domain}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in "
            "the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    verify_assertion(sb, app, assertion, tenant)
    token = sb.tokens.issue_app_token(app_id=app.client_id, roles=app.roles)
    lifetime = int(sb.tokens.lifetime)
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }


def verify_assertion(sb: Sandbox, app: AppRegistration, assertion: str, tenant: str) -> None:
    """Check a private_key_jwt client assertion (RFC 7523) against the registered cert."""

    def invalid(code: int, why: str) -> IdentityError:
        return IdentityError("invalid_client", code, why, status=401)

    try:
        head_b64, body_b64, sig_b64 = assertion.split(".")
        header = json.loads(unb64url(head_b64))
        claims = json.loads(unb64url(body_b64))
        signature = unb64url(sig_b64)
    except (ValueError, TypeError):
        raise invalid(50027, "JWT token is invalid or malformed.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid(50027, "JWT token is invalid or malformed.")
    der = x509.load_pem_x509_certificate(app.certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    x5t = str(header.get("x5t", "")).rstrip("=")
    x5t256 = str(header.get("x5t#S256", "")).rstrip("=")
    sha1 = b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by definition
    sha256 = b64url(hashlib.sha256(der).digest())
    if x5t != sha1 and x5t256 != sha256:
        presented = x5t or x5t256
        shown = unb64url(presented).hex().upper() if presented else "none"
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
        app.public_key.verify(signature, f"{head_b64}.{body_b64}".encode(), pad, hashes.SHA256())
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
    expected = urlsplit(f"{https_base(sb)}/{tenant}/oauth2/v2.0/token")
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
        nbf = float(claims["nbf"] if "nbf" in claims else claims.get("iat", now))
    except (KeyError, TypeError, ValueError):
        raise invalid(50027, "JWT token is invalid: 'exp' is missing.") from None
    # No replay check on 'jti': msal reuses one assertion for up to ten minutes, and
    # Entra accepts that.
    if exp + _ASSERTION_SKEW < now or nbf - _ASSERTION_SKEW > now:
        raise invalid(700024, "Client assertion is not within its valid time range.")
