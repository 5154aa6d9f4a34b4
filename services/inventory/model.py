"""The inventory as data: every part of the tenant the close-out touches, what is derived
from it (synchronized users, data holders, products), and the backup's JSON, written in
pieces; plus the subscriptions' summary an evidence pack gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from services import json_text
from services.errors import GraphError
from services.models import (
    AppRow,
    InventoryRefreshed,
    PolicyRow,
    SubscriptionRow,
    TenantInfo,
    UserRow,
)
from services.products import Product, product

NOT_LISTED = "not listed"
"""A subscription's status once Graph no longer returns it (deprovisioned)."""


@dataclass
class Inventory:
    tenant: TenantInfo
    taken_at: datetime
    began_at: datetime | None = None
    """Graph's clock before the read began (the last answer's ``Date``): nothing read is older,
    so a state it shows held at or after this instant, while ``taken_at`` is when it ended."""
    users: list[UserRow] = field(default_factory=list)
    deleted_users: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[SubscriptionRow] = field(default_factory=list)
    skus: list[dict[str, Any]] = field(default_factory=list)
    applications: list[AppRow] = field(default_factory=list)
    deleted_applications: list[dict[str, Any]] = field(default_factory=list)
    service_principals: list[AppRow] = field(default_factory=list)
    deleted_service_principals: list[dict[str, Any]] = field(default_factory=list)
    policies: list[PolicyRow] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)
    """Role template id → member user ids."""
    role_names: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    """Parts that could not be read, with the reason."""
    denied: dict[str, GraphError] = field(default_factory=dict)
    """Of those, the ones Graph refused (403): what the caller lacks, when nothing else says."""

    @property
    def synced_users(self) -> list[UserRow]:
        return [u for u in self.users if u.synced]

    @property
    def data_holders(self) -> list[UserRow]:
        """Users whose licences carry mailbox or OneDrive data (back it up first)."""
        return [u for u in self.users if u.has_mailbox_data]

    @property
    def products(self) -> list[Product]:
        """Every SKU the tenant has (licences and subscriptions), each once, by name."""
        seen: dict[str, Product] = {}
        for sku in self.skus:
            p = product(str(sku.get("skuId") or ""), str(sku.get("skuPartNumber") or ""))
            seen.setdefault(p.sku_id or p.sku_part_number, p)
        for sub in self.subscriptions:
            seen.setdefault(sub.sku_id or sub.sku_part_number, sub.product)
        return sorted(seen.values(), key=lambda p: (p.display_name.casefold(), p.sku_id))

    def user(self, user_id: str) -> UserRow | None:
        return next((u for u in self.users if u.id == user_id), None)

    def as_event(self) -> InventoryRefreshed:
        """The inventory as the engine announces it to the UI."""
        return InventoryRefreshed(
            users=tuple(self.users),
            subscriptions=tuple(self.subscriptions),
            apps=tuple(self.applications) + tuple(self.service_principals),
            policies=tuple(self.policies),
            deleted_users=len(self.deleted_users),
        )

    def subscriptions_json(self) -> list[dict[str, Any]]:
        """The subscriptions as :meth:`to_json` writes them."""
        return list(_rows(self.subscriptions, _product_name))

    def _members(self) -> Iterator[tuple[str, Any]]:
        """The backup's members in order; its lists as generators, rendered as consumed."""
        rows = _rows
        yield "tenant", asdict(self.tenant)
        yield "takenAt", self.taken_at.isoformat()
        yield "users", rows(self.users)
        yield "deletedUsers", self.deleted_users
        yield "subscriptions", rows(self.subscriptions, _product_name)
        yield "subscribedSkus", self.skus
        # The names of the codes in users' licences and in subscriptions.
        yield "products", [p.to_json() for p in self.products]
        yield "applications", rows(self.applications)
        yield "deletedApplications", self.deleted_applications
        yield "servicePrincipals", rows(self.service_principals)
        yield "deletedServicePrincipals", self.deleted_service_principals
        yield "policies", rows(self.policies)
        yield "roles", {self.role_names.get(k, k): v for k, v in self.roles.items()}
        # What to back up before step 1: users whose licences carry mailbox/OneDrive data.
        yield "usersWithMailboxOrOneDriveData", (u.upn for u in self.data_holders)
        yield "errors", self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            key: value if isinstance(value, dict | str) else list(value)
            for key, value in self._members()
        }

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_json` as JSON text, one user (or other row) per line, in pieces: the
        backup of 100,000 users is written without its whole text in memory."""
        return json_text.chunks(self._members())


def _rows(items: Iterable[Any], extra: Any = None) -> Iterator[dict[str, Any]]:
    for item in items:
        data = {}
        for name in _row_fields(type(item)):
            value = getattr(item, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        if extra is not None:
            data.update(extra(item))
        yield data


def _product_name(sub: SubscriptionRow) -> dict[str, str]:
    return {"productName": sub.product.display_name}


_FIELDS: dict[type, tuple[str, ...]] = {}


def _row_fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in fields(kind))
    return names


def subscriptions_summary(
    before: Mapping[str, Any], now: Iterable[SubscriptionRow] | None
) -> list[dict[str, Any]]:
    """Each subscription of the inventory before (``to_json``) by product, with its status then
    and, when ``now`` is given, now ("not listed" once Graph no longer returns it)."""
    current = {s.id: s.status for s in now} if now is not None else None
    out = []
    for sub in before.get("subscriptions") or []:
        if not isinstance(sub, Mapping):
            continue
        sub_id = str(sub.get("id") or "")
        item: dict[str, Any] = {
            "id": sub_id,
            # Packs from before the product names carry no skuId: the code still finds the name.
            **product(
                str(sub.get("sku_id") or ""), str(sub.get("sku_part_number") or "")
            ).to_json(),
            "statusBefore": sub.get("status"),
        }
        if current is not None:
            item["statusNow"] = current.get(sub_id, NOT_LISTED)
        out.append(item)
    return out
