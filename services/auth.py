"""Sign-in: the bearer tokens closeout sends to Microsoft Graph, and where they come from.

Owns the three ways to get a token (design.md §5 Auth): the device code flow for a delegated
Global Administrator (works over SSH), certificate client credentials for app-only runs, and a
bring-your-own token from ``CLOSEOUT_ACCESS_TOKEN``. Also owns the msal token cache file
(directory 0700, file 0600, written atomically), the delegated scope lists, the decoding of
token claims for display, and the loopback route that lets msal reach the sandbox.

msal only accepts https authorities. For a loopback authority (the sandbox) msal is given the
https form plus :class:`LoopbackHttpClient`, which sends the requests over plain http to the
same loopback port and refuses every other host, so a sandbox sign-in can never leak to the
internet. Real cloud authorities use msal's own HTTP client.

Tokens, refresh tokens, device codes and private keys never appear in a log record, an
exception message or a ``repr``: messages are built from Entra's error codes, and msal's own
debug logging is scrubbed (:class:`_SecretScrubber`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import msal
import platformdirs
import requests

from .errors import AuthError, redact
from .i18n import _

__all__ = [
    "DEFAULT_CLIENT_ID",
    "ENV_ACCESS_TOKEN",
    "GLOBAL_GRAPH",
    "GRAPH_SCOPES",
    "READ_ONLY_SCOPES",
    "CertificateAuth",
    "DeviceCodeAuth",
    "DeviceCodePrompt",
    "LoopbackHttpClient",
    "StaticTokenAuth",
    "TokenCacheFile",
    "TokenProvider",
    "is_app_only",
    "is_loopback_host",
    "scoped",
    "token_claims",
]

log = logging.getLogger("closeout.auth")

DEFAULT_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
""""Microsoft Graph Command Line Tools", the public client Graph PowerShell signs in with.

No Microsoft document endorses its reuse by other tools, tenants may block it with Conditional
Access, and every scope it asks for needs admin consent (graph-api.md §9): ``--client-id``
takes an app registration of the organization's own instead.
"""

ENV_ACCESS_TOKEN = "CLOSEOUT_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token
GLOBAL_GRAPH = "https://graph.microsoft.com"

GRAPH_SCOPES: tuple[str, ...] = (
    "User.Read",
    "User.ReadWrite.All",
    "User.DeleteRestore.All",
    "Directory.AccessAsUser.All",
    "Organization.ReadWrite.All",
    "RoleManagement.Read.Directory",
    "Policy.Read.All",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.ReadWrite.SecurityDefaults",
    "Policy.ReadWrite.ConditionalAccess",
    "Application.ReadWrite.All",
)
"""Delegated permissions for a full close-out (graph-api.md §9); all need admin consent."""

READ_ONLY_SCOPES: tuple[str, ...] = (
    "User.Read",
    "User.Read.All",
    "Organization.Read.All",
    "RoleManagement.Read.Directory",
    "Policy.Read.All",
    "Application.Read.All",
)
"""Delegated permissions for ``--read-only``: inventory and plan, no writes."""

_OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
_ORGANIZATION_TENANTS = frozenset({"organizations", "common", "consumers"})
# Requests for a token must never wait forever on a dead network: (connect, read) seconds.
_HTTP_TIMEOUT = (10.0, 60.0)
_AADSTS = re.compile(r"AADSTS(\d+)")


# -- scopes and claims ---------------------------------------------------------------------------


def scoped(resource_root: str | None, names: Iterable[str]) -> list[str]:
    """Scope names qualified with a cloud's Graph root (``https://graph.microsoft.us/User.Read``).

    msal needs the qualified form for national clouds; ``resource_root=None`` keeps the bare
    names, which Entra reads as the global Graph. Names already qualified are kept as they are.
    """
    root = (resource_root or "").rstrip("/")
    out: list[str] = []
    for name in names:
        if not root or "/" in name or name in _OIDC_SCOPES:
            out.append(name)
        else:
            out.append(f"{root}/{name}")
    return out


def _bare_scope(scope: str) -> str:
    return scope.rpartition("/")[2] if "/" in scope else scope


def token_claims(access_token: str) -> dict[str, Any]:
    """The payload of a JWT access token, decoded WITHOUT verifying it (for display only).

    Graph tokens are JWTs today, but Microsoft says clients must treat them as opaque: anything
    that is not a decodable JWT gives ``{}``.
    """
    parts = access_token.split(".")
    if len(parts) != 3:  # a JWE (5 parts) or an opaque token
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}


def is_app_only(token_or_claims: str | Mapping[str, Any]) -> bool:
    """True for an application token (``roles``, no ``scp``), False for delegated or unknown."""
    claims = token_claims(token_or_claims) if isinstance(token_or_claims, str) else token_or_claims
    if claims.get("idtyp") == "app":
        return True
    return "scp" not in claims and bool(claims.get("roles"))


# -- the TokenProvider protocol --------------------------------------------------------------


@runtime_checkable
class TokenProvider(Protocol):
    """What GraphClient needs: a bearer token, refreshed once when Graph answered 401."""

    def token(self, *, force_refresh: bool = False) -> str: ...


# -- errors ----------------------------------------------------------------------------------------


def _error_codes(result: Mapping[str, Any]) -> set[int]:
    codes: set[int] = set()
    for code in result.get("error_codes") or ():
        with contextlib.suppress(TypeError, ValueError):
            codes.add(int(code))
    codes.update(int(m) for m in _AADSTS.findall(str(result.get("error_description") or "")))
    return codes


def _first_sentence(description: str) -> str:
    """Entra's description without the trace/correlation ids and timestamp it appends."""
    text = description.split(" Trace ID:")[0].split("\r\n")[0].split("\n")[0].strip()
    return redact(text)[:300]


def _auth_error(
    result: Mapping[str, Any],
    *,
    client_id: str,
    scopes: Sequence[str] = (),
    authority: str = "",
    thumbprint: str | None = None,
) -> AuthError:
    """An msal error result (``error``, ``error_description``) in words an admin can act on."""
    error = str(result.get("error") or "")
    codes = _error_codes(result)
    detail = _first_sentence(str(result.get("error_description") or ""))
    names = ", ".join(sorted({_bare_scope(s) for s in scopes} - _OIDC_SCOPES))

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


def _network_error(exc: BaseException, url_host: str) -> AuthError:
    reason = redact(" ".join(str(exc).split()))[:200] or type(exc).__name__
    return AuthError(
        _("Could not reach the sign-in service at {host}: {kind}: {reason}").format(
            host=url_host, kind=type(exc).__name__, reason=reason
        ),
        hint=_("check the network (proxy, VPN, DNS) and the --cloud/--authority options"),
    )


# -- keeping secrets out of msal's debug log --------------------------------------------------


_SECRET_JSON_FIELDS = re.compile(
    r'("(?:device_code|code|refresh_token|access_token|id_token|client_assertion|assertion|'
    r'client_secret|password)"\s*:\s*")[^"]*(")'
)


class _SecretScrubber(logging.Filter):
    """Redacts secrets from msal's debug records before any handler sees them.

    msal masks tokens in the cache event it logs, but not the device code (sent as
    ``device_code`` and ``code``), which can be redeemed for tokens until it expires.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(_SECRET_JSON_FIELDS.sub(r"\1[redacted]\2", message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_MSAL_LOGGERS = (
    "msal",
    "msal.application",
    "msal.authority",
    "msal.token_cache",
    "msal.telemetry",
    "msal.throttled_http_client",
    "msal.oauth2cli.oauth2",
    "msal.oauth2cli.oidc",
    "msal.oauth2cli.assertion",
)


def _install_scrubber() -> None:
    # Logger-level filters only apply to records created on that very logger, hence the list.
    for name in _MSAL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _SecretScrubber) for f in logger.filters):
            logger.addFilter(_SecretScrubber())


_install_scrubber()


# -- the loopback route ------------------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: the only hosts plain http may go to."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoopbackHttpClient:
    """msal's ``http_client`` for the sandbox: https URLs to a loopback host go over http.

    Refuses every non-loopback host with :class:`AuthError`, never follows redirects and
    ignores proxy environment variables, so nothing sent through it can leave the machine.
    """

    def __init__(self, timeout: float | tuple[float, float] = _HTTP_TIMEOUT) -> None:
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # HTTP(S)_PROXY must not capture loopback traffic

    @staticmethod
    def to_loopback_http(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not is_loopback_host(parts.hostname):
            raise AuthError(
                _(
                    "Refused to send a sign-in request to {host!r}: the sandbox route only talks "
                    "to loopback addresses (127.0.0.1, ::1, localhost)."
                ).format(host=parts.hostname or url),
                hint=_("use an https authority of a Microsoft cloud for a real tenant"),
            )
        return urlunsplit(("http", parts.netloc, parts.path, parts.query, parts.fragment))

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        target = self.to_loopback_http(url)
        kwargs.setdefault("timeout", self._timeout)
        kwargs["allow_redirects"] = False
        return self._session.request(method, target, **kwargs)

    def get(
        self,
        url: str,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        return self._send("GET", url, params=params, headers=headers, **kwargs)

    def post(
        self,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        return self._send("POST", url, params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return "LoopbackHttpClient()"


@dataclass(frozen=True)
class _Route:
    authority: str  # what msal is given (always https)
    host: str
    http_client: Any  # None: msal's own requests session
    instance_discovery: bool | None  # None: msal's default (only for Microsoft hosts)


def _route(authority: str, http_client: Any) -> _Route:
    parts = urlsplit(authority.strip())
    host = (parts.hostname or "").lower()
    tenant = parts.path.strip("/")
    if parts.scheme not in ("http", "https") or not host or not tenant:
        raise AuthError(
            _("Invalid authority {authority!r}").format(authority=authority),
            hint=_("give it as https://login.microsoftonline.com/<tenant id or domain>"),
        )
    https = urlunsplit(("https", parts.netloc, "/" + tenant, "", ""))
    if is_loopback_host(host):
        return _Route(https, host, http_client or LoopbackHttpClient(), False)
    if parts.scheme != "https":
        raise AuthError(
            _("Authority {authority!r} uses plain http to a non-loopback host").format(
                authority=authority
            ),
            hint=_("sign-in must use https; plain http is only allowed for the local sandbox"),
        )
    known = host in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
    # Instance discovery asks login.microsoftonline.com about the host: pointless (and a leak
    # of the host name) for anything that is not a Microsoft authority.
    return _Route(https, host, http_client, None if known else False)


# -- the token cache file ----------------------------------------------------------------------


class TokenCacheFile:
    """msal's serializable cache, persisted to a private file.

    The directory is kept at 0700 and the file at 0600. A write goes to a fresh temporary file
    (created with ``O_EXCL`` and mode 0600), is fsynced and then renamed over the old file, so
    a crash never leaves half a cache. A file that cannot be parsed is moved aside with a
    warning and the user simply signs in again.
    """

    FILE_NAME = "msal_token_cache.json"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else self.default_path()
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()
        self.load()

    @classmethod
    def default_path(cls) -> Path:
        """``platformdirs.user_data_dir("closeout")/msal_token_cache.json`` (honours XDG_DATA_HOME)."""
        return Path(platformdirs.user_data_dir("closeout", appauthor=False)) / cls.FILE_NAME

    def _secure_directory(self) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            directory.chmod(0o700)

    def load(self) -> None:
        """Read the file if there is one; a corrupt file is set aside, not fatal."""
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return
            except OSError as exc:
                raise AuthError(
                    _("Cannot read the token cache {path}: {error}").format(
                        path=self.path, error=exc.strerror or exc
                    ),
                    hint=_("check the file's owner and permissions, or delete it to sign in again"),
                ) from None
            try:
                state = json.loads(text) if text.strip() else {}
                if not isinstance(state, dict):
                    raise ValueError("not a JSON object")
                self.cache.deserialize(json.dumps(state))
            except ValueError as exc:
                self._set_aside(str(exc))
                return
            # An older or hand-copied file may be readable by others; tighten it now.
            with contextlib.suppress(OSError):
                self._secure_directory()
                if stat.S_IMODE(self.path.stat().st_mode) & 0o077:
                    self.path.chmod(0o600)

    def _set_aside(self, reason: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
            aside.chmod(0o600)
        except OSError:
            aside = self.path
        log.warning(
            "The token cache %s could not be read (%s); it was moved to %s and you will be "
            "asked to sign in again.",
            self.path,
            reason[:100],
            aside,
        )
        self.cache = msal.SerializableTokenCache()

    def save(self) -> bool:
        """Write the cache if msal changed it; True if a write happened."""
        with self._lock:
            if not self.cache.has_state_changed:
                return False
            self._secure_directory()
            data = self.cache.serialize().encode("utf-8")
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(tmp, flags, 0o600)
            try:
                try:
                    if hasattr(os, "fchmod"):
                        os.fchmod(fd, 0o600)  # the umask can only narrow; make it exact
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                tmp.replace(self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                self.cache.has_state_changed = True  # still unsaved
                raise
            self._fsync_directory()
            return True

    def _fsync_directory(self) -> None:
        # Makes the rename durable; not possible on every platform, so best effort.
        with contextlib.suppress(OSError, AttributeError):
            dir_fd = os.open(self.path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def __repr__(self) -> str:
        return f"TokenCacheFile({str(self.path)!r})"


# -- msal-backed providers -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceCodePrompt:
    """What to show the admin: open ``verification_uri`` and enter ``user_code``."""

    user_code: str
    verification_uri: str
    expires_at: datetime
    message: str


class _MsalAuth:
    """Shared plumbing: lazy msal app, cache persistence, error mapping, one lock."""

    def __init__(
        self,
        client_id: str,
        authority: str,
        scopes: Sequence[str],
        *,
        cache: TokenCacheFile | None,
        http_client: Any,
    ) -> None:
        if not client_id or not client_id.strip():
            raise AuthError(_("No client id given"), hint=_("pass --client-id or use the default"))
        self.client_id = client_id.strip()
        self.authority = authority.rstrip("/")
        self.scopes: list[str] = list(scopes)
        self._cache_file = cache
        self._memory_cache = msal.TokenCache() if cache is None else None
        self._route = _route(self.authority, http_client)
        self._lock = threading.RLock()
        self._app: msal.ClientApplication | None = None

    @property
    def _token_cache(self) -> msal.TokenCache:
        if self._cache_file is not None:
            return self._cache_file.cache
        assert self._memory_cache is not None
        return self._memory_cache

    def _build(self) -> msal.ClientApplication:
        raise NotImplementedError

    def _msal(self) -> msal.ClientApplication:
        """The msal application, built on first use (building it fetches OIDC discovery)."""
        with self._lock:
            if self._app is None:
                try:
                    self._app = self._build()
                except AuthError:
                    raise
                except ValueError as exc:
                    raise self._discovery_error(exc) from None
                except requests.RequestException as exc:
                    raise _network_error(exc, self._route.host) from None
            return self._app

    def _discovery_error(self, exc: ValueError) -> AuthError:
        # msal wraps the discovery response in a generic ValueError; the Entra error (e.g.
        # AADSTS90002 for an unknown or deleted tenant) is in the chained exception's text.
        text = " ".join(str(e) for e in (exc, exc.__context__) if e is not None)
        match = re.search(r"(\{.*\})", text, re.DOTALL)
        if match:
            with contextlib.suppress(ValueError):
                body = json.loads(match.group(1))
                if isinstance(body, dict) and body.get("error"):
                    return self._error(body)
        if _AADSTS.search(text):
            return self._error({"error_description": text})
        return AuthError(
            _("The authority {authority} is not a usable sign-in endpoint.").format(
                authority=self.authority
            ),
            hint=_("check --tenant, --cloud and --authority"),
        )

    def _error(self, result: Mapping[str, Any]) -> AuthError:
        return _auth_error(
            result, client_id=self.client_id, scopes=self.scopes, authority=self.authority
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an msal call, turning transport failures into AuthError and saving the cache."""
        try:
            return fn(*args, **kwargs)
        except AuthError:
            raise
        except requests.RequestException as exc:
            raise _network_error(exc, self._route.host) from None
        except msal.exceptions.MsalServiceError as exc:
            raise AuthError(
                _("The sign-in service answered with an error: {error}").format(
                    error=redact(str(exc))[:200]
                ),
                hint=_("try again in a minute"),
            ) from None
        except ValueError as exc:
            # msal parses every answer as JSON; an HTML error page from a proxy lands here.
            raise AuthError(
                _(
                    "The sign-in service at {host} sent an answer closeout could not use: {error}"
                ).format(host=self._route.host, error=redact(str(exc))[:200]),
                hint=_("check --authority and any proxy between here and the sign-in service"),
            ) from None
        finally:
            self._save()

    def _save(self) -> None:
        if self._cache_file is not None:
            try:
                self._cache_file.save()
            except OSError as exc:
                # Losing the cache costs a sign-in next time; it must not stop the run.
                log.warning(
                    "Could not save the token cache %s: %s", self._cache_file.path, exc.strerror
                )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, authority={self.authority!r})"


class DeviceCodeAuth(_MsalAuth):
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
        self._granted: frozenset[str] = frozenset()

    def _build(self) -> msal.ClientApplication:
        return msal.PublicClientApplication(
            self.client_id,
            authority=self._route.authority,
            token_cache=self._token_cache,
            http_client=self._route.http_client,
            instance_discovery=self._route.instance_discovery,
            timeout=_HTTP_TIMEOUT if self._route.http_client is None else None,
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
    def granted_scopes(self) -> frozenset[str]:
        """Delegated permissions the last token carries, bare (``User.ReadWrite.All``)."""
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
                        sorted(_error_codes(result)),
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
            self._granted = frozenset(_bare_scope(s) for s in str(scope).split()) - _OIDC_SCOPES
        else:
            scp = str(token_claims(token).get("scp", ""))
            self._granted = frozenset(scp.split()) if scp else self._cached_targets(account)

    def _cached_targets(self, account: Mapping[str, Any]) -> frozenset[str]:
        found: set[str] = set()
        for entry in self._token_cache.search(
            msal.TokenCache.CredentialType.ACCESS_TOKEN,
            query={"home_account_id": account.get("home_account_id"), "client_id": self.client_id},
        ):
            found.update(_bare_scope(s) for s in str(entry.get("target", "")).split())
        return frozenset(found) - _OIDC_SCOPES

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
            self._granted = frozenset()


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


class CertificateAuth(_MsalAuth):
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
            timeout=_HTTP_TIMEOUT if self._route.http_client is None else None,
        )

    def _error(self, result: Mapping[str, Any]) -> AuthError:
        return _auth_error(
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
    def granted_scopes(self) -> frozenset[str]:
        """App roles of the current token (``User.ReadWrite.All``, …)."""
        roles = token_claims(self.token()).get("roles") or []
        return frozenset(str(r) for r in roles)


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


# -- bring your own token --------------------------------------------------------------------


class StaticTokenAuth:
    """A token obtained elsewhere (``CLOSEOUT_ACCESS_TOKEN``); closeout cannot renew it."""

    def __init__(self, token: str) -> None:
        value = (token or "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value or any(ch.isspace() for ch in value):
            raise AuthError(
                _("{env} does not hold a usable access token").format(env=ENV_ACCESS_TOKEN),
                hint=_("set it to the token alone, without quotes or line breaks"),
            )
        self._token = value
        self._claims = token_claims(value)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StaticTokenAuth | None:
        """The token in ``CLOSEOUT_ACCESS_TOKEN``, or None if it is unset or empty."""
        value = (os.environ if environ is None else environ).get(ENV_ACCESS_TOKEN, "")
        return cls(value) if value.strip() else None

    @property
    def claims(self) -> dict[str, Any]:
        return dict(self._claims)

    @property
    def account_upn(self) -> str | None:
        return self._claims.get("upn") or self._claims.get("preferred_username") or None

    @property
    def expires_at(self) -> datetime | None:
        exp = self._claims.get("exp")
        return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None

    @property
    def granted_scopes(self) -> frozenset[str]:
        if is_app_only(self._claims):
            return frozenset(str(r) for r in self._claims.get("roles") or [])
        return frozenset(str(self._claims.get("scp", "")).split())

    def _rejected(self, why: str) -> AuthError:
        return AuthError(
            _(
                "The access token from {env} {why}, and closeout cannot renew a token it did "
                "not obtain itself."
            ).format(env=ENV_ACCESS_TOKEN, why=why),
            hint=_(
                "get a new one, e.g. `az account get-access-token --resource-type ms-graph "
                "--query accessToken -o tsv`, put it in {env} and run again "
                "(or unset {env} to sign in with a device code)"
            ).format(env=ENV_ACCESS_TOKEN),
        )

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            raise self._rejected(_("was rejected by Microsoft Graph (expired or revoked)"))
        expires = self.expires_at
        if expires is not None and expires <= datetime.now(UTC):
            raise self._rejected(_("expired at {when:%Y-%m-%d %H:%M:%S} UTC").format(when=expires))
        return self._token

    def __repr__(self) -> str:
        return "StaticTokenAuth(<token hidden>)"
