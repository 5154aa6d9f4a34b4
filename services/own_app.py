"""The app closeout signs in with, as the tenant holds it (issue 7, item 1).

Step 5 deletes every application and every non-Microsoft service principal; closeout's own
app registration (``--client-id`` or a certificate) is one of them, and once it or its service
principal is gone closeout's tokens stop working. So closeout recognises it and leaves it out
of every delete until everything else in step 5 is done and verified.

Recognised by the client id closeout was configured with (always known: ``--client-id``, or
Microsoft's public client by default) and, where the token is readable, its ``appid``/``azp``
claims (tokens may be opaque, so never only those). The objects themselves come from Graph's
own lists: the inventory reads every application and service principal with its ``appId``
(the same data as ``servicePrincipals?$filter=appId eq '{client id}'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .models import AppRow

# Microsoft Graph's own service principal: deleting it can lock every admin out of Graph.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def own_app_ids(client_id: str | None, claims: Mapping[str, Any] | None = None) -> frozenset[str]:
    ids = {client_id or ""}
    for claim in ("appid", "azp"):
        value = (claims or {}).get(claim)
        if isinstance(value, str):
            ids.add(value)
    return frozenset(i.lower() for i in ids if i)


@dataclass(frozen=True)
class OwnApp:
    app_ids: frozenset[str]
    applications: tuple[AppRow, ...] = ()
    service_principals: tuple[AppRow, ...] = ()
    microsoft_too: bool = False
    """After the last resort removed every other service principal, Microsoft's public
    client's one (closeout's, by default) is left to go last as well."""

    @property
    def object_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in (*self.applications, *self.service_principals))

    @property
    def blocking(self) -> tuple[AppRow, ...]:
        """What must go before the tenant can: the app registration (its service principal
        goes with it), else a service principal of an app registered elsewhere, unless it is
        Microsoft's (left alone, as every Microsoft service principal is)."""
        if self.applications:
            return self.applications
        return tuple(
            sp
            for sp in self.service_principals
            if sp.enabled and (self.microsoft_too or not sp.is_microsoft)
        )

    def holds(self, deleted: Mapping[str, Any]) -> bool:
        """Whether a recycle-bin entry (a Graph dict with ``appId``) is closeout's own."""
        return str(deleted.get("appId") or "").lower() in self.app_ids

    @property
    def names(self) -> str:
        return ", ".join(sorted({o.display_name for o in self.blocking}))


def find_own_app(
    app_ids: frozenset[str],
    applications: Iterable[AppRow],
    service_principals: Iterable[AppRow],
    *,
    microsoft_too: bool = False,
) -> OwnApp:
    def ours(row: AppRow) -> bool:
        return row.app_id.lower() in app_ids

    return OwnApp(
        app_ids,
        tuple(a for a in applications if ours(a)),
        tuple(sp for sp in service_principals if ours(sp)),
        microsoft_too,
    )
