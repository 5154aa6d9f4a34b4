"""App-only sign-in with a certificate (msal ``ConfidentialClientApplication``).

Owns reading the PEM file (key and certificate, checked against each other, the thumbprint
and the expiry) and the app-only token for ``{graph}/.default``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msal

from services.auth.entra_errors import auth_error
from services.auth.loopback import HTTP_TIMEOUT
from services.auth.msal_app import MsalAuth
from services.auth.scopes import GLOBAL_GRAPH
from services.auth.token_cache import TokenCacheFile
from services.errors import AuthError
from services.i18n import _

__all__ = ["CertificateAuth"]


class CertificateAuth(MsalAuth):
    """App-only sign-in with a certificate (msal ``ConfidentialClientApplication``).

    ``certificate_path`` is a PEM file holding the unencrypted private key and its certificate,
    as ``openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem`` followed by
    ``cat k.pem c.pem`` produces. The token is for ``{graph_resource}/.default``: the app
    roles an administrator granted to the app registration.
    """

    def __init__(
        self,
        client_id: str,
        authority: str,
        certificate_path: str | os.PathLike[str],
        *,
        thumbprint: str | None = None,
        cache: TokenCacheFile | None = None,
        http_client: Any = None,
        graph_resource: str = GLOBAL_GRAPH,
    ) -> None:
        super().__init__(
            client_id,
            authority,
            [f"{graph_resource.rstrip('/')}/.default"],
            cache=cache,
            http_client=http_client,
        )
        self.certificate_path = Path(certificate_path)
        key_pem, cert_pem, computed = _load_certificate(self.certificate_path)
        if thumbprint:
            thumbprint = thumbprint.replace(":", "").replace(" ", "").upper()
            if thumbprint != computed:
                raise AuthError(
                    _(
                        "The thumbprint {thumbprint} does not match the certificate in {path} "
                        "({computed})"
                    ).format(thumbprint=thumbprint, path=self.certificate_path, computed=computed),
                    hint=_("leave out --thumbprint to use the certificate's own"),
                )
        self.thumbprint = computed
        self._credential = {
            "private_key": key_pem,
            "thumbprint": computed,
            "public_certificate": cert_pem,
        }

    def _build(self) -> msal.ClientApplication:
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self._credential,
            authority=self._route.authority,
            token_cache=self._token_cache,
            http_client=self._route.http_client,
            instance_discovery=self._route.instance_discovery,
            timeout=HTTP_TIMEOUT if self._route.http_client is None else None,
        )

    def _error(self, result: Mapping[str, Any]) -> AuthError:
        return auth_error(
            result,
            client_id=self.client_id,
            scopes=self.scopes,
            authority=self.authority,
            thumbprint=self.thumbprint,
        )

    @property
    def account_upn(self) -> str | None:
        """Always None: an app-only token speaks for the app, not for a person."""
        return None

    def token(self, *, force_refresh: bool = False) -> str:
        """An app-only access token (from msal's cache until it is close to expiry)."""
        with self._lock:
            app = self._msal()
            if force_refresh:
                # msal refuses force_refresh for client credentials; dropping the cached
                # app token has the same effect.
                app.remove_tokens_for_client()
            result = self._call(app.acquire_token_for_client, scopes=self.scopes)
            if not result or "access_token" not in result:
                raise self._error(result or {})
            return str(result["access_token"])

    @property
    def granted_scopes(self) -> None:
        """Unknown: a client credentials response names only ``.default``, and the token's
        ``roles`` claim is not read (Microsoft: clients must treat access tokens as opaque)."""
        return None


def _load_certificate(path: Path) -> tuple[str, str, str]:
    """``(private key PEM, certificate PEM, SHA-1 thumbprint)`` from one PEM file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuthError(
            _("Certificate file {path} not found").format(path=path),
            hint=_("give the PEM file that holds the private key and the certificate"),
        ) from None
    except OSError as exc:
        raise AuthError(
            _("Cannot read the certificate file {path}: {error}").format(
                path=path, error=exc.strerror or exc
            ),
            hint=_("check the file's owner and permissions"),
        ) from None
    if b"-----BEGIN" not in data:
        raise AuthError(
            _("{path} is not a PEM file").format(path=path),
            hint=_("convert a .pfx with `openssl pkcs12 -in cert.pfx -nodes -out cert.pem`"),
        )
    if b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        raise AuthError(
            _("The private key in {path} is encrypted").format(path=path),
            hint=_("closeout needs an unencrypted key; protect the file with 0600 permissions"),
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuthError(
            _("No usable private key in {path}").format(path=path),
            hint=_("the PEM file must hold the private key and the certificate"),
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(
            _("The private key in {path} is not an RSA key").format(path=path),
            hint=_("Entra app certificates use RSA keys (2048 bits or more)"),
        )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    own_public = key.public_key().public_numbers()
    cert = next(
        (
            c
            for c in certificates
            if isinstance(c.public_key(), rsa.RSAPublicKey)
            and c.public_key().public_numbers() == own_public  # type: ignore[union-attr]
        ),
        None,
    )
    if cert is None:
        raise AuthError(
            _("No certificate matching the private key in {path}").format(path=path),
            hint=_("append the certificate (-----BEGIN CERTIFICATE-----) to the key file"),
        )
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise AuthError(
            _("The certificate in {path} expired on {date:%Y-%m-%d}").format(
                path=path, date=cert.not_valid_after_utc
            ),
            hint=_("create a new certificate and upload it to the app registration"),
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - x5t is SHA-1
    return key_pem, cert_pem, thumbprint
