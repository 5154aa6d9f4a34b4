"""Taking a snapshot: everything the close-out touches, read once, read-only.

The reads are the inventory's own (:func:`services.inventory.take.take_inventory`, which hands back
what Graph returned as well as its rows) and the organization as step 0 reads it
(:func:`services.caller.read_organization`); ``--mfa`` adds the per-user MFA states
(:mod:`.mfa`). The client it is given must be read-only (``--read-only``'s guard): nothing here
sends a write, and the guard makes sure nothing can. Progress (parts, page counts, an ETA) goes
to ``say`` as the reads come in; :class:`CaptureSummary` says what was found.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services import __version__, endpoints
from services.caller import Caller, read_organization
from services.control import RunControl
from services.durations import human_duration
from services.errors import CloseoutError, GraphError
from services.graph.client import GraphClient
from services.graph.responses import CallRecord
from services.i18n import N_, _
from services.inventory.take import take_inventory
from services.models import GLOBAL_ADMIN, MICROSOFT_TENANT_IDS

from .fileformat import Snapshot
from .mfa import estimate, read_mfa_states
from .redact import Redactor, redact_body

__all__ = ["CaptureSummary", "ReadProgress", "take_snapshot"]

PAGE = 999
# Reads besides the users' pages: roles and their members, SKUs, subscriptions, the recycle
# bin, applications, service principals, policies (an estimate, for the ETA only).
OTHER_READS = 20
ORG_FIELDS = ("id", "displayName", "verifiedDomains", "onPremisesSyncEnabled")
SKU_FIELDS = ("id", "skuId", "skuPartNumber", "appliesTo", "capabilityStatus", "servicePlans")

# The part of the tenant a read is for, by its path (for the progress lines).
_PARTS = (
    ("/organization", N_("organization")),
    ("/users/$count", N_("users")),
    ("/users", N_("users")),
    ("/directoryRoles", N_("directory roles")),
    ("/subscribedSkus", N_("licences")),
    ("/directory/subscriptions", N_("subscriptions")),
    ("/directory/deletedItems", N_("recycle bin")),
    ("/applications", N_("applications")),
    ("/servicePrincipals", N_("service principals")),
    ("/policies/", N_("policies")),
    ("/identity/conditionalAccess", N_("policies")),
    ("/$batch", N_("MFA states")),
)


def _answered(record: CallRecord) -> bool:
    return record.status is not None and 200 <= record.status < 300


class ReadProgress:
    """Counts the reads as the client makes them and says, at most every ``every`` seconds,
    which part is being read, how many pages so far, and an ETA. Thread-safe."""

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.say = say
        self.every = every
        self.clock = clock
        self.requests = 0
        self.pages: dict[str, int] = {}
        self.expected_calls: int | None = None
        self.expected_user_pages: int | None = None
        self._seconds = 0.0
        self._said_at = -math.inf
        self._lock = threading.Lock()

    def __call__(self, record: CallRecord) -> None:
        part = next((name for prefix, name in _PARTS if record.path.startswith(prefix)), None)
        with self._lock:
            self.requests += 1
            self._seconds += record.duration_ms / 1000.0
            # A refused or failed read (a rejected token's 401 first of all) read no page.
            if part is None or part == "MFA states" or not _answered(record):
                return
            self.pages[part] = self.pages.get(part, 0) + 1
            now = self.clock()
            if now - self._said_at < self.every:
                return
            self._said_at = now
            line = self._line(part)
        self.say(line)

    def _line(self, part: str) -> str:
        pages = self.pages[part]
        if part == "users" and self.expected_user_pages:
            text = _("Reading {part}: page {n} of about {of}").format(
                part=_(part), n=pages, of=self.expected_user_pages
            )
        else:
            text = _("Reading {part}: page {n}").format(part=_(part), n=pages)
        if self.expected_calls and self.requests:
            left = max(self.expected_calls - self.requests, 0)
            eta = left * self._seconds / self.requests
            text += " · " + _("about {s:.0f} s left").format(s=eta)
        return text


@dataclass
class CaptureSummary:
    """What the snapshot holds, for the admin's summary line by line."""

    counts: dict[str, int] = field(default_factory=dict)
    subscriptions: dict[str, int] = field(default_factory=dict)
    """Graph status → count."""
    mfa: dict[str, int] = field(default_factory=dict)
    """Per-user MFA state → count (with ``--mfa``)."""
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0


def take_snapshot(
    client: GraphClient,
    caller: Caller,
    *,
    client_id: str,
    mfa: bool,
    redact: bool,
    control: RunControl,
    say: Callable[[str], None],
    progress: ReadProgress | None = None,
    time_scale: float = 1.0,
) -> tuple[Snapshot, CaptureSummary]:
    """Read the tenant and return the snapshot (redacted if asked) and its summary."""
    if not client.read_only:
        # The snapshot's promise is that it cannot change the tenant: only a read-only client
        # (whose guard refuses every write before it is sent) may take one.
        raise CloseoutError(_("Internal error: a snapshot needs a read-only Graph client."))
    started = time.monotonic()
    org = {k: v for k, v in read_organization(client).items() if k in ORG_FIELDS}
    user_count = _count_users(client)
    if progress is not None and user_count is not None:
        progress.expected_user_pages = max(1, math.ceil(user_count / PAGE))
        progress.expected_calls = progress.requests + progress.expected_user_pages + OTHER_READS
    if user_count is not None:
        say(
            _("Reading the tenant (read-only): {n:,} users, about {p:,} pages.").format(
                n=user_count, p=math.ceil(user_count / PAGE) + OTHER_READS
            )
        )
    raw: dict[str, list[dict[str, Any]]] = {}
    inv = take_inventory(client, caller.tenant, raw=raw)
    policies = raw.get("policies")
    body: dict[str, Any] = {
        "organization": org,
        "users": raw.get("users", []),
        "directoryRoles": raw.get("roles", []),
        "subscribedSkus": [{k: s.get(k) for k in SKU_FIELDS if k in s} for s in inv.skus],
        "subscriptions": raw.get("subscriptions", []),
        "applications": raw.get("applications", []),
        "servicePrincipals": raw.get("servicePrincipals", []),
        "deletedUsers": inv.deleted_users,
        "deletedApplications": inv.deleted_applications,
        "deletedServicePrincipals": inv.deleted_service_principals,
        "securityDefaults": policies[0] if policies else None,
        "conditionalAccessPolicies": policies[1:] if policies else [],
        "mfaStates": None,
        "errors": dict(inv.errors),
    }
    if mfa:
        body["mfaStates"] = _read_mfa(
            client, [u.id for u in inv.users], len(inv.users), control, say, time_scale, body
        )
    body = _strip_odata(body)
    taken = client.server_time() or datetime.now(UTC)
    tenant = caller.tenant
    header: dict[str, Any] = {
        "tenantId": tenant.id,
        "capturedAt": taken.astimezone(UTC).isoformat(),
        "closeoutVersion": __version__,
        "redacted": False,
        "mfa": body["mfaStates"] is not None,
        "signedIn": None
        if tenant.app_only
        else {"id": tenant.signed_in_id, "upn": tenant.signed_in_upn},
        "clientId": client_id,
        "cloud": tenant.cloud,
    }
    summary = summarize(body)
    summary.requests = progress.requests if progress is not None else 0
    summary.seconds = time.monotonic() - started
    body["stats"] = {"requests": summary.requests, "seconds": round(summary.seconds, 3)}
    if redact:
        redact_body(body, header, Redactor())
    return Snapshot(header=header, body=body), summary


def _count_users(client: GraphClient) -> int | None:
    """How many users (for the ETA); None when Graph will not say (it is only an estimate)."""
    try:
        return client.count(endpoints.USERS.url())  # endpoints.USERS_COUNT
    except (GraphError, CloseoutError):
        return None


def _read_mfa(
    client: GraphClient,
    user_ids: list[str],
    tenant_users: int,
    control: RunControl,
    say: Callable[[str], None],
    time_scale: float,
    body: dict[str, Any],
) -> dict[str, str] | None:
    est = estimate(len(user_ids), tenant_users)
    say(
        _(
            "Reading per-user MFA states: {n:,} reads in {b:,} batches. About {fast} at Graph's "
            "identity read limit; if Graph counts them as reports (5 per 10 s, unconfirmed) "
            "up to {slow}."
        ).format(
            n=est.requests,
            b=est.batches,
            fast=human_duration(est.identity_seconds),
            slow=human_duration(est.reports_seconds),
        )
    )
    last = [-math.inf]

    def progress(done: int, total: int, eta: float | None) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 2.0:
            return
        last[0] = now
        left = "" if eta is None else " · " + _("about {t} left").format(t=human_duration(eta))
        say(_("MFA states: {done:,} of {total:,}").format(done=done, total=total) + left)

    try:
        read = read_mfa_states(
            client,
            user_ids,
            tenant_users=tenant_users,
            control=control,
            time_scale=time_scale,
            progress=progress,
        )
    except GraphError as exc:
        if exc.status != 403:
            raise
        body["errors"]["mfa"] = f"{exc.status} {exc.code}: {exc.message}"
        return None
    if read.reports_limit:
        say(_("Graph throttled the MFA reads as reports (5 per 10 s): they were slowed to that."))
    for uid, why in read.failed.items():
        body["errors"][f"mfa:{uid}"] = why
    return read.states


def _strip_odata(value: Any) -> Any:
    """Graph's annotations (``@odata.context`` and the like) say nothing about the tenant."""
    if isinstance(value, Mapping):
        return {k: _strip_odata(v) for k, v in value.items() if not str(k).startswith("@odata.")}
    if isinstance(value, list):
        return [_strip_odata(v) for v in value]
    return value


def summarize(body: Mapping[str, Any]) -> CaptureSummary:
    users = [u for u in body.get("users") or [] if isinstance(u, dict)]
    gas = next(
        (
            r.get("members") or []
            for r in body.get("directoryRoles") or []
            if r.get("roleTemplateId") == GLOBAL_ADMIN
        ),
        [],
    )
    sps = body.get("servicePrincipals") or []
    summary = CaptureSummary(
        counts={
            "users": len(users),
            "guests": sum(1 for u in users if u.get("userType") == "Guest"),
            "synced": sum(1 for u in users if u.get("onPremisesSyncEnabled") is True),
            "disabled": sum(1 for u in users if u.get("accountEnabled") is False),
            "globalAdmins": len(gas),
            "roles": len(body.get("directoryRoles") or []),
            "skus": len(body.get("subscribedSkus") or []),
            "applications": len(body.get("applications") or []),
            "servicePrincipals": len(sps),
            "otherServicePrincipals": sum(
                1 for s in sps if s.get("appOwnerOrganizationId") not in MICROSOFT_TENANT_IDS
            ),
            "deletedUsers": len(body.get("deletedUsers") or []),
            "deletedApplications": len(body.get("deletedApplications") or []),
            "deletedServicePrincipals": len(body.get("deletedServicePrincipals") or []),
            "conditionalAccessPolicies": len(body.get("conditionalAccessPolicies") or []),
        },
        errors=dict(body.get("errors") or {}),
    )
    for sub in body.get("subscriptions") or []:
        status = str(sub.get("status") or "?")
        summary.subscriptions[status] = summary.subscriptions.get(status, 0) + 1
    for state in (body.get("mfaStates") or {}).values():
        summary.mfa[str(state)] = summary.mfa.get(str(state), 0) + 1
    return summary
