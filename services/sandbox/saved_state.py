"""A sandbox tenant's whole state as bytes, and back: what ``closeout --demo`` keeps between
launches (the files and when they are written are :mod:`services.demo_folder`'s).

Owns the format. One header line of JSON (the format's name, its version, a SHA-256 of the body,
the tenant's id, size and seed), then the body: JSON, zlib-compressed (a 100,000-user tenant is
6 MB, a quarter of its plain 25 MB), holding every object of the tenant — users and the recycle bin with
their sync, licences and per-user MFA; subscriptions where their lifecycle stands; roles;
applications and service principals, live and deleted; policies; the checks only a person can
tick; the organization with its sync turn-off and its 72-hour horizon — as one table per kind
(its columns named once, then a row of values per object, in the order Graph pages them), and
the simulated clock (its start instant and how far it has run: it goes on from there, it does
not start again) and the sandbox's random stream.

Not kept, and not needed: tokens and device codes (the next launch signs in again), throttling
windows (they are seconds of simulated time, long past by then), the recorder (what the tests
read of one launch) and injected faults.

:func:`decode` refuses anything it did not write (another program's file, a damaged or cut
one, another version of this format) with :class:`SavedStateError`; it never half-loads one.
"""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from services.errors import CloseoutError
from services.i18n import _

from .tenant import (
    Application,
    ConditionalAccessPolicy,
    DirectoryRole,
    ManualBlocker,
    Organization,
    ServicePrincipal,
    Sku,
    Subscription,
    Tenant,
    User,
)

if TYPE_CHECKING:
    from .config import SandboxConfig
    from .core import Sandbox

__all__ = [
    "FORMAT",
    "VERSION",
    "SavedState",
    "SavedStateError",
    "capture",
    "decode",
    "decode_header",
    "restore",
]

FORMAT = "closeout-demo-sandbox"
VERSION = 1
"""Raised whenever a kept field changes meaning; a file of another version is refused, never
guessed at (the demo starts again with ``--fresh``)."""

# The tenant's collections, each a table of one kind (kept in their paging order).
_COLLECTIONS: dict[str, type] = {
    "users": User,
    "deleted_users": User,
    "subscriptions": Subscription,
    "applications": Application,
    "deleted_applications": Application,
    "service_principals": ServicePrincipal,
    "deleted_service_principals": ServicePrincipal,
    "ca_policies": ConditionalAccessPolicy,
}
# The tenant's dictionaries, each keyed by one of its objects' fields.
_MAPS: dict[str, tuple[type, str]] = {
    "roles": (DirectoryRole, "template_id"),
    "skus": (Sku, "sku_id"),
    "manual_blockers": (ManualBlocker, "key"),
}
_SCALARS = ("security_defaults_enabled", "admin_id", "deleted", "deleted_at")


class SavedStateError(CloseoutError):
    """A demo state file closeout cannot use: not one of its own, damaged, or of another
    version. Nothing of it was loaded."""


@dataclass(frozen=True)
class SavedState:
    """A sandbox's state, captured (:func:`capture`) or read back (:func:`decode`)."""

    tenant_id: str
    users: int
    """The size the tenant was seeded with (``--users``), the signed-in admin included."""
    seed: int
    body: dict[str, Any]

    @property
    def deleted(self) -> bool:
        """The tenant was deleted (its close-out is complete): nobody can sign in to it."""
        return bool(self.body["scalars"]["deleted"])

    @property
    def sim_seconds(self) -> float:
        """How far the tenant's simulated clock had run."""
        return float(self.body["clock"]["elapsed"])

    def encode(self) -> bytes:
        """The file's bytes: the header line, then the compressed body."""
        # ASCII JSON: a hostile display name may hold a lone surrogate, which UTF-8 cannot
        # encode and a \u escape keeps exactly.
        body = zlib.compress(json.dumps(self.body, separators=(",", ":")).encode("ascii"), 1)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "tenant": self.tenant_id,
            "users": self.users,
            "seed": self.seed,
            "deleted": self.deleted,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        return json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + body


# -- capturing ----------------------------------------------------------------------------------


def _columns(kind: type) -> list[str]:
    return [f.name for f in fields(kind)]


def _table(kind: type, objects: list[Any]) -> dict[str, Any]:
    """One kind's objects as columns and rows. Lists in a row are copied: the body is encoded
    after the sandbox's lock is let go, while the tenant may change."""
    columns = _columns(kind)
    lists = [i for i, f in enumerate(fields(kind)) if str(f.type).startswith("list")]
    get = attrgetter(*columns)
    rows: list[Any] = [get(o) for o in objects]
    if lists:
        rows = [list(row) for row in rows]
        for row in rows:
            for i in lists:
                row[i] = list(row[i])
    return {"columns": columns, "rows": rows}


def capture(sandbox: Sandbox) -> SavedState:
    """The sandbox's state now, taken under its lock (copying rows, not encoding them: at
    100,000 users the lock is held about half a second, ``scripts/bench_demo_state.py``; the
    demo saves at most every twentieth of its time)."""
    with sandbox.lock:
        tenant = sandbox.tenant
        clock = sandbox.clock
        body: dict[str, Any] = {
            "org": _table(Organization, [tenant.org]),
            "collections": {
                name: _table(kind, list(getattr(tenant, name).values()))
                for name, kind in _COLLECTIONS.items()
            },
            "maps": {
                name: _table(kind, list(getattr(tenant, name).values()))
                for name, (kind, _key) in _MAPS.items()
            },
            "scalars": {name: getattr(tenant, name) for name in _SCALARS},
            "clock": {
                "start": clock.at(0).astimezone(UTC).isoformat(),
                "elapsed": clock.now(),
            },
            "rng": _rng_state(sandbox.rng),
        }
        return SavedState(tenant.org.id, sandbox.config.users, sandbox.config.seed, body)


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


# -- reading back -------------------------------------------------------------------------------


def _damaged(detail: str) -> SavedStateError:
    return SavedStateError(
        _("The demo tenant's saved state cannot be read: {detail}.").format(detail=detail),
        hint=_("closeout --demo --fresh discards it and starts a new demo tenant"),
    )


def decode_header(line: bytes) -> dict[str, Any]:
    """A state file's first line, checked: this format, this version (else
    :class:`SavedStateError`). Cheap: a launch is refused before any screen opens."""
    try:
        header = json.loads(line.decode("utf-8")) if line.endswith(b"\n") else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _damaged(_("it is not a closeout demo state file"))
    version = header.get("version")
    if version != VERSION:
        raise SavedStateError(
            _(
                "The demo tenant was saved by another version of closeout (state format {found}; "
                "this closeout reads {ours})."
            ).format(found=version, ours=VERSION),
            hint=_("closeout --demo --fresh discards it and starts a new demo tenant"),
        )
    for key in ("users", "seed"):
        if not isinstance(header.get(key), int) or isinstance(header.get(key), bool):
            raise _damaged(_("its header has no {key}").format(key=key))
    return header


def decode(data: bytes) -> SavedState:
    """The state in a file's bytes, checked whole before anything is built from it."""
    head, newline, rest = data.partition(b"\n")
    header = decode_header(head + newline)
    if hashlib.sha256(rest).hexdigest() != header.get("sha256"):
        raise _damaged(_("it is damaged or was cut short (its checksum does not match)"))
    try:
        body = json.loads(zlib.decompress(rest).decode("utf-8"))
        state = SavedState(str(header["tenant"]), int(header["users"]), int(header["seed"]), body)
        _check_body(state)
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise _damaged(
            _("its contents are not what closeout writes ({error})").format(error=exc)
        ) from None
    return state


def _check_body(state: SavedState) -> None:
    body = state.body
    if not isinstance(body, dict):
        raise TypeError("not an object")
    for part in ("org", "collections", "maps", "scalars", "clock", "rng"):
        if part not in body:
            raise KeyError(part)
    float(body["clock"]["elapsed"])
    datetime.fromisoformat(body["clock"]["start"])


def _objects(kind: type, table: dict[str, Any]) -> list[Any]:
    """The objects of one table; a column this version does not know, or a row of the wrong
    length, is refused (TypeError)."""
    known = {f.name: f for f in fields(kind)}
    columns = table["columns"]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {unknown[0]!r}")
    required = [
        name
        for name, f in known.items()
        if f.default is MISSING and f.default_factory is MISSING and name not in columns
    ]
    if required:
        raise TypeError(f"{kind.__name__} lacks {required[0]!r}")
    width = len(columns)
    out = []
    for row in table["rows"]:
        if not isinstance(row, list) or len(row) != width:
            raise TypeError(f"a {kind.__name__} row of the wrong length")
        out.append(kind(**dict(zip(columns, row, strict=True))))
    return out


def _tenant(state: SavedState) -> Tenant:
    body = state.body
    orgs = _objects(Organization, body["org"])
    if len(orgs) != 1 or orgs[0].id != state.tenant_id:
        raise ValueError("the organization is not the header's tenant")
    tenant = Tenant(org=orgs[0])
    for name, kind in _COLLECTIONS.items():
        collection = getattr(tenant, name)
        for obj in _objects(kind, body["collections"][name]):
            collection.add(obj.id, obj)
    for name, (kind, key) in _MAPS.items():
        mapping = getattr(tenant, name)
        for obj in _objects(kind, body["maps"][name]):
            mapping[getattr(obj, key)] = obj
    for sku in tenant.skus.values():
        sku.service_plans = [(str(plan_id), str(name)) for plan_id, name in sku.service_plans]
    for name in _SCALARS:
        setattr(tenant, name, body["scalars"][name])
    return tenant


def restore(state: SavedState, config: SandboxConfig) -> Sandbox:
    """A sandbox (not started) holding ``state``, its clock going on from where it stood, at
    ``config``'s speed (the clock's speed is the launch's choice, not the tenant's)."""
    from .core import Sandbox

    try:
        tenant = _tenant(state)
        clock = state.body["clock"]
        start = datetime.fromisoformat(clock["start"])
        rng_version, internal, gauss = state.body["rng"]
        rng = (int(rng_version), tuple(int(n) for n in internal), gauss)
    except (ValueError, KeyError, TypeError) as exc:
        raise _damaged(
            _("its contents are not what closeout writes ({error})").format(error=exc)
        ) from None
    sandbox = Sandbox(config, tenant=tenant, start=start)
    sandbox.clock.advance(max(0.0, float(clock["elapsed"])))
    try:
        sandbox.rng.setstate(rng)
    except (ValueError, TypeError) as exc:
        raise _damaged(str(exc)) from None
    sandbox.tokens.tenant_deleted = tenant.deleted
    return sandbox
