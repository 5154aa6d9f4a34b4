"""Plan, then apply: per step, the exact objects closeout will act on and what it will do.

A plan is built from a fresh inventory and is read-only to make. The accounts to keep (the
signed-in admin, or with app-only sign-in the ``--keep`` accounts) are never in its delete set,
and at least one kept account must be a Global Administrator, so the last one is never deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, TextIO, get_type_hints

from .caller import Caller
from .data_owners import some_names
from .errors import CloseoutError
from .i18n import N_, _, ngettext
from .inventory import Inventory
from .keep import KeepEntry, entries_for
from .keep import resolve as resolve_keep
from .models import (
    GLOBAL_ADMIN,
    MICROSOFT_TENANT_IDS,
    StepId,
    SubscriptionPhase,
    SubscriptionRow,
    TenantInfo,
    UserRow,
)
from .own_app import OwnApp, find_own_app
from .self_service import split as split_self_service
from .steps.dirsync import connect_advice
from .textsafe import json_loads

# What each planned action means, in words (translated where shown).
ACTION_LABELS: dict[str, str] = {
    "disable-directory-sync": N_("Turn directory synchronization off"),
    "delete-user": N_("Delete users"),
    "cancel-subscription": N_("Cancel in the admin center"),
    "contact-partner": N_("Ask the partner to cancel"),
    "wait-expired": N_("Wait until it is disabled"),
    "delete-subscription": N_("Delete in the admin center"),
    "disable-mfa": N_("Turn per-user MFA off"),
    "disable-security-defaults": N_("Turn security defaults off"),
    "report-security-defaults": N_("Security defaults stay on (reported)"),
    "disable-ca-policy": N_("Turn Conditional Access policies off"),
    "report-ca-policy": N_("Conditional Access policies stay on (reported)"),
    "purge-user": N_("Permanently delete deleted users"),
    "delete-application": N_("Delete applications"),
    "purge-application": N_("Permanently delete deleted applications"),
    "delete-service-principal": N_("Delete service principals"),
    "purge-service-principal": N_("Permanently delete deleted service principals"),
    "disable-service-principal": N_("Disable service principals that refuse deletion"),
    "remove-service-principal": N_("Delete every service principal (last resort)"),
    "delete-self-service-product": N_(
        "Delete self-service sign-up products in the Entra admin center"
    ),
    "delete-own-app": N_("Delete closeout's own app, as the very last write"),
    "hand-off-own-app": N_("Leave closeout's own app for you to delete, last"),
    "delete-tenant": N_("Delete the tenant in the Entra admin center"),
}


def action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def subscription_label(s: SubscriptionRow) -> str:
    """``Microsoft 365 E3 (SPE_E3)``, and ``(trial)`` after a trial's."""
    return s.product.label + (_(" (trial)") if s.is_trial else "")


def subscription_name(s: SubscriptionRow) -> str:
    """``Microsoft 365 E3``, and ``(trial)`` after a trial's: the label without the code."""
    return s.product.display_name + (_(" (trial)") if s.is_trial else "")


class PlanError(CloseoutError):
    """The plan cannot be made safely (e.g. app-only without ``--keep``)."""


@dataclass(frozen=True, slots=True)
class KeptAccount:
    id: str
    upn: str
    reason: str
    """Why it is kept (``services.keep``: signed-in admin, --keep, keep-file, marked)."""
    source: str = ""
    """For a keep file: ``path:line``."""
    keep_mfa: bool = False
    """Step 4 leaves its per-user MFA on (the signed-in admin's always stays)."""


@dataclass(frozen=True, slots=True)
class PlannedAction:
    step: StepId
    action: str
    object_id: str
    label: str
    detail: str = ""
    kind: str = "api"
    """``api`` (closeout does it), ``handoff`` (a person does it in a portal), ``report``."""
    sku_id: str = ""
    sku_part_number: str = ""
    product_name: str = ""
    """Subscriptions: the SKU and the admin center's product name (``label`` shows both)."""


# PlannedAction fields written under Graph's names in plan JSON, and only when set.
_PRODUCT_KEYS = {
    "sku_id": "skuId",
    "sku_part_number": "skuPartNumber",
    "product_name": "productName",
}
_ACTION_FIELDS = tuple(f.name for f in fields(PlannedAction))
_JSON_NAMES = {v: k for k, v in _PRODUCT_KEYS.items()}


def _action_json(a: PlannedAction) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _ACTION_FIELDS:
        value = getattr(a, key)
        if key == "step" or (key in _PRODUCT_KEYS and not value):
            continue
        out[_PRODUCT_KEYS.get(key, key)] = value
    return out


def _action_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {_JSON_NAMES.get(k, k): v for k, v in data.items()}


def _loaded_action(data: dict[str, Any]) -> Any:
    # Called by the JSON decoder for every object as it is read: an action becomes a
    # PlannedAction at once, so loading a 200,000-action plan never holds 200,000 dicts.
    # Repeated words (action, kind, detail) are shared, not one string per action. Its step is
    # the key of the list it is in, which the decoder has not reached yet: from_dict sets it.
    if "action" not in data or "object_id" not in data or "step" in data:
        return data
    try:
        return PlannedAction(
            step=_UNPLACED,
            **{
                k: _shared(v) if k in ("action", "kind", "detail") and isinstance(v, str) else v
                for k, v in _action_fields(data).items()
            },
        )
    except TypeError:
        return data  # not an action after all: from_dict says what is wrong with it


_UNPLACED = StepId.PREPARE


def _placed(action: PlannedAction, step: StepId) -> PlannedAction:
    if action.step != step:
        # Still the decoder's own object, seen by nobody else: set the step it was read under
        # the way a frozen dataclass's __init__ does.
        object.__setattr__(action, "step", step)
    return action


_SHARED: dict[str, str] = {}


def _shared(text: str) -> str:
    if len(_SHARED) > 4096:
        _SHARED.clear()
    return _SHARED.setdefault(text, text)


def _dumps(value: Any) -> str:
    # The C encoder: with ``indent`` json falls back to its pure-Python one, which for a
    # 100,000-user plan builds millions of pieces (hundreds of MB) before joining them.
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Plan:
    """What will be done, step by step. Saved as :meth:`to_dict` (or :meth:`json_chunks`) and
    read back with :meth:`from_dict` (:meth:`from_json`) into an equal plan, with the same
    :meth:`digest`."""

    tenant: TenantInfo
    created_at: datetime
    keep: tuple[KeptAccount, ...]
    actions: tuple[PlannedAction, ...]
    """By step; within a step in the order they are carried out (the order the saved plan
    lists each step's actions in, so a plan read back is the same)."""
    warnings: tuple[str, ...] = ()
    data_holders: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    own_app: dict[str, Any] = field(default_factory=dict)
    """What happens to the app closeout signs in with (see :func:`own_app_summary`)."""

    def __post_init__(self) -> None:
        # build_plan interleaves steps 2 and 3 (one loop over subscriptions); the saved plan
        # lists them step by step, so the plan read back had another order, and another digest.
        ordered = tuple(sorted(self.actions, key=lambda a: int(a.step)))  # stable within a step
        if ordered != self.actions:
            object.__setattr__(self, "actions", ordered)

    # A plan never changes once made, so what is derived from all its actions is derived once
    # (kept in the instance's __dict__, beside the frozen fields).

    def _cached(self, name: str, make: Callable[[], Any]) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            value = self.__dict__[name] = make()
            return value

    def _by_step(self) -> dict[StepId, list[PlannedAction]]:
        def group() -> dict[StepId, list[PlannedAction]]:
            out: dict[StepId, list[PlannedAction]] = {step: [] for step in StepId}
            for a in self.actions:
                out.setdefault(a.step, []).append(a)
            return out

        return self._cached("_steps", group)

    def for_step(self, step: StepId) -> list[PlannedAction]:
        return list(self._by_step().get(step, ()))

    def ids(self, action: str) -> list[str]:
        def group() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for a in self.actions:
                out.setdefault(a.action, []).append(a.object_id)
            return out

        return list(self._cached("_ids", group).get(action, ()))

    @property
    def kept_ids(self) -> frozenset[str]:
        return frozenset(k.id for k in self.keep)

    def user_delete_ids(self) -> list[str]:
        return self.ids("delete-user")

    def _head(self) -> dict[str, Any]:
        return {
            "tenant": asdict(self.tenant),
            "createdAt": self.created_at.isoformat(),
            "keep": [asdict(k) for k in self.keep],
            "warnings": list(self.warnings),
            "dataHolders": self.data_holders,
            "ownApp": self.own_app,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._head(),
            "steps": {
                str(int(step)): [_action_json(a) for a in actions]
                for step, actions in self._by_step().items()
            },
        }

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_dict` as JSON text, in pieces, one line per action: a 200,000-action plan
        is written without its whole text (or a dict per action) in memory at once."""
        yield "{\n"
        for key, value in self._head().items():
            yield f"  {_dumps(key)}: {_dumps(value)},\n"
        yield '  "steps": {'
        for i, (step, actions) in enumerate(self._by_step().items()):
            yield f'{"," if i else ""}\n    "{int(step)}": ['
            for j, a in enumerate(actions):
                yield ("," if j else "") + "\n      " + _dumps(_action_json(a))
            yield "\n    ]" if actions else "]"
        yield "\n  }\n}\n"

    def write_json(self, out: TextIO) -> None:
        for chunk in self.json_chunks():
            out.write(chunk)

    @classmethod
    def from_json(cls, raw: bytes) -> Plan:
        """Read back what :meth:`json_chunks` (or :meth:`to_dict`) wrote, action by action.

        Raises ValueError if ``raw`` is not JSON, :class:`PlanError` if it is not a plan.
        """
        return cls.from_dict(json_loads(raw, object_hook=_loaded_action))

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Read back what :meth:`to_dict` wrote (a saved plan survives restarts).

        The file may have been damaged or edited: anything but what :meth:`to_dict` writes
        (a field of another type, an unknown field, a step that does not exist) is a
        :class:`PlanError`, never a plan with a number where an id should be.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            tenant = TenantInfo(**_typed(data["tenant"], _TENANT_FIELDS, "tenant"))
            steps = data["steps"]
            if not isinstance(steps, dict):
                raise TypeError("steps is not an object")
            actions = tuple(
                _placed(_checked(item), step)
                if isinstance(item, PlannedAction)
                else PlannedAction(
                    step=step, **_action_fields(_typed(item, _ACTION_JSON_FIELDS, "action"))
                )
                for step, items in ((StepId(int(key)), items) for key, items in steps.items())
                for item in _list(items, f"step {step}")
            )
            warnings = _list(data.get("warnings", []), "warnings")
            if not all(isinstance(w, str) for w in warnings):
                raise TypeError("a warning is not text")
            holders = data.get("dataHolders", 0)
            if isinstance(holders, bool) or not isinstance(holders, int):
                raise TypeError("dataHolders is not a whole number")
            created = data["createdAt"]
            if not isinstance(created, str):
                raise TypeError("createdAt is not text")
            own_app = _typed(data.get("ownApp", {}), _OWN_APP_FIELDS, "ownApp")
            if not all(isinstance(i, str) for i in own_app.get("appIds", [])):
                raise TypeError("ownApp appIds are not text")
            for obj in own_app.get("objects", []):
                _typed(obj, _OWN_APP_OBJECT_FIELDS, "ownApp object")
            return cls(
                tenant=tenant,
                created_at=datetime.fromisoformat(created),
                keep=tuple(
                    KeptAccount(**_typed(k, _KEPT_FIELDS, "keep"))
                    for k in _list(data["keep"], "keep")
                ),
                actions=actions,
                warnings=tuple(warnings),
                data_holders=holders,
                own_app=own_app,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise PlanError(
                _("The saved plan is unreadable ({error}).").format(error=exc),
                _("Make a new one with: closeout plan"),
            ) from None

    def digest(self) -> str:
        """A short hash of the actions, computed once per plan (3 s for a 100,000-user one)."""
        return str(self._cached("_digest", lambda: _digest(self.actions)))


# The fields a saved plan's parts hold, and which of them may be null; anything else there
# (a number for an id, an unknown field) makes the file unreadable. The tenant and the kept
# accounts are their dataclasses' fields, with the types they are declared with.
_TENANT_FIELDS = get_type_hints(TenantInfo)
_KEPT_FIELDS = get_type_hints(KeptAccount)
_OWN_APP_FIELDS = {"appIds": list, "handling": str, "objects": list}
_OWN_APP_OBJECT_FIELDS = {"id": str, "name": str, "kind": str}
_ACTION_JSON_FIELDS = {
    "action": str,
    "object_id": str,
    "label": str,
    "detail": str,
    "kind": str,
    "skuId": str,
    "skuPartNumber": str,
    "productName": str,
}


def _typed(value: Any, fields: dict[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not an object")
    for key, item in value.items():
        if key not in fields:
            raise TypeError(f"{what} has an unknown field {key!r}")
        if not isinstance(item, fields[key]):
            raise TypeError(f"{what} field {key!r} is not of the right type")
    return value


def _checked(action: PlannedAction) -> PlannedAction:
    """An action the JSON decoder made (:func:`_loaded_action`), its fields held to the types a
    saved plan's actions have."""
    for key in _ACTION_FIELDS:
        if key != "step" and not isinstance(getattr(action, key), str):
            raise TypeError(f"action field {_PRODUCT_KEYS.get(key, key)!r} is not text")
    return action


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _digest(actions: tuple[PlannedAction, ...]) -> str:
    """The sha256 of ``json.dumps([asdict(a) for a in actions], sort_keys=True, default=str)``
    (16 hex digits), fed to the hash one action at a time."""
    h = hashlib.sha256(b"[")
    for i, a in enumerate(actions):
        text = json.dumps(
            {name: getattr(a, name) for name in _ACTION_FIELDS}, sort_keys=True, default=str
        )
        h.update((", " + text if i else text).encode())
    h.update(b"]")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class PlanOptions:
    keep_upns: tuple[str, ...] = ()
    keep_entries: tuple[KeepEntry, ...] = ()
    """Keep files' lines and the accounts marked in closeout (``services.keep``)."""
    disable_security_defaults: bool = False
    disable_ca_mfa: bool = False
    own_app_ids: frozenset[str] = frozenset()
    delete_own_app: bool = False


def kept_accounts(
    inv: Inventory,
    caller: Caller,
    keep_upns: tuple[str, ...],
    entries: tuple[KeepEntry, ...] = (),
) -> tuple[KeptAccount, ...]:
    me = caller.tenant.signed_in_id
    signed_in = (me, caller.tenant.signed_in_upn or "") if me and not caller.app_only else None
    kept = resolve_keep(entries_for(keep_upns, entries), inv.users, signed_in=signed_in)
    if caller.app_only and not kept:
        raise PlanError(
            _("App-only sign-in has no signed-in user, so closeout cannot tell whom to keep."),
            _("Name the Global Administrator who will delete the tenant with --keep UPN."),
        )
    return tuple(kept)


def _ordered_deletes(users: list[UserRow]) -> list[UserRow]:
    # Ordinary users first, guests next, role holders last: should anything stop the run, the
    # admins who can finish it are still there.
    return sorted(users, key=lambda u: (bool(u.role_ids), u.is_guest, u.upn.lower()))


def build_plan(inv: Inventory, caller: Caller, options: PlanOptions) -> Plan:
    kept = kept_accounts(inv, caller, options.keep_upns, options.keep_entries)
    kept_ids = {k.id for k in kept}
    ga_members = set(inv.roles.get(GLOBAL_ADMIN, []))
    if ga_members and not (kept_ids & ga_members):
        raise PlanError(
            _(
                "None of the accounts to keep is a Global Administrator; the last one would be deleted."
            ),
            _("Keep a Global Administrator: sign in as one, or name one with --keep."),
        )
    actions: list[PlannedAction] = []
    warnings: list[str] = []
    org_id = inv.tenant.id

    # Step 1: directory sync, then users.
    if inv.synced_users:
        actions.append(
            PlannedAction(
                StepId.DELETE_USERS,
                "disable-directory-sync",
                org_id,
                inv.tenant.display_name,
                ngettext(
                    "{n} user is synchronized from on-premises AD; turning sync off takes up to "
                    "72 hours and is sent once. Users who are not synchronized are deleted "
                    "meanwhile, the others once they are converted.",
                    "{n} users are synchronized from on-premises AD; turning sync off takes up to "
                    "72 hours and is sent once. Users who are not synchronized are deleted "
                    "meanwhile, the others once they are converted.",
                    len(inv.synced_users),
                ).format(n=len(inv.synced_users)),
            )
        )
        warnings.append(connect_advice())
    deletes = _ordered_deletes([u for u in inv.users if u.id not in kept_ids])
    for u in deletes:
        detail = ", ".join(
            filter(
                None,
                [
                    _("guest") if u.is_guest else "",
                    ", ".join(u.roles),
                    _("synced") if u.synced else "",
                ],
            )
        )
        actions.append(PlannedAction(StepId.DELETE_USERS, "delete-user", u.id, u.upn, detail))

    # Steps 2 and 3: subscriptions (no API: handoffs). Self-service sign-up products are step
    # 5's: only the Entra admin center deletes them.
    bought, self_service = split_self_service(inv.subscriptions)
    for s in bought:
        label = subscription_label(s)
        sku = {
            "sku_id": s.sku_id,
            "sku_part_number": s.sku_part_number,
            "product_name": s.product.display_name,
        }
        if s.phase == SubscriptionPhase.ACTIVE:
            action = "contact-partner" if s.partner else "cancel-subscription"
            actions.append(
                PlannedAction(
                    StepId.CANCEL_SUBSCRIPTIONS, action, s.id, label, kind="handoff", **sku
                )
            )
        elif s.phase == SubscriptionPhase.EXPIRED:
            actions.append(
                PlannedAction(
                    StepId.CANCEL_SUBSCRIPTIONS,
                    "wait-expired",
                    s.id,
                    label,
                    _("expired; becomes disabled by itself"),
                    kind="handoff",
                    **sku,
                )
            )
        if s.phase != SubscriptionPhase.DELETED:
            actions.append(
                PlannedAction(
                    StepId.DELETE_SUBSCRIPTIONS,
                    "delete-subscription",
                    s.id,
                    label,
                    kind="handoff",
                    **sku,
                )
            )

    # Step 4: per-user MFA for the accounts that remain, except whoever does the work.
    mfa_exempt = {caller.tenant.signed_in_id} if not caller.app_only else kept_ids
    for k in kept:
        if k.id not in mfa_exempt and not k.keep_mfa:
            actions.append(PlannedAction(StepId.DISABLE_MFA, "disable-mfa", k.id, k.upn))
    for p in inv.policies:
        if p.kind == "securityDefaults" and p.state == "enabled":
            act = (
                "disable-security-defaults"
                if options.disable_security_defaults
                else "report-security-defaults"
            )
            actions.append(
                PlannedAction(
                    StepId.DISABLE_MFA,
                    act,
                    p.id,
                    p.display_name,
                    kind="api" if options.disable_security_defaults else "report",
                )
            )
        elif p.kind == "conditionalAccess" and p.requires_mfa and p.state != "disabled":
            act = "disable-ca-policy" if options.disable_ca_mfa else "report-ca-policy"
            actions.append(
                PlannedAction(
                    StepId.DISABLE_MFA,
                    act,
                    p.id,
                    p.display_name,
                    p.state,
                    kind="api" if options.disable_ca_mfa else "report",
                )
            )

    # Step 5: irreversible cleanup, then the portal's 'Delete tenant'. closeout's own app is
    # in none of the deletes: it goes last, by closeout or by the admin.
    own = find_own_app(options.own_app_ids, inv.applications, inv.service_principals)
    for s in self_service:
        if s.phase != SubscriptionPhase.DELETED:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "delete-self-service-product",
                    s.id,
                    subscription_label(s),
                    _("self-service sign-up product: Entra admin center > Licenses"),
                    kind="handoff",
                    sku_id=s.sku_id,
                    sku_part_number=s.sku_part_number,
                    product_name=s.product.display_name,
                )
            )
    for d in inv.deleted_users:
        actions.append(
            PlannedAction(
                StepId.DELETE_DIRECTORY,
                "purge-user",
                str(d["id"]),
                str(d.get("userPrincipalName") or ""),
            )
        )
    for u in deletes:
        actions.append(
            PlannedAction(StepId.DELETE_DIRECTORY, "purge-user", u.id, u.upn, _("after step 1"))
        )
    for a in inv.applications:
        if a.id not in own.object_ids:
            actions.append(
                PlannedAction(StepId.DELETE_DIRECTORY, "delete-application", a.id, a.display_name)
            )
    for sp in inv.service_principals:
        # The tenant's own apps' principals usually go with their application (then: 404 =
        # gone); Microsoft's are left alone.
        if sp.owner_tenant_id not in MICROSOFT_TENANT_IDS and sp.id not in own.object_ids:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY, "delete-service-principal", sp.id, sp.display_name
                )
            )
    for action, binned in (
        ("purge-application", inv.deleted_applications),
        ("purge-service-principal", inv.deleted_service_principals),
    ):
        for d in binned:
            if not own.holds(d):
                actions.append(
                    PlannedAction(
                        StepId.DELETE_DIRECTORY,
                        action,
                        str(d["id"]),
                        str(d.get("displayName") or ""),
                        _("in the recycle bin"),
                    )
                )
    for o in own.blocking:
        if options.delete_own_app:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "delete-own-app",
                    o.id,
                    o.display_name,
                    _("the very last write: after it closeout can no longer sign in"),
                )
            )
        else:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "hand-off-own-app",
                    o.id,
                    o.display_name,
                    _("closeout signs in with it: you delete it last, just before the tenant"),
                    kind="handoff",
                )
            )
    actions.append(
        PlannedAction(
            StepId.DELETE_DIRECTORY,
            "delete-tenant",
            org_id,
            inv.tenant.initial_domain,
            kind="handoff",
        )
    )

    if len(kept) > 1:
        warnings.append(
            _(
                "{n} accounts are kept. The tenant can only be deleted with one Global Administrator "
                "left: delete the others yourself before step 5."
            ).format(n=len(kept))
        )
    if inv.data_holders:
        warnings.append(
            ngettext(
                "{n} user has mailbox or OneDrive data; back it up before step 1: {names}.",
                "{n} users have mailbox or OneDrive data; back it up before step 1: {names}.",
                len(inv.data_holders),
            ).format(n=len(inv.data_holders), names=some_names([u.upn for u in inv.data_holders]))
        )
    for part, reason in inv.errors.items():
        warnings.append(_("Could not read {part}: {reason}").format(part=part, reason=reason))
    plan = Plan(
        tenant=inv.tenant,
        created_at=inv.taken_at,
        keep=kept,
        actions=tuple(actions),
        warnings=tuple(warnings),
        data_holders=len(inv.data_holders),
        own_app=own_app_summary(own, options.delete_own_app),
    )
    if set(plan.user_delete_ids()) & plan.kept_ids:  # defence in depth; see kept_accounts
        raise PlanError(_("Internal error: a kept account ended up in the delete set."))
    return plan


def own_app_summary(own: OwnApp, delete_own_app: bool) -> dict[str, Any]:
    """What happens to the app closeout signs in with, for the plan's JSON and its text.

    ``handling``: ``delete-last`` (closeout deletes it as its very last write), ``hand-off``
    (left for the admin, named in step 5's handoff), ``microsoft`` (Microsoft's public
    client: its service principal is Microsoft's and stays, like every Microsoft one), or
    ``absent`` (not registered in this tenant).
    """
    if own.blocking:
        handling = "delete-last" if delete_own_app else "hand-off"
    elif own.service_principals:
        handling = "microsoft"
    else:
        handling = "absent"
    return {
        "appIds": sorted(own.app_ids),
        "handling": handling,
        "objects": [
            {"id": o.id, "name": o.display_name, "kind": o.kind}
            for o in (own.blocking or own.service_principals)
        ],
    }


def own_app_text(summary: dict[str, Any]) -> str:
    """One sentence on closeout's own app, for the plan and the typed confirmation."""
    if not summary:
        return ""
    names = ", ".join(str(o.get("name")) for o in summary.get("objects", [])) or ", ".join(
        summary.get("appIds", [])
    )
    handling = summary.get("handling")
    if handling == "delete-last":
        return _(
            "closeout's own app {name} is deleted as the very last write, once all else is done: "
            "after it closeout can no longer sign in."
        ).format(name=names)
    if handling == "hand-off":
        return _(
            "closeout's own app {name} is left for you to delete last, just before the tenant "
            "(the handoff names it)."
        ).format(name=names)
    if handling == "microsoft":
        return _(
            "closeout signs in with Microsoft's public client {name}: its service principal is "
            "Microsoft's and stays."
        ).format(name=names)
    return _(
        "closeout's sign-in app ({ids}) is not registered in this tenant; nothing of it is deleted."
    ).format(ids=names)


def check_plan(plan: Plan, caller: Caller, inv: Inventory | None = None) -> None:
    """Refuse a plan (a saved one may have been edited by hand) that is unsafe to apply.

    The same rules :func:`build_plan` follows: the signed-in admin is kept, no kept account is
    in the delete set or loses MFA, and (when the inventory is known) a kept account is a
    Global Administrator. Raises :class:`PlanError` before anything is sent.
    """
    me = None if caller.app_only else caller.tenant.signed_in_id
    protected = set(plan.kept_ids) | ({me} if me else set())
    labels = {k.id: k.upn for k in plan.keep}
    if me:
        labels.setdefault(me, caller.tenant.signed_in_upn or me)
    hint = _("Make a new plan with: closeout plan")
    if me and me not in plan.kept_ids:
        raise PlanError(
            _(
                "The saved plan does not keep {upn}, the signed-in admin; nothing was changed."
            ).format(upn=labels[me]),
            hint,
        )
    # Who keeps MFA: the admin doing the work (app-only: every kept account); other kept
    # accounts legitimately lose per-user MFA in step 4.
    mfa_exempt = (
        set(plan.kept_ids) if caller.app_only else {me} | {k.id for k in plan.keep if k.keep_mfa}
    )
    for action, guarded in (
        ("delete-user", protected),
        ("purge-user", protected),
        ("disable-mfa", mfa_exempt),
    ):
        hit = [a for a in plan.actions if a.action == action and a.object_id in guarded]
        if hit:
            raise PlanError(
                _(
                    "The saved plan would {action} {upn}, an account closeout keeps; "
                    "nothing was changed."
                ).format(action=action, upn=labels.get(hit[0].object_id, hit[0].label)),
                hint,
            )
    if inv is not None:
        ga_members = set(inv.roles.get(GLOBAL_ADMIN, []))
        if ga_members and not (plan.kept_ids & ga_members):
            raise PlanError(
                _(
                    "None of the accounts the saved plan keeps is a Global Administrator; the "
                    "last one would be deleted. Nothing was changed."
                ),
                hint,
            )
