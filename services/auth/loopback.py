"""The route msal takes to an authority, and the loopback HTTP client for the sandbox.

msal only accepts https authorities. For a loopback authority (the sandbox) msal is given the
https form plus :class:`LoopbackHttpClient`, which sends the requests over plain http to the
same loopback port and refuses every other host, so a sandbox sign-in can never leak to the
internet. Real cloud authorities use msal's own HTTP client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msal
import requests

from services.errors import AuthError
from services.i18n import _

__all__ = ["HTTP_TIMEOUT", "LoopbackHttpClient", "MsalRoute", "is_loopback_host", "msal_route"]

# Requests for a token must never wait forever on a dead network: (connect, read) seconds.
HTTP_TIMEOUT = (10.0, 60.0)


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

    def __init__(self, timeout: float | tuple[float, float] = HTTP_TIMEOUT) -> None:
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
class MsalRoute:
    authority: str  # what msal is given (always https)
    host: str
    http_client: Any  # None: msal's own requests session
    instance_discovery: bool | None  # None: msal's default (only for Microsoft hosts)


def msal_route(authority: str, http_client: Any) -> MsalRoute:
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
        return MsalRoute(https, host, http_client or LoopbackHttpClient(), False)
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
    return MsalRoute(https, host, http_client, None if known else False)
