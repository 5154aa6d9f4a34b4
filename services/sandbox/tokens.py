"""Access and refresh tokens the sandbox issues and checks.

Access tokens are JWTs shaped like Graph's (``aud``, ``tid``, ``oid``, ``upn``, ``scp`` for
delegated, ``roles`` for app-only), signed with a per-sandbox HMAC key so that the sandbox can
trust what it issued. With ``opaque`` the same claims are encrypted instead (a JWE in compact
form, ``dir`` + ``A256GCM``), as Entra may do: Microsoft says clients must not read access
tokens, and an opaque token proves that closeout does not. Token lifetimes are wall-clock, not
simulated, because msal schedules refreshes in real time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

GRAPH_AUDIENCE = "https://graph.microsoft.com"


class TokenRejected(Exception):
    """The token is missing, malformed, expired or revoked (Graph answers 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who a validated token speaks for."""

    kind: str  # "user" (delegated) or "app" (app-only)
    app_id: str
    tenant_id: str
    user_id: str | None = None
    upn: str | None = None
    scopes: frozenset[str] = frozenset()
    app_roles: frozenset[str] = frozenset()
    token_id: str = ""

    @property
    def is_app_only(self) -> bool:
        return self.kind == "app"

    def has_permission(self, names: tuple[str, ...] | list[str] | set[str]) -> bool:
        granted = self.app_roles if self.is_app_only else self.scopes
        return any(n in granted for n in names)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Refresh:
    user_id: str
    upn: str
    app_id: str
    scopes: frozenset[str]


@dataclass
class TokenStore:
    """Issues and validates the sandbox's tokens. Thread-safe."""

    tenant_id: str
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lifetime: float = 3600.0
    opaque: bool = False
    """Issue encrypted access tokens (JWE) instead of readable JWTs."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        self._expired: set[str] = set()
        self._served: dict[str, int] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._gone_apps: set[str] = set()
        self.tenant_deleted = False

    # -- issuing -------------------------------------------------------------------------

    def issue_user_token(
        self,
        *,
        user_id: str,
        upn: str,
        app_id: str,
        scopes: frozenset[str] | set[str],
        lifetime: float | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """``tenant_id`` forges another ``tid`` (and issuer), signed all the same: tests of a
        token for a tenant this sandbox does not hold, which Graph refuses with a 401."""
        forged = {"tid": tenant_id, "iss": f"https://sts.windows.net/{tenant_id}/"}
        return self._sign(
            {
                "oid": user_id,
                "upn": upn,
                "unique_name": upn,
                "scp": " ".join(sorted(scopes)),
                "appid": app_id,
                "idtyp": "user",
                **(forged if tenant_id else {}),
            },
            lifetime,
        )

    def issue_app_token(
        self, *, app_id: str, roles: frozenset[str] | set[str], lifetime: float | None = None
    ) -> str:
        return self._sign(
            {"roles": sorted(roles), "appid": app_id, "idtyp": "app", "oid": app_id}, lifetime
        )

    def issue_refresh_token(
        self, *, user_id: str, upn: str, app_id: str, scopes: frozenset[str] | set[str]
    ) -> str:
        rt = "sbx-rt." + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[rt] = _Refresh(user_id, upn, app_id, frozenset(scopes))
        return rt

    def redeem_refresh_token(self, rt: str) -> _Refresh | None:
        with self._lock:
            return self._refresh.get(rt)

    def _sign(self, claims: dict[str, object], lifetime: float | None) -> str:
        now = int(time.time())
        body = {
            "aud": GRAPH_AUDIENCE,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "tid": self.tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.lifetime if lifetime is None else lifetime),
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
            **claims,
        }
        if self.opaque:
            return self._seal(body)
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        sig = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(sig)}"

    def _aead(self) -> AESGCM:
        return AESGCM(hashlib.sha256(b"closeout-sandbox-jwe" + self.key).digest())

    def _seal(self, claims: dict[str, object]) -> str:
        # JWE compact serialization with direct encryption: header, an empty encrypted key,
        # IV, ciphertext and tag. The header is the additional authenticated data (RFC 7516).
        header = _b64(json.dumps({"alg": "dir", "enc": "A256GCM", "typ": "JWT"}).encode())
        iv = secrets.token_bytes(12)
        sealed = self._aead().encrypt(
            iv, json.dumps(claims, separators=(",", ":")).encode(), header.encode()
        )
        return f"{header}..{_b64(iv)}.{_b64(sealed[:-16])}.{_b64(sealed[-16:])}"

    def _claims(self, token: str) -> dict[str, Any]:
        """The claims of a token this store issued (either form); TokenRejected otherwise."""
        parts = token.split(".")
        try:
            if len(parts) == 5:
                header, _key, iv, ciphertext, tag = parts
                plain = self._aead().decrypt(
                    _unb64(iv), _unb64(ciphertext) + _unb64(tag), header.encode()
                )
                claims = json.loads(plain)
            else:
                header, payload, sig = parts
                expected = hmac.new(
                    self.key, f"{header}.{payload}".encode(), hashlib.sha256
                ).digest()
                if not hmac.compare_digest(expected, _unb64(sig)):
                    raise TokenRejected("Access token validation failure. Invalid audience.")
                claims = json.loads(_unb64(payload))
        except (ValueError, InvalidTag):
            raise TokenRejected("Invalid JWT token. The token is not in a valid format.") from None
        if not isinstance(claims, dict):
            raise TokenRejected("Invalid JWT token. The token is not in a valid format.")
        return claims

    # -- checking ------------------------------------------------------------------------

    def validate(self, token: str) -> Principal:
        claims = self._claims(token)
        with self._lock:
            expired = claims.get("uti") in self._expired
        if expired or claims.get("exp", 0) < time.time():
            raise TokenRejected("Lifetime validation failed, the token is expired.")
        with self._lock:
            if claims.get("uti") in self._revoked:
                raise TokenRejected("Continuous access evaluation resulted in challenge.")
        if self.tenant_deleted or claims.get("tid") != self.tenant_id:
            raise TokenRejected(f"The tenant for tenant guid '{claims.get('tid')}' does not exist.")
        if self.app_gone(str(claims.get("appid"))):
            raise TokenRejected(
                f"Access token validation failure: the application '{claims.get('appid')}' it "
                "was issued to is no longer registered in this directory."
            )
        if claims.get("idtyp") == "app":
            return Principal(
                kind="app",
                app_id=claims["appid"],
                tenant_id=claims["tid"],
                app_roles=frozenset(claims.get("roles", [])),
                token_id=claims["uti"],
            )
        return Principal(
            kind="user",
            app_id=claims["appid"],
            tenant_id=claims["tid"],
            user_id=claims["oid"],
            upn=claims.get("upn"),
            scopes=frozenset(claims.get("scp", "").split()),
            token_id=claims["uti"],
        )

    def app_removed(self, app_id: str) -> None:
        """The app's registration or service principal left the tenant: its tokens stop working
        at once and it can no longer sign in (Entra's AADSTS700016)."""
        with self._lock:
            self._gone_apps.add(app_id.lower())

    def app_gone(self, app_id: str) -> bool:
        with self._lock:
            return app_id.lower() in self._gone_apps

    def revoke(self, token: str) -> None:
        """Make a token fail validation (tests: '401, then refresh once')."""
        self._mark(token, self._revoked)

    def served(self, principal: Principal) -> int:
        """Count one more top-level request that ``principal``'s token was accepted for; how
        many that makes."""
        with self._lock:
            n = self._served[principal.token_id] = self._served.get(principal.token_id, 0) + 1
            return n

    def expire_id(self, token_id: str) -> None:
        """Make the token ``token_id`` names read as expired from now on."""
        with self._lock:
            self._expired.add(token_id)

    def expire(self, token: str) -> None:
        """Make a token read as expired from now on (the ``expire`` fault: a token expiring
        mid-run, without waiting out its lifetime)."""
        self._mark(token, self._expired)

    def _mark(self, token: str, ids: set[str]) -> None:
        try:
            claims = self._claims(token)
        except TokenRejected:
            return
        with self._lock:
            ids.add(str(claims.get("uti", "")))

    def revoke_all_for_user(self, user_id: str) -> None:
        with self._lock:
            for rt in [k for k, v in self._refresh.items() if v.user_id == user_id]:
                del self._refresh[rt]
