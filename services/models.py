"""Typed shapes shared by the engine, the headless CLI and the TUI.

Graph objects as closeout sees them (users, subscriptions, applications, policies), the step
model (ids, states, what a step waits for) and the events the engine emits while it works.
Frozen dataclasses throughout: state is replaced, never mutated, so that it can cross threads.
With slots: a 100,000-user tenant holds 100,000 rows and twice as many planned actions, and a
``__dict__`` each would double their memory and the objects the garbage collector walks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from .products import Product, product

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
BILLING_ADMIN = "b0f54661-2d74-4c50-afa3-1ec803f12efe"
MICROSOFT_TENANT_IDS = frozenset(
    {"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"}
)


class StepId(IntEnum):
    PREPARE = 0
    DELETE_USERS = 1
    CANCEL_SUBSCRIPTIONS = 2
    DELETE_SUBSCRIPTIONS = 3
    DISABLE_MFA = 4
    DELETE_DIRECTORY = 5


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_TIME = "waiting-time"
    WAITING_PERSON = "waiting-person"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"

    @property
    def waiting(self) -> bool:
        return self in (StepStatus.WAITING_TIME, StepStatus.WAITING_PERSON)


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: str
    display_name: str
    initial_domain: str
    cloud: str
    signed_in_upn: str | None
    signed_in_id: str | None
    app_only: bool
    sandbox: bool = False
    rehearsal: bool = False
    """A replica built from a snapshot of a real tenant (``closeout rehearse``)."""


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    upn: str
    display_name: str
    user_type: str
    account_enabled: bool
    synced: bool
    licenses: tuple[str, ...] = ()
    """SKU part numbers."""
    roles: tuple[str, ...] = ()
    """Role display names."""
    role_ids: tuple[str, ...] = ()
    """Role template ids."""
    has_mailbox_data: bool = False
    mfa_state: str | None = None

    @property
    def is_guest(self) -> bool:
        return self.user_type == "Guest"

    @property
    def is_global_admin(self) -> bool:
        return GLOBAL_ADMIN in self.role_ids


class SubscriptionPhase(StrEnum):
    """closeout's reading of Graph's status strings (the mapping is not documented)."""

    ACTIVE = "active"  # Enabled
    EXPIRED = "expired"  # Warning: lapsing by itself
    DISABLED = "disabled"  # Suspended or LockedOut
    DELETED = "deleted"  # Deleted, or no longer listed

    @classmethod
    def from_graph(cls, status: str) -> SubscriptionPhase:
        return {
            "enabled": cls.ACTIVE,
            "warning": cls.EXPIRED,
            "suspended": cls.DISABLED,
            "lockedout": cls.DISABLED,
            "deleted": cls.DELETED,
        }.get(status.lower(), cls.ACTIVE)


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: str
    sku_part_number: str
    status: str
    """Graph's ``status``: Enabled, Warning, Suspended, LockedOut, Deleted."""
    is_trial: bool
    total_licenses: int
    next_lifecycle: datetime | None
    partner_tenant_id: str | None
    sku_id: str = ""
    """Graph's skuId: the stable key of the product name (services.products)."""

    @property
    def phase(self) -> SubscriptionPhase:
        return SubscriptionPhase.from_graph(self.status)

    @property
    def product(self) -> Product:
        return product(self.sku_id, self.sku_part_number)

    @property
    def partner(self) -> bool:
        return bool(self.partner_tenant_id)


@dataclass(frozen=True, slots=True)
class AppRow:
    id: str
    app_id: str
    display_name: str
    kind: str
    """``application`` or ``servicePrincipal``."""
    owner_tenant_id: str | None = None
    enabled: bool = True

    @property
    def is_microsoft(self) -> bool:
        return self.kind == "servicePrincipal" and self.owner_tenant_id in MICROSOFT_TENANT_IDS


@dataclass(frozen=True, slots=True)
class PolicyRow:
    id: str
    display_name: str
    kind: str
    """``securityDefaults`` or ``conditionalAccess``."""
    state: str
    requires_mfa: bool


@dataclass(frozen=True, slots=True)
class StepState:
    """One line of the checklist: where a step stands, as last confirmed by Graph."""

    step: StepId
    status: StepStatus = StepStatus.PENDING
    summary: str = ""
    done: int = 0
    total: int = 0
    failed: int = 0
    waiting_for: str | None = None
    waiting_until: datetime | None = None
    link: str | None = None
    blockers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HandoffItem:
    object_id: str
    label: str
    state: str
    until: datetime | None = None
    note: str = ""
    product: Product | None = None
    """A subscription's SKU and product name (``label`` already shows both)."""
    name: str = ""
    """``label`` without the SKU code, for a table that shows the code in a column of its own."""


@dataclass(frozen=True, slots=True)
class Handoff:
    """A part no API can do: where to click, and what closeout watches for meanwhile."""

    step: StepId
    title: str
    link: str
    click_path: tuple[str, ...]
    items: tuple[HandoffItem, ...] = ()
    notes: tuple[str, ...] = ()
    done: bool = False


# -- events the engine emits (past tense; the TUI turns them into messages) ------------------


@dataclass(frozen=True, slots=True)
class StepChanged:
    state: StepState


@dataclass(frozen=True, slots=True)
class ItemFinished:
    step: StepId
    action: str
    object_id: str
    label: str
    outcome: str
    """``done``, ``gone``, ``failed`` or ``skipped``."""
    status: int | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProgressUpdated:
    step: StepId
    done: int
    total: int
    failed: int
    eta_seconds: float | None
    writes_in_window: int
    write_quota: int


@dataclass(frozen=True, slots=True)
class HandoffUpdated:
    handoff: Handoff


@dataclass(frozen=True, slots=True)
class Noted:
    level: str
    """``info``, ``warning`` or ``error``."""
    text: str
    step: StepId | None = None


@dataclass(frozen=True, slots=True)
class NotSent:
    """Writes of one action that never went out because the run stopped or Graph was out of
    reach: a count, as the journal keeps it (the plan names the objects; its words for them are
    :func:`services.plan.labels.not_sent_text`)."""

    step: StepId
    action: str
    count: int


@dataclass(frozen=True, slots=True)
class InventoryRefreshed:
    users: tuple[UserRow, ...] = ()
    subscriptions: tuple[SubscriptionRow, ...] = ()
    apps: tuple[AppRow, ...] = ()
    policies: tuple[PolicyRow, ...] = ()
    deleted_users: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


Event = (
    StepChanged
    | ItemFinished
    | ProgressUpdated
    | HandoffUpdated
    | Noted
    | NotSent
    | InventoryRefreshed
)
