"""Microsoft cloud instances: where Graph, sign-in and the admin portals live for each cloud.

closeout works against the global cloud, US Government (GCC High), US Government DoD and
Microsoft Azure operated by 21Vianet (China). ``resolve_cloud`` picks one by name and applies
the ``--graph-url`` / ``--authority`` overrides, which is also how the sandbox is reached.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .errors import CloseoutError
from .i18n import _

__all__ = ["CLOUDS", "Cloud", "resolve_cloud"]


@dataclass(frozen=True)
class Cloud:
    """One cloud instance. URLs carry no trailing slash and no API version."""

    name: str
    label: str
    graph_url: str
    authority_host: str
    admin_center_url: str
    entra_admin_center_url: str
    # The Graph resource tokens are issued for. An override of ``graph_url`` changes where
    # requests go (a proxy, the sandbox), not which audience the token must carry.
    graph_resource: str = ""
    # A full authority URL (host + tenant) when ``--authority`` was given; else None and
    # :meth:`authority_for` builds one from ``authority_host``.
    authority: str | None = None
    overridden: bool = False

    def authority_for(self, tenant: str = "organizations") -> str:
        """The msal authority URL: the override if one was given, else host + tenant."""
        if self.authority:
            return self.authority
        return f"{self.authority_host}/{tenant}"

    def scope(self, name: str) -> str:
        """A fully qualified delegated scope (``https://graph.microsoft.us/User.Read.All``).

        National clouds need the resource prefix; for the global cloud the short form works
        too, but the qualified form is valid everywhere.
        """
        return f"{self.graph_resource or self.graph_url}/{name}"

    @property
    def default_scope(self) -> str:
        """``{resource}/.default``: what app-only sign-in asks for."""
        return self.scope(".default")


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        name="global",
        label="Microsoft global cloud",
        graph_url="https://graph.microsoft.com",
        authority_host="https://login.microsoftonline.com",
        admin_center_url="https://admin.microsoft.com",
        entra_admin_center_url="https://entra.microsoft.com",
        graph_resource="https://graph.microsoft.com",
    ),
    "usgov": Cloud(
        name="usgov",
        label="US Government (GCC High)",
        graph_url="https://graph.microsoft.us",
        authority_host="https://login.microsoftonline.us",
        admin_center_url="https://portal.office365.us",
        entra_admin_center_url="https://entra.microsoft.us",
        graph_resource="https://graph.microsoft.us",
    ),
    "usdod": Cloud(
        name="usdod",
        label="US Government DoD",
        graph_url="https://dod-graph.microsoft.us",
        authority_host="https://login.microsoftonline.us",
        admin_center_url="https://portal.apps.mil",
        # DoD shares the US Government Entra admin center, as it shares the login authority.
        entra_admin_center_url="https://entra.microsoft.us",
        graph_resource="https://dod-graph.microsoft.us",
    ),
    "china": Cloud(
        name="china",
        label="Microsoft Azure operated by 21Vianet (China)",
        graph_url="https://microsoftgraph.chinacloudapi.cn",
        authority_host="https://login.chinacloudapi.cn",
        admin_center_url="https://portal.partner.microsoftonline.cn",
        entra_admin_center_url="https://entra.microsoftonline.cn",
        graph_resource="https://microsoftgraph.chinacloudapi.cn",
    ),
}

# Names people type for the same clouds (Azure CLI, PowerShell and portal vocabulary).
_ALIASES = {
    "public": "global",
    "commercial": "global",
    "azurecloud": "global",
    "worldwide": "global",
    "gcchigh": "usgov",
    "gcc-high": "usgov",
    "usgovernment": "usgov",
    "azureusgovernment": "usgov",
    "dod": "usdod",
    "usgovdod": "usdod",
    "cn": "china",
    "21vianet": "china",
    "azurechinacloud": "china",
}


def resolve_cloud(
    name: str = "global", graph_url: str | None = None, authority: str | None = None
) -> Cloud:
    """The cloud called ``name`` with the optional overrides applied.

    ``graph_url`` is the Graph root without an API version (``https://graph.microsoft.com``,
    ``http://127.0.0.1:8080``); ``authority`` is a full authority URL including the tenant
    (``https://login.microsoftonline.us/contoso.onmicrosoft.us``). Plain ``http`` is accepted
    only for loopback addresses, because a bearer token must never cross a network in clear.
    """
    key = (name or "global").strip().lower()
    key = _ALIASES.get(key, key)
    try:
        cloud = CLOUDS[key]
    except KeyError:
        raise CloseoutError(
            _("Unknown cloud {name!r}").format(name=name),
            hint=_("valid clouds: {clouds}").format(clouds=", ".join(CLOUDS)),
        ) from None
    if not graph_url and not authority:
        return cloud
    full, host = _check_authority(authority) if authority else (None, cloud.authority_host)
    return replace(
        cloud,
        graph_url=_check_graph_url(graph_url) if graph_url else cloud.graph_url,
        authority=full,
        authority_host=host,
        overridden=True,
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base(url: str, what: str, flag: str) -> tuple[str, str]:
    """Validated ``(scheme://netloc, path)`` of an override URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CloseoutError(
            _("{what} {url!r} is not an http(s) URL").format(what=what, url=url),
            hint=_("give {flag} like https://host[:port]").format(flag=flag),
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise CloseoutError(
            _("{what} {url!r} uses plain http to a non-loopback host").format(what=what, url=url),
            hint=_("use https; plain http is only allowed for 127.0.0.1/localhost (the sandbox)"),
        )
    if parts.query or parts.fragment:
        raise CloseoutError(
            _("{what} {url!r} must not have a query or fragment").format(what=what, url=url),
            hint=flag,
        )
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def _check_graph_url(url: str) -> str:
    base, path = _check_base(url, _("Graph URL"), "--graph-url")
    last = path.rsplit("/", 1)[-1].lower()
    if last in ("v1.0", "beta"):
        raise CloseoutError(
            _("Graph URL {url!r} includes the API version").format(url=url),
            hint=_("give the Graph root without /{version}, e.g. {root}").format(
                version=last, root=f"{base}{path[: -len(last) - 1]}"
            ),
        )
    return base + path


def _check_authority(url: str) -> tuple[str, str]:
    base, path = _check_base(url, _("Authority"), "--authority")
    if not path.strip("/"):
        raise CloseoutError(
            _("Authority {url!r} has no tenant").format(url=url),
            hint=_("give the full authority, e.g. https://login.microsoftonline.com/<tenant-id>"),
        )
    return base + path, base
